package dev.pipellm.agent.bridge;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.evp.RealEvp;
import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.log.DistinctErrorLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatsJsonWriter;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/** Everything the upcalls use, built once at bootstrap (tests build their own). */
public final class AgentRuntime {
    final Config config;
    final Counters counters = new Counters();
    final DistinctErrorLog errors = new DistinctErrorLog();
    final EvpMessages evp;
    final int role;
    private final AtomicBoolean exited = new AtomicBoolean();

    public AgentRuntime(Config config, RealEvp real, int role) {
        this.config = config;
        this.role = role;
        this.evp = new EvpMessages(config, counters, errors, real);
    }

    public Config config() { return config; }
    public Counters counters() { return counters; }
    public EvpMessages evp() { return evp; }

    /** Writes the statistics once (later calls do nothing). Returns true if this call wrote them. */
    boolean exit() {
        if (!exited.compareAndSet(false, true)) return false;
        String path = config.statsPath();
        if (path.isEmpty()) return true;
        try {
            StatsJsonWriter.write(Path.of(path), config.mode().key, counters);
        } catch (Throwable t) {
            AgentLog.logger().error("pipellm: cannot write statistics to {} (stats): {}", path, t.toString());
        }
        return true;
    }
}
