package dev.pipellm.agent.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The slots and their private off-heap memory, within {@code PIPELLM_MEMORY_BUDGET}: each slot
 * holds a ciphertext buffer and a plaintext snapshot of {@code slotBytes} each (the largest driver
 * message, learned), so the pool has {@code budget / (2 * slotBytes)} slots. Memory is allocated
 * when the pool is made (by the planner, once the message size is known) and kept for the life of
 * the process; it is never the shared bounce buffer.
 *
 * <p>The snapshots are one anonymous mapping reserved untouched ({@code MAP_NORESERVE}): a page of
 * it becomes resident only when a worker writes a snapshot there. Write-tracked slots
 * (validate=uffd) never do, so they cost their ciphertext only: half the budget stays unused.
 *
 * <p>Only the planner takes slots (it scans for FREE ones); any thread may free one by its CAS.
 */
final class SlotPool {
    final Slot[] slots;
    final int slotBytes;
    private int cursor;

    private SlotPool(Slot[] slots, int slotBytes) {
        this.slots = slots;
        this.slotBytes = slotBytes;
    }

    /** A pool for messages of up to {@code slotBytes}, or null when the budget holds no slot. */
    static SlotPool create(long budgetBytes, int slotBytes) {
        long n = budgetBytes / (2L * slotBytes);
        if (n < 1) return null;
        n = Math.min(n, Channel.WINDOW - 1);
        Arena arena = Arena.ofShared();   // lives as long as the process: slots are reused, never freed
        Slot[] slots = new Slot[(int) n];
        MemorySegment snapshots = reserve(n * slotBytes);
        for (int i = 0; i < slots.length; i++) {
            MemorySegment cipher = arena.allocate(slotBytes, 64);
            MemorySegment snapshot = snapshots != null ? snapshots.asSlice((long) i * slotBytes, slotBytes)
                    : arena.allocate(slotBytes, 64);
            slots[i] = new Slot(i, cipher, snapshot);
        }
        return new SlotPool(slots, slotBytes);
    }

    private static final java.lang.invoke.MethodHandle MMAP;

    static {
        java.lang.foreign.Linker l = java.lang.foreign.Linker.nativeLinker();
        java.lang.invoke.MethodHandle h = null;
        try {
            h = l.downcallHandle(l.defaultLookup().find("mmap").orElseThrow(), java.lang.foreign.FunctionDescriptor.of(
                    java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG,
                    java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_LONG));
        } catch (RuntimeException e) {
            h = null;
        }
        MMAP = h;
    }

    /** {@code bytes} of private anonymous memory, reserved untouched (never unmapped), or null. */
    private static MemorySegment reserve(long bytes) {
        final int protReadWrite = 0x3, mapPrivateAnonymousNoReserve = 0x02 | 0x20 | 0x4000;
        if (MMAP == null) return null;
        try {
            long a = (long) MMAP.invokeExact(0L, bytes, protReadWrite, mapPrivateAnonymousNoReserve, -1, 0L);
            return a == -1L || a == 0 ? null : MemorySegment.ofAddress(a).reinterpret(bytes);
        } catch (Throwable t) {
            return null;
        }
    }

    int size() {
        return slots.length;
    }

    /** A FREE slot, or null when every slot is in use (planner thread). */
    Slot take() {
        for (int k = 0; k < slots.length; k++) {
            int i = cursor;
            cursor = i + 1 == slots.length ? 0 : i + 1;
            Slot s = slots[i];
            if (s.state() == Slot.FREE) return s;
        }
        return null;
    }
}
