package dev.pipellm.bench.harness;

import dev.pipellm.bench.trace.TraceStats;
import dev.pipellm.bench.workload.Workloads;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ./pipellm bench [workloads]}: generates each workload's trace (or takes a trace file as it is), replays it
 * with {@code ./pipellm trace play} under every mode (no CC, vanilla CC, sync, pipellm), interleaved (each round
 * starts one mode later) and repeated, and reports each mode's median throughput, its ratio to no CC and to the
 * analytic bound ({@link Calibration}): a terminal table, results.json, summary.md and the chart ({@link Chart});
 * with {@code --check}, the comparison with a baseline ({@link BaselineCheck}). Schema in docs/benchmarks.md.
 */
public final class Harness {
    /** A mode of the harness: its name, simgpu's CC and the launcher's --mode. */
    public record Mode(String name, String label, String cc, String launcherMode) {
    }

    public static final List<Mode> MODES = List.of(new Mode("nocc", "no CC", "off", "off"),
            new Mode("off", "vanilla CC", "on", "off"), new Mode("sync", "sync", "on", "sync"),
            new Mode("pipellm", "pipellm", "on", "pipellm"));

    private static final Pattern KV = Pattern.compile("([a-z0-9_]+)=(\\S+)");

    /** One measured run. */
    /** One measured run: the player's result line's fields and the agent's PIPELLM_STATS (null without it). */
    public record Run(int round, double wallS, double throughput, Map<String, String> fields, JsonNode agent) {
    }

    /** Reads and writes results.json and baselines. */
    static final ObjectMapper JSON = new ObjectMapper();

    /** Results of one workload under one mode. */
    public static final class Cell {
        final String workload;
        final Mode mode;
        final List<Run> runs = new ArrayList<>();
        final List<String> failures = new ArrayList<>();

        Cell(String workload, Mode mode) {
            this.workload = workload;
            this.mode = mode;
        }

        double medianWall() {
            return median(runs.stream().mapToDouble(Run::wallS).toArray());
        }

        double medianThroughput() {
            return median(runs.stream().mapToDouble(Run::throughput).toArray());
        }

        double spread() {
            final double[] t = runs.stream().mapToDouble(Run::throughput).sorted().toArray();
            final double m = median(t);
            return t.length < 2 || m <= 0 ? 0 : (t[t.length - 1] - t[0]) / m;
        }
    }

    private Harness() {
    }

    public static int main(String[] args) {
        final HarnessOptions o = HarnessOptions.parse(args);
        final Path root = Path.of(System.getProperty("pipellm.root", System.getenv().getOrDefault("PIPELLM_ROOT",
                ".")));
        final Path outDir = o.outDir != null ? o.outDir : root.resolve("build/bench");
        Map<String, BaselineCheck.Figure> baseline = null;
        final Path check = o.check;
        if (check != null) {
            final JsonNode doc = BaselineCheck.readDoc(check);
            baseline = BaselineCheck.read(check, doc);
            o.adoptBaseline(doc, baseline);
        }
        final Run0 run = new Harness.Run0(root, outDir, o.workloads, o.modes, o.repeats, o.loops, o.workers, o.quick,
                o.shared, o.seed, o.layers, o.verifyFirst);
        final int rc = run.run();
        if (baseline == null) {
            return rc;
        }
        final List<String> failures = BaselineCheck.compare(baseline,
                BaselineCheck.figures(readJson(outDir.resolve("results.json"))));
        failures.forEach(System.out::println);
        final String verdict = failures.isEmpty() ? "bench check: every sync and pipellm ratio_to_no_cc and "
                + "fraction_of_bound is within its tolerance of " + check : "bench check: " + failures.size()
                + " figure(s) regressed against " + check;
        System.out.println(verdict);
        // The CI job page shows summary.md: the gate's verdict goes there too.
        final StringBuilder md = new StringBuilder("\n## Regression gate\n\n").append(failures.isEmpty() ? "Passed: "
                : "**Failed**: ").append(verdict.substring("bench check: ".length())).append(".\n");
        failures.forEach(f -> md.append("\n- ").append(f.substring("bench check: ".length())));
        try {
            Files.writeString(outDir.resolve("summary.md"), md.append('\n').toString(),
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + outDir.resolve("summary.md"), e);
        }
        return failures.isEmpty() ? rc : 1;
    }

    private static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    static double median(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        final double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** One harness run (its parameters and results). */
    private record Run0(Path root, Path outDir, List<String> workloads, List<Mode> modes, int repeats, int loops,
                        int workers, boolean quick, String shared, long seed, int layers, boolean verifyFirst) {
        int run() {
            try {
                Files.createDirectories(outDir.resolve("traces"));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + outDir, e);
            }
            final String load = readFirstLine(Path.of("/proc/loadavg"));
            System.err.println("bench: measuring memcpy, memory bandwidth and AES-256-GCM on this machine (about 3 s;"
                    + " again after each round, the best of each kept)");
            Calibration cal = Calibration.measure(workers);
            final Map<String, Workloads.Workload> ws = new LinkedHashMap<>();
            final Map<String, Path> traces = new LinkedHashMap<>();
            final Map<String, TraceStats> stats = new LinkedHashMap<>();
            for (String name : workloads) {
                // A trace file (a team's recorded server) is replayed as it is; a generated workload is written first.
                final Workloads.Workload w;
                final Path f;
                if (Workloads.isTraceFile(name)) {
                    f = Path.of(name);
                    w = Workloads.ofTrace(f);
                } else {
                    w = Workloads.byName(name, shared, quick, seed, layers);
                    f = outDir.resolve("traces").resolve(name + (quick ? "-quick" : "")
                            + (layers > 1 && name.startsWith("flexgen") ? "-l" + layers : "") + ".pltrace");
                    w.write(f);
                }
                ws.put(name, w);
                traces.put(name, f);
                stats.put(name, TraceStats.of(f));
            }
            final Map<String, Cell> cells = new LinkedHashMap<>();
            for (String w : workloads) {
                for (Mode m : modes) {
                    cells.put(w + "/" + m.name(), new Cell(w, m));
                }
            }
            final int total = repeats * workloads.size() * modes.size();
            int done = 0;
            boolean verifyFailed = false;
            final long started = System.nanoTime();
            for (int round = 0; round < repeats; round++) {
                for (String w : workloads) {
                    for (int k = 0; k < modes.size(); k++) {
                        final Mode m = modes.get((k + round) % modes.size());
                        progress(done, total, w + " " + m.name() + " (round " + (round + 1) + "/" + repeats + ")",
                                started);
                        final Cell c = cells.get(w + "/" + m.name());
                        verifyFailed |= playOnce(traces.get(w), m, round, c, ws.get(w).units());
                        done++;
                    }
                }
                progress(done, total, "calibrating again (round " + (round + 1) + "/" + repeats + " done)", started);
                cal = cal.best(Calibration.measure(workers));
            }
            progress(done, total, "done", started);
            System.err.println();
            final Report report = new Report(ws, cells, workloads, modes, repeats, loops, quick, layers, verifyFirst,
                    load, stats, cal);
            System.out.print(report.table());
            final Path json = outDir.resolve("results.json");
            final Path md = outDir.resolve("summary.md");
            final Path png = outDir.resolve("chart.png");
            final Path svg = outDir.resolve("chart.svg");
            final ObjectNode doc = report.doc();
            try {
                JSON.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), doc);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + json, e);
            }
            write(md, report.markdown());
            Chart.write(doc, png, svg);
            System.out.println("JSON: " + json + "   Markdown: " + md);
            System.out.println("chart: " + png + "   " + svg);
            return verifyFailed ? 1 : 0;
        }

        private boolean playOnce(Path trace, Mode m, int round, Cell c, long units) {
            final Path stats = outDir.resolve("pipellm-stats.json");
            try {
                Files.deleteIfExists(stats);
                // Each workload and mode is verified byte for byte in the first round; later rounds only time (the
                // check runs after the timed part, but costs a second pass over the trace's data).
                final ProcessBuilder pb = new ProcessBuilder(root.resolve("pipellm").toString(), "trace", "play",
                        trace.toString(), "--cc", m.cc(), "--mode", m.launcherMode(),
                        round == 0 && verifyFirst ? "--verify=full" : "--verify=off", "--loops=" + loops);
                pb.environment().put("PIPELLM_SUMMARY", "0");
                pb.environment().put("PIPELLM_STATS", stats.toString());
                pb.environment().putIfAbsent("SIMGPU_VERIFY", "sampled:16");
                // The agent's engine from the first message: the untimed loops warm it up. With cold_start=openssl
                // its warm-up waits for 20 ms of driver quiet, which a replay never has (docs/benchmarks.md).
                pb.environment().putIfAbsent("PIPELLM_COLD_START", "agent");
                pb.redirectErrorStream(true);
                final Process p = pb.start();
                final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                final int rc = p.waitFor();
                String result = null;
                boolean verified = false;
                for (String line : out.split("\n")) {
                    if (line.startsWith("trace_play workload=")) {
                        result = line;
                    } else if (line.startsWith("trace_play verify=ok") || ((round > 0 || !verifyFirst)
                            && line.startsWith("trace_play verify=off"))) {
                        verified = true;
                    }
                }
                if (rc != 0 || result == null || !verified) {
                    final String why = out.lines().filter(l -> l.startsWith("trace play:") || l.startsWith("pipellm:"))
                            .reduce((a, b) -> b).orElse("exit " + rc + ", no result line");
                    c.failures.add(why);
                    return why.contains("verification failed");
                }
                final Map<String, String> f = new LinkedHashMap<>();
                final Matcher mt = KV.matcher(result);
                while (mt.find()) {
                    f.put(mt.group(1), mt.group(2));
                }
                final double wall = Double.parseDouble(f.get("wall_s"));
                // the player's units / wall_s; a trace without units (recorded) counts replays of its timed loop
                final double thr = f.containsKey("throughput") ? Double.parseDouble(f.get("throughput")) : units / wall;
                c.runs.add(new Run(round, wall, thr, f, Files.exists(stats) ? JSON.readTree(stats.toFile()) : null));
                return false;
            } catch (IOException e) {
                c.failures.add("cannot run ./pipellm trace play: " + e.getMessage());
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted");
            }
        }
    }

    private static void progress(int done, int total, String what, long started) {
        final int width = 30;
        final int filled = total == 0 ? width : done * width / total;
        final double s = (System.nanoTime() - started) / 1e9;
        System.err.printf(Locale.ROOT, "\r[%s%s] %d/%d %5.0f s  %-50s", "#".repeat(filled), ".".repeat(width - filled),
                done, total, s, what);
        System.err.flush();
    }

    static String readFirstLine(Path p) {
        try {
            return Files.readAllLines(p).stream().findFirst().orElse("unknown").trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static void write(Path p, String s) {
        try {
            Files.writeString(p, s);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + p, e);
        }
    }

    static String now() {
        return Instant.now().toString();
    }
}
