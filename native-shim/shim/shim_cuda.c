/*
 * The CUDA runtime calls PipeLLM sees: copies (reported before they run: the agent may refuse them
 * when fail-closed), ordering calls and allocations (reported after). Each wrapper is the same
 * shape: real function, agent, real call. The copy's crypto happens inside the real call, through
 * the EVP hooks of shim_evp.c.
 */
#include "shim_internal.h"

__thread int pl_in_runtime;

/* The real runtime call, marked as the runtime's on this thread (see pl_in_runtime). */
#define IN_RUNTIME(call) ({ pl_in_runtime++; cudaError_t r__ = (call); pl_in_runtime--; r__; })

/* A program that calls CUDA has libcudart loaded; if it cannot be found we can only fail the call. */
#define REAL_OR_FAIL(name)                                                                  \
    name##_fn real = PL_REAL(name);                                                         \
    if (!real) return cudaErrorInitializationError

static cudaError_t before_copy(int api, void *dst, size_t dp, const void *src, size_t sp, size_t w, size_t h,
                               enum cudaMemcpyKind k, cudaStream_t s, const pl_upcalls **agent) {
    const pl_upcalls *up = pl_agent_start();
    *agent = NULL;
    if (!up) return pl_refusing() ? cudaErrorNotPermitted : cudaSuccess;
    cudaError_t e = (cudaError_t)up->on_copy(api, dst, dp, src, sp, w, h, (int)k, s);
    if (!e) *agent = up;
    return e;
}

/* The real copy between the agent's two upcalls (after_copy only when on_copy let it through). */
#define COPY_THROUGH(api, dst, dp, src, sp, w, h, k, s, real_call)                          \
    do {                                                                                    \
        const pl_upcalls *up_;                                                              \
        cudaError_t e_ = before_copy(api, dst, dp, src, sp, w, h, k, s, &up_);             \
        if (e_) return e_;                                                                  \
        cudaError_t r_ = IN_RUNTIME(real_call);                                             \
        if (up_) up_->after_copy(api, dst, src, w, h, (int)(k), s, (int)r_);               \
        return r_;                                                                          \
    } while (0)

PL_API cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind k) {
    REAL_OR_FAIL(cudaMemcpy);
    COPY_THROUGH(PL_API_MEMCPY, dst, n, src, n, n, 1, k, NULL, real(dst, src, n, k));
}

PL_API cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind k, cudaStream_t s) {
    REAL_OR_FAIL(cudaMemcpyAsync);
    COPY_THROUGH(PL_API_MEMCPY_ASYNC, dst, n, src, n, n, 1, k, s, real(dst, src, n, k, s));
}

PL_API cudaError_t cudaMemcpy2D(void *dst, size_t dp, const void *src, size_t sp, size_t w, size_t h, enum cudaMemcpyKind k) {
    REAL_OR_FAIL(cudaMemcpy2D);
    COPY_THROUGH(PL_API_MEMCPY_2D, dst, dp, src, sp, w, h, k, NULL, real(dst, dp, src, sp, w, h, k));
}

PL_API cudaError_t cudaMemcpy2DAsync(void *dst, size_t dp, const void *src, size_t sp, size_t w, size_t h,
                                     enum cudaMemcpyKind k, cudaStream_t s) {
    REAL_OR_FAIL(cudaMemcpy2DAsync);
    COPY_THROUGH(PL_API_MEMCPY_2D_ASYNC, dst, dp, src, sp, w, h, k, s, real(dst, dp, src, sp, w, h, k, s));
}

/* Ordering calls: the agent hears of them before (it may finish work the call must order) and after. */
#define SYNC_THROUGH(api, a, b, real_call)                                                  \
    do {                                                                                    \
        const pl_upcalls *up_ = pl_agent_if_ready();                                        \
        if (up_) up_->before_sync(api, a, b);                                               \
        cudaError_t r_ = IN_RUNTIME(real_call);                                             \
        if (up_) up_->on_sync(api, a, b, (int)r_);                                          \
        return r_;                                                                          \
    } while (0)

PL_API cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    REAL_OR_FAIL(cudaStreamSynchronize);
    SYNC_THROUGH(PL_SYNC_STREAM, s, NULL, real(s));
}

PL_API cudaError_t cudaDeviceSynchronize(void) {
    REAL_OR_FAIL(cudaDeviceSynchronize);
    SYNC_THROUGH(PL_SYNC_DEVICE, NULL, NULL, real());
}

PL_API cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    REAL_OR_FAIL(cudaEventSynchronize);
    SYNC_THROUGH(PL_SYNC_EVENT, e, NULL, real(e));
}

PL_API cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    REAL_OR_FAIL(cudaEventRecord);
    SYNC_THROUGH(PL_EVENT_RECORD, e, s, real(e, s));
}

PL_API cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int f) {
    REAL_OR_FAIL(cudaStreamWaitEvent);
    SYNC_THROUGH(PL_STREAM_WAIT_EVENT, s, e, real(s, e, f));
}

/* Allocations start the agent: they come before the first copy, and starting the JVM there keeps
 * its start-up cost off the first copy. */
static cudaError_t after_alloc(int api, void *ptr, size_t n, cudaError_t result) {
    const pl_upcalls *up = pl_agent_start();
    if (up) up->on_alloc(api, ptr, n, (int)result);
    return result;
}

PL_API cudaError_t cudaHostAlloc(void **p, size_t n, unsigned int f) {
    REAL_OR_FAIL(cudaHostAlloc);
    cudaError_t r = IN_RUNTIME(real(p, n, f));
    return after_alloc(PL_ALLOC_HOST, r == cudaSuccess && p ? *p : NULL, n, r);
}

PL_API cudaError_t cudaMallocHost(void **p, size_t n) {
    REAL_OR_FAIL(cudaMallocHost);
    cudaError_t r = IN_RUNTIME(real(p, n));
    return after_alloc(PL_ALLOC_HOST, r == cudaSuccess && p ? *p : NULL, n, r);
}

/* A free is announced first: the agent's workers may be reading that memory. */
static void before_free(int api, void *p) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up && p) up->on_alloc(api, p, 0, PL_ALLOC_BEFORE);
}

PL_API cudaError_t cudaFreeHost(void *p) {
    REAL_OR_FAIL(cudaFreeHost);
    before_free(PL_FREE_HOST, p);
    return after_alloc(PL_FREE_HOST, p, 0, IN_RUNTIME(real(p)));
}

/* Not watched: interposed so the agent finds the real function (its NOPs run on a stream of their own). */
PL_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int f) {
    REAL_OR_FAIL(cudaStreamCreateWithFlags);
    return real(s, f);
}

PL_API cudaError_t cudaMalloc(void **p, size_t n) {
    REAL_OR_FAIL(cudaMalloc);
    cudaError_t r = IN_RUNTIME(real(p, n));
    return after_alloc(PL_ALLOC_DEVICE, r == cudaSuccess && p ? *p : NULL, n, r);
}

PL_API cudaError_t cudaFree(void *p) {
    REAL_OR_FAIL(cudaFree);
    before_free(PL_FREE_DEVICE, p);
    return after_alloc(PL_FREE_DEVICE, p, 0, IN_RUNTIME(real(p)));
}
