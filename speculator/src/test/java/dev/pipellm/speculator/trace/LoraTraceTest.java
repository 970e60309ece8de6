package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraTraceTest {
    @Test
    void shouldCopyEachLayerHomeTwicePerLoadWhenSloraLoadsAnAdapter() {
        final LoraTrace t = new LoraTrace(LoraTrace.Params.defaults(SharedDataFixture.conv(), 200, false, 3));
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        final List<RecordingSink.Event> adapter = sink.h2d(CopyClass.ADAPTER);
        assertTrue(t.loads() > 8);
        assertEquals(t.loads() * 64, adapter.size());
        assertEquals(16L * 16 * 4096, adapter.get(0).bytes()); // 16 r h: 1 MiB for r=16 on Llama-7B
        for (int l = 0; l < 32; l++) {
            assertEquals(adapter.get(l).host(), adapter.get(32 + l).host(), "load_lora_B re-copies the same tensor");
        }
    }

    @Test
    void shouldHintExactlyTheLoadCopiesWhenTheOracleIsOn() {
        final LoraTrace t = new LoraTrace(LoraTrace.Params.defaults(SharedDataFixture.conv(), 100, true, 3));
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        final long hints = sink.events.stream().filter(e -> e.type() == EventType.HINT).count();
        assertEquals(sink.h2d(CopyClass.ADAPTER).size(), hints);
    }

    @Test
    void shouldFavourLowAdapterIdsWhenAlphaIsBelowOne() {
        final SplittableRandom r = new SplittableRandom(1);
        int low = 0;
        for (int i = 0; i < 10_000; i++) {
            if (LoraTrace.samplePowerLaw(r, 0.3, 100) < 10) {
                low++;
            }
        }
        // P(x < 0.1) = 0.1^0.3 = 0.50
        assertEquals(0.50, low / 10_000.0, 0.03);
    }
}
