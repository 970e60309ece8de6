package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.predict.Speculator;

/**
 * A model of the agent's speculative pipeline (ARCHITECTURE.md section 5) that turns predictions into the
 * quantities that matter: which real H2D messages could be committed from pre-encrypted slots, how much
 * encryption was wasted, how many NOPs were sent.
 *
 * <p>The window holds up to {@code depthMessages} slots / {@code depthBytes} bytes, each bound to an IV:
 * a slot's IV is the previous slot's plus one plus the slack gap the speculator advised before it. Slots of
 * size-known/data-unknown messages only reserve their IV. Predictions with confidence below
 * {@code minConfidence} are not planned. Encryption is assumed to keep up (the model measures prediction, not
 * throughput): a slot with known data counts as pre-encrypted as soon as it is planned, so wasted bytes are an
 * upper bound.
 *
 * <p>For each real message (the driver's next IV is {@code nextIv}):
 * <ul>
 *   <li>if a known, unchanged slot among the first {@code commitLookahead} matches (host, length): send
 *       {@code slot.iv - nextIv} NOPs (slack left over, or IVs of skipped slots) and commit it; slots skipped
 *       are relinquished. Skipping is refused when it would cost more than {@code maxNopForward} NOPs;</li>
 *   <li>otherwise the message is encrypted on the slow path with {@code nextIv}: it consumes a gap IV, or the
 *       head slot's IV (a reservation is used; a pre-encrypted slot is relinquished).</li>
 * </ul>
 * After every real copy the speculator is re-queried and the window re-planned: slots that the new prediction
 * still contains (in order, at any confidence) keep their IVs; the others are relinquished; new slots are planned
 * only for confident predictions.
 */
public final class IvPipelineModel {
    /** Model settings (defaults: 256 messages, 256 MiB ahead, confidence 0.5, 64 NOPs forward, lookahead 64). */
    public record Settings(int depthMessages, long depthBytes, float minConfidence, int maxNopForward,
                           int commitLookahead) {
        public Settings {
            if (depthMessages < 1 || depthBytes < 1 || maxNopForward < 0 || commitLookahead < 1) {
                throw new IllegalArgumentException("pipeline depth, NOP limit and lookahead must be positive");
            }
            if (minConfidence < 0 || minConfidence > 1) {
                throw new IllegalArgumentException("min confidence must be in [0, 1], got " + minConfidence);
            }
        }

        public static Settings defaults() {
            return new Settings(256, 256L << 20, 0.5f, 64, 64);
        }
    }

    private final Settings settings;
    private final int mask;
    private long[] iv;
    private long[] host;
    private int[] len;
    private boolean[] known;
    private boolean[] stale;
    private long[] niv;
    private long[] nhost;
    private int[] nlen;
    private boolean[] nknown;
    private boolean[] nstale;
    /** Who planned each slot, in which context, how many messages ahead: its outcome is reported back. */
    private int[] pred;
    private int[] ctx;
    private int[] depth;
    private int[] npred;
    private int[] nctx;
    private int[] ndepth;
    private Speculator outcomes;
    private int head;
    private int count;
    private long windowBytes;

    private long nextIv;
    private long lastIv = -1;
    private PredictionBuffer plan;
    private int planCopy;
    private int planChunk;

    private ReplayCounters[] targets = new ReplayCounters[0];

    public IvPipelineModel(Settings settings) {
        this.settings = settings;
        final int size = Integer.highestOneBit(Math.max(2, settings.depthMessages()) - 1) << 1;
        mask = size - 1;
        iv = new long[size];
        host = new long[size];
        len = new int[size];
        known = new boolean[size];
        stale = new boolean[size];
        niv = new long[size];
        nhost = new long[size];
        nlen = new int[size];
        nknown = new boolean[size];
        nstale = new boolean[size];
        pred = new int[size];
        ctx = new int[size];
        depth = new int[size];
        npred = new int[size];
        nctx = new int[size];
        ndepth = new int[size];
    }

    /** Every slot's fate (committed, or relinquished) is reported to this speculator's calibration. */
    public void reportOutcomesTo(Speculator speculator) {
        outcomes = speculator;
    }

    private void outcome(int s, boolean committed) {
        if (outcomes != null && known[s]) {
            outcomes.onSlotOutcome(pred[s], ctx[s], depth[s], len[s], committed);
        }
    }

    /** Counters every later observation is added to (e.g. the whole run and its steady state). */
    public void countInto(ReplayCounters... counters) {
        targets = counters.clone();
    }

    public long nextIv() {
        return nextIv;
    }

    public int windowMessages() {
        return count;
    }

    /** IV of window slot {@code i} (0 = head), or -1 when the window is shorter. */
    public long slotIv(int i) {
        return i < count ? iv[at(i)] : -1;
    }

    /** Host address of window slot {@code i}, or -1 when the window is shorter. */
    public long slotHost(int i) {
        return i < count ? host[at(i)] : -1;
    }

    private int at(int i) {
        return (head + i) & mask;
    }

    private void relinquish(int s) {
        outcome(s, false);
        final boolean slotKnown = known[s];
        final int slotLen = len[s];
        final boolean slotStale = stale[s];
        if (!slotKnown) {
            return;
        }
        for (ReplayCounters c : targets) {
            c.relinquishedSlots++;
            c.wastedBytes += slotLen;
            c.wastedByPlanDepth[dev.pipellm.speculator.predict.CommitCalibration.bucketOf(depth[s])] += slotLen;
            if (slotStale) {
                c.staleSlots++;
            }
        }
    }

    private void dropHead(int n) {
        for (int t = 0; t < n; t++) {
            windowBytes -= len[at(0)];
            head = (head + 1) & mask;
            count--;
        }
    }

    /** The CPU wrote [address, address+bytes): pre-encrypted slots over it are stale. */
    public void onHostWrite(long address, long bytes) {
        final long end = address + Math.max(1, bytes);
        for (int t = 0; t < count; t++) {
            final int s = at(t);
            if (known[s] && host[s] < end && address < host[s] + len[s]) {
                stale[s] = true;
            }
        }
    }

    /** A real H2D copy: its messages (driver chunks) meet the window in order. */
    public void onRealCopy(long copyHost, long copyBytes, long chunkBytes, int copyClass) {
        for (ReplayCounters c : targets) {
            c.h2dCopies++;
            c.classCopies[copyClass]++;
        }
        final int messages = PredictionBuffer.messagesOf(copyBytes, chunkBytes);
        for (int k = 0; k < messages; k++) {
            final long h = copyHost + k * chunkBytes;
            final int l = (int) Math.min(chunkBytes, copyBytes - k * chunkBytes);
            onRealMessage(h, l, copyClass);
        }
    }

    private void onRealMessage(long h, int l, int copyClass) {
        for (ReplayCounters c : targets) {
            c.h2dMessages++;
            c.h2dBytes += l;
            c.classBytes[copyClass] += l;
        }
        int k = -1;
        final int look = Math.min(count, settings.commitLookahead());
        for (int t = 0; t < look; t++) {
            final int s = at(t);
            if (known[s] && host[s] == h && len[s] == l) {
                k = stale[s] ? -1 : t;
                break;
            }
        }
        if (k >= 0) {
            final long nopsNeeded = iv[at(k)] - nextIv;
            if (k > 0 && nopsNeeded > settings.maxNopForward()) {
                k = -1;
            }
        }
        if (k >= 0) {
            final int s = at(k);
            final long nopsNeeded = iv[s] - nextIv;
            for (int t = 0; t < k; t++) {
                final int x = at(t);
                relinquish(x);
            }
            for (ReplayCounters c : targets) {
                c.nops += nopsNeeded;
                c.coveredMessages++;
                c.coveredBytes += l;
                c.classCoveredBytes[copyClass] += l;
                if (k == 0) {
                    c.headHitMessages++;
                    c.headHitBytes += l;
                }
            }
            outcome(s, true);
            nextIv = iv[s] + 1;
            dropHead(k + 1);
        } else {
            if (count > 0 && iv[at(0)] == nextIv) {
                final int s = at(0);
                if (!known[s]) {
                    for (ReplayCounters c : targets) {
                        c.reservedMessages++;
                        if (len[s] == l) {
                            c.headHitMessages++;
                            c.headHitBytes += l;
                        }
                    }
                } else {
                    relinquish(s);
                }
                dropHead(1);
            }
            nextIv++;
        }
        refill();
    }

    private boolean planHasNext() {
        return plan != null && planCopy < plan.copyCount()
                && plan.copyConfidence(planCopy) >= settings.minConfidence();
    }

    private void refill() {
        while (count < settings.depthMessages() && windowBytes < settings.depthBytes() && planHasNext()
                && count < plan.plannableMessages()) {
            final int c = planCopy;
            final int gap = planChunk == 0 ? plan.copyGapBefore(c) : 0;
            final long slotIv = Math.max(lastIv, nextIv - 1) + 1 + gap;
            final int s = at(count);
            iv[s] = slotIv;
            host[s] = plan.messageHost(c, planChunk);
            len[s] = plan.messageLength(c, planChunk);
            known[s] = plan.copyDataKnown(c);
            stale[s] = false;
            pred[s] = plan.copyPredictor(c);
            ctx[s] = plan.context();
            depth[s] = count;
            windowBytes += len[s];
            count++;
            lastIv = slotIv;
            advancePlan();
        }
    }

    private void advancePlan() {
        planChunk++;
        if (planChunk >= plan.copyMessages(planCopy)) {
            planChunk = 0;
            planCopy++;
        }
    }

    /** Re-plan the window against a fresh prediction (the speculator's answer after a real copy). */
    public void replan(PredictionBuffer prediction) {
        int oldIdx = 0;
        long cursorIv = Math.max(nextIv - 1, -1);
        int newCount = 0;
        long newBytes = 0;
        plan = prediction;
        planCopy = 0;
        planChunk = 0;
        while (newCount < settings.depthMessages() && newBytes < settings.depthBytes() && plan != null
                && planCopy < plan.copyCount()) {
            final int c = planCopy;
            // Below the threshold the prediction may still keep slots already encrypted (a confidence dip must
            // not throw away work it still agrees with), but no new slot is planned.
            final boolean confident = plan.copyConfidence(c) >= settings.minConfidence();
            final boolean mKnown = plan.copyDataKnown(c);
            final long mHost = plan.messageHost(c, planChunk);
            final int mLen = plan.messageLength(c, planChunk);
            final int gap = planChunk == 0 ? plan.copyGapBefore(c) : 0;
            int match = -1;
            for (int t = 0; t < settings.commitLookahead() && oldIdx + t < count; t++) {
                final int s = at(oldIdx + t);
                // Keep an old slot only if it is not so far ahead that the NOPs to reach it would cost more
                // than re-encrypting it at the IV the new plan gives it.
                if (known[s] == mKnown && len[s] == mLen && (!mKnown || host[s] == mHost) && !stale[s]
                        && iv[s] > cursorIv && iv[s] - (cursorIv + 1 + gap) <= settings.maxNopForward()) {
                    match = oldIdx + t;
                    break;
                }
            }
            if (match < 0 && (!confident || newCount >= plan.plannableMessages())) {
                break;
            }
            long slotIv;
            boolean slotStale = false;
            int slotPred = plan.copyPredictor(c);
            int slotCtx = plan.context();
            int slotDepth = newCount;
            if (match >= 0) {
                final int m = at(match);
                slotPred = pred[m];
                slotCtx = ctx[m];
                slotDepth = depth[m];
                for (int t = oldIdx; t < match; t++) {
                    final int x = at(t);
                    relinquish(x);
                }
                slotIv = iv[at(match)];
                oldIdx = match + 1;
            } else {
                slotIv = cursorIv + 1 + gap;
                while (oldIdx < count && iv[at(oldIdx)] <= slotIv) {
                    final int x = at(oldIdx++);
                    relinquish(x);
                }
            }
            niv[newCount] = slotIv;
            nhost[newCount] = mHost;
            nlen[newCount] = mLen;
            nknown[newCount] = mKnown;
            nstale[newCount] = slotStale;
            npred[newCount] = slotPred;
            nctx[newCount] = slotCtx;
            ndepth[newCount] = slotDepth;
            newBytes += mLen;
            newCount++;
            cursorIv = slotIv;
            advancePlan();
        }
        for (int t = oldIdx; t < count; t++) {
            final int x = at(t);
            relinquish(x);
        }
        // Swap in the new window (stored from index 0).
        long[] tl = iv;
        iv = niv;
        niv = tl;
        tl = host;
        host = nhost;
        nhost = tl;
        final int[] ti = len;
        len = nlen;
        nlen = ti;
        boolean[] tb = known;
        known = nknown;
        nknown = tb;
        tb = stale;
        stale = nstale;
        nstale = tb;
        int[] tn = pred;
        pred = npred;
        npred = tn;
        tn = ctx;
        ctx = nctx;
        nctx = tn;
        tn = depth;
        depth = ndepth;
        ndepth = tn;
        head = 0;
        count = newCount;
        windowBytes = newBytes;
        lastIv = Math.max(cursorIv, nextIv - 1);
    }
}
