package dev.pipellm.speculator.trace;

/**
 * KV-cache geometry of a decoder for vLLM (workloads.md 1.6): {@code layers}, {@code kvDim = H_kv * D}, fp16.
 * One block holds {@code blockSize} tokens; the swap copy unit is one (layer, K or V, block):
 * {@code S = blockSize * kvDim * 2} bytes.
 */
public record KvModel(String name, int layers, int kvDim, int maxModelLen) {
    public static final KvModel LLAMA_2_7B = new KvModel("llama-2-7b", 32, 4096, 4096);
    public static final KvModel LLAMA_2_13B = new KvModel("llama-2-13b", 40, 5120, 4096);
    public static final KvModel OPT_13B = new KvModel("opt-13b", 40, 5120, 2048);

    public long copyBytes(int blockSize) {
        return (long) blockSize * kvDim * 2;
    }

    /** cache_block_size = dtype_size * L * 2 * bs * H_kv * D. */
    public long blockBytesAllLayers(int blockSize) {
        return copyBytes(blockSize) * 2 * layers;
    }
}
