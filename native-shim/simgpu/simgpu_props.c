/*
 * cudaGetDeviceProperties with the struct layout of each soname's CUDA version, both in the core:
 * libcudart.so.13 exports cudaGetDeviceProperties with the CUDA 13 struct (from the installed
 * headers, simgpu_props13); libcudart.so.12 exports cudaGetDeviceProperties_v2 (what CUDA 12 headers
 * call) and the legacy name, with the CUDA 12 layout declared below (simgpu_props12). Values are
 * those of an H100 SXM5 80GB.
 */
#include "simgpu_internal.h"

#include <string.h>

#define H100_NAME "NVIDIA H100 80GB HBM3"

/* Fields common to both layouts, by name. */
#define FILL_COMMON(p)                                                          \
    do {                                                                        \
        memset((p), 0, sizeof *(p));                                            \
        strncpy((p)->name, H100_NAME, sizeof (p)->name - 1);                    \
        memcpy((p)->uuid.bytes, "simgpu-h100-0001", 16);                        \
        (p)->totalGlobalMem = g.cfg.memory_bytes;                               \
        (p)->sharedMemPerBlock = 49152;                                         \
        (p)->regsPerBlock = 65536;                                              \
        (p)->warpSize = 32;                                                     \
        (p)->memPitch = 2147483647;                                             \
        (p)->maxThreadsPerBlock = 1024;                                         \
        (p)->maxThreadsDim[0] = 1024; (p)->maxThreadsDim[1] = 1024; (p)->maxThreadsDim[2] = 64; \
        (p)->maxGridSize[0] = 2147483647; (p)->maxGridSize[1] = 65535; (p)->maxGridSize[2] = 65535; \
        (p)->totalConstMem = 65536;                                             \
        (p)->major = 9;                                                         \
        (p)->minor = 0;                                                         \
        (p)->textureAlignment = 512;                                            \
        (p)->texturePitchAlignment = 32;                                        \
        (p)->multiProcessorCount = 132;                                         \
        (p)->canMapHostMemory = 1;                                              \
        (p)->concurrentKernels = 1;                                             \
        (p)->ECCEnabled = 1;                                                    \
        (p)->pciBusID = 0x18;                                                   \
        (p)->asyncEngineCount = 2;   /* the model has one copy engine per direction */ \
        (p)->unifiedAddressing = 1;                                             \
        (p)->memoryBusWidth = 5120;                                             \
        (p)->l2CacheSize = 52428800;                                            \
        (p)->persistingL2CacheMaxSize = 32505856;                               \
        (p)->maxThreadsPerMultiProcessor = 2048;                                \
        (p)->streamPrioritiesSupported = 1;                                     \
        (p)->globalL1CacheSupported = 1;                                        \
        (p)->localL1CacheSupported = 1;                                         \
        (p)->sharedMemPerMultiprocessor = 233472;                               \
        (p)->regsPerMultiprocessor = 65536;                                     \
        (p)->managedMemory = 1;                                                 \
        (p)->computePreemptionSupported = 1;                                    \
        (p)->cooperativeLaunch = 1;                                             \
        (p)->sharedMemPerBlockOptin = 232448;                                   \
        (p)->maxBlocksPerMultiProcessor = 32;                                   \
        (p)->accessPolicyMaxWindowSize = 134213632;                             \
        (p)->reservedSharedMemPerBlock = 1024;                                  \
        (p)->hostRegisterSupported = !g.cfg.cc_on;  /* refused under CC */     \
        (p)->memoryPoolsSupported = 1;                                          \
        (p)->clusterLaunch = 1;                                                 \
        (p)->unifiedFunctionPointers = 1;                                       \
    } while (0)

cudaError_t simgpu_props13(struct cudaDeviceProp *prop, int device) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!prop) return simgpu_ret(cudaErrorInvalidValue);
    if (device != 0) return simgpu_ret(cudaErrorInvalidDevice);
    FILL_COMMON(prop);
    prop->gpuPciDeviceID = 0x233010de;
    prop->hostNumaId = -1;
    prop->deviceNumaId = -1;
    return cudaSuccess;
}

/* struct cudaDeviceProp as CUDA 12.x headers declare it (cudaGetDeviceProperties_v2). */
struct simgpu_device_prop12 {
    char name[256];
    cudaUUID_t uuid;
    char luid[8];
    unsigned int luidDeviceNodeMask;
    size_t totalGlobalMem, sharedMemPerBlock;
    int regsPerBlock, warpSize;
    size_t memPitch;
    int maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3], clockRate;
    size_t totalConstMem;
    int major, minor;
    size_t textureAlignment, texturePitchAlignment;
    int deviceOverlap, multiProcessorCount, kernelExecTimeoutEnabled, integrated, canMapHostMemory,
        computeMode, maxTexture1D, maxTexture1DMipmap, maxTexture1DLinear, maxTexture2D[2],
        maxTexture2DMipmap[2], maxTexture2DLinear[3], maxTexture2DGather[2], maxTexture3D[3],
        maxTexture3DAlt[3], maxTextureCubemap, maxTexture1DLayered[2], maxTexture2DLayered[3],
        maxTextureCubemapLayered[2], maxSurface1D, maxSurface2D[2], maxSurface3D[3],
        maxSurface1DLayered[2], maxSurface2DLayered[3], maxSurfaceCubemap, maxSurfaceCubemapLayered[2];
    size_t surfaceAlignment;
    int concurrentKernels, ECCEnabled, pciBusID, pciDeviceID, pciDomainID, tccDriver, asyncEngineCount,
        unifiedAddressing, memoryClockRate, memoryBusWidth, l2CacheSize, persistingL2CacheMaxSize,
        maxThreadsPerMultiProcessor, streamPrioritiesSupported, globalL1CacheSupported, localL1CacheSupported;
    size_t sharedMemPerMultiprocessor;
    int regsPerMultiprocessor, managedMemory, isMultiGpuBoard, multiGpuBoardGroupID,
        hostNativeAtomicSupported, singleToDoublePrecisionPerfRatio, pageableMemoryAccess,
        concurrentManagedAccess, computePreemptionSupported, canUseHostPointerForRegisteredMem,
        cooperativeLaunch, cooperativeMultiDeviceLaunch;
    size_t sharedMemPerBlockOptin;
    int pageableMemoryAccessUsesHostPageTables, directManagedMemAccessFromHost, maxBlocksPerMultiProcessor,
        accessPolicyMaxWindowSize;
    size_t reservedSharedMemPerBlock;
    int hostRegisterSupported, sparseCudaArraySupported, hostRegisterReadOnlySupported,
        timelineSemaphoreInteropSupported, memoryPoolsSupported, gpuDirectRDMASupported;
    unsigned int gpuDirectRDMAFlushWritesOptions;
    int gpuDirectRDMAWritesOrdering;
    unsigned int memoryPoolSupportedHandleTypes;
    int deferredMappingCudaArraySupported, ipcEventSupported, clusterLaunch, unifiedFunctionPointers,
        reserved2[2], reserved1[1], reserved[60];
};

cudaError_t simgpu_props12(void *out, int device) {
    struct simgpu_device_prop12 *prop = out;
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!prop) return simgpu_ret(cudaErrorInvalidValue);
    if (device != 0) return simgpu_ret(cudaErrorInvalidDevice);
    FILL_COMMON(prop);
    prop->clockRate = 1980000;
    prop->memoryClockRate = 2619000;
    prop->deviceOverlap = 1;
    return cudaSuccess;
}

