package dev.pipellm.bench.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaselineCheckTest {
    @TempDir
    Path dir;

    private static String results(double pipellmRatio, double pipellmSpread, double noccSpread) {
        return "{\"schema\": \"pipellm-bench/1\", \"machine\": {\"cores\": 2}, \"results\": ["
                + "{\"workload\": \"w\", \"mode\": \"nocc\", \"throughput\": 10.0, \"ratio_to_no_cc\": 1.0, "
                + "\"spread\": " + noccSpread + ", \"runs\": [], \"failures\": []},"
                + "{\"workload\": \"w\", \"mode\": \"off\", \"throughput\": 3.0, \"ratio_to_no_cc\": 0.3, "
                + "\"spread\": 0.9, \"runs\": [], \"failures\": [\"x \\\"quoted\\\"\"]},"
                + "{\"workload\": \"w\", \"mode\": \"pipellm\", \"throughput\": " + 10 * pipellmRatio
                + ", \"ratio_to_no_cc\": " + pipellmRatio + ", \"fraction_of_bound\": " + pipellmRatio
                + ", \"spread\": " + pipellmSpread + ", \"runs\": [{\"round\": 0}],"
                + " \"failures\": []}]}";
    }

    private static Map<String, BaselineCheck.Figure> figures(String json) {
        try {
            return BaselineCheck.figures(Harness.JSON.readTree(json));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void shouldPassWhenTheRatioIsWithinTheSpreadOfTheBaseline() {
        // tolerance = max(0.05, 0.8 x (0.10 + 0.05)) = 0.12
        final List<String> f = BaselineCheck.compare(figures(results(0.8, 0.10, 0.05)), figures(results(0.69, 0, 0)));
        assertEquals(List.of(), f);
    }

    @Test
    void shouldNameTheWorkloadModeFigureAndToleranceWhenTheRatioRegressed() {
        final List<String> f = BaselineCheck.compare(figures(results(0.8, 0.10, 0.05)), figures(results(0.6, 0, 0)));
        assertEquals(2, f.size());
        assertEquals("bench check: w pipellm: ratio_to_no_cc 0.600 is below the baseline's 0.800 by 0.200, more than "
                + "the tolerance 0.120 (from the measured spreads; at least 0.05)", f.get(0));
        assertTrue(f.get(1).startsWith("bench check: w pipellm: fraction_of_bound 0.600 is below"), f.get(1));
    }

    @Test
    void shouldNeverUseATolerancebelowTheFloorWhenSpreadsAreZero() {
        assertTrue(BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(results(0.76, 0, 0))).isEmpty());
        assertEquals(2, BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(results(0.74, 0, 0))).size());
    }

    @Test
    void shouldTakeTheLargerSpreadOfTheTwoRunsWhenComparing() {
        // this run is noisier: tolerance max(0.05, 0.8 x (0.3 + 0)) = 0.24
        assertTrue(BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(results(0.57, 0.3, 0))).isEmpty());
    }

    @Test
    void shouldReportAFigureThisRunDidNotMeasure() {
        final String current = "{\"schema\": \"pipellm-bench/1\", \"results\": []}";
        final List<String> f = BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(current));
        assertEquals(List.of("bench check: w pipellm: ratio_to_no_cc not measured in this run (baseline 0.800)",
                "bench check: w pipellm: fraction_of_bound not measured in this run (baseline 0.800)"), f);
    }

    @Test
    void shouldRefuseAFileThatIsNotAResultsFile() throws Exception {
        final Path p = dir.resolve("b.json");
        Files.writeString(p, "{\"schema\": \"other\"}");
        final String m = assertThrows(IllegalArgumentException.class, () -> BaselineCheck.read(p)).getMessage();
        assertTrue(m.startsWith("--check: baseline '" + p + "' is not a pipellm-bench/1 results file"), m);
        Files.writeString(p, "{\"schema\": ");
        assertThrows(IllegalArgumentException.class, () -> BaselineCheck.read(p));
        final String missing = assertThrows(IllegalArgumentException.class,
                () -> BaselineCheck.read(dir.resolve("none.json"))).getMessage();
        assertTrue(missing.endsWith("none.json': no such file"), missing);
    }

    @Test
    void shouldReadBackWhatTheReportWrites() {
        final Map<String, BaselineCheck.Figure> f = figures(results(0.5, 0.25, 0.125));
        assertEquals(0.5, f.get("w/pipellm").value("ratio_to_no_cc"));
        assertEquals(0.25, f.get("w/pipellm").spread());
        assertEquals(List.of("w"), BaselineCheck.workloads(f));
    }

    @Test
    void shouldUseTheToleranceTheBaselineRecordedFromItsRuns() throws Exception {
        // three runs of pipellm: 0.80, 0.70, 0.78 -> median 0.78, tolerance 2 x (0.78 - 0.70) = 0.16
        final List<com.fasterxml.jackson.databind.JsonNode> runs = new java.util.ArrayList<>();
        for (double r : new double[] {0.80, 0.70, 0.78}) {
            runs.add(Harness.JSON.readTree(results(r, 0, 0)));
        }
        final com.fasterxml.jackson.databind.JsonNode b = BaselineMaker.make(runs);
        assertEquals(0.16, b.path("gate").path("tolerances").path("w/pipellm/ratio_to_no_cc").asDouble(), 1e-9);
        assertEquals(3, b.path("gate").path("observed").path("w/pipellm/ratio_to_no_cc").size());
        final Map<String, BaselineCheck.Figure> base = BaselineCheck.figures(b);
        assertEquals(0.78, base.get("w/pipellm").value("ratio_to_no_cc"), 1e-9);
        assertTrue(BaselineCheck.compare(base, figures(results(0.63, 0, 0))).isEmpty());
        final List<String> f = BaselineCheck.compare(base, figures(results(0.61, 0, 0)));
        assertEquals(2, f.size());
        assertTrue(f.get(0).contains("the tolerance 0.160 (recorded in the baseline from the spread of its runs"),
                f.get(0));
    }

    @Test
    void shouldNeverRecordAToleranceThatLetsAFigureCollapse() throws Exception {
        // a run at 0.1 among 0.9 and 1.0: 2 x (0.9 - 0.1) = 1.6, capped at three quarters of the median 0.9
        final List<com.fasterxml.jackson.databind.JsonNode> runs = new java.util.ArrayList<>();
        for (double r : new double[] {1.0, 0.1, 0.9}) {
            runs.add(Harness.JSON.readTree(results(r, 0, 0)));
        }
        final com.fasterxml.jackson.databind.JsonNode b = BaselineMaker.make(runs);
        assertEquals(0.675, b.path("gate").path("tolerances").path("w/pipellm/ratio_to_no_cc").asDouble(), 1e-9);
        final Map<String, BaselineCheck.Figure> base = BaselineCheck.figures(b);
        assertTrue(BaselineCheck.compare(base, figures(results(0.23, 0, 0))).isEmpty());
        assertEquals(2, BaselineCheck.compare(base, figures(results(0.22, 0, 0))).size());
    }
}
