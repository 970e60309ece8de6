package dev.pipellm.crypto.bench;

import dev.pipellm.crypto.gcm.GcmEngine;
import dev.pipellm.crypto.key.GcmKey;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Per-message fixed cost: a 16-byte message with a fresh IV (init, one block, tag). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class GcmInitCostBenchmark {

    @Param({"jdk", "bc-lts"})
    public String engine;

    private GcmEngine gcm;
    private GcmKey key;
    private final byte[] in = new byte[16];
    private final byte[] out = new byte[16];
    private final byte[] tag = new byte[16];
    private final byte[] iv = new byte[12];

    @Setup(Level.Trial)
    public void setUp() {
        gcm = GcmThroughputBenchmark.Engines.open(engine);
        key = GcmKey.copyOf(new byte[32]);
    }

    @Benchmark
    public int encrypt16Bytes() {
        GcmThroughputBenchmark.Engines.bump(iv);
        return gcm.encrypt(key, iv, null, in, 0, 16, out, 0, tag, 0);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        gcm.close();
        key.close();
    }
}
