package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

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
 * the flags: {@link #begun} and {@link #ended} (incremented before and after each arm, volatile)
 * close it. The check reads {@code begun}, waits until {@code ended} has caught up (every arm begun
 * before has set its flags), scans and reads the flag, then reads {@code begun} again: unchanged
 * means no arm cleared anything between its scan and its flag read; otherwise it tries again, a
 * bounded number of times, and then calls the slot stale (the slow path, never wrong bytes).
 * Arms run on worker threads; the app's thread never waits for a lock, only (briefly) for an arm
 * in flight.
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

    private final PageTracker tracker;
    private final Counters counters;
    private final AtomicLong begun = new AtomicLong();
    private final AtomicLong ended = new AtomicLong();
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
        begun.incrementAndGet();
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
            ended.incrementAndGet();
        }
    }

    /** The commit's check for a tracked slot: {@code n} source bytes at {@code in} unwritten since the arm. */
    boolean unchanged(Slot s, long in, int n) {
        for (int tries = 0; tries < CHECK_TRIES; tries++) {
            long b = begun.get();
            if (ended.get() != b) {   // an arm is between its scan and its flags: wait for it
                Thread.onSpinWait();
                continue;
            }
            counters.increment(StatCounter.PAGE_SCANS);
            if (!tracker.clean(in, n) || s.written) return false;
            if (begun.get() == b) return true;
        }
        return false;
    }
}
