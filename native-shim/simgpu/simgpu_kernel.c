/*
 * The fat-binary registration entry points nvcc emits, and kernel launches. simgpu has no kernels:
 * registration succeeds so nvcc-built programs start, and a launch fails with a clear error (once on
 * stderr) and cudaErrorNoKernelImageForDevice. Model device work with simgpuStreamCompute().
 */
#include "simgpu_internal.h"

#include <stdatomic.h>

static void *fatbin_handle_storage;
static atomic_int launch_reported;

typedef struct { dim3 grid, block; size_t shmem; cudaStream_t stream; } call_config;
static __thread call_config pushed;

SIMGPU_API void **__cudaRegisterFatBinary(void *fatCubin) {
    fatbin_handle_storage = fatCubin;
    return &fatbin_handle_storage;
}

SIMGPU_API void __cudaRegisterFatBinaryEnd(void **handle) { (void)handle; }

SIMGPU_API void __cudaUnregisterFatBinary(void **handle) { (void)handle; }

SIMGPU_API void __cudaRegisterFunction(void **h, const char *hostFun, char *deviceFun, const char *deviceName,
                                       int threadLimit, uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize) {
    (void)h; (void)hostFun; (void)deviceFun; (void)deviceName; (void)threadLimit;
    (void)tid; (void)bid; (void)bDim; (void)gDim; (void)wSize;
}

SIMGPU_API void __cudaRegisterVar(void **h, char *hostVar, char *deviceAddress, const char *deviceName, int ext,
                                  size_t size, int constant, int global) {
    (void)h; (void)hostVar; (void)deviceAddress; (void)deviceName; (void)ext; (void)size; (void)constant; (void)global;
}

SIMGPU_API void __cudaRegisterManagedVar(void **h, void **hostVarPtrAddress, char *deviceAddress,
                                         const char *deviceName, int ext, size_t size, int constant, int global) {
    (void)h; (void)hostVarPtrAddress; (void)deviceAddress; (void)deviceName; (void)ext; (void)size; (void)constant; (void)global;
}

SIMGPU_API char __cudaInitModule(void **h) { (void)h; return 1; }

SIMGPU_API unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shmem, cudaStream_t stream) {
    pushed = (call_config){grid, block, shmem, stream};
    return 0;
}

SIMGPU_API cudaError_t __cudaPopCallConfiguration(dim3 *grid, dim3 *block, size_t *shmem, void *stream) {
    if (grid) *grid = pushed.grid;
    if (block) *block = pushed.block;
    if (shmem) *shmem = pushed.shmem;
    if (stream) *(cudaStream_t *)stream = pushed.stream;
    return cudaSuccess;
}

SIMGPU_API cudaError_t __cudaGetKernel(void **kernel, const void *fun) {
    if (kernel) *kernel = (void *)fun;
    return cudaSuccess;
}

static cudaError_t no_kernels(void) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!atomic_exchange(&launch_reported, 1))
        simgpu_log(SIMGPU_LOG_ERROR, "kernel launches are not simulated (simgpu runs no device code); "
                   "model device work with simgpuStreamCompute() from simgpu.h");
    return simgpu_ret(cudaErrorNoKernelImageForDevice);
}

SIMGPU_API cudaError_t __cudaLaunchKernel(void *kernel, dim3 grid, dim3 block, void **args, size_t shmem,
                                          cudaStream_t stream) {
    (void)kernel; (void)grid; (void)block; (void)args; (void)shmem; (void)stream;
    return no_kernels();
}

SIMGPU_API cudaError_t cudaLaunchKernel(const void *func, dim3 grid, dim3 block, void **args, size_t shmem,
                                        cudaStream_t stream) {
    (void)func; (void)grid; (void)block; (void)args; (void)shmem; (void)stream;
    return no_kernels();
}
