package dev.pipellm.agent.evp;

import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;

/**
 * Open-addressing map from EVP_CIPHER_CTX address to {@link CtxState}, with a preallocated pool of
 * states: lookups, inserts and removals allocate nothing. Linear probing, backward-shift deletion
 * (no tombstones), key 0 = empty (a context is never at address 0). The slot array is twice the pool,
 * so the load factor stays at or under 0.5.
 *
 * <p>A context's state is normally removed when the driver resets or frees the context. Some frees
 * never reach the agent (a thread-exit destructor, where no upcall may be made). So when the pool is
 * empty, the least recently used state that holds no message in flight is evicted
 * ({@code evicted_contexts}): such a state answers every call exactly as an absent one does
 * (PL_PASS), except after a finished agent message, whose tag the driver asks for right away, never
 * after the 1023 other contexts were used.
 *
 * <p>Thread-safe: every operation holds the table's monitor (uncontended in practice: one driver
 * thread per context, a few contexts). The returned state is then used without the lock by the thread
 * that holds the context (see {@link CtxState}).
 */
final class CtxTable {
    static final int DEFAULT_CAPACITY = 1024;

    private final long[] keys;
    private final CtxState[] values;
    private final int mask;
    private final CtxState[] free;
    private final Counters counters;
    private int freeCount;
    /** Logical clock of uses, for eviction. */
    private long clock;

    CtxTable(int capacity, Counters counters) {
        this.counters = counters;
        int slots = Integer.highestOneBit(Math.max(capacity, 2) * 2 - 1) << 1;
        keys = new long[slots];
        values = new CtxState[slots];
        mask = slots - 1;
        free = new CtxState[capacity];
        for (int i = 0; i < capacity; i++) free[i] = new CtxState();
        freeCount = capacity;
    }

    private int home(long ctx) {
        long h = ctx * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    synchronized CtxState get(long ctx) {
        if (ctx == 0) return null;
        for (int i = home(ctx); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == ctx) return touch(values[i]);
            if (k == 0) return null;
        }
    }

    private CtxState touch(CtxState s) {
        s.lastUse = ++clock;
        return s;
    }

    /** The state for {@code ctx}, created from the pool if absent; null when the pool is empty. */
    synchronized CtxState getOrAdd(long ctx) {
        if (ctx == 0) return null;
        int i = home(ctx);
        for (; ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == ctx) return touch(values[i]);
            if (k == 0) break;
        }
        if (freeCount == 0) {
            if (!evictOne()) return null;
            return getOrAdd(ctx);   // the eviction moved entries: probe again
        }
        CtxState s = free[--freeCount];
        free[freeCount] = null;
        s.ctx = ctx;
        keys[i] = ctx;
        values[i] = s;
        return touch(s);
    }

    /** Removes the least recently used state without a message in flight; false if none. */
    private boolean evictOne() {
        CtxState oldest = null;
        for (CtxState s : values) {
            if (s != null && s.state != CtxState.AGENT && (oldest == null || s.lastUse < oldest.lastUse)) oldest = s;
        }
        if (oldest == null) return false;
        remove(oldest.ctx);
        counters.increment(StatCounter.EVICTED_CONTEXTS);
        return true;
    }

    /** Removes {@code ctx}; its state is wiped (key zeroed) and returned to the pool. */
    synchronized boolean remove(long ctx) {
        if (ctx == 0) return false;
        int i = home(ctx);
        for (; ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == ctx) break;
            if (k == 0) return false;
        }
        CtxState s = values[i];
        keys[i] = 0;
        values[i] = null;
        // backward-shift the rest of the cluster
        for (int j = (i + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
            int h = home(keys[j]);
            // move j to the hole at i if its home is not in (i, j] (cyclically)
            if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
                keys[i] = keys[j];
                values[i] = values[j];
                keys[j] = 0;
                values[j] = null;
                i = j;
            }
        }
        s.wipe();
        free[freeCount++] = s;
        return true;
    }

    synchronized int size() {
        return free.length - freeCount;
    }
}
