package dev.pipellm.agent.evp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class EngineWarmUpTest {
    private static final long SLICE = EngineWarmUp.SLICE_NANOS;

    /** A bench whose agent gets faster by 10 ns per sample, against an OpenSSL at a fixed speed. */
    private static class FakeBench implements EngineWarmUp.Bench {
        long agent;
        final long openssl;
        int exercised;

        FakeBench(long agentStart, long openssl) {
            this.agent = agentStart;
            this.openssl = openssl;
        }

        @Override public void exercise(long nanos) { exercised++; }
        @Override public long agentNanos() { return agent -= 10; }
        @Override public long opensslNanos() { return openssl; }
        @Override public void close() {}
    }

    private static EngineWarmUp quietDriver() {
        return EngineWarmUp.comparingWith(null, () -> 7);
    }

    @Test
    void shouldStayColdUntilTheAgentOutrunsOpenSsl() throws Throwable {
        EngineWarmUp w = quietDriver();
        assertFalse(w.isWarm());
        FakeBench b = new FakeBench(1_000 + 10L * EngineWarmUp.SAMPLES * 4, 1_000);
        assertTrue(w.run(b, Long.MAX_VALUE, SLICE));
        assertTrue(w.isWarm());
        assertEquals(5, b.exercised, "rounds until the agent's best sample beat OpenSSL's");
    }

    @Test
    void shouldGiveUpAndLeaveOpenSslTheMessagesWhenTheAgentNeverWins() throws Throwable {
        EngineWarmUp w = quietDriver();
        FakeBench b = new FakeBench(Long.MAX_VALUE / 2, 1_000);
        assertFalse(w.run(b, 3 * SLICE, SLICE));
        assertFalse(w.isWarm());
        assertEquals(3, b.exercised, "the exercise budget is spent, then no more");
    }

    @Test
    void shouldExerciseOnlyWhileTheDriverIsQuiet() throws Throwable {
        AtomicLong messages = new AtomicLong();
        EngineWarmUp w = EngineWarmUp.comparingWith(null, () -> messages.get() < 5 ? messages.incrementAndGet() : 5);
        FakeBench b = new FakeBench(Long.MAX_VALUE / 2, 1_000) {
            @Override public void exercise(long nanos) {
                assertEquals(5, messages.get(), "a slice ran while the driver was starting messages");
                super.exercise(nanos);
            }
        };
        assertFalse(w.run(b, 2 * SLICE, SLICE));
        assertEquals(2, b.exercised);
    }

    @Test
    void shouldBeWarmAfterOneRoundWhenNoOpenSslCanBeTimed() throws Throwable {
        EngineWarmUp w = quietDriver();
        FakeBench b = new FakeBench(Long.MAX_VALUE / 2, -1);
        assertTrue(w.run(b, Long.MAX_VALUE, SLICE));
        assertTrue(w.isWarm());
        assertTrue(EngineWarmUp.alreadyWarm().isWarm());
    }

    @Test
    void shouldTimeTheAgentAndTheRealOpenSslOnTheSameMessagesWhenRunForReal() throws Throwable {
        // the real libcrypto.so.3 as the shim's table would give it
        List<String> names = List.of("EVP_EncryptInit_ex", "EVP_EncryptUpdate", "EVP_EncryptFinal_ex", "EVP_CIPHER_CTX_ctrl",
                "EVP_aes_256_gcm", "EVP_CIPHER_CTX_new", "EVP_CIPHER_CTX_free");
        SymbolLookup crypto = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());
        MemorySegment table = Arena.global().allocate(8L * names.size(), 8);
        for (int i = 0; i < names.size(); i++) table.setAtIndex(ValueLayout.ADDRESS, i, crypto.find(names.get(i)).orElseThrow());
        RealEvp real = new RealEvp(table.address(), HookIds.parse(String.join(",", names), names.size()));
        EngineWarmUp w = EngineWarmUp.comparingWith(real, () -> 0);
        try (EngineWarmUp.Bench bench = EngineWarmUp.realBench(real)) {
            long t0 = System.nanoTime();
            boolean faster = w.run(bench, 400_000_000L, 200_000_000L);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            long agent = bench.agentNanos(), openssl = bench.opensslNanos();
            System.out.printf("warm-up: agent %.2f GB/s, OpenSSL %.2f GB/s (64 KiB messages), agent faster: %s after %d ms%n",
                    gbps(agent), gbps(openssl), faster, ms);
            assertTrue(agent > 0 && openssl > 0, "both paths timed: " + agent + " " + openssl);
            assertEquals(faster, w.isWarm());
        }
    }

    private static double gbps(long nanos) {
        return (double) EngineWarmUp.MESSAGES_PER_SAMPLE * EngineWarmUp.MESSAGE_BYTES / nanos;
    }
}
