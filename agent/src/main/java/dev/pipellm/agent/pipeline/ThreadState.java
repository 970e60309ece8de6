package dev.pipellm.agent.pipeline;

/**
 * What the pipeline keeps per application thread between its upcalls: the copy in progress
 * (on_copy .. after_copy), the channel whose padding protocol it joined, and the NOPs it is issuing.
 * Reached through a ThreadLocal (allocation-free after the thread's first copy).
 */
final class ThreadState {
    /** The copy between on_copy and after_copy (0 bytes: none). */
    long copyStream;
    long copySrc;
    int copyDirection;
    boolean inCopy;
    /** Bytes of the current copy's messages finished so far (the next message's offset in the copy). */
    long copyOffset;

    /** The channel whose activeCopies this copy counted itself in, or null. */
    Channel activeOn;
    /** The channel whose padding lock this copy holds, or null. */
    Channel padOn;

    /** While issuing NOPs for this channel; a NOP whose init shows another key sets {@link #nopMiss}. */
    Channel nopChannel;
    boolean nopMiss;
}
