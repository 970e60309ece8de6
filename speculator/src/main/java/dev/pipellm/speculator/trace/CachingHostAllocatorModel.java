package dev.pipellm.speculator.trace;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Model of PyTorch's CachingHostAllocator (workloads.md 1.5, 4.1): every request is rounded up to a power of two;
 * a freed block is cached and handed out again to the next request of its size, lowest address first (its free
 * set is ordered by size, then address); only a miss allocates a new region. Used for pinned staging tensors
 * (vLLM's per-step inputs, FlexGen's pin_memory() relays) and, with the same policy, for small pageable temporaries.
 */
final class CachingHostAllocatorModel {
    private final HostAddressSpace space;
    private final List<TreeSet<Long>> freeBySizeClass = new ArrayList<>();
    private final List<long[]> pendingFree = new ArrayList<>();

    CachingHostAllocatorModel(HostAddressSpace space) {
        this.space = space;
        for (int i = 0; i < 64; i++) {
            freeBySizeClass.add(new TreeSet<>());
        }
    }

    /** Returns the block address for a request of {@code bytes}; call {@link #free} or {@link #freeLater}. */
    long allocate(long bytes) {
        final long size = HostAddressSpace.powerOfTwoCeil(bytes);
        final TreeSet<Long> free = freeBySizeClass.get(Long.numberOfTrailingZeros(size));
        final Long cached = free.pollFirst();
        return cached != null ? cached : space.allocate(size);
    }

    void free(long address, long bytes) {
        final long size = HostAddressSpace.powerOfTwoCeil(bytes);
        freeBySizeClass.get(Long.numberOfTrailingZeros(size)).add(address);
    }

    /** Free once the copy's recorded event completes, i.e. at the next {@link #completePending()}. */
    void freeLater(long address, long bytes) {
        pendingFree.add(new long[] {address, bytes});
    }

    void completePending() {
        for (long[] p : pendingFree) {
            free(p[0], p[1]);
        }
        pendingFree.clear();
    }
}
