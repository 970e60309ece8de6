package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

/**
 * Predicts periodic H2D sequences (layer-by-layer weight streaming: FlexGen, accelerate, ZeRO) by pointing into
 * its own history: after a copy that also occurred earlier, predict what followed it last time.
 *
 * <p>How it tolerates what real servers do:
 * <ul>
 *   <li><b>Interleaved small copies</b> are part of the history. Copies with fresh data (token ids, relay
 *       buffers) are kept as size-known/data-unknown entries and matched by size only, so they are predicted
 *       as IV reservations rather than breaking the lock.</li>
 *   <li><b>Missing copies</b>: when the copy is not the expected one but one of the next {@value #LOOKAHEAD}
 *       entries, the pointer skips ahead (the lock survives).</li>
 *   <li><b>Extra copies</b> that match nothing leave the pointer in place; after {@value #MAX_EXTRAS}
 *       consecutive ones the lock is dropped.</li>
 *   <li><b>Changed period</b> (batch change, new code path): a known copy seen out of order re-locks at its
 *       most recent occurrence, so after one full new period the predictions are exact again.</li>
 * </ul>
 * Beyond the last observed period the sequence is extended cyclically.
 *
 * <p>Memory: a history ring of {@code historyCapacity} copies and a last-occurrence table; nothing grows.
 * Single-threaded.
 */
public final class RepeatingSequencePredictor implements CopyPredictor {
    static final int LOOKAHEAD = 8;
    static final int MAX_EXTRAS = 8;
    private static final long NOT_LOCKED = -1L;

    private final int mask;
    private final long[] logHost;
    private final long[] logBytes;
    private final boolean[] logFresh;
    /**
     * Per history entry: how often the copy at this position of the period was replaced by another copy of the
     * same size (a fork: expert A or B), as a decayed estimate in [0, 1] carried from period to period.
     */
    private final float[] logFork;
    /**
     * Fork estimate above which a position is predicted as a reservation of its IVs, not as known data: the
     * candidate would be committed less often than the planner's calibrated threshold asks.
     */
    static final float FORK_RESERVE = 0.1f;
    /** Weight of one period in the fork estimate (an exponentially weighted flip rate). */
    static final float FORK_RATE = 0.2f;
    private float forkOfCurrent;
    private final PairKeyTable lastSeen;
    /** Sequence number the next logged copy gets. */
    private long next;
    /** History position of the copy expected next (in the previous period), or NOT_LOCKED. */
    private long expected = NOT_LOCKED;
    /** Consecutive copies confirmed by the lock; drives confidence. */
    private int run;
    private int extras;

    public RepeatingSequencePredictor(int historyCapacity) {
        if (historyCapacity < 16 || historyCapacity > (1 << 24)) {
            throw new IllegalArgumentException("history capacity must be in [16, 2^24], got " + historyCapacity);
        }
        final int size = Integer.highestOneBit(historyCapacity - 1) << 1;
        mask = size - 1;
        logHost = new long[size];
        logBytes = new long[size];
        logFresh = new boolean[size];
        logFork = new float[size];
        lastSeen = new PairKeyTable(size * 2, 4);
    }

    @Override
    public String name() {
        return "repeating";
    }

    private boolean inWindow(long pos) {
        return pos >= 0 && pos < next && pos >= next - (mask + 1);
    }

    private boolean matches(long pos, long host, long bytes, boolean fresh) {
        final int i = (int) pos & mask;
        if (logFresh[i] && fresh) {
            // A fresh copy where a fresh copy came last period is the same logical copy (token ids, a mask),
            // even when its size changed with the batch or the phase (prefill vs decode).
            return true;
        }
        return logBytes[i] == bytes && (logFresh[i] || logHost[i] == host);
    }

    private long lastOccurrence(long host, long bytes) {
        final int slot = lastSeen.find(host, bytes);
        if (slot < 0) {
            return NOT_LOCKED;
        }
        final long pos = lastSeen.value1(slot);
        return inWindow(pos) ? pos : NOT_LOCKED;
    }

    @Override
    public void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                       boolean freshData) {
        if (direction != CopyDirection.H2D || bytes <= 0) {
            return;
        }
        forkOfCurrent = 0;
        if (expected != NOT_LOCKED && inWindow(expected)) {
            if (matches(expected, hostAddress, bytes, freshData)) {
                forkOfCurrent = logFork[(int) expected & mask] * (1 - FORK_RATE);
                expected++;
                run++;
                extras = 0;
            } else if (isSubstitution(hostAddress, bytes, freshData)) {
                // A substitution: another known copy of the same size where the period had this one (the other
                // expert). The period goes on after it; the position is remembered as a fork.
                forkOfCurrent = logFork[(int) expected & mask] * (1 - FORK_RATE) + FORK_RATE;
                expected++;
                run = Math.max(1, run - run / 4);
                extras = 0;
            } else {
                int skip = -1;
                for (int j = 1; j <= LOOKAHEAD && expected + j < next; j++) {
                    if (matches(expected + j, hostAddress, bytes, freshData)) {
                        skip = j;
                        break;
                    }
                }
                if (skip > 0) {
                    expected += skip + 1;
                    run = Math.max(1, run / 2);
                    extras = 0;
                } else {
                    final long prev = freshData ? NOT_LOCKED : lastOccurrence(hostAddress, bytes);
                    if (prev != NOT_LOCKED) {
                        expected = prev + 1;
                        run = 1;
                        extras = 0;
                    } else if (++extras > MAX_EXTRAS) {
                        expected = NOT_LOCKED;
                        run = 0;
                    }
                }
            }
        } else {
            final long prev = freshData ? NOT_LOCKED : lastOccurrence(hostAddress, bytes);
            expected = prev == NOT_LOCKED ? NOT_LOCKED : prev + 1;
            run = prev == NOT_LOCKED ? 0 : 1;
            extras = 0;
        }
        final long pos = next;
        final int i = (int) pos & mask;
        logHost[i] = hostAddress;
        logBytes[i] = bytes;
        logFresh[i] = freshData;
        logFork[i] = forkOfCurrent;
        next = pos + 1;
        if (!freshData) {
            lastSeen.setValue1(lastSeen.put(hostAddress, bytes), pos);
        }
    }

    /**
     * The copy replaces the expected one: same size, both known data, and the copy came at this very position
     * of the period before (a whole number of periods back), so it is the other branch of a fork.
     */
    private boolean isSubstitution(long host, long bytes, boolean fresh) {
        final int e = (int) expected & mask;
        if (fresh || logFresh[e] || logBytes[e] != bytes || expected + 1 >= next) {
            return false;
        }
        final long prev = lastOccurrence(host, bytes);
        final long period = next - expected;
        return prev != NOT_LOCKED && prev < expected && (expected - prev) % period == 0;
    }

    @Override
    public void onEvent(int type, long hostAddress, long bytes) {
        if (type == EventType.HOST_FREE) {
            // The history may still name the freed range; a later copy from a reused address re-locks correctly,
            // and a stale prediction is caught by validation. Nothing to do.
            return;
        }
    }

    /**
     * Expected size of the fresh copy at history position {@code pos}, {@code ahead} periods after its next
     * occurrence: a copy whose size grew by the same step over the last two periods (a KV prefix loaded
     * through a relay buffer, one token longer each step) goes on growing by it, so the messages it takes,
     * and the IVs behind it, are planned right; otherwise its last size.
     */
    private long freshSize(long pos, long period, long ahead) {
        final int i = (int) pos & mask;
        final long prev = pos - period;
        final long prev2 = prev - period;
        if (!inWindow(prev2)) {
            return logBytes[i];
        }
        final int j = (int) prev & mask;
        final int h = (int) prev2 & mask;
        if (!logFresh[j] || !logFresh[h]) {
            return logBytes[i];
        }
        final long step = logBytes[i] - logBytes[j];
        if (step == 0 || step != logBytes[j] - logBytes[h]) {
            return logBytes[i];
        }
        final long size = logBytes[i] + step * (1 + ahead);
        return size > 0 ? size : logBytes[i];
    }

    /** True while locked onto a period. */
    public boolean locked() {
        return expected != NOT_LOCKED && inWindow(expected);
    }

    /** Current period in copies, or 0 when not locked. */
    public long period() {
        return locked() ? next - expected : 0;
    }

    @Override
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId) {
        if (!locked()) {
            return 0;
        }
        final long start = expected;
        final long period = next - start;
        // run/(run+2): one confirmation gives 1/3, a full FlexGen period (hundreds of copies) gives > 0.99.
        final float base = (float) run / (run + 2);
        int n = 0;
        for (long k = 0; n < maxCopies && out.messageCount() < maxMessages; k++) {
            final long pos = start + (k % period);
            final int i = (int) pos & mask;
            // Beyond the observed period only once the period has been confirmed twice in a row: a sequence
            // seen twice (an S-LoRA load copies its list twice) is not yet a cycle.
            final float c = k < period ? base : (run >= 2 * period ? base * 0.9f : base * 0.3f);
            // A fork's copy is predicted by size only: its IVs are reserved, so the rest of the period keeps
            // its IVs whichever candidate comes, and no candidate is pre-encrypted for nothing.
            final int flags = logFresh[i] || logFork[i] > FORK_RESERVE ? 0 : PredictionBuffer.DATA_KNOWN;
            final long bytes = logFresh[i] ? freshSize(pos, period, k / period) : logBytes[i];
            if (!out.append(logHost[i], bytes, flags, c, predictorId)) {
                break;
            }
            n++;
        }
        return n;
    }
}
