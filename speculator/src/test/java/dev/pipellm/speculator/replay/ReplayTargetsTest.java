package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.AccelerateTrace;
import dev.pipellm.speculator.trace.CopyClass;
import dev.pipellm.speculator.trace.FlexGenTrace;
import dev.pipellm.speculator.trace.LoraTrace;
import dev.pipellm.speculator.trace.OptModel;
import dev.pipellm.speculator.trace.SharedDataFixture;
import dev.pipellm.speculator.trace.VllmSwapTrace;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The targets, on traces small enough for the unit suite (the replay tool runs the full ones). */
class ReplayTargetsTest {
    private static ReplayRun replay(dev.pipellm.speculator.trace.TraceGenerator g) {
        return new ReplayRun(SpeculatorConfig.defaults(), IvPipelineModel.Settings.defaults()).run(g);
    }

    @Test
    void shouldCoverAtLeast99PercentWithNoWasteWhenFlexGenStreamsWeightsInSteadyState() {
        final ReplayRun r = replay(new FlexGenTrace(new FlexGenTrace.Params(OptModel.OPT_30B, 0, 100, false, 4, 512,
                6, 2, 11)));
        final ReplayCounters steady = r.steady();
        assertTrue(steady.h2dBytes > 0);
        assertTrue(steady.coverage() >= 0.99, "steady coverage " + steady.coverage());
        assertEquals(0, steady.wastedBytes);
        // One NOP per batch: its first decode token skips the IV reserved for the prefill's prompt-mask copy.
        assertTrue(steady.nops <= 2, "NOPs " + steady.nops);
        assertTrue(r.total().coverage() >= 0.80, "whole run including the learning token");
    }

    @Test
    void shouldCoverAtLeast99PercentWithNoWasteWhenAccelerateOffloadsPerParameter() {
        final ReplayRun r = replay(new AccelerateTrace(new AccelerateTrace.Params(OptModel.OPT_30B, 1, 64, 5, 2, 3)));
        assertTrue(r.steady().coverage() >= 0.99, "steady coverage " + r.steady().coverage());
        assertEquals(0, r.steady().wastedBytes);
    }

    @Test
    void shouldCoverAtLeast90PercentOfSwapInBytesWhenVllmReplaysAzureConversations() {
        final VllmSwapTrace trace = new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 600,
                42));
        final ReplayRun r = replay(trace);
        assertTrue(trace.swapIns() >= 20, "swap-ins " + trace.swapIns());
        final double swapIn = r.total().classCoverage(CopyClass.KV_SWAP);
        assertTrue(swapIn >= 0.90, "swap-in coverage " + swapIn);
        assertTrue(r.total().wastedBytes < r.total().classBytes[CopyClass.KV_SWAP] / 20,
                "wasted " + r.total().wastedBytes);
    }

    @Test
    void shouldCoverMoreWithTheOracleThanWithoutWhenLoraAdaptersSwap() {
        final ReplayRun spec = replay(new LoraTrace(LoraTrace.Params.defaults(SharedDataFixture.conv(), 400, false,
                7)));
        final ReplayRun oracle = replay(new LoraTrace(LoraTrace.Params.defaults(SharedDataFixture.conv(), 400, true,
                7)));
        final double s = spec.total().classCoverage(CopyClass.ADAPTER);
        final double o = oracle.total().classCoverage(CopyClass.ADAPTER);
        assertEquals(spec.total().classBytes[CopyClass.ADAPTER], oracle.total().classBytes[CopyClass.ADAPTER]);
        assertTrue(o >= 0.95, "oracle coverage " + o);
        // Cold first loads and every load's first copy are unpredictable without the oracle (see docs).
        assertTrue(s > 0.3 && s < o, "speculator " + s + " oracle " + o);
        assertTrue(spec.total().wasteShare() <= 0.05, "wasted " + spec.total().wastedBytes + " of "
                + spec.total().h2dBytes);
    }

    @Test
    void shouldKeepWasteWithinFivePercentWhenSmallCopiesJitterInVllmSwapAndLoraTraffic() {
        // --jitter: before each H2D copy an extra fresh 8-byte copy with this probability, and small input
        // copies left out. Every swap and adapter copy is a message of its own, so each extra takes the IV of a
        // planned slot: what is left to bound is everything else (a predictor thrown off by the extra copy).
        final ReplayRun swap = new ReplayRun(SpeculatorConfig.defaults(), IvPipelineModel.Settings.defaults())
                .run(new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 600, 42)), 0.02, 5);
        assertTrue(swap.total().wasteShare() <= 0.05, "vLLM swap, 2% jitter: wasted " + swap.total().wasteShare());
        assertTrue(swap.total().classCoverage(CopyClass.KV_SWAP) >= 0.90,
                "swap-in coverage " + swap.total().classCoverage(CopyClass.KV_SWAP));
        final ReplayRun lora = new ReplayRun(SpeculatorConfig.defaults(), IvPipelineModel.Settings.defaults())
                .run(new LoraTrace(LoraTrace.Params.defaults(SharedDataFixture.conv(), 400, false, 7)), 0.01, 5);
        assertTrue(lora.total().wasteShare() <= 0.05, "LoRA, 1% jitter: wasted " + lora.total().wasteShare());
    }
}
