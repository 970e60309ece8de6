package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.crypto.iv.IvSequenceLearner;
import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventRing;
import dev.pipellm.speculator.event.EventSink;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.predict.Speculator;

/**
 * The planner role ({@code pipellm-planner}): drains the events the app threads record, keeps the
 * speculator and each channel's IV learner up to date, and turns the speculator's predicted H2D
 * message sequence into slots: message {@code k} after the channel's last observed message gets the
 * IV the learner predicts {@code k} ahead (only when it is certain), spare IVs are left where the
 * slack policy advises, and slots whose plaintext is known and pinned go to the workers, up to the
 * pool's size. Slots the new plan no longer wants, slots whose IV has passed and slots of a retired
 * key are relinquished; their ciphertext never left private memory.
 *
 * <p>Idle strategy: while slots are live (planned, encrypting or ready), spin, then yield, then park
 * 200 us between polls, so a commit finds its slot released or its successor planned in time. With no
 * live slot, whether the governor has paused pre-encryption or the prediction named nothing that can be
 * pre-encrypted (vLLM's small step inputs come from pageable memory), park 1 ms at once: the first plan
 * of a pattern comes at most that late (a weight copy of a layer takes longer), while spinning after
 * every event, and querying the speculator after every few, takes a core from the app's copies on a
 * small machine (docs/benchmarks.md, "What was done about it", under the vLLM results). Single
 * thread: everything marked "planner" in {@link Channel} and {@link SlotPool} belongs to it.
 */
final class Planner implements EventSink, Runnable {
    private static final int DRAIN_BATCH = 4096;
    /**
     * How many predicted copies ahead slots are made: far enough for the workers to run ahead of the
     * copies (weight streaming needs the next layer or two), near enough that an unpredicted copy
     * shifts few of them (each slot is kept at its sequence until its IV passes, see plan()).
     */
    private static final int LOOKAHEAD_COPIES = 8;
    private static final int SHAPES = 64;
    /** Park between polls while no slot is live (see the idle strategy above). */
    private static final long QUIET_PARK_NANOS = 1_000_000L;
    /** Park between polls after spinning and yielding while slots are live. */
    private static final long BUSY_PARK_NANOS = 200_000L;

    private final EventRing ring;
    private final Speculator speculator;
    private final PredictionBuffer prediction;
    private final Channels channels;
    private final PinnedRanges pinned;
    private final Counters counters;
    private final long budgetBytes;
    private final EncryptWorkers workers;
    private final byte[] iv = new byte[12];

    private SlotPool pool;
    private Channel primary;
    /** Largest message seen: the driver's chunk size once a multi-message copy went by. */
    private long chunk;
    private boolean replan;
    private final long[] shapeSrc = new long[SHAPES];
    private final long[] shapePitch = new long[SHAPES];
    private final long[] shapeWidth = new long[SHAPES];
    private int shapeNext;
    private volatile boolean running = true;
    private volatile boolean stopped;
    /** Passes that found no event and nothing to plan (tests wait for the planner to settle). */
    private volatile long quietPasses;
    private boolean warnedError;

    private final boolean idleClass;
    private final PipelineJfr jfr;
    private final Governor governor;

    Planner(EventRing ring, Speculator speculator, Channels channels, PinnedRanges pinned, Counters counters,
            long budgetBytes, EncryptWorkers workers, boolean idleClass, PipelineJfr jfr, Governor governor) {
        this.idleClass = idleClass;
        this.jfr = jfr;
        this.governor = governor;
        this.ring = ring;
        this.speculator = speculator;
        this.prediction = speculator.newPredictionBuffer();
        this.channels = channels;
        this.pinned = pinned;
        this.counters = counters;
        this.budgetBytes = budgetBytes;
        this.workers = workers;
    }

    SlotPool pool() {
        return pool;
    }

    long quietPasses() {
        return quietPasses;
    }

    void stop() {
        running = false;
    }

    boolean stopped() {
        return stopped;
    }

    @Override
    public void run() {
        if (idleClass) dev.pipellm.agent.evp.IdleScheduling.enterIdleClass();
        governor.begin(System.nanoTime());
        int idle = 0;
        while (running) {
            try {
                int n = ring.drainTo(this, DRAIN_BATCH);
                if (workers.alive() == 0) {
                    dropAll();
                    break;
                }
                governor.tick(System.nanoTime());
                if (governor.justPaused()) dropAll();
                if (replan && governor.planning()) {
                    replan = false;
                    plan();
                }
                int live = reclaim();
                if (n > 0) {
                    idle = 0;
                    continue;
                }
                if (!replan) quietPasses++;   // single writer
                if (!governor.planning() || live == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(QUIET_PARK_NANOS);
                } else if (++idle < 50) {
                    Thread.onSpinWait();
                } else if (idle < 100) {
                    Thread.yield();
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(BUSY_PARK_NANOS);
                }
            } catch (Throwable t) {
                counters.increment(StatCounter.WORKER_ERRORS);
                if (!warnedError) {
                    warnedError = true;
                    AgentLog.logger().warn("pipellm: the planner failed ({}); it drops its slots and goes on", t.toString());
                }
                dropAll();
            }
        }
        dropAll();
        stopped = true;
    }

    // ---- events

    @Override
    public void onEvent(int type, int direction, long host, long device, long bytes, int stream, int thread) {
        switch (type) {
            case PipelineEvents.MESSAGE -> onMessage(host, device, bytes, stream, thread);
            case PipelineEvents.OUTCOME -> speculator.onSlotOutcome((int) host, stream, device, bytes, direction == 1);
            case PipelineEvents.SHAPE -> {
                int i = shapeNext++ & (SHAPES - 1);
                shapeSrc[i] = host;
                shapePitch[i] = device;
                shapeWidth[i] = bytes;
            }
            default -> {
                speculator.onEvent(type, direction, host, device, bytes, stream, thread);
                if (type == EventType.COPY && direction == CopyDirection.H2D) {
                    Channel ch = channels.ofStreamId(stream);
                    if (ch != null && chunk > 0) ch.pendingMessages += (bytes + chunk - 1) / chunk;
                    replan = true;
                } else if (type != EventType.MARK) {
                    replan = true;
                }
            }
        }
    }

    private void onMessage(long src, long seq, long len, int channelId, int origin) {
        Channel ch = channels.byId(channelId);
        if (ch == null || ch.retired) return;
        if (origin != PipelineEvents.FROM_NOP && len > chunk) chunk = len;
        if (origin == PipelineEvents.FROM_DRIVER) speculator.onEvent(EventType.COPY, CopyDirection.H2D, src, 0, len, -1, 0);
        if (origin == PipelineEvents.FROM_COPY && ch.pendingMessages > 0) ch.pendingMessages--;
        if (seq > ch.learnedSeq && ch.ivOf(seq, iv)) {
            long skipped = ch.learnedSeq == 0 ? 0 : seq - ch.learnedSeq - 1;
            ch.learner.observe(iv, skipped);
            ch.learnedSeq = seq;
        }
        primary = ch;
        replan = true;
    }

    // ---- planning

    private void plan() {
        Channel ch = primary;
        if (ch == null || ch.retired || chunk <= 0) return;
        if (pool == null) {
            pool = SlotPool.create(budgetBytes, (int) Math.max(1 << 20, chunk));
            if (pool == null) {
                running = false;
                AgentLog.logger().warn("pipellm: memory_budget={} holds no slot of {} bytes (two buffers each):"
                        + " every message takes the slow path", budgetBytes, Math.max(1 << 20, chunk));
                return;
            }
        }
        speculator.setContext(ch.id);
        long appSeq = ch.seq.get();
        long maxAhead = Math.min(Channel.WINDOW - 2, pool.size());
        // only what this plan can use: the copies it looks at, the messages the pool holds past the
        // copies in flight (filling the buffer is most of a query's cost, and the planner queries after
        // every batch of events)
        long reach = ch.learnedSeq + ch.pendingMessages - appSeq;
        int maxMessages = (int) Math.min(Integer.MAX_VALUE, maxAhead + Math.max(0, reach));
        speculator.predict(prediction, LOOKAHEAD_COPIES, maxMessages);
        // how deep the slots' commit record lets this prediction plan (the calibrated confidence is not a
        // gate here as in the replay's model: the workers need lead time, and a copy the speculator is
        // unsure of (just after an unpredicted one) is often the next one; the record closes what misses)
        long plannable = prediction.plannableMessages();
        long cursor = ch.learnedSeq + ch.pendingMessages;
        final long planStart = cursor;   // a slot's depth: messages between the next one expected and it
        boolean full = false;
        for (int c = 0; c < prediction.copyCount() && c < LOOKAHEAD_COPIES && !full; c++) {
            cursor += prediction.copyGapBefore(c);
            long bytes = prediction.copyBytes(c);
            long host = prediction.copyHost(c);
            boolean known = prediction.copyDataKnown(c);
            long width = bytes;
            long pitch = bytes;
            int sh = shapeOf(host, bytes);
            if (sh >= 0) {
                width = shapeWidth[sh];
                pitch = shapePitch[sh];
            }
            long messages = (bytes + chunk - 1) / chunk;
            for (long j = 0; j < messages; j++) {
                long target = ++cursor;
                if (target <= appSeq) continue;
                if (target - appSeq > maxAhead || target - planStart - 1 >= plannable) {
                    full = true;   // the pool's depth, or the depth the slots' commit record allows
                    break;
                }
                if (!known) continue;
                long off = j * chunk;
                int len = (int) Math.min(chunk, bytes - off);
                if (len > pool.slotBytes) continue;
                if (!ensure(ch, target, host, pitch, width, off, len, prediction.copyPredictor(c),
                        (int) Math.min(Integer.MAX_VALUE, target - planStart - 1))) {
                    full = true;
                    break;
                }
            }
        }
    }

    private int shapeOf(long host, long bytes) {
        for (int i = 0; i < SHAPES; i++) {
            if (shapeSrc[i] == host && shapeWidth[i] > 0 && bytes % shapeWidth[i] == 0 && shapeWidth[i] < bytes) return i;
        }
        return -1;
    }

    /** Makes sure a slot for this message is planned at {@code seq}; false when no more can be. */
    private boolean ensure(Channel ch, long seq, long src, long pitch, long width, long off, int len, int predictor,
                           int depth) {
        Slot cur = ch.slotAt(seq);
        if (cur != null) {
            int st = cur.state();
            // A live slot keeps its sequence even when this plan puts another message there: plans
            // move with every unpredicted copy, and the copy it was made for may still come (NOPs can
            // reach it). It is dropped when its IV passes.
            if (st != Slot.FREE && st != Slot.DROPPED && cur.channel == ch && cur.seq == seq) return true;
        }
        long lo = src + (off / width) * pitch + off % width;
        long endOff = off + len - 1;
        long hi = src + (endOff / width) * pitch + endOff % width + 1;
        if (!pinned.contains(lo, hi)) return true;   // only pinned memory is read ahead: skip this one
        if (ch.learner.predict(seq - ch.learnedSeq, iv) != IvSequenceLearner.CERTAIN) return true;
        Slot s = pool.take();
        if (s == null) return false;
        s.channel = ch;
        s.epoch = ch.epoch;
        s.seq = seq;
        s.src = src;
        s.spitch = pitch;
        s.width = width;
        s.offset = off;
        s.length = len;
        s.setIv(iv);
        s.predictor = predictor;
        s.context = ch.id;
        s.depth = depth;
        s.set(Slot.PLANNED);
        ch.setSlot(seq, s);
        if (!workers.offer(s)) {
            ch.clearSlot(seq, s);
            s.set(Slot.FREE);
            return false;
        }
        counters.increment(StatCounter.PLANNED_SLOTS);
        return true;
    }

    /** Relinquishes slots whose IV has passed or whose key was retired; returns how many stay live. */
    private int reclaim() {
        SlotPool p = pool;
        if (p == null) return 0;
        int live = 0;
        for (Slot s : p.slots) {
            Channel ch = s.channel;
            if (ch == null || s.state() == Slot.FREE) continue;
            if (ch.retired || s.epoch != ch.epoch || s.seq <= ch.seq.get() - 1) {
                if (relinquish(s, StatCounter.RELINQUISHED_SLOTS)) {
                    replan = true;
                    continue;
                }
            }
            live++;
        }
        return live;
    }

    /** Drops a slot that is not being committed; true if this call dropped it. */
    static boolean relinquish(Slot s, StatCounter why, Counters counters, PipelineJfr jfr, EventSink outcomes) {
        Channel ch = s.channel;
        long seq = s.seq;
        int length = s.length;
        int predictor = s.predictor, context = s.context, depth = s.depth;
        if (s.cas(Slot.READY, Slot.FREE)) {
            counters.add(StatCounter.WASTED_ENCRYPTED_BYTES, length);
            // a ready slot nobody claimed was mispredicted (fields read before the CAS: once FREE the
            // planner may reuse it); one the workers had not finished says nothing about the prediction
            PipelineEvents.outcome(outcomes, predictor, depth, context, length, false);
        } else if (!s.cas(Slot.PLANNED, Slot.FREE) && !s.cas(Slot.ENCRYPTING, Slot.DROPPED)) {
            return false;
        }
        counters.increment(why);
        if (ch != null) jfr.relinquish(ch.id, seq, length, why.key);
        if (s.channel != null) s.channel.clearSlot(s.seq, s);
        return true;
    }

    private boolean relinquish(Slot s, StatCounter why) {
        return relinquish(s, why, counters, jfr, ring);
    }

    private void dropAll() {
        SlotPool p = pool;
        if (p == null) return;
        for (Slot s : p.slots) relinquish(s, StatCounter.RELINQUISHED_SLOTS);
    }
}
