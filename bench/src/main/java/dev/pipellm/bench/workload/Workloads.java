package dev.pipellm.bench.workload;

import dev.pipellm.bench.trace.GeneratedTraceSink;
import dev.pipellm.bench.trace.StepModel;
import dev.pipellm.bench.trace.TraceWriter;
import dev.pipellm.speculator.trace.AzureTrace;
import dev.pipellm.speculator.trace.FlexGenTrace;
import dev.pipellm.speculator.trace.KvModel;
import dev.pipellm.speculator.trace.LoraTrace;
import dev.pipellm.speculator.trace.OptModel;
import dev.pipellm.speculator.trace.SharedData;
import dev.pipellm.speculator.trace.TraceGenerator;
import dev.pipellm.speculator.trace.VllmSwapTrace;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The paper's three workloads as generated traces, at sizes this machine can replay: real per-copy sizes and copy
 * order, fewer decoder layers (each kept layer is a real one: the per-layer pattern repeats L times in the full
 * model, so a run with fewer layers has the same copies per layer and the same ratio of copy to compute per
 * layer; the embeddings, copied once per token, weigh more than in the full model). docs/benchmarks.md lists the
 * parameters.
 */
public final class Workloads {
    public static final List<String> NAMES = List.of("flexgen-opt13b", "flexgen-opt30b", "flexgen-opt66b",
            "flexgen-opt175b", "vllm-swap-conv", "lora-conv", "tiny");
    /** What {@code ./pipellm bench workloads} runs by default. */
    public static final List<String> DEFAULT = List.of("flexgen-opt30b", "vllm-swap-conv", "lora-conv");

    /** A generated workload: its generator, its step model, and the unit its throughput counts. */
    public record Workload(String name, String describe, String unit, long units, Map<String, String> parameters,
                           TraceGenerator generator, Supplier<StepModel> model) {
        /** Writes the trace to {@code file}; returns the writer's record count. */
        public long write(Path file) {
            final Map<String, String> meta = new LinkedHashMap<>();
            meta.put("source", "generated");
            meta.put("workload", name);
            meta.put("describe", describe);
            meta.put("unit", unit);
            meta.put("units", Long.toString(units));
            meta.put("compute_model", "roofline h100-sxm5 989.4 TFLOP/s 3.35 TB/s");
            parameters.forEach((k, v) -> meta.put("param." + k, v));
            try (TraceWriter w = TraceWriter.create(file, meta)) {
                generator.generate(new GeneratedTraceSink(w, model.get()));
                return w.records();
            }
        }
    }

    private Workloads() {
    }

    /** A workload argument that names a trace file (a path, or a name ending .pltrace) rather than a generator. */
    public static boolean isTraceFile(String name) {
        return name.contains("/") || name.endsWith(".pltrace");
    }

    /**
     * A trace file replayed as it is (a team's recorded server): its name, unit and units from the trace's metadata
     * where it has them (generated traces do), else the file's name and one "replay" per timed loop.
     */
    public static Workload ofTrace(Path file) {
        final Map<String, String> meta;
        try (dev.pipellm.bench.trace.TraceReader r = dev.pipellm.bench.trace.TraceReader.open(file)) {
            meta = r.meta();
        }
        final String unit = meta.getOrDefault("unit", "replay");
        long units = 1;
        try {
            units = Long.parseLong(meta.getOrDefault("units", "1"));
        } catch (NumberFormatException e) {
            units = 1;
        }
        final Map<String, String> params = new LinkedHashMap<>();
        params.put("trace", file.toString());
        params.put("source", meta.getOrDefault("source", "recorded"));
        meta.forEach((k, v) -> {
            if (k.startsWith("param.")) {
                params.put(k.substring("param.".length()), v);
            }
        });
        final String describe = meta.getOrDefault("describe", "trace " + file.getFileName() + " ("
                + meta.getOrDefault("command", meta.getOrDefault("source", "recorded")) + ")");
        return new Workload(file.toString(), describe, unit, units, params, null, null);
    }

    public static String accepted() {
        return String.join(", ", NAMES);
    }

    /**
     * @param shared the shared data directory (for the Azure traces), or null for the usual settings
     * @param quick  a shorter version (fewer tokens and requests) for the demo and smoke tests
     */
    public static Workload byName(String name, String shared, boolean quick, long seed) {
        return byName(name, shared, quick, seed, 1);
    }

    /**
     * @param layers decoder layers kept in a FlexGen workload (1 by default: the per-layer pattern is the same for
     *               any count, docs/benchmarks.md shows the ratios invariant); ignored by the others
     */
    public static Workload byName(String name, String shared, boolean quick, long seed, int layers) {
        final int gen = quick ? 2 : 3;
        return switch (name) {
            case "flexgen-opt13b" -> flexgen(name, OptModel.OPT_13B, layers, FLEXGEN_DEFAULT_BATCH, gen, seed);
            case "flexgen-opt30b" -> flexgen(name, OptModel.OPT_30B, layers, 72, gen, seed);
            case "flexgen-opt66b" -> flexgen(name, OptModel.OPT_66B, layers, FLEXGEN_DEFAULT_BATCH, gen, seed);
            case "flexgen-opt175b" -> flexgen(name, OptModel.OPT_175B, layers, 20, gen, seed);
            case "vllm-swap-conv" -> vllm(name, shared, quick ? 12 : 24, seed);
            case "lora-conv" -> lora(name, shared, quick ? 24 : 48, seed);
            case "tiny" -> tiny(seed);
            default -> throw new IllegalArgumentException("unknown workload '" + name + "' (accepted: " + accepted()
                    + ")");
        };
    }

    /** FlexGen's {@code --gpu-batch-size} default, for the models its benchmark scripts give no batch size for. */
    static final int FLEXGEN_DEFAULT_BATCH = 4;

    /**
     * FlexGen {@code --percent 0 100 100 0 100 0} (all weights on the CPU, pinned; KV cache and activations on the
     * GPU), prompt 512, at FlexGen's batch sizes: {@code benchmark/flexllmgen/bench_30b_1x4.sh} 72 (OPT-30B),
     * {@code bench_175b_1x4.sh} 20 (OPT-175B); the default 4 for OPT-13B and OPT-66B, for which
     * research/workloads.md has no script. (Those scripts also move the KV cache to the CPU; here it stays on the
     * GPU, so the copies are the weights alone: the part of the traffic PipeLLM predicts.)
     */
    static Workload flexgen(String name, OptModel full, int layers, int batch, int genLen, long seed) {
        if (layers < 1 || layers > full.layers()) {
            throw new IllegalArgumentException("--layers " + layers + " is not valid for " + full.name()
                    + ": expected 1 to " + full.layers());
        }
        final OptModel m = new OptModel(full.name(), layers, full.hidden(), full.vocab(), full.positionRows());
        final int prompt = 512;
        final FlexGenTrace.Params p = new FlexGenTrace.Params(m, 0, 100, false, batch, prompt, genLen, 1, seed);
        final Map<String, String> params = new LinkedHashMap<>();
        params.put("model", full.name());
        params.put("decoder_layers", layers + " of " + full.layers());
        params.put("percent", "0 100 100 0 100 0");
        params.put("gpu_batch_size", Integer.toString(batch));
        params.put("prompt_len", Integer.toString(prompt));
        params.put("gen_len", Integer.toString(genLen));
        return new Workload(name, "FlexGen " + full.name() + " weight offloading, " + layers + " of " + full.layers()
                + " decoder layers, batch " + batch + ", prompt " + prompt + ", " + genLen + " tokens", "token",
                (long) genLen * batch, params, new FlexGenTrace(p),
                () -> new FlexGenStepModel(m, batch, prompt, genLen));
    }

    /** vLLM V0 swap preemption, Llama-2-13B KV geometry (4 of 40 layers), 128 GPU blocks, Azure conv arrivals. */
    static Workload vllm(String name, String shared, int requests, long seed) {
        final AzureTrace trace = AzureTrace.read(SharedData.azureTrace(shared, SharedData.AZURE_CONV));
        final int layers = 4;
        final KvModel kv = new KvModel("llama-2-13b", layers, 5120, 4096);
        final int gpuBlocks = 128;
        final long swapSpace = 1L << 30;
        final VllmSwapTrace.Params p = new VllmSwapTrace.Params(kv, trace, requests, gpuBlocks, swapSpace, 16, 256,
                4096, 1.0, 0.012, 0.00025, 0.00012, seed);
        final Map<String, String> params = new LinkedHashMap<>();
        params.put("model", "llama-2-13b");
        params.put("layers", layers + " of 40");
        params.put("gpu_blocks", Integer.toString(gpuBlocks));
        params.put("block_size", "16");
        params.put("swap_space_bytes", Long.toString(swapSpace));
        params.put("requests", Integer.toString(requests));
        params.put("arrivals", "azure-llm-2023 conv");
        final double paramsKept = 12.0 * 5120 * 5120 * layers;
        return new Workload(name, "vLLM V0 swap preemption, Llama-2-13B KV (" + layers + " of 40 layers), "
                + gpuBlocks + " GPU blocks, first " + requests + " Azure conv requests", "request", requests, params,
                new VllmSwapTrace(p), () -> new DecodeStepModel(paramsKept, 2.0 * 2 * 5120 * layers, 1024));
    }

    /** S-LoRA-style adapter loading, Llama-7B dims (8 of 32 layers), rank 16, 32 adapters, power law 0.3. */
    static Workload lora(String name, String shared, int requests, long seed) {
        final AzureTrace trace = AzureTrace.read(SharedData.azureTrace(shared, SharedData.AZURE_CONV));
        final int layers = 8;
        final LoraTrace.Params p = new LoraTrace.Params(trace, requests, layers, 4096, 16, 32, 0.3, 4, 16, 64, 0.025,
                false, seed);
        final Map<String, String> params = new LinkedHashMap<>();
        params.put("model", "llama-7b");
        params.put("layers", layers + " of 32");
        params.put("rank", "16");
        params.put("adapters", "32");
        params.put("alpha", "0.3");
        params.put("max_loras", "4");
        params.put("requests", Integer.toString(requests));
        params.put("arrivals", "azure-llm-2023 conv");
        final double paramsKept = 12.0 * 4096 * 4096 * layers;
        return new Workload(name, "LoRA adapter swapping, Llama-7B (" + layers + " of 32 layers), rank 16, 32 "
                + "adapters (power law 0.3), 4 GPU slots, first " + requests + " Azure conv requests", "request",
                requests, params, new LoraTrace(p), () -> new DecodeStepModel(paramsKept, 2.0 * 2 * 4096 * layers,
                        512));
    }

    /** FlexGen on a toy OPT (2 layers, hidden 256): a few MiB, for tests. */
    static Workload tiny(long seed) {
        final OptModel m = new OptModel("opt-tiny", 2, 256, 1024, 2050);
        final FlexGenTrace.Params p = new FlexGenTrace.Params(m, 0, 100, false, 2, 16, 3, 1, seed);
        return new Workload("tiny", "FlexGen toy OPT (2 layers, hidden 256), batch 2, prompt 16, 3 tokens", "token",
                6, Map.of("model", "opt-tiny"), new FlexGenTrace(p), () -> new FlexGenStepModel(m, 2, 16, 3));
    }
}
