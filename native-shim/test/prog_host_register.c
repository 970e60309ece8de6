/*
 * An engine that registers host memory for offload (vLLM V1's CPU KV offload does), through the
 * runtime and the driver. PROG_HR says what to expect:
 *   refuse   CC on without host_register=emulate: every registration is cudaErrorNotSupported /
 *            CUDA_ERROR_NOT_SUPPORTED, as the real driver under CC;
 *   emulate  CC on with it: registration and unregistration succeed (overlap: already registered;
 *            a mapped registration and a device pointer of an emulated range fail as the driver
 *            fails them);
 *   native   CC off: real registration (the mapping works).
 * In every case copies from and to the buffers are byte-exact (sync and async, both APIs). Prints
 * "copies N" and "host register: ok"; the exit status counts failures.
 */
#define _GNU_SOURCE
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog_check.h"

static int copies;

static void round_trip(unsigned char *host, size_t n, void *dev, cudaStream_t s, unsigned seed) {
    unsigned char *want = malloc(n);
    for (size_t i = 0; i < n; i++) want[i] = host[i] = (unsigned char)(i * 17 + seed);
    CHECK(cudaMemcpyAsync(dev, host, n, cudaMemcpyHostToDevice, s) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    memset(host, 0, n);
    CHECK(cuMemcpyDtoH_v2(host, (CUdeviceptr)(uintptr_t)dev, n) == CUDA_SUCCESS);
    CHECK(!memcmp(host, want, n));
    for (size_t i = 0; i < n; i++) want[i] = host[i] = (unsigned char)(i * 5 + seed + 1);
    CHECK(cuMemcpyHtoDAsync_v2((CUdeviceptr)(uintptr_t)dev, host, n, (CUstream)s) == CUDA_SUCCESS);
    CHECK(cuStreamSynchronize((CUstream)s) == CUDA_SUCCESS);   /* registered memory: truly async with CC off */
    memset(host, 0, n);
    CHECK(cudaMemcpyAsync(host, dev, n, cudaMemcpyDeviceToHost, s) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(!memcmp(host, want, n));
    copies += 4;
    free(want);
}

int main(void) {
    const char *e = getenv("PROG_HR");
    int refuse = e && !strcmp(e, "refuse"), emulate = e && !strcmp(e, "emulate"), native = e && !strcmp(e, "native");
    if (refuse + emulate + native != 1) {
        fprintf(stderr, "PROG_HR=refuse|emulate|native\n");
        return 2;
    }
    size_t n = (2u << 20) + 333;
    unsigned char *a = malloc(n), *b = malloc(n), *c = malloc(4096);
    void *dev = NULL, *mapped = NULL;
    cudaStream_t s = NULL;
    CHECK(cudaMalloc(&dev, n) == cudaSuccess && cudaStreamCreate(&s) == cudaSuccess);
    CHECK(cuInit(0) == CUDA_SUCCESS);

    cudaError_t r = cudaHostRegister(a, n, cudaHostRegisterPortable);
    CUresult dr = cuMemHostRegister_v2(b, n, 0);
    if (refuse) {
        CHECK(r == cudaErrorNotSupported && dr == CUDA_ERROR_NOT_SUPPORTED);
        CHECK(cudaGetLastError() == cudaErrorNotSupported);
    } else {
        CHECK(r == cudaSuccess && dr == CUDA_SUCCESS);
        /* overlapping ranges, already registered, in either API */
        CHECK(cudaHostRegister(a + 100, 10, 0) == cudaErrorHostMemoryAlreadyRegistered);
        CHECK(cuMemHostRegister_v2(a + n - 1, 1, 0) == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
        CHECK(cudaHostRegister(NULL, 10, 0) == cudaErrorInvalidValue);
    }
    /* a registration that needs a device mapping, and the mapping of a registered range */
    cudaError_t m = cudaHostRegister(c, 4096, cudaHostRegisterMapped);
    CHECK(native ? m == cudaSuccess : m == cudaErrorNotSupported);
    cudaError_t g = cudaHostGetDevicePointer(&mapped, a, 0);
    CUdeviceptr dmapped = 0;
    CUresult dg = cuMemHostGetDevicePointer_v2(&dmapped, b, 0);
    if (native) CHECK(g == cudaSuccess && mapped == a && dg == CUDA_SUCCESS && dmapped == (CUdeviceptr)(uintptr_t)b);
    else CHECK(g == cudaErrorInvalidValue && dg == CUDA_ERROR_INVALID_VALUE);

    round_trip(a, n, dev, s, 1);
    round_trip(b, n, dev, s, 2);

    /* only a range's start unregisters it */
    if (!refuse) CHECK(cudaHostUnregister(a + 1) == cudaErrorHostMemoryNotRegistered);
    r = cudaHostUnregister(a);
    dr = cuMemHostUnregister(b);
    if (refuse) {
        CHECK(r == cudaErrorNotSupported && dr == CUDA_ERROR_NOT_SUPPORTED);
    } else {
        CHECK(r == cudaSuccess && dr == CUDA_SUCCESS);
        /* gone: the real answer again (CC on: 801 for every call; CC off: not registered) */
        cudaError_t again = cudaHostUnregister(a);
        CHECK(native ? again == cudaErrorHostMemoryNotRegistered : again == cudaErrorNotSupported);
    }
    if (native) CHECK(cudaHostUnregister(c) == cudaSuccess);
    round_trip(a, n, dev, s, 3);   /* unregistered memory is ordinary pageable memory */
    CHECK(cudaStreamDestroy(s) == cudaSuccess && cudaFree(dev) == cudaSuccess);
    (void)cudaGetLastError();
    printf("copies %d\n", copies);
    if (!failures) printf("host register: ok\n");
    free(a);
    free(b);
    free(c);
    return failures;
}
