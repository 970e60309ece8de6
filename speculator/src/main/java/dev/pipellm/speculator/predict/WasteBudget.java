package dev.pipellm.speculator.predict;

/**
 * The last word on how deep the pipeline plans: the encrypted bytes it threw away, measured against the H2D
 * bytes copied, kept under a budget by a cap on the plan's depth. The causal limits (the commit record per
 * depth, {@link CommitCalibration}; the IV shift rate, {@link IvShiftRate}) each see one cause of waste; this
 * sees all of them together (jitter on top of forks on top of a model switch), so the waste bound holds on
 * patterns no cause-specific rule foresaw.
 *
 * <p>The control is decided once per interval of {@link #INTERVAL_MESSAGES} copied messages, on what that
 * interval wasted: an interval over the budget halves the cap (from the depth actually planned when the cap
 * was open) if the decayed long-run share is over the budget too, so a single burst (one model switch) in a
 * clean run costs no depth; an interval under half the budget doubles the cap, and a cap that reaches
 * {@link #OPEN_DEPTH} opens again. The cap never goes below one message: a head slot is what pays for an
 * unpredicted message's IV in any case, and what is left below that is the calibration's call. Wasted bytes are reported
 * by the pipeline as slot outcomes; copied bytes are the H2D copies the speculator sees.
 *
 * <p>Allocation-free; single-threaded (the planner's thread).
 */
public final class WasteBudget {
    /** Messages per decision. */
    static final long INTERVAL_MESSAGES = 512;
    /** Cap at and above which the cap is open (no limit). */
    static final long OPEN_DEPTH = 1L << 12;
    /** Half-life of the long-run share, in messages. */
    private static final double HALF_LIFE_MESSAGES = 8192;

    private final double budget;
    private long cap = Long.MAX_VALUE;
    private long deepestPlanned;
    private double intervalWasted;
    private double intervalCopied;
    private long intervalMessages;
    private double wasted;
    private double copied;
    private long cuts;

    /** @param budget least share of the copied bytes whose waste closes depth, in (0, 1) */
    public WasteBudget(double budget) {
        if (!(budget > 0 && budget < 1)) {
            throw new IllegalArgumentException("waste budget must be in (0, 1), got " + budget);
        }
        this.budget = budget;
    }

    /** A slot of {@code bytes} was relinquished: its encryption was wasted. */
    public void onWasted(long bytes) {
        intervalWasted += bytes;
        wasted += bytes;
    }

    /** An H2D copy of {@code bytes} in {@code messages} messages happened. */
    public void onCopied(long bytes, long messages) {
        final double keep = Math.pow(0.5, messages / HALF_LIFE_MESSAGES);
        wasted *= keep;
        copied = copied * keep + bytes;
        intervalCopied += bytes;
        intervalMessages += messages;
        if (intervalMessages >= INTERVAL_MESSAGES) {
            decide();
        }
    }

    private void decide() {
        final double share = intervalCopied > 0 ? intervalWasted / intervalCopied : 0;
        if (share > budget && longRunShare() > budget) {
            final long from = cap == Long.MAX_VALUE ? deepestPlanned : cap;
            cap = Math.max(1, from / 2);
            cuts++;
        } else if (share < budget / 2 && cap != Long.MAX_VALUE) {
            cap = cap >= OPEN_DEPTH / 2 ? Long.MAX_VALUE : cap * 2;
        }
        intervalWasted = 0;
        intervalCopied = 0;
        intervalMessages = 0;
        deepestPlanned = 0;
    }

    /**
     * The depth to plan: {@code plannable} (what the other limits allow) under the cap; {@code predicted} is how
     * many messages the prediction holds, so the depth actually planned is known when the cap must close.
     */
    public long cap(long plannable, long predicted) {
        final long p = Math.min(plannable, cap);
        deepestPlanned = Math.max(deepestPlanned, Math.min(p, predicted));
        return p;
    }

    /** Decayed share of the copied bytes that was wasted. */
    public double longRunShare() {
        return copied > 0 ? wasted / copied : 0;
    }

    /** The current cap (Long.MAX_VALUE when open). */
    public long currentCap() {
        return cap;
    }

    /** How many times the cap was cut. */
    public long cuts() {
        return cuts;
    }
}
