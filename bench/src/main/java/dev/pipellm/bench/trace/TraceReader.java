package dev.pipellm.bench.trace;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a version-1 trace record by record and checks it as it goes: the header, every record's type and fields,
 * and that the file ends with an END record whose count matches, with nothing after it. Any violation is a
 * {@link TraceFormatException} naming the file, the record index and the byte offset.
 */
public final class TraceReader implements Closeable {
    private final String name;
    private final InputStream in;
    private final Map<String, String> meta;
    private long offset;
    private long records;
    private boolean ended;

    public TraceReader(InputStream in, String name) {
        this.name = name;
        this.in = in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16);
        final byte[] fixed = readExactly(TraceFormat.HEADER_FIXED_BYTES, "header");
        if (!Arrays.equals(Arrays.copyOf(fixed, 8), TraceFormat.MAGIC)) {
            throw fail("not a PipeLLM trace (bad magic; expected \"PLTRACE\\0\")");
        }
        final int version = (fixed[8] & 0xFF) | (fixed[9] & 0xFF) << 8;
        if (version != TraceFormat.VERSION) {
            throw fail("trace version " + version + " is not supported (this reader reads version "
                    + TraceFormat.VERSION + ")");
        }
        final int flags = (fixed[10] & 0xFF) | (fixed[11] & 0xFF) << 8;
        if (flags != 0) {
            throw fail("header flags " + flags + " are not 0");
        }
        final long metaLen = (fixed[12] & 0xFFL) | (fixed[13] & 0xFFL) << 8 | (fixed[14] & 0xFFL) << 16
                | (fixed[15] & 0xFFL) << 24;
        if (metaLen > TraceFormat.MAX_META_BYTES) {
            throw fail("metadata length " + metaLen + " exceeds " + TraceFormat.MAX_META_BYTES);
        }
        final String text = new String(readExactly((int) metaLen, "metadata"), StandardCharsets.UTF_8);
        final Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq <= 0) {
                throw fail("metadata line '" + line + "' is not key=value");
            }
            m.put(line.substring(0, eq), line.substring(eq + 1));
        }
        this.meta = Collections.unmodifiableMap(m);
    }

    public static TraceReader open(Path file) {
        try {
            return new TraceReader(Files.newInputStream(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new TraceFormatException(file + ": no such file");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read trace " + file, e);
        }
    }

    public Map<String, String> meta() {
        return meta;
    }

    /** The next record before END, or null once END has been read and checked. */
    public TraceRecord next() {
        if (ended) {
            return null;
        }
        final long at = offset;
        final int type = readByte();
        if (type < 0) {
            throw fail("truncated: no END record after " + records + " records (a writer that did not finish?)");
        }
        final int n = TraceFormat.fields(type);
        if (n < 0) {
            throw failAt(at, "unknown record type " + type + " (accepted: 0 to " + TraceFormat.MAX_TYPE + ")");
        }
        final long[] f = new long[n];
        for (int i = 0; i < n; i++) {
            f[i] = readVarint(at);
        }
        validate(type, f, at);
        if (type == TraceFormat.END) {
            if (f[0] != records) {
                throw failAt(at, "END says " + Long.toUnsignedString(f[0]) + " records, the file has " + records);
            }
            if (readByte() >= 0) {
                throw failAt(offset - 1, "data after the END record");
            }
            ended = true;
            return null;
        }
        records++;
        return new TraceRecord(type, f);
    }

    /** Records read so far (END excluded). */
    public long records() {
        return records;
    }

    private void validate(int type, long[] f, long at) {
        switch (type) {
            case TraceFormat.ALLOC, TraceFormat.FREE -> {
                if (f[0] >= TraceFormat.MEM_KINDS) {
                    throw failAt(at, TraceFormat.name(type) + ": memory kind " + f[0] + " (accepted: 0 device, "
                            + "1 host pinned, 2 host pageable, 3 host registered)");
                }
            }
            case TraceFormat.COPY, TraceFormat.COPY_2D -> {
                if (f[0] > TraceFormat.KIND_DEFAULT) {
                    throw failAt(at, "copy kind " + f[0] + " (accepted: 0 h2h, 1 h2d, 2 d2h, 3 d2d, 4 default)");
                }
                if ((f[1] & ~(long) TraceFormat.FLAGS_ALL) != 0) {
                    throw failAt(at, "copy flags " + f[1] + " (accepted bits: 1 async, 2 pinned)");
                }
                checkId(f[2], "stream", at);
            }
            case TraceFormat.SYNC_STREAM -> checkId(f[0], "stream", at);
            case TraceFormat.EVENT_RECORD, TraceFormat.EVENT_SYNC, TraceFormat.STREAM_WAIT -> {
                final long event = type == TraceFormat.STREAM_WAIT ? f[1] : f[0];
                if (event < 1) {
                    throw failAt(at, TraceFormat.name(type) + ": event id 0 (event ids start at 1)");
                }
                checkId(event, "event", at);
                if (type != TraceFormat.EVENT_SYNC) {
                    checkId(type == TraceFormat.STREAM_WAIT ? f[0] : f[1], "stream", at);
                }
            }
            case TraceFormat.COMPUTE -> checkId(f[0], "stream", at);
            default -> {
            }
        }
    }

    private void checkId(long v, String what, long at) {
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw failAt(at, what + " id " + Long.toUnsignedString(v) + " is out of range (0 to 2^31-1)");
        }
    }

    private long readVarint(long at) {
        long v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            final int b = readByte();
            if (b < 0) {
                throw failAt(at, "truncated inside a record");
            }
            if (shift == 63 && (b & 0x7E) != 0) {
                throw failAt(at, "varint overflows 64 bits");
            }
            v |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return v;
            }
        }
        throw failAt(at, "varint longer than 10 bytes");
    }

    private int readByte() {
        try {
            final int b = in.read();
            if (b >= 0) {
                offset++;
            }
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(name + ": read failed", e);
        }
    }

    private byte[] readExactly(int n, String what) {
        try {
            final byte[] b = in.readNBytes(n);
            offset += b.length;
            if (b.length != n) {
                throw fail("truncated " + what + " (" + b.length + " of " + n + " bytes)");
            }
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(name + ": read failed", e);
        }
    }

    private TraceFormatException fail(String why) {
        return new TraceFormatException(name + ": " + why);
    }

    private TraceFormatException failAt(long at, String why) {
        return new TraceFormatException(name + ": record " + records + " at byte " + at + ": " + why);
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
