package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.EventType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.pipellm.speculator.predict.PredictorFixtures.d2h;
import static dev.pipellm.speculator.predict.PredictorFixtures.h2d;
import static dev.pipellm.speculator.predict.PredictorFixtures.h2dFresh;
import static dev.pipellm.speculator.predict.PredictorFixtures.predict;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Uses vLLM's swap layout: per layer a pinned region, K then V parts, one S-byte copy per (layer, part, block). */
class SwapBackPredictorTest {
    private static final int LAYERS = 4;
    private static final long S = 163_840;
    private static final int CPU_BLOCKS = 64;

    private static long host(int layer, int part, int cpuBlock) {
        // Unrelated per-layer bases, as separate cudaHostAlloc regions.
        final long base = 0x7f00_0000_0000L + layer * 0x4000_0000L + layer * layer * 0x13000L;
        return base + part * CPU_BLOCKS * S + cpuBlock * S;
    }

    /** Copy order of one step's swap of the given CPU blocks (concatenated mapping). */
    private static List<Long> swapOrder(int[] cpuBlocks) {
        final List<Long> order = new ArrayList<>();
        for (int l = 0; l < LAYERS; l++) {
            for (int part = 0; part < 2; part++) {
                for (int b : cpuBlocks) {
                    order.add(host(l, part, b));
                }
            }
        }
        return order;
    }

    private static void swapOut(SwapBackPredictor p, int[] blocks) {
        for (long h : swapOrder(blocks)) {
            d2h(p, h, S);
        }
        p.onEvent(EventType.SYNC, 0, 0);
    }

    private static SwapBackPredictor predictor() {
        return new SwapBackPredictor(1 << 14, 64, 4096);
    }

    @Test
    void shouldPredictTheRestOfTheSwapInExactlyOnceItsSecondRowStarts() {
        final SwapBackPredictor p = predictor();
        final int[] group = {63, 62, 61, 57, 40};
        swapOut(p, group);
        swapOut(p, new int[] {10, 12, 14});
        assertEquals(2 * LAYERS, p.learnedRowCount());
        final List<Long> in = swapOrder(group);
        // First row (layer 0, K), then the first copy of the second row.
        for (int i = 0; i <= group.length; i++) {
            h2d(p, in.get(i), S);
        }
        final PredictionBuffer b = predict(p, 64);
        final int rest = in.size() - group.length - 1;
        assertEquals(rest, b.copyCount());
        for (int k = 0; k < rest; k++) {
            assertEquals((long) in.get(group.length + 1 + k), b.copyHost(k), "copy " + k);
            assertTrue(b.copyConfidence(k) >= 0.9f);
        }
    }

    @Test
    void shouldKeepFollowingTheSwapInAcrossASmallFreshCopyBetweenTwoOfItsBlocks() {
        final SwapBackPredictor p = predictor();
        final int[] group = {63, 62, 61, 57, 40};
        swapOut(p, group);
        swapOut(p, new int[] {10, 12, 14});
        final List<Long> in = swapOrder(group);
        for (int i = 0; i <= group.length; i++) {
            h2d(p, in.get(i), S);
        }
        // a flag from another thread: 8 bytes of fresh data between two blocks of the swap-in
        h2dFresh(p, 0x7ff0_0000_0000L, 8);
        final PredictionBuffer b = predict(p, 64);
        assertTrue(b.copyCount() > 0, "still predicting the swap-in");
        assertEquals((long) in.get(group.length + 1), b.copyHost(0), "the next block, as without the flag");
        assertTrue(b.copyConfidence(0) >= 0.9f);
    }

    @Test
    void shouldFollowTwoGroupsSwappedInTogetherWhenTheirRowsInterleave() {
        final SwapBackPredictor p = predictor();
        final int[] a = {20, 21, 22};
        final int[] c = {30, 31};
        swapOut(p, a);
        swapOut(p, c);
        // One step swaps both in: per (layer, part) row, a's blocks then c's blocks.
        final int[] both = {20, 21, 22, 30, 31};
        final List<Long> in = swapOrder(both);
        for (int i = 0; i <= both.length; i++) {
            h2d(p, in.get(i), S);
        }
        final PredictionBuffer b = predict(p, 64);
        for (int k = 0; k < in.size() - both.length - 1; k++) {
            assertEquals((long) in.get(both.length + 1 + k), b.copyHost(k), "copy " + k);
        }
    }

    @Test
    void shouldExpectTheNewestBurstFirstWhenResumeHasBeenLifo() {
        final SwapBackPredictor p = predictor();
        swapOut(p, new int[] {1, 2});
        swapOut(p, new int[] {5, 6});
        // vLLM resumes the newest victim (oldest arrival) first.
        for (long h : swapOrder(new int[] {5, 6})) {
            h2d(p, h, S);
        }
        h2d(p, 0x1234, 64); // next step's small input: the swap-in ended
        assertTrue(p.resumesNewestFirst());
        swapOut(p, new int[] {8, 9});
        final PredictionBuffer b = predict(p, 4);
        assertEquals(host(0, 0, 8), b.copyHost(0));
        assertTrue(b.copyConfidence(0) < 0.5f, "when the scheduler resumes is not known");
    }

    @Test
    void shouldForgetABlockWhenTheCpuWritesItOrItIsSwappedOutAgain() {
        final SwapBackPredictor p = predictor();
        swapOut(p, new int[] {3, 4});
        final long outstanding = p.outstandingCopies();
        p.onEvent(EventType.HOST_WRITE, host(0, 0, 3), S);
        assertEquals(outstanding - 1, p.outstandingCopies());
        swapOut(p, new int[] {4});
        assertEquals(outstanding - 1, p.outstandingCopies(), "the newer swap-out replaces the older entries");
    }

    @Test
    void shouldIgnoreSmallReadsWhenTheyAreNotSwaps() {
        final SwapBackPredictor p = predictor();
        d2h(p, 0x5000, 64);
        assertEquals(0, p.outstandingCopies());
        assertEquals(0, predict(p, 4).copyCount());
    }
}
