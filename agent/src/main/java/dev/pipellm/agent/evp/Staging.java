package dev.pipellm.agent.evp;

/**
 * Per-thread heap buffers that native data is staged through ({@code MemorySegment.copy} in, SunJCE on
 * heap arrays, copy out). Heap arrays take SunJCE's fast intrinsic path; data is processed in
 * {@link #CHUNK_BYTES} pieces so the buffers stay small and fixed (no growth) and the JIT sees many
 * short calls (java-stack.md section 1: large single calls stay on the slow path for a long time).
 */
final class Staging {
    static final int CHUNK_BYTES = 64 * 1024;

    final byte[] in = new byte[CHUNK_BYTES];
    final byte[] out = new byte[CHUNK_BYTES];
    /** Tag cipher output: a chunk plus up to 15 held-back bytes, and the final's tag. */
    final byte[] scratch = new byte[CHUNK_BYTES + 64];
    final byte[] tag = new byte[dev.pipellm.crypto.gcm.StreamingGcm.TAG_BYTES];

    /** AES-CTR, made on first use: the plaintext of a write-tracked slot's committed prefix. */
    private javax.crypto.Cipher ctr;
    private final byte[] counter = new byte[16];

    /**
     * A cipher that turns a GCM message's ciphertext back into its plaintext from byte 0: GCM
     * encrypts with AES-CTR from the counter block {@code IV || 00000002} (96-bit IV, NIST SP 800-38D
     * section 7.1), and its 32-bit increment equals CTR's 128-bit one below 2^32 blocks (64 GiB). No tag
     * is checked: the ciphertext is the agent's own, from private memory.
     */
    javax.crypto.Cipher prefixCipher(javax.crypto.spec.SecretKeySpec key, byte[] iv12) throws java.security.GeneralSecurityException {
        if (ctr == null) ctr = javax.crypto.Cipher.getInstance("AES/CTR/NoPadding");
        System.arraycopy(iv12, 0, counter, 0, 12);
        counter[12] = 0;
        counter[13] = 0;
        counter[14] = 0;
        counter[15] = 2;
        ctr.init(javax.crypto.Cipher.DECRYPT_MODE, key, new javax.crypto.spec.IvParameterSpec(counter));
        return ctr;
    }

    private static final ThreadLocal<Staging> PER_THREAD = ThreadLocal.withInitial(Staging::new);

    static Staging get() {
        return PER_THREAD.get();
    }
}
