package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;

/**
 * Adapter loads (LoRA serving): learns each adapter's copy list and which adapter is likely to load next.
 *
 * <p>An <i>episode</i> is a run of consecutive H2D copies of at least {@code minCopyBytes} bytes with known data
 * (an adapter load: S-LoRA copies each layer's pinned adapter tensor, the list twice; a PEFT-style driver copies
 * each A/B tensor); one small or fresh copy between two of its copies (a flag from another thread) pauses it,
 * a second one ends it. An episode is identified by its first copy. Once an adapter's first copy is seen, the rest of
 * its list is predicted exactly (within-adapter order is fixed, workloads.md 3.5).
 *
 * <p>Before a load starts it predicts the adapter most likely to be needed that is not resident: popularity is
 * a decayed load count (power-law workloads make it informative); residency is approximated by the last
 * {@code K} distinct adapters loaded, where {@code K} is learnt as the smallest reuse distance (in distinct
 * adapters) after which an adapter had to be loaded again, i.e. the GPU slot count of an LRU cache. The
 * confidence of that guess is the candidate's share of non-resident popularity: low for flat popularity, high
 * for a dominant adapter. Which adapter a new request needs is only known when it arrives (workloads.md 5), so
 * a hint API ({@link HintPredictor}) is the way to be exact. Those guesses are planned under their own commit
 * record ({@link Speculator#ADAPTER_GUESS}), apart from the lists followed once a load has started.
 *
 * <p>Fixed memory; single-threaded.
 */
public final class AdapterPredictor implements CopyPredictor {
    static final float CONFIDENCE_IN_EPISODE = 0.9f;
    static final float CANDIDATE_CONFIDENCE_CAP = 0.4f;
    private static final int HISTORY = 64;
    private static final int MAX_EPISODE_COPIES = 1 << 14;

    private final long minCopyBytes;
    private final int entryMask;
    private final long[] aHost;
    private final long[] aBytes;
    private long entrySeq;

    private final int episodeMask;
    private final long[] epId;
    private final long[] epStart;
    private final int[] epCount;
    private final double[] epScore;
    private long episodeCounter;

    /** (first host, first bytes) of an episode -> episode id. */
    private final PairKeyTable byStart;

    private long recording = -1;
    private long following = -1;
    private int followIdx;
    /** A small copy came while recording: the episode ends at the next one unless a large copy continues it. */
    private boolean recordingGrace;

    private final long[] loadHistory = new long[HISTORY];
    private final long[] residentIds = new long[HISTORY];
    private int residentCount;
    private long loads;
    private int slotsEstimate = Integer.MAX_VALUE;
    private long candidate = -1;
    private float candidateConfidence;
    private boolean candidateDirty = true;

    public AdapterPredictor(long minCopyBytes, int capacityCopies, int maxAdapters) {
        if (minCopyBytes < 1) {
            throw new IllegalArgumentException("adapter min copy bytes must be >= 1, got " + minCopyBytes);
        }
        if (capacityCopies < 16 || maxAdapters < 2) {
            throw new IllegalArgumentException("adapter capacity must be >= 16 copies and >= 2 adapters");
        }
        this.minCopyBytes = minCopyBytes;
        final int size = Integer.highestOneBit(capacityCopies - 1) << 1;
        entryMask = size - 1;
        aHost = new long[size];
        aBytes = new long[size];
        final int esize = Integer.highestOneBit(maxAdapters - 1) << 1;
        episodeMask = esize - 1;
        epId = new long[esize];
        java.util.Arrays.fill(epId, -1L);
        epStart = new long[esize];
        epCount = new int[esize];
        epScore = new double[esize];
        byStart = new PairKeyTable(esize * 2, 4);
    }

    @Override
    public String name() {
        return "adapter";
    }

    private boolean episodeValid(long id) {
        if (id < 0) {
            return false;
        }
        final int e = (int) id & episodeMask;
        return epId[e] == id && epStart[e] >= entrySeq - (entryMask + 1) && epCount[e] > 0;
    }

    private boolean entryIs(long id, int idx, long host, long bytes) {
        final int e = (int) id & episodeMask;
        if (idx >= epCount[e]) {
            return false;
        }
        final int i = (int) (epStart[e] + idx) & entryMask;
        return aHost[i] == host && aBytes[i] == bytes;
    }

    /** Learnt number of GPU adapter slots (Integer.MAX_VALUE while unknown). */
    public int slotsEstimate() {
        return slotsEstimate;
    }

    /** Number of adapters (episodes) learnt so far. */
    public long adaptersLearnt() {
        return episodeCounter;
    }

    @Override
    public void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                       boolean freshData) {
        if (direction != CopyDirection.H2D) {
            if (direction == CopyDirection.D2H) {
                endEpisode();
            }
            return;
        }
        if (bytes < minCopyBytes || freshData) {
            if (following >= 0 && recording < 0 && episodeValid(following)
                    && followIdx < epCount[(int) following & episodeMask]) {
                // A small or fresh copy in the middle of a known adapter's load (a flag, token ids from another
                // thread) does not end it: the rest of the load still comes in order, and the next copy tells.
                return;
            }
            if (recording >= 0 && !recordingGrace) {
                // The same while recording: one small copy is a pause, not the end; a second one (the decode
                // steps after the load) ends the episode where the large copies stopped.
                recordingGrace = true;
                return;
            }
            endEpisode();
            return;
        }
        recordingGrace = false;
        if (following >= 0 && episodeValid(following) && entryIs(following, followIdx, hostAddress, bytes)) {
            followIdx++;
            return;
        }
        final int slot = byStart.find(hostAddress, bytes);
        final long known = slot < 0 ? -1 : byStart.value1(slot);
        if (episodeValid(known)) {
            endEpisode();
            following = known;
            followIdx = 1;
            onLoad(known);
            return;
        }
        following = -1;
        if (recording >= 0 && episodeValid(recording)
                && epCount[(int) recording & episodeMask] < MAX_EPISODE_COPIES) {
            append(hostAddress, bytes);
            epCount[(int) recording & episodeMask]++;
            return;
        }
        beginRecording(hostAddress, bytes);
    }

    private void append(long host, long bytes) {
        final int i = (int) entrySeq & entryMask;
        aHost[i] = host;
        aBytes[i] = bytes;
        entrySeq++;
    }

    private void beginRecording(long host, long bytes) {
        final long id = episodeCounter++;
        final int e = (int) id & episodeMask;
        if (epId[e] >= 0) {
            final int old = (int) epId[e] & episodeMask;
            final int s = byStart.find(aHost[(int) epStart[old] & entryMask], aBytes[(int) epStart[old] & entryMask]);
            if (s >= 0 && byStart.value1(s) == epId[e]) {
                byStart.remove(s);
            }
        }
        epId[e] = id;
        epStart[e] = entrySeq;
        epCount[e] = 1;
        epScore[e] = 0;
        append(host, bytes);
        recording = id;
    }

    private void endEpisode() {
        following = -1;
        recordingGrace = false;
        if (recording < 0) {
            return;
        }
        final long id = recording;
        recording = -1;
        if (!episodeValid(id)) {
            return;
        }
        final int e = (int) id & episodeMask;
        if (epCount[e] < 2) {
            // A single large copy is not an adapter load worth remembering; forget it.
            epId[e] = -1;
            return;
        }
        final int first = (int) epStart[e] & entryMask;
        byStart.setValue1(byStart.put(aHost[first], aBytes[first]), id);
        onLoad(id);
    }

    private void onLoad(long id) {
        // Reuse distance: distinct adapters loaded since this one's previous load.
        int distinct = 0;
        boolean found = false;
        final long from = Math.max(0, loads - HISTORY);
        for (long j = loads - 1; j >= from; j--) {
            final long other = loadHistory[(int) (j % HISTORY)];
            if (other == id) {
                found = true;
                break;
            }
            boolean seen = false;
            for (long q = j + 1; q < loads; q++) {
                if (loadHistory[(int) (q % HISTORY)] == other) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                distinct++;
            }
        }
        if (found && distinct >= 1 && distinct < slotsEstimate) {
            slotsEstimate = distinct;
        }
        loadHistory[(int) (loads % HISTORY)] = id;
        loads++;
        final int e = (int) id & episodeMask;
        epScore[e] += 1.0;
        if ((loads & 255) == 0) {
            // Decay so that popularity follows drifting workloads (half-life: 256 loads).
            for (int k = 0; k <= episodeMask; k++) {
                epScore[k] *= 0.5;
            }
        }
        candidateDirty = true;
    }

    /** Fills residentIds with the last slotsEstimate distinct adapters loaded (none while unknown). */
    private void computeResident() {
        residentCount = 0;
        if (slotsEstimate == Integer.MAX_VALUE) {
            return;
        }
        final long from = Math.max(0, loads - HISTORY);
        for (long j = loads - 1; j >= from && residentCount < slotsEstimate; j--) {
            final long id = loadHistory[(int) (j % HISTORY)];
            if (!isResident(id)) {
                residentIds[residentCount++] = id;
            }
        }
    }

    private boolean isResident(long id) {
        for (int k = 0; k < residentCount; k++) {
            if (residentIds[k] == id) {
                return true;
            }
        }
        return false;
    }

    private void refreshCandidate() {
        candidateDirty = false;
        candidate = -1;
        computeResident();
        double best = 0;
        double total = 0;
        for (int k = 0; k <= episodeMask; k++) {
            final long id = epId[k];
            if (id < 0 || !episodeValid(id) || id == recording || isResident(id)) {
                continue;
            }
            total += epScore[k];
            if (epScore[k] > best) {
                best = epScore[k];
                candidate = id;
            }
        }
        // Capped below any sane pre-encryption threshold: when the next load happens is the router's decision, and
        // a guessed slot whose IV passes unused is wasted encryption. The guess still feeds the tournament.
        candidateConfidence = total > 0 ? (float) (CANDIDATE_CONFIDENCE_CAP * best / total) : 0f;
    }

    @Override
    public void onEvent(int type, long hostAddress, long bytes) {
        // Sync points and allocations do not end an episode: S-LoRA issues a load's copies back to back.
    }

    @Override
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId) {
        final int before = out.copyCount();
        final int limit = Math.min(out.capacity(), before + maxCopies);
        if (following >= 0 && episodeValid(following)) {
            final int e = (int) following & episodeMask;
            for (int idx = followIdx; idx < epCount[e] && out.copyCount() < limit
                    && out.messageCount() < maxMessages; idx++) {
                final int i = (int) (epStart[e] + idx) & entryMask;
                out.append(aHost[i], aBytes[i], PredictionBuffer.DATA_KNOWN, CONFIDENCE_IN_EPISODE, predictorId);
            }
        }
        if (recording < 0 && out.copyCount() < limit && out.messageCount() < maxMessages) {
            if (candidateDirty) {
                refreshCandidate();
            }
            if (candidate >= 0 && episodeValid(candidate) && candidate != following) {
                final int e = (int) candidate & episodeMask;
                for (int idx = 0; idx < epCount[e] && out.copyCount() < limit
                        && out.messageCount() < maxMessages; idx++) {
                    final int i = (int) (epStart[e] + idx) & entryMask;
                    out.append(aHost[i], aBytes[i], PredictionBuffer.DATA_KNOWN, candidateConfidence,
                            Speculator.ADAPTER_GUESS);
                }
            }
        }
        return out.copyCount() - before;
    }
}
