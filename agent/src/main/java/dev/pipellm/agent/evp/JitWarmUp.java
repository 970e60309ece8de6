package dev.pipellm.agent.evp;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Warms the JIT up for the sync-mode crypto on a background daemon thread ({@code pipellm-warmup}).
 *
 * <p>SunJCE's AES-CTR and GCM intrinsics run only from C2-compiled callers (java-stack.md section 1):
 * a fresh agent encrypts its first messages at ~0.1 GB/s, far slower than OpenSSL, until the
 * compilers have seen enough calls. A few hundred milliseconds of 64 KiB messages through the same
 * {@link GcmStream} code at start-up moves that cost off the application's first copies. A random
 * throw-away key is used; nothing produced here leaves the thread.
 */
public final class JitWarmUp {
    private static final int MESSAGE_BYTES = 64 << 10;
    private static final long BUDGET_NANOS = 600_000_000L;
    private static final int MAX_MESSAGES = 6_000;

    private JitWarmUp() {}

    /** Starts the warm-up thread and returns at once. */
    public static Thread startInBackground() {
        Thread t = new Thread(JitWarmUp::run, "pipellm-warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
        return t;
    }

    /** Runs the warm-up on the calling thread; returns the messages processed (tests use it). */
    static int run() {
        try {
            GcmStream stream = new GcmStream();
            byte[] key = new byte[32], iv = new byte[GcmStream.IV_BYTES], tag = new byte[GcmStream.TAG_BYTES];
            byte[] in = new byte[MESSAGE_BYTES], out = new byte[MESSAGE_BYTES], scratch = new byte[MESSAGE_BYTES + 32];
            ThreadLocalRandom.current().nextBytes(key);
            long deadline = System.nanoTime() + BUDGET_NANOS;
            int messages = 0;
            while (messages < MAX_MESSAGES && System.nanoTime() < deadline) {
                iv[0] = (byte) messages;
                iv[1] = (byte) (messages >>> 8);
                stream.begin(key, messages == 0, iv);
                stream.update((messages & 1) == 0, in, MESSAGE_BYTES, out, scratch);
                stream.finish(scratch, tag);
                messages++;
            }
            stream.wipe();
            java.util.Arrays.fill(key, (byte) 0);
            return messages;
        } catch (Throwable t) {
            return -1;   // a failed warm-up only costs speed: the first messages run colder
        }
    }
}
