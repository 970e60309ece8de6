package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class TournamentChooserTest {
    @Test
    void shouldPreferThePredictorThatHitTheLastCopyWhenOthersHaveBetterHistory() {
        final TournamentChooser c = new TournamentChooser(3, 4);
        final boolean[] all = {true, true, true};
        for (int i = 0; i < 20; i++) {
            c.record(1, 0, 0);
            c.record(2, 0, TournamentChooser.MISS);
        }
        assertEquals(1, c.choose(0, all));
        c.record(1, 0, TournamentChooser.MISS);
        c.record(2, 0, 0);
        assertEquals(2, c.choose(0, all));
    }

    @Test
    void shouldKeepTheCurrentPredictorWhileItKeepsHitting() {
        final TournamentChooser c = new TournamentChooser(2, 1);
        final boolean[] all = {true, true};
        c.record(1, 0, 0);
        assertEquals(1, c.choose(0, all));
        for (int i = 0; i < 10; i++) {
            c.record(0, 0, 0);
            c.record(1, 0, 1);
            assertEquals(1, c.choose(0, all), "hysteresis: predictor 1 is still right");
        }
    }

    @Test
    void shouldSkipPredictorsWithoutAnOpinion() {
        final TournamentChooser c = new TournamentChooser(2, 1);
        assertEquals(1, c.choose(0, new boolean[] {false, true}));
        assertEquals(-1, c.choose(0, new boolean[] {false, false}));
    }
}
