package dev.pipellm.speculator.event;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EventRingTest {
    private static List<long[]> drainAll(EventRing ring) {
        final List<long[]> got = new ArrayList<>();
        ring.drainTo((t, d, h, dev, b, s, th) -> got.add(new long[] {t, d, h, dev, b, s, th}), Integer.MAX_VALUE);
        return got;
    }

    @Test
    void shouldDeliverEveryFieldInOrderWhenDrained() {
        final EventRing ring = new EventRing(8);
        ring.onEvent(EventType.COPY, CopyDirection.H2D, 0x1000, 0x2000, 4096, 7, 3);
        ring.onEvent(EventType.SYNC, CopyDirection.NONE, 0, 0, 0, -1, 3);
        final List<long[]> got = drainAll(ring);
        assertEquals(2, got.size());
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                new long[] {EventType.COPY, CopyDirection.H2D, 0x1000, 0x2000, 4096, 7, 3}, got.get(0));
        assertEquals(EventType.SYNC, got.get(1)[0]);
        assertEquals(0, drainAll(ring).size());
    }

    @Test
    void shouldCountLostEventsAndResumeAtOldestWhenProducerLapsConsumer() {
        final EventRing ring = new EventRing(4);
        for (int i = 0; i < 10; i++) {
            ring.onEvent(EventType.COPY, CopyDirection.H2D, i, 0, 1, 0, 0);
        }
        final List<long[]> got = drainAll(ring);
        assertEquals(4, got.size());
        assertEquals(6, got.get(0)[2]);
        assertEquals(9, got.get(3)[2]);
        assertEquals(6, ring.lostEvents());
    }

    @Test
    void shouldStopAtMaxEventsWhenDrainingInSlices() {
        final EventRing ring = new EventRing(16);
        for (int i = 0; i < 5; i++) {
            ring.onEvent(EventType.COPY, CopyDirection.H2D, i, 0, 1, 0, 0);
        }
        assertEquals(3, ring.drainTo((t, d, h, dev, b, s, th) -> { }, 3));
        assertEquals(2, ring.drainTo((t, d, h, dev, b, s, th) -> { }, 3));
        assertEquals(5, ring.publishedCount());
    }

    @Test
    void shouldDeliverEveryEventOfEveryProducerInProducerOrderWhenThreadsRecordConcurrently() throws Exception {
        final int producers = 4;
        final int perProducer = 50_000;
        final EventRing ring = new EventRing(1 << 20);
        final Thread[] threads = new Thread[producers];
        for (int p = 0; p < producers; p++) {
            final int id = p;
            threads[p] = new Thread(() -> {
                for (int i = 0; i < perProducer; i++) {
                    ring.onEvent(EventType.COPY, CopyDirection.H2D, i, id, i * 7L, id, id);
                }
            });
        }
        final long[] nextOf = new long[producers];
        final long[] delivered = new long[1];
        final boolean[] torn = new boolean[1];
        final EventSink check = (t, d, h, dev, b, s, th) -> {
            // every field of an event comes from the same onEvent call, and each producer's events in order
            if (dev != th || s != th || b != h * 7 || h != nextOf[th]) torn[0] = true;
            nextOf[th] = h + 1;
            delivered[0]++;
        };
        for (Thread t : threads) t.start();
        while (delivered[0] < (long) producers * perProducer) {
            ring.drainTo(check, 1024);
        }
        for (Thread t : threads) t.join();
        assertEquals((long) producers * perProducer, delivered[0]);
        assertEquals(0, ring.lostEvents());
        org.junit.jupiter.api.Assertions.assertFalse(torn[0], "an event was torn or out of its producer's order");
    }

    @Test
    void shouldNeverDeliverTornEventsWhenProducersLapTheConsumer() throws Exception {
        final EventRing ring = new EventRing(64);
        final Thread[] threads = new Thread[3];
        final boolean[] stop = new boolean[1];
        for (int p = 0; p < threads.length; p++) {
            final int id = p;
            threads[p] = new Thread(() -> {
                for (long i = 0; i < 200_000; i++) {
                    ring.onEvent(EventType.COPY, CopyDirection.H2D, i, i ^ 0x5555, i * 3, id, id);
                }
            });
            threads[p].start();
        }
        final boolean[] torn = new boolean[1];
        final long[] seen = new long[1];
        final EventSink check = (t, d, h, dev, b, s, th) -> {
            if (dev != (h ^ 0x5555) || b != h * 3 || s != th) torn[0] = true;
            seen[0]++;
        };
        boolean alive = true;
        while (alive) {
            ring.drainTo(check, 16);
            alive = false;
            for (Thread t : threads) alive |= t.isAlive();
        }
        ring.drainTo(check, Integer.MAX_VALUE);
        org.junit.jupiter.api.Assertions.assertFalse(torn[0], "a torn event was delivered");
        assertEquals(3 * 200_000L, seen[0] + ring.lostEvents(), "every event is delivered or counted lost");
    }

    @Test
    void shouldRejectCapacityWhenBelowTwo() {
        assertThrows(IllegalArgumentException.class, () -> new EventRing(1));
    }
}
