package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.speculator.event.EventRing;
import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;

/**
 * The speculative pipeline of {@code pipellm} mode, as the EVP side ({@code EvpMessages}) and the
 * CUDA side ({@link PipelineCopyHooks}) use it. It owns the channels, the event ring, the planner
 * and the workers.
 *
 * <p>Start-up ({@link #start}) runs in the background: the agent's AES-GCM is warmed up and
 * self-tested (shared with the slow path's warm-up; a failed self-test means no pipeline: every
 * message takes the slow path), then the planner and workers start. Until then, and whenever it is not {@link #active}, nothing is planned
 * and every message takes the slow path.
 */
public final class Pipeline {

    final Config config;
    final Counters counters;
    final Channels channels = new Channels();
    final PinnedRanges pinned = new PinnedRanges();
    final EventRing ring = new EventRing(1 << 16);
    final PipelineJfr jfr;
    final Nops nops;
    final int maxNops;
    /** How a commit knows a slot's plaintext is unchanged (validate=..., chosen at start). */
    public final SlotValidator validator;
    /** validate=uffd: the page tables say which sources were written; null: every slot is compared. */
    final WriteTracking tracking;
    /** Measures the app's EVP time per H2D byte from the first message (its baseline comes first). */
    final Governor governor;
    private final ThreadLocal<ThreadState> threads = ThreadLocal.withInitial(ThreadState::new);
    private volatile EncryptWorkers workers;
    private volatile Planner planner;
    private volatile boolean active;
    /** The slow path's warm-up, told the workers' AES-GCM time (null in tests that have none). */
    private volatile dev.pipellm.agent.evp.EngineWarmUp timing;

    /** The workers report their AES-GCM time to the slow path's warm-up. */
    public void reportEngineTimeTo(dev.pipellm.agent.evp.EngineWarmUp warmUp) {
        this.timing = warmUp;
    }

    /** {@code real}: the shim's real functions by hook id; ids of the CUDA functions NOPs call. */
    public Pipeline(Config config, Counters counters, java.util.function.IntToLongFunction real, int memcpyAsyncId,
                    int mallocId, int streamCreateId) {
        this.config = config;
        this.counters = counters;
        this.jfr = new PipelineJfr(config.jfr());
        this.nops = new Nops(real, memcpyAsyncId, mallocId, streamCreateId);
        this.governor = new Governor(counters, config.governor());
        this.maxNops = SpeculatorConfig.defaults().relinquishCostNops;
        this.tracking = ValidationChoice.choose(config, counters, PageTracker.find());
        if (tracking != null) tracking.attach(this);
        this.validator = tracking == null ? SlotValidator.SNAPSHOT_COMPARE : SlotValidator.trackedOrCompare(tracking);
    }

    /** The validation in use: "uffd" or "compare" (stats, tests). */
    public String validation() {
        return tracking == null ? "compare" : "uffd";
    }

    /** Self-tests the engine and starts the planner and workers, in a background thread. */
    public void start() {
        Thread t = new Thread(() -> {
            if (config.workerSchedIdle()) dev.pipellm.agent.evp.IdleScheduling.enterIdleClass();
            startNow();
        }, "pipellm-pipeline-start");
        t.setDaemon(true);
        t.start();
    }

    /** Same as {@link #start}, on the calling thread (tests). Returns whether the pipeline runs. */
    public boolean startNow() {
        try {
            if (!engineSelfTested()) return false;
            EncryptWorkers w = new EncryptWorkers(config.workers(), Channel.WINDOW, pinned, counters,
                    config.faultPoint(), config.faultNth(), config.workerSchedIdle(), timing, tracking);
            Speculator speculator = new Speculator(SpeculatorConfig.defaults());
            Planner p = new Planner(ring, speculator, channels, pinned, counters, config.memoryBudgetBytes(), w,
                    config.workerSchedIdle(), jfr, governor);
            workers = w;
            planner = p;
            w.start();
            Thread pt = new Thread(p, "pipellm-planner");
            pt.setDaemon(true);
            pt.start();
            active = true;
            AgentLog.logger().info("pipellm: pipeline started: {} encrypt worker(s), memory budget {} bytes",
                    config.workers(), config.memoryBudgetBytes());
            return true;
        } catch (Throwable t) {
            counters.increment(StatCounter.WORKER_ERRORS);
            AgentLog.logger().warn("pipellm: the pipeline did not start ({}); every message takes the slow path",
                    t.toString());
            return false;
        }
    }

    /**
     * The workers encrypt with the agent's one AES-GCM ({@link dev.pipellm.crypto.gcm.StreamingGcm}),
     * which must first pass its self-test (known answers at many sizes, after a warm-up).
     */
    private boolean engineSelfTested() {
        String failed = dev.pipellm.agent.evp.StreamSelfTest.run(config.faultPoint() == FaultPoint.SELF_TEST);
        if (failed == null) return true;
        AgentLog.logger().warn("pipellm: the AES-GCM engine failed its self-test ({}); no pre-encryption: every"
                + " message takes the slow path", failed);
        return false;
    }

    /** Planner and workers run (and at least one worker is alive). */
    public boolean active() {
        EncryptWorkers w = workers;
        Planner p = planner;
        return active && w != null && w.alive() > 0 && p != null && !p.stopped();
    }

    ThreadState thread() {
        return threads.get();
    }

    /** Stops the roles (tests, exit). */
    public void stop() {
        active = false;
        Planner p = planner;
        if (p != null) p.stop();
        EncryptWorkers w = workers;
        if (w != null) w.stop();
    }

    // ---- the EVP side (app threads, inside the driver's EVP calls)

    /** The H2D channel of this key (32 bytes); null when the table is full. */
    public Channel channelFor(byte[] key32) {
        return channels.forKey(key32);
    }

    /**
     * The driver starts message {@code seq} on {@code ch} with the IV at {@code ivAddress}: keeps the
     * IV for the planner, checks a NOP's channel, and returns the ready slot for exactly this message
     * (claimed: the caller owns it), or null.
     */
    public Slot messageStarted(Channel ch, long seq, long ivAddress) {
        ch.noteIv(seq, ivAddress);
        ThreadState ts = threads.get();
        if (ts.nopChannel != null) {
            if (ts.nopChannel != ch) ts.nopMiss = true;
            return null;   // a NOP is never committed from a slot
        }
        boolean knownCopy = ts.inCopy && ts.copyDirection == 1;
        if (knownCopy) channels.noteStream(ts.copyStream, ch);
        Slot s = ch.slotAt(seq);
        // a slot made for another copy (a plan that moved) is left alone: it would only diverge
        if (s == null || (knownCopy && (s.src != ts.copySrc || s.offset != ts.copyOffset))) return null;
        return s.tryClaim(ch, ch.epoch, seq, ivAddress) ? s : null;
    }

    /** The app's thread spent {@code nanos} inside EVP on an H2D message of {@code bytes} (any path). */
    public void cryptoTime(long bytes, long nanos) {
        if (bytes <= 0 || nanos <= 0) return;
        governor.bytes.add(bytes);
        governor.nanos.add(nanos);
    }

    /** The driver finished message {@code seq}: an event for the planner. */
    public void messageFinished(Channel ch, long seq, long firstSrc, int length) {
        ThreadState ts = threads.get();
        int origin = ts.nopChannel != null ? PipelineEvents.FROM_NOP
                : ts.inCopy ? PipelineEvents.FROM_COPY : PipelineEvents.FROM_DRIVER;
        if (origin == PipelineEvents.FROM_COPY) ts.copyOffset += length;
        ring.onEvent(PipelineEvents.MESSAGE, 1, firstSrc, seq, length, ch.id, origin);
    }

    /** A committed (or abandoned) slot goes back to the pool. */
    public void release(Slot s, boolean committed, StatCounter whyNot) {
        PipelineEvents.outcome(ring, s.predictor, s.depth, s.context, s.length, committed);
        if (committed) {
            jfr.commit(s.channel.id, s.seq, s.length);
        } else {
            counters.increment(whyNot);
            counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, s.length);
        }
        s.channel.clearSlot(s.seq, s);
        s.set(Slot.FREE);
    }

    /** Drops every slot whose plaintext lies in {@code [lo, hi)} (a write or a free the agent saw). */
    void invalidate(long lo, long hi) {
        Planner p = planner;
        SlotPool pool = p == null ? null : p.pool();
        if (pool == null) return;
        for (Slot s : pool.slots) {
            int st = s.state();
            if (st != Slot.FREE && st != Slot.COMMITTING && st != Slot.DROPPED && s.channel != null && s.length > 0
                    && s.overlaps(lo, hi)) {
                Planner.relinquish(s, StatCounter.STALE_SLOTS, counters, jfr, ring);
            }
        }
    }

    /**
     * An arm found pages {@code [lo, hi)} written since their last arm (WriteTracking): every other
     * slot over them that a worker may have read is stale. Those not yet claimed are dropped; every
     * one gets the flag, which a slot already claimed by an app thread checks at its next update. A
     * slot still PLANNED is left alone: its worker arms it (and clears its flag) before it reads, after
     * this arm re-protected the pages, so it reads the new bytes (the first arm of a newly tracked
     * buffer, which reports every page, used to drop the slots planned behind it).
     */
    void writtenBehind(long lo, long hi, Slot self) {
        Planner p = planner;
        SlotPool pool = p == null ? null : p.pool();
        if (pool == null) return;
        for (Slot s : pool.slots) {
            if (s == self) continue;
            int st = s.state();
            if (st == Slot.FREE || st == Slot.PLANNED || s.channel == null || s.length <= 0 || !s.overlaps(lo, hi)) continue;
            s.written = true;
            if (st != Slot.COMMITTING && st != Slot.DROPPED) {
                Planner.relinquish(s, StatCounter.STALE_SLOTS, counters, jfr, ring);
            }
        }
    }

    /**
     * True once the planner has drained every event recorded before this call, planned for them, and
     * the workers hold no slot still to encrypt (tests wait for it, so what they measure is the plan,
     * not the machine's speed). Bounded by {@code timeoutNanos}; false if it did not settle by then.
     */
    public boolean awaitSettled(long timeoutNanos) throws InterruptedException {
        Planner p = planner;
        if (p == null) return false;
        long end = System.nanoTime() + timeoutNanos;
        long start = p.quietPasses();
        while (System.nanoTime() < end) {
            if (p.quietPasses() >= start + 2 && noSlotInFlight(p.pool())) return true;
            Thread.sleep(1);
        }
        return false;
    }

    private static boolean noSlotInFlight(SlotPool pool) {
        if (pool == null) return true;
        for (Slot s : pool.slots) {
            int st = s.state();
            if (st == Slot.PLANNED || st == Slot.ENCRYPTING) return false;
        }
        return true;
    }

    /** Slots currently READY (tests, diagnostics). */
    public int readySlots() {
        Planner p = planner;
        SlotPool pool = p == null ? null : p.pool();
        if (pool == null) return 0;
        int n = 0;
        for (Slot s : pool.slots) {
            if (s.state() == Slot.READY) n++;
        }
        return n;
    }

    void awaitNoReader(long lo, long hi) {
        EncryptWorkers w = workers;
        if (w != null) w.awaitNoReader(lo, hi);
    }
}
