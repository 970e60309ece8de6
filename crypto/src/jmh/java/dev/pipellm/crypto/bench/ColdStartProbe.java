package dev.pipellm.crypto.bench;

import dev.pipellm.crypto.gcm.GcmEngine;
import dev.pipellm.crypto.key.GcmKey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Run in a fresh JVM: opens an engine (for {@code jdk}: including its start-up warm-up) and reports the setup time
 * and the throughput of the first second of encrypting {@code size}-byte messages. Output: one line
 * {@code setupMs gbpsFirstSecond messages}.
 */
public final class ColdStartProbe {
    private ColdStartProbe() {
    }

    public static void main(String[] args) {
        String engineName = args[0];
        int size = Integer.parseInt(args[1]);
        boolean heap = "heap".equals(args[2]);
        long t0 = System.nanoTime();
        GcmEngine engine = GcmThroughputBenchmark.Engines.open(engineName);
        long setupNanos = System.nanoTime() - t0;
        byte[] iv = new byte[12];
        try (GcmKey key = GcmKey.copyOf(new byte[32]); Arena arena = Arena.ofConfined()) {
            byte[] in = new byte[size];
            byte[] out = new byte[size];
            byte[] tag = new byte[16];
            MemorySegment segIn = arena.allocate(size, 64);
            MemorySegment segOut = arena.allocate(size, 64);
            MemorySegment segTag = arena.allocate(16);
            long start = System.nanoTime();
            long messages = 0;
            long elapsed;
            do {
                GcmThroughputBenchmark.Engines.bump(iv);
                int status = heap ? engine.encrypt(key, iv, null, in, 0, size, out, 0, tag, 0)
                        : engine.encrypt(key, iv, null, segIn, segOut, segTag);
                if (status != GcmEngine.OK) {
                    throw new IllegalStateException(GcmEngine.statusName(status));
                }
                messages++;
                elapsed = System.nanoTime() - start;
            } while (elapsed < 1_000_000_000L);
            System.out.printf("%d %.3f %d%n", setupNanos / 1_000_000, (double) messages * size / elapsed, messages);
        }
        engine.close();
    }
}
