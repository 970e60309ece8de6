package dev.pipellm.crypto.testsupport;

import dev.pipellm.crypto.gcm.GcmEngine;
import dev.pipellm.crypto.key.GcmKey;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.IntPredicate;

/**
 * A broken engine for self-test tests: flips one ciphertext bit of the encryptions whose size
 * {@code corrupt} selects, on the heap path or (with {@code segments}) the segment path; otherwise
 * the delegate's answers. {@code ownsDelegate}: {@link #close()} closes the delegate too.
 */
public record CorruptingEngine(GcmEngine delegate, IntPredicate corrupt, boolean segments, boolean ownsDelegate)
        implements GcmEngine {
    @Override
    public String name() {
        return "corrupting";
    }

    @Override
    public int encrypt(GcmKey k, byte[] iv, byte[] aad, byte[] in, int io, int len, byte[] out, int oo,
                       byte[] tag, int to) {
        int s = delegate.encrypt(k, iv, aad, in, io, len, out, oo, tag, to);
        if (!segments && corrupt.test(len)) {
            out[oo + len / 2] ^= 1;
        }
        return s;
    }

    @Override
    public int decrypt(GcmKey k, byte[] iv, byte[] aad, byte[] in, int io, int len, byte[] out, int oo,
                       byte[] tag, int to) {
        return delegate.decrypt(k, iv, aad, in, io, len, out, oo, tag, to);
    }

    @Override
    public int encrypt(GcmKey k, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        int s = delegate.encrypt(k, iv, aad, in, out, tag);
        long len = in.byteSize();
        if (segments && corrupt.test((int) len)) {
            out.set(ValueLayout.JAVA_BYTE, len / 2, (byte) (out.get(ValueLayout.JAVA_BYTE, len / 2) ^ 1));
        }
        return s;
    }

    @Override
    public int decrypt(GcmKey k, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        return delegate.decrypt(k, iv, aad, in, out, tag);
    }

    @Override
    public long failureCount() {
        return delegate.failureCount();
    }

    @Override
    public void close() {
        if (ownsDelegate) {
            delegate.close();
        }
    }
}
