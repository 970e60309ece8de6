package dev.pipellm.agent.evp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class EngineWarmUpTest {
    private static final long SLICE = EngineWarmUp.SLICE_NANOS;

    /** A bench whose agent gets faster by 10 ns per sample. */
    private static class FakeBench implements EngineWarmUp.Bench {
        long agent;
        int exercised;

        FakeBench(long agentStart) {
            this.agent = agentStart;
        }

        @Override public void exercise(long nanos) { exercised++; }
        @Override public long agentNanos() { return agent -= 10; }
        @Override public void close() {}
    }

    /** Bytes of one agent sample: an OpenSSL that did them in {@code nanos} runs at the same speed. */
    private static final long SAMPLE_BYTES = (long) EngineWarmUp.MESSAGES_PER_SAMPLE * EngineWarmUp.MESSAGE_BYTES;

    /** A driver that is quiet, and whose cold messages took OpenSSL 1,000 ns per sample's bytes. */
    private static EngineWarmUp quietDriverWithOpenSslAt1000() {
        EngineWarmUp w = EngineWarmUp.comparingWithOpenSsl(() -> 7);
        w.observeOpenSsl(SAMPLE_BYTES / 2, 500);
        w.observeOpenSsl(SAMPLE_BYTES / 2, 500);
        return w;
    }

    @Test
    void shouldStayColdUntilTheAgentOutrunsOpenSsl() throws Throwable {
        EngineWarmUp w = quietDriverWithOpenSslAt1000();
        assertFalse(w.isWarm());
        FakeBench b = new FakeBench(1_000 + 10L * EngineWarmUp.SAMPLES * 4);
        assertTrue(w.run(b, Long.MAX_VALUE, SLICE));
        assertTrue(w.isWarm());
        assertEquals(5, b.exercised, "rounds until the agent's best sample beat OpenSSL's");
    }

    @Test
    void shouldGiveUpAndLeaveOpenSslTheMessagesWhenTheAgentNeverWins() throws Throwable {
        EngineWarmUp w = quietDriverWithOpenSslAt1000();
        FakeBench b = new FakeBench(Long.MAX_VALUE / 2);
        assertFalse(w.run(b, 3 * SLICE, SLICE));
        assertFalse(w.isWarm());
        assertEquals(3, b.exercised, "the exercise budget is spent, then no more");
    }

    @Test
    void shouldExerciseOnlyWhileTheDriverIsQuiet() throws Throwable {
        AtomicLong messages = new AtomicLong();
        EngineWarmUp w = EngineWarmUp.comparingWithOpenSsl(() -> messages.get() < 5 ? messages.incrementAndGet() : 5);
        w.observeOpenSsl(SAMPLE_BYTES, 1_000);
        FakeBench b = new FakeBench(Long.MAX_VALUE / 2) {
            @Override public void exercise(long nanos) {
                assertEquals(5, messages.get(), "a slice ran while the driver was starting messages");
                super.exercise(nanos);
            }
        };
        assertFalse(w.run(b, 2 * SLICE, SLICE));
        assertEquals(2, b.exercised);
    }

    @Test
    void shouldNotDecideBeforeAnyDriverMessageWasSeenAndStopAtThreeBudgets() throws Throwable {
        EngineWarmUp w = EngineWarmUp.comparingWithOpenSsl(() -> 7);
        FakeBench b = new FakeBench(1);   // as fast as can be: still nothing to compare with
        assertFalse(w.run(b, 2 * SLICE, SLICE));
        assertFalse(w.isWarm());
        assertEquals(6, b.exercised, "three budgets of exercise without a single OpenSSL observation");
        assertTrue(EngineWarmUp.alreadyWarm().isWarm());
    }

    @Test
    void shouldTimeTheAgentsRealPathWhenRunForReal() throws Throwable {
        EngineWarmUp w = EngineWarmUp.comparingWithOpenSsl(() -> 0);
        w.observeOpenSsl(SAMPLE_BYTES, Long.MAX_VALUE / 4);   // an OpenSSL slower than anything
        try (EngineWarmUp.Bench bench = EngineWarmUp.realBench()) {
            assertTrue(w.run(bench, 200_000_000L, 100_000_000L));
            long agent = bench.agentNanos();
            System.out.printf("warm-up: the agent's path at %.2f GB/s (64 KiB messages) after 0.1 s of exercise%n",
                    gbps(agent));
            assertTrue(agent > 0);
        }
    }

    private static double gbps(long nanos) {
        return (double) EngineWarmUp.MESSAGES_PER_SAMPLE * EngineWarmUp.MESSAGE_BYTES / nanos;
    }
}
