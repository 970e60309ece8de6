package dev.pipellm.bench.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.bench.workload.Workloads;
import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.trace.CopyClass;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratedTraceSinkTest {
    @TempDir
    Path dir;

    @Test
    void shouldKeepEveryGeneratedCopyAndAddOneComputePerLayerAndTokenWhenFlexGen() throws Exception {
        final Workloads.Workload w = Workloads.byName("tiny", null, true, 1);
        // What the generator emits, counted directly.
        final long[] h2d = new long[2];
        final long[] syncs = new long[1];
        w.generator().generate((type, direction, host, device, bytes, stream, thread, copyClass) -> {
            if (type == EventType.COPY && direction == CopyDirection.H2D) {
                h2d[0]++;
                h2d[1] += bytes;
            }
            if (type == EventType.SYNC) {
                syncs[0]++;
            }
        });
        final Path f = dir.resolve("tiny.pltrace");
        w.write(f);
        final TraceStats s = TraceStats.of(f);
        assertEquals(h2d[0], s.h2dCopies);
        assertEquals(h2d[1], s.h2dBytes);
        assertEquals(syncs[0], s.syncs);
        // tiny: 2 decoder layers -> 6 entries in FlexGen's layer list, 3 tokens, 1 batch
        final List<TraceRecord> computes = new ArrayList<>();
        try (TraceReader r = TraceReader.open(f)) {
            assertEquals("tiny", r.meta().get("workload"));
            assertEquals("6", r.meta().get("units"));
            TraceRecord rec;
            while ((rec = r.next()) != null) {
                if (rec.type() == TraceFormat.COMPUTE) {
                    computes.add(rec);
                }
            }
        }
        assertEquals(3 * 6, computes.size());
        for (TraceRecord c : computes) {
            assertEquals(0, c.field(0));
            assertTrue(c.field(1) > 0);
        }
        // addresses take 6-7 varint bytes: a copy is about 20 bytes, a sync 2; fixed 8-byte fields would be 50
        assertTrue(Files.size(f) < 1024 + 20 * s.records, "compact: " + Files.size(f) + " bytes for " + s.records);
    }

    @Test
    void shouldMapEventsToRecordsAndDropHintsWhenAdapted() {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final StepModel model = new StepModel() {
            @Override
            public long computeBefore(int type, int direction, long b, int stream, int copyClass) {
                return copyClass == CopyClass.OUTPUT ? 777 : 0;
            }

            @Override
            public boolean syncAfter(int type, int direction, long b, int stream, int copyClass) {
                return copyClass == CopyClass.OUTPUT;
            }

            @Override
            public int computeStream() {
                return 0;
            }
        };
        try (TraceWriter w = new TraceWriter(bytes, Map.of())) {
            final GeneratedTraceSink sink = new GeneratedTraceSink(w, model);
            sink.onEvent(EventType.HOST_ALLOC, 0, 0x10000, 0, 4096, -1, 1, CopyClass.NONE);
            sink.onEvent(EventType.HINT, 0, 0x10000, 0, 4096, -1, 1, CopyClass.NONE);
            sink.onEvent(EventType.HOST_WRITE, 0, 0x10000, 0, 64, -1, 1, CopyClass.NONE);
            sink.onEvent(EventType.COPY, CopyDirection.H2D, 0x10000, 0x900000, 64, 2, 1, CopyClass.INPUT);
            sink.onEvent(EventType.COPY, CopyDirection.H2D, 0x80000, 0x900000, 64, 2, 1, CopyClass.INPUT);
            sink.onEvent(EventType.COPY, CopyDirection.D2H, 0x10000, 0x900000, 8, 0, 1, CopyClass.OUTPUT);
            sink.onEvent(EventType.SYNC, 0, 0, 0, 0, -1, 1, CopyClass.NONE);
            sink.onEvent(EventType.SYNC, 0, 0, 0, 0, 2, 1, CopyClass.NONE);
            sink.onEvent(EventType.MARK, 0, 0, 0, 1, -1, 1, CopyClass.NONE);
            assertEquals(1, sink.computeRecords());
            assertEquals(777, sink.computeNs());
        }
        final List<String> got = new ArrayList<>();
        try (TraceReader r = new TraceReader(new ByteArrayInputStream(bytes.toByteArray()), "m")) {
            TraceRecord rec;
            while ((rec = r.next()) != null) {
                got.add(rec.toString());
            }
        }
        assertEquals(List.of("alloc 1 65536 4096", "host_write 65536 64",
                "copy 1 3 2 9437184 65536 64",             // async, pinned (inside the HOST_ALLOC)
                "copy 1 1 2 9437184 524288 64",            // async, pageable
                "compute 0 777", "copy 2 3 0 65536 9437184 8", "sync_stream 0",
                "sync_device", "sync_stream 2", "mark 1"), got);
    }
}
