package dev.pipellm.bench.harness;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * What this machine's cores can do, measured at the harness's start (about 2.5 s): memcpy GB/s (off-heap to
 * off-heap, 64 MiB, larger than the caches, as a commit's copy of ciphertext into the bounce buffer) and
 * AES-256-GCM GB/s of the JDK's engine (1 MiB messages, warmed up: the agent's own AES-GCM is this engine). The
 * analytic bound ({@link #boundSeconds}) is computed from them.
 */
record Calibration(double memcpyBytesPerS, double aesGcmBytesPerS, int workers, int cores) {
    static Calibration measure(int workers) {
        return new Calibration(memcpy(), aesGcm(), workers, Runtime.getRuntime().availableProcessors());
    }

    private static double memcpy() {
        final long n = 64L << 20;
        try (Arena a = Arena.ofConfined()) {
            final MemorySegment src = a.allocate(n, 64);
            final MemorySegment dst = a.allocate(n, 64);
            src.fill((byte) 1);
            dst.fill((byte) 0);
            double best = 0;
            for (int i = 0; i < 8; i++) {
                final long t = System.nanoTime();
                MemorySegment.copy(src, 0, dst, 0, n);
                best = Math.max(best, n / ((System.nanoTime() - t) / 1e9));
            }
            return best;
        }
    }

    /**
     * 1 MiB messages encrypted as the agent's engine does, in 64 KiB {@code update} chunks (SunJCE's GCM intrinsic
     * runs only from compiled code, and a single call of 1 MiB or more stays in the interpreter for long: the
     * "JIT cliff" of research/java-stack.md); best of 1 s after a warm-up of small messages.
     */
    private static double aesGcm() {
        try {
            final Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            final SecretKeySpec key = new SecretKeySpec(new byte[32], "AES");
            final int chunk = 64 << 10;
            final byte[] in = new byte[1 << 20];
            final byte[] out = new byte[in.length + 16];
            final byte[] iv = new byte[12];
            long counter = 0;
            // Warm-up: many small messages, so that the JIT compiles GCM's update path (and its intrinsic)
            // quickly even on a loaded machine: 20,000 messages of 4 KiB, at most 4 s.
            final long warmUntil = System.nanoTime() + 4_000_000_000L;
            for (int k = 0; k < 20_000 && System.nanoTime() < warmUntil; k++) {
                c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nextIv(iv, ++counter)));
                c.doFinal(in, 0, 4096, out, 0);
            }
            double best = 0;
            final long until = System.nanoTime() + 1_000_000_000L;
            long now;
            while ((now = System.nanoTime()) < until) {
                c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nextIv(iv, ++counter)));
                int o = 0;
                for (int off = 0; off < in.length; off += chunk) {
                    o += c.update(in, off, chunk, out, o);
                }
                c.doFinal(out, o);
                best = Math.max(best, in.length / ((System.nanoTime() - now) / 1e9));
            }
            return best;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM calibration failed: " + e, e);
        }
    }

    private static byte[] nextIv(byte[] iv, long counter) {
        for (int b = 0; b < 8; b++) {
            iv[b] = (byte) (counter >>> (8 * b));
        }
        return iv;
    }

    /**
     * The shortest time a perfect PipeLLM could take for a trace that took {@code noCcSeconds} (and
     * {@code noCcCpuSeconds} of the process's CPU, every thread) without CC: every H2D byte encrypted ahead of
     * time at the engine's rate, the app's thread paying only the commit's copy of the ciphertext (memcpy) per H2D
     * byte and the decryption of every D2H byte (nothing decrypts D2H ahead of time), and simgpu's own cost on that
     * thread: for each H2D message its copy engine does not decrypt (the share {@code 1 - f}, {@code SIMGPU_VERIFY}),
     * simgpu's driver copies the plaintext aside at the call (the bytes the device gets unchecked), one more memcpy
     * per byte that a real driver does not do. Three limits, the largest wins:
     * <ul>
     *   <li>the app's thread: {@code noCc + h2d x (1 + (1 - f)) / memcpy + d2h / aes};</li>
     *   <li>the encrypt workers: {@code h2d / (workers x aes)};</li>
     *   <li>the cores that exist here, all work together: {@code (noCcCpu + h2d x (1/aes + (1 + (1 - f))/memcpy +
     *       f/aes) + d2h x 2/aes) / cores}: the no-CC run's own CPU (simgpu's copies included), the workers'
     *       encryption, the commits and simgpu's plaintext copies, simgpu's copy engine decrypting the share
     *       {@code f} of H2D messages it checks and encrypting every D2H one, the app decrypting it (a real GPU's
     *       copy engine costs the CPU nothing: on a GPU this term is smaller).</li>
     * </ul>
     * It ignores scheduling (the workers wait for the copies they predict), so it is an upper bound on
     * throughput; with {@code noCcCpuSeconds} unknown (NaN) the third limit is left out.
     */
    double boundSeconds(double noCcSeconds, double noCcCpuSeconds, long h2dBytes, long d2hBytes, double ceShare) {
        final double copies = (1 + (1 - ceShare)) / memcpyBytesPerS;   // the commit's, simgpu's plaintext aside
        final double app = noCcSeconds + h2dBytes * copies + d2hBytes / aesGcmBytesPerS;
        final double enc = h2dBytes / (workers * aesGcmBytesPerS);
        final double cpu = Double.isNaN(noCcCpuSeconds) ? 0 : (noCcCpuSeconds + h2dBytes * (1 / aesGcmBytesPerS
                + copies + ceShare / aesGcmBytesPerS) + d2hBytes * 2 / aesGcmBytesPerS) / cores;
        return Math.max(app, Math.max(enc, cpu));
    }

    /** The share of H2D messages simgpu's copy engine decrypts and checks: SIMGPU_VERIFY full (1), sampled:N, off. */
    static double ceShare(String verify) {
        if (verify == null || verify.equals("full")) {
            return 1;
        }
        if (verify.startsWith("sampled:")) {
            try {
                return 1.0 / Math.max(1, Integer.parseInt(verify.substring("sampled:".length())));
            } catch (NumberFormatException e) {
                return 1;
            }
        }
        return verify.equals("off") ? 0 : 1;
    }
}
