package dev.pipellm.bench.harness;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * What this machine's cores can do, measured at the harness's start (about 3 s): memcpy GB/s (off-heap to
 * off-heap, 64 MiB, larger than the caches, as a commit's copy of ciphertext into the bounce buffer), AES-256-GCM
 * GB/s of the JDK's engine (1 MiB messages, warmed up: the agent's own AES-GCM is this engine), and the memory
 * bandwidth all cores copying at once get. The harness measures again after each round and keeps the best of
 * each ({@link #best}). The analytic bound ({@link #boundSeconds}) is computed from them.
 */
record Calibration(double memcpyBytesPerS, double aesGcmBytesPerS, double memoryBytesPerS, int workers, int cores) {
    static Calibration measure(int workers) {
        final int cores = Runtime.getRuntime().availableProcessors();
        // one thread copying: a commit's copy of ciphertext into the bounce buffer; all of them: the memory's limit
        return new Calibration(copyBytesPerS(1), aesGcm(), copyBytesPerS(cores), workers, cores);
    }

    /**
     * The best of each figure of two calibrations of the same machine. The bound is an upper limit on
     * throughput, so it takes the most the machine was seen to do: on a shared VM one calibration can fall in a
     * slow moment (memcpy 9.6 and memory 10.0 GB/s once, against 15-24 GB/s the same hour), and a bound from it
     * lies below what the modes then measure.
     */
    Calibration best(Calibration other) {
        if (other.workers != workers || other.cores != cores) {
            throw new IllegalArgumentException("calibrations of different settings: " + this + " and " + other);
        }
        return new Calibration(Math.max(memcpyBytesPerS, other.memcpyBytesPerS),
                Math.max(aesGcmBytesPerS, other.aesGcmBytesPerS), Math.max(memoryBytesPerS, other.memoryBytesPerS),
                workers, cores);
    }

    /**
     * Bytes per second that {@code threads} threads copying at once move in all (64 MiB each, best of 4 rounds):
     * what the memory system gives every copy and encryption of a run together. On the 2-vCPU development VM two
     * copying threads move only about 1.5x what one does, so memory, not the cores, limits a run that copies
     * every byte several times.
     */
    private static double copyBytesPerS(int threads) {
        final long n = 64L << 20;
        try (Arena a = Arena.ofShared()) {
            final MemorySegment[] src = new MemorySegment[threads];
            final MemorySegment[] dst = new MemorySegment[threads];
            for (int t = 0; t < threads; t++) {
                src[t] = a.allocate(n, 64);
                dst[t] = a.allocate(n, 64);
                src[t].fill((byte) 1);
                dst[t].fill((byte) 0);
            }
            double best = 0;
            for (int round = 0; round < 4; round++) {
                final java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                final Thread[] th = new Thread[threads];
                for (int t = 0; t < threads; t++) {
                    final int k = t;
                    th[t] = new Thread(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                        for (int i = 0; i < 4; i++) MemorySegment.copy(src[k], 0, dst[k], 0, n);
                    }, "bench-calibration-" + t);
                    th[t].start();
                }
                final long t0 = System.nanoTime();
                go.countDown();
                for (Thread t : th) {
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("memory bandwidth calibration interrupted", e);
                    }
                }
                best = Math.max(best, 4.0 * n * threads / ((System.nanoTime() - t0) / 1e9));
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
     * per byte that a real driver does not do. Four limits, the largest wins:
     * <ul>
     *   <li>the app's thread: {@code noCc + simgpuCc + h2d x (1 + (1 - f)) / memcpy + d2h / aes}, where
     *       {@code simgpuCc} is simgpu's own cost per message outside the crypto, measured in the same run's
     *       vanilla CC replay (Report#simgpuCcSeconds; 0 without one);</li>
     *   <li>the encrypt workers: {@code h2d / (workers x aes)};</li>
     *   <li>the cores that exist here, all work together: {@code (noCcCpu + h2d x (1/aes + (1 + (1 - f))/memcpy +
     *       f/aes) + d2h x 2/aes) / cores}: the no-CC run's own CPU (simgpu's copies included), the workers'
     *       encryption, the commits and simgpu's plaintext copies, simgpu's copy engine decrypting the share
     *       {@code f} of H2D messages it checks and encrypting every D2H one, the app decrypting it (a real GPU's
     *       copy engine costs the CPU nothing: on a GPU this term is smaller).</li>
     *   <li>the memory all cores share: {@code (h2d x (4 - f) + d2h x 2) / memory}: per H2D byte the workers'
     *       encryption (reads the source, writes the ciphertext), the commit's copy, simgpu's plaintext copy
     *       (share {@code 1 - f}) and its copy engine's pass into device memory; per D2H byte simgpu's encryption
     *       and the app's decryption; each a pass that reads and writes every byte, at what all cores copying at
     *       once move ({@code memoryBytesPerS}).</li>
     * </ul>
     * It ignores scheduling (the workers wait for the copies they predict), so it is an upper bound on
     * throughput; with {@code noCcCpuSeconds} unknown (NaN) the third limit is left out.
     */
    double boundSeconds(double noCcSeconds, double noCcCpuSeconds, long h2dBytes, long d2hBytes, double ceShare,
                        double simgpuCcSeconds) {
        final double copies = (1 + (1 - ceShare)) / memcpyBytesPerS;   // the commit's, simgpu's plaintext aside
        final double app = noCcSeconds + simgpuCcSeconds + h2dBytes * copies + d2hBytes / aesGcmBytesPerS;
        final double enc = h2dBytes / (workers * aesGcmBytesPerS);
        final double cpu = Double.isNaN(noCcCpuSeconds) ? 0 : (noCcCpuSeconds + h2dBytes * (1 / aesGcmBytesPerS
                + copies + ceShare / aesGcmBytesPerS) + d2hBytes * 2 / aesGcmBytesPerS) / cores;
        final double memory = (h2dBytes * (4 - ceShare) + d2hBytes * 2.0) / memoryBytesPerS;
        return Math.max(Math.max(app, enc), Math.max(cpu, memory));
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
