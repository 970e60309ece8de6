/*
 * The CUDA driver API calls PipeLLM sees, for programs that reach the GPU without the runtime (XLA,
 * TornadoVM, JCuda's driver bindings, entry points from cuGetProcAddress): the same upcalls as the
 * runtime's wrappers (shim_cuda.c), with the driver's argument shapes turned into the runtime's
 * (a device address is a pointer, the direction comes from the function's name or the memory
 * types). A call the runtime makes while one of its wrappers runs (pl_in_runtime) is passed
 * straight through: that copy was reported already. The copy's crypto still happens inside the
 * real call, through the EVP hooks.
 */
#include "shim_internal.h"

#define REAL_OR_FAIL(name)                                                                  \
    name##_fn real = PL_REAL(name);                                                         \
    if (!real) return CUDA_ERROR_NOT_INITIALIZED

#define PTR(d) ((void *)(uintptr_t)(d))

/* Before the real copy (the agent may refuse it: its cudaError_t is the driver's code too, as
 * cudaErrorNotPermitted is CUDA_ERROR_NOT_PERMITTED); `agent` is set when after_copy is owed. */
static CUresult before_copy(int api, void *dst, size_t dp, const void *src, size_t sp, size_t w, size_t h,
                            enum cudaMemcpyKind k, CUstream s, const pl_upcalls **agent) {
    *agent = NULL;
    if (pl_in_runtime) return CUDA_SUCCESS;
    const pl_upcalls *up = pl_agent_start();
    if (!up) return pl_refusing() ? CUDA_ERROR_NOT_PERMITTED : CUDA_SUCCESS;
    int e = up->on_copy(api, dst, dp, src, sp, w, h, (int)k, s);
    if (!e) *agent = up;
    return (CUresult)e;
}

#define COPY_THROUGH(api, dst, dp, src, sp, w, h, k, s, real_call)                          \
    do {                                                                                    \
        const pl_upcalls *up_;                                                              \
        CUresult e_ = before_copy(api, dst, dp, src, sp, w, h, k, s, &up_);                \
        if (e_) return e_;                                                                  \
        CUresult r_ = real_call;                                                            \
        if (up_) up_->after_copy(api, dst, src, w, h, (int)(k), s, (int)r_);               \
        return r_;                                                                          \
    } while (0)

PL_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    REAL_OR_FAIL(cuMemcpyHtoD_v2);
    COPY_THROUGH(PL_API_MEMCPY, PTR(dst), n, src, n, n, 1, cudaMemcpyHostToDevice, NULL, real(dst, src, n));
}

PL_API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    REAL_OR_FAIL(cuMemcpyDtoH_v2);
    COPY_THROUGH(PL_API_MEMCPY, dst, n, PTR(src), n, n, 1, cudaMemcpyDeviceToHost, NULL, real(dst, src, n));
}

PL_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    REAL_OR_FAIL(cuMemcpyDtoD_v2);
    COPY_THROUGH(PL_API_MEMCPY, PTR(dst), n, PTR(src), n, n, 1, cudaMemcpyDeviceToDevice, NULL, real(dst, src, n));
}

PL_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    REAL_OR_FAIL(cuMemcpyHtoDAsync_v2);
    COPY_THROUGH(PL_API_MEMCPY_ASYNC, PTR(dst), n, src, n, n, 1, cudaMemcpyHostToDevice, s, real(dst, src, n, s));
}

PL_API CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    REAL_OR_FAIL(cuMemcpyDtoHAsync_v2);
    COPY_THROUGH(PL_API_MEMCPY_ASYNC, dst, n, PTR(src), n, n, 1, cudaMemcpyDeviceToHost, s, real(dst, src, n, s));
}

PL_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    REAL_OR_FAIL(cuMemcpyDtoDAsync_v2);
    COPY_THROUGH(PL_API_MEMCPY_ASYNC, PTR(dst), n, PTR(src), n, n, 1, cudaMemcpyDeviceToDevice, s,
                 real(dst, src, n, s));
}

/* Unified addresses: the direction is the pointers', as cudaMemcpyDefault. */
PL_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    REAL_OR_FAIL(cuMemcpy);
    COPY_THROUGH(PL_API_MEMCPY, PTR(dst), n, PTR(src), n, n, 1, cudaMemcpyDefault, NULL, real(dst, src, n));
}

PL_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    REAL_OR_FAIL(cuMemcpyAsync);
    COPY_THROUGH(PL_API_MEMCPY_ASYNC, PTR(dst), n, PTR(src), n, n, 1, cudaMemcpyDefault, s, real(dst, src, n, s));
}

/* A CUDA_MEMCPY2D as the runtime's arguments. Arrays (and anything unreadable) are not reported:
 * the real call decides, and their messages still reach the agent through EVP. */
static int as_2d(const CUDA_MEMCPY2D *p, void **dst, const void **src, enum cudaMemcpyKind *k) {
    if (!p) return 0;
    int s_dev, d_dev;
    const char *s, *d;
    switch (p->srcMemoryType) {
    case CU_MEMORYTYPE_HOST: s = p->srcHost; s_dev = 0; break;
    case CU_MEMORYTYPE_DEVICE: s = PTR(p->srcDevice); s_dev = 1; break;
    case CU_MEMORYTYPE_UNIFIED: s = PTR(p->srcDevice); s_dev = -1; break;
    default: return 0;
    }
    switch (p->dstMemoryType) {
    case CU_MEMORYTYPE_HOST: d = p->dstHost; d_dev = 0; break;
    case CU_MEMORYTYPE_DEVICE: d = PTR(p->dstDevice); d_dev = 1; break;
    case CU_MEMORYTYPE_UNIFIED: d = PTR(p->dstDevice); d_dev = -1; break;
    default: return 0;
    }
    *src = s + p->srcY * p->srcPitch + p->srcXInBytes;
    *dst = (char *)d + p->dstY * p->dstPitch + p->dstXInBytes;
    *k = s_dev < 0 || d_dev < 0 ? cudaMemcpyDefault : (enum cudaMemcpyKind)((s_dev ? 2 : 0) + (d_dev ? 1 : 0));
    return 1;
}

PL_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *p) {
    REAL_OR_FAIL(cuMemcpy2D_v2);
    void *dst;
    const void *src;
    enum cudaMemcpyKind k;
    if (!as_2d(p, &dst, &src, &k)) return real(p);
    size_t dp = p->Height > 1 ? p->dstPitch : p->WidthInBytes, sp = p->Height > 1 ? p->srcPitch : p->WidthInBytes;
    COPY_THROUGH(PL_API_MEMCPY_2D, dst, dp, src, sp, p->WidthInBytes, p->Height, k, NULL, real(p));
}

PL_API CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream s) {
    REAL_OR_FAIL(cuMemcpy2DAsync_v2);
    void *dst;
    const void *src;
    enum cudaMemcpyKind k;
    if (!as_2d(p, &dst, &src, &k)) return real(p, s);
    size_t dp = p->Height > 1 ? p->dstPitch : p->WidthInBytes, sp = p->Height > 1 ? p->srcPitch : p->WidthInBytes;
    COPY_THROUGH(PL_API_MEMCPY_2D_ASYNC, dst, dp, src, sp, p->WidthInBytes, p->Height, k, s, real(p, s));
}

/* Ordering calls, as the runtime's. */
#define SYNC_THROUGH(api, a, b, real_call)                                                  \
    do {                                                                                    \
        const pl_upcalls *up_ = pl_in_runtime ? NULL : pl_agent_if_ready();                 \
        if (up_) up_->before_sync(api, a, b);                                               \
        CUresult r_ = real_call;                                                            \
        if (up_) up_->on_sync(api, a, b, (int)r_);                                          \
        return r_;                                                                          \
    } while (0)

PL_API CUresult cuStreamSynchronize(CUstream s) {
    REAL_OR_FAIL(cuStreamSynchronize);
    SYNC_THROUGH(PL_SYNC_STREAM, s, NULL, real(s));
}

PL_API CUresult cuCtxSynchronize(void) {
    REAL_OR_FAIL(cuCtxSynchronize);
    SYNC_THROUGH(PL_SYNC_DEVICE, NULL, NULL, real());
}

PL_API CUresult cuEventSynchronize(CUevent e) {
    REAL_OR_FAIL(cuEventSynchronize);
    SYNC_THROUGH(PL_SYNC_EVENT, e, NULL, real(e));
}

PL_API CUresult cuEventRecord(CUevent e, CUstream s) {
    REAL_OR_FAIL(cuEventRecord);
    SYNC_THROUGH(PL_EVENT_RECORD, e, s, real(e, s));
}

PL_API CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int f) {
    REAL_OR_FAIL(cuStreamWaitEvent);
    SYNC_THROUGH(PL_STREAM_WAIT_EVENT, s, e, real(s, e, f));
}

/* Allocations start the agent (they come before the first copy), frees are announced first. */
static CUresult after_alloc(int api, void *ptr, size_t n, CUresult result) {
    const pl_upcalls *up = pl_in_runtime ? NULL : pl_agent_start();
    if (up) up->on_alloc(api, ptr, n, (int)result);
    return result;
}

static void before_free(int api, void *p) {
    const pl_upcalls *up = pl_in_runtime ? NULL : pl_agent_if_ready();
    if (up && p) up->on_alloc(api, p, 0, PL_ALLOC_BEFORE);
}

PL_API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    REAL_OR_FAIL(cuMemAlloc_v2);
    CUresult r = real(p, n);
    return after_alloc(PL_ALLOC_DEVICE, r == CUDA_SUCCESS && p ? PTR(*p) : NULL, n, r);
}

PL_API CUresult cuMemFree_v2(CUdeviceptr p) {
    REAL_OR_FAIL(cuMemFree_v2);
    before_free(PL_FREE_DEVICE, PTR(p));
    return after_alloc(PL_FREE_DEVICE, PTR(p), 0, real(p));
}

PL_API CUresult cuMemAllocHost_v2(void **p, size_t n) {
    REAL_OR_FAIL(cuMemAllocHost_v2);
    CUresult r = real(p, n);
    return after_alloc(PL_ALLOC_HOST, r == CUDA_SUCCESS && p ? *p : NULL, n, r);
}

PL_API CUresult cuMemHostAlloc(void **p, size_t n, unsigned int f) {
    REAL_OR_FAIL(cuMemHostAlloc);
    CUresult r = real(p, n, f);
    return after_alloc(PL_ALLOC_HOST, r == CUDA_SUCCESS && p ? *p : NULL, n, r);
}

PL_API CUresult cuMemFreeHost(void *p) {
    REAL_OR_FAIL(cuMemFreeHost);
    before_free(PL_FREE_HOST, p);
    return after_alloc(PL_FREE_HOST, p, 0, real(p));
}
