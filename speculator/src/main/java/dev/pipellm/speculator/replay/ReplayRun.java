package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.JitterSink;
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
    /** Re-lock after a pattern change: messages since the change, -1 when none was marked or not locked yet. */
    private long changeAtMessage = -1;
    private long relockMessages = -1;
    private long streakStart = -1;
    private int streakCopies;
    private static final int RELOCK_STREAK_COPIES = 3;

    public ReplayRun(SpeculatorConfig config, IvPipelineModel.Settings settings) {
        speculator = new Speculator(config);
        model = new IvPipelineModel(settings);
        prediction = speculator.newPredictionBuffer();
        chunkBytes = config.chunkBytes;
        model.countInto(total);
        model.reportOutcomesTo(speculator);
    }

    /** Replays a whole trace. */
    public ReplayRun run(TraceGenerator generator) {
        generator.generate(this);
        return this;
    }

    /** Replays a whole trace with jitter added ({@link JitterSink}); {@code jitter} 0 is the trace as is. */
    public ReplayRun run(TraceGenerator generator, double jitter, long seed) {
        generator.generate(jitter > 0 ? new JitterSink(this, jitter, seed) : this);
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
            } else if (bytes == TraceGenerator.MARK_PATTERN_CHANGE) {
                changeAtMessage = total.h2dMessages;
                relockMessages = -1;
                streakCopies = 0;
            }
            return;
        }
        if (type == EventType.COPY && direction == CopyDirection.H2D) {
            final long messages0 = total.h2dMessages;
            final long covered0 = total.coveredMessages;
            model.onRealCopy(hostAddress, bytes, chunkBytes, copyClass);
            if (changeAtMessage >= 0 && relockMessages < 0) trackRelock(messages0, covered0);
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

    /** Re-locked = RELOCK_STREAK_COPIES consecutive copies (of more than one message) wholly covered. */
    private void trackRelock(long messages0, long covered0) {
        final long messages = total.h2dMessages - messages0;
        if (messages < 2) return;   // small fresh copies are never covered: they neither break nor make a streak
        if (total.coveredMessages - covered0 == messages) {
            if (streakCopies++ == 0) streakStart = messages0;
            if (streakCopies >= RELOCK_STREAK_COPIES) relockMessages = streakStart - changeAtMessage;
        } else {
            streakCopies = 0;
        }
    }

    /** H2D messages from the last pattern change until the pipeline covered whole copies again; -1 if none. */
    public long relockMessages() {
        return relockMessages;
    }

    public boolean hasPatternChange() {
        return changeAtMessage >= 0;
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
