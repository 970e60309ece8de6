package dev.pipellm.agent.evp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CtxTableTest {
    @Test
    void shouldBehaveLikeAnLruMapWhenContextsComeAndGo() {
        Counters counters = new Counters();
        CtxTable t = new CtxTable(64, counters);
        Map<Long, CtxState> ref = new LinkedHashMap<>(16, 0.75f, true);   // access order: eldest = LRU
        long evictions = 0;
        Random rnd = new Random(1);
        for (int i = 0; i < 200_000; i++) {
            long ctx = 0x7f0000000000L + 64L * rnd.nextInt(100); // aligned, clustered addresses
            if (rnd.nextInt(3) == 0) {
                assertEquals(ref.remove(ctx) != null, t.remove(ctx));
            } else {
                CtxState s = t.getOrAdd(ctx);
                if (ref.containsKey(ctx)) {
                    assertSame(ref.get(ctx), s);
                } else {
                    if (ref.size() == 64) {   // full: the least recently used idle state makes room
                        Long lru = ref.keySet().iterator().next();
                        ref.remove(lru);
                        assertNull(t.get(lru), "the LRU context was evicted");
                        evictions++;
                    }
                    assertNotNull(s);
                    assertEquals(ctx, s.ctx);
                    ref.put(ctx, s);
                }
            }
            assertEquals(ref.size(), t.size());
        }
        for (Map.Entry<Long, CtxState> e : ref.entrySet()) assertSame(e.getValue(), t.get(e.getKey()));
        assertTrue(evictions > 0);
        assertEquals(evictions, counters.get(StatCounter.EVICTED_CONTEXTS));
    }

    @Test
    void shouldNeverEvictAStateWithAMessageInFlightWhenThePoolIsFull() {
        CtxTable t = new CtxTable(4, new Counters());
        for (int i = 1; i <= 4; i++) t.getOrAdd(0x1000L * i).state = CtxState.AGENT;
        assertNull(t.getOrAdd(0x9000), "every state holds a message: the new context stays untracked");
        t.get(0x1000).state = CtxState.AGENT_DONE;
        t.get(0x2000).state = CtxState.REAL;   // used after 0x1000: more recent
        assertNotNull(t.getOrAdd(0x9000));
        assertNull(t.get(0x1000), "the least recently used idle state went");
        assertNotNull(t.get(0x2000));
    }

    @Test
    void shouldZeroTheKeyWhenAContextIsForgotten() {
        CtxTable t = new CtxTable(4, new Counters());
        CtxState s = t.getOrAdd(0x1000);
        java.util.Arrays.fill(s.key, (byte) 0x5a);
        s.keyKnown = true;
        assertTrue(t.remove(0x1000));
        for (byte b : s.key) assertEquals(0, b);
        assertEquals(0, s.ctx);
        assertNull(t.get(0x1000));
    }
}
