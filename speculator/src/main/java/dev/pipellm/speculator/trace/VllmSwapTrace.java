package dev.pipellm.speculator.trace;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * vLLM V0 with {@code --preemption-mode swap}, driven by an Azure 2023 trace (arrival times, prompt and output
 * lengths), following workloads.md 1.2-1.7:
 * <ul>
 *   <li>Default scheduler without chunked prefill: prefills only when nothing is swapped (and then no decode in
 *       that step); otherwise decode the running groups in FCFS order, and while a group cannot append a slot
 *       ({@code free_gpu_blocks < 1}, v1 block manager) preempt the newest running group (or the group itself
 *       if it is the last one) by swapping it out; swap-in only in a step that preempted nothing, oldest
 *       arrival first, stopping at the first group that does not fit
 *       ({@code free - (blocks + 1) >= 1% watermark}).</li>
 *   <li>Block allocators are LIFO stacks (GPU and CPU); swap-out frees GPU blocks in table order.</li>
 *   <li>Copies ({@code cache_kernels.cu::swap_blocks}, v0.5-0.6 layout): for each layer, K then V, one
 *       {@code cudaMemcpyAsync} of {@code S} bytes per mapping entry (victims' mappings concatenated in victim
 *       order). Host address {@code cpu_base[l] + part*N_cpu*S + cpu_blk*S}, each layer's CPU cache a separate
 *       power-of-two-rounded pinned region.</li>
 *   <li>Each step first copies its small inputs ({@link StepInputs}, fresh data), then the swaps, and reads
 *       the sampled ids back.</li>
 * </ul>
 * Requests longer than {@code max_model_len} are rejected as vLLM does. A swap-out that does not fit the CPU
 * swap space aborts the request (vLLM V0 raises "Aborted due to the lack of CPU swap space"); such aborts are
 * counted in {@link #abortedForSwapSpace()}. Step durations are modelled (see {@link Params}), not measured.
 */
public final class VllmSwapTrace implements TraceGenerator {
    /**
     * @param numGpuBlocks      KV blocks on the GPU (as {@code --num-gpu-blocks-override}); small enough to preempt
     * @param swapSpaceBytes    {@code --swap-space} in bytes
     * @param maxRequests       how many requests of the trace to replay (from the first)
     * @param timeScale         arrival times are divided by this (1 = real time)
     * @param decodeBaseSeconds step time model: decode = base + perSeq * seqs; prefill = base + perToken * tokens
     */
    public record Params(KvModel model, AzureTrace trace, int maxRequests, int numGpuBlocks, long swapSpaceBytes,
                         int blockSize, int maxNumSeqs, int maxNumBatchedTokens, double timeScale,
                         double decodeBaseSeconds, double decodePerSeqSeconds, double prefillPerTokenSeconds,
                         long seed) {
        public Params {
            if (numGpuBlocks < 16 || blockSize < 1 || maxNumSeqs < 1 || maxRequests < 1 || timeScale <= 0) {
                throw new IllegalArgumentException("vLLM trace: need >= 16 GPU blocks, block size, max seqs, "
                        + "requests >= 1 and a positive time scale");
            }
            if (swapSpaceBytes < model.blockBytesAllLayers(blockSize)) {
                throw new IllegalArgumentException("vLLM trace: swap space smaller than one block");
            }
        }

        /** Llama-2-13B, 1,024 GPU blocks (16K tokens), 16 GiB swap space, bs 16, vLLM defaults otherwise. */
        public static Params defaults(AzureTrace trace, int maxRequests, long seed) {
            return new Params(KvModel.LLAMA_2_13B, trace, maxRequests, 1024, 16L << 30, 16, 256,
                    Math.max(KvModel.LLAMA_2_13B.maxModelLen(), 2048), 1.0, 0.012, 0.00025, 0.00012, seed);
        }
    }

    private static final class Group {
        final int id;
        final double arrival;
        final int prompt;
        final int output;
        int generated;
        final List<Integer> gpuBlocks = new ArrayList<>();
        final List<Integer> cpuBlocks = new ArrayList<>();

        Group(int id, double arrival, int prompt, int output) {
            this.id = id;
            this.arrival = arrival;
            this.prompt = prompt;
            this.output = output;
        }

        int length() {
            return prompt + generated;
        }
    }

    private final Params params;
    private long rejected;
    private long abortedForSwapSpace;
    private long preemptions;
    private long swapIns;
    private long steps;

    public VllmSwapTrace(Params params) {
        this.params = params;
    }

    @Override
    public String name() {
        return "vllm-swap-" + params.trace().name();
    }

    @Override
    public String describe() {
        final Params p = params;
        return "vLLM V0 swap preemption, " + p.model().name() + ", " + Math.min(p.maxRequests(), p.trace().size())
                + " requests of " + p.trace().name() + ", " + p.numGpuBlocks() + " GPU blocks, swap space "
                + (p.swapSpaceBytes() >> 30) + " GiB, bs " + p.blockSize();
    }

    public long rejected() {
        return rejected;
    }

    public long abortedForSwapSpace() {
        return abortedForSwapSpace;
    }

    public long preemptions() {
        return preemptions;
    }

    public long swapIns() {
        return swapIns;
    }

    public long steps() {
        return steps;
    }

    @Override
    public void generate(TraceSink sink) {
        final Params p = params;
        final SplittableRandom random = new SplittableRandom(p.seed());
        final HostAddressSpace space = new HostAddressSpace(0x7f30_0000_0000L, random.split());
        final Emitter out = new Emitter(sink, 1);
        final int layers = p.model().layers();
        final long s = p.model().copyBytes(p.blockSize());
        final int numCpuBlocks = (int) (p.swapSpaceBytes() / p.model().blockBytesAllLayers(p.blockSize()));
        final int numGpuBlocks = p.numGpuBlocks();
        final int watermark = (int) (0.01 * numGpuBlocks);
        final long[] cpuBase = new long[layers];
        final long[] gpuBase = new long[layers];
        for (int l = 0; l < layers; l++) {
            final long rounded = HostAddressSpace.powerOfTwoCeil(2L * numCpuBlocks * s);
            cpuBase[l] = space.allocate(rounded);
            out.hostAlloc(cpuBase[l], rounded);
            gpuBase[l] = 0x7c00_0000_0000L + (long) l * (2L * numGpuBlocks * s + (1L << 21));
        }
        // UncachedBlockAllocator: free list [0..N-1], allocate = pop() from the end, free = append.
        final ArrayDeque<Integer> gpuFree = new ArrayDeque<>();
        for (int b = 0; b < numGpuBlocks; b++) {
            gpuFree.push(b);
        }
        final ArrayDeque<Integer> cpuFree = new ArrayDeque<>();
        for (int b = 0; b < numCpuBlocks; b++) {
            cpuFree.push(b);
        }
        final StepInputs inputs = new StepInputs(out, new CachingHostAllocatorModel(space),
                new CachingHostAllocatorModel(space), 0x7b00_0000_0000L);

        final AzureTrace trace = p.trace();
        final int total = Math.min(p.maxRequests(), trace.size());
        final ArrayDeque<Group> waiting = new ArrayDeque<>();
        List<Group> running = new ArrayList<>();
        final List<Group> swapped = new ArrayList<>();
        final Comparator<Group> fcfs = Comparator.comparingDouble((Group g) -> g.arrival).thenComparingInt(g -> g.id);
        int next = 0;
        double time = 0;
        final int bs = p.blockSize();
        while (true) {
            while (next < total && trace.arrivalSeconds(next) / p.timeScale() <= time) {
                final Group g = new Group(next, trace.arrivalSeconds(next) / p.timeScale(), trace.promptTokens(next),
                        Math.max(1, trace.outputTokens(next)));
                if (g.prompt + g.output > p.model().maxModelLen()
                        || ceilDiv(g.prompt + g.output, bs) > numGpuBlocks - watermark) {
                    rejected++;
                } else {
                    waiting.add(g);
                }
                next++;
            }
            if (running.isEmpty() && waiting.isEmpty() && swapped.isEmpty()) {
                if (next >= total) {
                    break;
                }
                time = trace.arrivalSeconds(next) / p.timeScale();
                continue;
            }
            steps++;
            // Prefills, only when nothing is swapped out.
            final List<Group> prefills = new ArrayList<>();
            if (swapped.isEmpty()) {
                long tokens = 0;
                while (!waiting.isEmpty()) {
                    final Group g = waiting.peek();
                    final int need = ceilDiv(g.prompt, bs);
                    if (running.size() + prefills.size() + 1 > p.maxNumSeqs()
                            || tokens + g.prompt > p.maxNumBatchedTokens() || gpuFree.size() - need < watermark) {
                        break;
                    }
                    waiting.poll();
                    for (int b = 0; b < need; b++) {
                        g.gpuBlocks.add(gpuFree.pop());
                    }
                    tokens += g.prompt;
                    prefills.add(g);
                }
                if (!prefills.isEmpty()) {
                    inputs.emitInputs(tokens, prefills.size(), 0);
                    inputs.emitOutputs(prefills.size());
                    inputs.endStep();
                    for (Group g : prefills) {
                        g.generated = 1;
                        if (g.generated >= g.output) {
                            freeAll(g, gpuFree);
                        } else {
                            running.add(g);
                        }
                    }
                    running.sort(fcfs);
                    time += p.decodeBaseSeconds() + p.prefillPerTokenSeconds() * tokens;
                    continue;
                }
            }
            // _schedule_running: FCFS, preempt the newest while a group cannot append a slot.
            final ArrayDeque<Group> queue = new ArrayDeque<>(running);
            final List<Group> scheduled = new ArrayList<>();
            final List<Group> victims = new ArrayList<>();
            final List<int[]> mapping = new ArrayList<>();
            while (!queue.isEmpty()) {
                Group g = queue.pollFirst();
                while (gpuFree.size() < 1) {
                    final Group victim = queue.isEmpty() ? g : queue.pollLast();
                    swapOut(victim, gpuFree, cpuFree, mapping);
                    victims.add(victim);
                    if (victim == g) {
                        g = null;
                        break;
                    }
                }
                if (g != null) {
                    appendSlot(g, gpuFree, bs);
                    scheduled.add(g);
                }
            }
            final List<Group> swappedIn = new ArrayList<>();
            if (victims.isEmpty() && !swapped.isEmpty()) {
                swapped.sort(fcfs);
                while (!swapped.isEmpty()) {
                    final Group g = swapped.get(0);
                    if (gpuFree.size() - (g.cpuBlocks.size() + 1) < watermark
                            || scheduled.size() + swappedIn.size() + 1 > p.maxNumSeqs()) {
                        break;
                    }
                    swapped.remove(0);
                    for (int cpu : g.cpuBlocks) {
                        final int gpu = gpuFree.pop();
                        g.gpuBlocks.add(gpu);
                        mapping.add(new int[] {gpu, cpu});
                        cpuFree.push(cpu);
                    }
                    g.cpuBlocks.clear();
                    appendSlot(g, gpuFree, bs);
                    swappedIn.add(g);
                    swapIns++;
                }
            }
            for (Group v : victims) {
                if (v.cpuBlocks.isEmpty() && !v.gpuBlocks.isEmpty()) {
                    continue; // cannot happen: swapOut moves every block
                }
                if (v.cpuBlocks.isEmpty()) {
                    abortedForSwapSpace++;
                } else {
                    swapped.add(v);
                    preemptions++;
                }
            }
            final List<Group> batch = new ArrayList<>(scheduled);
            batch.addAll(swappedIn);
            batch.sort(fcfs);
            if (!batch.isEmpty()) {
                int maxBlocks = 0;
                for (Group g : batch) {
                    maxBlocks = Math.max(maxBlocks, g.gpuBlocks.size());
                }
                inputs.emitInputs(batch.size(), batch.size(), maxBlocks);
            }
            // Worker: swap_in, then swap_out (never both in one step), per layer K then V, per mapping entry.
            final boolean in = victims.isEmpty();
            for (int l = 0; l < layers; l++) {
                for (int part = 0; part < 2; part++) {
                    for (int[] m : mapping) {
                        final long host = cpuBase[l] + part * (long) numCpuBlocks * s + m[1] * s;
                        final long dev = gpuBase[l] + part * (long) numGpuBlocks * s + m[0] * s;
                        if (in) {
                            out.h2d(host, dev, s, 0, CopyClass.KV_SWAP);
                        } else {
                            out.d2h(host, dev, s, 0, CopyClass.KV_SWAP);
                        }
                    }
                }
            }
            if (!batch.isEmpty()) {
                inputs.emitOutputs(batch.size());
            }
            inputs.endStep();
            final List<Group> still = new ArrayList<>();
            for (Group g : batch) {
                g.generated++;
                if (g.generated >= g.output) {
                    freeAll(g, gpuFree);
                } else {
                    still.add(g);
                }
            }
            running = still;
            time += p.decodeBaseSeconds() + p.decodePerSeqSeconds() * batch.size()
                    + mapping.size() * 2.0 * layers * s / 25e9;
        }
    }

    private void swapOut(Group g, ArrayDeque<Integer> gpuFree, ArrayDeque<Integer> cpuFree, List<int[]> mapping) {
        if (g.gpuBlocks.size() > cpuFree.size()) {
            // vLLM raises here; we drop the request and free its blocks.
            freeAll(g, gpuFree);
            return;
        }
        for (int gpu : g.gpuBlocks) {
            final int cpu = cpuFree.pop();
            g.cpuBlocks.add(cpu);
            mapping.add(new int[] {gpu, cpu});
            gpuFree.push(gpu);
        }
        g.gpuBlocks.clear();
    }

    private static void appendSlot(Group g, ArrayDeque<Integer> gpuFree, int bs) {
        final int needed = ceilDiv(g.length(), bs);
        while (g.gpuBlocks.size() < needed && !gpuFree.isEmpty()) {
            g.gpuBlocks.add(gpuFree.pop());
        }
    }

    private static void freeAll(Group g, ArrayDeque<Integer> gpuFree) {
        for (int b : g.gpuBlocks) {
            gpuFree.push(b);
        }
        g.gpuBlocks.clear();
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
