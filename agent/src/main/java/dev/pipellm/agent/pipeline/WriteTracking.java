package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * validate=uffd: which slots' source pages were written since their encryption began, from the
 * page tables (PageTracker: userfaultfd async write-protection and PAGEMAP_SCAN) instead of a
 * snapshot compare.
 *
 * <p>A worker <em>arms</em> a slot's source pages before it reads them. Arming is the only thing
 * that clears a page's written state, and it reports what it clears: every page written since the
 * last arm, whoever's slot it was (pages are shared between slots, and with unrelated data). Those
 * writes make every other slot overlapping them stale: slots not yet claimed are dropped, and each
 * gets {@link Slot#written} (a slot already claimed by the app's thread keeps it for its check). So a
 * write is never lost: until the next arm the page shows written; an arm hands it on as the flag.
 *
 * <p>The commit's check ({@link #unchanged}) is: the pages of the update are armed and unwritten,
 * and the slot's flag is clear. One race is left, an arm that has cleared a page but not yet set
 * the flags: {@code begun} and {@code ended} counters (incremented before and after each arm)
 * close it. The check reads {@code begun}, waits until {@code ended} has caught up (every arm begun
 * before has set its flags), scans and reads the flag, then reads {@code begun} again: unchanged
 * means no arm cleared anything between its scan and its flag read; otherwise it tries again, a
 * bounded number of times (and waits for an arm in flight a bounded time), and then calls the slot
 * stale (the slow path, never wrong bytes).
 * The counters are striped by 64 KiB granule of address ({@link #STRIPES} pairs): an arm counts in
 * the stripes its range touches, a check reads those of its own range, so the workers arming the
 * next slots (other memory) do not make a commit retry and, after its tries, give up a clean slot
 * as stale: with many workers arming at once, one shared pair would change under nearly every
 * check. (With one worker, on the development VM, it made no measurable difference.) An arm's written
 * regions lie inside its page-rounded range, which lies inside its granules for pages up to 64 KiB;
 * ranges that share a page share a granule, hence a stripe (unrelated granules that share a stripe
 * only cost a retry). Arms run on worker threads; the app's thread never waits for a lock, only
 * (briefly) for an arm in flight over its own memory.
 *
 * <p>What is guaranteed: a write to a slot's source that happens before the driver's update of that
 * range reads {@code unchanged} (from any thread, from a signal handler, from the kernel: read(2),
 * recv(2), io_uring, process_vm_writev) is never committed. A write concurrent with the copy itself
 * (after that check, while the ciphertext is copied) races the copy, as it races the driver's own
 * read of the source without PipeLLM: the committed bytes are those of the source at the check.
 */
final class WriteTracking {
    /** Written regions one arm reports before it merges the rest (false positives only). */
    static final int REGIONS = 16;
    private static final int CHECK_TRIES = 64;
    /**
     * Longest wait of a commit's check for an arm in flight over its memory: an arm takes 4-50 us per MiB
     * here (more when it re-protects written pages). Counting spins instead gave up within a few
     * microseconds, while a worker armed the same layer for a later slot, and dropped about 1 % of a
     * steady stream's clean slots as stale. A worker descheduled in the middle of its arm costs the
     * commit this long, then the slow path.
     */
    private static final long ARM_WAIT_NANOS = 200_000;
    /** Counter pairs; a power of two. */
    static final int STRIPES = 256;
    private static final int GRANULE_SHIFT = 16;

    private final PageTracker tracker;
    private final Counters counters;
    private final AtomicLongArray begun = new AtomicLongArray(STRIPES);
    private final AtomicLongArray ended = new AtomicLongArray(STRIPES);
    private volatile Pipeline pipeline;

    WriteTracking(PageTracker tracker, Counters counters) {
        this.tracker = tracker;
        this.counters = counters;
    }

    void attach(Pipeline p) {
        this.pipeline = p;
    }

    /** An allocation the workers may read: registered once (app's thread, in on_alloc). */
    boolean track(long base, long size) {
        return tracker.track(base, size) == 0;
    }

    /** The allocation is about to be freed (its slots are gone, no worker reads it): unregistered. */
    void untrack(long base, long size) {
        tracker.untrack(base, size);
    }

    /** Off-heap room for one worker's arm results. */
    static MemorySegment regionBuffer() {
        return Arena.ofShared().allocate(16L * REGIONS, 8);
    }

    /**
     * Worker, before reading slot {@code self}'s source {@code [lo, hi)}: arms its pages and makes
     * every other slot over a page written since the last arm stale. False when the range cannot
     * be tracked (the slot is then validated by compare).
     */
    boolean arm(Slot self, long lo, long hi, MemorySegment regions) {
        self.written = false;
        final long g0 = lo >>> GRANULE_SHIFT, g1 = granuleEnd(lo, hi - lo);
        for (long g = g0; g < g1; g++) begun.incrementAndGet(stripe(g));
        try {
            long n = tracker.arm(lo, hi - lo, regions.address(), REGIONS);
            counters.increment(StatCounter.PAGE_SCANS);
            if (n < 0) return false;
            Pipeline p = pipeline;
            for (int i = 0; i < n; i++) {
                long wlo = regions.getAtIndex(ValueLayout.JAVA_LONG, 2L * i);
                long whi = regions.getAtIndex(ValueLayout.JAVA_LONG, 2L * i + 1);
                if (p != null) p.writtenBehind(wlo, whi, self);
            }
            return true;
        } finally {
            for (long g = g0; g < g1; g++) ended.incrementAndGet(stripe(g));
        }
    }

    /** The commit's check for a tracked slot: {@code n} source bytes at {@code in} unwritten since the arm. */
    boolean unchanged(Slot s, long in, int n) {
        final long g0 = in >>> GRANULE_SHIFT, g1 = granuleEnd(in, n);
        long deadline = 0;
        for (int tries = 0; tries < CHECK_TRIES; ) {
            long b = settledBegun(g0, g1);
            if (b < 0) {
                // an arm over this memory is between its scan and its flags: wait for it, for a while
                long now = System.nanoTime();
                if (deadline == 0) {
                    deadline = now + ARM_WAIT_NANOS;
                } else if (now - deadline > 0) {
                    return false;
                }
                Thread.onSpinWait();
                continue;
            }
            tries++;
            counters.increment(StatCounter.PAGE_SCANS);
            if (!tracker.clean(in, n) || s.written) return false;
            if (begunSum(g0, g1) == b) return true;
        }
        return false;
    }

    /** The sum of the stripes' {@code begun} over granules [g0, g1), or -1 while an arm there is in flight. */
    private long settledBegun(long g0, long g1) {
        long sum = 0;
        for (long g = g0; g < g1; g++) {
            int i = stripe(g);
            long b = begun.get(i);
            if (ended.get(i) != b) return -1;
            sum += b;
        }
        return sum;
    }

    /** Counters only grow: an equal sum means no arm over these granules began in between. */
    private long begunSum(long g0, long g1) {
        long sum = 0;
        for (long g = g0; g < g1; g++) sum += begun.get(stripe(g));
        return sum;
    }

    /** One past the last granule of [addr, addr + len), at most {@link #STRIPES} granules on from the first. */
    private static long granuleEnd(long addr, long len) {
        long g0 = addr >>> GRANULE_SHIFT;
        long g1 = ((addr + Math.max(len, 1) - 1) >>> GRANULE_SHIFT) + 1;
        return g1 - g0 > STRIPES ? g0 + STRIPES : g1;   // every stripe once: as good as all of them
    }

    private static int stripe(long granule) {
        return (int) (granule & (STRIPES - 1));
    }
}
