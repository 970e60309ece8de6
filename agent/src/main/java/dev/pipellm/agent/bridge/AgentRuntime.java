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
    final int role;

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
        this.copies = pipeline != null ? new PipelineCopyHooks(pipeline) : CopyHooks.NONE;
        this.stats = new StatsReporter(config, counters, errors);
    }

    public Config config() { return config; }
    public Counters counters() { return counters; }
    public EvpMessages evp() { return evp; }
    public Pipeline pipeline() { return pipeline; }

    /** The background roles: the AES-GCM warm-up (when it is cold) and the periodic statistics. */
    void startBackground() {
        if (!warmUp.isWarm()) warmUp.startInBackground();
        if (pipeline != null) pipeline.start();
        stats.startPeriodic();
    }

    /** Final statistics and the summary line, once (later calls do nothing). True if this call did it. */
    boolean exit() {
        return stats.exit();
    }
}
