package dev.pipellm.speculator.bench;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventRing;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Hot-path costs: recording one event into the ring (what the copy hook pays), and the planner's per-copy work
 * (drain the copy into the speculator + re-query) on a locked weight-streaming cycle. Run with {@code -prof gc}:
 * gc.alloc.rate.norm must be ~0 B/op.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SpeculatorBenchmark {
    private static final int PERIOD = 773; // FlexGen OPT-30B copies per token
    private EventRing ring;
    private Speculator speculator;
    private PredictionBuffer out;
    private long[] hosts;
    private long[] sizes;
    private int i;

    @Setup
    public void setUp() {
        ring = new EventRing(1 << 16);
        speculator = new Speculator(SpeculatorConfig.defaults());
        out = speculator.newPredictionBuffer();
        hosts = new long[PERIOD];
        sizes = new long[PERIOD];
        for (int k = 0; k < PERIOD; k++) {
            hosts[k] = 0x7f00_0000_0000L + k * 0x2000_0000L;
            sizes[k] = k % 4 == 0 ? 14_336 : 102_760_448;
        }
        for (int k = 0; k < 4 * PERIOD; k++) {
            step();
        }
    }

    /** Next index into the cycle; wraps explicitly (an int counter overflows within a benchmark run). */
    private int next() {
        final int k = i;
        i = k + 1 == PERIOD ? 0 : k + 1;
        return k;
    }

    private int step() {
        final int k = next();
        ring.onEvent(EventType.COPY, CopyDirection.H2D, hosts[k], 0x7e00_0000_0000L, sizes[k], 1, 1);
        ring.drainTo(speculator, 16);
        return speculator.predict(out);
    }

    /** One event recorded into the preallocated ring (the agent's copy hook). */
    @Benchmark
    public long recordEvent() {
        final int k = next();
        ring.onEvent(EventType.COPY, CopyDirection.H2D, hosts[k], 0x7e00_0000_0000L, sizes[k], 1, 1);
        return ring.publishedCount();
    }

    /** Record + drain into the speculator (all predictors learn, tournament scores) + re-query (256 copies ahead). */
    @Benchmark
    public int recordDrainAndRequery() {
        return step();
    }
}
