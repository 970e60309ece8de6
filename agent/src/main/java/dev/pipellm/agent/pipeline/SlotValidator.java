package dev.pipellm.agent.pipeline;

/**
 * Decides at commit whether a slot's plaintext is unchanged since it was encrypted: a slot is
 * committed only if it is. Writes the agent sees (a D2H or H2H copy into a source range), frees and
 * re-allocations drop slots before this is asked ({@link Pipeline#invalidate}); this check catches
 * every other write (the CPU's own).
 */
public interface SlotValidator {
    /** Whether the {@code n} source bytes at {@code in} for message position {@code pos} are the slot's. */
    boolean unchanged(Slot slot, long in, int pos, int n);

    /**
     * Exact validation: the worker kept a private snapshot of the plaintext it encrypted, and the
     * commit compares the source with it (libc memcmp, ~12 GB/s here). Costs a read of the source per
     * commit and the snapshot's memory; always correct, the fallback of every other mode.
     */
    SlotValidator SNAPSHOT_COMPARE = (slot, in, pos, n) -> slot.sourceUnchanged(in, pos, n);

    /**
     * validate=uffd: a write-tracked slot asks the page tables (a PAGEMAP_SCAN of the update's
     * pages, ~4 us per MiB here, and the slot's written flag: {@link WriteTracking}); a slot over
     * memory uffd cannot track exactly (shared or file-backed memory, a real GPU driver's mapping)
     * kept its snapshot and is compared.
     */
    static SlotValidator trackedOrCompare(WriteTracking tracking) {
        return (slot, in, pos, n) -> slot.tracked ? tracking.unchanged(slot, in, n) : slot.sourceUnchanged(in, pos, n);
    }
}
