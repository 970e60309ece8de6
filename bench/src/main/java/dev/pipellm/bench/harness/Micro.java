package dev.pipellm.bench.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pipellm.bench.BenchMain.UsageException;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code ./pipellm bench --micro}: the project's JMH micro-benchmarks, gathered and run briefly, one table and one
 * JSON file: the AES-256-GCM engines (crypto's GcmThroughputBenchmark, StreamingGcmBenchmark), the upcall round
 * trip and the commit's compare and copy (bench's own, src/test/java/.../micro), the speculator's event cost
 * (SpeculatorBenchmark). Each set runs in its own JMH process (JMH forks once more per benchmark); the launcher
 * builds the jars and class folders first.
 */
public final class Micro {
    /** A set of benchmarks: its name, class path (relative to the root), JMH's include pattern and options. */
    record Set(String name, String classPath, List<String> jmhArgs) {
    }

    private Micro() {
    }

    static List<Set> sets(boolean quick) {
        final List<Set> s = new ArrayList<>();
        s.add(new Set("crypto", "crypto/target/pipellm-crypto-benchmarks.jar", List.of(
                "GcmThroughputBenchmark", "-p", "engine=jdk,bc-lts", "-p", "size=65536,1048576", "-p",
                "memory=heap,offheap")));
        s.add(new Set("crypto-streaming", "crypto/target/pipellm-crypto-benchmarks.jar", List.of(
                "StreamingGcmBenchmark.streamingEncrypt", "-p", "update=65536")));
        s.add(new Set("agent-path", "bench/target/test-classes:bench/target/classes:bench/target/jmh-lib/*",
                List.of("dev.pipellm.bench.micro.")));
        s.add(new Set("speculator", "speculator/target/test-classes:speculator/target/classes:"
                + "speculator/target/jmh-lib/*", List.of("SpeculatorBenchmark")));
        return s;
    }

    public static int main(String[] args) {
        boolean quick = false;
        Path outDir = null;
        final Path root = Path.of(System.getenv().getOrDefault("PIPELLM_ROOT", "."));
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--out-dir" -> {
                    if (i + 1 >= args.length) {
                        throw new UsageException("bench --micro: --out-dir needs a value: a directory");
                    }
                    outDir = Path.of(args[++i]);
                }
                default -> throw new UsageException("bench --micro: unknown option '" + args[i]
                        + "' (accepted: --quick, --out-dir DIR)");
            }
        }
        if (outDir == null) {
            outDir = root.resolve("build/bench");
        }
        // Short runs: a figure per benchmark in about a minute in all (docs/benchmarks.md has the long ones).
        final List<String> timing = quick ? List.of("-f", "1", "-wi", "1", "-w", "500ms", "-i", "2", "-r", "500ms")
                : List.of("-f", "1", "-wi", "2", "-w", "1s", "-i", "3", "-r", "1s");
        final ObjectNode doc = Harness.JSON.createObjectNode();
        doc.put("schema", "pipellm-micro/1");
        doc.put("generated_at", Harness.now());
        doc.put("cores", Runtime.getRuntime().availableProcessors());
        doc.put("load_at_start", Harness.readFirstLine(Path.of("/proc/loadavg")));
        final ArrayNode results = doc.putArray("results");
        int failed = 0;
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + outDir, e);
        }
        for (Set set : sets(quick)) {
            final Path json = outDir.resolve("jmh-" + set.name() + ".json");
            final List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "--enable-native-access=ALL-UNNAMED",
                    "-Dpipellm.crypto.bcLtsJar=" + root.resolve("crypto/target/bc-lts/bcprov-lts8on.jar"), "-cp",
                    classPath(root, set.classPath()), "org.openjdk.jmh.Main"));
            cmd.addAll(set.jmhArgs());
            cmd.addAll(timing);
            cmd.addAll(List.of("-rf", "json", "-rff", json.toString()));
            System.err.println("bench --micro: " + set.name() + " (" + String.join(" ", set.jmhArgs()) + ")");
            try {
                Files.deleteIfExists(json);
                final Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true)
                        .redirectOutput(outDir.resolve("jmh-" + set.name() + ".log").toFile()).start();
                final int rc = p.waitFor();
                if (rc != 0 || !Files.exists(json)) {
                    System.err.println("bench --micro: " + set.name() + " failed (exit " + rc + "; log in "
                            + outDir.resolve("jmh-" + set.name() + ".log") + ")");
                    failed++;
                    continue;
                }
                for (JsonNode r : Harness.JSON.readTree(json.toFile())) {
                    results.add(row(set.name(), r));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot run JMH for " + set.name(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted");
            }
        }
        final Path json = outDir.resolve("micro.json");
        final Path md = outDir.resolve("micro.md");
        try {
            Harness.JSON.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), doc);
            Files.writeString(md, table(doc, true));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + json, e);
        }
        System.out.print(table(doc, false));
        System.out.println("JSON: " + json + "   Markdown: " + md);
        return failed == 0 ? 0 : 1;
    }

    private static String classPath(Path root, String relative) {
        final List<String> parts = new ArrayList<>();
        for (String p : relative.split(":")) {
            parts.add(root.resolve(p).toString());
        }
        return String.join(File.pathSeparator, parts);
    }

    /** One JMH result as a row: set, benchmark (short name), parameters, score, error, unit, GB/s where sized. */
    static ObjectNode row(String set, JsonNode r) {
        final ObjectNode o = Harness.JSON.createObjectNode();
        final String full = r.path("benchmark").asText();
        final String[] parts = full.split("\\.");
        final String name = parts.length >= 2 ? parts[parts.length - 2] + "." + parts[parts.length - 1] : full;
        o.put("set", set);
        o.put("benchmark", name);
        final StringBuilder params = new StringBuilder();
        r.path("params").properties().forEach(e -> params.append(params.isEmpty() ? "" : " ").append(e.getKey())
                .append('=').append(e.getValue().asText()));
        o.put("params", params.toString());
        final JsonNode m = r.path("primaryMetric");
        final double score = m.path("score").asDouble(Double.NaN);
        Report.num(o, "score", score);
        Report.num(o, "error", m.path("scoreError").asDouble(Double.NaN));
        o.put("unit", m.path("scoreUnit").asText());
        final JsonNode size = r.path("params").path("size");
        if (size.isTextual() && m.path("scoreUnit").asText().equals("ns/op") && score > 0) {
            Report.num(o, "gbps", Double.parseDouble(size.asText()) / score);
        }
        return o;
    }

    static String table(JsonNode doc, boolean markdown) {
        final StringBuilder b = new StringBuilder();
        if (markdown) {
            b.append("# PipeLLM micro-benchmarks (JMH)\n\n").append(doc.path("cores").asInt()).append(" cores, load at "
                    + "start ").append(doc.path("load_at_start").asText()).append(".\n\n")
                    .append("| set | benchmark | parameters | score | error | unit | GB/s |\n|---|---|---|---:|---:|---|---:|\n");
        } else {
            b.append(String.format(Locale.ROOT, "%n%-16s %-40s %-40s %10s %9s %-6s %7s%n", "set", "benchmark",
                    "parameters", "score", "error", "unit", "GB/s"));
        }
        for (JsonNode r : doc.path("results")) {
            final String gbps = r.path("gbps").isNumber() ? String.format(Locale.ROOT, "%.2f", r.path("gbps")
                    .asDouble()) : "";
            // JMH gives no error with fewer than 3 iterations (--quick): n/a
            final String err = r.path("error").isNumber() ? String.format(Locale.ROOT, "%.2g", r.path("error")
                    .asDouble()) : "n/a";
            final String f = markdown ? "| %s | %s | %s | %.4g | %s | %s | %s |%n" : "%-16s %-40s %-40s %10.4g %9s %-6s %7s%n";
            b.append(String.format(Locale.ROOT, f, r.path("set").asText(), r.path("benchmark").asText(),
                    r.path("params").asText(), r.path("score").asDouble(), err, r.path("unit").asText(), gbps));
        }
        return b.toString();
    }
}
