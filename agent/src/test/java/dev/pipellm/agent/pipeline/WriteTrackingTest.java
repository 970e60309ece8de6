package dev.pipellm.agent.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.stats.Counters;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * WriteTracking's decisions over a scripted PageTracker (the kernel side, shim_protect.c, has its own
 * test against the real kernel: native-shim/test/protect_test.c), and the choice of validation.
 */
class WriteTrackingTest {
    /** A tracker whose answers the test sets; its arm can be held between its scan and its return. */
    static class Scripted implements PageTracker {
        volatile int probe;
        volatile boolean clean = true;
        volatile boolean disabled;
        volatile long[] written = new long[0];
        volatile CountDownLatch armHeld;
        final CountDownLatch armScanned = new CountDownLatch(1);

        @Override public int probe() { return disabled ? -5 : probe; }
        @Override public void disable() { disabled = true; }
        @Override public int track(long addr, long len) { return 0; }
        @Override public int untrack(long addr, long len) { return 0; }
        @Override public boolean clean(long addr, long len) { return clean; }

        @Override
        public long arm(long addr, long len, long regions, int cap) {
            long[] w = written;
            MemorySegment r = MemorySegment.ofAddress(regions).reinterpret(16L * cap);
            for (int i = 0; i < w.length; i++) r.setAtIndex(ValueLayout.JAVA_LONG, i, w[i]);
            armScanned.countDown();
            CountDownLatch hold = armHeld;
            if (hold != null) {
                try {
                    hold.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return w.length / 2;
        }
    }

    private static Slot slot() {
        Arena a = Arena.ofAuto();
        return new Slot(0, a.allocate(4096), a.allocate(4096));
    }

    @Test
    void shouldCommitOnlyWhenThePagesAreCleanAndTheSlotWasNotFlagged() {
        Scripted t = new Scripted();
        WriteTracking w = new WriteTracking(t, new Counters());
        Slot s = slot();
        assertTrue(w.arm(s, 0x10000, 0x20000, WriteTracking.regionBuffer()));
        assertTrue(w.unchanged(s, 0x10000, 4096));
        t.clean = false;
        assertFalse(w.unchanged(s, 0x10000, 4096), "a page written since the arm");
        t.clean = true;
        s.written = true;
        assertFalse(w.unchanged(s, 0x10000, 4096), "a write another slot's arm reported");
    }

    @Test
    void shouldClearTheSlotsOwnFlagWhenItIsArmed() {
        WriteTracking w = new WriteTracking(new Scripted(), new Counters());
        Slot s = slot();
        s.written = true;   // left over from an earlier use of the slot
        assertTrue(w.arm(s, 0x10000, 0x20000, WriteTracking.regionBuffer()));
        assertFalse(s.written);
    }

    @Test
    void shouldNotTrackARangeTheArmRefuses() {
        Scripted t = new Scripted() {
            @Override public long arm(long addr, long len, long regions, int cap) { return -14; }
        };
        assertFalse(new WriteTracking(t, new Counters()).arm(slot(), 0x10000, 0x20000, WriteTracking.regionBuffer()));
    }

    /** A worker's arm of [lo, hi), started and held between its scan and its flags; its result lands in {@code armed}. */
    private static Thread heldArm(Scripted t, WriteTracking w, long lo, long hi, AtomicBoolean armed) throws Exception {
        Thread worker = new Thread(() -> armed.set(w.arm(slot(), lo, hi, WriteTracking.regionBuffer())));
        worker.start();
        t.armScanned.await();
        return worker;
    }

    /**
     * The race the counters close: an arm has cleared the pages (the scan says clean) but not yet
     * flagged the slots over them. A check meanwhile must not say unchanged.
     */
    @Test
    void shouldNeverSayUnchangedWhileAnArmIsBetweenItsScanAndItsFlags() throws Exception {
        Scripted t = new Scripted();
        t.armHeld = new CountDownLatch(1);
        WriteTracking w = new WriteTracking(t, new Counters());
        Slot committing = slot();
        AtomicBoolean armed = new AtomicBoolean();
        Thread worker = heldArm(t, w, 0x10000, 0x20000, armed);
        for (int i = 0; i < 1000; i++) assertFalse(w.unchanged(committing, 0x10000, 4096));
        t.armHeld.countDown();
        worker.join();
        assertTrue(armed.get());
        assertTrue(w.unchanged(committing, 0x10000, 4096), "once the arm is done, a clean slot commits");
    }

    /** An arm over other memory (the workers arming the next slots) does not hold up a commit here. */
    @Test
    void shouldCommitWhileAnArmOverOtherMemoryIsInFlight() throws Exception {
        Scripted t = new Scripted();
        t.armHeld = new CountDownLatch(1);
        WriteTracking w = new WriteTracking(t, new Counters());
        Thread worker = heldArm(t, w, 0x800000, 0x900000, new AtomicBoolean());
        assertTrue(w.unchanged(slot(), 0x10000, 4096), "the arm in flight covers none of these pages");
        assertFalse(w.unchanged(slot(), 0x8ff000, 8192), "but it covers these");
        t.armHeld.countDown();
        worker.join();
    }

    @Test
    void autoShouldChooseUffdWhenTheProbePassesAndCompareOtherwise() throws Exception {
        Scripted ok = new Scripted();
        assertNotNull(ValidationChoice.choose(Config.parse("validate=auto"), new Counters(), ok));
        assertNotNull(ValidationChoice.choose(Config.parse("validate=uffd"), new Counters(), ok));
        assertNull(ValidationChoice.choose(Config.parse("validate=compare"), new Counters(), ok));
        Scripted old = new Scripted();
        old.probe = -2;   // a kernel before 6.7
        assertNull(ValidationChoice.choose(Config.parse("validate=auto"), new Counters(), old));
        assertNull(ValidationChoice.choose(Config.parse("validate=uffd"), new Counters(), old), "explicit uffd falls back");
        assertNull(ValidationChoice.choose(Config.parse("validate=auto"), new Counters(), null), "no shim loaded");
    }

    @Test
    void mprotectShouldBeUsedOnlyWhenAskedForAndItsProbePasses() throws Exception {
        Scripted uffd = new Scripted(), mprotect = new Scripted();
        assertNotNull(ValidationChoice.choose(Config.parse("validate=mprotect"), new Counters(), uffd, mprotect));
        Scripted notFirst = new Scripted();
        notFirst.probe = -6;   // -agentpath: the shim's read/sigaction are not the ones the process calls
        assertNull(ValidationChoice.choose(Config.parse("validate=mprotect"), new Counters(), uffd, notFirst));
        assertNull(ValidationChoice.choose(Config.parse("validate=mprotect"), new Counters(), uffd, null));
        Scripted neverAsked = new Scripted() {
            @Override public int probe() { throw new AssertionError("auto must not probe mprotect"); }
        };
        assertNotNull(ValidationChoice.choose(Config.parse("validate=auto"), new Counters(), uffd, neverAsked));
    }

    @Test
    void injectedProbeFailureShouldReachTheProbeAndChooseCompare() throws Exception {
        Scripted t = new Scripted();
        assertNull(ValidationChoice.choose(Config.parse("validate=auto,inject_fault=no_uffd:1"), new Counters(), t));
        assertTrue(t.disabled);
        assertEquals(-5, t.probe());
    }
}
