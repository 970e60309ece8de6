package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommitCalibrationTest {
    @Test
    void shouldUseTheOwnEstimateUntilACellHasOutcomesThenTheMeasuredShare() {
        final CommitCalibration c = new CommitCalibration(2, 1, 0.9f, 1000);
        assertEquals(0.7f, c.probability(0, 0, 3, 0.7f));
        for (int i = 0; i < 10; i++) {
            c.onOutcome(0, 0, 3, i < 6);
        }
        assertEquals(0.6f, c.probability(0, 0, 3, 0.7f), 1e-6);
        assertEquals(0.7f, c.probability(0, 0, 4, 0.7f), "depth 4 is the next bucket: no outcomes yet");
    }

    @Test
    void shouldStopPlanningAtTheFirstDepthWhoseSlotsKeepMissing() {
        final CommitCalibration c = new CommitCalibration(2, 1, 0.9f, 1000);
        assertEquals(16, c.plannableMessages(0, 0), "shallow depths are open before any outcome");
        for (int i = 0; i < 50; i++) {
            c.onOutcome(0, 0, 1, true);
            c.onOutcome(0, 0, 2, i % 2 == 0);   // two messages ahead: half the time
        }
        assertEquals(2, c.plannableMessages(0, 0), "bucket 2-3 closed: plan up to 2 messages ahead");
        assertEquals(16, c.plannableMessages(1, 0), "shallow depths: each predictor has its own record");
    }

    @Test
    void shouldOpenDeepBucketsOneByOneAsTheContextsSlotsProveThemselves() {
        final CommitCalibration c = new CommitCalibration(2, 2, 0.9f, 1000);
        assertEquals(16, c.plannableMessages(0, 0), "8-15 is measured first, nothing deeper");
        for (int i = 0; i < 20; i++) {
            c.onOutcome(0, 0, 10, true);
        }
        assertEquals(32, c.plannableMessages(0, 0), "8-15 proved itself: 16-31 is next");
        assertEquals(32, c.plannableMessages(1, 0), "deep buckets are the context's, whoever predicts");
        assertEquals(16, c.plannableMessages(0, 1), "another context has its own record");
        for (int i = 0; i < 20; i++) {
            c.onOutcome(1, 0, 20, i % 10 != 0);   // 90%: enough for a shallow bucket, not for a deep one
        }
        assertEquals(16, c.plannableMessages(0, 0), "one predictor's misses at 16-31 close it for both");
        assertEquals(16, c.plannableMessages(1, 0));
    }

    @Test
    void shouldProbeOneBucketDeeperNowAndThenSoAClosedDepthCanReopen() {
        final CommitCalibration c = new CommitCalibration(1, 1, 0.9f, 4);
        for (int i = 0; i < 20; i++) {
            c.onOutcome(0, 0, 0, false);
        }
        int probes = 0;
        final StringBuilder at = new StringBuilder();
        for (int q = 1; q <= 64; q++) {
            final long depth = c.plannableMessages(0, 0);
            if (depth > 0) {
                probes++;
                at.append(q).append(' ');
                assertEquals(1, depth, "a probe opens the closed bucket only");
                assertEquals(0.8f, c.probability(0, 0, 0, 0.8f), "a probe plans on the predictor's own estimate");
            } else {
                assertEquals(0f, c.probability(0, 0, 0, 0.8f));
            }
        }
        assertEquals("4 8 16 32 64 ", at.toString(), "probes back off while the bucket stays closed");
        assertEquals(5, probes);
        for (int i = 0; i < 400; i++) {
            c.onOutcome(0, 0, 0, true);   // the probes keep committing: the record recovers
        }
        assertEquals(16, c.plannableMessages(0, 0), "open again, up to the deep buckets not measured yet");
    }

    @Test
    void shouldBucketDepthsByPowersOfTwo() {
        assertEquals(0, CommitCalibration.bucketOf(0));
        assertEquals(1, CommitCalibration.bucketOf(1));
        assertEquals(2, CommitCalibration.bucketOf(3));
        assertEquals(6, CommitCalibration.bucketOf(32));
        assertEquals(6, CommitCalibration.bucketOf(63));
        assertEquals(CommitCalibration.DEPTH_BUCKETS - 1, CommitCalibration.bucketOf(1L << 40));
        assertTrue(CommitCalibration.bucketStart(6) == 32);
    }

    @Test
    void shouldRejectSettingsOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> new CommitCalibration(1, 3, 0.9f, 1));
        assertThrows(IllegalArgumentException.class, () -> new CommitCalibration(1, 1, 1.5f, 1));
        assertThrows(IllegalArgumentException.class, () -> new CommitCalibration(1, 1, 0.9f, 0));
    }

    @Test
    void shouldCloseTheHeadOnlyWhenItsSlotsFailMoreThanOneTimeInFive() {
        final CommitCalibration c = new CommitCalibration(2, 1, 0.9f, 1000);
        for (int i = 0; i < 100; i++) {
            c.onOutcome(0, 0, 0, i % 10 != 0);   // 90%
            c.onOutcome(1, 0, 0, i % 4 != 0);    // 75%
        }
        assertEquals(16, c.plannableMessages(0, 0), "a head right 9 times in 10 plans");
        assertEquals(0, c.plannableMessages(1, 0), "a head right 3 times in 4 plans nothing");
    }
}
