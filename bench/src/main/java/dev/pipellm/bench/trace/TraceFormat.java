package dev.pipellm.bench.trace;

/**
 * The PipeLLM copy-trace format, version 1 (docs/trace-format.md is the specification; this class and
 * {@code bench/native/trace_play.c} implement it, and the agent's {@code TraceRecorder} writes it).
 *
 * <pre>
 *   file    = header record* END
 *   header  = magic "PLTRACE\0" (8 bytes), version u16 LE, flags u16 LE (0), meta_len u32 LE, meta (meta_len bytes:
 *             UTF-8 lines "key=value\n")
 *   record  = type (1 byte), then the type's fields, each an unsigned LEB128 varint (1 to 10 bytes)
 * </pre>
 *
 * No data is ever stored: only shapes (sizes, kinds), addresses, stream and event ids, and times.
 */
public final class TraceFormat {
    public static final byte[] MAGIC = {'P', 'L', 'T', 'R', 'A', 'C', 'E', 0};
    public static final int VERSION = 1;
    public static final int HEADER_FIXED_BYTES = 16;
    /** The longest metadata block a reader accepts (1 MiB): a larger value means a damaged file. */
    public static final int MAX_META_BYTES = 1 << 20;

    /** END count: the number of records before it; the last record of every complete trace. */
    public static final int END = 0x00;
    /** ALLOC kind address bytes. */
    public static final int ALLOC = 0x01;
    /** FREE kind address. */
    public static final int FREE = 0x02;
    /** COPY kind flags stream dst src bytes (kind: cudaMemcpyKind). */
    public static final int COPY = 0x03;
    /** COPY_2D kind flags stream dst dpitch src spitch width height. */
    public static final int COPY_2D = 0x04;
    /** SYNC_STREAM stream. */
    public static final int SYNC_STREAM = 0x05;
    /** SYNC_DEVICE (no fields). */
    public static final int SYNC_DEVICE = 0x06;
    /** EVENT_RECORD event stream. */
    public static final int EVENT_RECORD = 0x07;
    /** STREAM_WAIT stream event. */
    public static final int STREAM_WAIT = 0x08;
    /** EVENT_SYNC event. */
    public static final int EVENT_SYNC = 0x09;
    /** HOST_WRITE address bytes: the CPU wrote fresh data there. */
    public static final int HOST_WRITE = 0x0A;
    /** COMPUTE stream ns: modelled GPU work on a stream, in stream order. */
    public static final int COMPUTE = 0x0B;
    /** DELAY ns: host time between two calls (the application's own work). */
    public static final int DELAY = 0x0C;
    /** MARK id: a phase marker with no effect (1: steady state starts, 2: it ends). */
    public static final int MARK = 0x0D;
    public static final int MAX_TYPE = MARK;

    /** Field count per record type, indexed by type. */
    private static final int[] FIELDS = {1, 3, 2, 6, 9, 1, 0, 2, 2, 1, 2, 2, 1, 1};
    private static final String[] NAMES = {"end", "alloc", "free", "copy", "copy_2d", "sync_stream", "sync_device",
        "event_record", "stream_wait", "event_sync", "host_write", "compute", "delay", "mark"};

    /** ALLOC/FREE kinds. */
    public static final int MEM_DEVICE = 0;
    public static final int MEM_HOST_PINNED = 1;
    public static final int MEM_HOST_PAGEABLE = 2;
    public static final int MEM_HOST_REGISTERED = 3;
    public static final int MEM_KINDS = 4;

    /** cudaMemcpyKind values, as COPY's kind field. */
    public static final int KIND_H2H = 0;
    public static final int KIND_H2D = 1;
    public static final int KIND_D2H = 2;
    public static final int KIND_D2D = 3;
    public static final int KIND_DEFAULT = 4;

    /** COPY flags. */
    public static final int FLAG_ASYNC = 1;
    public static final int FLAG_PINNED = 2;
    public static final int FLAGS_ALL = FLAG_ASYNC | FLAG_PINNED;

    /** Stream 0: the legacy default stream. Event ids start at 1. */
    public static final int DEFAULT_STREAM = 0;

    public static final long MARK_STEADY_STATE = 1;
    public static final long MARK_STEADY_STATE_END = 2;

    private TraceFormat() {
    }

    /** Fields of a record type; -1 for an unknown type. */
    public static int fields(int type) {
        return type >= 0 && type <= MAX_TYPE ? FIELDS[type] : -1;
    }

    public static String name(int type) {
        return type >= 0 && type <= MAX_TYPE ? NAMES[type] : "unknown(" + type + ")";
    }
}
