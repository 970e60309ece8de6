package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SlackByCopyTest {
    @Test
    void shouldLeaveSparesOnlyBeforeTheCopiesThatUnpredictedMessagesPrecede() {
        final SlackByCopy s = new SlackByCopy(64, 32);
        for (int run = 0; run < 50; run++) {
            s.onPredictedCopy(0x1000, 2);   // the first copy of each run comes after two small fresh copies
            s.onPredictedCopy(0x2000, 0);
            s.onPredictedCopy(0x3000, 0);
        }
        assertTrue(s.wantsSlack(0x1000));
        assertFalse(s.wantsSlack(0x2000), "inside the run nothing slips in: a spare would only cost a NOP");
        assertFalse(s.wantsSlack(0x9000), "never seen: no spare");
    }

    @Test
    void shouldWeighARareSlipAgainstTheNopsASpareCostsEveryTime() {
        final SlackByCopy s = new SlackByCopy(64, 32);
        for (int i = 0; i < 200; i++) {
            s.onPredictedCopy(0x1000, i % 100 == 0 ? 1 : 0);   // 1%: 0.32 NOP-equivalents < 0.99 NOPs
        }
        assertFalse(s.wantsSlack(0x1000));
        assertThrows(IllegalArgumentException.class, () -> new SlackByCopy(100, 32));
    }
}
