// swap: vLLM-style KV-cache swapping (the V0 engine's SWAP preemption). KV blocks live in a device
// pool; a pinned host swap space holds the blocks of preempted sequences. A seeded, deterministic
// scheduler modelled on vLLM V0 (vllm/core/scheduler.py, block_manager_v1.py) decides each
// iteration (engine step):
//   - a step is either a prefill step (admits waiting sequences; only when none is swapped out) or a
//     decode step (every running sequence appends a token, a new block every BLOCK_TOKENS tokens);
//   - when a decode step finds no free device block, the newest running sequence is preempted: its
//     blocks are swapped out, one D2H cudaMemcpyAsync per block in block-table order, into host slots
//     taken from a LIFO free list (vLLM's UncachedBlockAllocator), and it joins the swapped queue;
//   - a step that preempted nothing swaps sequences back in, oldest arrival first, stopping at the
//     first that does not fit (with a 1% watermark): one H2D copy per block from the same host slots
//     (so the group order is the reverse of the swap-out order, vLLM's LIFO);
//   - then small fresh H2D copies (block tables, token ids), the step's modelled compute, and a small
//     D2H copy of the sampled tokens that ends the step (the host waits for it, as vLLM does).
// Swaps and compute share one stream (vLLM V0 issues swap_in, swap_out, then the forward on the
// current stream). Every block has a known content (the KV prefill and decode wrote, written by a
// D2D copy from a pattern just before the block's first swap-out): each swapped-out host slot is
// compared with it, swapped-in blocks are read back (a 4 KiB window per MiB, every 16th block whole),
// and the block tables and token ids come back with the sampled tokens every step.
//
// Output: "swap block_bytes=.. gpu_blocks=.. ... wall_s=.. iterations_per_s=..", then "swap verify=ok ...".
// Exit 1 when a byte differs (message on stderr).
#include "demo_common.h"

#include <algorithm>
#include <deque>
#include <vector>

static const char USAGE[] =
    "swap [BLOCK_BYTES [GPU_BLOCKS [COMPUTE_NS [ITERATIONS [WARMUP]]]]] [--seed=N] [--seqs=N] [--block-tokens=N] "
    "[--full-check-every=K]";

static const size_t WINDOW = 4096;   // bytes read back per 1 MiB of a swapped-in block

struct Seq {
    unsigned id;
    unsigned long long arrival;
    unsigned tokens, remaining;
    std::vector<int> gpu;        // block table (device blocks), while resident
    std::vector<int> cpu;        // host slots, while swapped out
    std::vector<size_t> offset;  // content of each block: the pattern from this offset
    std::vector<char> written;   // that content is on the device (written before the block's first swap-out)
    unsigned long long joined = 0;   // 1 + the step it was swapped in (it decodes from the next step on)
};

struct Rng {
    uint64_t s;
    uint64_t next() { return s = mix64(s); }
    unsigned range(unsigned lo, unsigned hi) { return lo + (unsigned)(next() % (hi - lo + 1)); }
};

struct Copy { int gpu, cpu; size_t offset; unsigned seq; };   // one block's swap or fill

int main(int argc, char **argv) {
    g_prog = "swap";
    unsigned long long block_bytes = 512ull << 10, gpu_blocks = 96, compute_ns = 1000000, iterations = 1500, warmup = 100;
    unsigned long long seed = 1, max_seqs = 32, block_tokens = 4, full_every = 16;
    unsigned long long *positional[] = {&block_bytes, &gpu_blocks, &compute_ns, &iterations, &warmup};
    const char *names[] = {"BLOCK_BYTES", "GPU_BLOCKS", "COMPUTE_NS", "ITERATIONS", "WARMUP"};
    const unsigned long long maxima[] = {1ull << 30, 1u << 20, 10000000000ull, 100000000, 100000000};
    struct { const char *name; unsigned long long *v, max; } opts[] = {
        {"--seed=", &seed, ~0ull}, {"--seqs=", &max_seqs, 4096}, {"--block-tokens=", &block_tokens, 4096},
        {"--full-check-every=", &full_every, 100000000}};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help")) {
            std::printf("usage: %s\n", USAGE);
            std::printf("  defaults: 512K-byte blocks, 96 device blocks (host swap space: 4x), 1000000 ns compute per\n"
                        "  decode step (twice that per prefill step), 1500 steps after 100 warm-up steps; --seed=1\n"
                        "  --seqs=32 (running at most; 16 more wait) --block-tokens=4 (tokens per block)\n"
                        "  --full-check-every=16 (every 16th swapped-in block is read back whole; 0: windows only)\n");
            return 0;
        }
        bool matched = false;
        for (auto &o : opts) {
            size_t n = std::strlen(o.name);
            if (!std::strncmp(a, o.name, n)) {
                if (!parse_count(a + n, o.max, o.v))
                    usage_error(USAGE, (std::string("bad value in '%s': expected an integer up to ") +
                                        std::to_string(o.max)).c_str(), a);
                matched = true;
            }
        }
        if (matched) continue;
        if (a[0] == '-') usage_error(USAGE, "unknown option '%s'", a);
        if (npos == 5) usage_error(USAGE, "unexpected argument '%s'", a);
        if (!parse_count(a, maxima[npos], positional[npos]))
            usage_error(USAGE, (std::string(names[npos]) + " '%s' is not valid: expected an integer up to " +
                                std::to_string(maxima[npos]) + " (K, M, G: binary suffixes)").c_str(), a);
        npos++;
    }
    if (block_bytes < WINDOW || block_bytes % 64)
        usage_error(USAGE, "BLOCK_BYTES must be a multiple of 64 of at least 4096, got '%s'", std::to_string(block_bytes).c_str());
    if (gpu_blocks < 8) usage_error(USAGE, "GPU_BLOCKS must be at least 8, got '%s'", std::to_string(gpu_blocks).c_str());
    if (max_seqs < 2) usage_error(USAGE, "--seqs must be at least 2, got '%s'", std::to_string(max_seqs).c_str());
    if (block_tokens < 1) usage_error(USAGE, "--block-tokens must be at least 1, got '%s'", "0");
    const char *compute_kind = compute_init();
    const size_t S = block_bytes;
    const unsigned long long cpu_blocks = 4 * gpu_blocks;
    const int watermark = std::max(1, (int)(gpu_blocks / 100));
    const unsigned bt = (unsigned)block_tokens;
    // Sequence lengths: prompts of 1-4 blocks, outputs of 2-12 blocks (in tokens), capped by the pool.
    const unsigned max_blocks = (unsigned)std::min<unsigned long long>(16, gpu_blocks / 4);

    // Host: the content pattern (2 blocks long: a block's content starts at a 64-byte offset in the
    // first), the swap space, the per-step small buffers; device: the pool, the pattern, the step's inputs.
    unsigned char *pattern_h, *swap_h, *small_h, *result_h, *check_h;
    const size_t small_bytes = 4 * (max_seqs + gpu_blocks);   // token ids (4 B per running seq) + block tables
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&pattern_h), 2 * S));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&swap_h), cpu_blocks * S));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&small_h), small_bytes));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&result_h), small_bytes));
    CHECK(cudaMallocHost(reinterpret_cast<void **>(&check_h), S));
    fill_pattern(pattern_h, 2 * S, 0x5a5a0000ull ^ seed);
    unsigned char *pool_d, *pattern_d, *small_d, *result_d;
    CHECK(cudaMalloc(reinterpret_cast<void **>(&pool_d), gpu_blocks * S));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&pattern_d), 2 * S));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&small_d), small_bytes));
    CHECK(cudaMalloc(reinterpret_cast<void **>(&result_d), small_bytes));
    CHECK(cudaMemcpy(pattern_d, pattern_h, 2 * S, cudaMemcpyHostToDevice));
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

    std::vector<int> free_gpu, free_cpu;   // LIFO stacks, initialised [0..N-1]: pop_back takes N-1 first
    for (int b = 0; b < (int)gpu_blocks; b++) free_gpu.push_back(b);
    for (int b = 0; b < (int)cpu_blocks; b++) free_cpu.push_back(b);
    std::deque<Seq> running, swapped, waiting;   // running in arrival order (FCFS); the newest is at the back
    Rng rng{seed};
    unsigned next_id = 0;
    auto arrive = [&](unsigned long long now) {
        Seq q;
        q.id = next_id++;
        q.arrival = now;
        q.tokens = rng.range(1, std::min(4u, max_blocks / 2) * bt);
        q.remaining = rng.range(2 * bt, std::max(2u, max_blocks - 4) * bt);
        waiting.push_back(q);
    };
    // Population: the running limit plus a backlog of half of it (a saturated server).
    for (unsigned long long i = 0; i < max_seqs + max_seqs / 2; i++) arrive(0);

    unsigned long long stat_in = 0, stat_out = 0, preemptions = 0, recomputes = 0, prefill_steps = 0;
    unsigned long long slot_checks = 0, window_checks = 0, full_checks = 0, small_checks = 0, swapins_seen = 0;
    auto block_offset = [&](unsigned id, size_t idx) {
        return (size_t)(mix64((uint64_t)id << 20 ^ idx ^ seed << 40) % (S / 64)) * 64;
    };
    auto fail = [&](const char *what, unsigned seq, long long at, int dev, int host) {
        std::fprintf(stderr, "swap: verification failed: %s (sequence %u) differs at byte %lld (got 0x%02x, expected 0x%02x)\n",
                     what, seq, at, dev, host);
        std::exit(EXIT_VERIFY);
    };

    double start = 0;
    const unsigned long long total = warmup + iterations;
    for (unsigned long long it = 0; it < total; it++) {
        if (it == warmup) {
            CHECK(cudaDeviceSynchronize());
            start = seconds_now();
            stat_in = stat_out = preemptions = recomputes = prefill_steps = 0;
        }
        std::vector<Copy> swap_in, swap_out, fills;
        bool preempted = false;
        unsigned admitted = 0;
        // Prefill step: only with nothing swapped out, while the head of the queue fits.
        if (swapped.empty()) {
            while (!waiting.empty() && running.size() < max_seqs) {
                Seq &q = waiting.front();
                size_t need = (q.tokens + bt - 1) / bt;
                if ((long long)free_gpu.size() - (long long)need < watermark) break;
                Seq s = std::move(q);
                waiting.pop_front();
                for (size_t j = s.gpu.size(); j < need; j++) {
                    int b = free_gpu.back();
                    free_gpu.pop_back();
                    s.gpu.push_back(b);
                    s.offset.push_back(block_offset(s.id, j));
                    s.written.push_back(0);
                }
                running.push_back(std::move(s));
                admitted++;
            }
        }
        bool prefill = admitted > 0;
        if (prefill) {
            prefill_steps++;
        } else {
            // Decode step: each running sequence (FCFS) needs a new block every BLOCK_TOKENS tokens;
            // with none free, the newest running sequence is preempted (possibly the one asking).
            size_t idx = 0;
            while (idx < running.size()) {
                Seq &s = running[idx];
                if (s.gpu.size() * bt > s.tokens) {   // room for the token at position `tokens`
                    idx++;
                    continue;
                }
                if (free_gpu.empty()) {
                    Seq v = std::move(running.back());
                    running.pop_back();
                    preempted = true;
                    preemptions++;
                    if (free_cpu.size() >= v.gpu.size()) {   // swap out, block-table order
                        v.cpu.clear();
                        for (size_t j = 0; j < v.gpu.size(); j++) {
                            if (!v.written[j]) fills.push_back({v.gpu[j], -1, v.offset[j], v.id});
                            v.written[j] = 1;
                            int c = free_cpu.back();
                            free_cpu.pop_back();
                            swap_out.push_back({v.gpu[j], c, v.offset[j], v.id});
                            v.cpu.push_back(c);
                            free_gpu.push_back(v.gpu[j]);
                        }
                        v.gpu.clear();
                        swapped.push_back(std::move(v));
                    } else {   // no host space: recompute (the KV is dropped, the sequence waits again)
                        recomputes++;
                        for (int b : v.gpu) free_gpu.push_back(b);
                        v.gpu.clear();
                        v.offset.clear();
                        v.written.clear();
                        waiting.push_front(std::move(v));
                    }
                    continue;
                }
                int b = free_gpu.back();
                free_gpu.pop_back();
                s.gpu.push_back(b);
                s.offset.push_back(block_offset(s.id, s.gpu.size() - 1));
                s.written.push_back(0);
                idx++;
            }
            // Swap in only in a step that preempted nothing: oldest arrival first, head-of-line.
            if (!preempted) {
                std::stable_sort(swapped.begin(), swapped.end(),
                                 [](const Seq &a, const Seq &b) { return a.arrival < b.arrival; });
                while (!swapped.empty() && running.size() < max_seqs) {
                    Seq &q = swapped.front();
                    if ((long long)free_gpu.size() - (long long)q.cpu.size() - 1 < watermark) break;
                    Seq s = std::move(q);
                    swapped.pop_front();
                    for (size_t j = 0; j < s.cpu.size(); j++) {
                        int b = free_gpu.back();
                        free_gpu.pop_back();
                        swap_in.push_back({b, s.cpu[j], s.offset[j], s.id});
                        s.gpu.push_back(b);
                        free_cpu.push_back(s.cpu[j]);   // freed at swap-in, as vLLM does
                    }
                    s.cpu.clear();
                    s.joined = it + 1;
                    auto pos = std::upper_bound(running.begin(), running.end(), s.arrival,
                                                [](unsigned long long t, const Seq &r) { return t < r.arrival; });
                    running.insert(pos, std::move(s));
                }
            }
        }

        // ---- the step on the GPU: swap_in, swap_out, inputs, forward, outputs ----
        for (const Copy &c : swap_in)
            CHECK(cudaMemcpyAsync(pool_d + c.gpu * S, swap_h + c.cpu * S, S, cudaMemcpyHostToDevice, stream));
        // The KV a block accumulated on the device, written just before its first swap-out: on a real
        // GPU those writes cost HBM bandwidth only; on simgpu each D2D is a memcpy on this machine.
        for (const Copy &c : fills)
            CHECK(cudaMemcpyAsync(pool_d + c.gpu * S, pattern_d + c.offset, S, cudaMemcpyDeviceToDevice, stream));
        for (const Copy &c : swap_out)
            CHECK(cudaMemcpyAsync(swap_h + c.cpu * S, pool_d + c.gpu * S, S, cudaMemcpyDeviceToHost, stream));
        // Block tables and token ids: fresh bytes at the same pinned address every step.
        size_t n_small = 4 * running.size();
        for (const Seq &s : running) n_small += 4 * s.gpu.size();
        n_small = std::max<size_t>(n_small, 4);
        fill_pattern(small_h, n_small, 0x7700000000ull + it);
        size_t ids = std::min(n_small, 4 * running.size());   // token ids first, then the block tables
        if (ids) CHECK(cudaMemcpyAsync(small_d, small_h, ids, cudaMemcpyHostToDevice, stream));
        CHECK(cudaMemcpyAsync(small_d + ids, small_h + ids, n_small - ids, cudaMemcpyHostToDevice, stream));
        compute(stream, prefill ? 2 * compute_ns : compute_ns);
        CHECK(cudaMemcpyAsync(result_d, small_d, n_small, cudaMemcpyDeviceToDevice, stream));
        CHECK(cudaMemcpyAsync(result_h, result_d, n_small, cudaMemcpyDeviceToHost, stream));
        // Read-back of swapped-in blocks: a window per MiB, and every full_every-th block whole.
        std::vector<std::pair<const Copy *, size_t>> windows;   // (block, offset in block)
        for (const Copy &c : swap_in) {
            swapins_seen++;
            if (full_every && swapins_seen % full_every == 0) continue;   // checked whole below
            for (size_t m = 0; m < S; m += 1u << 20) {
                size_t span = std::min<size_t>(S - m, 1u << 20);
                size_t off = m + (size_t)(mix64(it ^ (uint64_t)c.gpu << 32) % (span / 64)) * 64;
                off = std::min(off, S - WINDOW);
                windows.push_back({&c, off});
            }
        }
        std::vector<unsigned char> win_h(windows.size() * WINDOW);
        for (size_t w = 0; w < windows.size(); w++)
            CHECK(cudaMemcpyAsync(win_h.data() + w * WINDOW, pool_d + windows[w].first->gpu * S + windows[w].second,
                                  WINDOW, cudaMemcpyDeviceToHost, stream));
        CHECK(cudaStreamSynchronize(stream));

        // ---- checks ----
        long long at = first_difference(result_h, small_h, n_small);
        if (at >= 0) fail("the block tables and token ids read back", 0, at, result_h[at], small_h[at]);
        small_checks++;
        for (const Copy &c : swap_out) {   // the host slot holds the block's content
            const unsigned char *want = pattern_h + c.offset, *got = swap_h + c.cpu * S;
            at = first_difference(got, want, S);
            if (at >= 0) fail("a swapped-out block in its host slot", c.seq, at, got[at], want[at]);
            slot_checks++;
        }
        for (size_t w = 0; w < windows.size(); w++) {
            const Copy &c = *windows[w].first;
            const unsigned char *want = pattern_h + c.offset + windows[w].second, *got = win_h.data() + w * WINDOW;
            at = first_difference(got, want, WINDOW);
            if (at >= 0) fail("a swapped-in block on the device", c.seq, (long long)windows[w].second + at, got[at], want[at]);
            window_checks++;
        }
        unsigned long long seen = swapins_seen - swap_in.size();
        for (const Copy &c : swap_in) {
            seen++;
            if (!(full_every && seen % full_every == 0)) continue;
            CHECK(cudaMemcpyAsync(check_h, pool_d + c.gpu * S, S, cudaMemcpyDeviceToHost, stream));
            CHECK(cudaStreamSynchronize(stream));
            at = first_difference(check_h, pattern_h + c.offset, S);
            if (at >= 0) fail("a swapped-in block on the device (whole)", c.seq, at, check_h[at], pattern_h[c.offset + at]);
            full_checks++;
        }
        stat_in += swap_in.size();
        stat_out += swap_out.size();

        // ---- the tokens: decode steps append one to every running sequence; finished ones leave ----
        if (!prefill) {
            for (size_t i = 0; i < running.size();) {
                Seq &s = running[i];
                if (s.joined == it + 1) {   // swapped in this step: no slot was reserved for a token
                    i++;
                    continue;
                }
                s.tokens++;
                if (--s.remaining == 0) {
                    for (int b : s.gpu) free_gpu.push_back(b);
                    running.erase(running.begin() + (long)i);
                    arrive(it + 1);
                } else {
                    i++;
                }
            }
        }
    }
    CHECK(cudaDeviceSynchronize());
    double wall = seconds_now() - start;
    std::printf("swap block_bytes=%llu gpu_blocks=%llu cpu_blocks=%llu compute_ns=%llu iterations=%llu seed=%llu "
                "wall_s=%.4f iterations_per_s=%.2f swap_in_blocks=%llu swap_out_blocks=%llu preemptions=%llu "
                "recomputes=%llu prefill_steps=%llu\n",
                block_bytes, gpu_blocks, cpu_blocks, compute_ns, iterations, seed, wall, (double)iterations / wall,
                stat_in, stat_out, preemptions, recomputes, prefill_steps);
    std::printf("swap verify=ok slot_checks=%llu window_checks=%llu full_checks=%llu small_checks=%llu compute=%s\n",
                slot_checks, window_checks, full_checks, small_checks, compute_kind);

    CHECK(cudaStreamDestroy(stream));
    CHECK(cudaFree(pool_d));
    CHECK(cudaFree(pattern_d));
    CHECK(cudaFree(small_d));
    CHECK(cudaFree(result_d));
    CHECK(cudaFreeHost(pattern_h));
    CHECK(cudaFreeHost(swap_h));
    CHECK(cudaFreeHost(small_h));
    CHECK(cudaFreeHost(result_h));
    CHECK(cudaFreeHost(check_h));
    return 0;
}
