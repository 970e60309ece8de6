package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.TraceGenerator;
import dev.pipellm.speculator.trace.TraceSink;

/**
 * Runs one trace through a fresh {@link Speculator} and an {@link IvPipelineModel}, event by event, in the order
 * the agent would see them: a real H2D copy first meets the window planned from the previous prediction, then
 * the speculator learns it and is re-queried, and the window is re-planned.
 */
public final class ReplayRun implements TraceSink {
    private final Speculator speculator;
    private final IvPipelineModel model;
    private final PredictionBuffer prediction;
    private final long chunkBytes;
    private final ReplayCounters total = new ReplayCounters();
    private final ReplayCounters steady = new ReplayCounters();
    private boolean steadyStarted;
    private long events;

    public ReplayRun(SpeculatorConfig config, IvPipelineModel.Settings settings) {
        speculator = new Speculator(config);
        model = new IvPipelineModel(settings);
        prediction = speculator.newPredictionBuffer();
        chunkBytes = config.chunkBytes;
        model.countInto(total);
    }

    /** Replays a whole trace. */
    public ReplayRun run(TraceGenerator generator) {
        generator.generate(this);
        return this;
    }

    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread, int copyClass) {
        events++;
        if (type == EventType.MARK) {
            if (bytes == TraceGenerator.MARK_STEADY_STATE) {
                steadyStarted = true;
                model.countInto(total, steady);
            } else if (bytes == TraceGenerator.MARK_STEADY_STATE_END) {
                model.countInto(total);
            }
            return;
        }
        if (type == EventType.COPY && direction == CopyDirection.H2D) {
            model.onRealCopy(hostAddress, bytes, chunkBytes, copyClass);
        } else if (type == EventType.HOST_WRITE) {
            model.onHostWrite(hostAddress, bytes);
        }
        speculator.onEvent(type, direction, hostAddress, deviceAddress, bytes, stream, thread);
        if (type == EventType.COPY || type == EventType.HINT || type == EventType.HINT_CLEAR
                || type == EventType.HOST_FREE) {
            speculator.predict(prediction);
            model.replan(prediction);
        }
    }

    public ReplayCounters total() {
        return total;
    }

    /** Counters inside the trace's steady-state phases (all zero if it marked none). */
    public ReplayCounters steady() {
        return steady;
    }

    public boolean hasSteadyState() {
        return steadyStarted;
    }

    public IvPipelineModel model() {
        return model;
    }

    public Speculator speculator() {
        return speculator;
    }

    public long events() {
        return events;
    }
}
