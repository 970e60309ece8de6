package dev.pipellm.agent.stats;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.LogLevel;
import dev.pipellm.agent.log.DistinctErrorLog;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Where the counters go: the {@code PIPELLM_STATS} file, rewritten every {@code stats_interval_ms}
 * by a daemon thread ({@code pipellm-stats}) so that a server stopped by SIGTERM or SIGKILL, where no
 * exit code runs, still leaves recent figures, and once more at every exit path that runs code (the
 * shim's atexit in the LD_PRELOAD role, a JVM shutdown hook otherwise); and the one summary line at
 * exit ({@code summary=1}, which {@code ./pipellm run} sets, or log level info).
 *
 * <p>Writes are atomic (temporary file, then rename) and serialised here; a failed write is
 * reported once ({@link DistinctErrorLog}) and retried at the next interval.
 */
public final class StatsReporter {
    private final Config config;
    private final Counters counters;
    private final DistinctErrorLog errors;
    private final AtomicBoolean exited = new AtomicBoolean();

    public StatsReporter(Config config, Counters counters, DistinctErrorLog errors) {
        this.config = config;
        this.counters = counters;
        this.errors = errors;
    }

    /** Starts the periodic writer when there is a file and an interval; returns at once. */
    public void startPeriodic() {
        if (config.statsPath().isEmpty() || config.statsIntervalMs() == 0) return;
        Thread t = new Thread(this::writePeriodically, "pipellm-stats");
        t.setDaemon(true);
        t.start();
    }

    private void writePeriodically() {
        try {
            while (!exited.get()) {
                Thread.sleep(config.statsIntervalMs());
                if (!exited.get()) write();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Writes the file now (if one was asked for). */
    public synchronized void write() {
        String path = config.statsPath();
        if (path.isEmpty()) return;
        try {
            StatsJsonWriter.write(Path.of(path), config.mode().key, counters);
        } catch (Throwable t) {
            errors.record("stats", "cannot write the statistics to " + path + " (" + Config.STATS_ENV + "): " + t);
        }
    }

    /** The final write and the summary line, once. Returns true if this call did them. */
    public boolean exit() {
        if (!exited.compareAndSet(false, true)) return false;
        write();
        LogLevel log = config.log();
        if ((config.summary() && log != LogLevel.OFF) || log.allows(LogLevel.INFO)) System.err.println(summary());
        return true;
    }

    /** One line: the mode, who handled the driver's messages, what went wrong, where the file is. */
    public String summary() {
        long h2d = counters.get(StatCounter.H2D_MESSAGES), d2h = counters.get(StatCounter.D2H_MESSAGES);
        long agent = counters.get(StatCounter.AGENT_ENCRYPTED_MESSAGES) + counters.get(StatCounter.AGENT_DECRYPTED_MESSAGES);
        long fast = counters.get(StatCounter.FAST_PATH_MESSAGES);
        long cold = counters.get(StatCounter.COLD_START_MESSAGES);
        long handedOver = counters.get(StatCounter.HANDED_OVER_MESSAGES);
        long fallbacks = counters.get(StatCounter.FALLBACKS), refused = counters.get(StatCounter.REFUSED_MESSAGES);
        long openssl = Math.max(0, h2d + d2h - agent - refused);
        String file = config.statsPath().isEmpty() ? "no statistics file (" + Config.STATS_ENV + ")"
                : "statistics in " + config.statsPath();
        return "pipellm: summary: mode " + config.mode().key + ", " + counters.get(StatCounter.INTERCEPTED_COPIES)
                + " copies, " + h2d + " H2D + " + d2h + " D2H messages: " + agent + " by the agent (" + fast
                + " pre-encrypted), " + openssl + " by OpenSSL (" + cold + " while the agent warmed up, " + handedOver
                + " handed over), " + fallbacks + " fallbacks, " + refused + " refused, "
                + counters.get(StatCounter.AGENT_ERRORS) + " agent errors; " + file;
    }
}
