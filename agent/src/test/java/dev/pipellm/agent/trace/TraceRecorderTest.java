package dev.pipellm.agent.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceRecorderTest {
    private static final int H2D = 1;
    private static final int D2H = 2;

    @TempDir
    Path dir;

    /** Decodes a trace file into "type f1 f2 ..." lines (a minimal reader; the bench module has the full one). */
    static List<String> decode(Path file, Map<String, String> meta) throws Exception {
        final byte[] b = Files.readAllBytes(file);
        assertArrayEquals(new byte[] {'P', 'L', 'T', 'R', 'A', 'C', 'E', 0, 1, 0, 0, 0}, Arrays.copyOf(b, 12));
        final int metaLen = (b[12] & 0xFF) | (b[13] & 0xFF) << 8 | (b[14] & 0xFF) << 16 | (b[15] & 0xFF) << 24;
        for (String line : new String(b, 16, metaLen, StandardCharsets.UTF_8).split("\n")) {
            if (!line.isEmpty()) {
                meta.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
            }
        }
        final int[] fields = {1, 3, 2, 6, 9, 1, 0, 2, 2, 1, 2, 2, 1, 1};
        final List<String> out = new ArrayList<>();
        int pos = 16 + metaLen;
        while (pos < b.length) {
            final int type = b[pos++];
            final StringBuilder s = new StringBuilder(Integer.toString(type));
            for (int f = 0; f < fields[type]; f++) {
                long v = 0;
                int shift = 0;
                int c;
                do {
                    c = b[pos++] & 0xFF;
                    v |= (long) (c & 0x7F) << shift;
                    shift += 7;
                } while ((c & 0x80) != 0);
                s.append(' ').append(v);
            }
            out.add(s.toString());
        }
        return out;
    }

    private static List<String> withoutDelays(List<String> records) {
        return records.stream().filter(r -> !r.startsWith("12 ")).toList();
    }

    @Test
    void shouldWriteEachCallAsOneRecordAndEndWhenClosed() throws Exception {
        final Path f = dir.resolve("t.pltrace");
        final Map<String, String> meta = new LinkedHashMap<>();
        meta.put("source", "record");
        final TraceRecorder r = new TraceRecorder(f, 64, meta);
        r.start();
        r.alloc(TraceRecorder.ALLOC_HOST, 0x10000, 4096, 0);
        r.alloc(TraceRecorder.ALLOC_DEVICE, 0x900000, 8192, 0);
        r.copy(TraceRecorder.API_MEMCPY_ASYNC, 0x900000, 100, 0x10000, 100, 100, 1, H2D, 0x5555);
        r.copyDone(0);
        r.copy(0, 0x20000, 64, 0x900000, 64, 64, 1, D2H, 0);        // cudaMemcpy, pageable host
        r.copyDone(0);
        r.copy(TraceRecorder.API_MEMCPY_2D_ASYNC, 0x900000, 512, 0x10000, 256, 200, 4, H2D, 0x7777);
        r.copyDone(0);
        r.copy(TraceRecorder.API_MEMCPY_ASYNC, 0x900000, 8, 0x10000, 8, 8, 1, H2D, 0x5555);
        r.copyDone(11);                                               // failed: not recorded
        r.syncBegin(TraceRecorder.SYNC_STREAM);
        r.sync(TraceRecorder.SYNC_STREAM, 0x7777, 0, 0);
        r.syncBegin(TraceRecorder.EVENT_RECORD);
        r.sync(TraceRecorder.EVENT_RECORD, 0xe1, 0x5555, 0);
        r.syncBegin(TraceRecorder.STREAM_WAIT_EVENT);
        r.sync(TraceRecorder.STREAM_WAIT_EVENT, 1, 0xe1, 0);          // cudaStreamLegacy: stream 0
        r.syncBegin(TraceRecorder.SYNC_DEVICE);
        r.sync(TraceRecorder.SYNC_DEVICE, 0, 0, 0);
        r.alloc(TraceRecorder.FREE_HOST, 0x10000, 0, -1);             // the announcement before the free
        r.alloc(TraceRecorder.FREE_HOST, 0x10000, 0, 0);
        r.close();
        r.close(); // idempotent
        assertNull(r.failure());
        final Map<String, String> got = new LinkedHashMap<>();
        final List<String> recs = withoutDelays(decode(f, got));
        assertEquals(Map.of("source", "record"), got);
        assertEquals(List.of("1 1 65536 4096", "1 0 9437184 8192",
                "3 1 3 1 9437184 65536 100",                       // async, pinned source, stream 1
                "3 2 0 0 131072 9437184 64",                       // sync copy, pageable destination
                "4 1 3 2 9437184 512 65536 256 200 4",
                "5 2", "7 1 1", "8 0 1", "6", "2 1 65536",
                "0 " + (r.records())), recs);
        assertEquals(r.records(), decode(f, new LinkedHashMap<>()).size() - 1);
    }

    @Test
    void shouldWriteTheTimeBetweenCallsAsDelays() throws Exception {
        final Path f = dir.resolve("d.pltrace");
        final TraceRecorder r = new TraceRecorder(f, 64, Map.of());
        r.start();
        r.syncBegin(TraceRecorder.SYNC_DEVICE);
        r.sync(TraceRecorder.SYNC_DEVICE, 0, 0, 0);
        Thread.sleep(20);
        r.syncBegin(TraceRecorder.SYNC_DEVICE);
        r.sync(TraceRecorder.SYNC_DEVICE, 0, 0, 0);
        r.close();
        final List<String> recs = decode(f, new LinkedHashMap<>());
        assertEquals("6", recs.get(0));
        final long delay = Long.parseLong(recs.get(1).split(" ")[1]);
        assertEquals("12", recs.get(1).split(" ")[0]);
        assertEquals(true, delay >= 19_000_000 && delay < 2_000_000_000L, "delay " + delay);
        assertEquals("6", recs.get(2));
    }

    @Test
    void shouldLoseNothingWhenTheRingIsSmallAndManyThreadsRecord() throws Exception {
        final Path f = dir.resolve("many.pltrace");
        final TraceRecorder r = new TraceRecorder(f, 16, Map.of());
        r.start();
        final int threads = 4;
        final int per = 10_000;
        final List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final long stream = 0x1000 + t;
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < per; i++) {
                    r.copy(TraceRecorder.API_MEMCPY_ASYNC, 0x900000, 8, 0x10000, 8, 8, 1, H2D, stream);
                    r.copyDone(0);
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        r.close();
        final List<String> recs = withoutDelays(decode(f, new LinkedHashMap<>()));
        assertEquals(threads * per + 1, recs.size());
        assertEquals("0 " + r.records(), recs.get(recs.size() - 1));
        assertEquals(threads * per, recs.stream().filter(s -> s.startsWith("3 1 1 ")).count());
    }

    @Test
    void shouldAllocateNothingOnTheCallingThreadWhenRecording() throws Exception {
        final TraceRecorder r = new TraceRecorder(dir.resolve("a.pltrace"), 1 << 12, Map.of());
        r.start();
        final ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 200_000; i++) { // warm-up: compiled
            record(r, i);
        }
        final long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100_000; i++) {
            record(r, i);
        }
        final long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        r.close();
        assertEquals(0, allocated, "bytes allocated by 100k recorded copies and syncs");
    }

    private static void record(TraceRecorder r, int i) {
        r.copy(TraceRecorder.API_MEMCPY_ASYNC, 0x900000 + i, 8, 0x10000, 8, 64, 1, H2D, 0x5555);
        r.copyDone(0);
        r.syncBegin(TraceRecorder.SYNC_STREAM);
        r.sync(TraceRecorder.SYNC_STREAM, 0x5555, 0, 0);
        r.alloc(TraceRecorder.ALLOC_DEVICE, 0x900000, 64, 0);
    }
}
