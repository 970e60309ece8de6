package dev.pipellm.speculator.trace;

import java.util.SplittableRandom;

/**
 * Deterministic virtual address allocator for generated traces: page-aligned regions in ascending order with
 * random page gaps between them, the way separate cudaHostAlloc/malloc regions land at unrelated bases.
 */
final class HostAddressSpace {
    static final long PAGE = 4096;
    private final SplittableRandom random;
    private long next;

    HostAddressSpace(long base, SplittableRandom random) {
        this.next = base;
        this.random = random;
    }

    long allocate(long bytes) {
        final long address = next;
        final long size = (bytes + PAGE - 1) / PAGE * PAGE;
        next = address + size + PAGE * (1 + random.nextInt(64));
        return address;
    }

    static long powerOfTwoCeil(long bytes) {
        return bytes <= 1 ? 1 : Long.highestOneBit(bytes - 1) << 1;
    }
}
