package dev.pipellm.speculator.event;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Preallocated single-producer ring of events laid out as a struct of arrays. The agent's copy hook records into
 * it ({@link #onEvent}: a handful of array stores and one release store, no allocation, no lock, never blocks);
 * the planner thread drains it into the {@code Speculator} ({@link #drainTo}).
 *
 * <p>Invariants and memory order:
 * <ul>
 *   <li>Exactly one thread records (the producer); exactly one thread drains (the consumer). Both may be the
 *       same thread.</li>
 *   <li>The producer fills slot {@code seq & mask} and then publishes {@code seq + 1} with a release store of
 *       {@code published}; the consumer reads {@code published} with an acquire load before reading slots.</li>
 *   <li>The producer never waits. If the consumer falls more than {@code capacity} events behind, the oldest
 *       events are overwritten: the consumer detects it (its sequence fell out of the window, re-checked after
 *       copying a slot, seqlock style), counts them in {@link #lostEvents()} and resumes at the oldest intact
 *       event. A lost event costs prediction accuracy, never correctness: the pipeline validates every commit.</li>
 * </ul>
 */
public final class EventRing extends EventRingConsumerFields implements EventSink {
    private static final VarHandle PUBLISHED;

    static {
        try {
            PUBLISHED = MethodHandles.lookup().findVarHandle(EventRingProducerFields.class, "published", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int mask;
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

    /** Producer side: records one event. Allocation-free, wait-free. */
    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread) {
        final long seq = producerSequence;
        final int i = (int) seq & mask;
        this.type[i] = type;
        this.direction[i] = direction;
        this.hostAddress[i] = hostAddress;
        this.deviceAddress[i] = deviceAddress;
        this.bytes[i] = bytes;
        this.stream[i] = stream;
        this.thread[i] = thread;
        producerSequence = seq + 1;
        // Pairs with the getAcquire in drainTo: the slot stores above happen-before the consumer's reads.
        PUBLISHED.setRelease(this, seq + 1);
    }

    /** Number of events ever recorded (acquire read; any thread). */
    public long publishedCount() {
        return (long) PUBLISHED.getAcquire(this);
    }

    /** Events the consumer lost because the producer lapped it. Consumer thread only. */
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
        while (delivered < maxEvents) {
            // Pairs with the setRelease in onEvent.
            final long available = (long) PUBLISHED.getAcquire(this);
            if (next >= available) {
                break;
            }
            if (available - next > capacity()) {
                final long oldest = available - capacity();
                lost += oldest - next;
                next = oldest;
            }
            final int i = (int) next & mask;
            final int t = type[i];
            final int d = direction[i];
            final long h = hostAddress[i];
            final long dev = deviceAddress[i];
            final long b = bytes[i];
            final int s = stream[i];
            final int th = thread[i];
            // Seqlock re-check: if the producer lapped slot i while we copied it, the copy may be torn.
            if ((long) PUBLISHED.getAcquire(this) - next > capacity()) {
                continue;
            }
            next++;
            sink.onEvent(t, d, h, dev, b, s, th);
            delivered++;
        }
        consumed = next;
        return delivered;
    }
}

/** Left padding: keeps the producer's hot fields off the cache line of the object header and array refs. */
abstract class EventRingLhsPadding {
    long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;
}

/** Written by the producer only. */
abstract class EventRingProducerFields extends EventRingLhsPadding {
    /** Producer-private copy of the next sequence (plain). */
    long producerSequence;
    /** Next sequence to be published; written with setRelease by the producer, read with getAcquire. */
    volatile long published;
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
