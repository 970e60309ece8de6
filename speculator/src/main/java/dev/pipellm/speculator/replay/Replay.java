package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.CommitCalibration;
import dev.pipellm.speculator.predict.Speculator;
import dev.pipellm.speculator.predict.SpeculatorConfig;
import dev.pipellm.speculator.trace.CopyClass;
import dev.pipellm.speculator.trace.SharedData;
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
 * ./pipellm replay [OPTIONS]
 * java -jar speculator/target/pipellm-speculator-VERSION.jar --workload all --shared ../shared [--json FILE]
 * </pre>
 * Exit status: 0 on success; 2 on bad usage or missing data, with one line on stderr naming the argument (every
 * option, workload and the shared data are checked before the first workload runs); 1 when the JSON report
 * cannot be written at the end.
 */
public final class Replay {
    /** One workload's outcome. */
    public record Result(String name, String description, int targetClass, ReplayRun run, ReplayRun oracle,
                         double seconds, String notes) {
    }

    private Replay() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static String usage() {
        return """
                usage: ./pipellm replay [OPTIONS]   (or java -jar pipellm-speculator.jar [OPTIONS])
                  --workload NAME[,NAME...]|all   workloads to replay (default all); the workloads:
                                       %s
                  --shared DIR         shared data directory, needed by the vllm-* and lora-* workloads (Azure
                                       2023 traces); else -D%s, else %s, else the default
                                       (./pipellm: ../shared beside the checkout)
                  --json FILE          also write the results as JSON (its directory must exist)
                  --requests N         requests replayed from the Azure traces (default %d)
                  --seed N             seed of the generators (default %d)
                  --chunk-bytes N      GCM message size, %d to %d (default %d)
                  --depth-messages N   pipeline window in messages (default %d)
                  --depth-bytes N      pipeline window in bytes (default %d)
                  --min-confidence F   least confidence a prediction needs, 0 to 1 (default %s)
                  --jitter F           add jitter to every workload: before each H2D copy an extra fresh 8-byte
                                       copy with probability F, and each small input copy left out with
                                       probability F (default 0)
                """.formatted(String.join(", ", Workloads.NAMES), SharedData.PROPERTY, SharedData.ENV,
                ReplayOptions.DEFAULT_REQUESTS, ReplayOptions.DEFAULT_SEED, SpeculatorConfig.MIN_CHUNK_BYTES,
                SpeculatorConfig.MAX_CHUNK_BYTES, SpeculatorConfig.DEFAULT_CHUNK_BYTES,
                IvPipelineModel.Settings.defaults().depthMessages(), IvPipelineModel.Settings.defaults().depthBytes(),
                IvPipelineModel.Settings.defaults().minConfidence());
    }

    /** Runs the tool; returns the exit status. Errors are one line on {@code err}. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        final ReplayOptions o;
        final List<Workloads.Workload> workloads = new ArrayList<>();
        final SpeculatorConfig speculatorConfig;
        final IvPipelineModel.Settings settings;
        try {
            o = ReplayOptions.parse(args);
            if (o.help()) {
                out.print(usage());
                return 0;
            }
            speculatorConfig = SpeculatorConfig.builder().chunkBytes(o.chunkBytes()).build();
            final IvPipelineModel.Settings defaults = IvPipelineModel.Settings.defaults();
            settings = new IvPipelineModel.Settings(o.depthMessages(), o.depthBytes(), o.minConfidence(),
                    defaults.maxNopForward(), defaults.commitLookahead());
            // Every workload is made (and its trace read) before the first runs: missing data fails at once.
            for (String name : o.workloads()) {
                workloads.add(Workloads.create(name, o.shared(), o.requests(), o.seed()));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("replay: " + e.getMessage());
            return 2;
        }
        final List<Result> results = new ArrayList<>();
        for (Workloads.Workload w : workloads) {
            results.add(replay(w, speculatorConfig, settings, o.jitter(), o.seed(), out));
        }
        printTable(results, chunkLabel(speculatorConfig.chunkBytes), settings, o.jitter(), out);
        if (o.json() != null) {
            try {
                writeJson(o.json(), results, speculatorConfig, settings, o.jitter());
            } catch (IllegalStateException e) {
                err.println("replay: " + e.getMessage());
                return 1;
            }
            out.println("wrote " + o.json());
        }
        return 0;
    }

    private static Result replay(Workloads.Workload w, SpeculatorConfig config, IvPipelineModel.Settings settings,
                                 double jitter, long seed, PrintStream out) {
        final long start = System.nanoTime();
        final ReplayRun run = new ReplayRun(config, settings).run(w.generator(), jitter, seed);
        final ReplayRun oracle = w.oracle() == null ? null
                : new ReplayRun(config, settings).run(w.oracle(), jitter, seed);
        final double seconds = (System.nanoTime() - start) / 1e9;
        String notes = "";
        if (w.generator() instanceof VllmSwapTrace v) {
            notes = "steps " + v.steps() + ", preemptions " + v.preemptions() + ", swap-ins " + v.swapIns()
                    + ", rejected " + v.rejected() + ", aborted (swap space) " + v.abortedForSwapSpace();
        }
        out.printf(Locale.ROOT, "done %-22s in %6.1f s%n", w.name(), seconds);
        out.flush();
        return new Result(w.name(), w.generator().describe(), w.targetClass(), run, oracle, seconds, notes);
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

    static void printTable(List<Result> results, String chunk, IvPipelineModel.Settings s, double jitter,
                           PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "Replay: chunk %s, window %d messages / %s MiB, min confidence %.2f, jitter %.3f%n",
                chunk, s.depthMessages(), mib(s.depthBytes()), s.minConfidence(), jitter);
        final String header = String.format(Locale.ROOT,
                "%-22s %9s %10s %8s %8s %9s %14s %10s %8s %9s %10s %9s %9s",
                "workload", "H2D GiB", "messages", "head %", "cover %", "target %", "target class",
                "wasted MiB", "waste %", "steady %", "st.waste", "NOPs", "relinq.");
        out.println(header);
        out.println("-".repeat(header.length()));
        for (Result r : results) {
            final ReplayCounters t = r.run().total();
            final ReplayCounters st = r.run().steady();
            out.printf(Locale.ROOT, "%-22s %9s %10d %8s %8s %9s %14s %10s %8s %9s %10s %9d %9d%n", r.name(),
                    gib(t.h2dBytes), t.h2dMessages, pct(t.headHitMessageRate()), pct(t.coverage()),
                    pct(t.classCoverage(r.targetClass())), CopyClass.name(r.targetClass()), mib(t.wastedBytes),
                    pct(t.wasteShare()),
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
            final ReplayCounters tw = r.run().total();
            if (tw.wastedBytes > 0) {
                final StringBuilder byDepth = new StringBuilder("  wasted by plan depth (messages ahead):");
                for (int b = 0; b < tw.wastedByPlanDepth.length; b++) {
                    if (tw.wastedByPlanDepth[b] > 0) {
                        byDepth.append(' ').append(CommitCalibration.bucketLabel(b)).append('=')
                                .append(pct((double) tw.wastedByPlanDepth[b] / tw.wastedBytes));
                    }
                }
                out.println(byDepth + "; waste budget cut the depth " + sp.wasteBudget().cuts() + " times");
            }
            if (r.run().hasPatternChange()) {
                out.println("  re-lock after the pattern change: " + (r.run().relockMessages() < 0 ? "never"
                        : r.run().relockMessages() + " messages"));
            }
            if (r.oracle() != null) {
                final double spec = r.run().total().classCoverage(r.targetClass());
                final double orc = r.oracle().total().classCoverage(r.targetClass());
                out.printf(Locale.ROOT, "  %s coverage: speculator %s, oracle (knows next request's adapter) %s,"
                                + " ratio %s; oracle wasted %s MiB%n", CopyClass.name(r.targetClass()), pct(spec),
                        pct(orc), orc == 0 ? "-" : pct(spec / orc), mib(r.oracle().total().wastedBytes));
            }
        }
    }

    static void writeJson(Path file, List<Result> results, SpeculatorConfig config, IvPipelineModel.Settings s,
                          double jitter) {
        final StringBuilder b = new StringBuilder();
        b.append("{\n  \"chunk_bytes\": ").append(config.chunkBytes)
                .append(",\n  \"jitter\": ").append(String.format(Locale.ROOT, "%.6f", jitter))
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
                    .append(", \"notes\": \"").append(r.notes()).append("\"");
            if (r.run().hasPatternChange()) {
                b.append(", \"relock_messages\": ").append(r.run().relockMessages());
            }
            b.append(",\n     \"total\": ");
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
                .append(", \"wasted_share\": ").append(String.format(Locale.ROOT, "%.6f", c.wasteShare()))
                .append(", \"relinquished_slots\": ").append(c.relinquishedSlots)
                .append(", \"stale_slots\": ").append(c.staleSlots)
                .append(", \"nops\": ").append(c.nops)
                .append(", \"nops_per_100_messages\": ").append(String.format(Locale.ROOT, "%.4f", c.nopsPer100Messages()))
                .append('}');
    }
}
