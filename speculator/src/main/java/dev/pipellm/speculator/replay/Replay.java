package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.CopyClass;
import dev.pipellm.speculator.trace.VllmSwapTrace;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Replay tool: runs workload traces through the speculator and the pipeline model and reports, per workload,
 * messages and bytes predicted correctly at the head, coverage (bytes that could have been pre-encrypted),
 * wasted (mispredicted) bytes, NOPs and relinquished slots; for LoRA also coverage against an oracle that knows
 * the next request's adapter.
 *
 * <pre>
 * java -jar speculator/target/pipellm-speculator-0.1.0-SNAPSHOT.jar --workload all --shared ../shared [--json FILE]
 * </pre>
 * Exit status: 0 on success, 2 on bad usage or missing data.
 */
public final class Replay {
    /** One workload's outcome. */
    public record Result(String name, String description, int targetClass, ReplayRun run, ReplayRun oracle,
                         double seconds, String notes) {
    }

    private Replay() {
    }

    public static void main(String[] args) {
        try {
            System.exit(run(args, System.out));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("replay: " + e.getMessage());
            System.exit(2);
        }
    }

    static String usage() {
        return """
                usage: Replay [--workload NAME[,NAME...]|all] [--shared DIR] [--json FILE] [--requests N]
                              [--seed N] [--chunk-bytes N] [--depth-messages N] [--depth-bytes N]
                              [--min-confidence F]
                  workloads: %s
                  --shared   shared data directory (else -Dpipellm.shared.dir, else PIPELLM_SHARED_DIR);
                             needed by the vllm-* and lora-* workloads (Azure 2023 traces)
                  --requests requests replayed from the Azure traces (default 2000)
                """.formatted(String.join(", ", Workloads.NAMES));
    }

    /** Runs the tool; returns the exit status. */
    public static int run(String[] args, PrintStream out) {
        String workloads = "all";
        String shared = null;
        String json = null;
        int requests = 2000;
        long seed = 42;
        final SpeculatorConfig.Builder config = SpeculatorConfig.builder();
        IvPipelineModel.Settings defaults = IvPipelineModel.Settings.defaults();
        int depthMessages = defaults.depthMessages();
        long depthBytes = defaults.depthBytes();
        float minConfidence = defaults.minConfidence();
        for (int i = 0; i < args.length; i++) {
            final String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                out.print(usage());
                return 0;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("option " + a + " needs a value\n" + usage());
            }
            final String v = args[++i];
            switch (a) {
                case "--workload" -> workloads = v;
                case "--shared" -> shared = v;
                case "--json" -> json = v;
                case "--requests" -> requests = Integer.parseInt(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--chunk-bytes" -> config.chunkBytes(Long.parseLong(v));
                case "--depth-messages" -> depthMessages = Integer.parseInt(v);
                case "--depth-bytes" -> depthBytes = Long.parseLong(v);
                case "--min-confidence" -> minConfidence = Float.parseFloat(v);
                default -> throw new IllegalArgumentException("unknown option " + a + "\n" + usage());
            }
        }
        final SpeculatorConfig speculatorConfig = config.build();
        final IvPipelineModel.Settings settings = new IvPipelineModel.Settings(depthMessages, depthBytes,
                minConfidence, defaults.maxNopForward(), defaults.commitLookahead());
        final List<String> names = workloads.equals("all") ? Workloads.NAMES : List.of(workloads.split(","));
        final List<Result> results = new ArrayList<>();
        for (String name : names) {
            final Workloads.Workload w = Workloads.create(name.trim(), shared, requests, seed);
            final long start = System.nanoTime();
            final ReplayRun run = new ReplayRun(speculatorConfig, settings).run(w.generator());
            final ReplayRun oracle = w.oracle() == null ? null
                    : new ReplayRun(speculatorConfig, settings).run(w.oracle());
            final double seconds = (System.nanoTime() - start) / 1e9;
            String notes = "";
            if (w.generator() instanceof VllmSwapTrace v) {
                notes = "steps " + v.steps() + ", preemptions " + v.preemptions() + ", swap-ins " + v.swapIns()
                        + ", rejected " + v.rejected() + ", aborted (swap space) " + v.abortedForSwapSpace();
            }
            final Result r = new Result(w.name(), w.generator().describe(), w.targetClass(), run, oracle, seconds,
                    notes);
            results.add(r);
            out.printf(Locale.ROOT, "done %-22s in %6.1f s%n", name, seconds);
            out.flush();
        }
        printTable(results, chunkLabel(speculatorConfig.chunkBytes), settings, out);
        if (json != null) {
            writeJson(Path.of(json), results, speculatorConfig, settings);
            out.println("wrote " + json);
        }
        return 0;
    }

    private static String chunkLabel(long chunk) {
        return chunk % (1 << 20) == 0 ? (chunk >> 20) + " MiB" : chunk + " B";
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / (double) (1L << 30));
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / (double) (1L << 20));
    }

    static void printTable(List<Result> results, String chunk, IvPipelineModel.Settings s, PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "Replay: chunk %s, window %d messages / %s MiB, min confidence %.2f%n", chunk,
                s.depthMessages(), mib(s.depthBytes()), s.minConfidence());
        final String header = String.format(Locale.ROOT,
                "%-22s %9s %10s %8s %8s %9s %14s %10s %9s %10s %9s %9s",
                "workload", "H2D GiB", "messages", "head %", "cover %", "target %", "target class",
                "wasted MiB", "steady %", "st.waste", "NOPs", "relinq.");
        out.println(header);
        out.println("-".repeat(header.length()));
        for (Result r : results) {
            final ReplayCounters t = r.run().total();
            final ReplayCounters st = r.run().steady();
            out.printf(Locale.ROOT, "%-22s %9s %10d %8s %8s %9s %14s %10s %9s %10s %9d %9d%n", r.name(),
                    gib(t.h2dBytes), t.h2dMessages, pct(t.headHitMessageRate()), pct(t.coverage()),
                    pct(t.classCoverage(r.targetClass())), CopyClass.name(r.targetClass()), mib(t.wastedBytes),
                    r.run().hasSteadyState() ? pct(st.coverage()) : "-",
                    r.run().hasSteadyState() ? mib(st.wastedBytes) : "-", t.nops, t.relinquishedSlots);
        }
        out.println();
        for (Result r : results) {
            out.println(r.name() + ": " + r.description());
            if (!r.notes().isEmpty()) {
                out.println("  " + r.notes());
            }
            final Speculator sp = r.run().speculator();
            final StringBuilder chosen = new StringBuilder("  queries answered by:");
            for (int p = 0; p < sp.predictorCount(); p++) {
                chosen.append(' ').append(sp.predictorName(p)).append('=').append(sp.chosenCount(p));
            }
            out.println(chosen);
            if (r.oracle() != null) {
                final double spec = r.run().total().classCoverage(r.targetClass());
                final double orc = r.oracle().total().classCoverage(r.targetClass());
                out.printf(Locale.ROOT, "  %s coverage: speculator %s, oracle (knows next request's adapter) %s,"
                                + " ratio %s; oracle wasted %s MiB%n", CopyClass.name(r.targetClass()), pct(spec),
                        pct(orc), orc == 0 ? "-" : pct(spec / orc), mib(r.oracle().total().wastedBytes));
            }
        }
    }

    static void writeJson(Path file, List<Result> results, SpeculatorConfig config, IvPipelineModel.Settings s) {
        final StringBuilder b = new StringBuilder();
        b.append("{\n  \"chunk_bytes\": ").append(config.chunkBytes)
                .append(",\n  \"depth_messages\": ").append(s.depthMessages())
                .append(",\n  \"depth_bytes\": ").append(s.depthBytes())
                .append(",\n  \"min_confidence\": ").append(s.minConfidence())
                .append(",\n  \"workloads\": [\n");
        for (int i = 0; i < results.size(); i++) {
            final Result r = results.get(i);
            b.append("    {\"name\": \"").append(r.name()).append("\", \"description\": \"")
                    .append(r.description().replace("\"", "'")).append("\", \"seconds\": ")
                    .append(String.format(Locale.ROOT, "%.3f", r.seconds()))
                    .append(", \"target_class\": \"").append(CopyClass.name(r.targetClass())).append("\"")
                    .append(", \"notes\": \"").append(r.notes()).append("\",\n     \"total\": ");
            counters(b, r.run().total(), r.targetClass());
            if (r.run().hasSteadyState()) {
                b.append(",\n     \"steady_state\": ");
                counters(b, r.run().steady(), r.targetClass());
            }
            if (r.oracle() != null) {
                b.append(",\n     \"oracle\": ");
                counters(b, r.oracle().total(), r.targetClass());
            }
            b.append('}').append(i + 1 < results.size() ? ",\n" : "\n");
        }
        b.append("  ]\n}\n");
        try {
            Files.writeString(file, b.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON report " + file + ": " + e.getMessage(), e);
        }
    }

    private static void counters(StringBuilder b, ReplayCounters c, int targetClass) {
        b.append("{\"h2d_copies\": ").append(c.h2dCopies)
                .append(", \"h2d_messages\": ").append(c.h2dMessages)
                .append(", \"h2d_bytes\": ").append(c.h2dBytes)
                .append(", \"head_hit_messages\": ").append(c.headHitMessages)
                .append(", \"head_hit_bytes\": ").append(c.headHitBytes)
                .append(", \"covered_messages\": ").append(c.coveredMessages)
                .append(", \"covered_bytes\": ").append(c.coveredBytes)
                .append(", \"coverage\": ").append(String.format(Locale.ROOT, "%.6f", c.coverage()))
                .append(", \"target_class_bytes\": ").append(c.classBytes[targetClass])
                .append(", \"target_class_coverage\": ")
                .append(String.format(Locale.ROOT, "%.6f", c.classCoverage(targetClass)))
                .append(", \"reserved_messages\": ").append(c.reservedMessages)
                .append(", \"wasted_bytes\": ").append(c.wastedBytes)
                .append(", \"relinquished_slots\": ").append(c.relinquishedSlots)
                .append(", \"stale_slots\": ").append(c.staleSlots)
                .append(", \"nops\": ").append(c.nops).append('}');
    }
}
