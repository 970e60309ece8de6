package dev.pipellm.bench.harness;

import dev.pipellm.bench.trace.TraceStats;
import dev.pipellm.bench.workload.Workloads;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
    private final int layers;
    private final boolean verifyFirst;
    private final String load;
    private final Map<String, TraceStats> stats;
    private final Calibration cal;

    Report(Map<String, Workloads.Workload> workloads, Map<String, Harness.Cell> cells, List<String> order,
           List<Harness.Mode> modes, int repeats, int loops, boolean quick, int layers, boolean verifyFirst,
           String load, Map<String, TraceStats> stats, Calibration cal) {
        this.layers = layers;
        this.verifyFirst = verifyFirst;
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

    private static String verify() {
        return System.getenv().getOrDefault("SIMGPU_VERIFY", "sampled:16");
    }

    /** The analytic bound's throughput ratio to no CC (Calibration.boundSeconds), NaN without a no-CC result. */
    double boundRatio(String w) {
        final Harness.Cell nocc = cells.get(w + "/nocc");
        if (nocc == null || nocc.runs.isEmpty()) {
            return Double.NaN;
        }
        final double t0 = nocc.medianWall();
        final double cpu = Harness.median(nocc.runs.stream().filter(r -> r.fields().containsKey("cpu_s"))
                .mapToDouble(r -> Double.parseDouble(r.fields().get("cpu_s"))).toArray());
        final TraceStats s = stats.get(w);
        final double f = Calibration.ceShare(verify());
        return t0 / cal.boundSeconds(t0, cpu, s.h2dBytes, s.d2hBytes, f, simgpuCcSeconds(w, t0, s, f));
    }

    /**
     * What CC costs the app's thread in the same run's vanilla CC replay beyond the crypto and simgpu's plaintext
     * copies: its median wall time less no CC's, less the time its threads spent inside the driver's EVP calls
     * (simgpu's {@code h2d_driver_crypto_ns}, {@code d2h_driver_crypto_ns}) and the plaintext copies (the share
     * {@code 1 - f} of the H2D bytes at memcpy speed); at least 0. That is simgpu's own cost per message (the
     * driver's hand-off to the copy engine: a mutex, a condition variable, a thread wake-up; the wait for the
     * copy engine's D2H encryption), which a perfect PipeLLM pays too. 0 when the run has no vanilla CC replay
     * with those statistics: the bound is then higher.
     */
    double simgpuCcSeconds(String w, double noCcWall, TraceStats s, double f) {
        final Harness.Cell off = cells.get(w + "/off");
        if (off == null) return 0;
        final double[] rest = off.runs.stream()
                .filter(r -> r.fields().containsKey("h2d_driver_crypto_ns") && r.fields().containsKey("d2h_driver_crypto_ns"))
                .mapToDouble(r -> r.wallS() - (Double.parseDouble(r.fields().get("h2d_driver_crypto_ns"))
                        + Double.parseDouble(r.fields().get("d2h_driver_crypto_ns"))) / 1e9).toArray();
        if (rest.length == 0) return 0;
        return Math.max(0, Harness.median(rest) - noCcWall - s.h2dBytes * (1 - f) / cal.memcpyBytesPerS());
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
            b.append(String.format(Locale.ROOT, "  %-11s %14s %7s %10s %9s %9s %10s %10s %8s %8s%n", "mode", unitOf(wl),
                    "spread", "/ no CC", "overhead", "of bound", "fast msgs", "slow msgs", "fast H2D", "wasted"));
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
                b.append(String.format(Locale.ROOT, "  %-11s %14.4g %6.0f%% %9.3f %8.1f%% %9s %10s %10s %8s %8s%s%n",
                        m.label(), t, 100 * c.spread(), ratio, 100 * (1 - ratio), m.name().equals("nocc") ? ""
                                : String.format(Locale.ROOT, "%.0f%%", 100 * ratio / br),
                        stat(c, "fast_path_messages"), stat(c, "slow_path_messages"),
                        share(c, "fast_path_messages", "h2d_messages"),
                        share(c, "wasted_encrypted_bytes", "pre_encrypted_bytes"),
                        c.failures.isEmpty() ? "" : "   (" + c.failures.size() + " failed: " + c.failures.get(0) + ")"));
            }
        }
        b.append(String.format(Locale.ROOT, "%nbound: no CC plus, per H2D byte, a commit's memcpy (%.2f GB/s here) "
                + "and per D2H byte a decryption (AES-256-GCM %.2f GB/s here),%nor the workers' encryption of every H2D "
                + "byte, or all that CPU work and the no-CC run's own on %d cores, or every pass over the bytes at the "
                + "memory%nbandwidth of all cores (%.2f GB/s here), whichever takes longest (docs/benchmarks.md)",
                cal.memcpyBytesPerS() / 1e9, cal.aesGcmBytesPerS() / 1e9, cal.cores(), cal.memoryBytesPerS() / 1e9));
        b.append("\n/ no CC: the mode's median throughput over no CC's, same run; overhead: 1 - that ratio; of bound: "
                + "that ratio over the bound's;\nspread: (max - min) / median over the rounds; fast / slow msgs: "
                + "PIPELLM_STATS fast_path_messages, slow_path_messages;\nfast H2D: fast_path_messages / h2d_messages; "
                + "wasted: wasted_encrypted_bytes / pre_encrypted_bytes (whole process, all loops;\nmedians; - without "
                + "the agent or nothing pre-encrypted).\n");
        return b.toString();
    }

    /** The median over the runs of the agent's statistic {@code key}, or "-" without the agent. */
    private static String stat(Harness.Cell c, String key) {
        final double[] v = c.runs.stream().filter(r -> r.agent() != null && r.agent().has(key))
                .mapToDouble(r -> r.agent().path(key).asDouble()).toArray();
        return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f", Harness.median(v));
    }

    /** The median over the runs of the agent's {@code part / whole}, as a percentage, or "-". */
    private static String share(Harness.Cell c, String part, String whole) {
        final double[] v = c.runs.stream().filter(r -> r.agent() != null && r.agent().path(whole).asDouble() > 0)
                .mapToDouble(r -> r.agent().path(part).asDouble() / r.agent().path(whole).asDouble()).toArray();
        return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * Harness.median(v));
    }

    /** The results document (schema pipellm-bench/1, docs/benchmarks.md), as Jackson writes it to results.json. */
    ObjectNode doc() {
        final ObjectNode d = Harness.JSON.createObjectNode();
        d.put("schema", "pipellm-bench/1");
        d.put("generated_at", Harness.now());
        final ObjectNode machine = machine();
        d.set("machine", machine);
        final ObjectNode c = d.putObject("calibration");
        num(c, "memcpy_gbps", cal.memcpyBytesPerS() / 1e9);
        num(c, "aes_256_gcm_gbps", cal.aesGcmBytesPerS() / 1e9);
        num(c, "memory_gbps", cal.memoryBytesPerS() / 1e9);
        c.put("workers", cal.workers());
        c.put("cores", cal.cores());
        final ObjectNode params = d.putObject("parameters");
        params.put("repeats", repeats);
        params.put("loops", loops);
        params.put("quick", quick);
        params.put("layers", layers);
        params.put("verify", verifyFirst ? "first" : "off");
        params.put("simgpu_verify", verify());
        params.put("cold_start", System.getenv().getOrDefault("PIPELLM_COLD_START", "agent"));
        params.put("interleaved", true);
        final ArrayNode results = d.putArray("results");
        final double ceShare = Calibration.ceShare(verify());
        for (String w : order) {
            final Workloads.Workload wl = workloads.get(w);
            for (Harness.Mode m : modes) {
                final Harness.Cell cell = cells.get(w + "/" + m.name());
                final double t = cell.runs.isEmpty() ? Double.NaN : cell.medianThroughput();
                final double ratio = t / noCc(w);
                final ObjectNode r = results.addObject();
                r.put("workload", w);
                r.put("mode", m.name());
                r.put("mode_label", m.label());
                num(r, "throughput", t);
                r.put("unit", unitOf(wl));
                num(r, "ratio_to_no_cc", ratio);
                num(r, "bound_ratio", boundRatio(w));
                num(r, "bound_simgpu_cc_s", simgpuCcSeconds(w, cells.get(w + "/nocc").medianWall(), stats.get(w), ceShare));
                num(r, "fraction_of_bound", ratio / boundRatio(w));
                num(r, "overhead_vs_no_cc", 1 - ratio);
                num(r, "spread", cell.runs.isEmpty() ? Double.NaN : cell.spread());
                final ArrayNode runs = r.putArray("runs");
                for (Harness.Run run : cell.runs) {
                    final ObjectNode o = runs.addObject();
                    o.put("round", run.round());
                    num(o, "wall_s", run.wallS());
                    num(o, "throughput", run.throughput());
                    if (run.fields().containsKey("cpu_s")) {
                        num(o, "cpu_s", Double.parseDouble(run.fields().get("cpu_s")));
                    }
                    for (String k : List.of("h2d_copies", "h2d_bytes", "d2h_copies", "d2h_bytes",
                            "h2d_driver_crypto_ns", "d2h_driver_crypto_ns")) {
                        if (run.fields().containsKey(k)) {
                            o.put(k, Long.parseLong(run.fields().get(k)));
                        }
                    }
                    if (run.agent() != null) {
                        o.set("agent", run.agent());
                    }
                }
                final ArrayNode f = r.putArray("failures");
                cell.failures.forEach(f::add);
                final ObjectNode p = r.putObject("parameters");
                p.put("describe", wl.describe());
                wl.parameters().forEach(p::put);
                p.put("repeats", repeats);
                p.put("loops", loops);
                p.put("workers", cal.workers());
                r.set("machine", machine);
            }
        }
        return d;
    }

    /** Puts {@code v}, or null for NaN and infinities (which JSON has no word for). */
    static void num(ObjectNode o, String key, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
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

    private ObjectNode machine() {
        String cpu = "unknown";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
        } catch (IOException e) {
            // keep "unknown"
        }
        final ObjectNode m = Harness.JSON.createObjectNode();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("cpu", cpu);
        m.put("load_at_start", load);
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", System.getProperty("java.version"));
        m.put("gpu", "simgpu");
        return m;
    }
}
