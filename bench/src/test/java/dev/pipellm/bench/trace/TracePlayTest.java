package dev.pipellm.bench.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.bench.workload.Workloads;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The C player (bench/native/trace_play.c) on simgpu, run as a process. */
class TracePlayTest {
    static final Path ROOT = Path.of(System.getenv().getOrDefault("PIPELLM_ROOT", "..")).toAbsolutePath().normalize();
    static final Path PLAYER = ROOT.resolve("build/native/bin/trace_play");
    static final Path SIMGPU = ROOT.resolve("build/native/lib/simgpu");

    @TempDir
    Path dir;

    record Result(int rc, String out, Map<String, String> fields) {
    }

    static Result play(Path trace, String cc, Map<String, String> env, String... extra) throws Exception {
        final List<String> cmd = new ArrayList<>(List.of(PLAYER.toString(), trace.toString()));
        cmd.addAll(List.of(extra));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", SIMGPU.toString());
        pb.environment().put("SIMGPU_CC", cc);
        pb.environment().putAll(env);
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        final int rc = p.waitFor();
        final Map<String, String> f = new LinkedHashMap<>();
        out.lines().filter(l -> l.startsWith("trace_play workload=")).findFirst().ifPresent(l -> {
            final Matcher m = Pattern.compile("([a-z0-9_]+)=(\\S+)").matcher(l);
            while (m.find()) {
                f.put(m.group(1), m.group(2));
            }
        });
        return new Result(rc, out, f);
    }

    /** Every record type, streams, events, 2D and default-kind copies, a free and a re-allocation. */
    static void writeMixed(Path f) {
        final long dev = 0x7e00_0000_0000L;
        final long pin = 0x7f00_0000_0000L;
        final long page = 0x7f40_0000_0000L; // never allocated: an implicit pageable region
        try (TraceWriter w = TraceWriter.create(f, Map.of("workload", "mixed", "unit", "step", "units", "2"))) {
            w.alloc(TraceFormat.MEM_DEVICE, dev, 4 << 20);
            w.alloc(TraceFormat.MEM_HOST_PINNED, pin, 4 << 20);
            w.alloc(TraceFormat.MEM_HOST_PINNED, pin + (8 << 20), 1 << 20);
            w.mark(TraceFormat.MARK_STEADY_STATE);
            w.copy(TraceFormat.KIND_H2D, 3, 1, dev, pin, 1 << 20);
            w.eventRecord(1, 1);
            w.streamWait(2, 1);
            w.copy(TraceFormat.KIND_D2D, 1, 2, dev + (2 << 20), dev, 1 << 20);
            w.compute(2, 200_000);
            w.syncStream(2);                                   // the D2D read dev[0, 1 MiB): done before it changes
            w.hostWrite(pin + 100, 1000);                      // fresh data: the next copy must carry it
            w.copy(TraceFormat.KIND_DEFAULT, 3, 1, dev + 64, pin + 64, 4096);
            w.hostWrite(page + 3, 5000);
            w.copy(TraceFormat.KIND_H2D, 1, 0, dev + (3 << 20), page, 8192);
            w.copy2d(TraceFormat.KIND_H2D, 3, 1, dev + (1 << 20), 512, pin + (1 << 20), 1024, 300, 64);
            w.syncDevice();
            w.copy(TraceFormat.KIND_D2H, 3, 2, pin + (2 << 20), dev + (2 << 20), 1 << 20);
            w.copy2d(TraceFormat.KIND_D2H, 0, 0, page + (1 << 16), 100, dev + (1 << 20), 512, 100, 10);
            w.eventSync(1);
            w.delay(100_000);
            w.free(TraceFormat.MEM_HOST_PINNED, pin + (8 << 20));
            w.alloc(TraceFormat.MEM_HOST_PINNED, pin + (8 << 20), 1 << 20);
            w.copy(TraceFormat.KIND_H2D, 0, 0, dev + (3 << 20) + 8192, pin + (8 << 20), 65536);
            w.syncStream(2);
            w.mark(TraceFormat.MARK_STEADY_STATE_END);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"off", "on"})
    void shouldReplayEveryCopyAndVerifyTheDeviceWhenPlayedOnSimgpu(String cc) throws Exception {
        final Path f = dir.resolve("mixed.pltrace");
        writeMixed(f);
        final Result r = play(f, cc, Map.of("SIMGPU_VERIFY", "full"));
        assertEquals(0, r.rc(), r.out());
        assertTrue(r.out().contains("trace_play verify=ok"), r.out());
        final TraceStats s = TraceStats.of(f);
        assertEquals(Long.toString(s.h2dCopies), r.fields().get("h2d_copies"));
        assertEquals(Long.toString(s.h2dBytes), r.fields().get("h2d_bytes"));
        assertEquals(Long.toString(s.d2hCopies), r.fields().get("d2h_copies"));
        assertEquals(Long.toString(s.d2hBytes), r.fields().get("d2h_bytes"));
        assertEquals(Long.toString(s.d2dCopies), r.fields().get("d2d_copies"));
        assertEquals("200000", r.fields().get("compute_ns"));
        assertTrue(Double.parseDouble(r.fields().get("wall_s")) >= 300e-6, r.out()); // compute + delay at least
        assertTrue(r.fields().containsKey("steady_s"), r.out());
    }

    @Test
    void shouldTimeTheLastLoopAndVerifyAllOfThemWhenLooped() throws Exception {
        final Path f = dir.resolve("mixed.pltrace");
        writeMixed(f);
        final Result r = play(f, "on", Map.of("SIMGPU_VERIFY", "full"), "--loops=3");
        assertEquals(0, r.rc(), r.out());
        assertTrue(r.out().contains("trace_play verify=ok"), r.out());
        final TraceStats s = TraceStats.of(f);
        assertEquals("3", r.fields().get("loops"));
        assertEquals(Long.toString(s.h2dCopies), r.fields().get("h2d_copies"), "the statistics of the last loop");
        assertEquals(Long.toString(s.h2dBytes), r.fields().get("h2d_bytes"));
        final Result bad = play(f, "off", Map.of(), "--loops=0");
        assertEquals(2, bad.rc());
        assertEquals("trace play: --loops '0' is not valid: expected an integer from 1 to 1000", bad.out().strip());
    }

    @Test
    void shouldReplayAGeneratedWorkloadWithTheSameCopiesWhenPlayed() throws Exception {
        final Path f = dir.resolve("tiny.pltrace");
        Workloads.byName("tiny", null, true, 1).write(f);
        final Result r = play(f, "on", Map.of());
        assertEquals(0, r.rc(), r.out());
        final TraceStats s = TraceStats.of(f);
        assertEquals(Long.toString(s.h2dCopies), r.fields().get("h2d_copies"));
        assertEquals(Long.toString(s.h2dBytes), r.fields().get("h2d_bytes"));
        assertEquals(Long.toString(s.computeNs), r.fields().get("compute_ns"));
        assertEquals("6", r.fields().get("units"));
    }

    @Test
    void shouldFailVerificationWhenTheDeviceReceivesOtherBytes() throws Exception {
        final Path f = dir.resolve("mixed.pltrace");
        writeMixed(f);
        final Result r = play(f, "off", Map.of("LD_PRELOAD", ROOT.resolve("build/native/bin/libcorrupt_h2d.so")
                .toString(), "CORRUPT_H2D_MIN_BYTES", "4096"));
        assertEquals(1, r.rc(), r.out());
        assertTrue(r.out().contains("trace play: verification failed: device region"), r.out());
    }

    @Test
    void shouldRefuseABadTraceWithOneLineWhenPlayed() throws Exception {
        final Path f = dir.resolve("cut.pltrace");
        writeMixed(f);
        final byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 3));
        final Result r = play(f, "off", Map.of());
        assertEquals(2, r.rc(), r.out());
        assertEquals(1, r.out().lines().count(), r.out());
        assertTrue(r.out().startsWith("trace play: " + f + ": "), r.out());
        final Result opt = play(f, "off", Map.of(), "--fast");
        assertEquals(2, opt.rc());
        assertEquals("trace play: unknown option '--fast' (accepted: --verify=full|off, --loops=N)", opt.out().strip());
    }

    @Test
    void shouldRefuseAFreeOfMemoryTheTraceNeverAllocatedWhenPlayed() throws IOException, Exception {
        final Path f = dir.resolve("free.pltrace");
        try (TraceWriter w = TraceWriter.create(f, Map.of())) {
            w.free(TraceFormat.MEM_DEVICE, 0x1234000);
        }
        final Result r = play(f, "off", Map.of());
        assertEquals(2, r.rc(), r.out());
        assertTrue(r.out().contains("record 0 at byte 0: free of 0x1234000, which no live device allocation"),
                r.out());
    }
}
