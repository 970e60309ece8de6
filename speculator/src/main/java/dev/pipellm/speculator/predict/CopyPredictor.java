package dev.pipellm.speculator.predict;

/**
 * One prediction strategy. The {@link Speculator} feeds every predictor every event, scores their short-range
 * predictions after each real H2D copy, and asks the one its tournament chooses for the full sequence.
 *
 * <p>Contract for implementations: single-threaded (the speculator's thread); {@link #onCopy},
 * {@link #onEvent} and {@link #predict} allocate nothing and throw nothing for any input; {@link #predict}
 * appends at most {@code maxCopies} copies and stops once the buffer holds {@code maxMessages} messages or more.
 */
public interface CopyPredictor {
    /** Stable short name (snake_case), used in reports. */
    String name();

    /**
     * A copy was issued.
     *
     * @param freshData true when the CPU wrote the host range since its last copy (its plaintext is not
     *                  predictable, its size may be)
     */
    void onCopy(int direction, long hostAddress, long deviceAddress, long bytes, int stream, boolean freshData);

    /** Any non-copy event ({@link dev.pipellm.speculator.event.EventType}): allocation, free, sync, hint... */
    void onEvent(int type, long hostAddress, long bytes);

    /**
     * Appends the predicted upcoming H2D copies to {@code out}, nearest first, each with its own confidence.
     * Returns the number of copies appended (0 = no opinion).
     */
    int predict(PredictionBuffer out, int maxCopies, int maxMessages, int predictorId);
}
