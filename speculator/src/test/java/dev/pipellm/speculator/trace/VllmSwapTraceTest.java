package dev.pipellm.speculator.trace;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VllmSwapTraceTest {
    private static RecordingSink run(VllmSwapTrace t) {
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        return sink;
    }

    @Test
    void shouldSwapInOnlyHostRangesThatWereSwappedOutWhenPreempting() {
        final VllmSwapTrace t = new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 400, 1));
        final RecordingSink sink = run(t);
        assertTrue(t.preemptions() > 0, "the small KV pool must cause swap preemption");
        assertTrue(t.swapIns() > 0);
        final List<RecordingSink.Event> out = sink.copies(dev.pipellm.speculator.event.CopyDirection.D2H,
                CopyClass.KV_SWAP);
        final List<RecordingSink.Event> in = sink.h2d(CopyClass.KV_SWAP);
        final Set<Long> swappedOut = new HashSet<>();
        for (RecordingSink.Event e : out) {
            assertEquals(KvModel.LLAMA_2_13B.copyBytes(16), e.bytes());
            swappedOut.add(e.host());
        }
        assertEquals(163_840L, KvModel.LLAMA_2_13B.copyBytes(16)); // workloads.md 1.6, 13B row
        for (RecordingSink.Event e : in) {
            assertTrue(swappedOut.contains(e.host()), "swap-in of a range never swapped out");
        }
        assertEquals(0, out.size() % (2 * 40), "2L copies per block");
    }

    @Test
    void shouldRepeatLayerZeroKeyBlockListForEveryLayerAndPartWhenSwapping() {
        final VllmSwapTrace t = new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 400, 1));
        final RecordingSink sink = run(t);
        final List<RecordingSink.Event> out = sink.copies(dev.pipellm.speculator.event.CopyDirection.D2H,
                CopyClass.KV_SWAP);
        // First burst: n blocks per (layer, part) row, rows differ by one address delta.
        int n = 0;
        final int idx = sink.events.indexOf(out.get(0));
        while (sink.events.get(idx + n).bytes() == 163_840 && n < out.size()) {
            n++;
        }
        final int perRow = n / 80;
        assertEquals(0, n % 80);
        for (int row = 1; row < 80; row++) {
            final long delta = out.get(row * perRow).host() - out.get((row - 1) * perRow).host();
            for (int c = 0; c < perRow; c++) {
                assertEquals(delta, out.get(row * perRow + c).host() - out.get((row - 1) * perRow + c).host());
            }
        }
    }

    @Test
    void shouldEmitTheSameTraceWhenTheSeedIsTheSame() {
        final RecordingSink a = run(new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 150, 5)));
        final RecordingSink b = run(new VllmSwapTrace(VllmSwapTrace.Params.defaults(SharedDataFixture.conv(), 150, 5)));
        assertEquals(a.fingerprint(), b.fingerprint());
    }
}
