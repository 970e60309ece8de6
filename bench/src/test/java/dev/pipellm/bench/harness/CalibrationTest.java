package dev.pipellm.bench.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CalibrationTest {
    // 10 GB/s memcpy, 5 GB/s AES-GCM, memory 100 GB/s (out of the way unless a test says otherwise), 1 worker, 2 cores
    private final Calibration cal = new Calibration(10e9, 5e9, 100e9, 1, 2);

    @Test
    void shouldBeTheAppThreadsPathWhenTheWorkersAndCoresKeepUp() {
        // every H2D message checked (f = 1): app: 1 + 1 GB / 10 GB/s = 1.1 s; workers: 1 GB / 5 GB/s = 0.2 s;
        // cores: (0.5 + 0.2 + 0.1 + 0.2) / 2 = 0.5 s
        assertEquals(1.1, cal.boundSeconds(1.0, 0.5, 1_000_000_000L, 0, 1, 0), 1e-9);
    }

    @Test
    void shouldChargeTheAppThreadSimgpusPlaintextCopyOfEveryMessageItsCopyEngineDoesNotCheck() {
        // f = 1/4: the commit's copy and 3/4 of a plaintext copy per H2D byte: 1 + 1 GB x 1.75 / 10 GB/s = 1.175 s
        assertEquals(1.175, cal.boundSeconds(1.0, 0.5, 1_000_000_000L, 0, 0.25, 0), 1e-9);
        // f = 0: two copies per byte, on the cores too: (3 + 0.2 + 0.2 + 0) / 2 = 1.7 s beats the app's 1.2 s
        assertEquals(1.7, cal.boundSeconds(1.0, 3.0, 1_000_000_000L, 0, 0, 0), 1e-9);
    }

    @Test
    void shouldBeTheWorkersWhenOneWorkerCannotEncryptInTime() {
        // app: 0.1 + 1 = 1.1 s; workers: 10 GB / 5 GB/s = 2 s
        assertEquals(2.0, cal.boundSeconds(0.1, Double.NaN, 10_000_000_000L, 0, 1, 0), 1e-9);
    }

    @Test
    void shouldBeTheCoresWhenAllTheCpuWorkDoesNotFit() {
        // app: 1 + 0.1 + 0.2 = 1.3 s; workers 0.2 s; cores: (2 + 1e9 x (1/5e9 + 1/10e9 + 1/5e9) + 1e9 x 2/5e9) / 2
        // = (2 + 0.5 + 0.4) / 2 = 1.45 s
        assertEquals(1.45, cal.boundSeconds(1.0, 2.0, 1_000_000_000L, 1_000_000_000L, 1, 0), 1e-9);
        assertEquals(1.3, cal.boundSeconds(1.0, Double.NaN, 1_000_000_000L, 1_000_000_000L, 1, 0), 1e-9);
    }

    @Test
    void shouldBeTheMemoryWhenEveryPassOverTheBytesDoesNotFitItsBandwidth() {
        // memory 12 GB/s for all cores: 3 GB H2D x (4 - 1/16) passes / 12 GB/s = 0.984375 s; the app's thread
        // (0.1 + 3 GB x (2 - 1/16) / 10 GB/s = 0.68125 s), the workers (0.6 s) and the cores (0.659 s) take less
        final Calibration tight = new Calibration(10e9, 5e9, 12e9, 1, 2);
        assertEquals(0.984375, tight.boundSeconds(0.1, 0.1, 3_000_000_000L, 0, 1.0 / 16, 0), 1e-9);
        // D2H: two passes per byte (simgpu's encryption, the app's decryption): 1 GB x 2 / 3 GB/s, more than the
        // app's 0.01 + 1 GB / 5 GB/s
        final Calibration slow = new Calibration(10e9, 5e9, 3e9, 1, 2);
        assertEquals(2.0 / 3, slow.boundSeconds(0.01, Double.NaN, 0, 1_000_000_000L, 1, 0), 1e-9);
    }

    @Test
    void shouldChargeTheAppThreadSimgpusCostPerMessage() {
        // 0.2 s of hand-offs measured in vanilla CC: app 1 + 0.2 + 0.1 = 1.3 s
        assertEquals(1.3, cal.boundSeconds(1.0, 0.5, 1_000_000_000L, 0, 1, 0.2), 1e-9);
    }

    @Test
    void shouldKeepTheBestOfEachFigureOfTwoCalibrations() {
        final Calibration slowMoment = new Calibration(9.6e9, 9.9e9, 10e9, 1, 2);
        final Calibration quietMoment = new Calibration(17.5e9, 9.7e9, 21e9, 1, 2);
        final Calibration best = slowMoment.best(quietMoment);
        assertEquals(new Calibration(17.5e9, 9.9e9, 21e9, 1, 2), best);
        assertEquals(best, quietMoment.best(slowMoment));
        final long h2d = 8_000_000_000L;
        assertTrue(best.boundSeconds(1.0, 0.2, h2d, 0, 1.0 / 16, 0) < slowMoment.boundSeconds(1.0, 0.2, h2d, 0, 1.0 / 16, 0),
                "the faster machine allows more: a shorter bound");
        assertThrows(IllegalArgumentException.class, () -> best.best(new Calibration(1e9, 1e9, 1e9, 3, 2)));
    }

    @Test
    void shouldReadTheCopyEnginesShareFromSimgpuVerify() {
        assertEquals(1.0, Calibration.ceShare("full"));
        assertEquals(1.0 / 16, Calibration.ceShare("sampled:16"));
        assertEquals(0.0, Calibration.ceShare("off"));
        assertEquals(1.0, Calibration.ceShare(null));
    }
}
