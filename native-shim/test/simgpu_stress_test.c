/* Concurrency under back-pressure: several threads, each with its own streams, mix H2D, D2D, D2H,
 * events across streams and host functions, with a bounce pool of only a few chunks (ctest sets
 * it), so that the driver, the copy engines and the stream workers hand messages to each other
 * constantly. Every byte must arrive, nothing may deadlock, no tag may fail. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdint.h>

#include "simgpu.h"
#include "test_runner.h"

#define THREADS 4
#define ROUNDS 60

static void CUDART_CB bump(void *p) { __atomic_add_fetch((int *)p, 1, __ATOMIC_SEQ_CST); }

static void *worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    cudaStream_t up, down;
    cudaEvent_t uploaded;
    if (cudaStreamCreateWithFlags(&up, cudaStreamNonBlocking) || cudaStreamCreate(&down) || cudaEventCreate(&uploaded))
        return (void *)1;
    int callbacks = 0, bad = 0;
    unsigned seed = id * 7919u + 1;
    for (int r = 0; r < ROUNDS && !bad; r++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + seed % (3u << 16);             /* 1 B .. 192 KiB: 0 to 4 messages of 64 KiB */
        char *src, *dst;
        void *d1, *d2;
        if (cudaMallocHost((void **)&src, n) || cudaMallocHost((void **)&dst, n) || cudaMalloc(&d1, n) || cudaMalloc(&d2, n)) {
            bad = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) src[i] = (char)(i * 31 + id * 17 + (unsigned)r);
        memset(dst, 0, n);
        bad |= cudaMemcpyAsync(d1, src, n, cudaMemcpyHostToDevice, up) != cudaSuccess;
        bad |= cudaEventRecord(uploaded, up) != cudaSuccess;
        bad |= cudaStreamWaitEvent(down, uploaded, 0) != cudaSuccess;   /* down waits for up */
        bad |= cudaMemcpyAsync(d2, d1, n, cudaMemcpyDeviceToDevice, down) != cudaSuccess;
        bad |= cudaLaunchHostFunc(down, bump, &callbacks) != cudaSuccess;
        bad |= cudaMemcpyAsync(dst, d2, n, cudaMemcpyDeviceToHost, down) != cudaSuccess;
        bad |= cudaStreamSynchronize(down) != cudaSuccess;
        if (memcmp(src, dst, n) != 0) {
            fprintf(stderr, "  thread %u round %d: %zu bytes differ\n", id, r, n);
            bad = 1;
        }
        cudaFree(d1);
        cudaFree(d2);
        cudaFreeHost(src);
        cudaFreeHost(dst);
    }
    bad |= callbacks != ROUNDS;
    cudaEventDestroy(uploaded);
    cudaStreamDestroy(up);
    cudaStreamDestroy(down);
    return (void *)(uintptr_t)bad;
}

TEST_CASE(threads_streams_and_events_under_back_pressure) {
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) REQUIRE(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    simgpuStats st;
    simgpuGetStats(&st);
    CHECK_EQ(st.tag_failures, 0);
    CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
    if (simgpuCcEnabled()) CHECK(st.h2d_messages >= THREADS * ROUNDS);
}

TEST_MAIN()
