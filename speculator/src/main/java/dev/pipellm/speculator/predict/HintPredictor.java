package dev.pipellm.speculator.predict;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

/**
 * Hints from a cooperating framework ("these host ranges are copied to the GPU next, in this order"): exact when
 * used. A real H2D copy that matches the first pending hint, or one of the next {@value #LOOKAHEAD} (the
 * skipped ones are dropped: the framework changed its mind), consumes it; any other copy is an interleaved
 * extra and leaves the hints alone. {@link EventType#HINT_CLEAR} drops all pending hints.
 *
 * <p>Fixed-capacity ring; when full the oldest pending hint is dropped. Single-threaded.
 */
public final class HintPredictor implements CopyPredictor {
    static final int LOOKAHEAD = 16;

    private final int mask;
    private final long[] host;
    private final long[] bytes;
    private long head;
    private long tail;

    public HintPredictor(int capacity) {
        if (capacity < 2 || capacity > (1 << 24)) {
            throw new IllegalArgumentException("hint capacity must be in [2, 2^24], got " + capacity);
        }
        final int size = Integer.highestOneBit(capacity - 1) << 1;
        mask = size - 1;
        host = new long[size];
        bytes = new long[size];
    }

    @Override
    public String name() {
        return "hints";
    }

    /** Pending hints. */
    public int pending() {
        return (int) (tail - head);
    }

    @Override
    public void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                       boolean freshData) {
        if (direction != CopyDirection.H2D) {
            return;
        }
        for (long h = head; h < tail && h < head + LOOKAHEAD; h++) {
            final int i = (int) h & mask;
            if (host[i] == hostAddress && this.bytes[i] == bytes) {
                head = h + 1;
                return;
            }
        }
    }

    @Override
    public void onEvent(int type, long hostAddress, long bytes) {
        if (type == EventType.HINT) {
            if (bytes <= 0) {
                return;
            }
            if (tail - head == mask + 1) {
                head++;
            }
            final int i = (int) tail & mask;
            host[i] = hostAddress;
            this.bytes[i] = bytes;
            tail++;
        } else if (type == EventType.HINT_CLEAR) {
            head = tail;
        }
    }

    @Override
    public int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId) {
        final int before = out.copyCount();
        for (long h = head; h < tail && out.copyCount() - before < maxCopies && out.messageCount() < maxMessages;
             h++) {
            final int i = (int) h & mask;
            if (!out.append(host[i], bytes[i], PredictionBuffer.DATA_KNOWN, 1f, predictorId)) {
                break;
            }
        }
        return out.copyCount() - before;
    }
}
