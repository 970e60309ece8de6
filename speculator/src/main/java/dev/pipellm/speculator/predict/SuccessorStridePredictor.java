package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;

/**
 * General fallback for what the specialised predictors miss: a successor table ("after copy X came copy Y",
 * with a 2-bit saturating confidence per entry, like a branch target buffer) and a stride detector (same size,
 * constant host address step, e.g. a loop over equally sized blocks). Stride wins once seen three times in a
 * row; otherwise the successor chain is followed as far as it is confident.
 *
 * <p>Fixed memory; single-threaded.
 */
public final class SuccessorStridePredictor implements CopyPredictor {
    private static final int MAX_STRIDE_COPIES = 256;
    private static final int FRESH_BIT = 1 << 8;

    private final PairKeyTable successors;
    private boolean haveLast;
    private long lastHost;
    private long lastBytes;
    private long lastDelta;
    private int strideConfidence;

    public SuccessorStridePredictor(int entries) {
        if (entries < 16) {
            throw new IllegalArgumentException("successor table entries must be >= 16, got " + entries);
        }
        successors = new PairKeyTable(entries, 4);
    }

    @Override
    public String name() {
        return "successor_stride";
    }

    @Override
    public void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                       boolean freshData) {
        if (direction != CopyDirection.H2D || bytes <= 0) {
            return;
        }
        if (haveLast) {
            int slot = successors.find(lastHost, lastBytes);
            if (slot < 0) {
                slot = successors.put(lastHost, lastBytes);
                set(slot, hostAddress, bytes, freshData, 1);
            } else {
                final int conf = successors.value3(slot) & 3;
                if (successors.value1(slot) == hostAddress && successors.value2(slot) == bytes) {
                    set(slot, hostAddress, bytes, freshData, Math.min(3, conf + 1));
                } else if (conf > 0) {
                    successors.setValue3(slot, (successors.value3(slot) & ~3) | (conf - 1));
                } else {
                    set(slot, hostAddress, bytes, freshData, 1);
                }
            }
            final long delta = hostAddress - lastHost;
            if (bytes == lastBytes && delta == lastDelta && delta != 0 && !freshData) {
                strideConfidence = Math.min(3, strideConfidence + 1);
            } else {
                strideConfidence = Math.max(0, strideConfidence - 2);
            }
            lastDelta = delta;
        }
        haveLast = true;
        lastHost = hostAddress;
        lastBytes = bytes;
    }

    private void set(int slot, long host, long bytes, boolean fresh, int conf) {
        successors.setValue1(slot, host);
        successors.setValue2(slot, bytes);
        successors.setValue3(slot, conf | (fresh ? FRESH_BIT : 0));
    }

    @Override
    public void onEvent(int type, long hostAddress, long bytes) {
    }

    @Override
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId) {
        if (!haveLast) {
            return 0;
        }
        final int before = out.copyCount();
        final int limit = Math.min(out.capacity(), before + maxCopies);
        if (strideConfidence >= 2) {
            float c = 0.7f;
            for (int k = 1; k <= MAX_STRIDE_COPIES && out.copyCount() < limit
                    && out.messageCount() < maxMessages; k++) {
                out.append(lastHost + k * lastDelta, lastBytes, PredictionBuffer.DATA_KNOWN, c, predictorId);
                c *= 0.98f;
            }
            return out.copyCount() - before;
        }
        long host = lastHost;
        long bytes = lastBytes;
        float c = 1f;
        while (out.copyCount() < limit && out.messageCount() < maxMessages) {
            final int slot = successors.find(host, bytes);
            if (slot < 0) {
                break;
            }
            final int v3 = successors.value3(slot);
            final int conf = v3 & 3;
            if (conf == 0) {
                break;
            }
            c *= conf == 3 ? 0.9f : conf == 2 ? 0.7f : 0.4f;
            if (c < 0.01f) {
                break;
            }
            host = successors.value1(slot);
            bytes = successors.value2(slot);
            out.append(host, bytes, (v3 & FRESH_BIT) != 0 ? 0 : PredictionBuffer.DATA_KNOWN, c, predictorId);
        }
        return out.copyCount() - before;
    }
}
