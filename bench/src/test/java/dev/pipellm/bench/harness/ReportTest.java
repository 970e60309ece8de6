package dev.pipellm.bench.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pipellm.bench.trace.TraceStats;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bound's share of simgpu's own CC cost, from the same run's vanilla CC replays. */
class ReportTest {
    // memcpy 10 GB/s, AES 5 GB/s, memory out of the way, 1 worker, 2 cores
    private final Calibration cal = new Calibration(10e9, 5e9, 100e9, 1, 2);

    private static Harness.Run run(double wall, Map<String, String> fields) {
        return new Harness.Run(1, wall, 1 / wall, fields, null);
    }

    private Report report(Map<String, Harness.Cell> cells, TraceStats s) {
        return new Report(Map.of(), cells, List.of("w"), Harness.MODES, 3, 2, false, 1, false, "0", Map.of("w", s), cal);
    }

    @Test
    void shouldChargeWhatVanillaCcCostBeyondItsCryptoAndPlaintextCopies() {
        Map<String, Harness.Cell> cells = new LinkedHashMap<>();
        Harness.Cell nocc = new Harness.Cell("w", Harness.MODES.get(0));
        nocc.runs.add(run(1.0, Map.of("cpu_s", "0.5")));
        Harness.Cell off = new Harness.Cell("w", Harness.MODES.get(1));
        // wall 1.6 s, of which 0.3 s inside EVP (0.2 H2D + 0.1 D2H)
        off.runs.add(run(1.6, Map.of("h2d_driver_crypto_ns", "200000000", "d2h_driver_crypto_ns", "100000000")));
        cells.put("w/nocc", nocc);
        cells.put("w/off", off);
        TraceStats s = new TraceStats();
        s.h2dBytes = 1_000_000_000L;
        // f = 1/2: half of 1 GB copied aside at 10 GB/s = 0.05 s; 1.6 - 0.3 - 1.0 - 0.05 = 0.25 s
        assertEquals(0.25, report(cells, s).simgpuCcSeconds("w", 1.0, s, 0.5), 1e-9);
        // a vanilla run faster than its parts: nothing is charged
        off.runs.set(0, run(1.1, Map.of("h2d_driver_crypto_ns", "200000000", "d2h_driver_crypto_ns", "100000000")));
        assertEquals(0, report(cells, s).simgpuCcSeconds("w", 1.0, s, 0.5), 1e-9);
    }

    @Test
    void shouldChargeNothingWithoutAVanillaCcReplay() {
        Map<String, Harness.Cell> cells = new LinkedHashMap<>();
        Harness.Cell nocc = new Harness.Cell("w", Harness.MODES.get(0));
        nocc.runs.add(run(1.0, Map.of("cpu_s", "0.5")));
        cells.put("w/nocc", nocc);
        TraceStats s = new TraceStats();
        s.h2dBytes = 1_000_000_000L;
        assertEquals(0, report(cells, s).simgpuCcSeconds("w", 1.0, s, 1), 1e-9);
        // the bound is then the app's thread: 1 + 1 GB x (2 - f) / 10 GB/s (f from SIMGPU_VERIFY, sampled:16 unset)
        double f = Calibration.ceShare(System.getenv().getOrDefault("SIMGPU_VERIFY", "sampled:16"));
        assertEquals(1 / (1 + (2 - f) / 10), report(cells, s).boundRatio("w"), 1e-9);
    }
}
