package dev.pipellm.agent.pipeline;

import dev.pipellm.speculator.event.EventType;

/**
 * Event types the agent records beside the speculator's ({@link EventType}) in the same ring; the
 * planner consumes them and never forwards them to the speculator.
 */
final class PipelineEvents {
    /**
     * An H2D EVP message the driver finished: hostAddress = source of its first update, deviceAddress =
     * its sequence on the channel, bytes = its length, stream = the channel's id, thread = where it
     * came from: {@link #FROM_COPY}, {@link #FROM_DRIVER} or {@link #FROM_NOP}.
     */
    static final int MESSAGE = 100;
    /** A message of a CUDA-level copy the agent saw in on_copy. */
    static final int FROM_COPY = 1;
    /** A message the driver made without a copy the agent saw (driver API, another path). */
    static final int FROM_DRIVER = 0;
    /** One of the agent's own NOPs. */
    static final int FROM_NOP = 2;
    /** The shape of the next 2D copy: hostAddress = source, deviceAddress = source pitch, bytes = width. */
    static final int SHAPE = 101;
    /**
     * A planned slot's fate, for the speculator's calibration: direction = 1 committed, 0 relinquished;
     * hostAddress = predictor, deviceAddress = depth it was planned at, bytes = its length, stream = context.
     */
    static final int OUTCOME = 102;

    /**
     * Records a planned slot's fate (any thread). The caller reads the slot's predictor, depth and context
     * before it frees the slot: once FREE the planner may reuse it.
     */
    static void outcome(dev.pipellm.speculator.event.EventSink ring, int predictor, int depth, int context,
                        int length, boolean committed) {
        if (predictor >= 0) ring.onEvent(OUTCOME, committed ? 1 : 0, predictor, depth, length, context, 0);
    }

    private PipelineEvents() {}
}
