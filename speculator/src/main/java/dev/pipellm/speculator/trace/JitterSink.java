package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

import java.util.SplittableRandom;

/**
 * Adds jitter to any trace (the replay's {@code --jitter RATE}): before each H2D copy, with probability
 * {@code rate}, an extra 8-byte copy of fresh data nobody predicted (a flag, a scalar argument); and each small
 * fresh input copy ({@link CopyClass#INPUT}) is left out with probability {@code rate} (a step that needed one
 * input fewer). Deterministic from the seed; the extra copies come from their own pinned page.
 */
public final class JitterSink implements TraceSink {
    /** Where the extra copies come from: a page no generator uses. */
    public static final long EXTRA_HOST = 0x7ff0_0000_0000L;
    private static final long EXTRA_BYTES = 8;
    private final TraceSink next;
    private final double rate;
    private final SplittableRandom random;
    private boolean announced;

    public JitterSink(TraceSink next, double rate, long seed) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("jitter rate must be in [0, 1], got " + rate);
        }
        this.next = next;
        this.rate = rate;
        this.random = new SplittableRandom(seed ^ 0x4A17_7E55L);
    }

    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread, int copyClass) {
        if (type == EventType.COPY && direction == CopyDirection.H2D) {
            if (copyClass == CopyClass.INPUT && random.nextDouble() < rate) {
                return;   // this step's input copy is missing
            }
            if (random.nextDouble() < rate) {
                if (!announced) {
                    announced = true;
                    next.onEvent(EventType.HOST_ALLOC, CopyDirection.NONE, EXTRA_HOST, 0, 4096, -1, thread,
                            CopyClass.NONE);
                }
                next.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, EXTRA_HOST, 0, EXTRA_BYTES, -1, thread,
                        CopyClass.NONE);
                next.onEvent(EventType.COPY, CopyDirection.H2D, EXTRA_HOST, 0x7ff0_0000L, EXTRA_BYTES, stream, thread,
                        CopyClass.INPUT);
            }
        }
        next.onEvent(type, direction, hostAddress, deviceAddress, bytes, stream, thread, copyClass);
    }
}
