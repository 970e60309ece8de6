package dev.pipellm.bench.trace;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Writes a version-1 trace (see {@link TraceFormat}). Not thread-safe; one writer per file. {@link #close()} writes
 * the END record: a trace without it is refused by every reader, so a crashed writer never passes for complete.
 */
public final class TraceWriter implements Closeable {
    private static final Pattern KEY = Pattern.compile("[a-z0-9_.]+");

    private final OutputStream out;
    private final byte[] buf = new byte[1 + 9 * 10];
    private long records;
    private boolean closed;

    /** Writes the header with {@code meta} (keys {@code [a-z0-9_.]+}, values without newlines) to {@code out}. */
    public TraceWriter(OutputStream out, Map<String, String> meta) {
        this.out = out instanceof BufferedOutputStream ? out : new BufferedOutputStream(out, 1 << 16);
        final StringBuilder m = new StringBuilder();
        for (Map.Entry<String, String> e : meta.entrySet()) {
            if (!KEY.matcher(e.getKey()).matches()) {
                throw new IllegalArgumentException("trace metadata key '" + e.getKey() + "' is not [a-z0-9_.]+");
            }
            if (e.getValue().indexOf('\n') >= 0 || e.getValue().indexOf('=') == 0) {
                throw new IllegalArgumentException("trace metadata value of '" + e.getKey() + "' has a newline");
            }
            m.append(e.getKey()).append('=').append(e.getValue()).append('\n');
        }
        final byte[] metaBytes = m.toString().getBytes(StandardCharsets.UTF_8);
        if (metaBytes.length > TraceFormat.MAX_META_BYTES) {
            throw new IllegalArgumentException("trace metadata larger than " + TraceFormat.MAX_META_BYTES + " bytes");
        }
        try {
            this.out.write(TraceFormat.MAGIC);
            this.out.write(new byte[] {(byte) TraceFormat.VERSION, (byte) (TraceFormat.VERSION >>> 8), 0, 0,
                (byte) metaBytes.length, (byte) (metaBytes.length >>> 8), (byte) (metaBytes.length >>> 16),
                (byte) (metaBytes.length >>> 24)});
            this.out.write(metaBytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static TraceWriter create(Path file, Map<String, String> meta) {
        try {
            return new TraceWriter(Files.newOutputStream(file), meta);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write trace " + file, e);
        }
    }

    /** Records written so far (END excluded). */
    public long records() {
        return records;
    }

    public void alloc(int kind, long address, long bytes) {
        check(kind >= 0 && kind < TraceFormat.MEM_KINDS, "memory kind", kind);
        write(TraceFormat.ALLOC, kind, address, bytes);
    }

    public void free(int kind, long address) {
        check(kind >= 0 && kind < TraceFormat.MEM_KINDS, "memory kind", kind);
        write(TraceFormat.FREE, kind, address);
    }

    public void copy(int kind, int flags, int stream, long dst, long src, long bytes) {
        checkCopy(kind, flags, stream);
        write(TraceFormat.COPY, kind, flags, stream, dst, src, bytes);
    }

    public void copy2d(int kind, int flags, int stream, long dst, long dpitch, long src, long spitch, long width,
                       long height) {
        checkCopy(kind, flags, stream);
        write(TraceFormat.COPY_2D, kind, flags, stream, dst, dpitch, src, spitch, width, height);
    }

    public void syncStream(int stream) {
        check(stream >= 0, "stream", stream);
        write(TraceFormat.SYNC_STREAM, stream);
    }

    public void syncDevice() {
        write(TraceFormat.SYNC_DEVICE);
    }

    public void eventRecord(int event, int stream) {
        check(event >= 1, "event", event);
        check(stream >= 0, "stream", stream);
        write(TraceFormat.EVENT_RECORD, event, stream);
    }

    public void streamWait(int stream, int event) {
        check(event >= 1, "event", event);
        check(stream >= 0, "stream", stream);
        write(TraceFormat.STREAM_WAIT, stream, event);
    }

    public void eventSync(int event) {
        check(event >= 1, "event", event);
        write(TraceFormat.EVENT_SYNC, event);
    }

    public void hostWrite(long address, long bytes) {
        write(TraceFormat.HOST_WRITE, address, bytes);
    }

    public void compute(int stream, long ns) {
        check(stream >= 0, "stream", stream);
        write(TraceFormat.COMPUTE, stream, ns);
    }

    public void delay(long ns) {
        write(TraceFormat.DELAY, ns);
    }

    public void mark(long id) {
        write(TraceFormat.MARK, id);
    }

    private static void checkCopy(int kind, int flags, int stream) {
        check(kind >= TraceFormat.KIND_H2H && kind <= TraceFormat.KIND_DEFAULT, "copy kind", kind);
        check((flags & ~TraceFormat.FLAGS_ALL) == 0, "copy flags", flags);
        check(stream >= 0, "stream", stream);
    }

    private static void check(boolean ok, String what, long value) {
        if (!ok) {
            throw new IllegalArgumentException("trace: " + what + " " + value + " is out of range");
        }
    }

    private void write(int type, long... fields) {
        if (closed) {
            throw new IllegalStateException("trace writer is closed");
        }
        int n = 0;
        buf[n++] = (byte) type;
        for (long v : fields) {
            n = putVarint(buf, n, v);
        }
        try {
            out.write(buf, 0, n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        records++;
    }

    /** Unsigned LEB128 of {@code v} (its 64 bits as unsigned) at {@code pos}; returns the position after it. */
    static int putVarint(byte[] b, int pos, long v) {
        while ((v & ~0x7FL) != 0) {
            b[pos++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        b[pos++] = (byte) v;
        return pos;
    }

    /** Writes END and closes the stream. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        final long count = records;
        write(TraceFormat.END, count);
        closed = true;
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
