package dev.pipellm.agent.stats;

import java.util.concurrent.atomic.LongAdder;

/**
 * One striped cell set per {@link StatCounter}. {@link LongAdder} keeps a base cell plus padded
 * ({@code @Contended}) per-thread-probe cells created only under contention, and sums them on read:
 * an increment is a CAS on a cell the thread mostly owns, and allocates nothing once the cells exist
 * (at most one per CPU, created during warm-up). Reads are weakly consistent snapshots.
 */
public final class Counters {
    private static final StatCounter[] ALL = StatCounter.values();
    private final LongAdder[] cells = new LongAdder[ALL.length];

    public Counters() {
        for (int i = 0; i < cells.length; i++) cells[i] = new LongAdder();
    }

    public void increment(StatCounter c) {
        cells[c.ordinal()].increment();
    }

    public void add(StatCounter c, long n) {
        cells[c.ordinal()].add(n);
    }

    public long get(StatCounter c) {
        return cells[c.ordinal()].sum();
    }
}
