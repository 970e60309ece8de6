package dev.pipellm.bench.harness;

import dev.pipellm.bench.trace.TraceStats;
import dev.pipellm.bench.workload.Workloads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The harness's outputs from its cells: the terminal table, the JSON document (schema {@code pipellm-bench/1},
 * docs/benchmarks.md) and the Markdown summary. Throughput is the median over the rounds; ratio_to_no_cc divides it
 * by the no-CC median of the same workload in the same run.
 */
final class Report {
    private final Map<String, Workloads.Workload> workloads;
    private final Map<String, Harness.Cell> cells;
    private final List<String> order;
    private final List<Harness.Mode> modes;
    private final int repeats;
    private final int loops;
    private final boolean quick;
    private final String load;
    private final Map<String, TraceStats> stats;
    private final Calibration cal;

    Report(Map<String, Workloads.Workload> workloads, Map<String, Harness.Cell> cells, List<String> order,
           List<Harness.Mode> modes, int repeats, int loops, boolean quick, String load, Map<String, TraceStats> stats,
           Calibration cal) {
        this.stats = stats;
        this.cal = cal;
        this.workloads = workloads;
        this.cells = cells;
        this.order = order;
        this.modes = modes;
        this.repeats = repeats;
        this.loops = loops;
        this.quick = quick;
        this.load = load;
    }

    private double noCc(String w) {
        return cells.get(w + "/nocc").medianThroughput();
    }

    /** The analytic bound's throughput ratio to no CC (Calibration.boundSeconds), NaN without a no-CC result. */
    double boundRatio(String w) {
        final Harness.Cell nocc = cells.get(w + "/nocc");
        if (nocc == null || nocc.runs.isEmpty()) {
            return Double.NaN;
        }
        final double t0 = nocc.medianWall();
        final TraceStats s = stats.get(w);
        return t0 / cal.boundSeconds(t0, s.h2dBytes, s.d2hBytes);
    }

    private static String unitOf(Workloads.Workload w) {
        return w.unit() + "s/s";
    }

    String table() {
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%nsimgpu (simulated H100), %d cores, load at start %s; %d round(s), "
                + "interleaved; each run the last of %d loop(s) of its trace; medians%n",
                Runtime.getRuntime().availableProcessors(), load, repeats, loops));
        for (String w : order) {
            final Workloads.Workload wl = workloads.get(w);
            b.append('\n').append(w).append(": ").append(wl.describe()).append('\n');
            b.append(String.format(Locale.ROOT, "  %-11s %14s %7s %10s %9s %10s %10s %10s%n", "mode", unitOf(wl),
                    "spread", "/ no CC", "overhead", "fast msgs", "slow msgs", "cold msgs"));
            final double br = boundRatio(w);
            b.append(String.format(Locale.ROOT, "  %-11s %14.4g %7s %9.3f %8.1f%%   (perfect hiding, %d worker(s))%n",
                    "bound", br * noCc(w), "", br, 100 * (1 - br), cal.workers()));
            for (Harness.Mode m : modes) {
                final Harness.Cell c = cells.get(w + "/" + m.name());
                if (c.runs.isEmpty()) {
                    b.append(String.format(Locale.ROOT, "  %-11s failed: %s%n", m.label(),
                            c.failures.isEmpty() ? "no result" : c.failures.get(0)));
                    continue;
                }
                final double t = c.medianThroughput();
                final double ratio = t / noCc(w);
                b.append(String.format(Locale.ROOT, "  %-11s %14.4g %6.0f%% %9.3f %8.1f%% %10s %10s %10s%s%n", m.label(),
                        t, 100 * c.spread(), ratio, 100 * (1 - ratio), stat(c, 0), stat(c, 1), stat(c, 2),
                        c.failures.isEmpty() ? "" : "   (" + c.failures.size() + " failed: " + c.failures.get(0) + ")"));
            }
        }
        b.append(String.format(Locale.ROOT, "%nbound: no CC plus, per H2D byte, a commit's memcpy (%.2f GB/s here) "
                + "and per D2H byte a decryption (AES-256-GCM %.2f GB/s here),%nor the workers' encryption of every H2D "
                + "byte if that takes longer (docs/benchmarks.md)", cal.memcpyBytesPerS() / 1e9,
                cal.aesGcmBytesPerS() / 1e9));
        b.append("\n/ no CC: the mode's median throughput over no CC's, same run; overhead: 1 - that ratio; spread: "
                + "(max - min) / median over the rounds;\nfast / slow / cold msgs: PIPELLM_STATS fast_path_messages, "
                + "slow_path_messages, cold_start_messages (OpenSSL's while the agent warmed up), whole process, all "
                + "loops\n(median; - without the agent).\n");
        return b.toString();
    }

    private static String stat(Harness.Cell c, int which) {
        final double[] v = c.runs.stream().mapToDouble(r -> which == 0 ? r.fastPath() : which == 1 ? r.slowPath()
                : r.coldStart()).filter(x -> x >= 0).toArray();
        return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f", Harness.median(v));
    }

    String json() {
        final StringBuilder b = new StringBuilder();
        b.append("{\n  \"schema\": \"pipellm-bench/1\",\n  \"generated_at\": \"").append(Harness.now()).append("\",\n");
        b.append("  \"machine\": ").append(machine()).append(",\n");
        b.append("  \"calibration\": {\"memcpy_gbps\": ").append(Harness.num(cal.memcpyBytesPerS() / 1e9))
                .append(", \"aes_256_gcm_gbps\": ").append(Harness.num(cal.aesGcmBytesPerS() / 1e9))
                .append(", \"workers\": ").append(cal.workers()).append("},\n");
        b.append("  \"parameters\": {\"repeats\": ").append(repeats).append(", \"loops\": ").append(loops)
                .append(", \"quick\": ").append(quick)
                .append(", \"simgpu_verify\": ").append(str(System.getenv().getOrDefault("SIMGPU_VERIFY", "sampled:16")))
                .append(", \"interleaved\": true},\n");
        b.append("  \"results\": [");
        boolean first = true;
        for (String w : order) {
            final Workloads.Workload wl = workloads.get(w);
            for (Harness.Mode m : modes) {
                final Harness.Cell c = cells.get(w + "/" + m.name());
                b.append(first ? "\n" : ",\n");
                first = false;
                final double t = c.runs.isEmpty() ? Double.NaN : c.medianThroughput();
                final double ratio = t / noCc(w);
                b.append("    {\"workload\": ").append(str(w)).append(", \"mode\": ").append(str(m.name()))
                        .append(", \"mode_label\": ").append(str(m.label()))
                        .append(", \"throughput\": ").append(Harness.num(t))
                        .append(", \"unit\": ").append(str(unitOf(wl)))
                        .append(", \"ratio_to_no_cc\": ").append(Harness.num(ratio))
                        .append(", \"bound_ratio\": ").append(Harness.num(boundRatio(w)))
                        .append(", \"fraction_of_bound\": ").append(Harness.num(ratio / boundRatio(w)))
                        .append(", \"overhead_vs_no_cc\": ").append(Harness.num(1 - ratio))
                        .append(", \"spread\": ").append(Harness.num(c.runs.isEmpty() ? Double.NaN : c.spread()))
                        .append(", \"runs\": [");
                for (int i = 0; i < c.runs.size(); i++) {
                    final Harness.Run r = c.runs.get(i);
                    b.append(i == 0 ? "" : ", ").append("{\"round\": ").append(r.round()).append(", \"wall_s\": ")
                            .append(Harness.num(r.wallS())).append(", \"throughput\": ").append(Harness.num(r.throughput()));
                    for (String k : List.of("h2d_copies", "h2d_bytes", "d2h_copies", "d2h_bytes", "h2d_driver_crypto_ns",
                            "d2h_driver_crypto_ns")) {
                        if (r.fields().containsKey(k)) {
                            b.append(", \"").append(k).append("\": ").append(r.fields().get(k));
                        }
                    }
                    if (r.fastPath() >= 0) {
                        b.append(", \"fast_path_messages\": ").append(r.fastPath()).append(", \"slow_path_messages\": ")
                                .append(r.slowPath()).append(", \"cold_start_messages\": ").append(r.coldStart());
                    }
                    b.append('}');
                }
                b.append("], \"failures\": [");
                for (int i = 0; i < c.failures.size(); i++) {
                    b.append(i == 0 ? "" : ", ").append(str(c.failures.get(i)));
                }
                b.append("], \"parameters\": {\"describe\": ").append(str(wl.describe()));
                wl.parameters().forEach((k, v) -> b.append(", ").append(str(k)).append(": ").append(str(v)));
                b.append("}}");
            }
        }
        b.append("\n  ]\n}\n");
        return b.toString();
    }

    String markdown() {
        final StringBuilder b = new StringBuilder("# PipeLLM workload benchmark\n\n");
        b.append("simgpu (simulated H100 with CC), ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, load at start ").append(load).append(", ").append(repeats)
                .append(" interleaved round(s), the last of ").append(loops).append(" loop(s) of each trace, medians")
                .append(quick ? ", quick sizes" : "").append(".\n\n");
        b.append("| workload | mode | throughput | / no CC | overhead | spread |\n|---|---|---:|---:|---:|---:|\n");
        for (String w : order) {
            b.append(String.format(Locale.ROOT, "| %s | bound (perfect hiding, %d worker(s)) | %.4g %s | %.3f | %.1f %% | |%n",
                    w, cal.workers(), boundRatio(w) * noCc(w), unitOf(workloads.get(w)), boundRatio(w),
                    100 * (1 - boundRatio(w))));
            for (Harness.Mode m : modes) {
                final Harness.Cell c = cells.get(w + "/" + m.name());
                if (c.runs.isEmpty()) {
                    b.append("| ").append(w).append(" | ").append(m.label()).append(" | failed | | | |\n");
                    continue;
                }
                final double t = c.medianThroughput();
                final double ratio = t / noCc(w);
                b.append(String.format(Locale.ROOT, "| %s | %s | %.4g %s | %.3f | %.1f %% | %.0f %% |%n", w, m.label(), t,
                        unitOf(workloads.get(w)), ratio, 100 * (1 - ratio), 100 * c.spread()));
            }
        }
        b.append("\nWorkloads:\n\n");
        for (String w : order) {
            b.append("- `").append(w).append("`: ").append(workloads.get(w).describe()).append('\n');
        }
        return b.toString();
    }

    private String machine() {
        String cpu = "unknown";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
        } catch (IOException e) {
            // keep "unknown"
        }
        return "{\"cores\": " + Runtime.getRuntime().availableProcessors() + ", \"cpu\": " + str(cpu)
                + ", \"load_at_start\": " + str(load) + ", \"os\": " + str(System.getProperty("os.name") + " "
                + System.getProperty("os.version")) + ", \"java\": " + str(System.getProperty("java.version"))
                + ", \"gpu\": \"simgpu\"}";
    }

    static String str(String s) {
        final StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (ch < 0x20) {
                        b.append(String.format("\\u%04x", (int) ch));
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
