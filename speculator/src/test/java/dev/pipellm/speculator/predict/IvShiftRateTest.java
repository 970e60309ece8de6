package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IvShiftRateTest {
    @Test
    void shouldAllowAnyDepthUntilAnUnpredictedMessageSlipsIn() {
        final IvShiftRate r = new IvShiftRate(4096);
        for (int i = 0; i < 100; i++) {
            r.onPredictedCopy(0, 16);
        }
        assertEquals(Long.MAX_VALUE, r.depthFor(0.95f));
    }

    @Test
    void shouldBoundTheDepthSoThatSlotsSurviveTheMeasuredShiftRate() {
        final IvShiftRate r = new IvShiftRate(1 << 20);
        for (int i = 0; i < 1000; i++) {
            r.onPredictedCopy(i % 50 == 0 ? 1 : 0, 16);   // one extra message per 50 copies of 16 messages
        }
        // 20 extras in 16,020 messages, after the prior's 128 without one
        assertEquals(20.0 / (16_020 + 128), r.rate(), 1e-6);
        final long d = r.depthFor(0.95f);
        // (1 - r)^d >= 0.95  <=>  d <= ln 0.95 / ln(1 - r) = 41.4
        assertEquals(41, d);
        assertTrue(Math.pow(1 - r.rate(), d) >= 0.95 - 1e-3);
    }

    @Test
    void shouldNotReadOneEarlyExtraAsARateOfOneInAFewDozen() {
        final IvShiftRate r = new IvShiftRate(4096);
        r.onPredictedCopy(1, 49);   // while a loop is still being learnt
        // 1 in 50 would allow 2 messages; with the prior, 1 in 178: 9
        assertEquals(9, r.depthFor(0.95f));
    }

    @Test
    void shouldForgetOldJitterWithItsHalfLife() {
        final IvShiftRate r = new IvShiftRate(64);
        r.onPredictedCopy(10, 10);
        final double before = r.rate();
        for (int i = 0; i < 100; i++) {
            r.onPredictedCopy(0, 16);
        }
        assertTrue(r.rate() < before / 100, "rate " + r.rate());
        assertThrows(IllegalArgumentException.class, () -> new IvShiftRate(4));
    }
}
