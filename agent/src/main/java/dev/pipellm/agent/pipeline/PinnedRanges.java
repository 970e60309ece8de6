package dev.pipellm.agent.pipeline;

/**
 * The host allocations made through CUDA (cudaHostAlloc, cudaMallocHost) that are alive. Workers
 * read plaintext only inside these: any other memory could be unmapped under them by the app at any
 * moment, and a fault there would kill the host. A free is announced before the real free (the shim's
 * on_alloc with result PL_ALLOC_BEFORE): the range is removed here, and the freeing thread then waits
 * until no worker is still copying from it ({@link EncryptWorkers#awaitNoReader}).
 *
 * <p>Each range also says whether it is registered for write tracking (validate=uffd): only private
 * anonymous memory is (shim_protect.c); slots elsewhere are compared.
 *
 * <p>Reads are lock-free over a copy-on-write array; allocations and frees (rare) take the lock.
 */
final class PinnedRanges {
    private volatile long[] bases = new long[0];
    private volatile long[] sizes = new long[0];
    /** Registered for write tracking, by range (published before {@link #bases}, like sizes). */
    private volatile boolean[] tracked = new boolean[0];

    synchronized void add(long base, long size) {
        add(base, size, false);
    }

    synchronized void add(long base, long size, boolean isTracked) {
        if (base == 0 || size <= 0) return;
        removeLocked(base);
        long[] b = java.util.Arrays.copyOf(bases, bases.length + 1);
        long[] s = java.util.Arrays.copyOf(sizes, sizes.length + 1);
        boolean[] t = java.util.Arrays.copyOf(tracked, tracked.length + 1);
        b[b.length - 1] = base;
        s[s.length - 1] = size;
        t[t.length - 1] = isTracked;
        tracked = t;
        sizes = s;
        bases = b;
    }

    /** Whether the live range that starts at {@code base} is registered for write tracking. */
    boolean trackedAt(long base) {
        long[] b = bases;
        boolean[] t = tracked;
        for (int i = 0; i < b.length && i < t.length; i++) {
            if (b[i] == base) return t[i];
        }
        return false;
    }

    /** Returns the size of the range that started at {@code base} (0 if unknown) and forgets it. */
    synchronized long remove(long base) {
        return removeLocked(base);
    }

    private long removeLocked(long base) {
        long[] b = bases;
        for (int i = 0; i < b.length; i++) {
            if (b[i] == base) {
                long size = sizes[i];
                long[] nb = new long[b.length - 1];
                long[] ns = new long[b.length - 1];
                System.arraycopy(b, 0, nb, 0, i);
                System.arraycopy(b, i + 1, nb, i, b.length - i - 1);
                System.arraycopy(sizes, 0, ns, 0, i);
                System.arraycopy(sizes, i + 1, ns, i, b.length - i - 1);
                boolean[] nt = new boolean[b.length - 1];
                System.arraycopy(tracked, 0, nt, 0, i);
                System.arraycopy(tracked, i + 1, nt, i, b.length - i - 1);
                bases = nb;
                tracked = nt;
                sizes = ns;
                return size;
            }
        }
        return 0;
    }

    /** Whether {@code [lo, hi)} lies inside one live pinned allocation registered for write tracking. */
    boolean tracked(long lo, long hi) {
        long[] b = bases;
        long[] s = sizes;
        boolean[] t = tracked;
        for (int i = 0; i < b.length && i < s.length && i < t.length; i++) {
            if (lo >= b[i] && hi <= b[i] + s[i] && hi >= lo) return t[i];
        }
        return false;
    }

    /** Whether {@code [lo, hi)} lies inside one live pinned allocation. */
    boolean contains(long lo, long hi) {
        long[] b = bases;
        long[] s = sizes;
        for (int i = 0; i < b.length && i < s.length; i++) {
            if (lo >= b[i] && hi <= b[i] + s[i] && hi >= lo) return true;
        }
        return false;
    }
}
