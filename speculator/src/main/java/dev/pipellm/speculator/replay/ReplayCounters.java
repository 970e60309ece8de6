package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.trace.CopyClass;

/** What the pipeline model observed over (part of) a replay. Plain counters; single-threaded. */
public final class ReplayCounters {
    public long h2dCopies;
    public long h2dMessages;
    public long h2dBytes;
    /** Real messages that matched the head slot of the window (pre-encrypted, or a size-known reservation). */
    public long headHitMessages;
    public long headHitBytes;
    /** Real messages committed from a pre-encrypted slot (head or after NOPs): encryption off the critical path. */
    public long coveredMessages;
    public long coveredBytes;
    /** Real messages that took a size-known/data-unknown reservation (slow path, no IV disturbance). */
    public long reservedMessages;
    /** Pre-encrypted slots dropped without commit, and their bytes (wasted encryption). */
    public long relinquishedSlots;
    public long wastedBytes;
    /** Pre-encrypted slots whose plaintext the CPU wrote before commit (caught by validation; also wasted). */
    public long staleSlots;
    /** NOP copies (one IV each) issued to reach a slot's IV. */
    public long nops;
    /** Wasted bytes by the depth (messages ahead) their slot was planned at, in CommitCalibration buckets. */
    public final long[] wastedByPlanDepth = new long[dev.pipellm.speculator.predict.CommitCalibration.DEPTH_BUCKETS];
    public final long[] classBytes = new long[CopyClass.COUNT];
    public final long[] classCoveredBytes = new long[CopyClass.COUNT];
    public final long[] classCopies = new long[CopyClass.COUNT];

    public double coverage() {
        return h2dBytes == 0 ? 0 : (double) coveredBytes / h2dBytes;
    }

    public double classCoverage(int copyClass) {
        return classBytes[copyClass] == 0 ? 0 : (double) classCoveredBytes[copyClass] / classBytes[copyClass];
    }

    /** Wasted encryption as a share of the H2D bytes copied. */
    public double wasteShare() {
        return h2dBytes == 0 ? 0 : (double) wastedBytes / h2dBytes;
    }

    /** NOPs per 100 H2D messages. */
    public double nopsPer100Messages() {
        return h2dMessages == 0 ? 0 : 100.0 * nops / h2dMessages;
    }

    public double headHitMessageRate() {
        return h2dMessages == 0 ? 0 : (double) headHitMessages / h2dMessages;
    }
}
