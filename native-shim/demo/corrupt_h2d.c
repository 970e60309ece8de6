/*
 * libcorrupt_h2d.so: a preloaded interposer that makes every H2D cudaMemcpyAsync of at least
 * CORRUPT_H2D_MIN_BYTES (default 65536) carry one wrong byte: the byte in the middle of the source is
 * flipped for the duration of the copy (the call, then a synchronize of its stream) and restored, so
 * the device receives data the host no longer holds, as stale pre-encrypted ciphertext would deliver.
 * The smoke test uses it to prove that offload's and swap's verification fails when it should.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#include <cuda_runtime_api.h>

typedef cudaError_t (*memcpy_async_fn)(void *, const void *, size_t, enum cudaMemcpyKind, cudaStream_t);
typedef cudaError_t (*stream_sync_fn)(cudaStream_t);

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
    static memcpy_async_fn real_copy;
    static stream_sync_fn real_sync;
    static size_t min_bytes;
    if (!real_copy) {
        real_sync = (stream_sync_fn)dlsym(RTLD_NEXT, "cudaStreamSynchronize");
        const char *m = getenv("CORRUPT_H2D_MIN_BYTES");
        min_bytes = m && *m ? strtoull(m, NULL, 10) : 65536;
        real_copy = (memcpy_async_fn)dlsym(RTLD_NEXT, "cudaMemcpyAsync");
    }
    if (kind != cudaMemcpyHostToDevice || count < min_bytes || !count || !real_sync)
        return real_copy(dst, src, count, kind, stream);
    unsigned char *p = (unsigned char *)src + count / 2;
    *p ^= 0x20;
    cudaError_t e = real_copy(dst, src, count, kind, stream);
    if (e == cudaSuccess) e = real_sync(stream);
    *p ^= 0x20;
    return e;
}
