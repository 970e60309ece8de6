package dev.pipellm.bench.harness;

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
    private final boolean quick;
    private final String load;

    Report(Map<String, Workloads.Workload> workloads, Map<String, Harness.Cell> cells, List<String> order,
           List<Harness.Mode> modes, int repeats, boolean quick, String load) {
        this.workloads = workloads;
        this.cells = cells;
        this.order = order;
        this.modes = modes;
        this.repeats = repeats;
        this.quick = quick;
        this.load = load;
    }

    private double noCc(String w) {
        return cells.get(w + "/nocc").medianThroughput();
    }

    private static String unitOf(Workloads.Workload w) {
        return w.unit() + "s/s";
    }

    String table() {
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%nsimgpu (simulated H100), %d cores, load at start %s; %d round(s), "
                + "interleaved; medians%n", Runtime.getRuntime().availableProcessors(), load, repeats));
        for (String w : order) {
            final Workloads.Workload wl = workloads.get(w);
            b.append('\n').append(w).append(": ").append(wl.describe()).append('\n');
            b.append(String.format(Locale.ROOT, "  %-11s %14s %7s %10s %9s %10s %10s%n", "mode", unitOf(wl), "spread",
                    "/ no CC", "overhead", "fast msgs", "slow msgs"));
            for (Harness.Mode m : modes) {
                final Harness.Cell c = cells.get(w + "/" + m.name());
                if (c.runs.isEmpty()) {
                    b.append(String.format(Locale.ROOT, "  %-11s failed: %s%n", m.label(),
                            c.failures.isEmpty() ? "no result" : c.failures.get(0)));
                    continue;
                }
                final double t = c.medianThroughput();
                final double ratio = t / noCc(w);
                b.append(String.format(Locale.ROOT, "  %-11s %14.4g %6.0f%% %9.3f %8.1f%% %10s %10s%s%n", m.label(), t,
                        100 * c.spread(), ratio, 100 * (1 - ratio), stat(c, true), stat(c, false),
                        c.failures.isEmpty() ? "" : "   (" + c.failures.size() + " failed: " + c.failures.get(0) + ")"));
            }
        }
        b.append("\n/ no CC: the mode's median throughput over no CC's, same run; overhead: 1 - that ratio; spread: "
                + "(max - min) / median over the rounds;\nfast / slow msgs: PIPELLM_STATS fast_path_messages / "
                + "slow_path_messages (median; - without the agent).\n");
        return b.toString();
    }

    private static String stat(Harness.Cell c, boolean fast) {
        final double[] v = c.runs.stream().mapToDouble(r -> fast ? r.fastPath() : r.slowPath()).filter(x -> x >= 0)
                .toArray();
        return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f", Harness.median(v));
    }

    String json() {
        final StringBuilder b = new StringBuilder();
        b.append("{\n  \"schema\": \"pipellm-bench/1\",\n  \"generated_at\": \"").append(Harness.now()).append("\",\n");
        b.append("  \"machine\": ").append(machine()).append(",\n");
        b.append("  \"parameters\": {\"repeats\": ").append(repeats).append(", \"quick\": ").append(quick)
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
                                .append(r.slowPath());
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
                .append(" interleaved round(s), medians").append(quick ? ", quick sizes" : "").append(".\n\n");
        b.append("| workload | mode | throughput | / no CC | overhead | spread |\n|---|---|---:|---:|---:|---:|\n");
        for (String w : order) {
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
