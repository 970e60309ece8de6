/* The core's runtime implementation, as one table for libcudart.so.12 and .13 (simgpu_runtime.h). */
#include "simgpu_internal.h"
#include "simgpu_runtime.h"

/* Declared here, not in a header: the core's functions of the same names are not exported, so
 * the runtime front (another object) can only reach them through this table. */
cudaError_t simgpu_props13(struct cudaDeviceProp *prop, int device);
cudaError_t simgpu_props12(void *prop, int device);
cudaError_t simgpu_runtime_version(int *v, int version);
void **__cudaRegisterFatBinary(void *fatCubin);
void __cudaRegisterFatBinaryEnd(void **handle);
void __cudaUnregisterFatBinary(void **handle);
void __cudaRegisterFunction(void **h, const char *hostFun, char *deviceFun, const char *deviceName, int threadLimit,
                            uint3 *tid, uint3 *bid, dim3 *bDim, dim3 *gDim, int *wSize);
void __cudaRegisterVar(void **h, char *hostVar, char *deviceAddress, const char *deviceName, int ext, size_t size,
                       int constant, int global);
void __cudaRegisterManagedVar(void **h, void **hostVarPtrAddress, char *deviceAddress, const char *deviceName, int ext,
                              size_t size, int constant, int global);
char __cudaInitModule(void **h);
unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shmem, cudaStream_t stream);
cudaError_t __cudaPopCallConfiguration(dim3 *grid, dim3 *block, size_t *shmem, void *stream);
cudaError_t __cudaGetKernel(void **kernel, const void *fun);
cudaError_t __cudaLaunchKernel(void *kernel, dim3 grid, dim3 block, void **args, size_t shmem, cudaStream_t stream);

SIMGPU_API const simgpu_runtime simgpu_runtime_table = {
#define X(ret, name, params, args) .name = name,
#include "simgpu_runtime.def"
#undef X
    .props13 = simgpu_props13,
    .props12 = simgpu_props12,
    .runtime_version = simgpu_runtime_version,
};
