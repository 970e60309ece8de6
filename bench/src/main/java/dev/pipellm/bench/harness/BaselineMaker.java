package dev.pipellm.bench.harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pipellm.bench.BenchMain.UsageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench baseline --out BASELINE.json RESULTS.json...}: a baseline for {@code --check} from several runs of
 * the same command. Each checked figure (see {@link BaselineCheck}) becomes the median over the runs, and its
 * tolerance {@code min(max(MIN_TOLERANCE, SPREAD_FACTOR x (median - min)), MAX_SHARE x median)}: twice the
 * deepest dip below the median that the recorded runs showed, so that a run as noisy as the worst recorded one
 * passes with room to spare, but never more than three quarters of the median, so that the gate can always fail:
 * a figure that lost more than that is a collapse whatever the noise. The runs' values are kept under
 * {@code gate.observed}.
 */
public final class BaselineMaker {
    static final double SPREAD_FACTOR = 2.0;
    static final double MAX_SHARE = 0.75;

    private BaselineMaker() {
    }

    public static int main(String[] args) {
        Path out = null;
        final List<Path> inputs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out")) {
                if (i + 1 >= args.length) {
                    throw new UsageException("bench baseline: --out needs a value: the baseline file to write");
                }
                out = Path.of(args[++i]);
            } else if (args[i].startsWith("-")) {
                throw new UsageException("bench baseline: unknown option '" + args[i] + "' (accepted: --out FILE)");
            } else {
                inputs.add(Path.of(args[i]));
            }
        }
        if (out == null || inputs.size() < 2) {
            throw new UsageException("bench baseline: usage: bench baseline --out BASELINE.json RESULTS.json "
                    + "RESULTS.json... (two runs or more of the same workloads)");
        }
        final List<JsonNode> docs = new ArrayList<>();
        for (Path p : inputs) {
            try {
                final JsonNode d = Harness.JSON.readTree(p.toFile());
                BaselineCheck.figures(d); // refuses what is not a results file
                docs.add(d);
            } catch (IOException e) {
                throw new IllegalArgumentException("bench baseline: cannot read '" + p + "': " + e.getMessage());
            }
        }
        final ObjectNode b = make(docs);
        try {
            Harness.JSON.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), b);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out, e);
        }
        System.out.println("bench baseline: " + out + " from " + docs.size() + " runs; tolerances:");
        b.path("gate").path("tolerances").properties().forEach(e -> System.out.printf(java.util.Locale.ROOT,
                "  %-40s %.3f%n", e.getKey(), e.getValue().asDouble()));
        return 0;
    }

    /** The baseline of {@code runs}: the first run's document with each checked figure replaced by the median. */
    static ObjectNode make(List<JsonNode> runs) {
        final ObjectNode b = runs.get(0).deepCopy();
        final Map<String, List<Double>> observed = new LinkedHashMap<>();
        for (JsonNode d : runs) {
            for (JsonNode r : d.path("results")) {
                for (String f : BaselineCheck.FIGURES) {
                    if (r.path(f).isNumber()) {
                        observed.computeIfAbsent(key(r, f), k -> new ArrayList<>()).add(r.path(f).asDouble());
                    }
                }
            }
        }
        final ObjectNode gate = b.putObject("gate");
        gate.put("runs", runs.size());
        gate.put("rule", "figure = median over the runs; tolerance = min(max(" + BaselineCheck.MIN_TOLERANCE + ", "
                + SPREAD_FACTOR + " x (median - min)), " + MAX_SHARE + " x median)");
        final ObjectNode tol = gate.putObject("tolerances");
        final ObjectNode obs = gate.putObject("observed");
        for (JsonNode r : b.path("results")) {
            final ObjectNode o = (ObjectNode) r;
            for (String f : BaselineCheck.FIGURES) {
                final List<Double> v = observed.get(key(r, f));
                if (v == null) {
                    continue;
                }
                final double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
                final double med = Harness.median(a);
                o.put(f, med);
                final ArrayNode list = obs.putArray(key(r, f));
                v.forEach(list::add);
                if (BaselineCheck.CHECKED_MODES.contains(r.path("mode").asText())) {
                    tol.put(key(r, f), Math.min(Math.max(BaselineCheck.MIN_TOLERANCE,
                            SPREAD_FACTOR * (med - Arrays.stream(a).min().orElse(med))), MAX_SHARE * med));
                }
            }
        }
        return b;
    }

    private static String key(JsonNode r, String figure) {
        return r.path("workload").asText() + "/" + r.path("mode").asText() + "/" + figure;
    }
}
