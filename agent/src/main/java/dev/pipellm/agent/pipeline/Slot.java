package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.evp.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One predicted H2D GCM message and, once a worker has made it, its ciphertext (ARCHITECTURE.md
 * section 5). The message is bytes {@code [offset, offset + length)} of the copy of the 2D region
 * {@code (src, spitch, width)} (a 1D copy has {@code spitch == width ==} its size).
 *
 * <pre>
 *   FREE --planner--> PLANNED --worker--> ENCRYPTING --worker--> READY --app thread--> COMMITTING --> FREE
 *     ^                  |                    |                    |
 *     +----planner-------+     planner: DROPPED (worker frees)     +--planner / invalidation--> FREE
 * </pre>
 * Every transition out of a shared state is a CAS, so exactly one thread acts on a slot: the app
 * thread that claims a READY slot owns it until it sets it FREE, and nobody else can free it
 * meanwhile. The fields describing the plan are written by the planner while the slot is FREE, before
 * the release of PLANNED; readers check them after their CAS (a slot may have been reused for
 * another message between their lookup and their CAS).
 *
 * <p>Ciphertext and snapshot live in private off-heap memory ({@link SlotPool}); the ciphertext of a
 * slot that is not committed never leaves it. A write-tracked slot ({@link #tracked}, validate=uffd)
 * leaves its snapshot untouched (its pages are never made resident).
 */
public final class Slot {
    static final int FREE = 0;
    static final int PLANNED = 1;
    static final int ENCRYPTING = 2;
    static final int READY = 3;
    static final int COMMITTING = 4;
    static final int DROPPED = 5;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Slot.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int index;
    /** Capacity of {@link #cipher} and {@link #snapshot}. */
    final int capacity;
    final MemorySegment cipher;
    final MemorySegment snapshot;
    private final long cipherAddress;
    private final long snapshotAddress;
    final byte[] tag = new byte[16];
    final byte[] iv = new byte[12];
    /** The IV's bytes 0..7 and 8..11 in native order, for an allocation-free compare with the driver's. */
    private long ivLow;
    private int ivHigh;

    private volatile int state = FREE;

    Channel channel;
    int epoch;
    long seq;
    long src;
    long spitch;
    long width;
    long offset;
    int length;
    /** Who planned it, in which context, how many messages ahead: its fate is reported to the speculator. */
    int predictor = -1;
    int context;
    int depth;
    /**
     * validate=uffd: the worker armed the source's pages before reading them, kept no snapshot, and
     * the commit checks the page tables (written by the worker before its release of READY).
     */
    boolean tracked;
    /** A write to the source since the arm, reported by another slot's arm (WriteTracking). */
    volatile boolean written;

    Slot(int index, MemorySegment cipher, MemorySegment snapshot) {
        this.index = index;
        this.capacity = (int) cipher.byteSize();
        this.cipher = cipher;
        this.snapshot = snapshot;
        this.cipherAddress = cipher.address();
        this.snapshotAddress = snapshot.address();
    }

    int state() {
        return state;
    }

    boolean cas(int from, int to) {
        return STATE.compareAndSet(this, from, to);
    }

    void set(int to) {
        state = to;
    }

    /**
     * App thread at evp_init: claims this slot if it is READY and is exactly the message (channel,
     * epoch, seq, IV) the driver starts. On success the caller owns it (COMMITTING).
     */
    boolean tryClaim(Channel ch, int chEpoch, long s, long ivAddress) {
        if (state != READY || !cas(READY, COMMITTING)) return false;
        if (channel == ch && epoch == chEpoch && seq == s && ivMatches(ivAddress)) return true;
        set(READY);   // reused for another message between our lookup and our CAS: not ours
        return false;
    }

    private boolean ivMatches(long ivAddress) {
        return NativeMemory.ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, ivAddress) == ivLow
                && NativeMemory.ALL.get(ValueLayout.JAVA_INT_UNALIGNED, ivAddress + 8) == ivHigh;
    }

    /** Sets the IV (planner, while FREE). */
    void setIv(byte[] v) {
        System.arraycopy(v, 0, iv, 0, 12);
        MemorySegment m = MemorySegment.ofArray(iv);
        ivLow = m.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        ivHigh = m.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
    }

    /** The message's length in bytes. */
    public int length() {
        return length;
    }

    /**
     * Whether an update of {@code n} bytes from {@code in} at message position {@code pos} is this
     * slot's next piece of plaintext, unchanged since it was encrypted (commit's check).
     */
    public boolean matchesUpdate(int pos, long in, int n, SlotValidator validator) {
        return pos + n <= length && sourceAt(pos) == in && contiguousAt(pos) >= n && validator.unchanged(this, in, pos, n);
    }

    /** Whether the plaintext of message byte {@code pos} comes from {@code in}. */
    public boolean sourceAddressIs(int pos, long in) {
        return pos < length && sourceAt(pos) == in;
    }

    /** Writes ciphertext bytes {@code [pos, pos + n)} to native {@code out} (commit). */
    public void commitTo(int pos, long out, int n) {
        copyCipher(pos, out, n);
    }

    /** The message's tag. */
    public void tagTo(byte[] dst) {
        System.arraycopy(tag, 0, dst, 0, 16);
    }

    /** Whether the worker kept a plaintext snapshot (else the slot is write-tracked). */
    public boolean hasSnapshot() {
        return !tracked;
    }

    /** Ciphertext bytes {@code [pos, pos + n)}, for a slow-path restart of a tracked slot (decrypted there). */
    public void cipherTo(int pos, byte[] dst, int n) {
        MemorySegment.copy(cipher, ValueLayout.JAVA_BYTE, pos, dst, 0, n);
    }

    /** The slot's IV. */
    public byte[] iv() {
        return iv;
    }

    /** Snapshot bytes {@code [pos, pos + n)} (the plaintext already committed), for a slow-path restart. */
    public void snapshotTo(int pos, byte[] dst, int n) {
        MemorySegment.copy(snapshot, ValueLayout.JAVA_BYTE, pos, dst, 0, n);
    }

    /** Source address of message byte {@code pos}, and how many bytes follow it contiguously (its row). */
    long sourceAt(int pos) {
        long at = offset + pos;
        long row = at / width;
        return src + row * spitch + (at - row * width);
    }

    int contiguousAt(int pos) {
        long at = offset + pos;
        long inRow = width - at % width;
        return (int) Math.min(inRow, length - pos);
    }

    /** Whether the message overlaps host range {@code [lo, hi)}. */
    boolean overlaps(long lo, long hi) {
        long first = sourceAt(0);
        long last = sourceAt(length - 1) + 1;
        return first < hi && lo < last;
    }

    /** Whether {@code n} bytes at {@code in} equal the snapshot at {@code pos} (libc memcmp). */
    boolean sourceUnchanged(long in, int pos, int n) {
        return NativeBytes.equal(in, snapshotAddress + pos, n);
    }

    /** Writes ciphertext bytes {@code [pos, pos + n)} to {@code out}. */
    void copyCipher(int pos, long out, int n) {
        NativeBytes.copy(out, cipherAddress + pos, n);
    }
}
