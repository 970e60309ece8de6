package dev.pipellm.speculator.predict;

/**
 * Measured probability that a planned message is committed, per predictor, per context (the pipeline's channel)
 * and per planning depth (how many messages ahead of the next real one the slot was planned, in power-of-two
 * buckets). The pipeline reports each slot's fate ({@link #onOutcome}); the speculator turns the table into
 * calibrated confidences and into the depth a predictor may plan ({@link #plannableMessages}): the planned
 * window stops at the first depth bucket whose measured commit probability is below the threshold, so a
 * predictor that keeps missing plans shallow windows, one whose deep slots keep committing plans deep ones.
 *
 * <p>From {@link #DEEP_FROM} on, the context's record of every predictor's slots gates too, with a stricter
 * threshold, and its deep buckets open one at a time as the shallower ones prove themselves: one unpredicted
 * message (an extra small copy) wastes every slot behind it whoever predicted them, so deep planning is a
 * property of the workload's jitter, not of one predictor, and a predictor the chooser picks for the first
 * time must not pay for that lesson again.
 *
 * <p>A bucket closed by its own misses only gets new evidence when a slot is planned there, so now and then
 * a prediction may plan one bucket deeper than allowed (a probe): first {@code probeEvery} queries after the
 * closure, then twice as long after each probe while it stays closed and its predictor keeps missing, so a
 * pattern that became predictable again re-opens its depth instead of never, and one that stays unpredictable
 * costs few probes. Counts decay (halved when a cell reaches {@code HALF_LIFE} outcomes) so old behaviour fades.
 *
 * <p>Allocation-free; single-threaded (the planner's thread).
 */
public final class CommitCalibration {
    /** Depth buckets: 0, 1, 2-3, 4-7, ..., 2^(BUCKETS-2) and more. */
    public static final int DEPTH_BUCKETS = 12;
    /** Outcomes a cell needs before its measurement replaces the predictor's own estimate. */
    static final int MIN_SAMPLES = 8;
    private static final int HALF_LIFE = 256;
    /**
     * Least commit share of a predictor's next-message slots (bucket 0). Lower than the threshold of the
     * buckets behind it: the head is the slot most worth having (the copy is about to happen); a predictor
     * whose very next guess fails one time in five (a stride running past the end of each run) plans nothing.
     */
    static final float HEAD_THRESHOLD = 0.8f;
    /** First bucket (8 messages ahead) where the context's record of all predictors also gates. */
    static final int DEEP_FROM = 4;
    /**
     * Least commit share of the context's deep slots: one unpredicted message wastes every deep slot behind
     * it, so a deep bucket must be better than a shallow one to be worth planning (0.95: waste at most about
     * 5% of what deep slots carry).
     */
    static final float DEEP_THRESHOLD = 0.95f;
    /** Slots a probe plans into a deep bucket the context closed. */
    static final int DEEP_PROBE_SLOTS = 4;
    /** Longest wait, in queries, between two probes of a closed bucket. */
    static final int MAX_PROBE_GAP = 1024;

    private final int contexts;
    private final int contextMask;
    private final float threshold;
    private final float deepThreshold;
    private final int probeEvery;
    /** Row of the cells that count every predictor's slots: a context's own record of deep slots. */
    private final int all;
    private final float[] planned;
    private final float[] committed;
    /** Per predictor and context: the query count of its next probe, and the wait after it. */
    private final long[] nextProbeAt;
    private final int[] probeGap;
    private long queries;
    /** Bucket the last {@link #plannableMessages} query opened as a probe, or -1. */
    private int probeBucket = -1;
    private long outcomes;
    private long probes;

    /**
     * @param predictors  predictor count
     * @param contexts    context buckets (power of two)
     * @param threshold   least measured commit probability a depth bucket needs to be planned, in [0, 1]
     * @param probeEvery  queries before the first probe of a closed bucket (>= 1); doubled after each probe
     */
    public CommitCalibration(int predictors, int contexts, float threshold, int probeEvery) {
        if (predictors < 1 || contexts < 1 || Integer.bitCount(contexts) != 1) {
            throw new IllegalArgumentException("calibration needs >= 1 predictor and a power-of-two context count");
        }
        if (!(threshold >= 0 && threshold <= 1)) {
            throw new IllegalArgumentException("min commit probability must be in [0, 1], got " + threshold);
        }
        if (probeEvery < 1) {
            throw new IllegalArgumentException("probe interval must be >= 1, got " + probeEvery);
        }
        this.contexts = contexts;
        this.contextMask = contexts - 1;
        this.threshold = threshold;
        this.deepThreshold = Math.max(threshold, DEEP_THRESHOLD);
        this.probeEvery = probeEvery;
        this.all = predictors;
        planned = new float[(predictors + 1) * contexts * DEPTH_BUCKETS];
        nextProbeAt = new long[predictors * contexts];
        probeGap = new int[predictors * contexts];
        java.util.Arrays.fill(nextProbeAt, probeEvery);
        java.util.Arrays.fill(probeGap, probeEvery);
        committed = new float[planned.length];
    }

    public static int bucketOf(long depthMessages) {
        if (depthMessages <= 0) {
            return 0;
        }
        return Math.min(DEPTH_BUCKETS - 1, 64 - Long.numberOfLeadingZeros(depthMessages));
    }

    /** Depths of bucket {@code b} as text: "0", "1", "2-3", ..., "1024+". */
    public static String bucketLabel(int b) {
        if (b < 2) {
            return Integer.toString(b);
        }
        final long lo = bucketStart(b);
        return b == DEPTH_BUCKETS - 1 ? lo + "+" : lo + "-" + (2 * lo - 1);
    }

    /** First depth (in messages) of bucket {@code b}. */
    static long bucketStart(int b) {
        return b == 0 ? 0 : 1L << (b - 1);
    }

    private int cell(int predictor, int context, int bucket) {
        return (predictor * contexts + (context & contextMask)) * DEPTH_BUCKETS + bucket;
    }

    /** A slot planned by {@code predictor} in {@code context} at {@code depthMessages} was committed or not. */
    public void onOutcome(int predictor, int context, long depthMessages, boolean wasCommitted) {
        if (predictor < 0) {
            return;
        }
        final int b = bucketOf(depthMessages);
        count(cell(predictor, context, b), wasCommitted);
        count(cell(all, context, b), wasCommitted);
        outcomes++;
    }

    private void count(int c, boolean wasCommitted) {
        planned[c] += 1;
        if (wasCommitted) {
            committed[c] += 1;
        }
        if (planned[c] >= HALF_LIFE) {
            planned[c] *= 0.5f;
            committed[c] *= 0.5f;
        }
    }

    /**
     * Measured commit probability of slots {@code predictor} plans at this depth in this context, or
     * {@code fallback} while the cell has fewer than {@link #MIN_SAMPLES} outcomes, or when the last
     * {@link #plannableMessages} query opened it as a probe.
     */
    public float probability(int predictor, int context, long depthMessages, float fallback) {
        if (predictor < 0) {
            return fallback;
        }
        final int b = bucketOf(depthMessages);
        final int c = cell(predictor, context, b);
        // A probe measures its bucket again: it is planned on the predictor's own estimate.
        return planned[c] < MIN_SAMPLES || b == probeBucket ? fallback : committed[c] / planned[c];
    }

    /**
     * How many messages ahead {@code predictor} may plan new slots in this context: up to the first depth
     * bucket whose measured commit probability is below the threshold (one bucket further on a probe).
     * {@code Long.MAX_VALUE} when no bucket is closed.
     */
    public long plannableMessages(int predictor, int context) {
        return plannableMessages(predictor, context, false);
    }

    /**
     * As {@link #plannableMessages(int, int)}; {@code hitting}: the predictor's last prediction contained the
     * copy that came (the tournament's record), so a closed bucket is probed at the base rate, without the
     * back-off: it is likely to commit again.
     */
    public long plannableMessages(int predictor, int context, boolean hitting) {
        probeBucket = -1;
        if (predictor < 0) {
            return 0;
        }
        queries++;
        // The predictor's own record at every depth; the context's record (all predictors) from DEEP_FROM on:
        // what invalidates deep slots (an extra message shifting every IV behind it) does not depend on who
        // predicted them, and a predictor the chooser picks for the first time must not learn it again.
        int closed = firstClosed(predictor, context, 0, HEAD_THRESHOLD, false);
        final int later = firstClosed(predictor, context, 1, threshold, false);
        if (closed < 0 || (later >= 0 && later < closed)) {
            closed = later;
        }
        final int deep = firstClosed(all, context, DEEP_FROM, deepThreshold, true);
        boolean deepClosed = false;
        if (deep >= 0 && (closed < 0 || deep < closed)) {
            closed = deep;
            deepClosed = true;
        }
        final int row = predictor * contexts + (context & contextMask);
        if (closed < 0) {
            probeGap[row] = probeEvery;   // all open again: a next closure is probed at the base rate
            nextProbeAt[row] = queries + probeEvery;
            return Long.MAX_VALUE;
        }
        if (hitting) {
            probeGap[row] = probeEvery;
            nextProbeAt[row] = Math.min(nextProbeAt[row], queries + probeEvery);
        }
        if (queries >= nextProbeAt[row]) {
            // Each probe of a row still closed waits twice as long as the last (up to MAX_PROBE_GAP): a
            // pattern that stays unpredictable costs a few probes per thousand queries, not one in probeEvery.
            nextProbeAt[row] = queries + probeGap[row];
            probeGap[row] = (int) Math.min(MAX_PROBE_GAP, 2L * probeGap[row]);
            probes++;
            probeBucket = closed;
            // A deep bucket the context closed is probed with a few slots only: what closed it (jitter
            // shifting every IV behind one extra message) would waste a whole bucket again.
            if (deepClosed) {
                return bucketStart(closed) + DEEP_PROBE_SLOTS;
            }
            return closed + 1 < DEPTH_BUCKETS ? bucketStart(closed + 1) : Long.MAX_VALUE;
        }
        return bucketStart(closed);
    }

    /**
     * First bucket from {@code from} on with enough outcomes and a commit share below {@code min}, or -1. With
     * {@code unmeasuredClosesNext}, the bucket after the first one without enough outcomes is closed too: deep
     * buckets open one by one as each proves itself (a congestion window's slow start).
     */
    private int firstClosed(int row, int context, int from, float min, boolean unmeasuredClosesNext) {
        for (int b = from; b < DEPTH_BUCKETS; b++) {
            final int c = cell(row, context, b);
            if (unmeasuredClosesNext && planned[c] < MIN_SAMPLES) {
                return b + 1 < DEPTH_BUCKETS ? b + 1 : -1;
            }
            if (planned[c] >= MIN_SAMPLES && committed[c] < min * planned[c]) {
                return b;
            }
        }
        return -1;
    }

    /** Least commit share deep slots need (the survival the speculator's depth bound asks for). */
    public float deepThreshold() {
        return deepThreshold;
    }

    public float threshold() {
        return threshold;
    }

    public long outcomes() {
        return outcomes;
    }

    public long probes() {
        return probes;
    }
}
