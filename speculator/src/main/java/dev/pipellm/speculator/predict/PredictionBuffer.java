package dev.pipellm.speculator.predict;

/**
 * Preallocated output of a query: the predicted upcoming H2D copies, oldest first, and their split into GCM
 * messages of at most {@link #chunkBytes()} bytes each, the way the driver chunks a copy.
 *
 * <p>Stored per copy (struct of arrays) because a multi-GiB copy is one entry here but thousands of messages;
 * messages are derived on access: message {@code j} of a copy at {@code host} covers
 * {@code [host + j*chunk, host + min((j+1)*chunk, bytes))}.
 *
 * <p>Not thread safe: one writer (the speculator) and readers on the same thread.
 */
public final class PredictionBuffer {
    /** Host address of a prediction whose source is not known. */
    public static final long NO_ADDRESS = -1L;
    /** Flag: the plaintext is known (pinned weights, swapped-out KV, adapters): the message can be pre-encrypted. */
    public static final int DATA_KNOWN = 1;

    private final long chunkBytes;
    private final int capacity;
    private final long[] host;
    private final long[] bytes;
    private final int[] flags;
    private final float[] confidence;
    private final int[] gapBefore;
    private final int[] predictor;
    /** Index of the copy's first message; firstMessage[count] is the total. */
    private final int[] firstMessage;
    private int count;

    public PredictionBuffer(int capacityCopies, long chunkBytes) {
        if (capacityCopies < 1) {
            throw new IllegalArgumentException("prediction buffer capacity must be >= 1, got " + capacityCopies);
        }
        if (chunkBytes < 1) {
            throw new IllegalArgumentException("chunk size must be >= 1 byte, got " + chunkBytes);
        }
        this.chunkBytes = chunkBytes;
        this.capacity = capacityCopies;
        this.host = new long[capacityCopies];
        this.bytes = new long[capacityCopies];
        this.flags = new int[capacityCopies];
        this.confidence = new float[capacityCopies];
        this.gapBefore = new int[capacityCopies];
        this.predictor = new int[capacityCopies];
        this.firstMessage = new int[capacityCopies + 1];
    }

    public void clear() {
        count = 0;
        firstMessage[0] = 0;
        context = 0;
        plannableMessages = Long.MAX_VALUE;
    }

    private int context;
    private long plannableMessages = Long.MAX_VALUE;

    /** Context (stream bucket) the prediction was made in: report slot outcomes with it. */
    public int context() {
        return context;
    }

    /**
     * How many messages ahead new slots may be planned: the depth the chosen predictor's measured commit
     * probability allows ({@link CommitCalibration}); slots already planned deeper may be kept.
     */
    public long plannableMessages() {
        return plannableMessages;
    }

    /** Set by the speculator after filling the buffer. */
    public void setPlanning(int context, long plannableMessages) {
        this.context = context;
        this.plannableMessages = plannableMessages;
    }

    public long chunkBytes() {
        return chunkBytes;
    }

    public int capacity() {
        return capacity;
    }

    public boolean isFull() {
        return count == capacity;
    }

    /** Number of GCM messages a copy of {@code copyBytes} bytes becomes (0 bytes: no message). */
    public static int messagesOf(long copyBytes, long chunkBytes) {
        return copyBytes <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE / 4, (copyBytes + chunkBytes - 1) / chunkBytes);
    }

    /**
     * Appends a predicted copy. Returns false (and stores nothing) when full or when {@code copyBytes <= 0}.
     *
     * @param flags {@link #DATA_KNOWN} or 0
     */
    public boolean append(long copyHost, long copyBytes, int flags, float confidence, int predictorId) {
        if (count == capacity || copyBytes <= 0) {
            return false;
        }
        final int i = count;
        host[i] = (flags & DATA_KNOWN) != 0 ? copyHost : (copyHost < 0 ? NO_ADDRESS : copyHost);
        bytes[i] = copyBytes;
        this.flags[i] = flags;
        this.confidence[i] = confidence;
        gapBefore[i] = 0;
        predictor[i] = predictorId;
        firstMessage[i + 1] = firstMessage[i] + messagesOf(copyBytes, chunkBytes);
        count = i + 1;
        return true;
    }

    public int copyCount() {
        return count;
    }

    public int messageCount() {
        return firstMessage[count];
    }

    public long copyHost(int i) {
        return host[i];
    }

    public long copyBytes(int i) {
        return bytes[i];
    }

    public int copyFlags(int i) {
        return flags[i];
    }

    public boolean copyDataKnown(int i) {
        return (flags[i] & DATA_KNOWN) != 0;
    }

    public float copyConfidence(int i) {
        return confidence[i];
    }

    public int copyGapBefore(int i) {
        return gapBefore[i];
    }

    public int copyPredictor(int i) {
        return predictor[i];
    }

    public int copyFirstMessage(int i) {
        return firstMessage[i];
    }

    public int copyMessages(int i) {
        return firstMessage[i + 1] - firstMessage[i];
    }

    /** Overrides a copy's confidence (the speculator scales predictor confidences). */
    public void setConfidence(int i, float c) {
        confidence[i] = c;
    }

    /** Sets the spare IVs to leave before a copy's first message (the IV-slack policy's advice). */
    public void setGapBefore(int i, int gap) {
        gapBefore[i] = gap;
    }

    /** Copy index holding message {@code m} (binary search; allocation-free). */
    public int copyOfMessage(int m) {
        if (m < 0 || m >= messageCount()) {
            throw new IndexOutOfBoundsException("message " + m + " of " + messageCount());
        }
        int lo = 0;
        int hi = count - 1;
        while (lo < hi) {
            final int mid = (lo + hi + 1) >>> 1;
            if (firstMessage[mid] <= m) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Host address of message {@code chunk} of copy {@code i}, or {@link #NO_ADDRESS}. */
    public long messageHost(int i, int chunk) {
        return host[i] == NO_ADDRESS ? NO_ADDRESS : host[i] + chunk * chunkBytes;
    }

    /** Length in bytes of message {@code chunk} of copy {@code i}. */
    public int messageLength(int i, int chunk) {
        return (int) Math.min(chunkBytes, bytes[i] - chunk * chunkBytes);
    }

    /** Message {@code m} as a value object. Allocates: for tools and tests, not for the hot path. */
    public PredictedMessage message(int m) {
        final int c = copyOfMessage(m);
        final int chunk = m - firstMessage[c];
        return new PredictedMessage(messageHost(c, chunk), messageLength(c, chunk), copyDataKnown(c),
                confidence[c], chunk == 0 ? gapBefore[c] : 0, chunk, predictor[c]);
    }

    /** Copies the content of {@code other} (same chunk size required) into this buffer. */
    public void copyFrom(PredictionBuffer other) {
        if (other.chunkBytes != chunkBytes) {
            throw new IllegalArgumentException("chunk sizes differ");
        }
        clear();
        for (int i = 0; i < other.count && count < capacity; i++) {
            append(other.host[i], other.bytes[i], other.flags[i], other.confidence[i], other.predictor[i]);
            gapBefore[count - 1] = other.gapBefore[i];
        }
        setPlanning(other.context, other.plannableMessages);
    }
}
