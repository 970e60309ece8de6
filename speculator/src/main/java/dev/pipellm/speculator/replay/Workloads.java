package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.trace.AccelerateTrace;
import dev.pipellm.speculator.trace.AzureTrace;
import dev.pipellm.speculator.trace.CopyClass;
import dev.pipellm.speculator.trace.FlexGenTrace;
import dev.pipellm.speculator.trace.LoraTrace;
import dev.pipellm.speculator.trace.OptModel;
import dev.pipellm.speculator.trace.SharedData;
import dev.pipellm.speculator.trace.TraceGenerator;
import dev.pipellm.speculator.trace.VllmSwapTrace;
import dev.pipellm.speculator.trace.WobbleTrace;

import java.util.List;

/** The named workloads of the replay tool, with the parameters documented in docs/speculator.md. */
public final class Workloads {
    /** A workload: its generator(s) and which copy class its headline coverage is about. */
    public record Workload(String name, int targetClass, TraceGenerator generator, TraceGenerator oracle) {
    }

    public static final List<String> NAMES = List.of(
            "flexgen-opt30b", "flexgen-opt66b", "flexgen-opt175b", "flexgen-opt30b-kvcpu", "accelerate-opt30b",
            "vllm-swap-conv", "vllm-swap-code", "lora-conv", "wobble-jitter", "wobble-moe-0.1", "wobble-moe-0.5",
            "wobble-random-reuse", "wobble-runs", "wobble-model-switch");

    private Workloads() {
    }

    /**
     * @param shared   --shared option or null (then -Dpipellm.shared.dir, PIPELLM_SHARED_DIR, the default)
     * @param requests requests replayed from the Azure traces
     */
    public static Workload create(String name, String shared, int requests, long seed) {
        return switch (name) {
            case "flexgen-opt30b" -> flexgen(name, OptModel.OPT_30B, seed);
            case "flexgen-opt66b" -> flexgen(name, OptModel.OPT_66B, seed);
            case "flexgen-opt175b" -> flexgen(name, OptModel.OPT_175B, seed);
            case "flexgen-opt30b-kvcpu" -> new Workload(name, CopyClass.WEIGHT, new FlexGenTrace(
                    new FlexGenTrace.Params(OptModel.OPT_30B, 20, 80, true, 32, 512, 32, 1, seed)), null);
            case "accelerate-opt30b" -> new Workload(name, CopyClass.WEIGHT, new AccelerateTrace(
                    new AccelerateTrace.Params(OptModel.OPT_30B, 4, 512, 32, 2, seed)), null);
            case "vllm-swap-conv" -> vllm(name, shared, SharedData.AZURE_CONV, requests, seed);
            case "vllm-swap-code" -> vllm(name, shared, SharedData.AZURE_CODE, requests, seed);
            case "lora-conv" -> {
                final AzureTrace trace = AzureTrace.read(SharedData.azureTrace(shared, SharedData.AZURE_CONV));
                yield new Workload(name, CopyClass.ADAPTER,
                        new LoraTrace(LoraTrace.Params.defaults(trace, requests, false, seed)),
                        new LoraTrace(LoraTrace.Params.defaults(trace, requests, true, seed)));
            }
            case "wobble-jitter" -> wobble(name, WobbleTrace.Kind.JITTER, 24, 16L << 20, 40, 0.02, seed);
            case "wobble-moe-0.1" -> wobble(name, WobbleTrace.Kind.MOE, 24, 16L << 20, 40, 0.1, seed);
            case "wobble-moe-0.5" -> wobble(name, WobbleTrace.Kind.MOE, 24, 16L << 20, 40, 0.5, seed);
            case "wobble-random-reuse" -> wobble(name, WobbleTrace.Kind.RANDOM_REUSE, 16, 4L << 20, 200, 0, seed);
            case "wobble-runs" -> wobble(name, WobbleTrace.Kind.RUNS, 32, 1L << 20, 200, 0, seed);
            case "wobble-model-switch" -> wobble(name, WobbleTrace.Kind.MODEL_SWITCH, 24, 16L << 20, 40, 0, seed);
            default -> throw new IllegalArgumentException("unknown workload '" + name + "'; known: "
                    + String.join(", ", NAMES) + ", all");
        };
    }

    private static Workload flexgen(String name, OptModel model, long seed) {
        return new Workload(name, CopyClass.WEIGHT, new FlexGenTrace(FlexGenTrace.allWeightsOnCpu(model, seed)),
                null);
    }

    private static Workload wobble(String name, WobbleTrace.Kind kind, int layers, long bytes, int steps, double rate,
                                   long seed) {
        return new Workload(name, kind == WobbleTrace.Kind.RUNS ? CopyClass.KV_SWAP : CopyClass.WEIGHT,
                new WobbleTrace(new WobbleTrace.Params(kind, layers, bytes, steps, rate, seed)), null);
    }

    private static Workload vllm(String name, String shared, String file, int requests, long seed) {
        final AzureTrace trace = AzureTrace.read(SharedData.azureTrace(shared, file));
        return new Workload(name, CopyClass.KV_SWAP,
                new VllmSwapTrace(VllmSwapTrace.Params.defaults(trace, requests, seed)), null);
    }
}
