package dev.pipellm.speculator.event;

/**
 * Receives events one at a time, as primitives. Implementations on the agent's hot path must not allocate,
 * lock or throw for any input.
 *
 * <p>Field meaning by type: {@code direction} is a {@link CopyDirection} for {@link EventType#COPY} and
 * {@link CopyDirection#NONE} otherwise; {@code hostAddress}/{@code deviceAddress} are 0 when they do not apply;
 * {@code bytes} is the size (or the marker id for {@link EventType#MARK}); {@code stream} is the CUDA stream
 * handle folded to an int (or -1), {@code thread} an id of the calling thread.
 */
@FunctionalInterface
public interface EventSink {
    void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream, int thread);
}
