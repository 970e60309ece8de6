package dev.pipellm.agent.evp;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The whole address space as one segment, for absolute-address reads and writes of the pointers the
 * shim passes as {@code long}s. Using one static segment (instead of {@code MemorySegment.ofAddress(p)
 * .reinterpret(n)} per call) keeps the hot path allocation-free; bounds are the C caller's contract
 * ({@code in[0..inl)}, {@code out[0..inl)}, {@code int *outl}), exactly as for the real OpenSSL.
 *
 * <p>{@code reinterpret} is a restricted method: the JVM must run with
 * {@code --enable-native-access=ALL-UNNAMED} (the shim passes it when it creates the JVM; under
 * {@code -agentpath} the host JVM prints a warning once if it lacks the flag).
 */
public final class NativeMemory {
    public static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private NativeMemory() {}

    public static void copyIn(long address, byte[] dst, int dstOffset, int length) {
        MemorySegment.copy(ALL, ValueLayout.JAVA_BYTE, address, dst, dstOffset, length);
    }

    public static void copyOut(byte[] src, int srcOffset, long address, int length) {
        MemorySegment.copy(src, srcOffset, ALL, ValueLayout.JAVA_BYTE, address, length);
    }

    public static void putInt(long address, int value) {
        ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address, value);
    }

    public static int getInt(long address) {
        return ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address);
    }

    public static long getAddress(long address) {
        return ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address);
    }

    public static void putAddress(long address, long value) {
        ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address, value);
    }

    public static byte getByte(long address) {
        return ALL.get(ValueLayout.JAVA_BYTE, address);
    }
}
