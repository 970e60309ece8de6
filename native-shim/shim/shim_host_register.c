/*
 * host_register=emulate. Under CC the driver refuses cudaHostRegister / cuMemHostRegister for every
 * size and flag (cudaErrorNotSupported, 801: the GPU cannot DMA into the CVM's private memory), and
 * engines that register host memory for KV offload fail to start. With the option, a registration
 * the real driver refused with exactly that error, and that asks for no device mapping (no MAPPED
 * or IOMEMORY flag), succeeds as bookkeeping: the range is remembered here, copies from and to it
 * are ordinary pageable copies (the driver stages every copy through its bounce buffers under CC
 * anyway), and the agent hears of it as pinned host memory (a known source for the pipeline).
 * What needs a device mapping fails as the driver fails it: a registration with a mapping flag is
 * the real driver's answer (801), and cudaHostGetDevicePointer / cuMemHostGetDevicePointer of an
 * emulated range is cudaErrorInvalidValue / CUDA_ERROR_INVALID_VALUE, the driver's answer for
 * memory without a mapping. Zero-copy reads of such memory from kernels cannot work under CC.
 *
 * Without the option (or in mode off, or when the real registration worked: CC off) every call is
 * the real function's. Registration is no hot path: a short table under a mutex.
 */
#include "shim_internal.h"

#include <pthread.h>
#include <stdint.h>

#define MAX_RANGES 1024
#define NEEDS_MAPPING 0x6u   /* cudaHostRegisterMapped | cudaHostRegisterIoMemory (CU_MEMHOSTREGISTER_* alike) */

typedef struct range { uintptr_t base; size_t size; } range;
static range ranges[MAX_RANGES];
static int n_ranges;
static pthread_mutex_t ranges_mu = PTHREAD_MUTEX_INITIALIZER;

/* The options are loaded with the agent's start (an allocation-like call starts it anyway). */
static int emulating(void) {
    pl_agent_start();
    return pl_opts.host_register_emulate && !pl_mode_off();
}

enum { EMU_ADDED, EMU_OVERLAP, EMU_FULL };

static int add(uintptr_t base, size_t size) {
    int rc = EMU_ADDED;
    pthread_mutex_lock(&ranges_mu);
    for (int i = 0; i < n_ranges && rc == EMU_ADDED; i++)
        if (base < ranges[i].base + ranges[i].size && ranges[i].base < base + size) rc = EMU_OVERLAP;
    if (rc == EMU_ADDED && n_ranges == MAX_RANGES) rc = EMU_FULL;
    if (rc == EMU_ADDED) ranges[n_ranges++] = (range){base, size};
    pthread_mutex_unlock(&ranges_mu);
    return rc;
}

/* 1 when [p] is an emulated range's base (removed), 0 when it lies inside one (not its base), -1
 * when no emulated range holds it. */
static int remove_base(uintptr_t p) {
    int rc = -1;
    pthread_mutex_lock(&ranges_mu);
    for (int i = 0; i < n_ranges; i++) {
        if (p < ranges[i].base || p >= ranges[i].base + ranges[i].size) continue;
        rc = p == ranges[i].base;
        if (rc) ranges[i] = ranges[--n_ranges];
        break;
    }
    pthread_mutex_unlock(&ranges_mu);
    return rc;
}

static int holds(uintptr_t p) {
    int found = 0;
    pthread_mutex_lock(&ranges_mu);
    for (int i = 0; i < n_ranges && !found; i++) found = p >= ranges[i].base && p < ranges[i].base + ranges[i].size;
    pthread_mutex_unlock(&ranges_mu);
    return found;
}

static void tell_agent(int api, void *p, size_t n) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (!up) return;
    if (api == PL_FREE_HOST) up->on_alloc(api, p, 0, PL_ALLOC_BEFORE);
    up->on_alloc(api, p, n, 0);
}

/* The emulated answer to a registration the real driver refused with `refused` (its 801): 0 when
 * emulated, else the code to return (the same numbers in both APIs). */
static int emulate_register(void *p, size_t n, unsigned int f, int refused) {
    if (!p || !n) return cudaErrorInvalidValue;
    if (f & NEEDS_MAPPING) return refused;
    switch (add((uintptr_t)p, n)) {
    case EMU_OVERLAP: return cudaErrorHostMemoryAlreadyRegistered;
    case EMU_FULL: return refused;
    default: tell_agent(PL_ALLOC_HOST, p, n); return 0;
    }
}

PL_API cudaError_t cudaHostRegister(void *p, size_t n, unsigned int f) {
    cudaHostRegister_fn real = PL_REAL(cudaHostRegister);
    if (!real) return cudaErrorInitializationError;
    cudaError_t r = real(p, n, f);
    if (r != cudaErrorNotSupported || !emulating()) return r;
    return (cudaError_t)emulate_register(p, n, f, r);
}

PL_API cudaError_t cudaHostUnregister(void *p) {
    cudaHostUnregister_fn real = PL_REAL(cudaHostUnregister);
    if (!real) return cudaErrorInitializationError;
    if (p && emulating()) {
        int rc = remove_base((uintptr_t)p);
        if (rc == 1) {
            tell_agent(PL_FREE_HOST, p, 0);   /* before the app may free it: the agent stops reading */
            return cudaSuccess;
        }
        if (rc == 0) return cudaErrorHostMemoryNotRegistered;
    }
    return real(p);
}

PL_API cudaError_t cudaHostGetDevicePointer(void **pd, void *p, unsigned int f) {
    cudaHostGetDevicePointer_fn real = PL_REAL(cudaHostGetDevicePointer);
    if (p && emulating() && holds((uintptr_t)p)) return cudaErrorInvalidValue;
    return real ? real(pd, p, f) : cudaErrorInitializationError;
}

PL_API CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned int f) {
    cuMemHostRegister_v2_fn real = PL_REAL(cuMemHostRegister_v2);
    if (!real) return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = real(p, n, f);
    if (r != CUDA_ERROR_NOT_SUPPORTED || !emulating()) return r;
    return (CUresult)emulate_register(p, n, f, r);
}

PL_API CUresult cuMemHostUnregister(void *p) {
    cuMemHostUnregister_fn real = PL_REAL(cuMemHostUnregister);
    if (!real) return CUDA_ERROR_NOT_INITIALIZED;
    if (p && emulating()) {
        int rc = remove_base((uintptr_t)p);
        if (rc == 1) {
            tell_agent(PL_FREE_HOST, p, 0);   /* before the app may free it: the agent stops reading */
            return CUDA_SUCCESS;
        }
        if (rc == 0) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    }
    return real(p);
}

PL_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pd, void *p, unsigned int f) {
    cuMemHostGetDevicePointer_v2_fn real = PL_REAL(cuMemHostGetDevicePointer_v2);
    if (p && emulating() && holds((uintptr_t)p)) return CUDA_ERROR_INVALID_VALUE;
    return real ? real(pd, p, f) : CUDA_ERROR_NOT_INITIALIZED;
}
