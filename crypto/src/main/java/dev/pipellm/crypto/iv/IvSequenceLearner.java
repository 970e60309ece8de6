package dev.pipellm.crypto.iv;

/**
 * Online learner of one channel direction's IV sequence: fed the IVs the driver actually uses, in order, with the
 * number of messages skipped in between, it predicts the IV {@code k} messages after the last one observed and
 * says when it cannot be sure. No profiling run: it learns from the carries that ordinary traffic produces.
 *
 * <h2>Model</h2>
 * Each observed IV is {@code x = (m, c) XOR (M, C)} ({@link CcIvLayout}): message counter {@code m} (32 bits), channel
 * counter {@code c} (64 bits), mask {@code (M, C)} fixed per key. Predicting {@code k} ahead within one channel value:
 * {@code x' = x XOR (m XOR (m + k))}. The flipped bits {@code m XOR (m + k)} depend only on the bits of {@code m}
 * the carry chain of {@code m + k} passes through, and {@code m_i = x_i XOR M_i}: so a prediction is exact iff we
 * know {@code M_i} at every bit where the carry chain needs {@code m_i}.
 *
 * <h2>What an observation teaches</h2>
 * For consecutive observations {@code x1, x2} of the same channel value, {@code delta} messages apart, with
 * {@code D = x1 XOR x2 = m XOR (m + delta)}: the carry into bit {@code i} is {@code c_i = D_i XOR delta_i}, known for
 * every bit. Where {@code D_i = 1} (bit {@code i} flipped) the carry out is {@code c_(i+1) = m_i}, so {@code m_i}
 * and hence {@code M_i} are learned; where {@code D_i = 0}, {@code c_(i+1)} must equal {@code delta_i} (a
 * consistency check). Every bit the counter ever flips is thus learned the first time it flips; a bit that has never
 * flipped carries no information, so no learner can be sure of a carry into it: the certainty rule below is
 * optimal, not merely safe.
 *
 * <h2>Rotations</h2>
 * A change of the channel field means the channel counter was bumped (IV or key rotation) and the message counter
 * restarted. If {@code D_hi = c XOR (c + 1)} has the form {@code 2^(t+1) - 1} and agrees with what we know, it is
 * taken as an IV rotation (same mask): bits {@code 0..t} of {@code C} are learned and, the new counter being in
 * {@code [1, delta]}, every mask bit of {@code M} at or above {@code delta}'s bit length is learned (all 32 when
 * {@code delta = 1}, the usual case); previously learned bits stay. Anything else is a mask change (an unannounced
 * key rotation): everything is forgotten. {@link #onKeyRotation()} announces one: the next observation's counter is
 * then exactly {@code skipped + 1}, which reveals all of {@code M} at once.
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li>{@link #predict} returns {@link #CERTAIN} only if the IV it writes is the one the driver will use
 *       {@code k} messages after the last observation, provided no IV or key rotation happens before it. Rotations
 *       are rare (counter exhaustion, ~389 GB key usage), and are not predictable from IVs; the first observation
 *       after one detects it.</li>
 *   <li>A prediction whose counter would pass {@code 0xFFFFFFFF} is never certain
 *       ({@link #CROSSES_COUNTER_LIMIT}): the driver must rotate first.</li>
 *   <li>An observation that contradicts the model (wrong gap count, a mask change) is detected whenever it
 *       contradicts a learned bit or a carry constraint, and resets the learner rather than keeping a wrong mask.</li>
 * </ul>
 * Assumes at most one channel bump between two observations (rotations are ~2^31 messages apart).
 *
 * <p>Not thread-safe: one learner per channel direction, fed by the thread that sees that channel's
 * {@code EVP_EncryptInit_ex}. Allocation-free; primitives only.
 */
public final class IvSequenceLearner {

    /** {@link #observe}: first observation, or the first after a reset; nothing learned yet. */
    public static final int ANCHORED = 1;
    /** {@link #observe}: consistent with the model; mask bits may have been learned. */
    public static final int OBSERVED = 0;
    /** {@link #observe}: an IV rotation was detected and learned from. */
    public static final int IV_ROTATION = 2;
    /** {@link #observe}: first observation after {@link #onKeyRotation()}; the message mask is now known. */
    public static final int KEY_ROTATION_LEARNED = 3;
    /** {@link #observe}: the observation contradicted what was learned (mask change or wrong gap): reset. */
    public static final int RESET_INCONSISTENT = -1;
    /** {@link #observe}: negative gap; ignored. */
    public static final int INVALID_GAP = -2;

    /** {@link #predict}: the IV written is certain (see the class guarantees). */
    public static final int CERTAIN = 0;
    /** {@link #predict}: the carry reaches a counter bit whose mask bit is not known yet; nothing written. */
    public static final int UNKNOWN_CARRY = -1;
    /** {@link #predict}: the counter would pass 0xFFFFFFFF, so a rotation must come first; nothing written. */
    public static final int CROSSES_COUNTER_LIMIT = -2;
    /** {@link #predict}: nothing observed since construction, reset or key rotation; nothing written. */
    public static final int NOT_ANCHORED = -3;
    /** {@link #predict}: negative distance; nothing written. */
    public static final int INVALID_DISTANCE = -4;

    private static final long MAX_COUNTER = 0xFFFF_FFFFL;

    private boolean anchored;
    /** The next observation is the {@code skipped + 1}-th message after a counter restart. */
    private boolean restartPending;
    private int lastMessageField;
    private long lastChannelField;

    private int maskMessage;
    private int knownMessageBits;
    private long maskChannel;
    private long knownChannelBits;

    private long observations;
    private long resets;
    private long ivRotations;

    /** A learner that knows nothing, for a channel the agent joins mid-stream. */
    public IvSequenceLearner() {
    }

    /**
     * Feeds the IV of one message.
     *
     * @param iv      the 12-byte IV as given to EVP_EncryptInit_ex
     * @param skipped messages that used an IV since the previous observation but were not observed
     * @return {@link #OBSERVED}, {@link #ANCHORED}, {@link #IV_ROTATION}, {@link #KEY_ROTATION_LEARNED},
     *         {@link #RESET_INCONSISTENT} or {@link #INVALID_GAP}
     */
    public int observe(byte[] iv, long skipped) {
        if (skipped < 0) {
            return INVALID_GAP;
        }
        final int x = CcIvLayout.messageField(iv);
        final long h = CcIvLayout.channelField(iv);
        observations++;
        if (restartPending) {
            restartPending = false;
            anchor(x, h);
            if (skipped < MAX_COUNTER) {
                maskMessage = x ^ (int) (skipped + 1);
                knownMessageBits = -1;
                return KEY_ROTATION_LEARNED;
            }
            return ANCHORED;
        }
        if (!anchored) {
            anchor(x, h);
            return ANCHORED;
        }
        final long delta = skipped + 1;
        if (h == lastChannelField) {
            if (delta > MAX_COUNTER || !learnSameChannel(x, (int) delta)) {
                return resetTo(x, h);
            }
            lastMessageField = x;
            return OBSERVED;
        }
        if (learnChannelBump(h) && learnRestart(x, delta)) {
            ivRotations++;
            anchor(x, h);
            return IV_ROTATION;
        }
        return resetTo(x, h);
    }

    /**
     * Announces a key rotation (new key and mask, channel counter bumped, message counter restarted). Everything
     * learned is forgotten; the next observation, {@code skipped} messages into the new key, reveals the whole
     * message mask.
     */
    public void onKeyRotation() {
        forget();
        anchored = false;
        restartPending = true;
    }

    /**
     * Writes the IV of the message {@code k} after the last observed one ({@code k = 0}: the last observed IV).
     *
     * @return {@link #CERTAIN} (IV written to {@code out[0, 12)}) or a negative sentinel (nothing written)
     */
    public int predict(long k, byte[] out) {
        if (!anchored) {
            return NOT_ANCHORED;
        }
        if (k < 0) {
            return INVALID_DISTANCE;
        }
        if (k > MAX_COUNTER) {
            return CROSSES_COUNTER_LIMIT;
        }
        final int kk = (int) k;
        final int known = knownMessageBits;
        final int m = lastMessageField ^ maskMessage; // valid on known bits only
        int flips = 0;
        int carry = 0;
        for (int i = 0; i < 32; i++) {
            final int ki = (kk >>> i) & 1;
            if ((ki | carry) == 0 && (kk >>> i) == 0) {
                break; // no more addend bits and no carry: higher bits are unchanged
            }
            if ((ki ^ carry) != 0) {
                // Bit i flips; the carry out equals m_i, which we must know.
                if (((known >>> i) & 1) == 0) {
                    return UNKNOWN_CARRY;
                }
                flips |= 1 << i;
                carry = (m >>> i) & 1;
            } else {
                carry = ki; // 0+0 -> 0, 1+1 -> 1, whatever m_i is
            }
        }
        if (carry != 0) {
            return CROSSES_COUNTER_LIMIT;
        }
        CcIvLayout.write(out, lastMessageField ^ flips, lastChannelField);
        return CERTAIN;
    }

    /**
     * The largest {@code K} such that {@link #predict} is {@link #CERTAIN} for every {@code k} in {@code [0, K]};
     * -1 when not anchored.
     */
    public long certainHorizon() {
        if (!anchored) {
            return -1;
        }
        final int b = Integer.numberOfTrailingZeros(~knownMessageBits); // contiguous known bits from bit 0
        final long m = Integer.toUnsignedLong(lastMessageField ^ maskMessage);
        if (b == 32) {
            return MAX_COUNTER - m;
        }
        final long low = m & ((1L << b) - 1);
        return ((1L << b) - 1) - low;
    }

    /** Message-counter mask bits learned so far (bit i set: mask bit i known). Never the mask itself. */
    public int knownMessageMaskBits() {
        return knownMessageBits;
    }

    /** Channel-counter mask bits learned so far. */
    public long knownChannelMaskBits() {
        return knownChannelBits;
    }

    public long observations() {
        return observations;
    }

    /** Observations that contradicted the model and reset the learner. */
    public long resets() {
        return resets;
    }

    public long ivRotations() {
        return ivRotations;
    }

    @Override
    public String toString() {
        // Never the mask or IVs: only how much is known.
        return "IvSequenceLearner[observations=" + observations + ", knownMessageBits="
                + Integer.bitCount(knownMessageBits) + ", knownChannelBits=" + Long.bitCount(knownChannelBits)
                + ", horizon=" + certainHorizon() + ", resets=" + resets + ", ivRotations=" + ivRotations + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    private void anchor(int x, long h) {
        anchored = true;
        lastMessageField = x;
        lastChannelField = h;
    }

    private void forget() {
        maskMessage = 0;
        knownMessageBits = 0;
        maskChannel = 0;
        knownChannelBits = 0;
    }

    private int resetTo(int x, long h) {
        resets++;
        forget();
        anchor(x, h);
        return RESET_INCONSISTENT;
    }

    /** Learns from {@code x = lastMessageField} advanced by {@code delta} (1..2^32-1) messages; false if impossible. */
    private boolean learnSameChannel(int x, int delta) {
        final int d = lastMessageField ^ x;
        final int carryIn = d ^ delta;          // bit i: carry into bit i
        final int carryOut = carryIn >>> 1;     // bit i: carry out of bit i (out of bit 31 must be 0: no overflow)
        if ((carryIn & 1) != 0) {
            return false;                       // nothing carries into bit 0
        }
        if (((carryOut ^ delta) & ~d) != 0) {
            return false;                       // where bit i did not flip, carry out must equal delta_i
        }
        // Where bit i flipped, carry out = m_i, so M_i = x_last_i XOR carryOut_i.
        final int learned = lastMessageField ^ carryOut;
        if (((learned ^ maskMessage) & d & knownMessageBits) != 0) {
            return false;                       // contradicts a mask bit learned earlier
        }
        maskMessage = (maskMessage & ~d) | (learned & d);
        knownMessageBits |= d;
        return true;
    }

    /** Checks that the channel field moved by exactly +1 of the counter and learns the bits that carry touched. */
    private boolean learnChannelBump(long h) {
        final long d = lastChannelField ^ h;
        if (d == 0 || (d & (d + 1)) != 0) {
            return false;                       // c XOR (c + 1) is always 2^(t+1) - 1
        }
        final long oldCounterBits = d >>> 1;    // old counter: ones below the top flipped bit, zero at it
        final long learned = lastChannelField ^ oldCounterBits;
        if (((learned ^ maskChannel) & d & knownChannelBits) != 0) {
            return false;
        }
        maskChannel = (maskChannel & ~d) | (learned & d);
        knownChannelBits |= d;
        return true;
    }

    /** After a restart the counter is in {@code [1, delta]}: its bits at and above delta's bit length are zero. */
    private boolean learnRestart(int x, long delta) {
        if (delta == 1) {
            final int mask = x ^ 1;
            if (((mask ^ maskMessage) & knownMessageBits) != 0) {
                return false;
            }
            maskMessage = mask;
            knownMessageBits = -1;
            return true;
        }
        final int bitLength = 64 - Long.numberOfLeadingZeros(delta);
        if (bitLength >= 32) {
            return true;                        // nothing constrained
        }
        final int zeroBits = -1 << bitLength;
        if (((x ^ maskMessage) & zeroBits & knownMessageBits) != 0) {
            return false;
        }
        maskMessage = (maskMessage & ~zeroBits) | (x & zeroBits);
        knownMessageBits |= zeroBits;
        if (knownMessageBits == -1) {
            final long m = Integer.toUnsignedLong(x ^ maskMessage);
            return m >= 1 && m <= delta;
        }
        return true;
    }
}
