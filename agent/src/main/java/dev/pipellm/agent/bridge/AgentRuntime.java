package dev.pipellm.agent.bridge;

import dev.pipellm.agent.config.ColdStart;
import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.config.Mode;
import dev.pipellm.agent.evp.EngineWarmUp;
import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.evp.RealEvp;
import dev.pipellm.agent.log.DistinctErrorLog;
import dev.pipellm.agent.pipeline.CopyHooks;
import dev.pipellm.agent.pipeline.Pipeline;
import dev.pipellm.agent.pipeline.PipelineCopyHooks;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.agent.stats.StatsReporter;
import dev.pipellm.agent.trace.RecordingCopyHooks;
import dev.pipellm.agent.trace.TraceRecorder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Everything the upcalls use, built once at bootstrap (tests build their own). */
public final class AgentRuntime {
    final Config config;
    final Counters counters = new Counters();
    final DistinctErrorLog errors = new DistinctErrorLog();
    final EngineWarmUp warmUp;
    final EvpMessages evp;
    final CopyHooks copies;
    /** pipellm mode only. */
    final Pipeline pipeline;
    final StatsReporter stats;
    /** trace=PATH only: the copy-trace recorder (its hooks wrap the mode's). */
    final TraceRecorder trace;
    final int role;

    /** Ring entries of the trace recorder (96 bytes each: 24 MiB of heap while recording). */
    static final int TRACE_RING_ENTRIES = 1 << 18;

    public AgentRuntime(Config config, RealEvp real, int role) {
        this.config = config;
        this.role = role;
        boolean selfTestFault = config.faultPoint() == FaultPoint.SELF_TEST;
        this.warmUp = !config.mode().agentCrypto() ? EngineWarmUp.alreadyWarm()
                : config.coldStart() == ColdStart.OPENSSL
                ? EngineWarmUp.comparingWithOpenSsl(() -> counters.get(StatCounter.H2D_MESSAGES)
                        + counters.get(StatCounter.D2H_MESSAGES)).failingSelfTest(selfTestFault)
                : EngineWarmUp.selfTestedNow(selfTestFault);
        this.pipeline = config.mode() == Mode.PIPELLM ? new Pipeline(config, counters, real::function,
                real.ids().cudaMemcpyAsync, real.ids().cudaMalloc, real.ids().cudaStreamCreateWithFlags) : null;
        if (pipeline != null) pipeline.reportEngineTimeTo(warmUp);
        this.evp = new EvpMessages(config, counters, errors, real, warmUp, pipeline);
        CopyHooks hooks = pipeline != null ? new PipelineCopyHooks(pipeline) : CopyHooks.NONE;
        this.trace = config.tracePath().isEmpty() ? null
                : new TraceRecorder(Path.of(config.tracePath()), TRACE_RING_ENTRIES, traceMeta(config));
        this.copies = trace != null ? new RecordingCopyHooks(hooks, trace) : hooks;
        this.stats = new StatsReporter(config, counters, errors);
    }

    public Config config() { return config; }
    public Counters counters() { return counters; }
    public EvpMessages evp() { return evp; }
    public Pipeline pipeline() { return pipeline; }

    /** The background roles: the AES-GCM warm-up (when it is cold) and the periodic statistics. */
    void startBackground() {
        if (trace != null) {
            try {
                trace.start();
            } catch (IOException e) {
                // The hooks keep appending to the ring, which nothing drains: refuse to record instead.
                throw new IllegalStateException("pipellm: trace='" + config.tracePath() + "': cannot write: " + e, e);
            }
        }
        if (!warmUp.isWarm()) warmUp.startInBackground();
        if (pipeline != null) pipeline.start();
        stats.startPeriodic();
    }

    /** Final statistics and the summary line, once (later calls do nothing). True if this call did it. */
    boolean exit() {
        if (trace != null) {
            trace.close();
            if (trace.failure() != null) {
                errors.record("trace", trace.failure());
            }
        }
        return stats.exit();
    }

    private static Map<String, String> traceMeta(Config config) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("source", "record");
        String cmd = "unknown";
        try {
            cmd = new String(Files.readAllBytes(Path.of("/proc/self/cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ').strip();
        } catch (IOException | RuntimeException e) {
            // keep "unknown": the command is only a label
        }
        meta.put("command", cmd);
        meta.put("workload", cmd.isEmpty() ? "recorded" : Path.of(cmd.split(" ")[0]).getFileName().toString());
        meta.put("mode", config.mode().name().toLowerCase(java.util.Locale.ROOT));
        meta.put("pid", Long.toString(ProcessHandle.current().pid()));
        return meta;
    }
}
