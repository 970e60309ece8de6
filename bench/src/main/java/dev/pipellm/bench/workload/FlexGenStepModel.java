package dev.pipellm.bench.workload;

import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.trace.OptModel;
import dev.pipellm.bench.trace.StepModel;

/**
 * Compute of FlexGen's layer list ({@code InputEmbed, (SelfAttention_i, MLP_i) for i < L, OutputEmbed}) for
 * {@link dev.pipellm.speculator.trace.FlexGenTrace}: that generator ends every layer of every token with one
 * device-wide sync (after a prologue sync per batch, before an epilogue sync), so the k-th layer sync of a batch
 * follows layer {@code k % n} of token {@code k / n}; the layer's compute is enqueued on FlexGen's compute stream
 * (0) right before that sync, after the copies of the next layer were issued (load one layer ahead).
 * <p>Per layer, fp16, tokens = batch x prompt at token 0 (prefill), batch after it; s = prompt + i:
 * <ul>
 *   <li>SelfAttention: FLOPs 2 x 4h^2 x tokens + 4 x batch x s x h (scores and values, decode) or
 *       4 x batch x prompt^2 x h (prefill); bytes 8h^2 (weights) + 4 x batch x s x h (K and V read);</li>
 *   <li>MLP: FLOPs 2 x 8h^2 x tokens; bytes 16h^2;</li>
 *   <li>InputEmbed: bytes 2 x tokens x h (a gather); OutputEmbed: FLOPs 2 x vocab x h x batch, bytes 2 x vocab x h.</li>
 * </ul>
 */
final class FlexGenStepModel implements StepModel {
    private final OptModel model;
    private final int batch;
    private final int prompt;
    private final int genLen;
    private final int layersInList;
    private int position; // 0: before the prologue sync; 1..genLen*n: layer syncs; then the epilogue

    FlexGenStepModel(OptModel model, int batch, int prompt, int genLen) {
        this.model = model;
        this.batch = batch;
        this.prompt = prompt;
        this.genLen = genLen;
        this.layersInList = 2 * model.layers() + 2;
    }

    @Override
    public long computeBefore(int type, int direction, long bytes, int stream, int copyClass) {
        if (type != EventType.SYNC || stream >= 0) {
            return 0;
        }
        final int layerSyncs = genLen * layersInList;
        if (position == 0) {
            position = 1;
            return 0;
        }
        if (position > layerSyncs) {
            position = 0; // epilogue: the next batch starts with a prologue
            return 0;
        }
        final int k = position - 1;
        position++;
        return layerNs(k / layersInList, k % layersInList);
    }

    long layerNs(int token, int j) {
        final double h = model.hidden();
        final double tokens = token == 0 ? (double) batch * prompt : batch;
        final double s = prompt + token;
        if (j == 0) {
            return Roofline.ns(0, 2 * tokens * h);
        }
        if (j == layersInList - 1) {
            return Roofline.ns(2.0 * model.vocab() * h * batch, 2.0 * model.vocab() * h);
        }
        if ((j - 1) % 2 == 0) {
            final double attn = token == 0 ? 4.0 * batch * prompt * prompt * h : 4.0 * batch * s * h;
            return Roofline.ns(2 * 4 * h * h * tokens + attn, 8 * h * h + 4 * batch * s * h);
        }
        return Roofline.ns(2 * 8 * h * h * tokens, 16 * h * h);
    }

    @Override
    public boolean syncAfter(int type, int direction, long bytes, int stream, int copyClass) {
        return false;
    }

    @Override
    public int computeStream() {
        return 0;
    }
}
