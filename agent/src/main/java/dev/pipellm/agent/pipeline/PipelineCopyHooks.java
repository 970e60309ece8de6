package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.stats.StatCounter;
import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

/**
 * The CUDA side of {@code pipellm} mode (app threads, in the shim's upcalls): records every copy,
 * allocation and ordering call for the planner, invalidates slots at once when a copy writes their
 * source range or it is freed, and, before an H2D copy reaches the driver, pads the channel's IVs
 * with NOPs up to a ready slot of that copy when that is cheaper than dropping the slot.
 *
 * <h2>Padding and ordering</h2>
 * The decision, the NOPs and the real copy must not interleave with another thread's copy on the same
 * channel, or that copy would take the IVs in between. A copy that needs no NOP only counts itself in
 * {@link Channel#activeCopies} (an atomic add, no lock) and checks {@link Channel#padding}; a copy
 * that pads takes {@link Channel#padLock}, raises {@code padding}, waits (briefly, bounded) until no
 * other copy is in flight, pads and copies, and releases both in after_copy. A copy that finds
 * {@code padding} raised waits on the lock. If the guard is beaten anyway (a copy the agent does not
 * see), the only cost is a missed slot: every commit checks the IV.
 */
public final class PipelineCopyHooks extends CopyHooks {
    private static final int KIND_H2H = 0, KIND_H2D = 1, KIND_D2H = 2, KIND_D2D = 3;
    private static final int FREE_HOST = 1, ALLOC_HOST = 0;
    /** A host-to-host copy (no CopyDirection: the speculator does not see it as a copy). */
    private static final int H2H = -1;
    private static final int ALLOC_BEFORE = -1;
    private static final long PAD_WAIT_NANOS = 20_000_000L;

    private final Pipeline p;

    public PipelineCopyHooks(Pipeline pipeline) {
        this.p = pipeline;
    }

    @Override
    public int beforeCopy(int api, long dst, long dpitch, long src, long spitch, long width, long height, int kind,
                          long stream) {
        ThreadState ts = p.thread();
        long bytes = width * height;
        int dir = switch (kind) {
            case KIND_H2D -> CopyDirection.H2D;
            case KIND_D2H -> CopyDirection.D2H;
            case KIND_D2D -> CopyDirection.D2D;
            case KIND_H2H -> H2H;
            default -> p.pinned.contains(src, src + 1) ? CopyDirection.H2D : CopyDirection.NONE;
        };
        ts.inCopy = true;
        ts.copyStream = stream;
        ts.copySrc = src;
        ts.copyOffset = 0;
        ts.copyDirection = dir == CopyDirection.H2D ? 1 : 0;
        int sid = Channels.streamId(stream);
        int tid = (int) Thread.currentThread().threadId();
        if (dir == CopyDirection.H2D) {
            if (height > 1) p.ring.onEvent(PipelineEvents.SHAPE, dir, src, spitch, width, sid, tid);
            p.ring.onEvent(EventType.COPY, dir, src, dst, bytes, sid, tid);
            if (p.active()) enterChannel(ts, stream, src);
        } else {
            if (dir != H2H) {
                p.ring.onEvent(EventType.COPY, dir, dir == CopyDirection.D2H ? dst : src,
                        dir == CopyDirection.D2H ? src : dst, bytes, sid, tid);
            }
            if (dir == CopyDirection.D2H || dir == H2H) {
                long hi = dst + (height - 1) * dpitch + width;
                p.ring.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, dst, 0, hi - dst, sid, tid);
                p.invalidate(dst, hi);
            }
        }
        return 0;
    }

    /** Joins the channel's ordering protocol, padding with NOPs first when a slot of this copy waits ahead. */
    private void enterChannel(ThreadState ts, long stream, long src) {
        Channel ch = p.channels.ofStream(stream);
        if (ch == null || ch.retired) return;
        int pad = ch.nopUnreachable || !p.nops.available() ? 0 : nopsTo(ch, src);
        if (pad > 0) {
            ch.padLock.lock();
            ts.padOn = ch;
            ch.padding = true;
            long deadline = System.nanoTime() + PAD_WAIT_NANOS;
            while (ch.activeCopies.get() > 0 && System.nanoTime() < deadline) Thread.yield();
            pad = ch.activeCopies.get() > 0 ? 0 : nopsTo(ch, src);   // others may have moved the channel on
            if (pad > 0) issueNops(ts, ch, pad);
            return;
        }
        ch.activeCopies.incrementAndGet();
        if (ch.padding) {   // a padding copy is deciding: wait for it to finish its copy
            ch.activeCopies.decrementAndGet();
            ch.padLock.lock();
            ch.activeCopies.incrementAndGet();
            ch.padLock.unlock();
        }
        ts.activeOn = ch;
    }

    /** How many NOPs put this copy's first message on its slot; 0 when none is needed or worth it. */
    private int nopsTo(Channel ch, long src) {
        long next = ch.seq.get() + 1;
        for (int k = 0; k <= p.maxNops; k++) {
            Slot s = ch.slotAt(next + k);
            if (s == null || s.seq != next + k || s.channel != ch || s.epoch != ch.epoch || s.offset != 0 || s.src != src) continue;
            int st = s.state();
            if (st == Slot.READY || st == Slot.ENCRYPTING) return k;
        }
        return 0;
    }

    private void issueNops(ThreadState ts, Channel ch, int n) {
        long first = ch.seq.get() + 1;
        ts.nopChannel = ch;
        ts.nopMiss = false;
        int done;
        try {
            done = p.nops.issue(n, ts);
        } catch (Throwable t) {
            done = 0;
            p.counters.increment(StatCounter.WORKER_ERRORS);
        } finally {
            ts.nopChannel = null;
        }
        p.counters.add(StatCounter.NOP_MESSAGES, done);
        p.jfr.nops(ch.id, first, done);
        if (ts.nopMiss) {
            ts.nopMiss = false;
            if (!ch.nopUnreachable) {
                ch.nopUnreachable = true;
                p.counters.increment(StatCounter.NOP_UNREACHABLE_CHANNELS);
            }
        }
    }

    @Override
    public void afterCopy(int api, long dst, long src, long width, long height, int kind, long stream, int result) {
        ThreadState ts = p.thread();
        ts.inCopy = false;
        Channel pad = ts.padOn;
        if (pad != null) {
            ts.padOn = null;
            pad.padding = false;
            pad.padLock.unlock();
        }
        Channel on = ts.activeOn;
        if (on != null) {
            ts.activeOn = null;
            on.activeCopies.decrementAndGet();
        }
    }

    @Override
    public void beforeSync(int api, long a, long b) {
        // Commits happen inside the driver's EVP calls, before the copy returns: nothing to flush.
    }

    @Override
    public void afterSync(int api, long a, long b, int result) {
        p.ring.onEvent(EventType.SYNC, CopyDirection.NONE, 0, 0, 0, api == 0 ? Channels.streamId(a) : -1,
                (int) Thread.currentThread().threadId());
    }

    @Override
    public void afterAlloc(int api, long ptr, long bytes, int result) {
        if (ptr == 0) return;
        int tid = (int) Thread.currentThread().threadId();
        if (api == ALLOC_HOST && result == 0) {
            // validate=uffd: registered for write tracking now, once, before any slot is made there
            WriteTracking t = p.tracking;
            p.pinned.add(ptr, bytes, t != null && t.track(ptr, bytes));
            p.ring.onEvent(EventType.HOST_ALLOC, CopyDirection.NONE, ptr, 0, bytes, -1, tid);
        } else if (api == FREE_HOST && result == ALLOC_BEFORE) {
            boolean wasTracked = p.pinned.trackedAt(ptr);
            long size = p.pinned.remove(ptr);
            if (size > 0) {
                p.invalidate(ptr, ptr + size);
                p.awaitNoReader(ptr, ptr + size);
                WriteTracking t = p.tracking;
                if (wasTracked && t != null) t.untrack(ptr, size);
            }
            p.ring.onEvent(EventType.HOST_FREE, CopyDirection.NONE, ptr, 0, size, -1, tid);
        }
    }
}
