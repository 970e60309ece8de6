package dev.pipellm.crypto.bench;

import dev.pipellm.crypto.gcm.BcLtsGcmEngine;
import dev.pipellm.crypto.gcm.GcmEngine;
import dev.pipellm.crypto.gcm.JdkGcmEngine;
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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/** Warm throughput: one message per op, fresh IV per message (init included), one thread. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class GcmThroughputBenchmark {

    @Param({"jdk", "bc-lts"})
    public String engine;
    @Param({"4096", "65536", "1048576", "16777216"})
    public int size;
    @Param({"heap", "offheap"})
    public String memory;

    private GcmEngine gcm;
    private GcmKey key;
    private Arena arena;
    private byte[] in;
    private byte[] out;
    private final byte[] tag = new byte[16];
    private final byte[] iv = new byte[12];
    private MemorySegment segIn;
    private MemorySegment segOut;
    private MemorySegment segTag;

    @Setup(Level.Trial)
    public void setUp() {
        gcm = Engines.open(engine);
        key = GcmKey.copyOf(new byte[32]);
        arena = Arena.ofConfined();
        in = new byte[size];
        out = new byte[size];
        segIn = arena.allocate(size, 64);
        segOut = arena.allocate(size, 64);
        segTag = arena.allocate(16);
    }

    @Benchmark
    public int encrypt() {
        Engines.bump(iv);
        return "heap".equals(memory)
                ? gcm.encrypt(key, iv, null, in, 0, size, out, 0, tag, 0)
                : gcm.encrypt(key, iv, null, segIn, segOut, segTag);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        gcm.close();
        key.close();
        arena.close();
    }

    /** Shared by the benchmarks and the cold-start probe. */
    static final class Engines {
        private Engines() {
        }

        static GcmEngine open(String name) {
            if ("jdk".equals(name)) {
                JdkGcmEngine jdk = new JdkGcmEngine(16 << 20);
                jdk.warmUp(3_000_000_000L);
                return jdk;
            }
            if ("jdk-nowarm".equals(name)) {
                return new JdkGcmEngine(16 << 20);
            }
            BcLtsGcmEngine.LoadOutcome outcome = BcLtsGcmEngine.load(BcLtsGcmEngine.configuredJar());
            if (outcome.engine() == null) {
                throw new IllegalStateException(outcome.report());
            }
            return outcome.engine();
        }

        static void bump(byte[] iv) {
            for (int i = 0; i < 12 && ++iv[i] == 0; i++) {
                // carry
            }
        }
    }
}
