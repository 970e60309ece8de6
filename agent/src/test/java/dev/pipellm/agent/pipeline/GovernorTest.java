package dev.pipellm.agent.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import org.junit.jupiter.api.Test;

/** The governor's decisions on windows of known cost (its clock is the caller's). */
class GovernorTest {
    private static final long SECOND = 1_000_000_000L, WINDOW = 64L << 20;

    private long now;
    private final Counters c = new Counters();

    /** One window of WINDOW bytes at {@code nsPerByte} in which slots were planned, then a tick a second later. */
    private void window(Governor g, double nsPerByte) {
        c.increment(StatCounter.PLANNED_SLOTS);
        idleWindow(g, nsPerByte);
    }

    /** A pause of {@code windows} windows: paused through all but the last, planning again after it. */
    private void pausedFor(Governor g, int windows) {
        for (int i = 1; i < windows; i++) {
            idleWindow(g, 0.5);
            assertFalse(g.planning(), "still paused after " + i + " of " + windows + " windows");
        }
        idleWindow(g, 0.5);
        assertTrue(g.planning(), "tries again after the pause of " + windows);
    }

    /** As {@link #window}, with no slot planned. */
    private void idleWindow(Governor g, double nsPerByte) {
        g.bytes.add(WINDOW);
        g.nanos.add((long) (WINDOW * nsPerByte));
        now += SECOND;
        g.tick(now);
    }

    @Test
    void keepsPlanningWhileItIsCheaperThanTheBaseline() {
        Governor g = new Governor(c, true);
        g.bytes.add(WINDOW);
        g.nanos.add(WINDOW / 2);            // before the pipeline: 0.5 ns/B
        g.begin(now);
        for (int i = 0; i < 20; i++) window(g, 0.3);
        assertTrue(g.planning());
        assertEquals(0, c.get(StatCounter.PIPELINE_PAUSES));
    }

    @Test
    void pausesWhenNotCheaperThenRetriesAfterGrowingPauses() {
        Governor g = new Governor(c, true);
        g.bytes.add(WINDOW);
        g.nanos.add(WINDOW / 2);            // baseline 0.5 ns/B
        g.begin(now);
        window(g, 0.9);                     // first window: the workers catch up, not judged
        assertTrue(g.planning());
        window(g, 0.6);                     // dearer than the baseline: pause for 4 windows
        assertFalse(g.planning());
        assertTrue(g.justPaused());
        assertFalse(g.justPaused(), "reported once");
        pausedFor(g, 4);
        window(g, 0.9);                     // first window again, not judged
        window(g, 0.55);                    // still dearer: a longer pause (8)
        assertFalse(g.planning());
        pausedFor(g, 8);
        assertEquals(2, c.get(StatCounter.PIPELINE_PAUSES));
    }

    @Test
    void measuresABaselineFirstWhenItHasNone() {
        Governor g = new Governor(c, true);
        g.begin(now);                       // nothing before the pipeline
        window(g, 0.9);
        window(g, 0.3);                     // no baseline: one window without, to measure it
        assertFalse(g.planning());
        window(g, 0.5);                     // the baseline window
        assertTrue(g.planning());
        window(g, 0.9);
        window(g, 0.3);                     // cheaper than 0.5: stays on
        assertTrue(g.planning());
    }

    @Test
    void shortOrSmallWindowsDecideNothing() {
        Governor small = new Governor(c, true);   // no slot planned: a full window would pause
        small.begin(now);
        small.bytes.add(1 << 20);           // 1 MiB in 10 s: too little
        small.nanos.add(10L << 20);
        small.tick(now + 10 * SECOND);
        assertTrue(small.planning());
        Governor brief = new Governor(c, true);
        brief.begin(now);
        brief.bytes.add(WINDOW);            // enough bytes in half a second: too short
        brief.nanos.add(WINDOW * 10);
        brief.tick(now + SECOND / 2);
        assertTrue(brief.planning());
        assertEquals(0, c.get(StatCounter.PIPELINE_PAUSES));
    }

    @Test
    void offNeverPauses() {
        Governor g = new Governor(c, false);
        g.begin(now);
        for (int i = 0; i < 10; i++) window(g, 100);
        assertTrue(g.planning());
    }

    @Test
    void pausesAtOnceWhenAWindowPlannedNothingAndTakesItAsTheBaseline() {
        Governor g = new Governor(c, true);
        g.begin(now);                       // nothing before the pipeline: no baseline
        idleWindow(g, 0.5);                 // first window: not judged, even with nothing planned
        assertTrue(g.planning());
        idleWindow(g, 0.5);                 // nothing planned: a baseline window, pause for 4
        assertFalse(g.planning());
        assertTrue(g.justPaused());
        pausedFor(g, 4);
        idleWindow(g, 0.5);                 // first window again, not judged
        idleWindow(g, 0.5);                 // nothing again: a longer pause (8)
        assertFalse(g.planning());
        pausedFor(g, 8);
        window(g, 0.9);                     // first window, not judged
        window(g, 0.3);                     // planned, and cheaper than the 0.5 baseline: stays on
        assertTrue(g.planning());
        assertEquals(2, c.get(StatCounter.PIPELINE_PAUSES));
    }
}
