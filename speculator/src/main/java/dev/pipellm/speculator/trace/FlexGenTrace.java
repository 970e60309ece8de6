package dev.pipellm.speculator.trace;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * FlexGen (FMInference/FlexLLMGen {@code flex_opt.py}) weight offloading, as workloads.md 2.1 describes it:
 * layer list {@code InputEmbed, (SelfAttention_i, MLP_i) for i < L, OutputEmbed}; per tensor placement by the
 * size-midpoint rule over {@code [disk%, cpu%, gpu%]}; the single-GPU-batch overlapped loop
 * ({@code generation_loop_overlap_single_batch}):
 * <pre>
 *   prologue: load_weight(0, 0); sync
 *   for token i: update_attention_mask(i)            # i == 0: H2D prompt mask (fresh)
 *     for layer j: load_weight(i, j+1)               # one layer ahead, wraps to (i+1, 0); H2D pinned weights
 *                  load_cache(i, j+1)                # cache on CPU: K, V prefix via pin_memory() relays (fresh)
 *                  load_hidden(i, j)                 # j == 0: H2D token ids (fresh)
 *                  compute; store_cache(i, j-1)      # cache on CPU: D2H K, V (prefill via copy-thread relays)
 *                  store_hidden(i, j); sync          # last layer: D2H sampled ids
 * </pre>
 * Weights are pinned ({@code --pin-weight 1}): their host address is fixed for the process, each tensor its own
 * caching-allocator block (power-of-two rounded). Activations stay on the GPU ({@code a_gpu = 100}). Not
 * modelled: disk offload ({@code w_disk > 0}), {@code --num-gpu-batches > 1} (zig-zag), compressed cache,
 * {@code --cpu-cache-compute}: the constructor rejects them rather than emit a different trace.
 *
 * <p>Steady state (markers {@link TraceGenerator#MARK_STEADY_STATE} and {@link TraceGenerator#MARK_STEADY_STATE_END})
 * runs from the second token of each batch to the end of its last token: one full period has been seen, and the
 * next batch's prologue and prefill (new prompt mask, new token-id sizes) are a re-lock, not steady state.
 */
public final class FlexGenTrace implements TraceGenerator {
    static final int STREAM_DEFAULT = 0;
    static final int STREAM_LOAD_WEIGHT = 1;
    static final int STREAM_LOAD_CACHE = 2;
    static final int STREAM_STORE_CACHE = 3;
    private static final int COPY_THREADS = 4;
    private static final long COPY_THREAD_RELAY_BYTES = 2L << 30;

    /** Parameters; {@code wDiskPercent = 100 - wGpuPercent - wCpuPercent} must be 0. */
    public record Params(OptModel model, int wGpuPercent, int wCpuPercent, boolean cacheOnCpu, int gpuBatchSize,
                         int promptLen, int genLen, int batches, long seed) {
        public Params {
            if (wGpuPercent < 0 || wCpuPercent < 0 || wGpuPercent + wCpuPercent != 100) {
                throw new IllegalArgumentException("FlexGen weights must be split between GPU and CPU only "
                        + "(w_gpu + w_cpu = 100; disk offload is not modelled), got " + wGpuPercent + "/"
                        + wCpuPercent);
            }
            if (gpuBatchSize < 1 || promptLen < 1 || genLen < 1 || batches < 1) {
                throw new IllegalArgumentException("FlexGen batch size, prompt, gen length and batches must be >= 1");
            }
            if (promptLen + genLen > model.positionRows() - 2) {
                throw new IllegalArgumentException("prompt + gen length exceeds OPT's 2048 positions");
            }
        }
    }

    /** One weight tensor of a layer. */
    record Weight(String name, long bytes, boolean onCpu, boolean vector) {
    }

    /** One entry of FlexGen's layer list. */
    record Layer(String kind, int index, List<Weight> weights) {
        boolean attention() {
            return kind.equals("SelfAttention");
        }
    }

    private final Params params;
    private final List<Layer> layers;

    public FlexGenTrace(Params params) {
        this.params = params;
        this.layers = buildLayers(params);
    }

    /** FlexGen README's OPT-30B example placement {@code --percent 0 100 100 0 100 0} on any model. */
    public static Params allWeightsOnCpu(OptModel model, long seed) {
        return new Params(model, 0, 100, false, 4, 512, 32, 2, seed);
    }

    @Override
    public String name() {
        return "flexgen-" + params.model().name();
    }

    @Override
    public String describe() {
        return "FlexGen " + params.model().name() + " --percent " + params.wGpuPercent() + " " + params.wCpuPercent()
                + (params.cacheOnCpu() ? " 0 100" : " 100 0") + " 100 0 --gpu-batch-size " + params.gpuBatchSize()
                + " --prompt-len " + params.promptLen() + " --gen-len " + params.genLen() + ", "
                + params.batches() + " batch(es)";
    }

    List<Layer> layers() {
        return layers;
    }

    static List<Layer> buildLayers(Params p) {
        final long h = p.model().hidden();
        final long e = OptModel.BYTES_PER_ELEMENT;
        final List<Layer> list = new ArrayList<>();
        list.add(place("InputEmbed", 0, p, new String[] {"w_token", "w_pos"},
                new long[] {p.model().vocab() * h * e, p.model().positionRows() * h * e}, new boolean[] {false, false}));
        for (int i = 0; i < p.model().layers(); i++) {
            list.add(place("SelfAttention", i, p,
                    new String[] {"w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_out", "b_out", "w_ln", "b_ln"},
                    new long[] {h * h * e, h * e, h * h * e, h * e, h * h * e, h * e, h * h * e, h * e, h * e, h * e},
                    new boolean[] {false, true, false, true, false, true, false, true, true, true}));
            list.add(place("MLP", i, p, new String[] {"wi", "bi", "wo", "bo", "w_ln", "b_ln"},
                    new long[] {4 * h * h * e, 4 * h * e, 4 * h * h * e, h * e, h * e, h * e},
                    new boolean[] {false, true, false, true, true, true}));
        }
        list.add(place("OutputEmbed", 0, p, new String[] {"w_ln", "b_ln", "w_token"},
                new long[] {h * e, h * e, p.model().vocab() * h * e}, new boolean[] {true, true, false}));
        return list;
    }

    /** init_weight_list: a tensor's home is where its size midpoint falls on [disk%, cpu%, gpu%]. */
    private static Layer place(String kind, int index, Params p, String[] names, long[] sizes, boolean[] vector) {
        long total = 0;
        for (long s : sizes) {
            total += s;
        }
        final List<Weight> weights = new ArrayList<>();
        long cumulative = 0;
        for (int i = 0; i < sizes.length; i++) {
            cumulative += sizes[i];
            final double midPercent = (cumulative - sizes[i] / 2.0) / total * 100.0;
            // get_choice over cumsum([disk=0, cpu, gpu]): first bucket whose cumulative bound exceeds the midpoint.
            final boolean onCpu = midPercent < p.wCpuPercent();
            weights.add(new Weight(names[i], sizes[i], onCpu, vector[i]));
        }
        return new Layer(kind, index, weights);
    }

    /** H2D weight bytes and copies per generated token (whole batch), for checks against workloads.md 2.1. */
    public long[] weightBytesAndCopiesPerToken() {
        long bytes = 0;
        long copies = 0;
        for (Layer l : layers) {
            for (Weight w : l.weights()) {
                if (w.onCpu()) {
                    bytes += w.bytes();
                    copies++;
                }
            }
        }
        return new long[] {bytes, copies};
    }

    @Override
    public void generate(TraceSink sink) {
        final Params p = params;
        final SplittableRandom random = new SplittableRandom(p.seed());
        final HostAddressSpace space = new HostAddressSpace(0x7f10_0000_0000L, random.split());
        final Emitter out = new Emitter(sink, 1);
        final int n = layers.size();
        final long h = p.model().hidden();
        final long e = OptModel.BYTES_PER_ELEMENT;
        final long rowBytes = p.gpuBatchSize() * h * e;
        final int seqRows = p.promptLen() + p.genLen() - 1;

        // Pinned weights: one caching-allocator block each (power-of-two rounded), fixed for the process.
        final long[][] weightHost = new long[n][];
        for (int j = 0; j < n; j++) {
            final List<Weight> ws = layers.get(j).weights();
            weightHost[j] = new long[ws.size()];
            for (int w = 0; w < ws.size(); w++) {
                if (ws.get(w).onCpu()) {
                    final long rounded = HostAddressSpace.powerOfTwoCeil(ws.get(w).bytes());
                    weightHost[j][w] = space.allocate(rounded);
                    out.hostAlloc(weightHost[j][w], rounded);
                }
            }
        }
        // KV cache homes on CPU (not pinned), per attention layer: K and V of (seq, b * n_head, head_dim).
        final long[] kHome = new long[n];
        final long[] vHome = new long[n];
        if (p.cacheOnCpu()) {
            for (int j = 0; j < n; j++) {
                if (layers.get(j).attention()) {
                    kHome[j] = space.allocate(seqRows * rowBytes);
                    vHome[j] = space.allocate(seqRows * rowBytes);
                }
            }
        }
        final long[] copyThreadRelay = new long[COPY_THREADS];
        for (int t = 0; t < COPY_THREADS; t++) {
            copyThreadRelay[t] = space.allocate(COPY_THREAD_RELAY_BYTES);
            out.hostAlloc(copyThreadRelay[t], COPY_THREAD_RELAY_BYTES);
        }
        final CachingHostAllocatorModel pinned = new CachingHostAllocatorModel(space);
        final CachingHostAllocatorModel pageable = new CachingHostAllocatorModel(space);
        final long deviceBase = 0x7e00_0000_0000L;

        for (int batch = 0; batch < p.batches(); batch++) {
            final List<long[]> relaysThisLayer = new ArrayList<>();
            final List<long[]> relaysPrevLayer = new ArrayList<>();
            loadWeight(out, weightHost, 0, deviceBase);
            out.sync(-1);
            for (int i = 0; i < p.genLen(); i++) {
                if (i == 1) {
                    out.mark(MARK_STEADY_STATE);
                }
                if (i == 0) {
                    // update_attention_mask(0): (b, prompt) bool mask built on the CPU from the prompt.
                    final long bytes = (long) p.gpuBatchSize() * p.promptLen();
                    freshH2d(out, pageable, bytes, deviceBase + (1L << 40), STREAM_DEFAULT, CopyClass.INPUT);
                }
                for (int j = 0; j < n; j++) {
                    // load_weight(i, j+1): wraps to (i+1, 0); nothing after the last token.
                    if (j + 1 < n) {
                        loadWeight(out, weightHost, j + 1, deviceBase + ((long) ((j + 1) & 1) << 36));
                    } else if (i + 1 < p.genLen()) {
                        loadWeight(out, weightHost, 0, deviceBase);
                    }
                    // load_cache(i, j+1): none at prefill (i == 0) or after the wrap into the next token's layer 0.
                    if (p.cacheOnCpu() && i > 0 && j + 1 < n && layers.get(j + 1).attention()) {
                        final long bytes = (p.promptLen() + i) * rowBytes;
                        for (int part = 0; part < 2; part++) {
                            // src.pin_memory(): CPU memcpy from the home into a caching-allocator relay, then H2D.
                            final long relay = pinned.allocate(bytes);
                            out.hostWrite(relay, bytes);
                            out.h2d(relay, deviceBase + (2L << 40) + part * (1L << 38), bytes, STREAM_LOAD_CACHE,
                                    CopyClass.KV_CACHE);
                            relaysThisLayer.add(new long[] {relay, bytes});
                        }
                    }
                    // load_hidden(i, j): the first layer takes token ids from the CPU (int32).
                    if (j == 0) {
                        final long bytes = (long) p.gpuBatchSize() * (i == 0 ? p.promptLen() : 1) * 4;
                        freshH2d(out, pageable, bytes, deviceBase + (3L << 40), STREAM_DEFAULT, CopyClass.INPUT);
                    }
                    // store_cache(i, j-1): wraps to (i-1, last layer).
                    storeCache(out, p, j - 1 >= 0 ? i : i - 1, j - 1 >= 0 ? j - 1 : n - 1, kHome, vHome,
                            copyThreadRelay, rowBytes, random, deviceBase);
                    // store_hidden(i, j): the last layer's output ids go back to the CPU (int64).
                    if (j == n - 1) {
                        final long bytes = (long) p.gpuBatchSize() * 8;
                        final long host = pageable.allocate(bytes);
                        out.d2h(host, deviceBase + (4L << 40), bytes, STREAM_DEFAULT, CopyClass.OUTPUT);
                        pageable.free(host, bytes);
                    }
                    out.sync(-1);
                    // A relay dies when the layer that read it has run, i.e. after the next layer's sync.
                    for (long[] r : relaysPrevLayer) {
                        pinned.free(r[0], r[1]);
                    }
                    relaysPrevLayer.clear();
                    relaysPrevLayer.addAll(relaysThisLayer);
                    relaysThisLayer.clear();
                }
            }
            out.mark(MARK_STEADY_STATE_END);
            // Epilogue: store_cache(gen-1, last layer) is OutputEmbed (no cache); sync.
            out.sync(-1);
            for (long[] r : relaysPrevLayer) {
                pinned.free(r[0], r[1]);
            }
        }
    }

    private void loadWeight(Emitter out, long[][] weightHost, int j, long device) {
        final List<Weight> ws = layers.get(j).weights();
        long offset = 0;
        for (int w = 0; w < ws.size(); w++) {
            final Weight weight = ws.get(w);
            if (weight.onCpu()) {
                out.h2d(weightHost[j][w], device + offset, weight.bytes(), STREAM_LOAD_WEIGHT, CopyClass.WEIGHT);
                offset += (weight.bytes() + 511) & ~511L;
            }
        }
    }

    private static void freshH2d(Emitter out, CachingHostAllocatorModel pageable, long bytes, long device, int stream,
                                 int copyClass) {
        final long host = pageable.allocate(bytes);
        out.hostWrite(host, bytes);
        out.h2d(host, device, bytes, stream, copyClass);
        pageable.free(host, bytes);
    }

    private void storeCache(Emitter out, Params p, int i, int j, long[] kHome, long[] vHome, long[] copyThreadRelay,
                            long rowBytes, SplittableRandom random, long deviceBase) {
        if (i < 0 || !p.cacheOnCpu() || !layers.get(j).attention()) {
            return;
        }
        for (int part = 0; part < 2; part++) {
            if (i == 0) {
                // Prefill: prompt rows through one of 4 copy threads' pinned relays (which thread: queue order).
                final long bytes = p.promptLen() * rowBytes;
                final long relay = copyThreadRelay[random.nextInt(COPY_THREADS)];
                out.d2h(relay, deviceBase + (5L << 40), bytes, STREAM_STORE_CACHE, CopyClass.KV_CACHE);
            } else {
                // Decode: one row straight into the (pageable) home, at row prompt + i - 1.
                final long home = (part == 0 ? kHome[j] : vHome[j]) + (p.promptLen() + i - 1L) * rowBytes;
                out.d2h(home, deviceBase + (5L << 40), rowBytes, STREAM_STORE_CACHE, CopyClass.KV_CACHE);
            }
        }
    }
}
