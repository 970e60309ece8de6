package dev.pipellm.crypto.iv;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class IvSequenceLearnerTest {

    /** Ground truth: a CcIvCounter plus the IVs it will emit, to check claims against. */
    private static byte[] ivAhead(CcIvCounter truth, int maskMsg, long maskCh, long ahead) {
        // Recompute from the counters (no rotation in between, as the learner's contract assumes).
        long m = Integer.toUnsignedLong(truth.messageCounter()) + ahead;
        byte[] iv = new byte[12];
        CcIvLayout.write(iv, (int) m ^ maskMsg, truth.channelCounter() ^ maskCh);
        return iv;
    }

    @Test
    void shouldOnlyClaimCertaintyWhenPredictionIsExactWhenFedRandomSequencesWithGapsAndRotations() {
        SplittableRandom random = new SplittableRandom(42);
        byte[] iv = new byte[12];
        byte[] predicted = new byte[12];
        long claims = 0;
        for (int run = 0; run < 300; run++) {
            int maskMsg = random.nextInt();
            long maskCh = random.nextLong();
            int start = run % 3 == 0 ? -1 - random.nextInt(5000) : random.nextInt(); // some runs start near the wrap
            CcIvCounter truth = new CcIvCounter(maskMsg, maskCh, random.nextLong(1 << 20), start);
            IvSequenceLearner learner = new IvSequenceLearner();
            for (int step = 0; step < 3000; step++) {
                int event = random.nextInt(1000);
                if (event == 0) {
                    truth.rotateIv();
                } else if (event == 1) {
                    maskMsg = random.nextInt();
                    maskCh = random.nextLong();
                    truth.rotateKey(maskMsg, maskCh);
                    if (random.nextBoolean()) {
                        learner.onKeyRotation();
                    }
                }
                long gap = random.nextInt(10) < 7 ? 0 : random.nextInt(random.nextBoolean() ? 4 : 300);
                truth.skip(gap);
                truth.next(iv);
                learner.observe(iv, gap);
                long k = random.nextInt(4) == 0 ? random.nextLong(1L << 33) : random.nextInt(200);
                if (learner.predict(k, predicted) == IvSequenceLearner.CERTAIN) {
                    claims++;
                    long m = Integer.toUnsignedLong(truth.messageCounter()) + k;
                    assertTrue(m <= 0xFFFF_FFFFL, "certain across the counter limit");
                    assertArrayEquals(ivAhead(truth, maskMsg, maskCh, k), predicted, "run " + run + " step " + step);
                }
                long horizon = learner.certainHorizon();
                if (horizon >= 0) {
                    long probe = Math.min(horizon, random.nextLong(horizon + 1));
                    assertEquals(IvSequenceLearner.CERTAIN, learner.predict(probe, predicted), "horizon " + horizon);
                    if (horizon < 0xFFFF_FFFFL) {
                        assertTrue(learner.predict(horizon + 1, predicted) != IvSequenceLearner.CERTAIN,
                                "horizon not maximal");
                    }
                }
            }
        }
        assertTrue(claims > 100_000, "too few certain predictions: " + claims);
    }

    @Test
    void shouldBeCertainForNext64MessagesAfterAFewHundredObservationsInSteadyState() {
        SplittableRandom random = new SplittableRandom(99);
        byte[] iv = new byte[12];
        int runs = 2000;
        int[] toCertainty = new int[runs];
        long positions = 0;
        long certain64 = 0;
        for (int run = 0; run < runs; run++) {
            CcIvCounter truth = new CcIvCounter(random.nextInt(), random.nextLong(), random.nextLong(1000),
                    random.nextInt());
            IvSequenceLearner learner = new IvSequenceLearner();
            toCertainty[run] = -1;
            for (int n = 1; n <= 4096; n++) {
                truth.next(iv);
                learner.observe(iv, 0);
                boolean ok = learner.certainHorizon() >= 64;
                if (ok && toCertainty[run] < 0) {
                    toCertainty[run] = n;
                }
                if (n > 512) {
                    positions++;
                    certain64 += ok ? 1 : 0;
                }
            }
            if (toCertainty[run] < 0) {
                fail("never certain for 64 ahead in run " + run);
            }
        }
        Arrays.sort(toCertainty);
        int median = toCertainty[runs / 2];
        int p99 = toCertainty[runs * 99 / 100];
        int max = toCertainty[runs - 1];
        System.out.printf("IvSequenceLearner messages-to-certainty(64 ahead): median %d, p99 %d, max %d; "
                + "share of later positions certain for 64 ahead: %.4f%n", median, p99, max,
                (double) certain64 / positions);
        assertTrue(max <= 300, "needed " + max + " observations");
        assertTrue((double) certain64 / positions > 0.95);
    }

    @Test
    void shouldLearnWholeMessageMaskWhenIvRotationIsObservedWithoutGap() {
        byte[] iv = new byte[12];
        CcIvCounter truth = new CcIvCounter(0x1234_5678, 0x0F0F_0F0F_0F0F_0F0FL, 41, 0x7000_0000);
        IvSequenceLearner learner = new IvSequenceLearner();
        truth.next(iv);
        learner.observe(iv, 0);
        truth.rotateIv();
        truth.next(iv);
        assertEquals(IvSequenceLearner.IV_ROTATION, learner.observe(iv, 0));
        assertEquals(-1, learner.knownMessageMaskBits());
        assertEquals(0xFFFF_FFFFL - 1, learner.certainHorizon());
    }

    @Test
    void shouldHandleCounterWrapWhenDriverRotatesAtExhaustion() {
        byte[] iv = new byte[12];
        byte[] predicted = new byte[12];
        CcIvCounter truth = new CcIvCounter(0xCAFE_BABE, 0x1122_3344_5566_7788L, 7, -40); // 40 before the limit
        IvSequenceLearner learner = new IvSequenceLearner();
        for (int i = 0; i < 39; i++) {
            truth.next(iv);
            learner.observe(iv, 0);
        }
        assertEquals(-1, truth.messageCounter());
        assertEquals(IvSequenceLearner.CROSSES_COUNTER_LIMIT == learner.predict(1, predicted)
                || IvSequenceLearner.UNKNOWN_CARRY == learner.predict(1, predicted), true);
        truth.next(iv); // automatic rotation: channel + 1, counter 1
        assertEquals(8, truth.channelCounter());
        assertEquals(IvSequenceLearner.IV_ROTATION, learner.observe(iv, 0));
        assertEquals(IvSequenceLearner.CERTAIN, learner.predict(5, predicted));
        truth.skip(4);
        truth.next(iv);
        assertArrayEquals(iv, predicted);
    }

    @Test
    void shouldKnowMaskAtOnceWhenKeyRotationIsAnnounced() {
        byte[] iv = new byte[12];
        byte[] predicted = new byte[12];
        CcIvCounter truth = new CcIvCounter(1, 2, 3, 4);
        IvSequenceLearner learner = new IvSequenceLearner();
        truth.next(iv);
        learner.observe(iv, 0);
        truth.rotateKey(0x55AA_55AA, 0x77L);
        learner.onKeyRotation();
        assertEquals(IvSequenceLearner.NOT_ANCHORED, learner.predict(1, predicted));
        truth.skip(9);
        truth.next(iv);
        assertEquals(IvSequenceLearner.KEY_ROTATION_LEARNED, learner.observe(iv, 9));
        assertEquals(IvSequenceLearner.CERTAIN, learner.predict(1000, predicted));
        truth.skip(999);
        truth.next(iv);
        assertArrayEquals(iv, predicted);
    }

    @Test
    void shouldResetWhenGapCountIsWrong() {
        byte[] iv = new byte[12];
        CcIvCounter truth = new CcIvCounter(0x0BAD_F00D, 9, 1, 1000);
        IvSequenceLearner learner = new IvSequenceLearner();
        for (int i = 0; i < 64; i++) {
            truth.next(iv);
            learner.observe(iv, 0);
        }
        truth.next(iv);
        truth.next(iv); // two messages, reported as consecutive: contradicts learned low bits
        assertEquals(IvSequenceLearner.RESET_INCONSISTENT, learner.observe(iv, 0));
        assertEquals(0, learner.knownMessageMaskBits());
    }

    @Test
    void shouldRejectNegativeArgumentsWithSentinels() {
        IvSequenceLearner learner = new IvSequenceLearner();
        assertEquals(IvSequenceLearner.INVALID_GAP, learner.observe(new byte[12], -1));
        assertEquals(IvSequenceLearner.NOT_ANCHORED, learner.predict(1, new byte[12]));
        learner.observe(new byte[12], 0);
        assertEquals(IvSequenceLearner.INVALID_DISTANCE, learner.predict(-1, new byte[12]));
        assertTrue(!learner.toString().contains("mask="));
    }

    @Test
    void shouldAllocateNothingWhenObservingAndPredicting() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        byte[] iv = new byte[12];
        byte[] predicted = new byte[12];
        CcIvCounter truth = new CcIvCounter(0x1357_9BDF, 0x2468L, 5, 0);
        IvSequenceLearner learner = new IvSequenceLearner();
        long sink = 0;
        for (int round = 0; round < 2; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100_000; i++) {
                truth.next(iv);
                learner.observe(iv, 0);
                sink += learner.predict(i & 127, predicted) + learner.certainHorizon();
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (round == 1) {
                assertEquals(0, allocated, "learner allocated on the hot path");
            }
        }
        assertTrue(sink != 42);
    }
}
