package dev.pipellm.speculator.predict;

/**
 * Where unpredicted messages come, per predicted copy: for each copy (by host address) the decayed share of
 * the times an unpredicted message came right before it. Spare IVs are left only before copies where that
 * share pays for them (ARCHITECTURE.md section 5, "slack where jitter was observed"): a spare costs a NOP
 * each time nothing comes, a missing spare costs a relinquished slot. A copy never seen with one before gets
 * none: a workload whose small copies arrive at the end of each run of copies gets its spares there only,
 * not before every copy of the run.
 *
 * <p>A direct-mapped table of {@code entries}; a collision forgets the older copy. Allocation-free;
 * single-threaded (the speculator's thread).
 */
public final class SlackByCopy {
    private static final float WEIGHT = 0.125f;
    private final long[] host;
    private final float[] share;
    private final int mask;
    private final int relinquishCostNops;

    public SlackByCopy(int entries, int relinquishCostNops) {
        if (entries < 16 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("slack table entries must be a power of two >= 16, got " + entries);
        }
        host = new long[entries];
        share = new float[entries];
        mask = entries - 1;
        this.relinquishCostNops = relinquishCostNops;
        java.util.Arrays.fill(host, Long.MIN_VALUE);
    }

    private int slot(long address) {
        long h = address * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }

    /** The predicted copy at {@code address} came, after {@code unpredicted} messages nobody predicted. */
    public void onPredictedCopy(long address, long unpredicted) {
        final int i = slot(address);
        if (host[i] != address) {
            host[i] = address;
            share[i] = unpredicted > 0 ? 1f : 0f;
            return;
        }
        share[i] += WEIGHT * ((unpredicted > 0 ? 1f : 0f) - share[i]);
    }

    /**
     * Whether spares before the copy at {@code address} are worth their NOPs: expected relinquish cost
     * without them ({@code share * relinquishCost}) above the expected NOPs with one ({@code 1 - share}).
     */
    public boolean wantsSlack(long address) {
        final int i = slot(address);
        if (host[i] != address) {
            return false;
        }
        final float p = share[i];
        return p * relinquishCostNops > 1 - p;
    }
}
