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

    private static final ThreadLocal<Staging> PER_THREAD = ThreadLocal.withInitial(Staging::new);

    static Staging get() {
        return PER_THREAD.get();
    }
}
