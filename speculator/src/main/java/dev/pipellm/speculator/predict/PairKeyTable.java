package dev.pipellm.speculator.predict;

/**
 * Fixed-size, set-associative map from a key of two longs to two long values and an int, with least recently
 * written replacement (like a CPU's branch target buffer). Preallocated; lookups and updates allocate nothing.
 * Lossy by design: when a set is full the oldest entry is replaced, so a lookup may miss a key put long ago.
 * Single-threaded.
 */
final class PairKeyTable {
    private static final int EMPTY = 0;

    private final int setMask;
    private final int ways;
    private final long[] keyA;
    private final long[] keyB;
    private final long[] value1;
    private final long[] value2;
    private final int[] value3;
    private final long[] stamp;
    private final byte[] used;
    private long clock;

    /** @param minEntries at least this many entries; rounded up to a power of two of sets times {@code ways} */
    PairKeyTable(int minEntries, int ways) {
        if (ways < 1 || ways > 16) {
            throw new IllegalArgumentException("ways must be in [1, 16], got " + ways);
        }
        int sets = Math.max(1, (minEntries + ways - 1) / ways);
        sets = sets == 1 ? 1 : Integer.highestOneBit(sets - 1) << 1;
        this.setMask = sets - 1;
        this.ways = ways;
        final int n = sets * ways;
        keyA = new long[n];
        keyB = new long[n];
        value1 = new long[n];
        value2 = new long[n];
        value3 = new int[n];
        stamp = new long[n];
        used = new byte[n];
    }

    private int setBase(long a, long b) {
        long h = a * 0x9E3779B97F4A7C15L + b * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 32;
        return ((int) h & setMask) * ways;
    }

    /** Slot of the key, or -1. */
    int find(long a, long b) {
        final int base = setBase(a, b);
        for (int w = 0; w < ways; w++) {
            final int s = base + w;
            if (used[s] != EMPTY && keyA[s] == a && keyB[s] == b) {
                return s;
            }
        }
        return -1;
    }

    /**
     * Slot for the key: its existing slot, else a free or the oldest slot of its set, claimed for the key with
     * values reset to 0. Counts as a write for replacement order.
     */
    int put(long a, long b) {
        final int base = setBase(a, b);
        int victim = base;
        long oldest = Long.MAX_VALUE;
        for (int w = 0; w < ways; w++) {
            final int s = base + w;
            if (used[s] == EMPTY) {
                if (oldest != Long.MIN_VALUE) {
                    victim = s;
                    oldest = Long.MIN_VALUE;
                }
                continue;
            }
            if (keyA[s] == a && keyB[s] == b) {
                stamp[s] = ++clock;
                return s;
            }
            if (stamp[s] < oldest) {
                oldest = stamp[s];
                victim = s;
            }
        }
        used[victim] = 1;
        keyA[victim] = a;
        keyB[victim] = b;
        value1[victim] = 0;
        value2[victim] = 0;
        value3[victim] = 0;
        stamp[victim] = ++clock;
        return victim;
    }

    void remove(int slot) {
        used[slot] = EMPTY;
    }

    void clear() {
        java.util.Arrays.fill(used, (byte) EMPTY);
    }

    long value1(int slot) {
        return value1[slot];
    }

    long value2(int slot) {
        return value2[slot];
    }

    int value3(int slot) {
        return value3[slot];
    }

    void setValue1(int slot, long v) {
        value1[slot] = v;
    }

    void setValue2(int slot, long v) {
        value2[slot] = v;
    }

    void setValue3(int slot, int v) {
        value3[slot] = v;
    }

    int capacity() {
        return used.length;
    }
}
