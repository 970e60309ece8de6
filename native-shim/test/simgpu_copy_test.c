/* Data integrity of every copy path, at sizes around 16 B and the CC chunk size, pinned and
 * pageable, sync and async, 1D and 2D, from two threads at once; and the message accounting. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdint.h>

#include "simgpu.h"
#include "test_runner.h"

static size_t chunk(void) {
    const char *v = getenv("SIMGPU_CC_CHUNK_BYTES");   /* ctest passes plain byte counts */
    return v ? strtoull(v, NULL, 10) : (1u << 20);
}

static void fill(char *p, size_t n, unsigned seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (char)x;
    }
}

static size_t messages_for(size_t n) { return n ? (n + chunk() - 1) / chunk() : 0; }

/* H2D then D2D then D2H of n bytes; checks bytes and, with CC on, the IV accounting. */
static void round_trip(size_t n, int pinned, int async, cudaStream_t s) {
    char *src, *dst;
    if (pinned) {
        REQUIRE(cudaMallocHost((void **)&src, n + 1) == cudaSuccess);
        REQUIRE(cudaMallocHost((void **)&dst, n + 1) == cudaSuccess);
    } else {
        src = malloc(n + 1);
        dst = malloc(n + 1);
    }
    fill(src, n, (unsigned)n);
    memset(dst, 0, n + 1);
    void *d1 = NULL, *d2 = NULL;
    REQUIRE(cudaMalloc(&d1, n + 1) == cudaSuccess);
    REQUIRE(cudaMalloc(&d2, n + 1) == cudaSuccess);
    simgpuStats before, after;
    simgpuGetStats(&before);
    if (async) {
        CHECK_EQ(cudaMemcpyAsync(d1, src, n, cudaMemcpyHostToDevice, s), cudaSuccess);
        CHECK_EQ(cudaMemcpyAsync(d2, d1, n, cudaMemcpyDeviceToDevice, s), cudaSuccess);
        CHECK_EQ(cudaMemcpyAsync(dst, d2, n, cudaMemcpyDeviceToHost, s), cudaSuccess);
        CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    } else {
        CHECK_EQ(cudaMemcpy(d1, src, n, cudaMemcpyHostToDevice), cudaSuccess);
        CHECK_EQ(cudaMemcpy(d2, d1, n, cudaMemcpyDeviceToDevice), cudaSuccess);
        CHECK_EQ(cudaMemcpy(dst, d2, n, cudaMemcpyDeviceToHost), cudaSuccess);
    }
    simgpuGetStats(&after);
    if (memcmp(src, dst, n) != 0) fprintf(stderr, "  size %zu pinned %d async %d: bytes differ\n", n, pinned, async);
    CHECK(memcmp(src, dst, n) == 0);
    CHECK_EQ(dst[n], 0);
    if (simgpuCcEnabled() && s == NULL) {   /* other threads may copy concurrently on their streams */
        CHECK_EQ(after.h2d_messages - before.h2d_messages, messages_for(n));
        CHECK_EQ(after.d2h_messages - before.d2h_messages, messages_for(n));
    }
    cudaFree(d1);
    cudaFree(d2);
    if (pinned) {
        cudaFreeHost(src);
        cudaFreeHost(dst);
    } else {
        free(src);
        free(dst);
    }
}

static size_t *sizes(size_t *count) {
    static size_t v[16];
    size_t c = chunk(), i = 0;
    size_t list[] = {0, 1, 15, 16, 17, 4095, c - 1, c, c + 1, 3 * c + 5};
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) v[i++] = list[k];
    *count = i;
    return v;
}

TEST_CASE(round_trips_are_byte_exact_sync_pageable) {
    size_t n, *v = sizes(&n);
    for (size_t i = 0; i < n; i++) round_trip(v[i], 0, 0, NULL);
}

TEST_CASE(round_trips_are_byte_exact_sync_pinned) {
    size_t n, *v = sizes(&n);
    for (size_t i = 0; i < n; i++) round_trip(v[i], 1, 0, NULL);
}

TEST_CASE(round_trips_are_byte_exact_async_pinned_and_pageable) {
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    size_t n, *v = sizes(&n);
    for (size_t i = 0; i < n; i++) {
        round_trip(v[i], 1, 1, s);
        round_trip(v[i], 0, 1, s);
    }
    cudaStreamDestroy(s);
}

TEST_CASE(every_h2d_copy_costs_at_least_one_message) {
    if (!simgpuCcEnabled()) return;
    char one = 'x';
    void *d = NULL;
    REQUIRE(cudaMalloc(&d, 1) == cudaSuccess);
    simgpuStats a, b;
    simgpuGetStats(&a);
    for (int i = 0; i < 5; i++) CHECK_EQ(cudaMemcpy(d, &one, 1, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy(d, &one, 0, cudaMemcpyHostToDevice), cudaSuccess);   /* 0 bytes: no message */
    simgpuGetStats(&b);
    CHECK_EQ(b.h2d_messages - a.h2d_messages, 5);
    cudaFree(d);
}

TEST_CASE(copies_2d_gather_and_scatter_rows) {
    const size_t w = chunk() / 2 + 3, h = 5, spitch = w + 7, dpitch = w + 64;
    char *src = malloc(spitch * h), *back = calloc(1, spitch * h);
    fill(src, spitch * h, 99);
    char *d = NULL;
    REQUIRE(cudaMalloc((void **)&d, dpitch * h) == cudaSuccess);
    CHECK_EQ(cudaMemset(d, 0, dpitch * h), cudaSuccess);
    CHECK_EQ(cudaMemcpy2D(d, dpitch, src, spitch, w, h, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy2DAsync(back, spitch, d, dpitch, w, h, cudaMemcpyDeviceToHost, NULL), cudaSuccess);
    CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
    for (size_t r = 0; r < h; r++) {
        CHECK(memcmp(src + r * spitch, back + r * spitch, w) == 0);
        CHECK_EQ(back[r * spitch + w], 0);   /* the padding of each row is left alone */
    }
    cudaFree(d);
    free(src);
    free(back);
}

static void *thread_main(void *arg) {
    cudaStream_t s;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) return (void *)1;
    size_t n = 2 * chunk() + 333;
    char *src = malloc(n), *dst = malloc(n);
    void *d = NULL;
    int bad = cudaMalloc(&d, n) != cudaSuccess;
    for (unsigned it = 0; it < 20 && !bad; it++) {
        fill(src, n, it * 31u + (unsigned)(uintptr_t)arg);
        bad |= cudaMemcpyAsync(d, src, n, cudaMemcpyHostToDevice, s) != cudaSuccess;
        bad |= cudaMemcpyAsync(dst, d, n, cudaMemcpyDeviceToHost, s) != cudaSuccess;
        bad |= cudaStreamSynchronize(s) != cudaSuccess;
        bad |= memcmp(src, dst, n) != 0;
    }
    cudaFree(d);
    cudaStreamDestroy(s);
    free(src);
    free(dst);
    return (void *)(uintptr_t)bad;
}

TEST_CASE(two_threads_copy_at_once_without_mixing_bytes) {
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++) pthread_create(&t[i], NULL, thread_main, (void *)(i + 1));
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    CHECK_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_CASE(statistics_count_bytes_and_copies) {
    simgpuStats a, b;
    simgpuGetStats(&a);
    char buf[100] = {1};
    void *d = NULL;
    REQUIRE(cudaMalloc(&d, 100) == cudaSuccess);
    CHECK_EQ(cudaMemcpy(d, buf, 100, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy(buf, d, 60, cudaMemcpyDeviceToHost), cudaSuccess);
    simgpuGetStats(&b);
    CHECK_EQ(b.h2d_copies - a.h2d_copies, 1);
    CHECK_EQ(b.h2d_bytes - a.h2d_bytes, 100);
    CHECK_EQ(b.d2h_bytes - a.d2h_bytes, 60);
    CHECK_EQ(b.tag_failures, 0);
    CHECK_EQ(simgpuGetStats(NULL), cudaErrorInvalidValue);
    cudaFree(d);
    cudaGetLastError();
}

TEST_MAIN()
