/*
 * libcudart.so.12 / .13: the runtime's front. Every export forwards to the core in libcuda.so.1
 * through simgpu_runtime_table (simgpu_runtime.h); only what differs per runtime major is written
 * here: the version, and cudaGetDeviceProperties with that major's struct layout (libcudart.so.12
 * also exports cudaGetDeviceProperties_v2, what CUDA 12 headers call).
 */
#include "simgpu_runtime.h"

#define SIMGPU_API __attribute__((visibility("default")))

extern const simgpu_runtime simgpu_runtime_table;

/* Built together with libcuda.so.1; a foreign libcuda.so.1 first in the search path lacks the
 * table, and the loader refuses this library with "undefined symbol: simgpu_runtime_table". */
#define core() (&simgpu_runtime_table)

#define X(ret, name, params, args) SIMGPU_API ret name params { return core()->name args; }
#include "simgpu_runtime.def"
#undef X

SIMGPU_API cudaError_t cudaRuntimeGetVersion(int *v) { return core()->runtime_version(v, SIMGPU_RUNTIME_VERSION); }

/* Deprecated in CUDA 13, and still what programs call: the entry point for this runtime's version. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
SIMGPU_API cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **funcPtr, unsigned long long flags,
                                               enum cudaDriverEntryPointQueryResult *driverStatus) {
    return core()->cudaGetDriverEntryPointByVersion(symbol, funcPtr, SIMGPU_RUNTIME_VERSION, flags, driverStatus);
}
#pragma GCC diagnostic pop

#if SIMGPU_CUDA_MAJOR >= 13
SIMGPU_API cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    return core()->props13(prop, device);
}
#else
/* the CUDA 12 struct (declared in simgpu_props.c); binaries built against CUDA 12 headers call _v2,
 * and the legacy name gets the same layout */
SIMGPU_API cudaError_t simgpu_get_props12_v2(void *p, int d) __asm__("cudaGetDeviceProperties_v2");
SIMGPU_API cudaError_t simgpu_get_props12_v2(void *p, int d) { return core()->props12(p, d); }
SIMGPU_API cudaError_t simgpu_get_props12(void *p, int d) __asm__("cudaGetDeviceProperties");
SIMGPU_API cudaError_t simgpu_get_props12(void *p, int d) { return core()->props12(p, d); }
#endif
