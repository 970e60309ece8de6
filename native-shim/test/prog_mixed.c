/*
 * Runtime and driver copies on one device, as a program that uses libcudart and calls the driver
 * for some copies (PyTorch extensions, CUDA-Python): memory from cudaMalloc written half by
 * cudaMemcpy and half by cuMemcpyHtoD, read back by the other API, async copies of both APIs
 * interleaved on one stream, a driver entry point fetched through cudaGetDriverEntryPoint. The
 * runtime made the primary context current, so the driver calls need no context set-up. With CC on
 * both APIs' H2D messages take IVs from the one channel of the context (simgpu opens one:
 * h2d_channels_opened is 1, and the CE verifies every message: no tag failure). With
 * PROG_MIXED_SHIM=1 the fetched entry point must be libpipellm.so's. Prints "copies N" and
 * "mixed: ok"; the exit status counts failures.
 */
#define _GNU_SOURCE
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog_check.h"

#include "simgpu.h"


int main(void) {
    int shim = getenv("PROG_MIXED_SHIM") && !strcmp(getenv("PROG_MIXED_SHIM"), "1");
    int copies = 0;
    size_t n = (4u << 20) + 1001, half = n / 2;
    unsigned char *src = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 29 + (i >> 13));
    CHECK(cuInit(0) == CUDA_SUCCESS);
    void *d = NULL;
    CHECK(cudaMalloc(&d, n) == cudaSuccess);
    CUdeviceptr dd = (CUdeviceptr)(uintptr_t)d;
    /* half each way in, the other API out */
    CHECK(cudaMemcpy(d, src, half, cudaMemcpyHostToDevice) == cudaSuccess);
    CHECK(cuMemcpyHtoD_v2(dd + half, src + half, n - half) == CUDA_SUCCESS);
    memset(back, 0, n);
    CHECK(cuMemcpyDtoH_v2(back, dd, half) == CUDA_SUCCESS);
    CHECK(cudaMemcpy(back + half, (char *)d + half, n - half, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(!memcmp(src, back, n));
    copies += 4;
    /* interleaved on one stream, through a driver entry point the runtime handed out */
    CUresult (*htod_async)(CUdeviceptr, const void *, size_t, CUstream) = NULL;
    enum cudaDriverEntryPointQueryResult st = cudaDriverEntryPointSymbolNotFound;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CHECK(cudaGetDriverEntryPoint("cuMemcpyHtoDAsync", (void **)&htod_async, cudaEnableDefault, &st) == cudaSuccess);
#pragma GCC diagnostic pop
    CHECK(htod_async && st == cudaDriverEntryPointSuccess);
    CHECK(htod_async && strstr(object_of((void *)htod_async), shim ? "libpipellm" : "libcuda"));
    void *unknown = (void *)1;
    CHECK(cudaGetDriverEntryPointByVersion("cuNoSuchThing", &unknown, 13000, cudaEnableDefault, &st) == cudaSuccess
          && unknown == NULL && st == cudaDriverEntryPointSymbolNotFound);
    CHECK(cudaGetDriverEntryPointByVersion("cuMemcpy", &unknown, 99000, cudaEnableDefault, &st) == cudaErrorInvalidValue);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);
    cudaStream_t s = NULL;
    CHECK(cudaStreamCreate(&s) == cudaSuccess);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(src[i] ^ 0x5c);
    size_t q = n / 4;
    if (htod_async) {
        CHECK(cudaMemcpyAsync(d, src, q, cudaMemcpyHostToDevice, s) == cudaSuccess);
        CHECK(htod_async(dd + q, src + q, q, (CUstream)s) == CUDA_SUCCESS);
        CHECK(cudaMemcpyAsync((char *)d + 2 * q, src + 2 * q, q, cudaMemcpyHostToDevice, s) == cudaSuccess);
        CHECK(cuMemcpyHtoDAsync_v2(dd + 3 * q, src + 3 * q, n - 3 * q, (CUstream)s) == CUDA_SUCCESS);
        memset(back, 0, n);
        CHECK(cuMemcpyDtoHAsync_v2(back, dd, n, (CUstream)s) == CUDA_SUCCESS);
        CHECK(cuStreamSynchronize((CUstream)s) == CUDA_SUCCESS);
        CHECK(!memcmp(src, back, n));
        copies += 5;
    }
    /* a driver error is not the runtime's last error */
    CHECK(cuMemcpyHtoD_v2(dd + n, src, 1) == CUDA_ERROR_INVALID_VALUE);
    copies++;   /* a refused copy is still a copy call */
    CHECK(cudaGetLastError() == cudaSuccess);
    CHECK(cudaStreamDestroy(s) == cudaSuccess);
    CHECK(cuMemFree_v2(dd) == CUDA_SUCCESS);
    simgpuStats stats;
    CHECK(simgpuGetStats(&stats) == cudaSuccess);
    if (simgpuCcEnabled()) {
        CHECK(stats.h2d_channels_opened == 1);
        CHECK(stats.tag_failures == 0 && stats.h2d_messages > 0);
    }
    printf("copies %d\n", copies);
    if (!failures) printf("mixed: ok\n");
    free(src);
    free(back);
    return failures;
}
