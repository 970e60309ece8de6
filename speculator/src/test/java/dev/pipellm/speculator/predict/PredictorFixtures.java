package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;

/** Helpers shared by predictor tests. */
final class PredictorFixtures {
    private PredictorFixtures() {
    }

    static void h2d(CopyPredictor p, long host, long bytes) {
        p.onCopy(CopyDirection.H2D, host, 0, bytes, 0, false);
    }

    static void h2dFresh(CopyPredictor p, long host, long bytes) {
        p.onCopy(CopyDirection.H2D, host, 0, bytes, 0, true);
    }

    static void d2h(CopyPredictor p, long host, long bytes) {
        p.onCopy(CopyDirection.D2H, host, 0, bytes, 0, false);
    }

    static PredictionBuffer predict(CopyPredictor p, int copies) {
        final PredictionBuffer b = new PredictionBuffer(copies, 1 << 20);
        p.predict(b, copies, Integer.MAX_VALUE, 0);
        return b;
    }
}
