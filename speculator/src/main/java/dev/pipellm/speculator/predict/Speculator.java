package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventSink;
import dev.pipellm.speculator.event.EventType;

/**
 * The speculator: observes every event, keeps all predictors up to date, and answers "which H2D GCM messages
 * come next" with the sequence of the predictor its tournament trusts most on the current stream, split by the
 * driver's chunk size, each with a confidence and the spare IVs the slack policy advises before it.
 *
 * <p>Use: feed events ({@link #onEvent}, directly or drained from an
 * {@link dev.pipellm.speculator.event.EventRing}), and call {@link #predict} after every real copy.
 *
 * <p>Predictors, most specific first (the chooser's tie order): {@link #HINTS}, {@link #SWAP_BACK},
 * {@link #REPEATING}, {@link #ADAPTER}, {@link #SUCCESSOR_STRIDE}.
 *
 * <p>Scoring: before each real H2D copy is learnt, every predictor's short prediction (its first
 * {@code scoreDepthCopies} copies, refreshed lazily after events) is checked for that copy, which updates the
 * tournament counters and, for the chosen predictor, the IV-slack statistics (how many unpredicted messages
 * came between predicted copies).
 *
 * <p>Confidence: the predictor's own per-copy estimate, halved when the chosen predictor missed the stream's
 * last copy (it has not re-locked yet). Hints are exact and keep their confidence of 1.
 *
 * <p>Threading: single-threaded (the planner thread). {@link #onEvent} and {@link #predict} allocate nothing.
 */
public final class Speculator implements EventSink {
    public static final int HINTS = 0;
    public static final int SWAP_BACK = 1;
    public static final int REPEATING = 2;
    public static final int ADAPTER = 3;
    public static final int SUCCESSOR_STRIDE = 4;
    private static final int PREDICTORS = 5;
    /**
     * Not a predictor: the calibration row of the adapter predictor's guesses of the next adapter to load
     * (popularity, before any of its copies is seen). Their commit record is nothing like that of the
     * adapter lists it follows once a load started, so it is kept apart: slots it planned report it.
     */
    public static final int ADAPTER_GUESS = 5;
    private static final int CALIBRATION_ROWS = 6;

    private final SpeculatorConfig config;
    private final CopyPredictor[] predictors;
    private final PredictionBuffer[] shortPredictions;
    private final boolean[] available;
    private final TournamentChooser chooser;
    private final IvSlackPolicy slack;
    /** Which predicted copies unpredicted messages come before: spares go there only. */
    private final SlackByCopy slackByCopy;
    private static final int SLACK_COPIES = 1 << 12;
    private final PairKeyTable dirtyHost;
    /**
     * Recent CPU writes that did not start at a copy's start address (a write into the middle of a buffer), as
     * ranges: a copy overlapping one carries fresh data too. A ring: the oldest is forgotten first (a
     * forgotten write only costs a stale slot, which validation catches).
     */
    private static final int WRITE_RANGES = 64;
    private final long[] writeStart = new long[WRITE_RANGES];
    private final long[] writeEnd = new long[WRITE_RANGES];
    private int writeNext;
    private final long[] chosenCount;
    private final CommitCalibration calibration;
    private final IvShiftRate shifts = new IvShiftRate(SHIFT_HALF_LIFE_MESSAGES);
    private final WasteBudget wasteBudget = new WasteBudget(WASTE_BUDGET);
    /**
     * Share of the copied bytes whose waste closes depth: 3%, under the 5% the pipeline promises, because the
     * governor sees waste only once slots are given up (a window late).
     */
    private static final double WASTE_BUDGET = 0.03;
    private static final double SHIFT_HALF_LIFE_MESSAGES = 4096;
    /** The shift rate never stops the next two messages: those are the calibration's call. */
    private static final long SHIFT_MIN_DEPTH = 2;
    /** The pipeline context (CUDA context / channel) the events come from; see {@link #setContext}. */
    private int context;

    private boolean shortStale = true;
    private int chosen = -1;
    private int lastStream;
    private long unpredictedMessages;
    private int lastHitPredictor = -1;
    private long events;
    private long h2dCopies;
    private long chosenHits;

    public Speculator(SpeculatorConfig config) {
        this.config = config;
        predictors = new CopyPredictor[PREDICTORS];
        predictors[HINTS] = new HintPredictor(config.hintCapacity);
        predictors[SWAP_BACK] = new SwapBackPredictor(config.swapBackCopies, config.swapBackBursts,
                config.swapBackMinCopyBytes);
        predictors[REPEATING] = new RepeatingSequencePredictor(config.historyCopies);
        predictors[ADAPTER] = new AdapterPredictor(config.adapterMinCopyBytes, config.adapterCopies,
                config.maxAdapters);
        predictors[SUCCESSOR_STRIDE] = new SuccessorStridePredictor(config.successorEntries);
        shortPredictions = new PredictionBuffer[PREDICTORS];
        for (int p = 0; p < PREDICTORS; p++) {
            shortPredictions[p] = new PredictionBuffer(config.scoreDepthCopies, config.chunkBytes);
        }
        available = new boolean[PREDICTORS];
        chooser = new TournamentChooser(PREDICTORS, config.streamBuckets);
        slack = new IvSlackPolicy(config.slackMaxGap, config.relinquishCostNops, config.slackHalfLifeSamples);
        slackByCopy = new SlackByCopy(SLACK_COPIES, config.relinquishCostNops);
        dirtyHost = new PairKeyTable(config.writeTrackerEntries, 4);
        chosenCount = new long[PREDICTORS];
        calibration = new CommitCalibration(CALIBRATION_ROWS, config.streamBuckets, config.minCommitProbability,
                config.probeEvery);
    }

    public SpeculatorConfig config() {
        return config;
    }

    /** The waste governor (for tools and tests). */
    public WasteBudget wasteBudget() {
        return wasteBudget;
    }

    /** A prediction buffer sized for this speculator's query limits. */
    public PredictionBuffer newPredictionBuffer() {
        return new PredictionBuffer(config.maxPredictedCopies, config.chunkBytes);
    }

    public int predictorCount() {
        return PREDICTORS;
    }

    public String predictorName(int predictor) {
        return predictors[predictor].name();
    }

    /** The predictor object (for inspection in tools and tests). */
    public CopyPredictor predictor(int predictor) {
        return predictors[predictor];
    }

    /** Hints API: the H2D copy of [host, host+bytes) comes next, after previously hinted ones. */
    public void hint(long hostAddress, long bytes) {
        onEvent(EventType.HINT, CopyDirection.NONE, hostAddress, 0, bytes, -1, 0);
    }

    /** Hints API: drop all pending hints. */
    public void clearHints() {
        onEvent(EventType.HINT_CLEAR, CopyDirection.NONE, 0, 0, 0, -1, 0);
    }

    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread) {
        events++;
        if (type == EventType.COPY) {
            boolean fresh = false;
            if (direction == CopyDirection.H2D) {
                final int d = dirtyHost.find(hostAddress, 0);
                if (d >= 0) {
                    fresh = true;
                    dirtyHost.remove(d);
                }
                if (writtenInside(hostAddress, bytes)) {
                    fresh = true;
                }
                score(hostAddress, bytes, stream, fresh);
                wasteBudget.onCopied(bytes, PredictionBuffer.messagesOf(bytes, config.chunkBytes));
                lastStream = stream;
                h2dCopies++;
            }
            for (int p = 0; p < PREDICTORS; p++) {
                predictors[p].onCopy(direction, hostAddress, deviceAddress, bytes, stream, fresh);
            }
            shortStale = true;
        } else {
            if (type == EventType.HOST_WRITE) {
                dirtyHost.put(hostAddress, 0);
                final int w = writeNext++ & (WRITE_RANGES - 1);
                writeStart[w] = hostAddress;
                writeEnd[w] = hostAddress + Math.max(1, bytes);
            }
            for (int p = 0; p < PREDICTORS; p++) {
                predictors[p].onEvent(type, hostAddress, bytes);
            }
            if (type != EventType.MARK && type != EventType.HOST_ALLOC && type != EventType.DEVICE_ALLOC) {
                shortStale = true;
            }
        }
    }

    /** True when a recent write overlaps [host, host+bytes); writes wholly inside the copy are consumed. */
    private boolean writtenInside(long host, long bytes) {
        final long end = host + Math.max(1, bytes);
        boolean hit = false;
        for (int w = 0; w < WRITE_RANGES; w++) {
            if (writeStart[w] < end && host < writeEnd[w]) {
                hit = true;
                if (writeStart[w] >= host && writeEnd[w] <= end) {
                    writeStart[w] = 0;
                    writeEnd[w] = 0;
                }
            }
        }
        return hit;
    }

    private void refreshShort() {
        for (int p = 0; p < PREDICTORS; p++) {
            final PredictionBuffer b = shortPredictions[p];
            b.clear();
            predictors[p].predict(b, b.capacity(), Integer.MAX_VALUE, p);
            available[p] = b.copyCount() > 0;
        }
        chosen = chooser.choose(lastStream, available);
        shortStale = false;
    }

    /**
     * Position of the real copy in a short prediction: a known copy matches by (host, size); a size-known
     * reservation by size, or by freshness alone when the real copy is fresh too (same logical copy, new size).
     */
    private static int indexIn(PredictionBuffer b, long host, long bytes, boolean fresh) {
        final int n = b.copyCount();
        if (n == 0) {
            return TournamentChooser.NO_PREDICTION;
        }
        for (int i = 0; i < n; i++) {
            if (b.copyDataKnown(i) ? b.copyHost(i) == host && b.copyBytes(i) == bytes
                    : fresh || b.copyBytes(i) == bytes) {
                return i;
            }
        }
        return TournamentChooser.MISS;
    }

    private void score(long host, long bytes, int stream, boolean fresh) {
        if (shortStale) {
            refreshShort();
        }
        boolean chosenHit = false;
        for (int p = 0; p < PREDICTORS; p++) {
            final int hit = indexIn(shortPredictions[p], host, bytes, fresh);
            chooser.record(p, stream, hit);
            if (p == chosen && hit >= 0) {
                chosenHit = true;
            }
        }
        if (chosenHit) {
            chosenHits++;
            // Only gaps inside one predictor's run say how many unpredicted messages interleave with a pattern;
            // the gap before a pattern starts (a new swap-in, a new adapter) does not.
            if (chosen == lastHitPredictor) {
                // Unpredicted messages the spares left before this copy absorbed shift no IV behind them.
                final long spares = slackByCopy.wantsSlack(host) ? slack.gapBeforePredictedCopy() : 0;
                shifts.onPredictedCopy(Math.max(0, unpredictedMessages - spares),
                        PredictionBuffer.messagesOf(bytes, config.chunkBytes));
                slack.onPredictedCopy(unpredictedMessages);
                slackByCopy.onPredictedCopy(host, unpredictedMessages);
            }
            lastHitPredictor = chosen;
            unpredictedMessages = 0;
        } else {
            unpredictedMessages += PredictionBuffer.messagesOf(bytes, config.chunkBytes);
        }
    }

    /**
     * Re-query: fills {@code out} (cleared first) with the predicted upcoming H2D copies and their messages.
     * Returns the number of predicted messages. Allocation-free.
     */
    public int predict(PredictionBuffer out) {
        return predict(out, config.maxPredictedCopies, config.maxPredictedMessages);
    }

    /**
     * As {@link #predict(PredictionBuffer)}, at most {@code maxCopies} copies and {@code maxMessages} messages
     * (each capped by the configured limits): a consumer that uses only the first few copies asks for no more,
     * since filling the buffer is most of a query's cost.
     */
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages) {
        if (shortStale) {
            refreshShort();
        }
        out.clear();
        final int p = chosen;
        if (p < 0) {
            return 0;
        }
        chosenCount[p]++;
        predictors[p].predict(out, Math.min(maxCopies, config.maxPredictedCopies),
                Math.min(maxMessages, config.maxPredictedMessages), p);
        final float factor = p == HINTS || chooser.hitLast(p) ? 1f : 0.5f;
        final int gap = slack.gapBeforePredictedCopy();
        final int context = this.context;
        final long plannable = Math.min(calibration.plannableMessages(p, context, chooser.hitLast(p)),
                Math.max(SHIFT_MIN_DEPTH, shifts.depthFor(calibration.deepThreshold())));
        for (int i = 0; i < out.copyCount(); i++) {
            // Calibrated: once slots this predictor planned at this depth have an outcome record, the
            // confidence is their measured commit probability; before that, the predictor's own estimate.
            // The halving while the predictor has not re-locked applies to both. The record is the copy's own
            // predictor's: the adapter predictor's guesses of the next load have a row apart (ADAPTER_GUESS).
            final float own = out.copyConfidence(i);
            out.setConfidence(i, calibration.probability(out.copyPredictor(i), context,
                    out.copyFirstMessage(i), own) * factor);
            out.setGapBefore(i, gap > 0 && slackByCopy.wantsSlack(out.copyHost(i)) ? gap : 0);
        }
        out.setPlanning(context, wasteBudget.cap(plannable, out.messageCount()));
        return out.messageCount();
    }

    /**
     * The pipeline's report of a slot of {@code bytes} planned from a prediction of {@code predictor} in
     * {@code context} (see {@link PredictionBuffer#context()}) at {@code depthMessages} messages ahead:
     * committed, or relinquished (mispredicted, passed, or made stale by a CPU write). Allocation-free.
     */
    public void onSlotOutcome(int predictor, int context, long depthMessages, long bytes, boolean committed) {
        calibration.onOutcome(predictor, context, depthMessages, committed);
        if (!committed) {
            wasteBudget.onWasted(bytes);
        }
    }

    /**
     * The context (the agent's channel: one CUDA context's H2D direction) whose slots the next predictions
     * plan. Calibration is kept per context: two devices may run different workloads. Not the CUDA stream:
     * the copy before a prediction is often on another stream than the copies it predicts (FlexGen's token
     * ids on the default stream, weights on a load stream).
     */
    public void setContext(int context) {
        this.context = context;
    }

    public CommitCalibration calibration() {
        return calibration;
    }

    /** Predictor the next {@link #predict} will use, or -1 when none has an opinion. */
    public int chosenPredictor() {
        if (shortStale) {
            refreshShort();
        }
        return chosen;
    }

    /** How many queries each predictor answered. */
    public long chosenCount(int predictor) {
        return chosenCount[predictor];
    }

    public long events() {
        return events;
    }

    public long h2dCopies() {
        return h2dCopies;
    }

    /** Real H2D copies that the chosen predictor's short prediction contained. */
    public long chosenHits() {
        return chosenHits;
    }

    public int currentSlackGap() {
        return slack.gapBeforePredictedCopy();
    }

    public TournamentChooser chooser() {
        return chooser;
    }
}
