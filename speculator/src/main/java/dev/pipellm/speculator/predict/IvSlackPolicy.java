package dev.pipellm.speculator.predict;

/**
 * How many spare IVs to leave before each predicted copy (ARCHITECTURE.md section 5, "IV slack").
 *
 * <p>Each spare IV that no unpredicted message consumes costs one NOP (a real 1-byte copy) before the slot can
 * be committed; each unpredicted message that finds no spare IV takes the slot's IV and relinquishes it
 * (slow-path encryption plus re-encryption of what was planned behind it). The policy keeps a decayed histogram
 * of how many unpredicted messages arrived between consecutive predicted copies and picks the gap {@code g}
 * minimising the expected cost per predicted copy:
 * <pre>
 *   cost(g) = sum_{a <= g} (g - a) p(a)  +  relinquishCostInNops * P(a > g)
 * </pre>
 * (NOPs burned plus relinquishes weighted by their cost in NOP-equivalents). A workload whose small copies are
 * themselves predicted (as size-known reservations) shows a = 0 and gets g = 0: no NOPs at all.
 *
 * <p>Allocation-free; single-threaded (the speculator's thread).
 */
public final class IvSlackPolicy {
    private final int maxGap;
    private final int relinquishCostInNops;
    private final int halfLifeSamples;
    /** counts[a] for a in [0, maxGap]; counts[maxGap + 1] = more than maxGap. */
    private final long[] counts;
    private long samples;
    private long sinceDecay;
    private boolean dirty = true;
    private int gap;

    public IvSlackPolicy(int maxGap, int relinquishCostInNops, int halfLifeSamples) {
        if (maxGap < 0 || maxGap > 4096) {
            throw new IllegalArgumentException("slack max gap must be in [0, 4096], got " + maxGap);
        }
        if (relinquishCostInNops < 1) {
            throw new IllegalArgumentException("relinquish cost must be >= 1 NOP, got " + relinquishCostInNops);
        }
        if (halfLifeSamples < 16) {
            throw new IllegalArgumentException("slack half-life must be >= 16 samples, got " + halfLifeSamples);
        }
        this.maxGap = maxGap;
        this.relinquishCostInNops = relinquishCostInNops;
        this.halfLifeSamples = halfLifeSamples;
        this.counts = new long[maxGap + 2];
    }

    /** A predicted copy arrived after {@code unpredictedMessages} messages nobody predicted. */
    public void onPredictedCopy(long unpredictedMessages) {
        final int bucket = unpredictedMessages > maxGap ? maxGap + 1 : (int) unpredictedMessages;
        // Weight 2 per sample so that halving keeps integer resolution for a while.
        counts[bucket] += 2;
        samples++;
        if (++sinceDecay >= halfLifeSamples) {
            sinceDecay = 0;
            for (int a = 0; a < counts.length; a++) {
                counts[a] >>= 1;
            }
        }
        dirty = true;
    }

    /** Spare IVs to leave before the first message of a predicted copy. */
    public int gapBeforePredictedCopy() {
        if (dirty) {
            recompute();
        }
        return gap;
    }

    public long samples() {
        return samples;
    }

    private void recompute() {
        dirty = false;
        long total = 0;
        for (int a = 0; a < counts.length; a++) {
            total += counts[a];
        }
        if (total == 0) {
            gap = 0;
            return;
        }
        long cumCount = 0;
        long cumWeighted = 0;
        long bestCost = Long.MAX_VALUE;
        int best = 0;
        for (int g = 0; g <= maxGap; g++) {
            cumCount += counts[g];
            cumWeighted += (long) g * counts[g];
            final long nops = (long) g * cumCount - cumWeighted;
            final long misses = total - cumCount;
            final long cost = nops + relinquishCostInNops * misses;
            if (cost < bestCost) {
                bestCost = cost;
                best = g;
            }
        }
        gap = best;
    }
}
