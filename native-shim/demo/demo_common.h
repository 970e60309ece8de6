// What the pipeline benchmark programs (offload.cu, swap.cu) share: error checks, argument parsing,
// a deterministic generator, and modelled compute that runs on simgpu and on a real GPU alike.
#ifndef PIPELLM_DEMO_COMMON_H
#define PIPELLM_DEMO_COMMON_H

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// The program's name in messages; each program sets it first thing in main.
static const char *g_prog = "demo";

// Exit codes: 0 ok, 1 verification failed (a byte differs), 2 usage error, 3 a CUDA call failed.
enum { EXIT_VERIFY = 1, EXIT_USAGE = 2, EXIT_CUDA = 3 };

#define CHECK(call)                                                                              \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            std::fprintf(stderr, "%s: %s failed: %s (%s)\n", g_prog, #call, cudaGetErrorString(e_), \
                         cudaGetErrorName(e_));                                                  \
            std::exit(EXIT_CUDA);                                                                \
        }                                                                                        \
    } while (0)

[[noreturn]] static void usage_error(const char *usage, const char *fmt, const char *arg) {
    std::fprintf(stderr, "%s: ", g_prog);
    std::fprintf(stderr, fmt, arg);
    std::fprintf(stderr, " (usage: %s)\n", usage);
    std::exit(EXIT_USAGE);
}

// A non-negative integer with an optional binary suffix K, M or G; false when malformed or too large.
static bool parse_count(const char *s, unsigned long long max, unsigned long long *out) {
    if (!s || !*s || *s == '-' || *s == '+') return false;
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || end == s) return false;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10;
    else if (*end == 'M' || *end == 'm') shift = 20;
    else if (*end == 'G' || *end == 'g') shift = 30;
    if (shift) end++;
    if (*end) return false;
    if (shift && v > (max >> shift)) return false;
    v <<= shift;
    if (v > max) return false;
    *out = v;
    return true;
}

static double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// splitmix64: the deterministic byte patterns and the schedules.
static inline uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Fills n bytes at p with the pattern named by seed (the same seed gives the same bytes).
static void fill_pattern(void *p, size_t n, uint64_t seed) {
    unsigned char *b = static_cast<unsigned char *>(p);
    size_t words = n / 8;
    uint64_t s = mix64(seed);
    for (size_t i = 0; i < words; i++) {
        uint64_t w = mix64(s + i);
        std::memcpy(b + 8 * i, &w, 8);
    }
    uint64_t w = mix64(s + words);
    std::memcpy(b + 8 * words, &w, n - 8 * words);
}

// First differing byte of a and b (n bytes), or -1.
static long long first_difference(const void *a, const void *b, size_t n) {
    if (std::memcmp(a, b, n) == 0) return -1;
    const unsigned char *x = static_cast<const unsigned char *>(a), *y = static_cast<const unsigned char *>(b);
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return (long long)i;
    return -1;
}

// ---- modelled compute: simgpuStreamCompute on simgpu, a spin kernel of that duration on a real GPU ----
typedef cudaError_t (*stream_compute_fn)(cudaStream_t, unsigned long long);
static stream_compute_fn g_stream_compute;

__global__ void spin_kernel(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}

// Resolves simgpu's extension once; returns "simgpu" or "gpu" (spin kernels).
static const char *compute_init() {
    g_stream_compute = reinterpret_cast<stream_compute_fn>(dlsym(RTLD_DEFAULT, "simgpuStreamCompute"));
    return g_stream_compute ? "simgpu" : "gpu";
}

// ns nanoseconds of device work in stream order, as a layer's kernels would be.
static void compute(cudaStream_t stream, unsigned long long ns) {
    if (!ns) return;
    if (g_stream_compute) {
        CHECK(g_stream_compute(stream, ns));
    } else {
        spin_kernel<<<1, 1, 0, stream>>>(ns);
        CHECK(cudaGetLastError());
    }
}

#endif
