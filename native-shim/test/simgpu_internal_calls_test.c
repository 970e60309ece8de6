/*
 * Every exported function, called once, reaches a preloaded interposer exactly once: simgpu never
 * calls its own exported functions through the dynamic linker (cudaMallocHost is not also a
 * cudaHostAlloc, cudaEventRecordWithFlags not also a cudaEventRecord, which PipeLLM's shim hooks).
 * Runs under LD_PRELOAD=libcount_cuda.so (count_cuda.c). Each check also requires that nothing
 * else was counted during the call; the last test requires that every function in count_cuda.def
 * was called exactly once in all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "simgpu.h"
#include "test_runner.h"

/* The registration entry points nvcc emits have no declaration in the runtime headers. */
#define X(ret, name, params, args) ret name params;
#define XV(name, params, args) void name params;
#include "count_cuda.def"
#undef X
#undef XV

static long (*calls)(const char *);
static long (*total)(void);

/* Evaluates `expr` (one call of `fn`) and checks that the interposer saw exactly that call. */
#define ONCE(fn, expr)                                                              \
    do {                                                                            \
        long fn_before = calls(#fn), total_before = total();                        \
        expr;                                                                       \
        CHECK_EQ(calls(#fn) - fn_before, 1);                                        \
        CHECK_EQ(total() - total_before, 1);                                        \
    } while (0)

#define BYTES ((3u << 20) + 5u)   /* several CC messages */

static char *dev;
static unsigned char *pinned, *pinned2, *pageable;
static cudaStream_t s1, s2, s3;
static cudaEvent_t e1, e2;
static int host_fn_ran, callback_ran, cc_on;

static void host_fn(void *user) { *(int *)user = 1; }
static void CUDART_CB stream_cb(cudaStream_t s, cudaError_t status, void *user) { (void)s; (void)status; *(int *)user = 1; }

TEST_CASE(interposer_is_preloaded) {
    *(void **)&calls = dlsym(RTLD_DEFAULT, "count_cuda_calls");
    *(void **)&total = dlsym(RTLD_DEFAULT, "count_cuda_total");
    if (!calls || !total) {   /* every later test needs it */
        fprintf(stderr, "libcount_cuda.so is not preloaded (LD_PRELOAD)\n");
        exit(1);
    }
}

TEST_CASE(device_queries_are_single_calls) {
    int n = 0, d = -1, v = 0, least = 1, greatest = 1;
    struct cudaDeviceProp prop;
    size_t free_bytes = 0, total_bytes = 0;
    ONCE(cudaGetDeviceCount, CHECK_EQ(cudaGetDeviceCount(&n), cudaSuccess));
    ONCE(cudaSetDevice, CHECK_EQ(cudaSetDevice(0), cudaSuccess));
    ONCE(cudaGetDevice, CHECK_EQ(cudaGetDevice(&d), cudaSuccess));
    ONCE(cudaGetDeviceProperties, CHECK_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess));
    ONCE(cudaDriverGetVersion, CHECK_EQ(cudaDriverGetVersion(&v), cudaSuccess));
    ONCE(cudaRuntimeGetVersion, CHECK_EQ(cudaRuntimeGetVersion(&v), cudaSuccess));
    /* the runtime's driver entry points go to the core's table, not through the driver's export */
    void *fn = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ONCE(cudaGetDriverEntryPoint, CHECK_EQ(cudaGetDriverEntryPoint("cuMemAlloc", &fn, cudaEnableDefault, NULL), cudaSuccess));
#pragma GCC diagnostic pop
    CHECK(fn != NULL);
    void *mapped = NULL;
    ONCE(cudaHostGetDevicePointer, CHECK_EQ(cudaHostGetDevicePointer(&mapped, &v, 0), cudaErrorInvalidValue));
    ONCE(cudaGetDriverEntryPointByVersion,
         CHECK_EQ(cudaGetDriverEntryPointByVersion("cuMemFree", &fn, 12000, cudaEnableDefault, NULL), cudaSuccess));
    CHECK(fn != NULL);
    ONCE(cudaDeviceGetStreamPriorityRange, CHECK_EQ(cudaDeviceGetStreamPriorityRange(&least, &greatest), cudaSuccess));
    ONCE(cudaMemGetInfo, CHECK_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess));
    ONCE(simgpuCcEnabled, cc_on = simgpuCcEnabled());
    CHECK_EQ(n, 1);
    CHECK_EQ(d, 0);
}

TEST_CASE(memory_calls_are_single_calls) {
    struct cudaPointerAttributes attr;
    ONCE(cudaMalloc, CHECK_EQ(cudaMalloc((void **)&dev, BYTES), cudaSuccess));
    ONCE(cudaMallocHost, CHECK_EQ(cudaMallocHost((void **)&pinned, BYTES), cudaSuccess));
    ONCE(cudaHostAlloc, CHECK_EQ(cudaHostAlloc((void **)&pinned2, BYTES, cudaHostAllocDefault), cudaSuccess));
    ONCE(cudaPointerGetAttributes, CHECK_EQ(cudaPointerGetAttributes(&attr, dev), cudaSuccess));
    pageable = malloc(BYTES);
    REQUIRE(pageable);
    /* Refused under CC (cudaErrorNotSupported), accepted without: one call either way. */
    cudaError_t want = cc_on ? cudaErrorNotSupported : cudaSuccess;
    ONCE(cudaHostRegister, CHECK_EQ(cudaHostRegister(pageable, BYTES, 0), want));
    ONCE(cudaHostUnregister, CHECK_EQ(cudaHostUnregister(pageable), want));
}

TEST_CASE(stream_calls_are_single_calls) {
    int priority = 1;
    unsigned flags = 0;
    ONCE(cudaStreamCreate, CHECK_EQ(cudaStreamCreate(&s1), cudaSuccess));
    ONCE(cudaStreamCreateWithFlags, CHECK_EQ(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), cudaSuccess));
    ONCE(cudaStreamCreateWithPriority, CHECK_EQ(cudaStreamCreateWithPriority(&s3, 0, -1), cudaSuccess));
    ONCE(cudaStreamGetPriority, CHECK_EQ(cudaStreamGetPriority(s3, &priority), cudaSuccess));
    ONCE(cudaStreamGetFlags, CHECK_EQ(cudaStreamGetFlags(s2, &flags), cudaSuccess));
    ONCE(cudaStreamQuery, CHECK_EQ(cudaStreamQuery(s1), cudaSuccess));
    CHECK_EQ(priority, -1);
    CHECK_EQ(flags, cudaStreamNonBlocking);
}

TEST_CASE(copy_calls_are_single_calls) {
    for (size_t i = 0; i < BYTES; i++) pinned[i] = (unsigned char)(i * 7);
    ONCE(cudaMemset, CHECK_EQ(cudaMemset(dev, 0, BYTES), cudaSuccess));
    ONCE(cudaMemsetAsync, CHECK_EQ(cudaMemsetAsync(dev, 1, 16, s1), cudaSuccess));
    ONCE(cudaMemcpy, CHECK_EQ(cudaMemcpy(dev, pinned, BYTES, cudaMemcpyHostToDevice), cudaSuccess));
    ONCE(cudaMemcpyAsync, CHECK_EQ(cudaMemcpyAsync(pinned2, dev, BYTES, cudaMemcpyDeviceToHost, s1), cudaSuccess));
    ONCE(cudaMemcpy2D, CHECK_EQ(cudaMemcpy2D(dev, 4096, pinned, 4096, 1000, 300, cudaMemcpyHostToDevice), cudaSuccess));
    ONCE(cudaMemcpy2DAsync, CHECK_EQ(cudaMemcpy2DAsync(pageable, 4096, dev, 4096, 1000, 300, cudaMemcpyDeviceToHost, s1), cudaSuccess));
    ONCE(simgpuStreamCompute, CHECK_EQ(simgpuStreamCompute(s1, 1000), cudaSuccess));
    ONCE(cudaLaunchHostFunc, CHECK_EQ(cudaLaunchHostFunc(s1, host_fn, &host_fn_ran), cudaSuccess));
    ONCE(cudaStreamAddCallback, CHECK_EQ(cudaStreamAddCallback(s1, stream_cb, &callback_ran, 0), cudaSuccess));
    ONCE(cudaStreamSynchronize, CHECK_EQ(cudaStreamSynchronize(s1), cudaSuccess));
    CHECK(memcmp(pinned, pinned2, BYTES) == 0);
    CHECK(memcmp(pinned + 4096, pageable + 4096, 1000) == 0);   /* row 1 of the 2D round trip */
    CHECK(host_fn_ran && callback_ran);
}

TEST_CASE(event_calls_are_single_calls) {
    float ms = -1;
    ONCE(cudaEventCreate, CHECK_EQ(cudaEventCreate(&e1), cudaSuccess));
    ONCE(cudaEventCreateWithFlags, CHECK_EQ(cudaEventCreateWithFlags(&e2, cudaEventDefault), cudaSuccess));
    ONCE(cudaEventRecord, CHECK_EQ(cudaEventRecord(e1, s1), cudaSuccess));
    ONCE(cudaEventRecordWithFlags, CHECK_EQ(cudaEventRecordWithFlags(e2, s1, 0), cudaSuccess));
    ONCE(cudaStreamWaitEvent, CHECK_EQ(cudaStreamWaitEvent(s2, e2, 0), cudaSuccess));
    ONCE(cudaEventSynchronize, CHECK_EQ(cudaEventSynchronize(e2), cudaSuccess));
    ONCE(cudaEventQuery, CHECK_EQ(cudaEventQuery(e1), cudaSuccess));
    ONCE(cudaEventElapsedTime, CHECK_EQ(cudaEventElapsedTime(&ms, e1, e2), cudaSuccess));
    ONCE(cudaDeviceSynchronize, CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess));
    CHECK(ms >= 0);
}

TEST_CASE(error_calls_are_single_calls) {
    const char *s = NULL;
    ONCE(cudaGetLastError, (void)cudaGetLastError());
    ONCE(cudaPeekAtLastError, CHECK_EQ(cudaPeekAtLastError(), cudaSuccess));
    ONCE(cudaGetErrorString, s = cudaGetErrorString(cudaErrorInvalidValue));
    CHECK(s && !strcmp(s, "invalid argument"));
    ONCE(cudaGetErrorName, s = cudaGetErrorName(cudaErrorInvalidValue));
    CHECK(s && !strcmp(s, "cudaErrorInvalidValue"));
}

TEST_CASE(registration_and_launch_calls_are_single_calls) {
    static char fatbin_image[64], host_var[8];
    dim3 grid = {1, 1, 1}, block = {32, 1, 1}, g2, b2;
    size_t shmem = 0;
    cudaStream_t st = NULL;
    void *kernel = NULL, **h = NULL;
    ONCE(__cudaRegisterFatBinary, h = __cudaRegisterFatBinary(fatbin_image));
    REQUIRE(h);
    ONCE(__cudaRegisterFunction, __cudaRegisterFunction(h, (const char *)host_fn, "k", "k", -1, NULL, NULL, NULL, NULL, NULL));
    ONCE(__cudaRegisterVar, __cudaRegisterVar(h, host_var, "v", "v", 0, sizeof host_var, 0, 0));
    ONCE(__cudaRegisterManagedVar, __cudaRegisterManagedVar(h, (void **)&kernel, "m", "m", 0, 8, 0, 0));
    ONCE(__cudaRegisterFatBinaryEnd, __cudaRegisterFatBinaryEnd(h));
    ONCE(__cudaInitModule, CHECK_EQ(__cudaInitModule(h), 1));
    ONCE(__cudaPushCallConfiguration, CHECK_EQ(__cudaPushCallConfiguration(grid, block, 0, NULL), 0));
    ONCE(__cudaPopCallConfiguration, CHECK_EQ(__cudaPopCallConfiguration(&g2, &b2, &shmem, &st), cudaSuccess));
    ONCE(__cudaGetKernel, CHECK_EQ(__cudaGetKernel(&kernel, (const void *)host_fn), cudaSuccess));
    /* No kernels are simulated: both launches fail, each as one call. */
    ONCE(__cudaLaunchKernel, CHECK_EQ(__cudaLaunchKernel(kernel, grid, block, NULL, 0, NULL), cudaErrorNoKernelImageForDevice));
    ONCE(cudaLaunchKernel, CHECK_EQ(cudaLaunchKernel((const void *)host_fn, grid, block, NULL, 0, NULL), cudaErrorNoKernelImageForDevice));
    ONCE(__cudaUnregisterFatBinary, __cudaUnregisterFatBinary(h));
    CHECK_EQ(b2.x, 32);
}

TEST_CASE(statistics_and_teardown_calls_are_single_calls) {
    simgpuStats st;
    ONCE(simgpuGetStats, CHECK_EQ(simgpuGetStats(&st), cudaSuccess));
    CHECK(st.h2d_copies >= 2);
    ONCE(cudaEventDestroy, CHECK_EQ(cudaEventDestroy(e1), cudaSuccess));
    ONCE(cudaStreamDestroy, CHECK_EQ(cudaStreamDestroy(s3), cudaSuccess));
    ONCE(cudaFreeHost, CHECK_EQ(cudaFreeHost(pinned2), cudaSuccess));
    ONCE(cudaFree, CHECK_EQ(cudaFree(dev), cudaSuccess));
    ONCE(cudaDeviceReset, CHECK_EQ(cudaDeviceReset(), cudaSuccess));
}

/* Last: the tests above called every exported function, each exactly once in all. */
TEST_CASE(every_exported_function_was_called_exactly_once) {
#define X(ret, name, params, args) CHECK_EQ(calls(#name), 1);
#define XV(name, params, args) CHECK_EQ(calls(#name), 1);
#include "count_cuda.def"
#undef X
#undef XV
}

TEST_MAIN()
