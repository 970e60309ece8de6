package dev.pipellm.speculator.event;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Preallocated many-producer, one-consumer ring of events laid out as a struct of arrays. Any application
 * thread records into it from the agent's hooks ({@link #onEvent}: one atomic claim, a handful of array stores
 * and one release store; no allocation, no lock, never blocks); the planner thread drains it into the
 * {@code Speculator} ({@link #drainTo}).
 *
 * <p>Invariants and memory order:
 * <ul>
 *   <li>Any number of threads record; exactly one thread drains (it may also record).</li>
 *   <li>A producer claims sequence {@code seq} with an atomic add on {@code claimed}, fills slot
 *       {@code seq & mask}, then publishes the slot by a release store of {@code seq + 1} into
 *       {@code publishedSeq[slot]}; the consumer reads that with an acquire load before reading the slot, and
 *       again after copying it (seqlock style), so a slot being overwritten is never delivered torn.</li>
 *   <li>Producers never wait. A consumer that falls more than {@code capacity} events behind loses the oldest:
 *       it counts them in {@link #lostEvents()} and resumes at the oldest event still in the ring. A producer
 *       that has claimed a slot but not yet published it holds the consumer back until it does (a few stores);
 *       a lost or reordered event costs prediction accuracy, never correctness: the pipeline validates every
 *       commit.</li>
 * </ul>
 */
public final class EventRing extends EventRingConsumerFields implements EventSink {
    private static final VarHandle CLAIMED;
    private static final VarHandle SEQ = MethodHandles.arrayElementVarHandle(long[].class);

    static {
        try {
            CLAIMED = MethodHandles.lookup().findVarHandle(EventRingProducerFields.class, "claimed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int mask;
    /** publishedSeq[i] = seq + 1 of the event slot i holds (0: never written). */
    private final long[] publishedSeq;
    private final int[] type;
    private final int[] direction;
    private final long[] hostAddress;
    private final long[] deviceAddress;
    private final long[] bytes;
    private final int[] stream;
    private final int[] thread;

    /** @param capacity number of events kept; rounded up to a power of two, at least 2 */
    public EventRing(int capacity) {
        if (capacity < 2 || capacity > (1 << 28)) {
            throw new IllegalArgumentException("event ring capacity must be in [2, 2^28], got " + capacity);
        }
        int size = Integer.highestOneBit(capacity - 1) << 1;
        this.mask = size - 1;
        this.publishedSeq = new long[size];
        this.type = new int[size];
        this.direction = new int[size];
        this.hostAddress = new long[size];
        this.deviceAddress = new long[size];
        this.bytes = new long[size];
        this.stream = new int[size];
        this.thread = new int[size];
    }

    public int capacity() {
        return mask + 1;
    }

    /** Producer side, any thread: records one event. Allocation-free, wait-free. */
    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread) {
        final long seq = (long) CLAIMED.getAndAdd(this, 1L);
        final int i = (int) seq & mask;
        // Invalidate first: a consumer copying this slot for an older sequence must see the re-check fail.
        SEQ.setRelease(publishedSeq, i, 0L);
        this.type[i] = type;
        this.direction[i] = direction;
        this.hostAddress[i] = hostAddress;
        this.deviceAddress[i] = deviceAddress;
        this.bytes[i] = bytes;
        this.stream[i] = stream;
        this.thread[i] = thread;
        // Pairs with the getAcquire in drainTo: the slot stores above happen-before the consumer's reads.
        SEQ.setRelease(publishedSeq, i, seq + 1);
    }

    /** Number of events ever claimed by producers (acquire read; any thread). */
    public long publishedCount() {
        return (long) CLAIMED.getAcquire(this);
    }

    /** Events the consumer lost because producers lapped it. Consumer thread only. */
    public long lostEvents() {
        return lost;
    }

    /**
     * Consumer side: hands up to {@code maxEvents} recorded, not yet drained events to {@code sink}, oldest first.
     * Allocation-free. Returns the number of events delivered.
     */
    public int drainTo(EventSink sink, int maxEvents) {
        long next = consumed;
        int delivered = 0;
        final long size = capacity();
        while (delivered < maxEvents) {
            final long claimed = (long) CLAIMED.getAcquire(this);
            if (next >= claimed) {
                break;
            }
            if (claimed - next > size) {
                final long oldest = claimed - size;
                lost += oldest - next;
                next = oldest;
            }
            final int i = (int) next & mask;
            final long s = (long) SEQ.getAcquire(publishedSeq, i);
            if (s != next + 1) {
                if (s > next + 1) {
                    continue;   // lapped while we looked: the window check above moves us on
                }
                break;          // claimed, not yet published: come back on the next drain
            }
            final int t = type[i];
            final int d = direction[i];
            final long h = hostAddress[i];
            final long dev = deviceAddress[i];
            final long b = bytes[i];
            final int st = stream[i];
            final int th = thread[i];
            // Seqlock re-check: if a producer reclaimed slot i while we copied it, the copy may be torn.
            if ((long) SEQ.getAcquire(publishedSeq, i) != next + 1) {
                continue;
            }
            next++;
            sink.onEvent(t, d, h, dev, b, st, th);
            delivered++;
        }
        consumed = next;
        return delivered;
    }
}

/** Left padding: keeps the producers' hot field off the cache line of the object header and array refs. */
abstract class EventRingLhsPadding {
    long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;
}

/** Written by producers only. */
abstract class EventRingProducerFields extends EventRingLhsPadding {
    /** Next sequence to be claimed; atomically incremented by each producer. */
    volatile long claimed;
}

/** Separates producer and consumer fields by 128 bytes (two cache lines, adjacent-line prefetch). */
abstract class EventRingMidPadding extends EventRingProducerFields {
    long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
}

/** Written by the consumer only. */
abstract class EventRingConsumerFields extends EventRingMidPadding {
    long consumed;
    long lost;
}
