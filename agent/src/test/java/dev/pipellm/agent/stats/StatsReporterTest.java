package dev.pipellm.agent.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.log.DistinctErrorLog;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatsReporterTest {
    @TempDir
    Path dir;

    @Test
    void shouldRewriteTheFileWhileRunningWhenAnIntervalIsSet() throws Exception {
        Path file = dir.resolve("s.json");
        Counters c = new Counters();
        StatsReporter r = new StatsReporter(Config.parse("stats=" + file + ",stats_interval_ms=20"), c, new DistinctErrorLog());
        r.startPeriodic();
        c.increment(StatCounter.INTERCEPTED_COPIES);
        waitFor(file, "\"intercepted_copies\": 1");
        c.increment(StatCounter.INTERCEPTED_COPIES);
        waitFor(file, "\"intercepted_copies\": 2");
        assertTrue(r.exit());
        assertFalse(r.exit(), "once");
        Files.delete(file);
        Thread.sleep(100);
        assertFalse(Files.exists(file), "no write after exit");
    }

    @Test
    void shouldWriteOnlyAtExitWhenTheIntervalIsZero() throws Exception {
        Path file = dir.resolve("once.json");
        StatsReporter r = new StatsReporter(Config.parse("stats=" + file + ",stats_interval_ms=0"), new Counters(),
                new DistinctErrorLog());
        r.startPeriodic();
        Thread.sleep(100);
        assertFalse(Files.exists(file));
        r.exit();
        assertTrue(Files.exists(file));
    }

    @Test
    void shouldSayWhoHandledTheMessagesInOneSummaryLine() throws Exception {
        Counters c = new Counters();
        for (int i = 0; i < 10; i++) c.increment(StatCounter.H2D_MESSAGES);
        for (int i = 0; i < 4; i++) c.increment(StatCounter.D2H_MESSAGES);
        for (int i = 0; i < 7; i++) c.increment(StatCounter.AGENT_ENCRYPTED_MESSAGES);
        for (int i = 0; i < 3; i++) c.increment(StatCounter.AGENT_DECRYPTED_MESSAGES);
        for (int i = 0; i < 3; i++) c.increment(StatCounter.COLD_START_MESSAGES);
        c.increment(StatCounter.FALLBACKS);
        String line = new StatsReporter(Config.parse("mode=sync,stats=/tmp/x.json"), c, new DistinctErrorLog()).summary();
        assertEquals("pipellm: summary: mode sync, 0 copies, 10 H2D + 4 D2H messages: 10 by the agent (0 pre-encrypted),"
                + " 4 by OpenSSL (3 while the agent warmed up, 0 handed over), 1 fallbacks, 0 refused, 0 agent errors;"
                + " statistics in /tmp/x.json", line);
        assertFalse(line.contains("\n"));
    }

    private static void waitFor(Path file, String text) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readString(file).contains(text)) return;
            Thread.sleep(5);
        }
        throw new AssertionError(file + " never contained " + text);
    }
}
