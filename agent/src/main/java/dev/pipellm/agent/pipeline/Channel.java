package dev.pipellm.agent.pipeline;

import dev.pipellm.crypto.iv.IvSequenceLearner;
import dev.pipellm.crypto.key.GcmKey;
import dev.pipellm.agent.evp.NativeMemory;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One H2D channel as the agent sees it: a key (the driver may drive one channel through several
 * EVP contexts, one per thread). IV order is per channel, so the pipeline's state lives here: the
 * key ({@link GcmKey}, for the workers), the count of messages the driver started on it
 * ({@link #seq}, the app threads' side), the slot window indexed by message sequence, and the IV
 * learner (the planner's side, fed from the events the app threads record).
 *
 * <p>Retiring (the key was replaced: a rotation) bumps {@link #epoch}: no slot planned before can be
 * claimed any more, and the planner drops them.
 */
public final class Channel {
    static final int WINDOW = 1024;
    private static final int MASK = WINDOW - 1;

    final int id;
    private final byte[] key;
    final GcmKey gcmKey;

    /** Messages the driver started on this channel so far; message n (from 1) has sequence n. */
    final AtomicLong seq = new AtomicLong();
    final AtomicReferenceArray<Slot> window = new AtomicReferenceArray<>(WINDOW);
    volatile int epoch;
    volatile boolean retired;

    /** The IV of message {@code s} at index {@code s & MASK}, written by the app thread at its init. */
    private final long[] ivSeq = new long[WINDOW];
    private final long[] ivLow = new long[WINDOW];
    private final int[] ivHigh = new int[WINDOW];

    /** NOP padding (see {@link Padding}). */
    final ReentrantLock padLock = new ReentrantLock();
    volatile boolean padding;
    final AtomicInteger activeCopies = new AtomicInteger();
    /** A NOP issued for this channel went through another one: no more padding here. */
    volatile boolean nopUnreachable;

    // ---- planner thread only
    final IvSequenceLearner learner = new IvSequenceLearner();
    /** Sequence of the last message the learner observed. */
    long learnedSeq;
    /** Messages of copies seen at the CUDA level whose EVP messages have not all been seen yet. */
    long pendingMessages;

    Channel(int id, byte[] key32) {
        this.id = id;
        this.key = key32.clone();
        this.gcmKey = GcmKey.copyOf(key32);
    }

    /** Whether this is the channel of this key (32 bytes). */
    boolean hasKey(byte[] key32) {
        return java.util.Arrays.equals(key, key32);
    }

    /** App thread, at a message's init: the sequence the driver's new message has on this channel. */
    public long nextMessage() {
        return seq.incrementAndGet();
    }

    Slot slotAt(long s) {
        return window.get((int) s & MASK);
    }

    void setSlot(long s, Slot slot) {
        window.set((int) s & MASK, slot);
    }

    void clearSlot(long s, Slot slot) {
        window.compareAndSet((int) s & MASK, slot, null);
    }

    /** App thread, at the init of message {@code s}: keeps its IV for the planner's learner. */
    void noteIv(long s, long ivAddress) {
        int i = (int) s & MASK;
        ivLow[i] = NativeMemory.ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, ivAddress);
        ivHigh[i] = NativeMemory.ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ivAddress + 8);
        ivSeq[i] = s;   // published to the planner by the event ring's release store
    }

    /** Planner: the IV of message {@code s} into {@code out}, false if it was overwritten already. */
    boolean ivOf(long s, byte[] out) {
        int i = (int) s & MASK;
        long lo = ivLow[i];
        int hi = ivHigh[i];
        if (ivSeq[i] != s) return false;
        for (int b = 0; b < 8; b++) out[b] = (byte) (lo >>> (8 * b));
        for (int b = 0; b < 4; b++) out[8 + b] = (byte) (hi >>> (8 * b));
        return true;
    }

    void retire() {
        if (!retired) {
            retired = true;
            epoch++;
        }
    }

    /** Zeroes the key (the channel is gone). */
    void close() {
        java.util.Arrays.fill(key, (byte) 0);
        gcmKey.close();
    }
}
