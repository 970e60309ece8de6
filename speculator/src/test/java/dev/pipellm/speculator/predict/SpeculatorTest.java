package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpeculatorTest {
    private static final long MB = 1 << 20;

    private static void h2d(Speculator s, long host, long bytes, int stream) {
        s.onEvent(EventType.COPY, CopyDirection.H2D, host, 0, bytes, stream, 0);
    }

    /** A speculator that has seen three tokens of {@code layers} weight copies of 3.5 MiB each. */
    private static Speculator streamingWeights(int layers) {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < layers; i++) {
                h2d(s, 0x7f00_0000_0000L + i * 0x1000_0000L, 3 * MB + MB / 2, 1);
            }
        }
        return s;
    }

    @Test
    void shouldChooseRepeatingAndSplitByChunkWhenWeightsStream() {
        final Speculator s = streamingWeights(6);
        final PredictionBuffer out = s.newPredictionBuffer();
        final int messages = s.predict(out);
        assertEquals(Speculator.REPEATING, s.chosenPredictor());
        assertTrue(messages >= 4);
        final PredictedMessage m = out.message(3);
        assertEquals(0x7f00_0000_0000L + 3 * MB, m.hostAddress());
        assertEquals(MB / 2, m.length());
        assertTrue(m.dataKnown());
        assertTrue(m.confidence() > 0.5f);
        assertEquals(0, m.gapBefore());
    }

    @Test
    void shouldPredictOnlyAsManyCopiesAndMessagesAsAskedForTheSameFirstCopies() {
        final Speculator s = streamingWeights(12);
        final PredictionBuffer all = s.newPredictionBuffer();
        final PredictionBuffer few = s.newPredictionBuffer();
        s.predict(all);
        assertTrue(all.copyCount() > 8, "the unbounded query fills more than 8 copies");
        s.predict(few, 3, Integer.MAX_VALUE);
        assertEquals(3, few.copyCount());
        for (int c = 0; c < 3; c++) {
            assertEquals(all.copyHost(c), few.copyHost(c));
            assertEquals(all.copyBytes(c), few.copyBytes(c));
            assertEquals(all.copyConfidence(c), few.copyConfidence(c));
        }
        assertEquals(Math.min(all.plannableMessages(), few.messageCount()),
                Math.min(few.plannableMessages(), few.messageCount()), "the same depth for what both hold");
        s.predict(few, 100, 6);   // 4 messages a copy: the second copy reaches the limit
        assertTrue(few.messageCount() <= 8 && few.copyCount() <= 2,
                few.copyCount() + " copies, " + few.messageCount() + " messages");
    }

    @Test
    void shouldMarkCopyFreshWhenTheCpuWroteItsSourceSinceTheLastCopy() {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        for (int round = 0; round < 3; round++) {
            h2d(s, 0x1000_0000L, 8 * MB, 0);
            s.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, 0x9000, 0, 64, -1, 0);
            h2d(s, 0x9000, 64, 0);
        }
        final PredictionBuffer out = s.newPredictionBuffer();
        s.predict(out);
        assertTrue(out.copyDataKnown(0));
        assertFalse(out.copyDataKnown(1), "the CPU rewrites the 64-byte buffer before every copy");
    }

    @Test
    void shouldMarkCopyFreshWhenTheCpuWroteInsideItsSourceAwayFromItsStart() {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        for (int round = 0; round < 3; round++) {
            h2d(s, 0x1000_0000L, 8 * MB, 0);
            // the CPU rewrites 4 KiB in the middle of the 1 MiB buffer copied next (a block table, a mask row)
            s.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, 0x2000_0000L + 300_000, 0, 4096, -1, 0);
            h2d(s, 0x2000_0000L, MB, 0);
        }
        final PredictionBuffer out = s.newPredictionBuffer();
        s.predict(out);
        assertTrue(out.copyDataKnown(0));
        assertFalse(out.copyDataKnown(1), "a write inside the buffer makes its copy fresh");
    }

    @Test
    void shouldKeepACopyKnownWhenTheCpuWroteElsewhere() {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        for (int round = 0; round < 3; round++) {
            h2d(s, 0x1000_0000L, 8 * MB, 0);
            s.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, 0x2000_0000L + MB, 0, 4096, -1, 0);   // just past it
            h2d(s, 0x2000_0000L, MB, 0);
        }
        final PredictionBuffer out = s.newPredictionBuffer();
        s.predict(out);
        assertTrue(out.copyDataKnown(1), "the write ends outside [start, start + 1 MiB)");
    }

    @Test
    void shouldAnswerWithHintsExactlyWhenAFrameworkGivesThem() {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        s.hint(0x4000_0000L, 2 * MB);
        s.hint(0x5000_0000L, MB);
        final PredictionBuffer out = s.newPredictionBuffer();
        assertEquals(3, s.predict(out));
        assertEquals(Speculator.HINTS, s.chosenPredictor());
        assertEquals(1f, out.copyConfidence(0));
        h2d(s, 0x4000_0000L, 2 * MB, 0);
        s.predict(out);
        assertEquals(0x5000_0000L, out.copyHost(0));
        s.clearHints();
        s.predict(out);
        assertTrue(out.copyCount() == 0 || out.copyPredictor(0) != Speculator.HINTS);
    }

    @Test
    void shouldSwitchToSwapBackWhenASwapInBegins() {
        final Speculator s = new Speculator(SpeculatorConfig.defaults());
        final long block = 163_840;
        for (int row = 0; row < 8; row++) {
            for (int b = 0; b < 4; b++) {
                s.onEvent(EventType.COPY, CopyDirection.D2H, 0x7f00_0000_0000L + row * 0x100_0000L + b * block,
                        0, block, 0, 0);
            }
        }
        for (int step = 0; step < 5; step++) {
            s.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, 0x9000, 0, 64, -1, 0);
            h2d(s, 0x9000, 64, 0);
        }
        for (int b = 0; b < 4; b++) {
            h2d(s, 0x7f00_0000_0000L + b * block, block, 0);
        }
        h2d(s, 0x7f00_0000_0000L + 0x100_0000L, block, 0);
        final PredictionBuffer out = s.newPredictionBuffer();
        s.predict(out);
        assertEquals(Speculator.SWAP_BACK, s.chosenPredictor());
        assertEquals(0x7f00_0000_0000L + 0x100_0000L + block, out.copyHost(0));
        assertEquals(27, out.copyCount());
    }

    @Test
    void shouldRejectSettingsWithAMessageNamingTheKey() {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SpeculatorConfig.builder().streamBuckets(3).build());
        assertTrue(e.getMessage().contains("stream_buckets"), e.getMessage());
    }
}
