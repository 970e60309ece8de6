package dev.pipellm.bench.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code ./pipellm trace record} then {@code ./pipellm trace play}: the recorded program's copy statistics
 * (simgpu's, of the whole recorded run), the trace's, and the replay's (the player's timed part) are the same.
 */
class TraceRecordTest {
    static final Path ROOT = TracePlayTest.ROOT;
    static final List<String> KEYS = List.of("h2d_copies", "h2d_bytes", "d2h_copies", "d2h_bytes", "d2d_copies",
            "d2d_bytes");

    @TempDir
    Path dir;

    static String run(Map<String, String> env, String... cmd) throws Exception {
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("PIPELLM_TRACE");
        pb.environment().putAll(env);
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + "\n" + out);
        return out;
    }

    static Map<String, String> simgpuStats(Path json) throws Exception {
        final String s = Files.readString(json);
        final Map<String, String> m = new LinkedHashMap<>();
        for (String k : KEYS) {
            final Matcher mt = Pattern.compile("\"" + k + "\"\\s*:\\s*(\\d+)").matcher(s);
            assertTrue(mt.find(), k + " in " + s);
            m.put(k, mt.group(1));
        }
        return m;
    }

    @ParameterizedTest
    @CsvSource({"prog_weights,off,4 1048576 6 1 100", "prog_weights,on,3 262144 4 7 0",
        "offload,off,4 1048576 200000 8 2", "offload,on,3 524288 100000 6 1"})
    void shouldReplayTheRecordedCopySequenceWhenPlayedBack(String program, String cc, String args) throws Exception {
        final Path trace = dir.resolve(program + ".pltrace");
        final Path recStats = dir.resolve("rec.json");
        final List<String> cmd = new ArrayList<>(List.of(ROOT.resolve("pipellm").toString(), "trace", "record",
                "--out", trace.toString(), "--sim", "--cc", cc, "--",
                ROOT.resolve("build/native/bin/" + program).toString()));
        cmd.addAll(List.of(args.split(" ")));
        run(Map.of("SIMGPU_STATS", recStats.toString(), "PIPELLM_SUMMARY", "0"), cmd.toArray(String[]::new));
        final Map<String, String> recorded = simgpuStats(recStats);

        final TraceStats s = TraceStats.of(trace);
        final Map<String, String> inTrace = new LinkedHashMap<>();
        inTrace.put("h2d_copies", Long.toString(s.h2dCopies));
        inTrace.put("h2d_bytes", Long.toString(s.h2dBytes));
        inTrace.put("d2h_copies", Long.toString(s.d2hCopies));
        inTrace.put("d2h_bytes", Long.toString(s.d2hBytes));
        inTrace.put("d2d_copies", Long.toString(s.d2dCopies));
        inTrace.put("d2d_bytes", Long.toString(s.d2dBytes));
        assertEquals(recorded, inTrace, "the trace holds every copy the program made");
        assertTrue(s.h2dCopies > 0 && s.d2hCopies > 0, s.line());

        try (TraceReader r = TraceReader.open(trace)) {
            assertEquals("record", r.meta().get("source"));
            assertEquals(program, r.meta().get("workload"));
        }
        for (String mode : List.of("off", "sync")) {
            final String out = run(Map.of("PIPELLM_SUMMARY", "0", "SIMGPU_VERIFY", "full"),
                    ROOT.resolve("pipellm").toString(), "trace", "play", trace.toString(), "--cc", cc, "--mode", mode);
            assertTrue(out.contains("trace_play verify=ok"), out);
            final Map<String, String> played = new LinkedHashMap<>();
            final String line = out.lines().filter(l -> l.startsWith("trace_play workload=")).findFirst().orElseThrow();
            for (String k : KEYS) {
                final Matcher mt = Pattern.compile(" " + k + "=(\\d+)").matcher(line);
                assertTrue(mt.find(), line);
                played.put(k, mt.group(1));
            }
            assertEquals(recorded, played, "the replay (" + mode + ") makes the recorded copies: " + line);
        }
    }
}
