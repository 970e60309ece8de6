/* Stands in for libtorch/vLLM kernels: a library that calls libcudart through its PLT. Python
 * loads it with ctypes (RTLD_LOCAL), so libcudart arrives RTLD_LOCAL too. */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) int user_round_trip(size_t n) {
    char *src = malloc(n), *dst = calloc(1, n);
    void *d = NULL;
    for (size_t i = 0; i < n; i++) src[i] = (char)(i * 3 + 1);
    cudaError_t e = cudaMalloc(&d, n);
    if (!e) e = cudaMemcpy(d, src, n, cudaMemcpyHostToDevice);
    if (!e) e = cudaMemcpy(dst, d, n, cudaMemcpyDeviceToHost);
    if (!e && memcmp(src, dst, n)) e = cudaErrorUnknown;
    if (d) cudaFree(d);
    free(src);
    free(dst);
    return (int)e;
}
