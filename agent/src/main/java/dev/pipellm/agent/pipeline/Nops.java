package dev.pipellm.agent.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * NOPs: the smallest real H2D copy (1 byte from a private host byte to a private device byte) on a
 * non-blocking stream of the agent's own, through the real {@code cudaMemcpyAsync} (never the shim's,
 * so no on_copy is re-entered). Under CC each burns exactly one IV of the channel it goes through; the
 * driver's EVP init of the NOP shows which channel that was ({@link ThreadState#nopMiss}).
 *
 * <p>Set up on first use (a device byte, a stream); if that fails, NOPs are off for the process.
 */
final class Nops {
    private static final int H2D = 1;
    private static final int NON_BLOCKING = 1;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;

    private final java.util.function.IntToLongFunction real;
    private final int memcpyId, mallocId, streamCreateId;
    private long memcpyAsync, malloc, streamCreate;
    private MethodHandle copy;
    private long device;
    private long host;
    private long stream;
    private volatile int state;   // 0 not set up, 1 ready, -1 unavailable

    /**
     * {@code real}: the shim's real-function table by hook id (an entry is 0 until the shim resolved
     * it, which happens at the app's first call of that function, so they are read at set-up).
     */
    Nops(java.util.function.IntToLongFunction real, int memcpyId, int mallocId, int streamCreateId) {
        this.real = real;
        this.memcpyId = memcpyId;
        this.mallocId = mallocId;
        this.streamCreateId = streamCreateId;
    }

    boolean available() {
        return state >= 0;
    }

    /** Set up at the first NOP: the real functions must be resolved by then (the app copied already). */
    private synchronized boolean setUp() {
        if (state != 0) return state > 0;
        memcpyAsync = real.applyAsLong(memcpyId);
        malloc = real.applyAsLong(mallocId);
        streamCreate = real.applyAsLong(streamCreateId);
        if (memcpyAsync == 0 || malloc == 0) return false;   // try again at the next NOP
        state = -1;
        try {
            Arena arena = Arena.global();
            MemorySegment cell = arena.allocate(8);
            MethodHandle m = LINKER.downcallHandle(MemorySegment.ofAddress(malloc), FunctionDescriptor.of(I, L, L));
            if ((int) m.invokeExact(cell.address(), 64L) != 0) return false;
            device = cell.get(L, 0);
            if (streamCreate != 0) {
                MethodHandle sc = LINKER.downcallHandle(MemorySegment.ofAddress(streamCreate),
                        FunctionDescriptor.of(I, L, I));
                if ((int) sc.invokeExact(cell.address(), NON_BLOCKING) != 0) return false;
                stream = cell.get(L, 0);
            } else {
                stream = -1;   // the app never created a stream: NOPs go on the copy's own stream
            }
            host = arena.allocate(64, 64).address();
            copy = LINKER.downcallHandle(MemorySegment.ofAddress(memcpyAsync), FunctionDescriptor.of(I, L, L, L, I, L));
            state = 1;
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Issues up to {@code n} NOPs; returns how many went through (stops at the first error). */
    int issue(int n, ThreadState ts) throws Throwable {
        if (state <= 0 && !setUp()) return 0;
        long on = stream == -1 ? ts.copyStream : stream;
        for (int i = 0; i < n; i++) {
            if ((int) copy.invokeExact(device, host, 1L, H2D, on) != 0 || ts.nopMiss) return ts.nopMiss ? i + 1 : i;
        }
        return n;
    }
}
