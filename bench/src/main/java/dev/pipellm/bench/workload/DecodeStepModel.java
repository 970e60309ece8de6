package dev.pipellm.bench.workload;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.trace.CopyClass;
import dev.pipellm.bench.trace.StepModel;

/**
 * Compute of a serving engine step for the vLLM and LoRA generators, which end every step with the D2H of the
 * sampled token ids (int64 per sequence, {@link CopyClass#OUTPUT}): the forward runs on stream 0 right before that
 * copy and the host waits for it after (vLLM reads the ids with a blocking {@code .tolist()}). A decode step of
 * {@code seqs} sequences on a dense model of {@code params} fp16 parameters: FLOPs {@code 2 x params x seqs}, bytes
 * {@code 2 x params + seqs x contextTokens x kvBytesPerToken} (weights and the KV cache read once). Prefill steps are
 * modelled as decode steps of the same batch (the generators do not say which step is which): an undercount of
 * compute, which makes copies weigh more.
 */
final class DecodeStepModel implements StepModel {
    private final double params;
    private final double kvBytesPerToken;
    private final double contextTokens;

    DecodeStepModel(double params, double kvBytesPerToken, double contextTokens) {
        this.params = params;
        this.kvBytesPerToken = kvBytesPerToken;
        this.contextTokens = contextTokens;
    }

    private static boolean isOutput(int type, int direction, int copyClass) {
        return type == EventType.COPY && direction == CopyDirection.D2H && copyClass == CopyClass.OUTPUT;
    }

    @Override
    public long computeBefore(int type, int direction, long bytes, int stream, int copyClass) {
        if (!isOutput(type, direction, copyClass)) {
            return 0;
        }
        final double seqs = Math.max(1, bytes / 8);
        return Roofline.ns(2 * params * seqs, 2 * params + seqs * contextTokens * kvBytesPerToken);
    }

    @Override
    public boolean syncAfter(int type, int direction, long bytes, int stream, int copyClass) {
        return isOutput(type, direction, copyClass);
    }

    @Override
    public int computeStream() {
        return 0;
    }
}
