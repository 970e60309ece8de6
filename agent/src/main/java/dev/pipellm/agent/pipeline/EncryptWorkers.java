package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.agent.evp.NativeMemory;
import dev.pipellm.crypto.gcm.StreamingGcm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The encrypt workers: named daemon threads ({@code pipellm-encrypt-N}) that take PLANNED slots from
 * the planner's queue (farthest ahead first), read their plaintext from pinned host memory once into a
 * private snapshot and encrypt it (the agent's one AES-GCM, StreamingGcm) into the slot's private
 * buffer, then publish it READY. Idle strategy: a timed poll of the queue (parks).
 *
 * <p>Reading app memory safely: before copying a source range a worker publishes it in
 * {@link #reading} and then checks that the range is still a live pinned allocation; a thread that
 * frees such an allocation removes it first and then waits in {@link #awaitNoReader} until no worker
 * still reads inside it (both sides write, then read, volatile fields: one sees the other).
 *
 * <p>A worker that dies (an Error, an injected fault) releases its slot, logs one warning and is
 * counted; the others go on. With none left the pipeline stops planning and every message takes the
 * slow path.
 */
final class EncryptWorkers {
    private static final int CHUNK = 64 * 1024;
    private final Worker[] workers;
    /**
     * Planned slots, newest (farthest ahead) taken first: a worker slower than the app's own slow path
     * would only ever finish slots the app has just passed if it took the nearest first; taking the
     * farthest, its work is ready when the app gets there, and the app does the near ones itself.
     */
    private final LinkedBlockingDeque<Slot> queue;
    private final PinnedRanges pinned;
    private final Counters counters;
    private final FaultPoint fault;
    private final long faultN;
    private final AtomicLong taken = new AtomicLong();
    private final AtomicInteger alive = new AtomicInteger();
    private final boolean idleClass;
    /** Where the workers' AES-GCM time goes (the slow path's warm-up compares it with OpenSSL's). */
    private final dev.pipellm.agent.evp.EngineWarmUp timing;
    /** validate=uffd: arm the source's pages before reading them, keep no snapshot (null: compare). */
    private final WriteTracking tracking;
    private volatile boolean running = true;

    EncryptWorkers(int count, int queueCapacity, PinnedRanges pinned, Counters counters,
                   FaultPoint fault, long faultN, boolean idleClass, dev.pipellm.agent.evp.EngineWarmUp timing,
                   WriteTracking tracking) {
        this.tracking = tracking;
        this.idleClass = idleClass;
        this.timing = timing;
        this.queue = new LinkedBlockingDeque<>(Math.max(1, queueCapacity));
        this.pinned = pinned;
        this.counters = counters;
        this.fault = fault;
        this.faultN = faultN;
        this.workers = new Worker[count];
        for (int i = 0; i < count; i++) workers[i] = new Worker(i);
    }

    void start() {
        for (Worker w : workers) {
            alive.incrementAndGet();
            w.thread.start();
        }
    }

    int alive() {
        return alive.get();
    }

    /** Planner: queues a PLANNED slot; false when the queue is full (the slot stays unplanned). */
    boolean offer(Slot s) {
        return queue.offer(s);
    }

    void stop() {
        running = false;
        for (Worker w : workers) w.thread.interrupt();
    }

    /** A thread freeing {@code [lo, hi)} (already removed from {@link PinnedRanges}) waits out readers. */
    void awaitNoReader(long lo, long hi) {
        for (Worker w : workers) {
            int spins = 0;
            while (w.readingLo < hi && lo < w.readingHi) {
                // the worker runs in SCHED_IDLE: sleep (not yield) so that it gets the CPU to finish
                if (++spins < 100) Thread.onSpinWait();
                else java.util.concurrent.locks.LockSupport.parkNanos(20_000);
            }
        }
    }

    private final class Worker implements Runnable {
        final Thread thread;
        volatile long readingLo;
        volatile long readingHi;
        /** The agent's one AES-GCM, fed 64 KiB at a time through heap staging (SunJCE's fast path). */
        private final StreamingGcm gcm = StreamingGcm.create();
        private final byte[] in = new byte[CHUNK];
        private final byte[] out = new byte[CHUNK];
        private final MemorySegment regions = WriteTracking.regionBuffer();
        private Slot current;

        Worker(int i) {
            thread = new Thread(this, "pipellm-encrypt-" + i);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            // A worker must never take a core from the app's own copies: it runs on idle CPU only.
            if (idleClass) dev.pipellm.agent.evp.IdleScheduling.enterIdleClass();
            try {
                while (running) {
                    Slot s;
                    try {
                        s = queue.pollLast(5, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        continue;
                    }
                    if (s == null || !s.cas(Slot.PLANNED, Slot.ENCRYPTING)) continue;
                    current = s;
                    encrypt(s);
                    current = null;
                }
            } catch (Throwable t) {
                Slot s = current;
                if (s != null && !s.cas(Slot.ENCRYPTING, Slot.FREE)) s.cas(Slot.DROPPED, Slot.FREE);
                readingLo = readingHi = 0;
                counters.increment(StatCounter.WORKER_ERRORS);
                AgentLog.logger().warn("pipellm: encrypt worker {} stopped ({}); {} worker(s) left, the slow path"
                        + " covers the rest", thread.getName(), t.toString(), alive.get() - 1);
            } finally {
                alive.decrementAndGet();
            }
        }

        private void encrypt(Slot s) throws InterruptedException {
            long n = taken.incrementAndGet();
            if (fault == FaultPoint.WORKER_DEATH && n == faultN) {
                throw new IllegalStateException("inject_fault=worker_death:" + faultN + " (test only)");
            }
            if (fault == FaultPoint.WORKER_SLOW) Thread.sleep(faultN);
            if (s.seq <= s.channel.seq.get()) {
                // the driver has already started this slot's message: it can only be wasted
                finishUnused(s, StatCounter.RELINQUISHED_SLOTS, 0);
                return;
            }
            long lo = s.sourceAt(0);
            long hi = s.sourceAt(s.length - 1) + 1;
            readingLo = lo;
            readingHi = hi;
            boolean readable = pinned.contains(lo, hi);
            long t0 = System.nanoTime();
            boolean done = false;
            try {
                if (readable) {
                    // armed before the first read: a write from here on shows at the commit's check
                    s.tracked = tracking != null && pinned.tracked(lo, hi) && tracking.arm(s, lo, hi, regions);
                    encryptInOnePass(s);
                    done = true;
                }
            } catch (RuntimeException e) {
                counters.increment(StatCounter.WORKER_ERRORS);
            } finally {
                readingLo = readingHi = 0;
            }
            if (!done) {
                finishUnused(s, readable ? StatCounter.RELINQUISHED_SLOTS : StatCounter.STALE_SLOTS, 0);
                return;
            }
            if (timing != null) timing.observeAgent(s.length, System.nanoTime() - t0);
            counters.add(StatCounter.PRE_ENCRYPTED_BYTES, s.length);
            if (s.tracked) counters.increment(StatCounter.TRACKED_SLOTS);
            else counters.add(StatCounter.SNAPSHOT_BYTES, s.length);
            if (!s.cas(Slot.ENCRYPTING, Slot.READY)) {
                // dropped while we worked (and counted by who dropped it): the ciphertext never leaves here
                counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, s.length);
                s.channel.clearSlot(s.seq, s);
                s.set(Slot.FREE);
            }
        }

        /**
         * Snapshot and ciphertext in one pass over the source: each 64 KiB of plaintext is read once
         * from app memory into the heap, written to the snapshot from there (cache-hot; not for a
         * write-tracked slot, whose commit checks the page tables instead), and encrypted.
         * (Copying the source to the snapshot first and encrypting the snapshot read it twice: on a
         * machine bound by memory bandwidth that cost as much as the AES.)
         */
        private void encryptInOnePass(Slot s) {
            gcm.begin(s.channel.gcmKey.asJdkKey(), s.iv, true);
            for (int pos = 0; pos < s.length; ) {
                int n = Math.min(CHUNK, s.length - pos);
                for (int got = 0; got < n; ) {   // gather rows (2D) into one chunk
                    int piece = Math.min(s.contiguousAt(pos + got), n - got);
                    MemorySegment.copy(NativeMemory.ALL, ValueLayout.JAVA_BYTE, s.sourceAt(pos + got), in, got, piece);
                    got += piece;
                }
                if (!s.tracked) MemorySegment.copy(in, 0, s.snapshot, ValueLayout.JAVA_BYTE, pos, n);
                gcm.update(in, 0, n, out, 0);
                MemorySegment.copy(out, 0, s.cipher, ValueLayout.JAVA_BYTE, pos, n);
                pos += n;
            }
            gcm.finishEncrypt(s.tag);
        }

        private void finishUnused(Slot s, StatCounter why, long wasted) {
            if (wasted > 0) counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, wasted);
            counters.increment(why);
            s.channel.clearSlot(s.seq, s);
            if (!s.cas(Slot.ENCRYPTING, Slot.FREE)) s.cas(Slot.DROPPED, Slot.FREE);
        }
    }
}
