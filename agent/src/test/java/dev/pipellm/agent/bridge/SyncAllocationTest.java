package dev.pipellm.agent.bridge;

import static dev.pipellm.agent.bridge.SyncModeDifferentialTest.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.stats.StatCounter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Measures (does not hide) what a warm sync-mode message allocates. The upcalls never go to the
 * native shim here: the upcall targets are called directly with native memory, as the stubs would.
 */
class SyncAllocationTest {
    @Test
    void shouldReportBytesAllocatedPerWarmSyncMessageWhenUpdatesAreOdd() throws Throwable {
        measure(1001);
    }

    @Test
    void shouldReportBytesAllocatedPerWarmSyncMessageWhenUpdatesAreBlockAligned() throws Throwable {
        measure(1024);
    }

    private static void measure(int split) throws Throwable {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random rnd = new Random(9);
        try (ShimSim shim = new ShimSim("mode=sync"); Arena a = Arena.ofConfined()) {
            int size = 4096;
            MemorySegment key = a.allocateFrom(ValueLayout.JAVA_BYTE, bytes(rnd, 32));
            MemorySegment ivs = a.allocate(12L * 4096);
            ivs.copyFrom(MemorySegment.ofArray(bytes(rnd, 12 * 4096)));
            MemorySegment in = a.allocateFrom(ValueLayout.JAVA_BYTE, bytes(rnd, size));
            MemorySegment out = a.allocate(size);
            MemorySegment outl = a.allocate(ValueLayout.JAVA_INT);
            MemorySegment tag = a.allocate(16);
            long ctx = OpenSsl.newCtx();
            try {
                int n = 3000;
                long[] perPart = new long[3];
                // the shim reports the cipher on the context's first init
                Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_AES_256_GCM, key.address(), ivs.address() + 12L * 4095);
                for (int round = 0; round < 4; round++) {
                    perPart = new long[3];
                    for (int i = 0; i < n; i++) {
                        long iv = ivs.address() + 12L * (i % 4096);
                        long t0 = mx.getCurrentThreadAllocatedBytes();
                        assertEquals(EvpMessages.OWNED, Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_UNCHANGED, key.address(), iv));
                        long t1 = mx.getCurrentThreadAllocatedBytes();
                        assertEquals(1, Upcalls.evpUpdate(ctx, 1, out.address(), outl.address(), in.address(), split));
                        assertEquals(1, Upcalls.evpUpdate(ctx, 1, out.address() + split, outl.address(), in.address() + split, size - split));
                        assertEquals(1, Upcalls.evpFinal(ctx, 1, out.address(), outl.address()));
                        long t2 = mx.getCurrentThreadAllocatedBytes();
                        assertEquals(1, Upcalls.evpCtrl(ctx, EvpMessages.CTRL_GCM_GET_TAG, 16, tag.address()));
                        long t3 = mx.getCurrentThreadAllocatedBytes();
                        perPart[0] += t1 - t0;
                        perPart[1] += t2 - t1;
                        perPart[2] += t3 - t2;
                    }
                }
                System.out.printf("sync-mode allocation per warm 4 KiB message (updates of %d and %d B): init %d B, updates+final %d B,"
                        + " GET_TAG %d B%n", split, size - split, perPart[0] / n, perPart[1] / n, perPart[2] / n);
                assertEquals(0, perPart[2], "GET_TAG allocates nothing");
                assertTrue(perPart[0] / n < 4096, "init allocation stays small: " + perPart[0] / n);
                assertTrue(shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES) >= 3L * n);
            } finally {
                shim.free(ctx);
            }
        }
    }
}
