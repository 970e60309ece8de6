package dev.pipellm.bench.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TraceFormatTest {
    private static byte[] sample() {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final Map<String, String> meta = new LinkedHashMap<>();
        meta.put("workload", "sample");
        meta.put("units", "7");
        try (TraceWriter w = new TraceWriter(bytes, meta)) {
            w.alloc(TraceFormat.MEM_DEVICE, 0x7e00_0000_0000L, 1 << 20);
            w.alloc(TraceFormat.MEM_HOST_PINNED, 0x7f00_0000_1000L, 4096);
            w.hostWrite(0x7f00_0000_1000L, 64);
            w.copy(TraceFormat.KIND_H2D, TraceFormat.FLAG_ASYNC | TraceFormat.FLAG_PINNED, 3, 0x7e00_0000_0000L,
                    0x7f00_0000_1000L, 4096);
            w.copy2d(TraceFormat.KIND_D2H, 0, 0, 0x7f00_0000_1000L, 64, 0x7e00_0000_0000L, 128, 32, 8);
            w.syncStream(3);
            w.syncDevice();
            w.eventRecord(1, 3);
            w.streamWait(2, 1);
            w.eventSync(1);
            w.compute(2, 1_500_000);
            w.delay(Long.MAX_VALUE);
            w.mark(-1L); // unsigned 2^64 - 1: ten varint bytes
            w.free(TraceFormat.MEM_HOST_PINNED, 0x7f00_0000_1000L);
        }
        return bytes.toByteArray();
    }

    private static List<TraceRecord> readAll(byte[] b) {
        try (TraceReader r = new TraceReader(new ByteArrayInputStream(b), "t.pltrace")) {
            final List<TraceRecord> out = new ArrayList<>();
            TraceRecord rec;
            while ((rec = r.next()) != null) {
                out.add(rec);
            }
            return out;
        }
    }

    private static String refusal(byte[] b) {
        return assertThrows(TraceFormatException.class, () -> readAll(b)).getMessage();
    }

    @Test
    void shouldReadBackEveryRecordAndTheMetadataWhenWritten() {
        final byte[] b = sample();
        try (TraceReader r = new TraceReader(new ByteArrayInputStream(b), "t")) {
            assertEquals(Map.of("workload", "sample", "units", "7"), r.meta());
        }
        final List<TraceRecord> recs = readAll(b);
        assertEquals(14, recs.size());
        assertEquals(TraceFormat.COPY, recs.get(3).type());
        assertArrayEquals(new long[] {1, 3, 3, 0x7e00_0000_0000L, 0x7f00_0000_1000L, 4096}, recs.get(3).fields());
        assertArrayEquals(new long[] {2, 0, 0, 0x7f00_0000_1000L, 64, 0x7e00_0000_0000L, 128, 32, 8},
                recs.get(4).fields());
        assertArrayEquals(new long[] {2, 1}, recs.get(8).fields());
        assertArrayEquals(new long[] {Long.MAX_VALUE}, recs.get(11).fields());
        assertArrayEquals(new long[] {-1L}, recs.get(12).fields());
        assertEquals(TraceFormat.FREE, recs.get(13).type());
    }

    @Test
    void shouldStayCompactWhenRecordsAreSmall() {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TraceWriter w = new TraceWriter(bytes, Map.of())) {
            for (int i = 0; i < 1000; i++) {
                w.syncStream(1);
            }
        }
        // header 16 + 1000 x (type + 1-byte stream) + END (type + 2-byte count)
        assertEquals(16 + 2000 + 3, bytes.size());
    }

    @Test
    void shouldRefuseAFileWithoutTheMagicWhenRead() {
        final byte[] b = sample();
        b[0] = 'X';
        assertTrue(refusal(b).contains("bad magic"));
    }

    @Test
    void shouldRefuseAnotherVersionWhenRead() {
        final byte[] b = sample();
        b[8] = 2;
        assertTrue(refusal(b).contains("trace version 2 is not supported"));
    }

    @Test
    void shouldRefuseATruncatedFileWhenRead() {
        final byte[] b = sample();
        final String m = refusal(Arrays.copyOf(b, b.length - 2));
        assertTrue(m.startsWith("t.pltrace: "), m);
        assertTrue(m.contains("truncated"), m);
    }

    @Test
    void shouldRefuseDataAfterTheEndRecordWhenRead() {
        final byte[] b = sample();
        final byte[] longer = Arrays.copyOf(b, b.length + 1);
        assertTrue(refusal(longer).contains("data after the END record"));
    }

    @Test
    void shouldRefuseAnEndCountThatDoesNotMatchWhenRead() {
        final byte[] b = sample();
        b[b.length - 1] = 13; // END's count: 14 records were written
        assertTrue(refusal(b).contains("END says 13 records, the file has 14"));
    }

    @Test
    void shouldRefuseAnUnknownRecordTypeWhenRead() {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new TraceWriter(bytes, Map.of()).close();
        final byte[] b = bytes.toByteArray();
        b[16] = 0x42;
        final String m = refusal(b);
        assertTrue(m.contains("record 0 at byte 16: unknown record type 66"), m);
    }

    @Test
    void shouldRefuseBadFieldsWhenRead() {
        final byte[] b = sample();
        // the COPY record (the 4th): its kind byte follows the type byte; find it by decoding offsets
        final byte[] copy = Arrays.copyOf(b, b.length);
        int pos = 16 + "workload=sample\nunits=7\n".length();
        for (int rec = 0; rec < 3; rec++) {
            final int type = copy[pos++];
            for (int f = 0; f < TraceFormat.fields(type); f++) {
                while ((copy[pos++] & 0x80) != 0) {
                    // skip the varint
                }
            }
        }
        assertEquals(TraceFormat.COPY, copy[pos]);
        copy[pos + 1] = 9;
        assertTrue(refusal(copy).contains("copy kind 9 (accepted: 0 h2h"));
    }

    @Test
    void shouldRefuseOutOfRangeValuesWhenWriting() {
        final TraceWriter w = new TraceWriter(new ByteArrayOutputStream(), Map.of());
        assertThrows(IllegalArgumentException.class, () -> w.copy(7, 0, 0, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> w.copy(1, 4, 0, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> w.eventRecord(0, 0));
        assertThrows(IllegalArgumentException.class, () -> w.alloc(4, 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new TraceWriter(new ByteArrayOutputStream(), Map.of("Bad Key", "x")));
        w.close();
        assertThrows(IllegalStateException.class, () -> w.syncDevice());
    }

    @Test
    void shouldCountCopiesPerDirectionWhenDefaultKindResolvesFromAllocations() {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TraceWriter w = new TraceWriter(bytes, Map.of())) {
            w.alloc(TraceFormat.MEM_DEVICE, 0x1000_0000L, 1 << 20);
            w.copy(TraceFormat.KIND_DEFAULT, 0, 0, 0x1000_0000L, 0x5000, 100);      // host -> device
            w.copy(TraceFormat.KIND_DEFAULT, 0, 0, 0x5000, 0x1000_0100L, 50);       // device -> host
            w.copy(TraceFormat.KIND_DEFAULT, 0, 0, 0x1000_0200L, 0x1000_0000L, 10); // device -> device
            w.copy(TraceFormat.KIND_H2D, 1, 0, 0x1000_0000L, 0x5000, 7);
            w.compute(0, 40);
            w.delay(2);
        }
        final TraceStats s = TraceStats.of(new TraceReader(new ByteArrayInputStream(bytes.toByteArray()), "s"));
        assertEquals(2, s.h2dCopies);
        assertEquals(107, s.h2dBytes);
        assertEquals(1, s.d2hCopies);
        assertEquals(50, s.d2hBytes);
        assertEquals(1, s.d2dCopies);
        assertEquals(40, s.computeNs);
        assertEquals(2, s.delayNs);
        assertNull(new TraceReader(new ByteArrayInputStream(bytes.toByteArray()), "s").meta().get("workload"));
    }
}
