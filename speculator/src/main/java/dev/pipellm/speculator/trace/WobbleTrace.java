package dev.pipellm.speculator.trace;

import java.util.SplittableRandom;

/**
 * Workloads whose copy pattern is not exactly periodic, written to measure what a wobble costs (issue 10).
 * Each is a steady loop of pinned weights streamed on one stream, with the small fresh inputs a server copies
 * each step, plus one kind of wobble:
 * <ul>
 *   <li>{@link Kind#JITTER}: ZeRO-style flat per-layer weights ({@code layers} x {@code layerBytes}); before each
 *       layer, with probability {@code rate} an extra 8-byte fresh copy, and with probability {@code rate} the
 *       step's own 8-byte input copy (normally before layer 0) is missing;</li>
 *   <li>{@link Kind#MOE}: a fixed part (the dense layers) and, per MoE layer, one of two experts: the choice
 *       changes from the previous step's with probability {@code rate} (partial repetition);</li>
 *   <li>{@link Kind#RANDOM_REUSE}: a pool of {@code layers} buffers of {@code layerBytes} copied in uniformly
 *       random order (nothing repeats in order; every address repeats);</li>
 *   <li>{@link Kind#RUNS}: runs of 2-9 contiguous copies of {@code layerBytes} at random places in a large
 *       pinned arena, each run followed by small fresh copies (the stride predictor overshoots every run);</li>
 *   <li>{@link Kind#MODEL_SWITCH}: model A ({@code layers} layers) for half the steps, then model B at other
 *       addresses with a different layer count and size (re-lock after a model change).</li>
 * </ul>
 * Steady-state markers start after the second step (first period learnt) and run to the end.
 */
public final class WobbleTrace implements TraceGenerator {
    public enum Kind { JITTER, MOE, RANDOM_REUSE, RUNS, MODEL_SWITCH }

    /**
     * @param layers     layers per step (pool size for RANDOM_REUSE, copies per step for RUNS)
     * @param layerBytes bytes per layer copy
     * @param steps      steps (tokens) replayed
     * @param rate       probability of the wobble (per layer for JITTER, per MoE layer for MOE; unused otherwise)
     */
    public record Params(Kind kind, int layers, long layerBytes, int steps, double rate, long seed) {
        public Params {
            if (layers < 2 || layerBytes < 1 || steps < 3 || rate < 0 || rate > 1) {
                throw new IllegalArgumentException("wobble trace: layers >= 2, bytes >= 1, steps >= 3, rate in [0, 1]");
            }
        }
    }

    private static final int STREAM_WEIGHTS = 1;
    private static final int STREAM_INPUTS = 0;
    private static final long INPUT_BYTES = 8;
    private final Params p;

    public WobbleTrace(Params p) {
        this.p = p;
    }

    @Override
    public String name() {
        return "wobble-" + p.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    @Override
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%s: %d x %d B, %d steps, rate %.3f, seed %d", p.kind(), p.layers(),
                p.layerBytes(), p.steps(), p.rate(), p.seed());
    }

    @Override
    public void generate(TraceSink sink) {
        final SplittableRandom rnd = new SplittableRandom(p.seed());
        final HostAddressSpace space = new HostAddressSpace(0x7f00_0000_0000L, rnd.split());
        final Emitter out = new Emitter(sink, 1);
        final long input = space.allocate(4096);
        final long extra = space.allocate(4096);
        out.hostAlloc(input, 4096);
        out.hostAlloc(extra, 4096);
        switch (p.kind()) {
            case JITTER -> jitter(out, space, rnd, input, extra);
            case MOE -> moe(out, space, rnd, input);
            case RANDOM_REUSE -> randomReuse(out, space, rnd, input);
            case RUNS -> runs(out, space, rnd, input, extra);
            case MODEL_SWITCH -> modelSwitch(out, space, input);
        }
        out.mark(MARK_STEADY_STATE_END);
    }

    private long[] pinned(Emitter out, HostAddressSpace space, int n, long bytes) {
        final long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = space.allocate(bytes);
            out.hostAlloc(a[i], bytes);
        }
        return a;
    }

    private static void fresh(Emitter out, long host, long device) {
        out.hostWrite(host, INPUT_BYTES);
        out.h2d(host, device, INPUT_BYTES, STREAM_INPUTS, CopyClass.INPUT);
    }

    private void stepStart(Emitter out, int step) {
        if (step == 2) out.mark(MARK_STEADY_STATE);
    }

    private void jitter(Emitter out, HostAddressSpace space, SplittableRandom rnd, long input, long extra) {
        final long[] w = pinned(out, space, p.layers(), p.layerBytes());
        for (int step = 0; step < p.steps(); step++) {
            stepStart(out, step);
            final boolean inputMissing = step >= 2 && rnd.nextDouble() < p.rate();
            if (!inputMissing) fresh(out, input, 0x100);
            for (int l = 0; l < p.layers(); l++) {
                if (step >= 2 && rnd.nextDouble() < p.rate()) fresh(out, extra, 0x200);
                out.h2d(w[l], 0x1_0000_0000L + l * p.layerBytes(), p.layerBytes(), STREAM_WEIGHTS, CopyClass.WEIGHT);
            }
            out.sync(STREAM_WEIGHTS);
        }
    }

    private void moe(Emitter out, HostAddressSpace space, SplittableRandom rnd, long input) {
        final int moeLayers = Math.max(1, p.layers() / 2);
        final long[] dense = pinned(out, space, p.layers(), p.layerBytes());
        final long[][] expert = {pinned(out, space, moeLayers, p.layerBytes()), pinned(out, space, moeLayers, p.layerBytes())};
        final int[] choice = new int[moeLayers];
        for (int step = 0; step < p.steps(); step++) {
            stepStart(out, step);
            fresh(out, input, 0x100);
            int m = 0;
            for (int l = 0; l < p.layers(); l++) {
                out.h2d(dense[l], 0x1_0000_0000L + l * p.layerBytes(), p.layerBytes(), STREAM_WEIGHTS, CopyClass.WEIGHT);
                if (l % 2 == 1 && m < moeLayers) {
                    if (rnd.nextDouble() < p.rate()) choice[m] ^= 1;
                    out.h2d(expert[choice[m]][m], 0x2_0000_0000L + m * p.layerBytes(), p.layerBytes(), STREAM_WEIGHTS,
                            CopyClass.WEIGHT);
                    m++;
                }
            }
            out.sync(STREAM_WEIGHTS);
        }
    }

    private void randomReuse(Emitter out, HostAddressSpace space, SplittableRandom rnd, long input) {
        final long[] pool = pinned(out, space, p.layers(), p.layerBytes());
        for (int step = 0; step < p.steps(); step++) {
            stepStart(out, step);
            fresh(out, input, 0x100);
            for (int i = 0; i < p.layers(); i++) {
                final int b = rnd.nextInt(pool.length);
                out.h2d(pool[b], 0x1_0000_0000L + b * p.layerBytes(), p.layerBytes(), STREAM_WEIGHTS, CopyClass.WEIGHT);
            }
            out.sync(STREAM_WEIGHTS);
        }
    }

    private void runs(Emitter out, HostAddressSpace space, SplittableRandom rnd, long input, long extra) {
        final int arenaCopies = 64 * p.layers();
        final long arena = space.allocate(arenaCopies * p.layerBytes());
        out.hostAlloc(arena, arenaCopies * p.layerBytes());
        for (int step = 0; step < p.steps(); step++) {
            stepStart(out, step);
            fresh(out, input, 0x100);
            int copied = 0;
            while (copied < p.layers()) {
                final int run = 2 + rnd.nextInt(8);
                final int first = rnd.nextInt(arenaCopies - run);
                for (int k = 0; k < run; k++) {
                    out.h2d(arena + (first + k) * p.layerBytes(), 0x1_0000_0000L + (first + k) * p.layerBytes(),
                            p.layerBytes(), STREAM_WEIGHTS, CopyClass.KV_SWAP);
                }
                copied += run;
                fresh(out, extra, 0x200);
                fresh(out, extra + 64, 0x240);
            }
            out.sync(STREAM_WEIGHTS);
        }
    }

    private void modelSwitch(Emitter out, HostAddressSpace space, long input) {
        final long[] a = pinned(out, space, p.layers(), p.layerBytes());
        final int layersB = p.layers() + p.layers() / 2;
        final long bytesB = p.layerBytes() / 2 + 4096;
        final long[] b = pinned(out, space, layersB, bytesB);
        for (int step = 0; step < p.steps(); step++) {
            stepStart(out, step);
            fresh(out, input, 0x100);
            final boolean second = step >= p.steps() / 2;
            if (step == p.steps() / 2) out.mark(MARK_PATTERN_CHANGE);
            final long[] w = second ? b : a;
            final long bytes = second ? bytesB : p.layerBytes();
            for (int l = 0; l < w.length; l++) {
                out.h2d(w[l], 0x1_0000_0000L + l * bytes, bytes, STREAM_WEIGHTS, CopyClass.WEIGHT);
            }
            out.sync(STREAM_WEIGHTS);
        }
    }
}
