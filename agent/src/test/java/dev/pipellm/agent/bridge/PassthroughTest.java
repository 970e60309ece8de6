package dev.pipellm.agent.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.stats.StatCounter;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class PassthroughTest {
    private static final int PASS = EvpMessages.PASS;

    @Test
    void shouldPassEveryEvpCallAndCountWhenPassthrough() throws Exception {
        try (ShimSim shim = new ShimSim("mode=passthrough")) {
            long ctx = 0x1000, other = 0x2000;
            assertEquals(0, Upcalls.onCopy(1, 0x10, 64, 0x20, 64, 64, 1, 1, 0));
            Upcalls.onSync(0, 0, 0, 0);
            Upcalls.onAlloc(0, 0x30, 4096, 0);
            assertEquals(PASS, Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_AES_256_GCM, 0x40, 0x50));
            assertEquals(PASS, Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_UNCHANGED, 0, 0x50));
            assertEquals(PASS, Upcalls.evpInit(ctx, 0, EvpMessages.CIPHER_UNCHANGED, 0x40, 0x50));
            assertEquals(PASS, Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_AES_256_GCM, 0x40, 0)); // no IV: no message
            assertEquals(PASS, Upcalls.evpInit(other, 1, EvpMessages.CIPHER_OTHER, 0x40, 0x50)); // not GCM
            assertEquals(PASS, Upcalls.evpInit(other, 1, EvpMessages.CIPHER_UNCHANGED, 0x40, 0x50)); // still not
            assertEquals(PASS, Upcalls.evpUpdate(ctx, 1, 0x60, 0x70, 0x80, 16));
            assertEquals(PASS, Upcalls.evpFinal(ctx, 1, 0x60, 0x70));
            assertEquals(PASS, Upcalls.evpCtrl(ctx, EvpMessages.CTRL_GCM_GET_TAG, 16, 0x90));
            Upcalls.evpDrop(ctx, EvpMessages.DROP_FORGET);
            assertEquals(PASS, Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_UNCHANGED, 0x40, 0x50)); // forgotten

            assertEquals(1, shim.count(StatCounter.INTERCEPTED_COPIES));
            assertEquals(1, shim.count(StatCounter.INTERCEPTED_SYNCS));
            assertEquals(1, shim.count(StatCounter.INTERCEPTED_ALLOCS));
            assertEquals(2, shim.count(StatCounter.H2D_MESSAGES));
            assertEquals(1, shim.count(StatCounter.D2H_MESSAGES));
            assertEquals(0, shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES));
            assertEquals(0, shim.count(StatCounter.AGENT_ERRORS));
        }
    }

    @Test
    void shouldNotAllocateWhenPassthroughCallsAreWarm() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (ShimSim shim = new ShimSim("mode=passthrough")) {
            long ctx = 0x7000;
            int sink = 0;
            for (int round = 0; round < 3; round++) {
                sink += loop(100_000, ctx); // warm-up: C2 compiles the loop and the targets
            }
            long[] deltas = new long[5];
            for (int r = 0; r < deltas.length; r++) {
                long before = mx.getCurrentThreadAllocatedBytes();
                sink += loop(100_000, ctx);
                deltas[r] = mx.getCurrentThreadAllocatedBytes() - before;
            }
            System.out.println("passthrough allocation per 100k warm calls, 5 rounds: " + java.util.Arrays.toString(deltas));
            assertEquals(0, deltas[deltas.length - 1], "bytes allocated by 100k warm on_copy + evp_init + evp_update (sink " + sink + ")");
            assertEquals(800_000, shim.count(StatCounter.INTERCEPTED_COPIES));
        }
    }

    private static int loop(int n, long ctx) {
        int sink = 0;
        for (int i = 0; i < n; i++) {
            sink += Upcalls.onCopy(1, 0x10, 64, 0x20, 64, 64, 1, 1, 0);
            sink += Upcalls.evpInit(ctx, 1, EvpMessages.CIPHER_AES_256_GCM, 0x40, 0x50);
            sink += Upcalls.evpUpdate(ctx, 1, 0x60, 0x70, 0x80, 16);
        }
        return sink;
    }
}
