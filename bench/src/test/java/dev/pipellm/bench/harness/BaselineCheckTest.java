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
                + ", \"ratio_to_no_cc\": " + pipellmRatio + ", \"spread\": " + pipellmSpread + ", \"runs\": [{\"round\": 0}],"
                + " \"failures\": []}]}";
    }

    private static Map<String, BaselineCheck.Figure> figures(String json) {
        return BaselineCheck.figures(Json.parse(json));
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
        assertEquals(1, f.size());
        assertEquals("bench check: w pipellm: ratio_to_no_cc 0.600 is below the baseline's 0.800 by 0.200, more than "
                + "the tolerance 0.120 (from the measured spreads; at least 0.05)", f.get(0));
    }

    @Test
    void shouldNeverUseATolerancebelowTheFloorWhenSpreadsAreZero() {
        assertTrue(BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(results(0.76, 0, 0))).isEmpty());
        assertEquals(1, BaselineCheck.compare(figures(results(0.8, 0, 0)), figures(results(0.74, 0, 0))).size());
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
        assertEquals(List.of("bench check: w pipellm: not measured in this run (baseline ratio_to_no_cc 0.800)"), f);
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
        assertEquals(new BaselineCheck.Figure("w", "pipellm", 0.5, 0.25), f.get("w/pipellm"));
        assertEquals(List.of("w"), BaselineCheck.workloads(f));
    }
}
