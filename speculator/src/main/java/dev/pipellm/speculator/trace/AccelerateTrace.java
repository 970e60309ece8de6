package dev.pipellm.speculator.trace;

import java.util.SplittableRandom;

/**
 * HF accelerate CPU offload ({@code AlignDevicesHook(offload=True)}, workloads.md 2.2) of an OPT decoder, as in
 * FlexGen's baseline {@code hf_opt.py}: embeddings and lm_head stay on the GPU, {@code model.decoder.layers} and
 * the final layer norm live in CPU memory. Before each module's forward every parameter is copied with
 * {@code .to(device)} (blocking: {@code cudaMemcpyAsync} + {@code cudaStreamSynchronize}), weight then bias, in
 * forward-call order: {@code self_attn_layer_norm, q_proj, k_proj, v_proj, out_proj, final_layer_norm, fc1,
 * fc2}; after the forward the GPU copy is dropped (nothing copied back). The host addresses are the same every
 * forward (pageable state-dict tensors).
 *
 * <p>Each {@code generate()} call copies the prompt's {@code input_ids} and {@code attention_mask} (int64, fresh)
 * and reads back the stop check (one bool, D2H) after every forward. A {@link TraceGenerator#MARK_STEADY_STATE}
 * marker follows the first forward.
 */
public final class AccelerateTrace implements TraceGenerator {
    public record Params(OptModel model, int batchSize, int promptLen, int genLen, int batches, long seed) {
        public Params {
            if (batchSize < 1 || promptLen < 1 || genLen < 1 || batches < 1) {
                throw new IllegalArgumentException("accelerate batch size, prompt, gen length, batches must be >= 1");
            }
        }
    }

    private static final String[] MODULES = {
        "self_attn_layer_norm", "q_proj", "k_proj", "v_proj", "out_proj", "final_layer_norm", "fc1", "fc2"};

    private final Params params;

    public AccelerateTrace(Params params) {
        this.params = params;
    }

    @Override
    public String name() {
        return "accelerate-" + params.model().name();
    }

    @Override
    public String describe() {
        return "HF accelerate offload, " + params.model().name() + " decoder on CPU, batch " + params.batchSize()
                + ", prompt " + params.promptLen() + ", " + params.genLen() + " new tokens, " + params.batches()
                + " generate() call(s)";
    }

    /** Parameter sizes of one decoder layer, in copy order (weight, bias per module). */
    static long[] layerParameterBytes(OptModel m) {
        final long h = m.hidden();
        final long e = OptModel.BYTES_PER_ELEMENT;
        return new long[] {
            h * e, h * e,                 // self_attn_layer_norm
            h * h * e, h * e,             // q_proj
            h * h * e, h * e,             // k_proj
            h * h * e, h * e,             // v_proj
            h * h * e, h * e,             // out_proj
            h * e, h * e,                 // final_layer_norm
            4 * h * h * e, 4 * h * e,     // fc1
            4 * h * h * e, h * e          // fc2
        };
    }

    @Override
    public void generate(TraceSink sink) {
        final Params p = params;
        final SplittableRandom random = new SplittableRandom(p.seed());
        final HostAddressSpace space = new HostAddressSpace(0x7f20_0000_0000L, random.split());
        final Emitter out = new Emitter(sink, 1);
        final long[] sizes = layerParameterBytes(p.model());
        final int layers = p.model().layers();
        final long[][] host = new long[layers][sizes.length];
        for (int l = 0; l < layers; l++) {
            for (int k = 0; k < sizes.length; k++) {
                host[l][k] = space.allocate(sizes[k]);
            }
        }
        final long h = p.model().hidden();
        final long[] finalNorm = {space.allocate(h * 2), space.allocate(h * 2)};
        final CachingHostAllocatorModel pageable = new CachingHostAllocatorModel(space);
        final long deviceBase = 0x7d00_0000_0000L;
        final int stream = 0;
        for (int batch = 0; batch < p.batches(); batch++) {
            final long promptBytes = (long) p.batchSize() * p.promptLen() * 8;
            for (int t = 0; t < 2; t++) { // input_ids, attention_mask
                final long a = pageable.allocate(promptBytes);
                out.hostWrite(a, promptBytes);
                out.h2d(a, deviceBase + (1L << 40) + t * (1L << 30), promptBytes, stream, CopyClass.INPUT);
                out.sync(stream);
                pageable.free(a, promptBytes);
            }
            for (int step = 0; step < p.genLen(); step++) {
                if (step == 1) {
                    out.mark(MARK_STEADY_STATE);
                }
                for (int l = 0; l < layers; l++) {
                    long device = deviceBase + ((long) (l & 1) << 36);
                    for (int k = 0; k < sizes.length; k++) {
                        out.h2d(host[l][k], device, sizes[k], stream, CopyClass.WEIGHT);
                        out.sync(stream);
                        device += (sizes[k] + 511) & ~511L;
                    }
                }
                for (int k = 0; k < 2; k++) {
                    out.h2d(finalNorm[k], deviceBase + (2L << 40) + k * 4096, h * 2, stream, CopyClass.WEIGHT);
                    out.sync(stream);
                }
                // Stopping criteria: unfinished_sequences.max() == 0 reads one bool back.
                final long flag = pageable.allocate(1);
                out.d2h(flag, deviceBase + (3L << 40), 1, stream, CopyClass.OUTPUT);
                out.sync(stream);
                pageable.free(flag, 1);
            }
            out.mark(MARK_STEADY_STATE_END);
        }
    }
}
