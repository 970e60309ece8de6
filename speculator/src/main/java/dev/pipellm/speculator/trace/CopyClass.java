package dev.pipellm.speculator.trace;

/** What a traced copy carries, for per-class reporting (the speculator never sees it). */
public final class CopyClass {
    public static final int NONE = 0;
    /** Model weights streamed from host memory. */
    public static final int WEIGHT = 1;
    /** KV-cache blocks swapped out/in by preemption (vLLM V0). */
    public static final int KV_SWAP = 2;
    /** KV cache loaded/stored by an offloading runtime (FlexGen), through relay buffers. */
    public static final int KV_CACHE = 3;
    /** LoRA adapter weights. */
    public static final int ADAPTER = 4;
    /** Small fresh inputs the CPU prepares each step (token ids, positions, block tables, masks...). */
    public static final int INPUT = 5;
    /** Small outputs read back each step (sampled token ids, stop checks). */
    public static final int OUTPUT = 6;
    public static final int COUNT = 7;

    private CopyClass() {
    }

    public static String name(int copyClass) {
        return switch (copyClass) {
            case NONE -> "none";
            case WEIGHT -> "weight";
            case KV_SWAP -> "kv_swap";
            case KV_CACHE -> "kv_cache";
            case ADAPTER -> "adapter";
            case INPUT -> "input";
            case OUTPUT -> "output";
            default -> "unknown";
        };
    }
}
