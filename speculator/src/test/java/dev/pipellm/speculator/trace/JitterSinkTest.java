package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JitterSinkTest {
    private static final class Counts implements TraceSink {
        long weights, inputs, extras, writes;

        @Override
        public void onEvent(int type, int direction, long host, long device, long bytes, int stream, int thread,
                            int copyClass) {
            if (type == EventType.HOST_WRITE && host == JitterSink.EXTRA_HOST) writes++;
            if (type != EventType.COPY || direction != CopyDirection.H2D) return;
            if (host == JitterSink.EXTRA_HOST) extras++;
            else if (copyClass == CopyClass.INPUT) inputs++;
            else weights++;
        }
    }

    private static Counts feed(double rate) {
        final Counts c = new Counts();
        final JitterSink j = new JitterSink(c, rate, 5);
        for (int i = 0; i < 10_000; i++) {
            j.onEvent(EventType.COPY, CopyDirection.H2D, 0x1000 + i * 4096L, 0, 1 << 20, 1, 1, CopyClass.WEIGHT);
            if (i % 10 == 0) j.onEvent(EventType.COPY, CopyDirection.H2D, 0x9000, 0, 8, 0, 1, CopyClass.INPUT);
        }
        return c;
    }

    @Test
    void shouldAddExtraFreshCopiesAndDropInputsAtTheRate() {
        final Counts c = feed(0.02);
        assertEquals(10_000, c.weights, "every copy of the trace is kept");
        assertTrue(c.extras > 150 && c.extras < 300, "about 2% of 11,000 copies get an extra one: " + c.extras);
        assertEquals(c.extras, c.writes, "each extra copy carries fresh data");
        assertTrue(c.inputs > 960 && c.inputs < 1000, "about 2% of 1,000 inputs left out: " + c.inputs);
    }

    @Test
    void shouldPassATraceThroughUnchangedWithoutJitter() {
        final Counts c = feed(0);
        assertEquals(10_000, c.weights);
        assertEquals(1_000, c.inputs);
        assertEquals(0, c.extras);
        assertThrows(IllegalArgumentException.class, () -> new JitterSink(c, 1.5, 1));
    }
}
