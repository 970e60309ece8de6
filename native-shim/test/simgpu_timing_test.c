/* The timing model: event times match size/bandwidth + latency, engines serialise per direction
 * and overlap across directions, async semantics for pinned/pageable memory, host-synchronous CC.
 * Run with SIMGPU_PCIE_GBPS=0.25 so that every modelled copy outlasts simgpu's own memcpy by far. */
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "simgpu.h"
#include "test_runner.h"

#define MIB (1u << 20)

static double gbps(void) { return strtod(getenv("SIMGPU_PCIE_GBPS") ? getenv("SIMGPU_PCIE_GBPS") : "50", NULL); }

static double copy_ms(size_t bytes) { return (2000.0 + (double)bytes / gbps()) / 1e6; }

static float elapsed(cudaEvent_t a, cudaEvent_t b) {
    float ms = -1;
    cudaEventElapsedTime(&ms, a, b);
    return ms;
}

TEST_CASE(copy_event_time_is_latency_plus_size_over_bandwidth) {
    cudaStream_t s;
    cudaEvent_t a, b;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    char *h, *d;
    REQUIRE(cudaMallocHost((void **)&h, 4 * MIB) == cudaSuccess);
    REQUIRE(cudaMalloc((void **)&d, 4 * MIB) == cudaSuccess);
    memset(h, 1, 4 * MIB);
    for (int dir = 0; dir < 2; dir++) {
        simgpuStreamCompute(s, 150 * 1000 * 1000);   /* keeps the stream busy (even on a loaded machine): times are the model's */
        cudaEventRecord(a, s);
        if (dir == 0) CHECK_EQ(cudaMemcpyAsync(d, h, 4 * MIB, cudaMemcpyHostToDevice, s), cudaSuccess);
        else CHECK_EQ(cudaMemcpyAsync(h, d, 4 * MIB, cudaMemcpyDeviceToHost, s), cudaSuccess);
        cudaEventRecord(b, s);
        CHECK_EQ(cudaEventSynchronize(b), cudaSuccess);
        float ms = elapsed(a, b);
        if (simgpuCcEnabled()) {
            CHECK(ms >= copy_ms(4 * MIB) - 0.001);   /* never faster than the model */
        } else {
            if (ms < copy_ms(4 * MIB) - 0.001 || ms > copy_ms(4 * MIB) + 0.001)
                fprintf(stderr, "  dir %d: %.4f ms, model %.4f ms\n", dir, ms, copy_ms(4 * MIB));
            CHECK(ms > copy_ms(4 * MIB) - 0.001 && ms < copy_ms(4 * MIB) + 0.001);
        }
    }
    cudaFreeHost(h);
    cudaFree(d);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaStreamDestroy(s);
}

TEST_CASE(modelled_compute_adds_up_exactly) {
    cudaStream_t s;
    cudaEvent_t a, b;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    simgpuStreamCompute(s, 200 * 1000 * 1000);   /* submissions below land while this still runs */
    cudaEventRecord(a, s);
    for (int i = 0; i < 3; i++) simgpuStreamCompute(s, 1000 * 1000);
    cudaEventRecord(b, s);
    CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    float ms = elapsed(a, b);
    CHECK(ms > 2.999f && ms < 3.001f);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaStreamDestroy(s);
}

/* Span of [a1..b1] and [a2..b2] for one copy on each of two streams. */
static float two_stream_span(enum cudaMemcpyKind k1, enum cudaMemcpyKind k2, size_t n) {
    cudaStream_t s1, s2;
    cudaEvent_t a1, b1, a2, b2;
    cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
    cudaEventCreate(&a1); cudaEventCreate(&b1); cudaEventCreate(&a2); cudaEventCreate(&b2);
    char *h1, *h2, *d1, *d2;
    cudaMallocHost((void **)&h1, n);
    cudaMallocHost((void **)&h2, n);
    cudaMalloc((void **)&d1, n);
    cudaMalloc((void **)&d2, n);
    cudaEventRecord(a1, s1);
    cudaEventRecord(a2, s2);
    cudaMemcpyAsync(k1 == cudaMemcpyHostToDevice ? (void *)d1 : h1, k1 == cudaMemcpyHostToDevice ? (void *)h1 : d1, n, k1, s1);
    cudaMemcpyAsync(k2 == cudaMemcpyHostToDevice ? (void *)d2 : h2, k2 == cudaMemcpyHostToDevice ? (void *)h2 : d2, n, k2, s2);
    cudaEventRecord(b1, s1);
    cudaEventRecord(b2, s2);
    cudaDeviceSynchronize();
    float end1 = elapsed(a1, b1), end2 = elapsed(a1, b2);   /* a1 and a2 are recorded back to back */
    float span = end1 > end2 ? end1 : end2;
    cudaFreeHost(h1); cudaFreeHost(h2); cudaFree(d1); cudaFree(d2);
    cudaEventDestroy(a1); cudaEventDestroy(b1); cudaEventDestroy(a2); cudaEventDestroy(b2);
    cudaStreamDestroy(s1);
    cudaStreamDestroy(s2);
    return span;
}

TEST_CASE(one_copy_engine_per_direction) {
    if (simgpuCcEnabled()) return;   /* under CC the calling thread serialises copies anyway */
    size_t n = 16 * MIB;
    float same = two_stream_span(cudaMemcpyHostToDevice, cudaMemcpyHostToDevice, n);
    float opposite = two_stream_span(cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, n);
    CHECK(same >= 2 * copy_ms(n) - 0.001);      /* same engine: one after the other */
    CHECK(opposite < 2 * copy_ms(n) - 1.0);     /* two engines: they overlap */
}

TEST_CASE(async_from_pinned_returns_before_the_copy_completes) {
    if (simgpuCcEnabled()) return;
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    char *pinned, *pageable = malloc(32 * MIB), *d;
    REQUIRE(cudaMallocHost((void **)&pinned, 32 * MIB) == cudaSuccess);
    REQUIRE(cudaMalloc((void **)&d, 32 * MIB) == cudaSuccess);
    CHECK_EQ(cudaMemcpyAsync(d, pinned, 32 * MIB, cudaMemcpyHostToDevice, s), cudaSuccess);
    CHECK_EQ(cudaStreamQuery(s), cudaErrorNotReady);        /* 134 ms of modelled PCIe still to go */
    CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    CHECK_EQ(cudaMemcpyAsync(d, pageable, 32 * MIB, cudaMemcpyHostToDevice, s), cudaSuccess);
    CHECK_EQ(cudaStreamQuery(s), cudaSuccess);              /* pageable: synchronous */
    cudaFreeHost(pinned);
    cudaFree(d);
    free(pageable);
    cudaStreamDestroy(s);
}

TEST_CASE(cc_async_h2d_is_host_synchronous_so_the_source_can_be_reused) {
    if (!simgpuCcEnabled()) return;
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    size_t n = 3 * MIB + 17;
    char *src, *back = malloc(n), *d;
    REQUIRE(cudaMallocHost((void **)&src, n) == cudaSuccess);
    REQUIRE(cudaMalloc((void **)&d, n) == cudaSuccess);
    memset(src, 0x11, n);
    simgpuStreamCompute(s, 30 * 1000 * 1000);               /* the copy executes 30 ms later... */
    CHECK_EQ(cudaMemcpyAsync(d, src, n, cudaMemcpyHostToDevice, s), cudaSuccess);
    memset(src, 0x22, n);                                   /* ...but was encrypted at the call */
    CHECK_EQ(cudaMemcpyAsync(back, d, n, cudaMemcpyDeviceToHost, s), cudaSuccess);
    CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    CHECK(back[0] == 0x11 && back[n - 1] == 0x11);
    cudaFreeHost(src);
    cudaFree(d);
    free(back);
    cudaStreamDestroy(s);
}

TEST_MAIN()
