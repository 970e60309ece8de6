package dev.pipellm.speculator.trace;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Multi-LoRA serving with adapter swapping (workloads.md 3.2, 3.4, 3.5, 7): requests arrive as in an Azure 2023
 * trace (arrival times and lengths); each picks an adapter S-LoRA style, {@code int(np.random.power(alpha) *
 * num_adapters)} (power-law popularity); the GPU holds {@code maxLoras} adapters, evicted least recently used
 * (vLLM's {@code LRUCacheLoRAModelManager}, touched by every step that uses them); a batch holds at most
 * {@code maxLoras} distinct adapters (a request whose adapter does not fit waits, queue order kept).
 *
 * <p>Copies of an adapter load follow S-LoRA's {@code InferAdapter.load_adapters}: per layer one pinned host
 * tensor {@code w_combined_home} of {@code 16 * r * h} bytes (q,k,v,o A's and B's), copied whole to the GPU for
 * {@code load_lora_A} (layers 0..L-1) and again for {@code load_lora_B}: {@code 2L} H2D copies, the host address
 * list repeated twice. Each step also issues the small per-step inputs ({@link StepInputs}).
 *
 * <p>With {@code oracleHints}, an oracle that knows the next request's adapter announces the load's copies as
 * hints just before it (for the coverage-versus-oracle comparison).
 */
public final class LoraTrace implements TraceGenerator {
    public record Params(AzureTrace trace, int maxRequests, int layers, int hidden, int rank, int numAdapters,
                         double alpha, int maxLoras, int maxNumSeqs, int maxOutputTokens, double stepSeconds,
                         boolean oracleHints, long seed) {
        public Params {
            if (layers < 1 || hidden < 1 || rank < 1 || numAdapters < 1 || alpha <= 0 || maxLoras < 1
                    || maxNumSeqs < 1 || maxRequests < 1 || maxOutputTokens < 1 || stepSeconds <= 0) {
                throw new IllegalArgumentException("LoRA trace parameters must be positive");
            }
        }

        /** Llama-7B (32 x 4096), rank 16, 100 adapters, alpha 0.3, 8 GPU slots, 64 seqs, 25 ms steps. */
        public static Params defaults(AzureTrace trace, int maxRequests, boolean oracleHints, long seed) {
            return new Params(trace, maxRequests, 32, 4096, 16, 100, 0.3, 8, 64, 256, 0.025, oracleHints, seed);
        }

        public long copyBytes() {
            return 16L * rank * hidden;
        }
    }

    private record Request(int id, double arrival, int adapter, int output) {
    }

    private final Params params;
    private long loads;

    public LoraTrace(Params params) {
        this.params = params;
    }

    @Override
    public String name() {
        return "lora-" + params.trace().name() + (params.oracleHints() ? "-oracle" : "");
    }

    @Override
    public String describe() {
        final Params p = params;
        return "S-LoRA-style adapter swapping, " + p.numAdapters() + " adapters r=" + p.rank() + " on "
                + p.layers() + "x" + p.hidden() + ", power-law alpha " + p.alpha() + ", " + p.maxLoras()
                + " GPU slots (LRU), " + Math.min(p.maxRequests(), p.trace().size()) + " requests of "
                + p.trace().name() + (p.oracleHints() ? ", oracle hints" : "");
    }

    /** Adapter loads emitted by the last {@link #generate} (for tests and reports). */
    public long loads() {
        return loads;
    }

    /** np.random.power(alpha): inverse CDF of a x^(a-1) on [0, 1]. */
    static int samplePowerLaw(SplittableRandom random, double alpha, int numAdapters) {
        final double x = Math.pow(random.nextDouble(), 1.0 / alpha);
        return Math.min(numAdapters - 1, (int) (x * numAdapters));
    }

    @Override
    public void generate(TraceSink sink) {
        loads = 0;
        final Params p = params;
        final SplittableRandom random = new SplittableRandom(p.seed());
        final SplittableRandom adapterRandom = random.split();
        final HostAddressSpace space = new HostAddressSpace(0x7f40_0000_0000L, random.split());
        final Emitter out = new Emitter(sink, 1);
        final long copyBytes = p.copyBytes();
        // Every adapter's per-layer home is pinned at startup (caching allocator: power-of-two blocks).
        final long[][] home = new long[p.numAdapters()][p.layers()];
        for (int a = 0; a < p.numAdapters(); a++) {
            for (int l = 0; l < p.layers(); l++) {
                home[a][l] = space.allocate(HostAddressSpace.powerOfTwoCeil(copyBytes));
                out.hostAlloc(home[a][l], HostAddressSpace.powerOfTwoCeil(copyBytes));
            }
        }
        final StepInputs inputs = new StepInputs(out, new CachingHostAllocatorModel(space),
                new CachingHostAllocatorModel(space), 0x7b00_0000_0000L);
        final AzureTrace trace = p.trace();
        final int total = Math.min(p.maxRequests(), trace.size());
        final ArrayDeque<Request> waiting = new ArrayDeque<>();
        final List<Request> running = new ArrayList<>();
        final int[] generated = new int[total];
        // Active adapters in LRU order (access order): adapter -> GPU slot.
        final LinkedHashMap<Integer, Integer> active = new LinkedHashMap<>(16, 0.75f, true);
        final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();
        for (int slot = 0; slot < p.maxLoras(); slot++) {
            freeSlots.add(slot);
        }
        final long deviceBase = 0x7a00_0000_0000L;
        int next = 0;
        double time = 0;
        while (true) {
            while (next < total && trace.arrivalSeconds(next) <= time) {
                waiting.add(new Request(next, trace.arrivalSeconds(next),
                        samplePowerLaw(adapterRandom, p.alpha(), p.numAdapters()),
                        Math.max(1, Math.min(p.maxOutputTokens(), trace.outputTokens(next)))));
                next++;
            }
            if (running.isEmpty() && waiting.isEmpty()) {
                if (next >= total) {
                    break;
                }
                time = trace.arrivalSeconds(next);
                continue;
            }
            // Admission: FCFS, skipping requests whose adapter cannot be made active (order kept).
            final Set<Integer> inBatch = new HashSet<>();
            for (Request r : running) {
                inBatch.add(r.adapter());
            }
            final List<Integer> toLoad = new ArrayList<>();
            final List<Request> admitted = new ArrayList<>();
            for (Iterator<Request> it = waiting.iterator(); it.hasNext(); ) {
                final Request r = it.next();
                if (running.size() + admitted.size() >= p.maxNumSeqs()) {
                    break;
                }
                final int a = r.adapter();
                if (!inBatch.contains(a) && inBatch.size() >= p.maxLoras()) {
                    continue;
                }
                if (!active.containsKey(a)) {
                    if (freeSlots.isEmpty()) {
                        Integer victim = null;
                        for (Integer candidate : active.keySet()) { // least recently used first
                            if (!inBatch.contains(candidate)) {
                                victim = candidate;
                                break;
                            }
                        }
                        if (victim == null) {
                            continue;
                        }
                        freeSlots.add(active.remove(victim));
                    }
                    active.put(a, freeSlots.poll());
                    toLoad.add(a);
                }
                inBatch.add(a);
                admitted.add(r);
                it.remove();
            }
            for (int a : toLoad) {
                final long device = deviceBase + (long) active.get(a) * (1L << 34);
                if (p.oracleHints()) {
                    for (int pass = 0; pass < 2; pass++) {
                        for (int l = 0; l < p.layers(); l++) {
                            out.hint(home[a][l], copyBytes);
                        }
                    }
                }
                for (int pass = 0; pass < 2; pass++) { // load_lora_A, then load_lora_B re-copies the same tensors
                    for (int l = 0; l < p.layers(); l++) {
                        out.h2d(home[a][l], device + (long) l * copyBytes, copyBytes, 0, CopyClass.ADAPTER);
                    }
                }
                loads++;
            }
            running.addAll(admitted);
            for (Request r : running) {
                active.get(r.adapter()); // touch: LRU by last use
            }
            long tokens = 0;
            for (Request r : admitted) {
                tokens += Math.min(4096, trace.promptTokens(r.id()));
            }
            tokens += running.size() - admitted.size();
            inputs.emitInputs(tokens, running.size(), 0);
            inputs.emitOutputs(running.size());
            inputs.endStep();
            running.removeIf(r -> ++generated[r.id()] >= r.output());
            time += p.stepSeconds();
        }
    }
}
