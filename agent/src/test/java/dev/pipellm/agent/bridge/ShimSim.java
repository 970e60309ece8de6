package dev.pipellm.agent.bridge;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.evp.HookIds;
import dev.pipellm.agent.evp.RealEvp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

/**
 * What libpipellm.so does around each EVP call, in Java: the real init first then evp_init; for the
 * other calls the upcall first, and the real function when it answers PL_PASS. A test "driver" then
 * uses it exactly like the CC driver uses OpenSSL.
 */
final class ShimSim implements AutoCloseable {
    static final int PASS = EvpMessages.PASS;

    final AgentRuntime runtime;
    final Arena arena = Arena.ofShared();
    /** int *outl, and a few scratch bytes for finals. */
    final MemorySegment outl = arena.allocate(64, 16);
    /** Calls answered PL_PASS and done by the real OpenSSL (SET_TAG, always passed on too, not counted). */
    int passedCalls;

    ShimSim(String options) throws Exception {
        List<String> names = OpenSsl.hookNames();
        MemorySegment table = OpenSsl.realTable(names);
        // the agent from the first message, unless a test asks otherwise (the warm-up is EngineWarmUpTest's)
        if (!options.contains("cold_start=")) options += ",cold_start=agent";
        runtime = new AgentRuntime(Config.parse(options),
                new RealEvp(table.address(), HookIds.parse(String.join(",", names), names.size())), Bridge.ROLE_PRELOAD);
        Upcalls.install(runtime);
    }

    long count(dev.pipellm.agent.stats.StatCounter c) {
        return runtime.counters().get(c);
    }

    int init(boolean enc, long ctx, long key, long iv) throws Throwable {
        int r = OpenSsl.init(enc, ctx, key, iv);
        if (r != 1) return r;
        int a = Upcalls.evpInit(ctx, enc ? 1 : 0, EvpMessages.CIPHER_AES_256_GCM, key, iv);
        return a == PASS || a == EvpMessages.OWNED ? r : a;
    }

    int update(boolean enc, long ctx, long out, long in, int inl) throws Throwable {
        int r = Upcalls.evpUpdate(ctx, enc ? 1 : 0, out, outl.address(), in, inl);
        if (r != PASS) return r;
        passedCalls++;
        return OpenSsl.update(enc, ctx, out, outl.address(), in, inl);
    }

    int outl() {
        return outl.get(ValueLayout.JAVA_INT, 0);
    }

    int finish(boolean enc, long ctx, long out) throws Throwable {
        int r = Upcalls.evpFinal(ctx, enc ? 1 : 0, out, outl.address());
        if (r != PASS) return r;
        passedCalls++;
        return OpenSsl.finish(enc, ctx, out, outl.address());
    }

    int ctrl(long ctx, int type, int arg, long ptr) throws Throwable {
        int r = Upcalls.evpCtrl(ctx, type, arg, ptr);
        if (r != PASS) return r;
        if (type != 0x11) passedCalls++; // SET_TAG is always passed on as well, by design
        return OpenSsl.ctrl(ctx, type, arg, ptr);
    }

    void free(long ctx) throws Throwable {
        Upcalls.evpDrop(ctx, EvpMessages.DROP_FORGET);
        OpenSsl.freeCtx(ctx);
    }

    /** Result of one message driven like the CC driver. */
    record Message(byte[] out, byte[] tag, int finalResult, boolean updatesOk) {}

    /**
     * Encrypts ({@code enc}) or decrypts {@code data} as one message split at {@code cuts}, exactly as a
     * driver: init, updates (checking *outl == inl), [SET_TAG], final, [GET_TAG].
     */
    Message run(boolean enc, byte[] key, byte[] iv, byte[] data, int[] cuts, byte[] tagToSet) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocateFrom(ValueLayout.JAVA_BYTE, key);
            MemorySegment v = a.allocateFrom(ValueLayout.JAVA_BYTE, iv);
            MemorySegment in = a.allocate(Math.max(data.length, 1));
            MemorySegment.copy(data, 0, in, ValueLayout.JAVA_BYTE, 0, data.length);
            MemorySegment out = a.allocate(data.length + 32L);
            MemorySegment tag = a.allocate(16);
            long ctx = OpenSsl.newCtx();
            try {
                if (init(enc, ctx, k.address(), v.address()) != 1) throw new IllegalStateException("init");
                boolean ok = true;
                int pos = 0;
                for (int i = 0; i <= cuts.length; i++) {
                    int end = i < cuts.length ? cuts[i] : data.length;
                    int n = end - pos;
                    int r = update(enc, ctx, out.address() + pos, in.address() + pos, n);
                    ok &= r == 1 && outl() == n;
                    pos = end;
                }
                if (!enc) {
                    MemorySegment.copy(tagToSet, 0, tag, ValueLayout.JAVA_BYTE, 0, 16);
                    if (ctrl(ctx, 0x11, 16, tag.address()) != 1) throw new IllegalStateException("set tag");
                }
                outl.set(ValueLayout.JAVA_INT, 0, -7);
                int fr = finish(enc, ctx, out.address() + data.length);
                ok &= outl() == 0;
                if (enc && fr == 1 && ctrl(ctx, 0x10, 16, tag.address()) != 1) throw new IllegalStateException("get tag");
                byte[] result = out.asSlice(0, data.length).toArray(ValueLayout.JAVA_BYTE);
                return new Message(result, enc ? tag.toArray(ValueLayout.JAVA_BYTE) : null, fr, ok);
            } finally {
                free(ctx);
            }
        }
    }

    /** Random cut points: 0..4 cuts, odd lengths where possible. */
    static int[] cuts(Random rnd, int len) {
        int n = len < 2 ? 0 : rnd.nextInt(5);
        int[] c = new int[n];
        int pos = 0;
        for (int i = 0; i < n; i++) {
            int room = len - pos;
            if (room < 2) return java.util.Arrays.copyOf(c, i);
            int step = 1 + rnd.nextInt(Math.max(1, room / 2));
            if ((step & 1) == 0 && step + 1 < room) step++;
            pos += step;
            c[i] = pos;
        }
        return c;
    }

    @Override
    public void close() {
        arena.close();
    }
}
