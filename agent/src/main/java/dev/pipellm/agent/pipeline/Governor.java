package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import java.util.concurrent.atomic.LongAdder;

/**
 * Keeps the pipeline from making the app slower. Pre-encryption pays only when committing a slot
 * (compare + copy) costs the app's thread less than encrypting, and when the workers' use of the
 * machine (its cores, its memory bandwidth) does not slow the app's own crypto more than that: on a
 * small machine whose memory bandwidth is the limit it may not (docs/benchmarks.md). So the governor
 * measures what the app's threads pay per H2D byte inside the driver's EVP calls, all paths
 * together, in windows of at least a second and 32 MiB:
 * <ul>
 *   <li>the baseline: while no slot is planned (before the pipeline starts, or paused);</li>
 *   <li>each window while planning. A window no cheaper than 97% of the baseline pauses planning
 *       (slots dropped, workers idle) for 4 windows, then 8, 16... up to 64, measuring a fresh
 *       baseline meanwhile, then tries again; a cheaper one keeps it on (and resets the pause).</li>
 *   <li>a window after the first in which no slot was planned at all (nothing predicted lies in pinned
 *       memory, or the prediction is not certain of its IVs: vLLM's small step inputs) is a baseline
 *       window by itself, and pauses the same way: planning that plans nothing still costs the planner a
 *       speculator query after every few events. The first window is left alone: a process's first
 *       second may end before the speculator has locked on a pattern that it would plan.</li>
 * </ul>
 * Planner thread only (the app threads add to {@link #bytes}/{@link #nanos}).
 */
final class Governor {
    private static final long WINDOW_NANOS = 1_000_000_000L;
    private static final long WINDOW_BYTES = 32L << 20;
    private static final int MIN_PAUSE = 4, MAX_PAUSE = 64;

    /** H2D bytes and nanoseconds of the app's threads inside EVP, every path (app threads add). */
    final LongAdder bytes = new LongAdder();
    final LongAdder nanos = new LongAdder();

    private final Counters counters;
    private final boolean enabled;
    private boolean planning = true;
    private long windowStart = System.nanoTime();
    private long windowBytes0, windowNanos0, windowPlanned0;
    /** ns per byte (scaled by 1024) with nothing planned; -1 unknown. */
    private long baseline = -1;
    private int pauseLeft;
    private int pauseLength = MIN_PAUSE;
    private boolean firstPlanningWindow = true;

    /** {@code enabled} false (governor=off): measures nothing, never pauses. */
    Governor(Counters counters, boolean enabled) {
        this.counters = counters;
        this.enabled = enabled;
    }

    /**
     * The planner starts: what the app's threads paid so far (nothing was planned yet: OpenSSL or the
     * agent's slow path) is the baseline, if there was enough of it.
     */
    void begin(long now) {
        long b = bytes.sum(), n = nanos.sum();
        if (b >= WINDOW_BYTES) baseline = n * 1024 / b;
        windowStart = now;
        windowBytes0 = b;
        windowNanos0 = n;
        windowPlanned0 = counters.get(StatCounter.PLANNED_SLOTS);
        planning = true;
        firstPlanningWindow = true;
    }

    /** Whether the planner may plan now; true when it just stopped (drop the slots) is {@link #justPaused}. */
    boolean planning() {
        return planning;
    }

    private boolean justPaused;

    /** True once after planning was paused: the planner drops its slots. */
    boolean justPaused() {
        boolean j = justPaused;
        justPaused = false;
        return j;
    }

    /** Ends a window when it is long enough, and decides. */
    void tick(long now) {
        if (!enabled) return;
        long b = bytes.sum() - windowBytes0;
        if (now - windowStart < WINDOW_NANOS || b < WINDOW_BYTES) return;
        long n = nanos.sum() - windowNanos0;
        long cost = n * 1024 / Math.max(1, b);
        long planned = counters.get(StatCounter.PLANNED_SLOTS);
        boolean plannedNone = planned == windowPlanned0;
        windowStart = now;
        windowBytes0 += b;
        windowNanos0 += n;
        windowPlanned0 = planned;
        if (!planning) {
            baseline = cost;
            if (--pauseLeft <= 0) {
                planning = true;
                firstPlanningWindow = true;
            }
            return;
        }
        if (firstPlanningWindow) {   // the workers were catching up, or the speculator locking: judge the next one
            firstPlanningWindow = false;
            return;
        }
        if (plannedNone) {   // every message took the slow path: this window was a baseline window
            baseline = cost;
            pause(cost, "nothing was pre-encrypted");
            pauseLength = Math.min(MAX_PAUSE, pauseLength * 2);
            return;
        }
        if (baseline < 0 || cost * 100 < baseline * 97) {
            pauseLength = MIN_PAUSE;
            if (baseline < 0) pause(cost, "no baseline yet");   // one window without, to measure it
            return;
        }
        pause(cost, "not cheaper");
        pauseLength = Math.min(MAX_PAUSE, pauseLength * 2);
    }

    private void pause(long cost, String why) {
        planning = false;
        justPaused = true;
        pauseLeft = baseline < 0 ? 1 : pauseLength;
        counters.increment(StatCounter.PIPELINE_PAUSES);
        AgentLog.logger().info("pipellm: pre-encryption paused for {} s ({}: {} ns/KiB with it, {} without)",
                pauseLeft, why, cost, baseline);
    }
}
