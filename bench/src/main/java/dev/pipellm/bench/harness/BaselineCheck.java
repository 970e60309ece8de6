package dev.pipellm.bench.harness;

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
 * {@code bench workloads --check BASELINE.json}: compares this run's ratios to no CC (never absolute times) with
 * a baseline file of the same schema. A figure regressed when {@code ratio < baseline_ratio - tolerance}, with
 * {@code tolerance = max(MIN_TOLERANCE, baseline_ratio x (spread_mode + spread_nocc))}, each spread the larger
 * of the baseline's and this run's (max - min) / median of that mode's throughput: the ratio of two medians
 * moves by about the sum of their relative spreads between runs. Checked: the agent's modes (sync, pipellm).
 */
final class BaselineCheck {
    /** Never tighter than 5 points of ratio: with 2 rounds on a shared 2-core machine, spreads undercount noise. */
    static final double MIN_TOLERANCE = 0.05;
    static final List<String> CHECKED_MODES = List.of("sync", "pipellm");

    /** One (workload, mode) figure of a results file. */
    record Figure(String workload, String mode, double ratio, double spread) {
    }

    private BaselineCheck() {
    }

    static Map<String, Figure> read(Path file) {
        final String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--check: baseline '" + file + "': no such file");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        try {
            return figures(Json.parse(text));
        } catch (IllegalArgumentException | ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("--check: baseline '" + file + "' is not a pipellm-bench/1 results file ("
                    + e.getMessage() + ")");
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Figure> figures(Object json) {
        final Map<String, Object> root = (Map<String, Object>) json;
        if (!"pipellm-bench/1".equals(root.get("schema"))) {
            throw new IllegalArgumentException("schema is " + root.get("schema") + ", expected pipellm-bench/1");
        }
        final Map<String, Figure> out = new LinkedHashMap<>();
        for (Object o : (List<Object>) root.get("results")) {
            final Map<String, Object> r = (Map<String, Object>) o;
            final String w = (String) r.get("workload");
            final String m = (String) r.get("mode");
            final Object ratio = r.get("ratio_to_no_cc");
            final Object spread = r.get("spread");
            out.put(w + "/" + m, new Figure(w, m, ratio == null ? Double.NaN : (Double) ratio,
                    spread == null ? 0 : (Double) spread));
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
            if (!CHECKED_MODES.contains(b.mode()) || Double.isNaN(b.ratio())) {
                continue;
            }
            final Figure c = current.get(b.workload() + "/" + b.mode());
            if (c == null || Double.isNaN(c.ratio())) {
                failures.add(String.format(Locale.ROOT, "bench check: %s %s: not measured in this run (baseline "
                        + "ratio_to_no_cc %.3f)", b.workload(), b.mode(), b.ratio()));
                continue;
            }
            final double tol = tolerance(b, c, baseline.get(b.workload() + "/nocc"), current.get(b.workload()
                    + "/nocc"));
            if (c.ratio() < b.ratio() - tol) {
                failures.add(String.format(Locale.ROOT, "bench check: %s %s: ratio_to_no_cc %.3f is below the "
                        + "baseline's %.3f by %.3f, more than the tolerance %.3f (from the measured spreads; at "
                        + "least %.2f)", b.workload(), b.mode(), c.ratio(), b.ratio(), b.ratio() - c.ratio(), tol,
                        MIN_TOLERANCE));
            }
        }
        return failures;
    }

    static double tolerance(Figure base, Figure cur, Figure baseNocc, Figure curNocc) {
        final double mode = Math.max(base.spread(), cur.spread());
        final double nocc = Math.max(baseNocc == null ? 0 : baseNocc.spread(), curNocc == null ? 0 : curNocc.spread());
        return Math.max(MIN_TOLERANCE, base.ratio() * (mode + nocc));
    }
}
