package dev.pipellm.bench.trace;

/**
 * Where a generated trace gets its modelled GPU compute. The speculator's generators emit copies, host writes and
 * synchronisations only; a step model says, for each generated event, how much compute the GPU runs on
 * {@link #computeStream()} right before it, and whether the host waits for that stream right after it (a blocking
 * read of results, e.g. sampled token ids). Implementations hold per-trace state: one instance per generation.
 */
public interface StepModel {
    /** Nanoseconds of compute to enqueue before this event; 0 for none. */
    long computeBefore(int type, int direction, long bytes, int stream, int copyClass);

    /** True when the host synchronises {@link #computeStream()} right after this event. */
    boolean syncAfter(int type, int direction, long bytes, int stream, int copyClass);

    /** The trace stream (as the generator numbers them) that runs the compute. */
    int computeStream();

    /** A model that adds nothing: the trace is copies and synchronisations only. */
    StepModel NONE = new StepModel() {
        @Override
        public long computeBefore(int type, int direction, long bytes, int stream, int copyClass) {
            return 0;
        }

        @Override
        public boolean syncAfter(int type, int direction, long bytes, int stream, int copyClass) {
            return false;
        }

        @Override
        public int computeStream() {
            return 0;
        }
    };
}
