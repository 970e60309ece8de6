package dev.pipellm.speculator.predict;

/**
 * How often an unpredicted message slips in between the messages of a pattern the speculator follows (an extra
 * small copy in a weight loop), per message, as a decayed rate. Each such message takes an IV the plan gave to
 * a predicted one, so every slot planned behind it is lost (unless slack was left): a slot planned {@code d}
 * messages ahead survives with probability about {@code (1 - rate)^d}. {@link #depthFor} turns a survival
 * probability into the depth it allows, which bounds deep planning from the first jitter on, before the
 * per-depth commit records ({@link CommitCalibration}) have seen a deep bucket fail.
 *
 * <p>Allocation-free; single-threaded.
 */
public final class IvShiftRate {
    static final double PRIOR_MESSAGES = 128;
    private final double halfLifeMessages;
    private double extras;
    private double messages;

    public IvShiftRate(double halfLifeMessages) {
        if (!(halfLifeMessages >= 16)) {
            throw new IllegalArgumentException("shift rate half-life must be >= 16 messages, got " + halfLifeMessages);
        }
        this.halfLifeMessages = halfLifeMessages;
    }

    /** A predicted copy of {@code predicted} messages came after {@code unpredicted} interleaved ones. */
    public void onPredictedCopy(long unpredicted, long predicted) {
        final double n = unpredicted + predicted;
        final double keep = Math.pow(0.5, n / halfLifeMessages);
        extras = extras * keep + unpredicted;
        messages = messages * keep + n;
    }

    /**
     * Extras per message, as if {@link #PRIOR_MESSAGES} messages without one had been seen first: a single
     * early extra (while a pattern is still being learnt) must not read as a rate of one in a few dozen and
     * keep the plan shallow for a whole half-life.
     */
    public double rate() {
        return extras / (messages + PRIOR_MESSAGES);
    }

    /** Deepest plan (in messages) whose slots survive with probability {@code survival}; MAX when no shift seen. */
    public long depthFor(float survival) {
        final double r = rate();
        if (r <= 0) {
            return Long.MAX_VALUE;
        }
        return (long) Math.min(Long.MAX_VALUE / 2, Math.log(survival) / Math.log1p(-Math.min(r, 0.999999)));
    }
}
