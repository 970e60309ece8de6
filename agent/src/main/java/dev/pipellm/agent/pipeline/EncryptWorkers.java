package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.crypto.gcm.GcmEngine;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The encrypt workers: named daemon threads ({@code pipellm-encrypt-N}) that take PLANNED slots from
 * the planner's queue, snapshot their plaintext from pinned host memory and encrypt the snapshot into
 * the slot's private buffer, then publish it READY. Idle strategy: a timed poll of the queue (parks).
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
    private final Worker[] workers;
    private final ArrayBlockingQueue<Slot> queue;
    private final PinnedRanges pinned;
    private final Counters counters;
    private final GcmEngine engine;
    private final FaultPoint fault;
    private final long faultN;
    private final AtomicLong taken = new AtomicLong();
    private final AtomicInteger alive = new AtomicInteger();
    private final boolean idleClass;
    private volatile boolean running = true;

    EncryptWorkers(int count, int queueCapacity, PinnedRanges pinned, Counters counters, GcmEngine engine,
                   FaultPoint fault, long faultN, boolean idleClass) {
        this.idleClass = idleClass;
        this.queue = new ArrayBlockingQueue<>(Math.max(1, queueCapacity));
        this.pinned = pinned;
        this.counters = counters;
        this.engine = engine;
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
        private final MemorySegment tag = Arena.ofAuto().allocate(16);
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
                        s = queue.poll(5, TimeUnit.MILLISECONDS);
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
            if (readable) s.takeSnapshot();
            readingLo = readingHi = 0;
            if (!readable) {
                finishUnused(s, StatCounter.STALE_SLOTS, 0);
                return;
            }
            int r = engine.encrypt(s.channel.gcmKey, s.iv, null, s.snapshot.asSlice(0, s.length),
                    s.cipher.asSlice(0, s.length), tag);
            if (r != GcmEngine.OK) {
                counters.increment(StatCounter.WORKER_ERRORS);
                finishUnused(s, StatCounter.RELINQUISHED_SLOTS, 0);
                return;
            }
            MemorySegment.copy(tag, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, s.tag, 0, 16);
            counters.add(StatCounter.PRE_ENCRYPTED_BYTES, s.length);
            if (!s.cas(Slot.ENCRYPTING, Slot.READY)) {
                // dropped while we worked (and counted by who dropped it): the ciphertext never leaves here
                counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, s.length);
                s.channel.clearSlot(s.seq, s);
                s.set(Slot.FREE);
            }
        }

        private void finishUnused(Slot s, StatCounter why, long wasted) {
            if (wasted > 0) counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, wasted);
            counters.increment(why);
            s.channel.clearSlot(s.seq, s);
            if (!s.cas(Slot.ENCRYPTING, Slot.FREE)) s.cas(Slot.DROPPED, Slot.FREE);
        }
    }
}
