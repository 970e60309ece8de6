package dev.pipellm.crypto.gcm;

import java.util.Arrays;

/**
 * A thread's two reusable heap staging arrays (input side, output side). They only grow, and only
 * when a message is larger than any before it, so a warmed-up thread allocates nothing per message.
 * Not thread-safe: one per thread state.
 */
final class StagingBuffers {
    private byte[] in;
    private byte[] out;

    StagingBuffers(int inBytes, int outBytes) {
        in = new byte[inBytes];
        out = new byte[outBytes];
    }

    /** An input-side array of at least {@code bytes}. */
    byte[] in(int bytes) {
        if (in.length < bytes) in = new byte[bytes];
        return in;
    }

    /** An output-side array of at least {@code bytes}. */
    byte[] out(int bytes) {
        if (out.length < bytes) out = new byte[bytes];
        return out;
    }

    /** Zeroes both arrays (they held plaintext). */
    void wipe() {
        Arrays.fill(in, (byte) 0);
        Arrays.fill(out, (byte) 0);
    }
}
