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
        for (int pass = 0; pass < 2; pass++) {
            for (int l = 0; l < LAYERS; l++) {
                h2d(p, home(adapter, l), COPY);
            }
        }
        h2dFresh(p, 0x9000, 64); // the step's inputs end the load
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
    }
}
