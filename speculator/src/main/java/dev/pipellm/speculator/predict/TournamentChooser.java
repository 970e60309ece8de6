package dev.pipellm.speculator.predict;

/**
 * Picks the predictor to trust for the next copies, like a CPU's tournament branch predictor: 4-bit saturating
 * counters per predictor, one over all copies and one per event stream, rise when that predictor's short-range
 * prediction contained the real copy (more at the head) and fall when it predicted something else. The chooser
 * keeps its current choice while that predictor is right (hysteresis); otherwise it prefers a predictor that was
 * right on the last copy (it is locked onto the current pattern), then weighs
 * the global counter twice and the counter of the last copy's stream once, then takes the lower predictor index
 * (the speculator orders predictors from most to least specific).
 *
 * <p>Event streams are CUDA streams folded into {@code streams} buckets. The per-stream counter is a weight, not
 * the whole score: the next copy is often on another stream than the last (FlexGen issues weights on a load
 * stream and token ids on the default stream), so a purely per-stream choice would flip predictors at every
 * stream change. Allocation-free; single-threaded.
 */
public final class TournamentChooser {
    public static final int NO_PREDICTION = -2;
    public static final int MISS = -1;
    static final int COUNTER_MAX = 15;
    static final int COUNTER_INIT = 4;

    private final int predictors;
    private final int streamMask;
    private final int[] counter;
    private final int[] global;
    private final boolean[] hitLast;
    /** The predictor chosen last time, or -1. */
    private int current = -1;

    public TournamentChooser(int predictors, int streams) {
        if (predictors < 1 || streams < 1 || Integer.bitCount(streams) != 1) {
            throw new IllegalArgumentException("chooser needs >= 1 predictor and a power-of-two stream count");
        }
        this.predictors = predictors;
        this.streamMask = streams - 1;
        this.counter = new int[predictors * streams];
        this.global = new int[predictors];
        this.hitLast = new boolean[predictors];
        java.util.Arrays.fill(counter, COUNTER_INIT);
        java.util.Arrays.fill(global, COUNTER_INIT);
    }

    private int cell(int predictor, int stream) {
        return (stream & streamMask) * predictors + predictor;
    }

    private static int bump(int value, int hitIndex) {
        if (hitIndex == 0) {
            return Math.min(COUNTER_MAX, value + 2);
        }
        return hitIndex > 0 ? Math.min(COUNTER_MAX, value + 1) : Math.max(0, value - 1);
    }

    /**
     * Scores one predictor on one real copy.
     *
     * @param hitIndex position of the real copy in the predictor's short prediction, {@link #MISS} when it
     *                 predicted other copies, {@link #NO_PREDICTION} when it had none (no change)
     */
    public void record(int predictor, int stream, int hitIndex) {
        if (hitIndex == NO_PREDICTION) {
            return;
        }
        final int c = cell(predictor, stream);
        counter[c] = bump(counter[c], hitIndex);
        global[predictor] = bump(global[predictor], hitIndex);
        hitLast[predictor] = hitIndex >= 0;
    }

    /** Best predictor among those with {@code available[p]}, for the copy after one on {@code stream}; -1 if none. */
    public int choose(int stream, boolean[] available) {
        // Hysteresis: a predictor that is available and was right on the last copy keeps the job. Switching
        // between two predictors that both hit would re-plan the window for nothing (their sequences differ
        // further ahead), and that costs relinquished slots.
        if (current >= 0 && available[current] && hitLast[current]) {
            return current;
        }
        int best = -1;
        int bestScore = -1;
        for (int p = 0; p < predictors; p++) {
            if (!available[p]) {
                continue;
            }
            final int score = (hitLast[p] ? 4 * COUNTER_MAX : 0) + 2 * global[p] + counter[cell(p, stream)];
            if (score > bestScore) {
                bestScore = score;
                best = p;
            }
        }
        current = best;
        return best;
    }

    public int counter(int predictor, int stream) {
        return counter[cell(predictor, stream)];
    }

    public int globalCounter(int predictor) {
        return global[predictor];
    }

    /** Whether the predictor's short prediction contained the last scored copy. */
    public boolean hitLast(int predictor) {
        return hitLast[predictor];
    }
}
