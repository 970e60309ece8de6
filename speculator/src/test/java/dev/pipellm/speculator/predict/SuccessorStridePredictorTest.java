package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static dev.pipellm.speculator.predict.PredictorFixtures.h2d;
import static dev.pipellm.speculator.predict.PredictorFixtures.predict;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SuccessorStridePredictorTest {
    @Test
    void shouldPredictStrideWhenTheSameStepRepeats() {
        final SuccessorStridePredictor p = new SuccessorStridePredictor(1024);
        for (int i = 0; i < 4; i++) {
            h2d(p, 0x10000 + i * 0x8000L, 0x8000);
        }
        final PredictionBuffer b = predict(p, 3);
        assertEquals(0x10000 + 4 * 0x8000L, b.copyHost(0));
        assertEquals(0x10000 + 6 * 0x8000L, b.copyHost(2));
    }

    @Test
    void shouldFollowTheSuccessorChainWhenItWasSeenBefore() {
        final SuccessorStridePredictor p = new SuccessorStridePredictor(1024);
        final long[] seq = {0x500, 0x9100, 0x2300, 0x7700};
        for (int round = 0; round < 3; round++) {
            for (long h : seq) {
                h2d(p, h, 4096);
            }
        }
        h2d(p, 0x500, 4096);
        final PredictionBuffer b = predict(p, 3);
        assertEquals(0x9100, b.copyHost(0));
        assertEquals(0x2300, b.copyHost(1));
        assertEquals(0x7700, b.copyHost(2));
    }
}
