package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.WobbleTrace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
    void shouldWasteLittleWhenSmallCopiesJitterInAWeightLoop() {
        final ReplayRun r = replay("wobble-jitter");
        assertWasteAtMost(r, 0.05, "2% extra and missing 8-byte copies");
        // one extra copy in 50 costs the planned window behind it at first, until the depth adapts
        assertTrue(r.steady().coverage() >= 0.8, "steady coverage " + r.steady().coverage());
        assertTrue(r.total().nopsPer100Messages() <= 1, "NOPs per 100 messages " + r.total().nopsPer100Messages());
    }

    @ParameterizedTest
    @ValueSource(strings = {"wobble-jitter", "wobble-moe-0.1", "wobble-moe-0.5", "wobble-random-reuse", "wobble-runs",
            "wobble-model-switch"})
    void shouldKeepWasteWithinFivePercentOfTheBytesCopiedOnEveryWobble(String workload) {
        assertWasteAtMost(replay(workload), 0.05, workload);
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
