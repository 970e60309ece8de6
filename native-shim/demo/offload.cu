// offload: FlexGen-style weight offloading. The weights of LAYERS layers live in pinned host memory
// and are streamed to the GPU one layer ahead of compute, every token, into two device buffers
// (double buffering): while layer l computes on the compute stream, layer l+1 is copied on the
// prefetch stream; events order each copy after the compute that last read its buffer and each
// compute after its copy. Per token also one small H2D copy of fresh "token ids" and a 4 KiB D2H
// copy of "logits". An ordinary CUDA program (nvcc -cudart shared): on simgpu the compute is
// simgpuStreamCompute, on a real GPU a spin kernel of the same duration.
//
// Output: "offload layers=.. layer_bytes=.. compute_ns=.. steps=.. wall_s=.. tokens_per_s=..", then
// "offload verify=ok ...". Exit 1 when a device copy differs from the host (message on stderr).
#include "demo_common.h"

#include <vector>

static const char USAGE[] =
    "offload [LAYERS [LAYER_BYTES [COMPUTE_NS [STEPS [WARMUP]]]]] [--verify-every=K] [--mutate-every=K]";

static const size_t TOKEN_BYTES = 64;     // fresh H2D per step: the batch's token ids
static const size_t LOGITS_BYTES = 4096;  // D2H per step: the logits

int main(int argc, char **argv) {
    g_prog = "offload";
    unsigned long long layers = 16, layer_bytes = 8ull << 20, compute_ns = 1500000, steps = 64, warmup = 4;
    unsigned long long verify_every = 0, mutate_every = 0;
    unsigned long long *positional[] = {&layers, &layer_bytes, &compute_ns, &steps, &warmup};
    const char *names[] = {"LAYERS", "LAYER_BYTES", "COMPUTE_NS", "STEPS", "WARMUP"};
    const unsigned long long maxima[] = {4096, 1ull << 32, 10000000000ull, 100000000, 100000000};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help")) {
            std::printf("usage: %s\n", USAGE);
            std::printf("  defaults: 16 layers of 8M bytes, 1500000 ns compute per layer, 64 steps after 4 warm-up steps\n"
                        "  --verify-every=K  also compare the last layer on the device with the host every K steps\n"
                        "  --mutate-every=K  rewrite the last layer's host weights every K steps (then compare)\n");
            return 0;
        }
        if (!std::strncmp(a, "--verify-every=", 15)) {
            if (!parse_count(a + 15, 100000000, &verify_every))
                usage_error(USAGE, "bad value in '%s': expected an integer up to 100000000", a);
        } else if (!std::strncmp(a, "--mutate-every=", 15)) {
            if (!parse_count(a + 15, 100000000, &mutate_every))
                usage_error(USAGE, "bad value in '%s': expected an integer up to 100000000", a);
        } else if (a[0] == '-') {
            usage_error(USAGE, "unknown option '%s'", a);
        } else if (npos == 5) {
            usage_error(USAGE, "unexpected argument '%s'", a);
        } else {
            if (!parse_count(a, maxima[npos], positional[npos]))
                usage_error(USAGE, (std::string(names[npos]) + " '%s' is not valid: expected an integer up to " +
                                    std::to_string(maxima[npos]) + " (K, M, G: binary suffixes)").c_str(), a);
            npos++;
        }
    }
    if (layers < 1) usage_error(USAGE, "LAYERS must be at least 1, got '%s'", "0");
    if (layer_bytes < 1) usage_error(USAGE, "LAYER_BYTES must be at least 1, got '%s'", "0");
    if (steps < 1) usage_error(USAGE, "STEPS must be at least 1, got '%s'", "0");
    if (mutate_every && layers < 2) usage_error(USAGE, "--mutate-every needs at least 2 layers, got '%s'", "1");
    const char *compute_kind = compute_init();

    // Host: the weights (pinned, one allocation per layer, as FlexGen pins each tensor), token ids, logits.
    std::vector<unsigned char *> weights(layers);
    std::vector<unsigned long long> version(layers, 0);   // bumped by --mutate-every
    for (unsigned long long l = 0; l < layers; l++) {
        CHECK(cudaMallocHost(reinterpret_cast<void **>(&weights[l]), layer_bytes));
        fill_pattern(weights[l], layer_bytes, l << 32);
    }
    unsigned char *tokens_h, *logits_h, *check_h;
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&tokens_h), TOKEN_BYTES));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&logits_h), LOGITS_BYTES));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&check_h), layer_bytes));
    unsigned char *buf_d[2], *tokens_d, *logits_d;
    CHECK(cudaMalloc(reinterpret_cast<void **>(&buf_d[0]), layer_bytes));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&buf_d[1]), layer_bytes));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&tokens_d), TOKEN_BYTES));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&logits_d), LOGITS_BYTES));
    cudaStream_t comp, pref;
    CHECK(cudaStreamCreateWithFlags(&comp, cudaStreamNonBlocking));
    CHECK(cudaStreamCreateWithFlags(&pref, cudaStreamNonBlocking));
    // On comp, not the legacy stream: a non-blocking stream does not wait for the legacy stream, so a
    // legacy memset could land after the first step's token ids were copied into the logits.
    CHECK(cudaMemsetAsync(logits_d, 0, LOGITS_BYTES, comp));
    cudaEvent_t loaded[2], consumed[2];
    for (int b = 0; b < 2; b++) {
        CHECK(cudaEventCreateWithFlags(&loaded[b], cudaEventDisableTiming));
        CHECK(cudaEventCreateWithFlags(&consumed[b], cudaEventDisableTiming));
    }
    // What each device buffer holds: layer and its version, once its copy has completed.
    long long holds_layer[2] = {-1, -1};
    unsigned long long holds_version[2] = {0, 0};

    unsigned long long total = warmup + steps, layer_checks = 0, token_checks = 0, mutations = 0;
    auto prefetch = [&](unsigned long long g) {   // layer g % layers of global index g into buffer g % 2
        int b = (int)(g % 2);
        unsigned long long l = g % layers;
        CHECK(cudaStreamWaitEvent(pref, consumed[b], 0));   // the compute that last read buffer b
        CHECK(cudaMemcpyAsync(buf_d[b], weights[l], layer_bytes, cudaMemcpyHostToDevice, pref));
        CHECK(cudaEventRecord(loaded[b], pref));
        holds_layer[b] = (long long)l;
        holds_version[b] = version[l];
    };
    auto check_buffer = [&](int b) {   // the device buffer b equals the host weights it was copied from
        if (holds_layer[b] < 0) return;   // never loaded (a run of one layer-copy)
        unsigned long long l = (unsigned long long)holds_layer[b];
        if (holds_version[b] != version[l]) return;   // rewritten since: a later copy will be checked
        CHECK(cudaMemcpyAsync(check_h, buf_d[b], layer_bytes, cudaMemcpyDeviceToHost, comp));
        CHECK(cudaStreamSynchronize(comp));
        long long at = first_difference(check_h, weights[l], layer_bytes);
        if (at >= 0) {
            std::fprintf(stderr, "offload: verification failed: layer %llu (version %llu) on the device differs from "
                         "the host weights at byte %lld of %llu (device 0x%02x, host 0x%02x)\n", l, version[l], at,
                         layer_bytes, check_h[at], weights[l][at]);
            std::exit(EXIT_VERIFY);
        }
        layer_checks++;
    };

    CHECK(cudaEventRecord(consumed[0], comp));
    CHECK(cudaEventRecord(consumed[1], comp));
    prefetch(0);
    double start = 0;
    for (unsigned long long s = 0; s < total; s++) {
        if (s == warmup) {
            CHECK(cudaDeviceSynchronize());
            start = seconds_now();
        }
        bool mutated = false;
        if (mutate_every && s > 0 && s % mutate_every == 0) {
            // The last layer's previous copy completed at the end of step s-1, and its next copy is
            // issued in this step: rewriting it now is safe on a real GPU too.
            unsigned long long l = layers - 1;
            version[l]++;
            fill_pattern(weights[l], layer_bytes, l << 32 | version[l]);
            mutated = true;
            mutations++;
        }
        fill_pattern(tokens_h, TOKEN_BYTES, 0x70000000000ull + s);   // this step's token ids
        CHECK(cudaMemcpyAsync(tokens_d, tokens_h, TOKEN_BYTES, cudaMemcpyHostToDevice, comp));
        for (unsigned long long l = 0; l < layers; l++) {
            unsigned long long g = s * layers + l;
            int b = (int)(g % 2);
            if (g + 1 < total * layers) prefetch(g + 1);   // the next layer (wraps to the next token's layer 0)
            CHECK(cudaStreamWaitEvent(comp, loaded[b], 0));
            compute(comp, compute_ns);
            CHECK(cudaEventRecord(consumed[b], comp));
        }
        // The logits carry the step's token ids back, so the fresh small copy is checked every step.
        CHECK(cudaMemcpyAsync(logits_d, tokens_d, TOKEN_BYTES, cudaMemcpyDeviceToDevice, comp));
        CHECK(cudaMemcpyAsync(logits_h, logits_d, LOGITS_BYTES, cudaMemcpyDeviceToHost, comp));
        CHECK(cudaStreamSynchronize(comp));
        long long at = first_difference(logits_h, tokens_h, TOKEN_BYTES);
        if (at >= 0) {
            std::fprintf(stderr, "offload: verification failed: step %llu: the token ids read back differ at byte %lld "
                         "(device 0x%02x, host 0x%02x)\n", s, at, logits_h[at], tokens_h[at]);
            std::exit(EXIT_VERIFY);
        }
        token_checks++;
        if (mutated || (verify_every && (s + 1) % verify_every == 0)) {
            int b = (int)((s * layers + layers - 1) % 2);   // the buffer the last layer was computed from
            check_buffer(b);
        }
    }
    CHECK(cudaDeviceSynchronize());
    double wall = seconds_now() - start;
    std::printf("offload layers=%llu layer_bytes=%llu compute_ns=%llu steps=%llu wall_s=%.4f tokens_per_s=%.2f\n", layers,
                layer_bytes, compute_ns, steps, wall, (double)steps / wall);
    std::fflush(stdout);
    // Not timed: both device buffers against the host weights they were loaded from.
    check_buffer(0);
    check_buffer(1);
    std::printf("offload verify=ok layer_checks=%llu token_checks=%llu mutations=%llu compute=%s\n", layer_checks,
                token_checks, mutations, compute_kind);

    for (int b = 0; b < 2; b++) {
        CHECK(cudaEventDestroy(loaded[b]));
        CHECK(cudaEventDestroy(consumed[b]));
        CHECK(cudaFree(buf_d[b]));
    }
    CHECK(cudaStreamDestroy(comp));
    CHECK(cudaStreamDestroy(pref));
    CHECK(cudaFree(tokens_d));
    CHECK(cudaFree(logits_d));
    for (auto *w : weights) CHECK(cudaFreeHost(w));
    CHECK(cudaFreeHost(tokens_h));
    CHECK(cudaFreeHost(logits_h));
    CHECK(cudaFreeHost(check_h));
    return 0;
}
