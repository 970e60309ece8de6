/* simgpu's CUDA runtime API: argument errors with the real runtime's codes, device queries,
 * streams, events, callbacks, reset. Runs with CC on and off (ctest sets SIMGPU_CC). */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simgpu.h"
#include "test_runner.h"

TEST_CASE(device_queries_report_one_h100) {
    int n = -1, dev = -1, v = 0;
    CHECK_EQ(cudaGetDeviceCount(&n), cudaSuccess);
    CHECK_EQ(n, 1);
    CHECK_EQ(cudaGetDeviceCount(NULL), cudaErrorInvalidValue);
    CHECK_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
    CHECK_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);
    CHECK_EQ(cudaSetDevice(0), cudaSuccess);
    CHECK_EQ(cudaGetDevice(&dev), cudaSuccess);
    CHECK_EQ(dev, 0);
    CHECK_EQ(cudaGetDevice(NULL), cudaErrorInvalidValue);
    CHECK_EQ(cudaRuntimeGetVersion(&v), cudaSuccess);
    CHECK_EQ(v, 13000);
    CHECK_EQ(cudaDriverGetVersion(&v), cudaSuccess);
    CHECK(v >= 13000);
    struct cudaDeviceProp p;
    CHECK_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
    CHECK(strstr(p.name, "H100") != NULL);
    CHECK_EQ(p.major, 9);
    CHECK_EQ(p.minor, 0);
    CHECK_EQ(p.multiProcessorCount, 132);
    CHECK_EQ(p.warpSize, 32);
    CHECK(p.totalGlobalMem >= (80ull << 30) - (2ull << 30));
    CHECK_EQ(p.hostRegisterSupported, !simgpuCcEnabled());
    CHECK_EQ(cudaGetDeviceProperties(&p, 1), cudaErrorInvalidDevice);
    CHECK_EQ(cudaGetDeviceProperties(NULL, 0), cudaErrorInvalidValue);
    cudaGetLastError();
}

TEST_CASE(last_error_is_per_call_and_reset_by_get) {
    cudaGetLastError();
    CHECK_EQ(cudaSetDevice(7), cudaErrorInvalidDevice);
    CHECK_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice);
    CHECK_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
    CHECK_EQ(cudaGetLastError(), cudaSuccess);
    CHECK(!strcmp(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue"));
    CHECK(!strcmp(cudaGetErrorString(cudaErrorInvalidValue), "invalid argument"));
    CHECK(!strcmp(cudaGetErrorString((cudaError_t)12345), "unrecognized error code"));
}

TEST_CASE(malloc_and_free_reject_bad_arguments) {
    void *d = NULL;
    CHECK_EQ(cudaMalloc(NULL, 16), cudaErrorInvalidValue);
    CHECK_EQ(cudaMalloc(&d, 0), cudaSuccess);
    CHECK(d == NULL);
    CHECK_EQ(cudaMalloc(&d, (size_t)1 << 50), cudaErrorMemoryAllocation);
    REQUIRE(cudaMalloc(&d, 1000) == cudaSuccess);
    CHECK(((uintptr_t)d & 255) == 0);
    struct cudaPointerAttributes a;
    CHECK_EQ(cudaPointerGetAttributes(&a, d), cudaSuccess);
    CHECK_EQ(a.type, cudaMemoryTypeDevice);
    CHECK(a.devicePointer == d);
    CHECK_EQ(cudaFree((char *)d + 16), cudaErrorInvalidValue);   /* interior pointer */
    CHECK_EQ(cudaFree(d), cudaSuccess);
    CHECK_EQ(cudaFree(d), cudaErrorInvalidValue);                /* double free */
    int host_var;
    CHECK_EQ(cudaFree(&host_var), cudaErrorInvalidValue);        /* host pointer */
    CHECK_EQ(cudaFree(NULL), cudaSuccess);
    CHECK_EQ(cudaPointerGetAttributes(&a, &host_var), cudaSuccess);
    CHECK_EQ(a.type, cudaMemoryTypeUnregistered);
    CHECK_EQ(cudaPointerGetAttributes(NULL, &host_var), cudaErrorInvalidValue);
    cudaGetLastError();
}

TEST_CASE(device_memory_is_lazy_so_an_80gb_device_fits) {
    size_t free_b, total;
    CHECK_EQ(cudaMemGetInfo(&free_b, &total), cudaSuccess);
    void *big = NULL;
    REQUIRE(cudaMalloc(&big, (size_t)60 << 30) == cudaSuccess);   /* more than this machine's RAM */
    size_t free2;
    CHECK_EQ(cudaMemGetInfo(&free2, &total), cudaSuccess);
    CHECK(free_b - free2 >= ((size_t)60 << 30));
    ((char *)big)[(size_t)59 << 30] = 1;                          /* only touched pages cost RAM */
    CHECK_EQ(cudaFree(big), cudaSuccess);
    CHECK_EQ(cudaMemGetInfo(&free2, &total), cudaSuccess);
    CHECK_EQ(free2, free_b);
    CHECK_EQ(cudaMemGetInfo(NULL, &total), cudaErrorInvalidValue);
    cudaGetLastError();
}

TEST_CASE(pinned_memory_and_host_register_follow_cc_mode) {
    void *h = NULL;
    CHECK_EQ(cudaHostAlloc(&h, 4096, 0x80), cudaErrorInvalidValue);
    CHECK_EQ(cudaHostAlloc(NULL, 4096, 0), cudaErrorInvalidValue);
    REQUIRE(cudaMallocHost(&h, 10000) == cudaSuccess);
    struct cudaPointerAttributes a;
    CHECK_EQ(cudaPointerGetAttributes(&a, (char *)h + 9999), cudaSuccess);
    CHECK_EQ(a.type, cudaMemoryTypeHost);
    CHECK_EQ(cudaFreeHost((char *)h + 1), cudaErrorInvalidValue);
    CHECK_EQ(cudaFreeHost(h), cudaSuccess);
    CHECK_EQ(cudaFreeHost(h), cudaErrorInvalidValue);
    static char buf[8192];
    if (simgpuCcEnabled()) {
        CHECK_EQ(cudaHostRegister(buf, sizeof buf, 0), cudaErrorNotSupported);
    } else {
        CHECK_EQ(cudaHostRegister(buf, sizeof buf, 0), cudaSuccess);
        CHECK_EQ(cudaHostRegister(buf + 100, 10, 0), cudaErrorHostMemoryAlreadyRegistered);
        CHECK_EQ(cudaPointerGetAttributes(&a, buf + 10), cudaSuccess);
        CHECK_EQ(a.type, cudaMemoryTypeHost);
        CHECK_EQ(cudaHostUnregister(buf), cudaSuccess);
        CHECK_EQ(cudaHostUnregister(buf), cudaErrorHostMemoryNotRegistered);
        CHECK_EQ(cudaHostRegister(NULL, 10, 0), cudaErrorInvalidValue);
    }
    cudaGetLastError();
}

TEST_CASE(copies_reject_bad_arguments) {
    char *d = NULL, host[64] = {0};
    REQUIRE(cudaMalloc((void **)&d, 64) == cudaSuccess);
    CHECK_EQ(cudaMemcpy(d, host, 64, (enum cudaMemcpyKind)7), cudaErrorInvalidMemcpyDirection);
    CHECK_EQ(cudaMemcpy(d, NULL, 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemcpy(NULL, host, 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemcpy(host, d, 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);   /* wrong kind */
    CHECK_EQ(cudaMemcpy(d, host, 65, cudaMemcpyHostToDevice), cudaErrorInvalidValue);   /* past the allocation */
    CHECK_EQ(cudaMemcpy(d, host, 0, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy(d, host, 64, cudaMemcpyDefault), cudaSuccess);
    CHECK_EQ(cudaMemcpyAsync(d, host, 64, cudaMemcpyHostToDevice, (cudaStream_t)(uintptr_t)0xdead0), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaMemcpy2D(d, 4, host, 8, 8, 2, cudaMemcpyHostToDevice), cudaErrorInvalidPitchValue);
    CHECK_EQ(cudaMemcpy2D(d, 16, host, 16, 8, 4, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy2D(d, 32, host, 16, 8, 4, cudaMemcpyHostToDevice), cudaErrorInvalidValue); /* 104 > 64 */
    CHECK_EQ(cudaMemset(host, 0, 8), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemset(d, 0, 65), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemset(d, 0x5a, 64), cudaSuccess);
    CHECK_EQ(cudaMemcpy(host, d, 64, cudaMemcpyDeviceToHost), cudaSuccess);
    CHECK(host[0] == 0x5a && host[63] == 0x5a);
    CHECK_EQ(cudaFree(d), cudaSuccess);
    cudaGetLastError();
}

TEST_CASE(streams_validate_handles_and_flags) {
    cudaStream_t s;
    CHECK_EQ(cudaStreamCreate(NULL), cudaErrorInvalidValue);
    CHECK_EQ(cudaStreamCreateWithFlags(&s, 4), cudaErrorInvalidValue);
    REQUIRE(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, -100) == cudaSuccess);
    int prio = 1, least, greatest;
    unsigned flags = 9;
    CHECK_EQ(cudaDeviceGetStreamPriorityRange(&least, &greatest), cudaSuccess);
    CHECK_EQ(cudaStreamGetPriority(s, &prio), cudaSuccess);
    CHECK_EQ(prio, greatest);
    CHECK_EQ(cudaStreamGetFlags(s, &flags), cudaSuccess);
    CHECK_EQ(flags, cudaStreamNonBlocking);
    CHECK_EQ(cudaStreamQuery(s), cudaSuccess);
    CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(s), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(s), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaStreamSynchronize(s), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaStreamDestroy(NULL), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess);
    CHECK_EQ(cudaStreamSynchronize(cudaStreamLegacy), cudaSuccess);
    cudaGetLastError();
}

static void CUDART_CB host_fn(void *p) { __atomic_add_fetch((int *)p, 1, __ATOMIC_SEQ_CST); }

static void CUDART_CB stream_cb(cudaStream_t s, cudaError_t status, void *p) {
    (void)s;
    if (status == cudaSuccess) __atomic_add_fetch((int *)p, 10, __ATOMIC_SEQ_CST);
}

TEST_CASE(host_functions_run_in_stream_order) {
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    int counter = 0;
    CHECK_EQ(simgpuStreamCompute(s, 200 * 1000 * 1000), cudaSuccess);   /* 200 ms of modelled work */
    CHECK_EQ(cudaLaunchHostFunc(s, host_fn, &counter), cudaSuccess);
    CHECK_EQ(cudaStreamAddCallback(s, stream_cb, &counter, 0), cudaSuccess);
    CHECK_EQ(cudaStreamQuery(s), cudaErrorNotReady);
    CHECK_EQ(__atomic_load_n(&counter, __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(cudaStreamSynchronize(s), cudaSuccess);
    CHECK_EQ(counter, 11);
    CHECK_EQ(cudaLaunchHostFunc(s, NULL, NULL), cudaErrorInvalidValue);
    CHECK_EQ(cudaStreamAddCallback(s, stream_cb, &counter, 1), cudaErrorInvalidValue);
    CHECK_EQ(cudaStreamDestroy(s), cudaSuccess);
    cudaGetLastError();
}

TEST_CASE(events_follow_runtime_rules) {
    cudaEvent_t a, b, nt;
    float ms = -1;
    CHECK_EQ(cudaEventCreateWithFlags(&a, 0x40), cudaErrorInvalidValue);
    CHECK_EQ(cudaEventCreateWithFlags(&a, cudaEventInterprocess), cudaErrorInvalidValue);
    REQUIRE(cudaEventCreate(&a) == cudaSuccess);
    REQUIRE(cudaEventCreate(&b) == cudaSuccess);
    REQUIRE(cudaEventCreateWithFlags(&nt, cudaEventDisableTiming) == cudaSuccess);
    CHECK_EQ(cudaEventQuery(a), cudaSuccess);                      /* never recorded */
    CHECK_EQ(cudaEventElapsedTime(&ms, a, b), cudaErrorInvalidResourceHandle);
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    /* Queued behind 200 ms of work, the events' times are fixed by the model alone. */
    CHECK_EQ(simgpuStreamCompute(s, 200 * 1000 * 1000), cudaSuccess);
    CHECK_EQ(cudaEventRecord(a, s), cudaSuccess);
    CHECK_EQ(simgpuStreamCompute(s, 5 * 1000 * 1000), cudaSuccess);
    CHECK_EQ(cudaEventRecord(b, s), cudaSuccess);
    CHECK_EQ(cudaEventRecord(nt, s), cudaSuccess);
    CHECK_EQ(cudaEventQuery(b), cudaErrorNotReady);
    CHECK_EQ(cudaEventElapsedTime(&ms, a, b), cudaErrorNotReady);
    CHECK_EQ(cudaEventSynchronize(b), cudaSuccess);
    CHECK_EQ(cudaEventElapsedTime(&ms, a, b), cudaSuccess);
    CHECK(ms > 4.999f && ms < 5.001f);                             /* exactly the modelled 5 ms */
    CHECK_EQ(cudaEventElapsedTime(&ms, a, nt), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaEventElapsedTime(NULL, a, b), cudaErrorInvalidValue);
    CHECK_EQ(cudaEventRecord(a, (cudaStream_t)(uintptr_t)0xbad0), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaEventDestroy(a), cudaSuccess);
    CHECK_EQ(cudaEventDestroy(a), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaEventQuery(a), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaEventDestroy(b), cudaSuccess);
    CHECK_EQ(cudaEventDestroy(nt), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(s), cudaSuccess);
    cudaGetLastError();
}

TEST_CASE(stream_wait_event_orders_streams) {
    cudaStream_t s1, s2;
    cudaEvent_t e;
    REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking) == cudaSuccess);
    REQUIRE(cudaEventCreate(&e) == cudaSuccess);
    int counter = 0;
    CHECK_EQ(simgpuStreamCompute(s1, 300 * 1000 * 1000), cudaSuccess);
    CHECK_EQ(cudaEventRecord(e, s1), cudaSuccess);
    CHECK_EQ(cudaStreamWaitEvent(s2, e, 0), cudaSuccess);
    CHECK_EQ(cudaLaunchHostFunc(s2, host_fn, &counter), cudaSuccess);
    usleep(2000);
    CHECK_EQ(__atomic_load_n(&counter, __ATOMIC_SEQ_CST), 0);        /* s2 still waits for s1 */
    CHECK_EQ(cudaStreamSynchronize(s2), cudaSuccess);
    CHECK_EQ(counter, 1);
    CHECK_EQ(cudaEventQuery(e), cudaSuccess);
    CHECK_EQ(cudaStreamWaitEvent(s2, (cudaEvent_t)(uintptr_t)0xbad0, 0), cudaErrorInvalidResourceHandle);
    cudaEventDestroy(e);
    cudaStreamDestroy(s1);
    cudaStreamDestroy(s2);
    cudaGetLastError();
}

TEST_CASE(legacy_stream_synchronises_with_blocking_streams) {
    cudaStream_t blocking_s, nonblocking_s;
    REQUIRE(cudaStreamCreate(&blocking_s) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&nonblocking_s, cudaStreamNonBlocking) == cudaSuccess);
    int counter = 0;
    CHECK_EQ(simgpuStreamCompute(blocking_s, 10 * 1000 * 1000), cudaSuccess);
    CHECK_EQ(cudaLaunchHostFunc(blocking_s, host_fn, &counter), cudaSuccess);
    CHECK_EQ(simgpuStreamCompute(nonblocking_s, 400 * 1000 * 1000), cudaSuccess);
    /* Work on the legacy stream waits for blocking_s but not for the non-blocking stream. */
    CHECK_EQ(cudaStreamSynchronize(NULL), cudaSuccess);
    CHECK_EQ(simgpuStreamCompute(NULL, 1000), cudaSuccess);
    CHECK_EQ(cudaStreamSynchronize(NULL), cudaSuccess);
    CHECK_EQ(__atomic_load_n(&counter, __ATOMIC_SEQ_CST), 1);
    CHECK_EQ(cudaStreamQuery(nonblocking_s), cudaErrorNotReady);
    cudaStreamDestroy(blocking_s);
    cudaStreamDestroy(nonblocking_s);
    cudaGetLastError();
}

TEST_CASE(sizes_that_wrap_around_are_refused) {
    char *d = NULL, host[16];
    REQUIRE(cudaMalloc((void **)&d, 64) == cudaSuccess);
    CHECK_EQ(cudaMemcpy2D(d, SIZE_MAX / 2, host, 16, 16, 4, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemcpy2D(d, SIZE_MAX / 2, host, SIZE_MAX / 2, SIZE_MAX / 2, 3, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    CHECK_EQ(cudaMemcpy(d, host, SIZE_MAX, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    cudaFree(d);
    cudaGetLastError();
}

TEST_CASE(a_forked_child_cannot_use_the_parents_context) {
    void *d = NULL;
    REQUIRE(cudaMalloc(&d, 16) == cudaSuccess);
    pid_t pid = fork();
    if (pid == 0) {
        void *x = NULL;
        _exit(cudaMalloc(&x, 16) == cudaErrorInitializationError ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(cudaFree(d), cudaSuccess);   /* the parent is unaffected */
}

TEST_CASE(kernel_launch_is_refused_clearly) {
    dim3 grid = {1, 1, 1}, block = {32, 1, 1};
    CHECK_EQ(cudaLaunchKernel((const void *)host_fn, grid, block, NULL, 0, NULL), cudaErrorNoKernelImageForDevice);
    CHECK_EQ(cudaGetLastError(), cudaErrorNoKernelImageForDevice);
}

/* Last: reset destroys everything the context owned. */
TEST_CASE(zz_device_reset_invalidates_handles_and_pointers) {
    void *d = NULL;
    cudaStream_t s;
    cudaEvent_t e;
    REQUIRE(cudaMalloc(&d, 4096) == cudaSuccess);
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    REQUIRE(cudaEventCreate(&e) == cudaSuccess);
    CHECK_EQ(cudaDeviceReset(), cudaSuccess);
    CHECK_EQ(cudaStreamSynchronize(s), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaEventQuery(e), cudaErrorInvalidResourceHandle);
    CHECK_EQ(cudaFree(d), cudaErrorInvalidValue);
    size_t f, t;
    CHECK_EQ(cudaMemGetInfo(&f, &t), cudaSuccess);
    CHECK_EQ(f, t);
    char host[32] = "after reset", back[32] = {0};
    REQUIRE(cudaMalloc(&d, 32) == cudaSuccess);     /* the new context works */
    CHECK_EQ(cudaMemcpy(d, host, 32, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_EQ(cudaMemcpy(back, d, 32, cudaMemcpyDeviceToHost), cudaSuccess);
    CHECK(!memcmp(host, back, 32));
    cudaGetLastError();
}

TEST_MAIN()
