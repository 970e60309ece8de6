package dev.pipellm.agent.evp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CtxTableTest {
    @Test
    void shouldBehaveLikeAMapWhenContextsComeAndGo() {
        CtxTable t = new CtxTable(64);
        Map<Long, CtxState> ref = new HashMap<>();
        Random rnd = new Random(1);
        for (int i = 0; i < 200_000; i++) {
            long ctx = 0x7f0000000000L + 64L * rnd.nextInt(100); // aligned, clustered addresses
            if (rnd.nextInt(3) == 0) {
                assertEquals(ref.remove(ctx) != null, t.remove(ctx));
            } else {
                CtxState s = t.getOrAdd(ctx);
                if (ref.containsKey(ctx)) {
                    assertSame(ref.get(ctx), s);
                } else if (ref.size() == 64) {
                    assertNull(s, "pool exhausted");
                } else {
                    assertNotNull(s);
                    assertEquals(ctx, s.ctx);
                    ref.put(ctx, s);
                }
            }
            assertEquals(ref.size(), t.size());
        }
        for (Map.Entry<Long, CtxState> e : ref.entrySet()) assertSame(e.getValue(), t.get(e.getKey()));
    }

    @Test
    void shouldZeroTheKeyWhenAContextIsForgotten() {
        CtxTable t = new CtxTable(4);
        CtxState s = t.getOrAdd(0x1000);
        java.util.Arrays.fill(s.key, (byte) 0x5a);
        s.keyKnown = true;
        assertTrue(t.remove(0x1000));
        for (byte b : s.key) assertEquals(0, b);
        assertEquals(0, s.ctx);
        assertNull(t.get(0x1000));
    }
}
