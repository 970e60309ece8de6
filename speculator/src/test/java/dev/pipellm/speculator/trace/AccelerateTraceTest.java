package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AccelerateTraceTest {
    @Test
    void shouldCopyEveryParameterInForwardOrderAndSyncAfterEachWhenOffloaded() {
        final AccelerateTrace t = new AccelerateTrace(new AccelerateTrace.Params(OptModel.OPT_30B, 1, 16, 2, 1, 3));
        final RecordingSink sink = new RecordingSink();
        t.generate(sink);
        final List<RecordingSink.Event> weights = sink.h2d(CopyClass.WEIGHT);
        assertEquals(2 * (48 * 16 + 2), weights.size());
        // Layer 0: self_attn_layer_norm w, b (h*2), then q_proj weight (h*h*2).
        assertEquals(7168 * 2, weights.get(0).bytes());
        assertEquals(7168L * 7168 * 2, weights.get(2).bytes());
        assertEquals(4L * 7168 * 7168 * 2, weights.get(12).bytes()); // fc1 weight
        final int first = sink.events.indexOf(weights.get(0));
        assertEquals(EventType.SYNC, sink.events.get(first + 1).type(), "blocking .to(device)");
        for (int i = 0; i < 770; i++) {
            assertEquals(weights.get(i).host(), weights.get(770 + i).host());
        }
    }
}
