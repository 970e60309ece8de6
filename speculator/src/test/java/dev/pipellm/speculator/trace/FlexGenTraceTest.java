package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FlexGenTraceTest {
    /** workloads.md 2.1, "Per generated token (whole batch), H2D weight traffic computed with the placement rule". */
    @ParameterizedTest
    @CsvSource({
        "opt-30b, 0, 60669779968, 773",
        "opt-30b, 20, 55703760896, 436",
        "opt-66b, 0, 132366016512, 1029",
        "opt-66b, 20, 121449517056, 580",
        "opt-175b, 0, 350444421120, 1541",
        "opt-175b, 20, 321388855296, 868"})
    void shouldMatchWorkloadsTableWhenPlacingWeightsByMidpoint(String model, int wGpu, long bytes, long copies) {
        final FlexGenTrace t = new FlexGenTrace(new FlexGenTrace.Params(OptModel.byName(model), wGpu, 100 - wGpu,
                false, 4, 512, 4, 1, 1));
        final long[] perToken = t.weightBytesAndCopiesPerToken();
        assertEquals(bytes, perToken[0]);
        assertEquals(copies, perToken[1]);
    }

    @Test
    void shouldEmitOneLayerAheadWeightCopiesEveryTokenWhenAllWeightsOnCpu() {
        final FlexGenTrace t = new FlexGenTrace(new FlexGenTrace.Params(OptModel.OPT_30B, 0, 100, false, 4, 512, 3,
                1, 7));
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        final List<RecordingSink.Event> weights = sink.h2d(CopyClass.WEIGHT);
        assertEquals(3 * 773, weights.size());
        long bytes = 0;
        for (RecordingSink.Event e : weights) {
            bytes += e.bytes();
        }
        assertEquals(3 * 60_669_779_968L, bytes);
        // Same host sequence every token: period 773.
        for (int i = 0; i < 773; i++) {
            assertEquals(weights.get(i).host(), weights.get(773 + i).host());
        }
        // Token ids: prefill b*prompt int32, then b int32 per token; prompt mask once.
        final List<RecordingSink.Event> inputs = sink.h2d(CopyClass.INPUT);
        assertEquals(4, inputs.size());
        assertEquals(4 * 512, inputs.get(0).bytes());
        assertEquals(4 * 512 * 4, inputs.get(1).bytes());
        assertEquals(16, inputs.get(2).bytes());
        assertEquals(1, sink.events.stream().filter(e -> e.type() == EventType.MARK
                && e.bytes() == TraceGenerator.MARK_STEADY_STATE).count());
    }

    @Test
    void shouldLoadGrowingKvPrefixThroughFreshRelaysWhenCacheOnCpu() {
        final FlexGenTrace t = new FlexGenTrace(new FlexGenTrace.Params(OptModel.OPT_30B, 20, 80, true, 32, 512, 3,
                1, 7));
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        final List<RecordingSink.Event> kv = sink.h2d(CopyClass.KV_CACHE);
        assertEquals(2 * 48 * 2, kv.size()); // tokens 1 and 2, 48 attention layers, K and V
        assertEquals(235_339_776L, kv.get(0).bytes()); // workloads.md: OPT-30B, b=32, prompt 512, i=1
        assertEquals(235_339_776L + 32L * 7168 * 2, kv.get(96).bytes());
        // Every relay is written by the CPU right before its copy.
        final int idx = sink.events.indexOf(kv.get(0));
        assertEquals(EventType.HOST_WRITE, sink.events.get(idx - 1).type());
        assertEquals(kv.get(0).host(), sink.events.get(idx - 1).host());
    }

    @Test
    void shouldEmitTheSameEventsWhenTheSeedIsTheSame() {
        final FlexGenTrace.Params p = new FlexGenTrace.Params(OptModel.OPT_30B, 20, 80, true, 8, 128, 3, 2, 99);
        final RecordingSink a = new RecordingSink();
        final RecordingSink b = new RecordingSink();
        new FlexGenTrace(p).generate(a);
        new FlexGenTrace(p).generate(b);
        assertEquals(a.fingerprint(), b.fingerprint());
        assertTrue(a.events.size() > 1000);
    }

    @Test
    void shouldRejectDiskOffloadWhenWeightsDoNotSumToHundred() {
        assertThrows(IllegalArgumentException.class,
                () -> new FlexGenTrace.Params(OptModel.OPT_175B, 0, 0, false, 4, 512, 32, 1, 1));
    }
}
