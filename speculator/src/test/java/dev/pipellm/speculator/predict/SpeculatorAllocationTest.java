package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventRing;
import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * STYLE.md hot-path rule: after warm-up, recording events and re-querying the speculator allocate nothing.
 * Measured with ThreadMXBean#getCurrentThreadAllocatedBytes over 100k record + drain + predict rounds that
 * exercise every predictor (weight cycle with fresh small copies, swap-out/swap-in, adapter-like loads, hints).
 */
class SpeculatorAllocationTest {
    private static final long MB = 1 << 20;

    private final EventRing ring = new EventRing(1 << 12);
    private final Speculator speculator = new Speculator(SpeculatorConfig.defaults());
    private final PredictionBuffer out = speculator.newPredictionBuffer();
    private long checksum;

    private void record(int type, int direction, long host, long bytes, int stream) {
        ring.onEvent(type, direction, host, 0x7e00_0000_0000L, bytes, stream, 1);
    }

    /** One round: a few events recorded (hot path), drained into the speculator, then a re-query. */
    private void round(int i) {
        final int k = i % 40;
        if (k < 24) {
            record(EventType.COPY, CopyDirection.H2D, 0x7f00_0000_0000L + k * 0x1000_0000L, 3 * MB + k, 1);
        } else if (k == 24) {
            record(EventType.HOST_WRITE, CopyDirection.NONE, 0x9000 + (i & 64), 16, -1);
            record(EventType.COPY, CopyDirection.H2D, 0x9000 + (i & 64), 16, 0);
        } else if (k < 32) {
            record(EventType.COPY, CopyDirection.D2H, 0x7f80_0000_0000L + (k - 25) * 163_840L + (i & 1) * MB, 163_840,
                    0);
        } else if (k < 36) {
            record(EventType.COPY, CopyDirection.H2D, 0x7f80_0000_0000L + (k - 32) * 163_840L + (i & 1) * MB, 163_840,
                    0);
        } else if (k == 36) {
            record(EventType.HINT, CopyDirection.NONE, 0x7f00_0000_0000L, 3 * MB, -1);
            record(EventType.SYNC, CopyDirection.NONE, 0, 0, -1);
        } else {
            record(EventType.COPY, CopyDirection.H2D, 0x7f90_0000_0000L + (k - 37) * MB, MB, 0);
        }
        ring.drainTo(speculator, 64);
        checksum += speculator.predict(out);
    }

    @Test
    void shouldNotAllocateWhenRecordingAndRequeryingAfterWarmUp() {
        final com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        threads.setThreadAllocatedMemoryEnabled(true);
        for (int i = 0; i < 200_000; i++) {
            round(i);
        }
        final long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100_000; i++) {
            round(i);
        }
        final long after = threads.getCurrentThreadAllocatedBytes();
        assertTrue(checksum > 0, "the speculator predicted something");
        assertEquals(0, after - before, "bytes allocated by 100k warmed-up record + drain + predict rounds");
    }
}
