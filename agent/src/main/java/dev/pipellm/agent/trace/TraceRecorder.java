package dev.pipellm.agent.trace;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Records the CUDA calls the shim reports into a version-1 copy trace (docs/trace-format.md; the bench module's
 * {@code TraceReader} and {@code trace_play} read it). Option {@code trace=PATH}.
 *
 * <p><b>Producers</b> (the application's threads, inside upcalls) append one fixed-size raw entry each to a
 * preallocated ring of {@code long}s: claim an index ({@code getAndIncrement}), write the entry's fields with plain
 * stores, publish it by a release store of its sequence word ({@code index + 1}). No allocation, no lock, no I/O.
 * When the ring is full the producer wakes the writer and waits (spin, then yield): a trace is never lossy.
 *
 * <p><b>The writer</b> ({@code pipellm-trace}, a daemon) reads entries in index order, each once its sequence word
 * reads (acquire, paired with the producer's release) as {@code index + 1}, turns them into records and writes the
 * file; then it publishes how far it got ({@link #consumed}, release; producers read it with acquire). It numbers
 * streams and events densely by first use, pairs each copy with its completion (a failed copy is not recorded),
 * and writes a DELAY before a call that started at least {@link #MIN_DELAY_NS} after the previous call returned.
 *
 * <p>{@link #close()} (the agent's exit) drains what was published, writes END and closes the file.
 */
public final class TraceRecorder {
    /** Raw entry kinds. */
    static final int E_COPY = 1;       // at on_copy: api kind dst src width height dpitch spitch stream
    static final int E_COPY_DONE = 2;  // at after_copy: result
    static final int E_SYNC_BEGIN = 3; // at before_sync
    static final int E_SYNC = 4;       // at on_sync: api a b result
    static final int E_ALLOC = 5;      // at on_alloc: api ptr bytes result

    /** Shim API numbers (shim_bridge.h). */
    static final int API_MEMCPY_ASYNC = 1;
    static final int API_MEMCPY_2D = 2;
    static final int API_MEMCPY_2D_ASYNC = 3;
    static final int SYNC_STREAM = 0;
    static final int SYNC_DEVICE = 1;
    static final int SYNC_EVENT = 2;
    static final int EVENT_RECORD = 3;
    static final int STREAM_WAIT_EVENT = 4;
    static final int ALLOC_HOST = 0;
    static final int FREE_HOST = 1;
    static final int ALLOC_DEVICE = 2;
    static final int FREE_DEVICE = 3;

    /** Gaps shorter than this between calls are not written (the player's own call costs about as much). */
    public static final long MIN_DELAY_NS = 1_000;

    /*
     * Entry layout, WORDS longs:
     *   [0] sequence (index + 1 once published)   [1] kind << 48 | api << 32 | (int) extra (kind of copy / result)
     *   [2] time (System.nanoTime)  [3] thread id  [4..11] fields
     */
    static final int WORDS = 12;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] ring;
    private final long mask;
    private final AtomicLong claimed = new AtomicLong();
    private final AtomicLong consumed = new AtomicLong();
    private final Path path;
    private final Map<String, String> meta;
    private volatile boolean closing;
    private volatile Thread writerThread;
    private final Object closeLock = new Object();
    private boolean closed;

    // Writer state (the writer thread, or the closing thread once the writer has stopped).
    private OutputStream out;
    private final byte[] buf = new byte[1 + 10 * 10];
    private long records;
    private long lastEndNs = Long.MIN_VALUE;
    private final Map<Long, Integer> streams = new HashMap<>();
    private final Map<Long, Integer> events = new HashMap<>();
    private final TreeMap<Long, Long> pinned = new TreeMap<>();
    /** Per recording thread (at most MAX_THREADS at a time): its copy between on_copy and after_copy, its sync's start. */
    private static final int MAX_THREADS = 256;
    private final long[] threadIds = new long[MAX_THREADS];
    private int threadCount;
    private final long[][] pendingCopy = new long[MAX_THREADS][10];
    private final boolean[] hasPendingCopy = new boolean[MAX_THREADS];
    private final long[] syncBegin = new long[MAX_THREADS];
    private final boolean[] hasSyncBegin = new boolean[MAX_THREADS];
    private final long[] f = new long[9];
    private long lastStreamHandle = -1;
    private long lastStreamId;
    private IOException failure;

    /**
     * @param capacity ring entries, a power of two
     */
    public TraceRecorder(Path path, int capacity, Map<String, String> meta) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("trace ring capacity must be a power of two: " + capacity);
        }
        this.ring = new long[capacity * WORDS];
        this.mask = capacity - 1;
        this.path = path;
        this.meta = meta;
    }

    /** Opens the file, writes the header and starts the writer thread. */
    public void start() throws IOException {
        out = new BufferedOutputStream(Files.newOutputStream(path), 1 << 16);
        final StringBuilder m = new StringBuilder();
        meta.forEach((k, v) -> m.append(k).append('=').append(v.replace('\n', ' ')).append('\n'));
        final byte[] mb = m.toString().getBytes(StandardCharsets.UTF_8);
        out.write(new byte[] {'P', 'L', 'T', 'R', 'A', 'C', 'E', 0, 1, 0, 0, 0, (byte) mb.length,
            (byte) (mb.length >>> 8), (byte) (mb.length >>> 16), (byte) (mb.length >>> 24)});
        out.write(mb);
        writerThread = new Thread(this::writerLoop, "pipellm-trace");
        writerThread.setDaemon(true);
        writerThread.start();
    }

    // ---- producers: no allocation, no lock ----

    public void copy(int api, long dst, long dpitch, long src, long spitch, long width, long height, int kind,
                     long stream) {
        final int base = claim();
        final long[] r = ring;
        r[base + 1] = (long) E_COPY << 48 | (long) api << 32 | (kind & 0xFFFF_FFFFL);
        r[base + 4] = dst;
        r[base + 5] = src;
        r[base + 6] = width;
        r[base + 7] = height;
        r[base + 8] = dpitch;
        r[base + 9] = spitch;
        r[base + 10] = stream;
        publish(base);
    }

    public void copyDone(int result) {
        final int base = claim();
        ring[base + 1] = (long) E_COPY_DONE << 48 | (result & 0xFFFF_FFFFL);
        publish(base);
    }

    public void syncBegin(int api) {
        final int base = claim();
        ring[base + 1] = (long) E_SYNC_BEGIN << 48 | (long) api << 32;
        publish(base);
    }

    public void sync(int api, long a, long b, int result) {
        final int base = claim();
        final long[] r = ring;
        r[base + 1] = (long) E_SYNC << 48 | (long) api << 32 | (result & 0xFFFF_FFFFL);
        r[base + 4] = a;
        r[base + 5] = b;
        publish(base);
    }

    public void alloc(int api, long ptr, long bytes, int result) {
        final int base = claim();
        final long[] r = ring;
        r[base + 1] = (long) E_ALLOC << 48 | (long) api << 32 | (result & 0xFFFF_FFFFL);
        r[base + 4] = ptr;
        r[base + 5] = bytes;
        publish(base);
    }

    /** Claims the next entry (waiting while the ring is full) and fills its time and thread; returns its base. */
    private int claim() {
        final long index = claimed.getAndIncrement();
        final long capacity = mask + 1;
        int spins = 0;
        while (index - consumed.getAcquire() >= capacity) { // paired with the writer's setRelease of consumed
            if (spins == 0) {
                LockSupport.unpark(writerThread); // the writer may be parked: the ring is full now
            }
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        final int base = (int) ((index & mask) * WORDS);
        ring[base] = -index - 1; // not yet published: a value no published sequence word takes
        ring[base + 2] = System.nanoTime();
        ring[base + 3] = Thread.currentThread().threadId();
        return base;
    }

    private void publish(int base) {
        // the sequence word is index + 1; claim() stored -(index + 1)
        LONGS.setRelease(ring, base, -ring[base]); // paired with the writer's getAcquire
    }

    // ---- the writer ----

    /**
     * Drains, then sleeps a millisecond: the ring holds 2^18 entries, far more than a millisecond of calls, and a
     * writer that never spins leaves the cores (on a 2-vCPU machine, the app's hyperthread sibling) to the app.
     * A producer that finds the ring full wakes it.
     */
    private void writerLoop() {
        while (!closing) {
            drainOnce();
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Processes the published entries in order; returns how many. */
    private int drainOnce() {
        int n = 0;
        long index = consumed.get();
        for (;;) {
            final int base = (int) ((index & mask) * WORDS);
            if ((long) LONGS.getAcquire(ring, base) != index + 1) { // paired with publish's setRelease
                break;
            }
            process(base);
            index++;
            n++;
            if ((n & 1023) == 0) {
                consumed.setRelease(index);
            }
        }
        consumed.setRelease(index);
        return n;
    }

    private void process(int base) {
        final long[] r = ring;
        final int kind = (int) (r[base + 1] >>> 48);
        final int api = (int) (r[base + 1] >>> 32) & 0xFFFF;
        final int extra = (int) r[base + 1];
        final long t = r[base + 2];
        final long thread = r[base + 3];
        final int slot = threadSlot(thread);
        switch (kind) {
            case E_COPY -> {
                final long[] c = pendingCopy[slot];
                c[0] = api;
                c[1] = extra;
                c[2] = t;
                System.arraycopy(r, base + 4, c, 3, 7);
                hasPendingCopy[slot] = true;
            }
            case E_COPY_DONE -> {
                if (hasPendingCopy[slot] && extra == 0) {
                    emitCopy(pendingCopy[slot]);
                }
                hasPendingCopy[slot] = false;
                end(t);
            }
            case E_SYNC_BEGIN -> {
                syncBegin[slot] = t;
                hasSyncBegin[slot] = true;
            }
            case E_SYNC -> {
                if (extra == 0) {
                    emitSync(api, r[base + 4], r[base + 5], hasSyncBegin[slot] ? syncBegin[slot] : t);
                }
                hasSyncBegin[slot] = false;
                end(t);
            }
            case E_ALLOC -> {
                if (extra == 0) {
                    emitAlloc(api, r[base + 4], r[base + 5], t);
                    end(t);
                }
            }
            default -> {
            }
        }
    }

    /** The slot of a thread id; past MAX_THREADS threads, slots are shared round-robin (pairing may then err). */
    private int threadSlot(long thread) {
        for (int i = 0; i < threadCount; i++) {
            if (threadIds[i] == thread) {
                return i;
            }
        }
        if (threadCount < MAX_THREADS) {
            threadIds[threadCount] = thread;
            return threadCount++;
        }
        final int i = (int) (Long.remainderUnsigned(thread, MAX_THREADS));
        threadIds[i] = thread;
        return i;
    }

    private void end(long t) {
        if (t > lastEndNs) {
            lastEndNs = t;
        }
    }

    private void delayBefore(long begin) {
        if (lastEndNs != Long.MIN_VALUE && begin - lastEndNs >= MIN_DELAY_NS) {
            f[0] = begin - lastEndNs;
            write(0x0C, 1);
        }
    }

    private void emitCopy(long[] c) {
        final int api = (int) c[0];
        final int kind = (int) c[1];
        final long dst = c[3];
        final long src = c[4];
        final long width = c[5];
        final long height = c[6];
        delayBefore(c[2]);
        final boolean async = api == API_MEMCPY_ASYNC || api == API_MEMCPY_2D_ASYNC;
        final long host = kind == 1 ? src : kind == 2 ? dst : -1;
        final boolean isPinned = host != -1 ? inPinned(host) : kind == 4 && (inPinned(dst) || inPinned(src));
        final long flags = (async ? 1 : 0) | (isPinned ? 2 : 0);
        final long stream = streamId(c[9]);
        f[0] = kind;
        f[1] = flags;
        f[2] = stream;
        f[3] = dst;
        if (api == API_MEMCPY_2D || api == API_MEMCPY_2D_ASYNC) {
            f[4] = c[7];
            f[5] = src;
            f[6] = c[8];
            f[7] = width;
            f[8] = height;
            write(0x04, 9);
        } else {
            f[4] = src;
            f[5] = width * height;
            write(0x03, 6);
        }
    }

    private void emitSync(int api, long a, long b, long begin) {
        delayBefore(begin);
        switch (api) {
            case SYNC_STREAM -> write1(0x05, streamId(a));
            case SYNC_DEVICE -> write(0x06, 0);
            case SYNC_EVENT -> write1(0x09, eventId(a));
            case EVENT_RECORD -> write2(0x07, eventId(a), streamId(b));
            case STREAM_WAIT_EVENT -> write2(0x08, streamId(a), eventId(b));
            default -> {
            }
        }
    }

    private void emitAlloc(int api, long ptr, long bytes, long t) {
        delayBefore(t);
        switch (api) {
            case ALLOC_HOST -> {
                f[2] = bytes;
                write2(0x01, 1, ptr);
                pinned.put(ptr, bytes);
            }
            case FREE_HOST -> {
                if (pinned.remove(ptr) != null) {
                    write2(0x02, 1, ptr);
                }
            }
            case ALLOC_DEVICE -> {
                f[2] = bytes;
                f[0] = 0;
                f[1] = ptr;
                write(0x01, 3);
            }
            case FREE_DEVICE -> write2(0x02, 0, ptr);
            default -> {
            }
        }
    }

    private boolean inPinned(long address) {
        final Map.Entry<Long, Long> e = pinned.floorEntry(address);
        return e != null && Long.compareUnsigned(address - e.getKey(), e.getValue()) < 0;
    }

    /** Stream handles as dense ids: NULL and cudaStreamLegacy (1) are the legacy default stream, 0. */
    private long streamId(long handle) {
        if (handle == 0 || handle == 1) {
            return 0;
        }
        if (handle != lastStreamHandle) {
            lastStreamId = streams.computeIfAbsent(handle, h -> streams.size() + 1);
            lastStreamHandle = handle;
        }
        return lastStreamId;
    }

    private long eventId(long handle) {
        return events.computeIfAbsent(handle, h -> events.size() + 1);
    }

    private void write1(int type, long a) {
        f[0] = a;
        write(type, 1);
    }

    /** Two fields; a third, if the type has one, was stored in f[2] before. */
    private void write2(int type, long a, long b) {
        f[0] = a;
        f[1] = b;
        write(type, type == 0x01 ? 3 : 2);
    }

    /** Writes a record of {@code type} with the fields f[0..count). */
    private void write(int type, int count) {
        int n = 0;
        buf[n++] = (byte) type;
        for (int i = 0; i < count; i++) {
            long v = f[i];
            while ((v & ~0x7FL) != 0) {
                buf[n++] = (byte) ((v & 0x7F) | 0x80);
                v >>>= 7;
            }
            buf[n++] = (byte) v;
        }
        if (failure != null) {
            return;
        }
        try {
            out.write(buf, 0, n);
        } catch (IOException e) {
            failure = e;
        }
        if (type != 0) {
            records++;
        }
    }

    /** Records written so far (END excluded); read after {@link #close()}. */
    public long records() {
        return records;
    }

    /** The write error that stopped recording, or null. */
    public IOException failure() {
        return failure;
    }

    /**
     * Stops the writer, drains every published entry, writes END and closes the file. Idempotent. An entry a
     * thread claimed but has not published within 100 ms (a thread still inside an upcall at exit) is left out.
     */
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            closing = true;
            final Thread w = writerThread;
            if (w != null) {
                try {
                    w.join(2_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            final long deadline = System.nanoTime() + 100_000_000L;
            do {
                drainOnce();
            } while (consumed.get() < claimed.get() && System.nanoTime() < deadline);
            f[0] = records;
            write(0x00, 1);
            try {
                if (out != null) {
                    out.close();
                }
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
    }
}
