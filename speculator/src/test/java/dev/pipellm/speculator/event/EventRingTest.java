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
    void shouldRejectCapacityWhenBelowTwo() {
        assertThrows(IllegalArgumentException.class, () -> new EventRing(1));
    }
}
