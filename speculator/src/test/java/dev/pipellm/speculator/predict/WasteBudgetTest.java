package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WasteBudgetTest {
    private static final long MESSAGE = 1 << 20;

    /** One decision interval: the plan asked for {@code planned} messages, {@code wastedShare} of the bytes were thrown away. */
    private static void interval(WasteBudget b, long planned, double wastedShare) {
        b.cap(Long.MAX_VALUE, planned);
        b.onWasted((long) (wastedShare * WasteBudget.INTERVAL_MESSAGES * MESSAGE));
        for (long m = 0; m < WasteBudget.INTERVAL_MESSAGES; m++) {
            b.onCopied(MESSAGE, 1);
        }
    }

    @Test
    void shouldStayOpenWhileWasteIsUnderTheBudget() {
        final WasteBudget b = new WasteBudget(0.03);
        for (int i = 0; i < 50; i++) {
            interval(b, 256, 0.01);
        }
        assertEquals(Long.MAX_VALUE, b.currentCap());
        assertEquals(0, b.cuts());
        assertEquals(256, b.cap(256, 300));
    }

    @Test
    void shouldHalveTheDepthActuallyPlannedWhileWasteStaysOverTheBudget() {
        final WasteBudget b = new WasteBudget(0.03);
        interval(b, 64, 0.2);
        assertEquals(32, b.currentCap(), "half of the 64 messages planned when the cap was open");
        interval(b, 64, 0.2);
        assertEquals(16, b.currentCap());
        assertEquals(16, b.cap(64, 64), "the cap bounds what the other limits allow");
        for (int i = 0; i < 20; i++) {
            interval(b, 64, 0.2);
        }
        assertEquals(1, b.currentCap(), "never below the next message");
        assertTrue(b.longRunShare() > 0.03);
    }

    @Test
    void shouldNotCloseDepthForOneBurstInAnOtherwiseCleanRun() {
        final WasteBudget b = new WasteBudget(0.03);
        for (int i = 0; i < 40; i++) {
            interval(b, 256, 0);
        }
        // a model switch: one interval wastes 10%, but the run's decayed share stays under the budget
        interval(b, 256, 0.1);
        assertTrue(b.longRunShare() < 0.03, "long-run share " + b.longRunShare());
        assertEquals(Long.MAX_VALUE, b.currentCap());
    }

    @Test
    void shouldReopenStepByStepOnceWasteFalls() {
        final WasteBudget b = new WasteBudget(0.03);
        for (int i = 0; i < 12; i++) {
            interval(b, 64, 0.3);
        }
        assertEquals(1, b.currentCap());
        interval(b, 1, 0.0);
        assertEquals(2, b.currentCap(), "a clean interval doubles the cap");
        interval(b, 2, 0.02);
        assertEquals(2, b.currentCap(), "between half the budget and the budget: held");
        for (int i = 0; i < 12; i++) {
            interval(b, 4096, 0);
        }
        assertEquals(Long.MAX_VALUE, b.currentCap(), "open again from " + WasteBudget.OPEN_DEPTH + " on");
    }

    @Test
    void shouldRefuseABudgetOutsideZeroToOne() {
        assertThrows(IllegalArgumentException.class, () -> new WasteBudget(0));
        assertThrows(IllegalArgumentException.class, () -> new WasteBudget(1));
        assertThrows(IllegalArgumentException.class, () -> new WasteBudget(Double.NaN));
    }
}
