package dev.pipellm.bench.harness;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench workloads --check BASELINE.json}: compares this run's ratios (never absolute times) with a baseline
 * of the same schema. Two figures of each agent mode (sync, pipellm) are checked: {@code ratio_to_no_cc} (its
 * overhead versus no CC) and {@code fraction_of_bound} (its distance to the analytic bound). A figure regressed
 * when {@code figure < baseline - tolerance}. The tolerance is the one the baseline recorded for that figure
 * ({@code gate.tolerances}, written by {@link BaselineMaker} from the spread of repeated runs), else it is derived
 * from the two runs' spreads: {@code baseline x (spread_mode + spread_nocc)}, each spread the larger of the
 * baseline's and this run's (max - min) / median (the ratio of two medians moves by about the sum of their
 * relative spreads); never below {@link #MIN_TOLERANCE}.
 */
public final class BaselineCheck {
    /** Never tighter than 5 points: a handful of rounds on a shared 2-core machine undercounts noise. */
    static final double MIN_TOLERANCE = 0.05;
    static final List<String> CHECKED_MODES = List.of("sync", "pipellm");
    static final List<String> FIGURES = List.of("ratio_to_no_cc", "fraction_of_bound");

    /** One (workload, mode) result of a results file: its checked figures, its spread, recorded tolerances. */
    record Figure(String workload, String mode, Map<String, Double> values, double spread,
                  Map<String, Double> tolerances) {
        double value(String figure) {
            return values.getOrDefault(figure, Double.NaN);
        }
    }

    private BaselineCheck() {
    }

    static Map<String, Figure> read(Path file) {
        return read(file, readDoc(file));
    }

    /** The baseline's document; a file that is absent or not JSON is an IllegalArgumentException naming it. */
    static JsonNode readDoc(Path file) {
        try {
            return Harness.JSON.readTree(file.toFile());
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--check: baseline '" + file + "': no such file");
        } catch (JacksonException e) {
            throw new IllegalArgumentException("--check: baseline '" + file + "' is not a pipellm-bench/1 results "
                    + "file (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            if (!Files.exists(file)) {
                throw new IllegalArgumentException("--check: baseline '" + file + "': no such file");
            }
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    static Map<String, Figure> read(Path file, JsonNode doc) {
        try {
            return figures(doc);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--check: baseline '" + file + "' is not a pipellm-bench/1 results file ("
                    + e.getMessage() + ")");
        }
    }

    static Map<String, Figure> figures(JsonNode root) {
        if (root == null || !"pipellm-bench/1".equals(root.path("schema").asText(null))) {
            throw new IllegalArgumentException("schema is " + (root == null ? "absent" : root.path("schema"))
                    + ", expected pipellm-bench/1");
        }
        if (!root.path("results").isArray()) {
            throw new IllegalArgumentException("no results array");
        }
        final JsonNode tol = root.path("gate").path("tolerances");
        final Map<String, Figure> out = new LinkedHashMap<>();
        for (JsonNode r : root.path("results")) {
            final String w = r.path("workload").asText(null);
            final String m = r.path("mode").asText(null);
            if (w == null || m == null) {
                throw new IllegalArgumentException("a result without workload or mode");
            }
            final Map<String, Double> values = new LinkedHashMap<>();
            final Map<String, Double> tolerances = new LinkedHashMap<>();
            for (String f : FIGURES) {
                values.put(f, r.path(f).isNumber() ? r.path(f).asDouble() : Double.NaN);
                final JsonNode t = tol.path(w + "/" + m + "/" + f);
                if (t.isNumber()) {
                    tolerances.put(f, t.asDouble());
                }
            }
            out.put(w + "/" + m, new Figure(w, m, values, r.path("spread").asDouble(0), tolerances));
        }
        return out;
    }

    /** The workloads a baseline measured, in order. */
    static List<String> workloads(Map<String, Figure> baseline) {
        final List<String> w = new ArrayList<>();
        for (Figure f : baseline.values()) {
            if (!w.contains(f.workload())) {
                w.add(f.workload());
            }
        }
        return w;
    }

    /** One line per regressed or missing figure; empty when every checked figure is within its tolerance. */
    static List<String> compare(Map<String, Figure> baseline, Map<String, Figure> current) {
        final List<String> failures = new ArrayList<>();
        for (Figure b : baseline.values()) {
            if (!CHECKED_MODES.contains(b.mode())) {
                continue;
            }
            final Figure c = current.get(b.workload() + "/" + b.mode());
            for (String f : FIGURES) {
                final double base = b.value(f);
                if (Double.isNaN(base)) {
                    continue;
                }
                if (c == null || Double.isNaN(c.value(f))) {
                    failures.add(String.format(Locale.ROOT, "bench check: %s %s: %s not measured in this run "
                            + "(baseline %.3f)", b.workload(), b.mode(), f, base));
                    continue;
                }
                final boolean recorded = b.tolerances().containsKey(f);
                final double tol = tolerance(b, c, f, baseline.get(b.workload() + "/nocc"),
                        current.get(b.workload() + "/nocc"));
                if (c.value(f) < base - tol) {
                    failures.add(String.format(Locale.ROOT, "bench check: %s %s: %s %.3f is below the baseline's "
                            + "%.3f by %.3f, more than the tolerance %.3f (%s; at least %.2f)", b.workload(),
                            b.mode(), f, c.value(f), base, base - c.value(f), tol, recorded
                                    ? "recorded in the baseline from the spread of its runs"
                                    : "from the measured spreads", MIN_TOLERANCE));
                }
            }
        }
        return failures;
    }

    /** {@code bench check --baseline B.json RESULTS.json...}: the check of results already measured, offline. */
    public static int main(String[] args) {
        Path base = null;
        final List<Path> runs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--baseline") && i + 1 < args.length) {
                base = Path.of(args[++i]);
            } else if (args[i].startsWith("-")) {
                throw new dev.pipellm.bench.BenchMain.UsageException("bench check: unknown option '" + args[i]
                        + "' (accepted: --baseline FILE)");
            } else {
                runs.add(Path.of(args[i]));
            }
        }
        if (base == null || runs.isEmpty()) {
            throw new dev.pipellm.bench.BenchMain.UsageException("bench check: usage: bench check --baseline "
                    + "BASELINE.json RESULTS.json...");
        }
        final Map<String, Figure> b = read(base);
        int failed = 0;
        for (Path r : runs) {
            final List<String> f = compare(b, read(r));
            System.out.println(r + ": " + (f.isEmpty() ? "pass" : "FAIL"));
            f.forEach(x -> System.out.println("  " + x));
            failed += f.isEmpty() ? 0 : 1;
        }
        System.out.println("bench check: " + (runs.size() - failed) + " of " + runs.size() + " passed against " + base);
        return failed == 0 ? 0 : 1;
    }

    static double tolerance(Figure base, Figure cur, String figure, Figure baseNocc, Figure curNocc) {
        final Double recorded = base.tolerances().get(figure);
        if (recorded != null) {
            return Math.max(MIN_TOLERANCE, recorded);
        }
        final double mode = Math.max(base.spread(), cur.spread());
        final double nocc = Math.max(baseNocc == null ? 0 : baseNocc.spread(), curNocc == null ? 0 : curNocc.spread());
        return Math.max(MIN_TOLERANCE, base.value(figure) * (mode + nocc));
    }
}
