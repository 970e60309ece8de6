package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import static dev.pipellm.speculator.predict.PredictorFixtures.h2d;
import static dev.pipellm.speculator.predict.PredictorFixtures.predict;
import static org.junit.jupiter.api.Assertions.assertEquals;

class HintPredictorTest {
    @Test
    void shouldPredictHintsInOrderWithFullConfidenceAndConsumeThemWhenCopied() {
        final HintPredictor p = new HintPredictor(16);
        p.onEvent(EventType.HINT, 0x1000, 100);
        p.onEvent(EventType.HINT, 0x2000, 200);
        p.onEvent(EventType.HINT, 0x3000, 300);
        h2d(p, 0x7777, 8); // interleaved extra: hints stay
        assertEquals(3, p.pending());
        h2d(p, 0x1000, 100);
        final PredictionBuffer b = predict(p, 4);
        assertEquals(2, b.copyCount());
        assertEquals(0x2000, b.copyHost(0));
        assertEquals(1f, b.copyConfidence(0));
    }

    @Test
    void shouldDropSkippedHintsWhenALaterHintIsCopied() {
        final HintPredictor p = new HintPredictor(16);
        p.onEvent(EventType.HINT, 0x1000, 100);
        p.onEvent(EventType.HINT, 0x2000, 200);
        p.onEvent(EventType.HINT, 0x3000, 300);
        h2d(p, 0x2000, 200);
        assertEquals(1, p.pending());
        assertEquals(0x3000, predict(p, 1).copyHost(0));
    }

    @Test
    void shouldForgetAllHintsWhenCleared() {
        final HintPredictor p = new HintPredictor(16);
        p.onEvent(EventType.HINT, 0x1000, 100);
        p.onEvent(EventType.HINT_CLEAR, 0, 0);
        assertEquals(0, predict(p, 1).copyCount());
    }
}
