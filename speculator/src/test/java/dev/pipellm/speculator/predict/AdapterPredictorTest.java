package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static dev.pipellm.speculator.predict.PredictorFixtures.h2d;
import static dev.pipellm.speculator.predict.PredictorFixtures.h2dFresh;
import static dev.pipellm.speculator.predict.PredictorFixtures.predict;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdapterPredictorTest {
    private static final int LAYERS = 8;
    private static final long COPY = 1 << 20;

    private static long home(int adapter, int layer) {
        return 0x7f40_0000_0000L + adapter * 0x1000_0000L + layer * 0x20_0000L;
    }

    /** S-LoRA: load_lora_A then load_lora_B copy each layer's home, twice over. */
    private static void load(AdapterPredictor p, int adapter) {
        load(p, adapter, -1);
    }

    /** The same, with an 8-byte flag from another thread right after layer {@code flagAfter} of the first pass. */
    private static void load(AdapterPredictor p, int adapter, int flagAfter) {
        for (int pass = 0; pass < 2; pass++) {
            for (int l = 0; l < LAYERS; l++) {
                h2d(p, home(adapter, l), COPY);
                if (pass == 0 && l == flagAfter) {
                    h2dFresh(p, 0x7ff0_0000_0000L, 8);
                }
            }
        }
        // the step's inputs end the load (one small copy alone would only pause it)
        h2dFresh(p, 0x9000, 64);
        h2dFresh(p, 0x9040, 32);
    }

    @Test
    void shouldPredictTheRestOfAKnownAdapterWhenItsFirstCopyArrives() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        load(p, 3);
        load(p, 5);
        h2d(p, home(3, 0), COPY);
        final PredictionBuffer b = predict(p, 2 * LAYERS - 1);
        assertEquals(2 * LAYERS - 1, b.copyCount());
        for (int k = 0; k < b.copyCount(); k++) {
            assertEquals(home(3, (k + 1) % LAYERS), b.copyHost(k), "copy " + k);
            assertTrue(b.copyConfidence(k) >= 0.9f);
        }
    }

    @Test
    void shouldLearnTheSlotCountFromHowSoonAdaptersComeBack() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        // Two GPU slots, LRU: 0, 1, 2 evicts 0, then 0 again after two others.
        load(p, 0);
        load(p, 1);
        load(p, 2);
        load(p, 0);
        assertEquals(2, p.slotsEstimate());
    }

    @Test
    void shouldGuessThePopularNonResidentAdapterWithLowConfidenceBeforeALoad() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        for (int round = 0; round < 3; round++) {
            load(p, 7);
            load(p, 1);
            load(p, 2);
        }
        // Slots learnt as 2 (7 came back after two others); resident now: 2, 1. Most popular other: 7.
        final PredictionBuffer b = predict(p, 1);
        assertEquals(home(7, 0), b.copyHost(0));
        assertTrue(b.copyConfidence(0) < 0.5f);
        assertEquals(Speculator.ADAPTER_GUESS, b.copyPredictor(0), "a guess is calibrated apart from the lists");
    }

    @Test
    void shouldFollowTheRestOfALoadAcrossOneSmallCopyInItsMiddle() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        load(p, 3);
        load(p, 5);
        h2d(p, home(3, 0), COPY);
        h2d(p, home(3, 1), COPY);
        h2dFresh(p, 0x7ff0_0000_0000L, 8);   // a flag from another thread
        final PredictionBuffer b = predict(p, 4);
        assertEquals(home(3, 2), b.copyHost(0), "the load goes on where it was");
        assertTrue(b.copyConfidence(0) >= 0.9f);
        assertTrue(b.copyPredictor(0) != Speculator.ADAPTER_GUESS, "followed, not guessed");
    }

    @Test
    void shouldLearnAWholeAdapterWhenOneSmallCopyInterruptsItsFirstLoad() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        load(p, 4, 3);
        load(p, 6);
        h2d(p, home(4, 0), COPY);
        final PredictionBuffer b = predict(p, 2 * LAYERS - 1);
        assertEquals(2 * LAYERS - 1, b.copyCount(), "the copies after the pause belong to the same adapter");
        for (int k = 0; k < b.copyCount(); k++) {
            assertEquals(home(4, (k + 1) % LAYERS), b.copyHost(k), "copy " + k);
        }
    }

    @Test
    void shouldEndALoadAtTwoSmallCopies() {
        final AdapterPredictor p = new AdapterPredictor(64 << 10, 1 << 12, 64);
        load(p, 3);
        load(p, 5);
        h2d(p, home(3, 0), COPY);
        final PredictionBuffer b = predict(p, 64);
        int followed = 0;
        for (int k = 0; k < b.copyCount(); k++) {
            if (b.copyPredictor(k) != Speculator.ADAPTER_GUESS) {
                assertEquals(home(3, (k + 1) % LAYERS), b.copyHost(k), "copy " + k);
                followed++;
            }
        }
        assertEquals(2 * LAYERS - 1, followed, "adapter 5's copies are not part of adapter 3's list");
    }
}
