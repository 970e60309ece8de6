package dev.pipellm.agent.pipeline;

import dev.pipellm.speculator.event.EventType;

/**
 * Event types the agent records beside the speculator's ({@link EventType}) in the same ring; the
 * planner consumes them and never forwards them to the speculator.
 */
final class PipelineEvents {
    /**
     * An H2D EVP message the driver finished: hostAddress = source of its first update, deviceAddress =
     * its sequence on the channel, bytes = its length, stream = the channel's id, thread = 1 when a
     * CUDA-level copy of the agent's covered it (0: the driver reached it another way).
     */
    static final int MESSAGE = 100;
    /** The shape of the next 2D copy: hostAddress = source, deviceAddress = source pitch, bytes = width. */
    static final int SHAPE = 101;

    private PipelineEvents() {}
}
