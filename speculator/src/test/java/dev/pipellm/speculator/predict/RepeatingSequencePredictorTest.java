package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static dev.pipellm.speculator.predict.PredictorFixtures.h2d;
import static dev.pipellm.speculator.predict.PredictorFixtures.h2dFresh;
import static dev.pipellm.speculator.predict.PredictorFixtures.predict;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepeatingSequencePredictorTest {
    private static final long MB = 1 << 20;

    private static long weight(int i) {
        return 0x7f00_0000_0000L + i * 0x1000_0000L;
    }

    private static void cycle(RepeatingSequencePredictor p, int from, int to) {
        for (int i = from; i < to; i++) {
            h2d(p, weight(i), 100 * MB + i);
        }
    }

    @Test
    void shouldPredictTheRestOfThePeriodWhenSequenceRepeats() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        cycle(p, 0, 10);
        cycle(p, 0, 3);
        assertTrue(p.locked());
        assertEquals(10, p.period());
        final PredictionBuffer b = predict(p, 12);
        for (int k = 0; k < 12; k++) {
            final int i = (3 + k) % 10;
            assertEquals(weight(i), b.copyHost(k), "copy " + k);
            assertEquals(100 * MB + i, b.copyBytes(k));
            assertTrue(b.copyDataKnown(k));
        }
    }

    @Test
    void shouldPredictFreshSmallCopyAsSizeKnownReservationWhenItInterleavesEveryPeriod() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        for (int period = 0; period < 3; period++) {
            cycle(p, 0, 5);
            h2dFresh(p, 0x5000 + period * 64, 16); // token ids: new buffer, CPU-written each time
            cycle(p, 5, 10);
        }
        cycle(p, 0, 5);
        final PredictionBuffer b = predict(p, 3);
        assertFalse(b.copyDataKnown(0), "token ids are size-known, data-unknown");
        assertEquals(16, b.copyBytes(0));
        assertEquals(weight(5), b.copyHost(1));
        // A fresh copy of another size (prefill vs decode) keeps the lock.
        h2dFresh(p, 0x9000, 2048);
        assertEquals(weight(5), predict(p, 1).copyHost(0));
    }

    @Test
    void shouldPredictARelayThatGrowsByTheSameStepEveryPeriodAtItsNextSize() {
        // FlexGen with the KV cache on the CPU: per layer a weight copy, then the K/V prefix through a relay
        // buffer the CPU fills right before the copy, one token (here 458,752 B) longer every step.
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        final long relay = 0x7f80_0000_0000L;
        final long step = 458_752;
        for (int token = 0; token < 4; token++) {
            for (int l = 0; l < 3; l++) {
                h2d(p, weight(l), 16 * MB);
                h2dFresh(p, relay + l * 0x1000_0000L, 20 * MB + token * step);
            }
        }
        h2d(p, weight(0), 16 * MB);
        assertTrue(p.locked());
        final PredictionBuffer b = predict(p, 11);
        assertFalse(b.copyDataKnown(0));
        assertEquals(20 * MB + 4 * step, b.copyBytes(0), "layer 0's relay, one token longer than last time");
        assertEquals(16 * MB, b.copyBytes(1));
        assertEquals(20 * MB + 4 * step, b.copyBytes(2), "layer 1's relay");
        assertEquals(20 * MB + 5 * step, b.copyBytes(6), "a period further: two tokens longer");
    }

    @Test
    void shouldKeepARelaysLastSizeWhenItDidNotGrowSteadily() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        final long relay = 0x7f80_0000_0000L;
        final long[] sizes = {20 * MB, 21 * MB, 23 * MB};
        for (long size : sizes) {
            h2d(p, weight(0), 16 * MB);
            h2dFresh(p, relay, size);
        }
        h2d(p, weight(0), 16 * MB);
        final PredictionBuffer b = predict(p, 1);
        assertEquals(23 * MB, b.copyBytes(0));
    }

    @Test
    void shouldSkipAheadWhenExpectedCopiesAreMissing() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        cycle(p, 0, 10);
        cycle(p, 0, 10);
        cycle(p, 0, 2);
        h2d(p, weight(4), 100 * MB + 4); // 2 and 3 skipped this time
        assertTrue(p.locked());
        assertEquals(weight(5), predict(p, 1).copyHost(0));
    }

    @Test
    void shouldPredictExactlyAgainOnePeriodAfterThePeriodChanged() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        cycle(p, 0, 10);
        cycle(p, 0, 10);
        // Batch change: the period grows by three copies (e.g. another code path).
        for (int round = 0; round < 2; round++) {
            cycle(p, 0, 6);
            cycle(p, 100, 103);
            cycle(p, 6, 10);
        }
        cycle(p, 0, 1);
        assertEquals(13, p.period());
        final PredictionBuffer b = predict(p, 13);
        final int[] expected = {1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8, 9, 0};
        for (int k = 0; k < expected.length; k++) {
            assertEquals(weight(expected[k]), b.copyHost(k), "copy " + k);
        }
    }

    @Test
    void shouldNotExtendBeyondThePeriodConfidentlyWhenSeenOnlyTwice() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        cycle(p, 0, 8);
        cycle(p, 0, 8);
        final PredictionBuffer b = predict(p, 16);
        assertTrue(b.copyConfidence(0) > 0.5f);
        assertTrue(b.copyConfidence(8) < 0.5f, "a list copied twice (S-LoRA) is not yet a cycle");
    }

    @Test
    void shouldStayUnlockedWhenNothingRepeats() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        cycle(p, 0, 50);
        assertFalse(p.locked());
        assertEquals(0, predict(p, 4).copyCount());
    }

    @Test
    void shouldKeepTheLockAndReserveTheForkWhenAnotherExpertReplacesOne() {
        final RepeatingSequencePredictor p = new RepeatingSequencePredictor(1024);
        final long expertA = 0x6000_0000_0000L;
        final long expertB = 0x6100_0000_0000L;
        // period: weights 0-3, an expert (A or B, same size), weights 4-7
        for (int period = 0; period < 4; period++) {
            cycle(p, 0, 4);
            h2d(p, period == 1 ? expertB : expertA, 64 * MB);
            cycle(p, 4, 8);
        }
        cycle(p, 0, 4);
        h2d(p, expertB, 64 * MB);   // the other branch this time
        assertTrue(p.locked());
        PredictionBuffer b = predict(p, 4);
        assertEquals(weight(4), b.copyHost(0), "the period goes on after the substitution");
        assertTrue(b.copyDataKnown(0));
        cycle(p, 4, 8);
        cycle(p, 0, 4);
        b = predict(p, 2);
        assertEquals(64 * MB, b.copyBytes(0));
        assertFalse(b.copyDataKnown(0), "a fork is reserved by size, not pre-encrypted");
        assertEquals(weight(4), b.copyHost(1));
        assertTrue(b.copyDataKnown(1));
    }
}
