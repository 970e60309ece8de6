package dev.pipellm.agent.evp;

/**
 * Open-addressing map from EVP_CIPHER_CTX address to {@link CtxState}, with a preallocated pool of
 * states: lookups, inserts and removals allocate nothing. Linear probing, backward-shift deletion
 * (no tombstones), key 0 = empty (a context is never at address 0). The slot array is twice the pool,
 * so the load factor stays at or under 0.5.
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
    private int freeCount;

    CtxTable(int capacity) {
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
            if (k == ctx) return values[i];
            if (k == 0) return null;
        }
    }

    /** The state for {@code ctx}, created from the pool if absent; null when the pool is empty. */
    synchronized CtxState getOrAdd(long ctx) {
        if (ctx == 0) return null;
        int i = home(ctx);
        for (; ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == ctx) return values[i];
            if (k == 0) break;
        }
        if (freeCount == 0) return null;
        CtxState s = free[--freeCount];
        free[freeCount] = null;
        s.ctx = ctx;
        keys[i] = ctx;
        values[i] = s;
        return s;
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
