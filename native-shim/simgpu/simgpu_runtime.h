/*
 * The one simulated device lives in simgpu's libcuda.so.1 (the "driver"), as on hardware, where
 * libcudart is a client of libcuda. The core (every simgpu_*.c but the runtime's front, simgpu_runtime.c)
 * implements the runtime API and the driver API; libcuda.so.1 exports only the driver API (cu*) and
 * simgpu's own names (simgpu*), and hands its runtime implementation to libcudart.so.12 and .13
 * through one exported table, simgpu_runtime_table. So a runtime copy and a driver copy in one
 * process meet one device, one set of streams and one set of CC channels, whichever runtime the
 * process loaded (or both).
 *
 * The table is data, not exported functions, so nothing of the runtime can be interposed on in
 * libcuda, and libcudart's exports are each called exactly once per call (simgpu_internal_calls_*).
 */
#ifndef SIMGPU_RUNTIME_H
#define SIMGPU_RUNTIME_H

#include <cuda_runtime_api.h>

#include "simgpu.h"

typedef struct simgpu_runtime {
#define X(ret, name, params, args) ret (*name) params;
#include "simgpu_runtime.def"
#undef X
    cudaError_t (*props13)(struct cudaDeviceProp *prop, int device);   /* CUDA 13 layout */
    cudaError_t (*props12)(void *prop, int device);                    /* CUDA 12 layout */
    cudaError_t (*runtime_version)(int *v, int version);
} simgpu_runtime;

#endif
