package dev.pipellm.speculator.trace;

/**
 * A deterministic workload trace: the same parameters and seed always emit the same events. Generators stream
 * events into a sink instead of materialising them: an OPT-175B FlexGen run is tens of thousands of copies
 * carrying terabytes.
 */
public interface TraceGenerator {
    /** Marker id emitted (as {@link dev.pipellm.speculator.event.EventType#MARK}) where the steady state starts. */
    long MARK_STEADY_STATE = 1;
    /** Marker id emitted where a steady-state phase ends (e.g. the end of a batch: the next one must re-lock). */
    long MARK_STEADY_STATE_END = 2;
    /** Marker id emitted where the copy pattern changes for good (a model switch): the replay measures re-lock. */
    long MARK_PATTERN_CHANGE = 3;

    String name();

    /** One-line description of the parameters, for reports. */
    String describe();

    void generate(TraceSink sink);
}
