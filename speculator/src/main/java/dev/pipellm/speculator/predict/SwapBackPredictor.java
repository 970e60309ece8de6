package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

/**
 * Swap-back: a device-to-host copy (KV swap-out) announces a later host-to-device copy (swap-in) of the same
 * host range, whose plaintext is exactly what came back and stays unchanged on the host until then.
 *
 * <p>Only D2H copies of at least {@code minCopyBytes} count (the PipeLLM prototype filters by size too: swaps are
 * large, per-step reads are small); a burst has one copy size.
 *
 * <p>What it learns rather than hard-codes (workloads.md section 1):
 * <ul>
 *   <li><b>Bursts and rows.</b> Consecutive D2H copies form a burst (one engine step's swap-out). vLLM lays a
 *       burst out as rows, one per (layer, K/V), each repeating the same block list at a row-specific base
 *       offset. The row count is learnt by vote over all bursts: a candidate row count R is consistent with a
 *       burst when every row differs from the previous one by a single address delta. The finest count that
 *       the most bursts agree with wins.</li>
 *   <li><b>Which burst comes back first</b> (LIFO: newest evicted first, as vLLM V0 does across groups; or
 *       FIFO) by counting, at each swap-in start, whether it hit the newest or the oldest outstanding burst.</li>
 *   <li><b>Swap-in order within a step</b> from the swap-in itself: the segments of burst rows visited in the
 *       first row form a template (one group or several, whole bursts or parts of them, in table order or
 *       not); once the second row starts, every later row follows the template at the learnt row step. This
 *       covers vLLM's "block list of layer 0/K repeats for all 2L (layer, part) pairs", multi-victim bursts
 *       swapped in one group at a time, and several groups swapped in in one step.</li>
 * </ul>
 * Before a swap-in starts, the predictor offers the burst it expects next with low confidence (it does not know
 * when the scheduler will resume it); once started, the rest of the swap-in with high confidence.
 *
 * <p>An entry dies when swapped in, overwritten by a newer swap-out to the same address, written by the CPU
 * ({@link EventType#HOST_WRITE}) or freed. Memory is fixed: an arena of {@code capacity} entries and a ring of
 * bursts; when full, the oldest are forgotten. Single-threaded.
 */
public final class SwapBackPredictor implements CopyPredictor {
    /** Confidence of the rest of a swap-in once its row template is known. */
    static final float CONFIDENCE_TEMPLATE = 0.95f;
    /** Confidence while the first row of a swap-in is still being learnt. */
    static final float CONFIDENCE_FIRST_ROW = 0.8f;
    /**
     * Confidence of later rows while the first row is still being learnt: below any sane pre-encryption
     * threshold, because whether another group's segment or the next row follows is exactly what is not known
     * yet (guessing wrong throws away a whole window of encrypted slots).
     */
    static final float CONFIDENCE_LATER_ROWS_GUESS = 0.4f;
    /** Confidence that the expected burst is swapped in next: low, the timing is the scheduler's. */
    static final float CONFIDENCE_NOT_STARTED = 0.05f;
    static final int MAX_SEGMENTS = 512;
    private static final int MAX_ROW_COUNT = 8192;
    private static final int VOTE_SLOTS = 64;

    private final long minCopyBytes;

    // Arena of swapped-out entries, indexed by sequence & entryMask.
    private final int entryMask;
    private final long[] eHost;
    private final long[] eBytes;
    private final long[] eBurst;
    private final boolean[] eLive;
    private long entrySeq;

    // Ring of bursts, indexed by burst id & burstMask.
    private final int burstMask;
    private final long[] bId;
    private final long[] bStart;
    private final int[] bCount;
    private final int[] bLive;
    private final int[] bRowLen;
    private final int[] bRowsUsed;
    private final boolean[] bUniformSize;
    private long burstCounter;
    private long openBurst = -1;
    private long totalLive;

    private final PairKeyTable byHost;

    // Row-count votes.
    private final int[] voteRows = new int[VOTE_SLOTS];
    private final long[] voteCount = new long[VOTE_SLOTS];
    private int learnedRows;

    // Order votes.
    private long lifoVotes;
    private long fifoVotes;

    // Swap-in in progress.
    private boolean active;
    private boolean building;
    private int segCount;
    private final long[] segBurst = new long[MAX_SEGMENTS];
    private final int[] segStart = new int[MAX_SEGMENTS];
    private final int[] segEnd = new int[MAX_SEGMENTS];
    private int templateRow;
    private int rowStep = 1;
    private int curSeg;
    private int curRow;
    private int curCol;

    /**
     * @param capacity maximum outstanding swapped-out copies remembered (e.g. CPU swap blocks x 2 x layers)
     * @param bursts   maximum outstanding bursts remembered
     * @param minCopyBytes D2H copies smaller than this are not swap-outs (sampled ids, flags)
     */
    public SwapBackPredictor(int capacity, int bursts, long minCopyBytes) {
        if (capacity < 16 || capacity > (1 << 26)) {
            throw new IllegalArgumentException("swap-back capacity must be in [16, 2^26], got " + capacity);
        }
        if (bursts < 2 || bursts > (1 << 20)) {
            throw new IllegalArgumentException("swap-back bursts must be in [2, 2^20], got " + bursts);
        }
        if (minCopyBytes < 1) {
            throw new IllegalArgumentException("swap-back min copy bytes must be >= 1, got " + minCopyBytes);
        }
        this.minCopyBytes = minCopyBytes;
        final int size = Integer.highestOneBit(capacity - 1) << 1;
        entryMask = size - 1;
        eHost = new long[size];
        eBytes = new long[size];
        eBurst = new long[size];
        eLive = new boolean[size];
        final int bsize = Integer.highestOneBit(bursts - 1) << 1;
        burstMask = bsize - 1;
        bId = new long[bsize];
        java.util.Arrays.fill(bId, -1L);
        bStart = new long[bsize];
        bCount = new int[bsize];
        bLive = new int[bsize];
        bRowLen = new int[bsize];
        bRowsUsed = new int[bsize];
        bUniformSize = new boolean[bsize];
        byHost = new PairKeyTable(size * 2, 4);
    }

    @Override
    public String name() {
        return "swap_back";
    }

    private boolean burstValid(long id) {
        return id >= 0 && bId[(int) id & burstMask] == id;
    }

    private boolean entryValid(long seq) {
        return seq >= 0 && seq < entrySeq && seq >= entrySeq - (entryMask + 1) && eLive[(int) seq & entryMask]
                && burstValid(eBurst[(int) seq & entryMask]);
    }

    private void kill(long seq) {
        final int i = (int) seq & entryMask;
        if (!eLive[i]) {
            return;
        }
        eLive[i] = false;
        final long b = eBurst[i];
        if (burstValid(b)) {
            bLive[(int) b & burstMask]--;
            totalLive--;
        }
    }

    /** Outstanding (swapped out, not yet swapped in) copies. */
    public long outstandingCopies() {
        return totalLive;
    }

    /** Learnt number of rows per burst (0 while unknown). */
    public int learnedRowCount() {
        return learnedRows;
    }

    /** True when the learnt resume order is LIFO (newest burst first); ties count as LIFO, vLLM's order. */
    public boolean resumesNewestFirst() {
        return lifoVotes >= fifoVotes;
    }

    @Override
    public void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                       boolean freshData) {
        if (direction == CopyDirection.D2H) {
            active = false;
            if (bytes < minCopyBytes || freshData) {
                // Sampled ids, stop flags: read back, never swapped in again.
                closeBurst();
                return;
            }
            if (openBurst >= 0 && eBytes[(int) bStart[(int) openBurst & burstMask] & entryMask] != bytes) {
                // A swap unit has one copy size (one KV block per (layer, K/V)); another size starts another.
                closeBurst();
            }
            recordSwapOut(hostAddress, bytes);
        } else if (direction == CopyDirection.H2D) {
            closeBurst();
            final int slot = byHost.find(hostAddress, 0);
            final long seq = slot < 0 ? -1 : byHost.value1(slot);
            if (!freshData && entryValid(seq) && eBytes[(int) seq & entryMask] == bytes) {
                onSwapIn(seq);
            } else if (!freshData && bytes >= minCopyBytes) {
                // Another block copy ends the swap-in; a small or fresh copy between two of its blocks (token
                // ids, a flag from another thread) does not: the blocks after it still come in order.
                active = false;
            }
        }
    }

    private void recordSwapOut(long host, long bytes) {
        if (openBurst < 0) {
            openBurst = burstCounter++;
            final int b = (int) openBurst & burstMask;
            if (bId[b] >= 0) {
                // Ring slot reuse forgets the oldest burst; its entries become invalid with it.
                totalLive -= bLive[b];
            }
            bId[b] = openBurst;
            bStart[b] = entrySeq;
            bCount[b] = 0;
            bLive[b] = 0;
            bRowLen[b] = 0;
            bRowsUsed[b] = -1;
            bUniformSize[b] = true;
        }
        final int slot = byHost.find(host, 0);
        if (slot >= 0) {
            final long old = byHost.value1(slot);
            if (entryValid(old)) {
                kill(old);
            }
        }
        final long seq = entrySeq++;
        final int i = (int) seq & entryMask;
        if (eLive[i]) {
            kill(seq - (entryMask + 1));
        }
        final int b = (int) openBurst & burstMask;
        if (bCount[b] > 0 && eBytes[(int) (bStart[b]) & entryMask] != bytes) {
            bUniformSize[b] = false;
        }
        eHost[i] = host;
        eBytes[i] = bytes;
        eBurst[i] = openBurst;
        eLive[i] = true;
        bCount[b]++;
        bLive[b]++;
        totalLive++;
        byHost.setValue1(byHost.put(host, 0), seq);
    }

    private void closeBurst() {
        if (openBurst < 0) {
            return;
        }
        final long id = openBurst;
        openBurst = -1;
        final int b = (int) id & burstMask;
        final int n = bCount[b];
        if (n < 4 || !bUniformSize[b] || n > entryMask + 1) {
            return;
        }
        for (int rows = 2; rows <= Math.min(n, MAX_ROW_COUNT); rows++) {
            if (n % rows == 0 && rowsConsistent(bStart[b], n, n / rows)) {
                vote(rows);
            }
        }
    }

    /** Every row differs from the previous one by one address delta (row length m, n entries from start). */
    private boolean rowsConsistent(long start, int n, int m) {
        for (int r = 1; r < n / m; r++) {
            final long rowBase = start + (long) r * m;
            final long delta = eHost[(int) rowBase & entryMask] - eHost[(int) (rowBase - m) & entryMask];
            for (int c = 1; c < m; c++) {
                final long cur = eHost[(int) (rowBase + c) & entryMask];
                final long prev = eHost[(int) (rowBase + c - m) & entryMask];
                if (cur - prev != delta) {
                    return false;
                }
            }
        }
        return true;
    }

    private void vote(int rows) {
        int free = -1;
        for (int v = 0; v < VOTE_SLOTS; v++) {
            if (voteRows[v] == rows) {
                voteCount[v]++;
                recomputeLearnedRows();
                return;
            }
            if (voteRows[v] == 0 && free < 0) {
                free = v;
            }
        }
        if (free < 0) {
            // Table full: replace the least voted candidate.
            free = 0;
            for (int v = 1; v < VOTE_SLOTS; v++) {
                if (voteCount[v] < voteCount[free]) {
                    free = v;
                }
            }
        }
        voteRows[free] = rows;
        voteCount[free] = 1;
        recomputeLearnedRows();
    }

    private void recomputeLearnedRows() {
        long best = 0;
        int rows = 0;
        for (int v = 0; v < VOTE_SLOTS; v++) {
            if (voteRows[v] == 0) {
                continue;
            }
            // Most votes wins; on a tie the finer split (more rows): a finer split that every burst agrees
            // with is never wrong about which entries share a row, and the template learns the row step.
            if (voteCount[v] > best || (voteCount[v] == best && voteRows[v] > rows)) {
                best = voteCount[v];
                rows = voteRows[v];
            }
        }
        learnedRows = rows;
    }

    /** Row length of a burst under the learnt row count (the whole burst if that count does not fit it). */
    private int rowLen(long id) {
        final int b = (int) id & burstMask;
        if (bRowsUsed[b] != learnedRows) {
            final int n = bCount[b];
            final int rows = learnedRows;
            bRowLen[b] = (rows >= 2 && n % rows == 0 && bUniformSize[b] && rowsConsistent(bStart[b], n, n / rows))
                    ? n / rows : Math.max(1, n);
            bRowsUsed[b] = rows;
        }
        return bRowLen[b];
    }

    private int rowsOf(long id) {
        final int b = (int) id & burstMask;
        return bCount[b] / rowLen(id);
    }

    private void onSwapIn(long seq) {
        final long burst = eBurst[(int) seq & entryMask];
        final int b = (int) burst & burstMask;
        final int idx = (int) (seq - bStart[b]);
        final int m = rowLen(burst);
        final int row = idx / m;
        final int col = idx % m;
        if (!active) {
            voteOrder(burst);
            startTemplate(burst, row, col);
        } else if (building) {
            if (row == templateRow) {
                if (segBurst[curSeg] == burst && segEnd[curSeg] == col) {
                    segEnd[curSeg]++;
                    curCol = col;
                } else {
                    final int k = findSegment(burst, col);
                    if (k >= 0) {
                        curSeg = k;
                        curCol = col;
                    } else if (segCount < MAX_SEGMENTS) {
                        segBurst[segCount] = burst;
                        segStart[segCount] = col;
                        segEnd[segCount] = col + 1;
                        curSeg = segCount++;
                        curCol = col;
                    } else {
                        startTemplate(burst, row, col);
                    }
                }
            } else if (row > templateRow && findSegment(burst, col) >= 0) {
                building = false;
                rowStep = row - templateRow;
                curSeg = findSegment(burst, col);
                curRow = row;
                curCol = col;
            } else {
                startTemplate(burst, row, col);
            }
        } else {
            final int k = findSegment(burst, col);
            if (k >= 0 && row >= templateRow && (row - templateRow) % rowStep == 0) {
                curSeg = k;
                curRow = row;
                curCol = col;
            } else {
                startTemplate(burst, row, col);
            }
        }
        kill(seq);
    }

    private void startTemplate(long burst, int row, int col) {
        active = true;
        building = true;
        segCount = 1;
        segBurst[0] = burst;
        segStart[0] = col;
        segEnd[0] = col + 1;
        templateRow = row;
        rowStep = 1;
        curSeg = 0;
        curRow = row;
        curCol = col;
    }

    private int findSegment(long burst, int col) {
        for (int k = 0; k < segCount; k++) {
            if (segBurst[k] == burst && col >= segStart[k] && col < segEnd[k]) {
                return k;
            }
        }
        return -1;
    }

    private void voteOrder(long burst) {
        int newer = 0;
        int older = 0;
        final long lowest = Math.max(0, burstCounter - (burstMask + 1));
        for (long id = lowest; id < burstCounter; id++) {
            if (id == burst || !burstValid(id) || bLive[(int) id & burstMask] <= 0) {
                continue;
            }
            if (id > burst) {
                newer++;
            } else {
                older++;
            }
        }
        if (newer == 0 && older > 0) {
            lifoVotes++;
        } else if (older == 0 && newer > 0) {
            fifoVotes++;
        }
    }

    @Override
    public void onEvent(int type, long hostAddress, long bytes) {
        switch (type) {
            case EventType.SYNC -> closeBurst();
            case EventType.HOST_WRITE -> {
                final int slot = byHost.find(hostAddress, 0);
                if (slot >= 0 && entryValid(byHost.value1(slot))) {
                    kill(byHost.value1(slot));
                }
            }
            case EventType.HOST_FREE -> invalidateRange(hostAddress, bytes);
            default -> {
            }
        }
    }

    private void invalidateRange(long host, long bytes) {
        // Rare (free of a pinned region): a bounded scan of the arena is fine here.
        final long end = bytes > 0 ? host + bytes : host + 1;
        final long from = Math.max(0, entrySeq - (entryMask + 1));
        for (long s = from; s < entrySeq; s++) {
            final int i = (int) s & entryMask;
            if (eLive[i] && eHost[i] >= host && eHost[i] < end) {
                kill(s);
            }
        }
    }

    private boolean emit(PredictionBuffer out, long burst, int row, int col, float confidence, int predictorId) {
        final int b = (int) burst & burstMask;
        final long seq = bStart[b] + (long) row * rowLen(burst) + col;
        if (seq < bStart[b] || seq >= bStart[b] + bCount[b] || !entryValid(seq)) {
            return true; // skipped, keep going
        }
        final int i = (int) seq & entryMask;
        return out.append(eHost[i], eBytes[i], PredictionBuffer.DATA_KNOWN, confidence, predictorId);
    }

    @Override
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId) {
        if (totalLive <= 0) {
            return 0;
        }
        final int before = out.copyCount();
        final int limit = Math.min(out.capacity(), before + maxCopies);
        // Bounds the walk when many entries are dead.
        int budget = 4 * maxCopies + 4096;
        if (active && burstValid(segBurst[curSeg])) {
            if (building) {
                final long burst = segBurst[curSeg];
                final int m = rowLen(burst);
                for (int c = curCol + 1; c < m && out.copyCount() < limit && out.messageCount() < maxMessages
                        && budget-- > 0; c++) {
                    if (!emit(out, burst, curRow, c, CONFIDENCE_FIRST_ROW, predictorId)) {
                        break;
                    }
                }
                for (int r = curRow + 1; out.copyCount() < limit && out.messageCount() < maxMessages
                        && budget > 0; r++) {
                    boolean any = false;
                    for (int k = 0; k < segCount && out.copyCount() < limit; k++) {
                        final long sb = segBurst[k];
                        if (!burstValid(sb) || r >= rowsOf(sb)) {
                            continue;
                        }
                        any = true;
                        final int end = k == curSeg ? rowLen(sb) : segEnd[k];
                        for (int c = segStart[k]; c < end && out.copyCount() < limit
                                && out.messageCount() < maxMessages && budget-- > 0; c++) {
                            if (!emit(out, sb, r, c, CONFIDENCE_LATER_ROWS_GUESS, predictorId)) {
                                break;
                            }
                        }
                    }
                    if (!any) {
                        break;
                    }
                }
            } else {
                int r = curRow;
                int k = curSeg;
                int c = curCol + 1;
                while (out.copyCount() < limit && out.messageCount() < maxMessages && budget-- > 0) {
                    final long sb = segBurst[k];
                    if (burstValid(sb) && r < rowsOf(sb) && c < segEnd[k]) {
                        if (!emit(out, sb, r, c, CONFIDENCE_TEMPLATE, predictorId)) {
                            break;
                        }
                        c++;
                        continue;
                    }
                    k++;
                    if (k == segCount) {
                        k = 0;
                        r += rowStep;
                        if (!anySegmentHasRow(r)) {
                            break;
                        }
                    }
                    c = segStart[k];
                }
            }
        } else {
            final long burst = expectedNextBurst();
            if (burst >= 0) {
                final int b = (int) burst & burstMask;
                for (int j = 0; j < bCount[b] && out.copyCount() < limit && out.messageCount() < maxMessages
                        && budget-- > 0; j++) {
                    final long seq = bStart[b] + j;
                    if (entryValid(seq)) {
                        final int i = (int) seq & entryMask;
                        if (!out.append(eHost[i], eBytes[i], PredictionBuffer.DATA_KNOWN, CONFIDENCE_NOT_STARTED,
                                predictorId)) {
                            break;
                        }
                    }
                }
            }
        }
        return out.copyCount() - before;
    }

    private boolean anySegmentHasRow(int r) {
        for (int k = 0; k < segCount; k++) {
            if (burstValid(segBurst[k]) && r < rowsOf(segBurst[k])) {
                return true;
            }
        }
        return false;
    }

    private long expectedNextBurst() {
        final long lowest = Math.max(0, burstCounter - (burstMask + 1));
        if (resumesNewestFirst()) {
            for (long id = burstCounter - 1; id >= lowest; id--) {
                if (burstValid(id) && bLive[(int) id & burstMask] > 0 && id != openBurst) {
                    return id;
                }
            }
        } else {
            for (long id = lowest; id < burstCounter; id++) {
                if (burstValid(id) && bLive[(int) id & burstMask] > 0 && id != openBurst) {
                    return id;
                }
            }
        }
        return -1;
    }
}
