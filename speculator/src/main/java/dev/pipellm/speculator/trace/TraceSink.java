package dev.pipellm.speculator.trace;

/**
 * Receives a generated trace event by event: the fields of {@link dev.pipellm.speculator.event.EventSink} plus
 * the {@link CopyClass} of a copy (ground truth for reports; {@link CopyClass#NONE} for other events).
 */
@FunctionalInterface
public interface TraceSink {
    void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream, int thread,
                 int copyClass);
}
