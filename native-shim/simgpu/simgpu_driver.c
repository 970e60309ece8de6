/*
 * The driver API subset of simgpu's libcuda.so.1 (docs/simgpu.md lists it). Every call runs the
 * same core as the runtime (one device, one set of streams, events and CC channels): a runtime
 * copy and a driver copy on the same device take IVs from the same channel, as on hardware where
 * libcudart calls libcuda. Handles are the runtime's (CUstream is cudaStream_t, CUevent is
 * cudaEvent_t, CUdeviceptr is a device address).
 *
 * What the driver adds: cuInit, contexts (the primary one, retained and released, and explicit
 * ones from cuCtxCreate; all of them views of the one simulated context: they share its memory,
 * streams and channels), a per-thread context stack (calls that need a context return
 * CUDA_ERROR_INVALID_CONTEXT without one; a thread that used the runtime has the primary context
 * current, as cudart makes it), CUresult codes, and cuGetProcAddress. Driver calls leave the
 * runtime's last error as they found it.
 *
 * The core's runtime functions are not exported from this library (simgpu_driver.map), so calling
 * them here is no call through the dynamic linker; the cu* functions themselves never call each
 * other through it either (-Bsymbolic-functions, and cuGetProcAddress hands out this library's
 * own addresses, whoever interposes on the names).
 */
#include "simgpu_internal.h"

/* The versioned names as they are exported (cuMemAlloc_v2, and the old cuGetProcAddress and
 * cuEventElapsedTime beside their _v2), not the header's macros that map one onto the other. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <stdlib.h>
#include <string.h>

#define DRV SIMGPU_API CUresult CUDAAPI

static CUresult cu_of(cudaError_t e) {
    switch ((int)e) {
    case cudaErrorInvalidPitchValue:
    case cudaErrorInvalidHostPointer:
    case cudaErrorInvalidDevicePointer:
    case cudaErrorInvalidMemcpyDirection: return CUDA_ERROR_INVALID_VALUE;
    default: return (CUresult)e;   /* the runtime's codes are the driver's where both exist */
    }
}

/* A core call on behalf of the driver API: the runtime's last error stays as it was. */
#define CORE(call)                                                                          \
    ({                                                                                      \
        cudaError_t *slot_ = simgpu_last_error_slot();                                      \
        cudaError_t saved_ = *slot_;                                                        \
        simgpu_in_driver = 1;                                                               \
        cudaError_t r_ = (call);                                                            \
        simgpu_in_driver = 0;                                                               \
        *slot_ = saved_;                                                                    \
        cu_of(r_);                                                                          \
    })

/* ---- init, versions, devices ---- */

static _Atomic int initialized;

DRV cuInit(unsigned int flags) {
    if (flags) return CUDA_ERROR_INVALID_VALUE;
    CUresult e = CORE(simgpu_enter());
    if (e == CUDA_ERROR_NOT_INITIALIZED && g.init_failed) return CUDA_ERROR_NO_DEVICE;   /* SIMGPU_* refused */
    if (e) return e;
    atomic_store(&initialized, 1);
    return CUDA_SUCCESS;
}

DRV cuDriverGetVersion(int *v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;   /* an R580 driver: CUDA 13.0 (what cudaDriverGetVersion says too) */
    return CUDA_SUCCESS;
}

#define NEED_INIT                                                                           \
    do {                                                                                    \
        if (!atomic_load_explicit(&initialized, memory_order_acquire)) return CUDA_ERROR_NOT_INITIALIZED; \
    } while (0)
#define NEED_DEVICE(d)                                                                      \
    do {                                                                                    \
        NEED_INIT;                                                                          \
        if ((d) != 0) return CUDA_ERROR_INVALID_DEVICE;                                     \
    } while (0)

DRV cuDeviceGet(CUdevice *device, int ordinal) {
    NEED_INIT;
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

DRV cuDeviceGetCount(int *count) {
    NEED_INIT;
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

cudaError_t simgpu_props13(struct cudaDeviceProp *prop, int device);

DRV cuDeviceGetName(char *name, int len, CUdevice dev) {
    NEED_DEVICE(dev);
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    struct cudaDeviceProp p;
    CUresult r = CORE(simgpu_props13(&p, 0));
    if (r) return r;
    size_t n = strnlen(p.name, sizeof p.name);
    if (n >= (size_t)len) n = (size_t)len - 1;
    memcpy(name, p.name, n);
    name[n] = 0;
    return CUDA_SUCCESS;
}

DRV cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    NEED_DEVICE(dev);
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = g.cfg.memory_bytes;
    return CUDA_SUCCESS;
}

/* The attributes simgpu models, from the same properties cudaGetDeviceProperties reports; every
 * other valid attribute reads 0 (a feature the simulated device lacks). */
DRV cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    NEED_DEVICE(dev);
    if (!pi || (int)attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
    struct cudaDeviceProp p;
    CUresult r = CORE(simgpu_props13(&p, 0));
    if (r) return r;
    int v = 0;
    switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = p.maxThreadsPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = p.maxThreadsDim[0]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = p.maxThreadsDim[1]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = p.maxThreadsDim[2]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = p.maxGridSize[0]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = p.maxGridSize[1]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = p.maxGridSize[2]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = (int)p.sharedMemPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: v = (int)p.totalConstMem; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = p.warpSize; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = p.regsPerBlock; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = 1980000; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = 2619000; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = p.multiProcessorCount; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: v = p.integrated; break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: v = p.canMapHostMemory; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: v = p.concurrentKernels; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: v = p.ECCEnabled; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = p.pciBusID; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: v = p.pciDeviceID; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: v = p.pciDomainID; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: v = p.asyncEngineCount; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: v = p.unifiedAddressing; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = p.memoryBusWidth; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = p.l2CacheSize; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: v = p.maxThreadsPerMultiProcessor; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = p.major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = p.minor; break;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: v = p.streamPrioritiesSupported; break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: v = p.managedMemory; break;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: v = p.hostRegisterSupported; break;
    default: v = 0; break;
    }
    *pi = v;
    return CUDA_SUCCESS;
}

/* ---- contexts ---- */

#define CTX_MAGIC 0x53494d43u   /* "SIMC" */
typedef struct simgpu_ctx {
    unsigned magic;
    int primary;
    unsigned flags;
    _Atomic int destroyed;
} simgpu_ctx;

static simgpu_ctx primary_ctx = {CTX_MAGIC, 1, 0, 0};
static int primary_refs;           /* guarded by ctx_mu */
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;

#define STACK_DEPTH 16
static __thread simgpu_ctx *ctx_stack[STACK_DEPTH];
static __thread int ctx_depth;

/* Explicit contexts are never freed (a destroyed one stays recognisable as destroyed): a handle
 * is checked by its magic. Creating and destroying contexts in a loop costs 16 bytes each. */
static simgpu_ctx *ctx_of(CUcontext c) {
    simgpu_ctx *x = (simgpu_ctx *)c;
    return x && x->magic == CTX_MAGIC ? x : NULL;
}

/* The calling thread's current context: the top of its stack, or the primary one on a thread
 * that used the runtime (cudart makes it current). */
static simgpu_ctx *current(void) {
    if (ctx_depth) return ctx_stack[ctx_depth - 1];
    return simgpu_runtime_used ? &primary_ctx : NULL;
}

#define NEED_CTX                                                                            \
    do {                                                                                    \
        NEED_INIT;                                                                          \
        simgpu_ctx *c_ = current();                                                         \
        if (!c_) return CUDA_ERROR_INVALID_CONTEXT;                                         \
        if (atomic_load(&c_->destroyed)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;            \
    } while (0)

DRV cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
    NEED_DEVICE(dev);
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&ctx_mu);
    primary_refs++;
    pthread_mutex_unlock(&ctx_mu);
    *pctx = (CUcontext)&primary_ctx;
    return CUDA_SUCCESS;
}

DRV cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    NEED_DEVICE(dev);
    pthread_mutex_lock(&ctx_mu);
    int ok = primary_refs > 0;
    if (ok) primary_refs--;
    pthread_mutex_unlock(&ctx_mu);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

DRV cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active) {
    NEED_DEVICE(dev);
    if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&ctx_mu);
    *flags = primary_ctx.flags;
    *active = primary_refs > 0 || simgpu_runtime_used;
    pthread_mutex_unlock(&ctx_mu);
    return CUDA_SUCCESS;
}

DRV cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
    NEED_DEVICE(dev);
    if (flags & ~0x1fu) return CUDA_ERROR_INVALID_VALUE;   /* CU_CTX_SCHED_* | MAP_HOST | LMEM_RESIZE */
    pthread_mutex_lock(&ctx_mu);
    primary_ctx.flags = flags;
    pthread_mutex_unlock(&ctx_mu);
    return CUDA_SUCCESS;
}

/* The primary context's resources are the device's (the runtime's too): a reset is cudaDeviceReset. */
DRV cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    NEED_DEVICE(dev);
    CUresult r = CORE(cudaDeviceReset());
    if (r) return r;
    pthread_mutex_lock(&ctx_mu);
    primary_refs = 0;
    pthread_mutex_unlock(&ctx_mu);
    return CUDA_SUCCESS;
}

static CUresult ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev) {
    NEED_DEVICE(dev);
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~0x1fu) return CUDA_ERROR_INVALID_VALUE;
    if (ctx_depth == STACK_DEPTH) return CUDA_ERROR_OUT_OF_MEMORY;
    simgpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    c->magic = CTX_MAGIC;
    c->flags = flags;
    ctx_stack[ctx_depth++] = c;
    *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

DRV cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev) { return ctx_create(pctx, flags, dev); }

/* CUDA 13's cuCtxCreate: execution affinity and CIG parameters are not simulated. */
DRV cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev) {
    if (params && (params->execAffinityParams || params->cigParams)) return CUDA_ERROR_NOT_SUPPORTED;
    return ctx_create(pctx, flags, dev);
}

DRV cuCtxDestroy_v2(CUcontext ctx) {
    NEED_INIT;
    simgpu_ctx *c = ctx_of(ctx);
    if (!c || c->primary) return CUDA_ERROR_INVALID_VALUE;
    if (atomic_exchange(&c->destroyed, 1)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    /* its work is the device's: wait for it, as destroying a context does */
    CUresult r = CORE(cudaDeviceSynchronize());
    for (int i = 0; i < ctx_depth; i++)
        if (ctx_stack[i] == c) {
            memmove(&ctx_stack[i], &ctx_stack[i + 1], (size_t)(ctx_depth - i - 1) * sizeof ctx_stack[0]);
            ctx_depth--;
            break;
        }
    return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED ? r : CUDA_SUCCESS;
}

DRV cuCtxPushCurrent_v2(CUcontext ctx) {
    NEED_INIT;
    simgpu_ctx *c = ctx_of(ctx);
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (atomic_load(&c->destroyed)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    if (ctx_depth == STACK_DEPTH) return CUDA_ERROR_OUT_OF_MEMORY;
    ctx_stack[ctx_depth++] = c;
    return CUDA_SUCCESS;
}

DRV cuCtxPopCurrent_v2(CUcontext *pctx) {
    NEED_INIT;
    if (!ctx_depth) return CUDA_ERROR_INVALID_CONTEXT;
    simgpu_ctx *c = ctx_stack[--ctx_depth];
    if (pctx) *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

DRV cuCtxSetCurrent(CUcontext ctx) {
    NEED_INIT;
    if (!ctx) {
        if (ctx_depth) ctx_depth--;
        return CUDA_SUCCESS;
    }
    simgpu_ctx *c = ctx_of(ctx);
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (atomic_load(&c->destroyed)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    if (ctx_depth) ctx_stack[ctx_depth - 1] = c;
    else ctx_stack[ctx_depth++] = c;
    return CUDA_SUCCESS;
}

DRV cuCtxGetCurrent(CUcontext *pctx) {
    NEED_INIT;
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)current();
    return CUDA_SUCCESS;
}

DRV cuCtxGetDevice(CUdevice *device) {
    NEED_CTX;
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    *device = 0;
    return CUDA_SUCCESS;
}

DRV cuCtxSynchronize(void) {
    NEED_CTX;
    return CORE(cudaDeviceSynchronize());
}

/* ---- memory ---- */

DRV cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
    NEED_CTX;
    if (!dptr || !bytesize) return CUDA_ERROR_INVALID_VALUE;
    void *p = NULL;
    CUresult r = CORE(cudaMalloc(&p, bytesize));
    if (!r) *dptr = (CUdeviceptr)(uintptr_t)p;
    return r;
}

DRV cuMemFree_v2(CUdeviceptr dptr) {
    NEED_CTX;
    if (!dptr) return CUDA_ERROR_INVALID_VALUE;
    return CORE(cudaFree((void *)(uintptr_t)dptr));
}

DRV cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    NEED_CTX;
    return CORE(cudaMemGetInfo(free_bytes, total));
}

DRV cuMemAllocHost_v2(void **pp, size_t bytesize) {
    NEED_CTX;
    if (!pp || !bytesize) return CUDA_ERROR_INVALID_VALUE;
    return CORE(cudaMallocHost(pp, bytesize));
}

/* CU_MEMHOSTALLOC_PORTABLE/DEVICEMAP/WRITECOMBINED are cudaHostAlloc's flags, bit for bit. */
DRV cuMemHostAlloc(void **pp, size_t bytesize, unsigned int flags) {
    NEED_CTX;
    if (!pp || !bytesize) return CUDA_ERROR_INVALID_VALUE;
    return CORE(cudaHostAlloc(pp, bytesize, flags));
}

DRV cuMemFreeHost(void *p) {
    NEED_CTX;
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    return CORE(cudaFreeHost(p));
}

DRV cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int flags) {
    NEED_CTX;
    return CORE(cudaHostRegister(p, bytesize, flags));
}

DRV cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int flags) {
    NEED_CTX;
    void *d = NULL;
    CUresult r = CORE(cudaHostGetDevicePointer(&d, p, flags));
    if (!r && pdptr) *pdptr = (CUdeviceptr)(uintptr_t)d;
    return r;
}

DRV cuMemHostUnregister(void *p) {
    NEED_CTX;
    return CORE(cudaHostUnregister(p));
}

/* ---- copies: the runtime's, with the direction the driver's name gives ---- */

#define DPTR(x) ((void *)(uintptr_t)(x))

DRV cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    NEED_CTX;
    return CORE(cudaMemcpy(DPTR(dst), src, n, cudaMemcpyHostToDevice));
}

DRV cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    NEED_CTX;
    return CORE(cudaMemcpy(dst, DPTR(src), n, cudaMemcpyDeviceToHost));
}

DRV cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    NEED_CTX;
    return CORE(cudaMemcpy(DPTR(dst), DPTR(src), n, cudaMemcpyDeviceToDevice));
}

DRV cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(cudaMemcpyAsync(DPTR(dst), src, n, cudaMemcpyHostToDevice, (cudaStream_t)s));
}

DRV cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(cudaMemcpyAsync(dst, DPTR(src), n, cudaMemcpyDeviceToHost, (cudaStream_t)s));
}

DRV cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(cudaMemcpyAsync(DPTR(dst), DPTR(src), n, cudaMemcpyDeviceToDevice, (cudaStream_t)s));
}

/* Unified addressing: the direction from the pointers. */
DRV cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    NEED_CTX;
    return CORE(cudaMemcpy(DPTR(dst), DPTR(src), n, cudaMemcpyDefault));
}

DRV cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(cudaMemcpyAsync(DPTR(dst), DPTR(src), n, cudaMemcpyDefault, (cudaStream_t)s));
}

/* One side of a CUDA_MEMCPY2D: its start address and whether it is host, device or either. */
static CUresult side(CUmemorytype t, const void *host, CUdeviceptr dev, size_t x, size_t y, size_t pitch,
                     char **out, int *is_device) {
    const char *base;
    switch (t) {
    case CU_MEMORYTYPE_HOST: base = host; *is_device = 0; break;
    case CU_MEMORYTYPE_DEVICE: base = DPTR(dev); *is_device = 1; break;
    case CU_MEMORYTYPE_UNIFIED: base = DPTR(dev); *is_device = -1; break;
    default: return CUDA_ERROR_INVALID_VALUE;   /* CU_MEMORYTYPE_ARRAY: simgpu has no arrays */
    }
    if (!base) return CUDA_ERROR_INVALID_VALUE;
    *out = (char *)base + y * pitch + x;
    return CUDA_SUCCESS;
}

static CUresult memcpy2d(const CUDA_MEMCPY2D *p, CUstream s, int async) {
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    char *src, *dst;
    int sd, dd;
    CUresult r = side(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY, p->srcPitch, &src, &sd);
    if (!r) r = side(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY, p->dstPitch, &dst, &dd);
    if (r) return r;
    if (p->Height > 1 && (p->srcPitch < p->WidthInBytes || p->dstPitch < p->WidthInBytes)) return CUDA_ERROR_INVALID_VALUE;
    enum cudaMemcpyKind k = sd < 0 || dd < 0 ? cudaMemcpyDefault
                          : (enum cudaMemcpyKind)((sd ? 2 : 0) + (dd ? 1 : 0));   /* H2H 0, H2D 1, D2H 2, D2D 3 */
    size_t sp = p->Height > 1 ? p->srcPitch : p->WidthInBytes, dp = p->Height > 1 ? p->dstPitch : p->WidthInBytes;
    return async ? CORE(cudaMemcpy2DAsync(dst, dp, src, sp, p->WidthInBytes, p->Height, k, (cudaStream_t)s))
                 : CORE(cudaMemcpy2D(dst, dp, src, sp, p->WidthInBytes, p->Height, k));
}

DRV cuMemcpy2D_v2(const CUDA_MEMCPY2D *p) {
    NEED_CTX;
    return memcpy2d(p, NULL, 0);
}

DRV cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream s) {
    NEED_CTX;
    return memcpy2d(p, s, 1);
}

/* cuMemcpy2DUnaligned: simgpu has no alignment constraint to relax. */
DRV cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *p) {
    NEED_CTX;
    return memcpy2d(p, NULL, 0);
}

/* ---- memset ---- */

DRV cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 1, NULL));
}

DRV cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 2, NULL));
}

DRV cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 4, NULL));
}

DRV cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 1, (cudaStream_t)s));
}

DRV cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 2, (cudaStream_t)s));
}

DRV cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
    NEED_CTX;
    return CORE(simgpu_memset(DPTR(d), v, n, 4, (cudaStream_t)s));
}

/* ---- streams and events (CU_STREAM_* and CU_EVENT_* flags are the runtime's) ---- */

DRV cuStreamCreate(CUstream *ph, unsigned int flags) {
    NEED_CTX;
    return CORE(cudaStreamCreateWithFlags((cudaStream_t *)ph, flags));
}

DRV cuStreamCreateWithPriority(CUstream *ph, unsigned int flags, int priority) {
    NEED_CTX;
    return CORE(cudaStreamCreateWithPriority((cudaStream_t *)ph, flags, priority));
}

DRV cuStreamDestroy_v2(CUstream s) {
    NEED_CTX;
    return CORE(cudaStreamDestroy((cudaStream_t)s));
}

DRV cuStreamSynchronize(CUstream s) {
    NEED_CTX;
    return CORE(cudaStreamSynchronize((cudaStream_t)s));
}

DRV cuStreamQuery(CUstream s) {
    NEED_CTX;
    return CORE(cudaStreamQuery((cudaStream_t)s));
}

DRV cuStreamGetPriority(CUstream s, int *priority) {
    NEED_CTX;
    return CORE(cudaStreamGetPriority((cudaStream_t)s, priority));
}

DRV cuStreamGetFlags(CUstream s, unsigned int *flags) {
    NEED_CTX;
    return CORE(cudaStreamGetFlags((cudaStream_t)s, flags));
}

DRV cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
    NEED_CTX;
    return CORE(cudaStreamWaitEvent((cudaStream_t)s, (cudaEvent_t)e, flags));
}

DRV cuLaunchHostFunc(CUstream s, CUhostFn fn, void *user) {
    NEED_CTX;
    return CORE(cudaLaunchHostFunc((cudaStream_t)s, fn, user));
}

DRV cuEventCreate(CUevent *ph, unsigned int flags) {
    NEED_CTX;
    return CORE(cudaEventCreateWithFlags((cudaEvent_t *)ph, flags));
}

DRV cuEventDestroy_v2(CUevent e) {
    NEED_CTX;
    return CORE(cudaEventDestroy((cudaEvent_t)e));
}

DRV cuEventRecord(CUevent e, CUstream s) {
    NEED_CTX;
    return CORE(cudaEventRecord((cudaEvent_t)e, (cudaStream_t)s));
}

DRV cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) {
    NEED_CTX;
    return CORE(cudaEventRecordWithFlags((cudaEvent_t)e, (cudaStream_t)s, flags));
}

DRV cuEventQuery(CUevent e) {
    NEED_CTX;
    return CORE(cudaEventQuery((cudaEvent_t)e));
}

DRV cuEventSynchronize(CUevent e) {
    NEED_CTX;
    return CORE(cudaEventSynchronize((cudaEvent_t)e));
}

DRV cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
    NEED_CTX;
    return CORE(cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)end));
}

/* The pre-12.8 name: the same call. */
DRV cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
    NEED_CTX;
    return CORE(cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)end));
}

/* ---- error strings, as the driver prints them ---- */

typedef struct { CUresult code; const char *name, *text; } cu_error;
static const cu_error CU_ERRORS[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_CONTEXT_IS_DESTROYED, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_PERMITTED, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static const cu_error *cu_error_of(CUresult e) {
    for (size_t i = 0; i < sizeof CU_ERRORS / sizeof CU_ERRORS[0]; i++)
        if (CU_ERRORS[i].code == e) return &CU_ERRORS[i];
    return NULL;
}

DRV cuGetErrorString(CUresult e, const char **s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    const cu_error *x = cu_error_of(e);
    *s = x ? x->text : NULL;
    return x ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

DRV cuGetErrorName(CUresult e, const char **s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    const cu_error *x = cu_error_of(e);
    *s = x ? x->name : NULL;
    return x ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- cuGetProcAddress ---- */

DRV cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                        CUdriverProcAddressQueryResult *status);
DRV cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);

/* Each entry point by its base name, with the CUDA version that introduced this ABI: a request
 * gets the newest one not newer than the version it names (cuMemcpyHtoD at 3020 and later is
 * cuMemcpyHtoD_v2). simgpu has no per-thread-default-stream variants: that flag gets the same
 * functions (docs/simgpu.md). -Bsymbolic-functions makes each address this library's own. */
typedef struct { const char *name; int since; void *fn; } proc;
#define P(name, since, fn) {name, since, (void *)fn}
static const proc PROCS[] = {
    P("cuInit", 2000, cuInit), P("cuDriverGetVersion", 2020, cuDriverGetVersion),
    P("cuDeviceGet", 2000, cuDeviceGet), P("cuDeviceGetCount", 2000, cuDeviceGetCount),
    P("cuDeviceGetName", 2000, cuDeviceGetName), P("cuDeviceTotalMem", 3020, cuDeviceTotalMem_v2),
    P("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
    P("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
    P("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
    P("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
    P("cuDevicePrimaryCtxSetFlags", 11000, cuDevicePrimaryCtxSetFlags_v2),
    P("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset_v2),
    P("cuCtxCreate", 3020, cuCtxCreate_v2), P("cuCtxCreate", 12050, cuCtxCreate_v4),
    P("cuCtxDestroy", 4000, cuCtxDestroy_v2), P("cuCtxPushCurrent", 4000, cuCtxPushCurrent_v2),
    P("cuCtxPopCurrent", 4000, cuCtxPopCurrent_v2), P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
    P("cuCtxGetCurrent", 4000, cuCtxGetCurrent), P("cuCtxGetDevice", 2000, cuCtxGetDevice),
    P("cuCtxSynchronize", 2000, cuCtxSynchronize),
    P("cuMemAlloc", 3020, cuMemAlloc_v2), P("cuMemFree", 3020, cuMemFree_v2), P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
    P("cuMemAllocHost", 3020, cuMemAllocHost_v2), P("cuMemHostAlloc", 2020, cuMemHostAlloc),
    P("cuMemFreeHost", 2000, cuMemFreeHost), P("cuMemHostRegister", 6050, cuMemHostRegister_v2),
    P("cuMemHostUnregister", 4000, cuMemHostUnregister), P("cuMemHostGetDevicePointer", 3020, cuMemHostGetDevicePointer_v2),
    P("cuMemcpyHtoD", 3020, cuMemcpyHtoD_v2), P("cuMemcpyDtoH", 3020, cuMemcpyDtoH_v2),
    P("cuMemcpyDtoD", 3020, cuMemcpyDtoD_v2), P("cuMemcpyHtoDAsync", 3020, cuMemcpyHtoDAsync_v2),
    P("cuMemcpyDtoHAsync", 3020, cuMemcpyDtoHAsync_v2), P("cuMemcpyDtoDAsync", 3020, cuMemcpyDtoDAsync_v2),
    P("cuMemcpy", 4000, cuMemcpy), P("cuMemcpyAsync", 4000, cuMemcpyAsync),
    P("cuMemcpy2D", 3020, cuMemcpy2D_v2), P("cuMemcpy2DAsync", 3020, cuMemcpy2DAsync_v2),
    P("cuMemcpy2DUnaligned", 3020, cuMemcpy2DUnaligned_v2),
    P("cuMemsetD8", 3020, cuMemsetD8_v2), P("cuMemsetD16", 3020, cuMemsetD16_v2), P("cuMemsetD32", 3020, cuMemsetD32_v2),
    P("cuMemsetD8Async", 3020, cuMemsetD8Async), P("cuMemsetD16Async", 3020, cuMemsetD16Async),
    P("cuMemsetD32Async", 3020, cuMemsetD32Async),
    P("cuStreamCreate", 2000, cuStreamCreate), P("cuStreamCreateWithPriority", 5050, cuStreamCreateWithPriority),
    P("cuStreamDestroy", 4000, cuStreamDestroy_v2), P("cuStreamSynchronize", 2000, cuStreamSynchronize),
    P("cuStreamQuery", 2000, cuStreamQuery), P("cuStreamGetPriority", 5050, cuStreamGetPriority),
    P("cuStreamGetFlags", 5050, cuStreamGetFlags), P("cuStreamWaitEvent", 3020, cuStreamWaitEvent),
    P("cuLaunchHostFunc", 10000, cuLaunchHostFunc),
    P("cuEventCreate", 2000, cuEventCreate), P("cuEventDestroy", 4000, cuEventDestroy_v2),
    P("cuEventRecord", 2000, cuEventRecord), P("cuEventRecordWithFlags", 11010, cuEventRecordWithFlags),
    P("cuEventQuery", 2000, cuEventQuery), P("cuEventSynchronize", 2000, cuEventSynchronize),
    P("cuEventElapsedTime", 2000, cuEventElapsedTime), P("cuEventElapsedTime", 12080, cuEventElapsedTime_v2),
    P("cuGetErrorString", 6000, cuGetErrorString), P("cuGetErrorName", 6000, cuGetErrorName),
    P("cuGetProcAddress", 11030, cuGetProcAddress), P("cuGetProcAddress", 12050, cuGetProcAddress_v2),
};

static CUresult proc_address(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *status) {
    if (!symbol || !pfn || flags > (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
        return CUDA_ERROR_INVALID_VALUE;
    const proc *best = NULL;
    int known = 0;
    for (size_t i = 0; i < sizeof PROCS / sizeof PROCS[0]; i++) {
        if (strcmp(PROCS[i].name, symbol)) continue;
        known = 1;
        if (PROCS[i].since <= cudaVersion && (!best || PROCS[i].since > best->since)) best = &PROCS[i];
    }
    *pfn = best ? best->fn : NULL;
    if (status) *status = best ? CU_GET_PROC_ADDRESS_SUCCESS : known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                                                                     : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return best ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

DRV cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                        CUdriverProcAddressQueryResult *status) {
    return proc_address(symbol, pfn, cudaVersion, flags, status);
}

DRV cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags) {
    return proc_address(symbol, pfn, cudaVersion, flags, NULL);
}

/* The runtime's view of the same table (its cudaGetDriverEntryPoint passes its own version):
 * cudaSuccess with NULL for a symbol that is not there, cudaErrorInvalidValue for a version newer
 * than the driver's. cudaDriverEntryPointQueryResult's values are CUdriverProcAddressQueryResult's. */
cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **funcPtr, unsigned int cudaVersion,
                                             unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult *driverStatus) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!symbol || !funcPtr || cudaVersion > 13000) return simgpu_ret(cudaErrorInvalidValue);
    CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (proc_address(symbol, funcPtr, (int)cudaVersion, flags, &st) == CUDA_ERROR_INVALID_VALUE)
        return simgpu_ret(cudaErrorInvalidValue);
    if (driverStatus) *driverStatus = (enum cudaDriverEntryPointQueryResult)st;
    return cudaSuccess;
}
