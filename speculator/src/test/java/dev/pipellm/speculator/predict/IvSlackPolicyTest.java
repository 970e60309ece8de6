package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IvSlackPolicyTest {
    @Test
    void shouldLeaveNoGapWhenNothingInterleaves() {
        final IvSlackPolicy s = new IvSlackPolicy(64, 32, 1024);
        for (int i = 0; i < 100; i++) {
            s.onPredictedCopy(0);
        }
        assertEquals(0, s.gapBeforePredictedCopy());
    }

    @Test
    void shouldLeaveRoomForTheUsualInterleavingWhenItIsRegular() {
        final IvSlackPolicy s = new IvSlackPolicy(64, 32, 1024);
        for (int i = 0; i < 100; i++) {
            s.onPredictedCopy(i % 2 == 0 ? 2 : 3);
        }
        assertEquals(3, s.gapBeforePredictedCopy());
    }

    @Test
    void shouldNotPayNopsForRareBurstsWhenARelinquishIsCheaper() {
        final IvSlackPolicy s = new IvSlackPolicy(64, 32, 1024);
        for (int i = 0; i < 1000; i++) {
            s.onPredictedCopy(i % 100 == 0 ? 20 : 0);
        }
        // Covering the 1% bursts costs 20 NOPs on 99% of copies; relinquishing costs 32 on 1%.
        assertEquals(0, s.gapBeforePredictedCopy());
    }
}
