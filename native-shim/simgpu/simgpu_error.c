/* Error reporting as the CUDA runtime does it: a per-thread last error, plus a sticky context
 * error (a poisoned CC channel) that every later call returns. */
#include "simgpu_internal.h"

static __thread cudaError_t last_error = cudaSuccess;

cudaError_t *simgpu_last_error_slot(void) { return &last_error; }

cudaError_t simgpu_ret(cudaError_t err) {
    if (err != cudaSuccess) last_error = err;
    return err;
}

SIMGPU_API cudaError_t cudaGetLastError(void) {
    cudaError_t sticky = simgpu_poisoned();
    if (sticky) return sticky;
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

SIMGPU_API cudaError_t cudaPeekAtLastError(void) {
    cudaError_t sticky = simgpu_poisoned();
    return sticky ? sticky : last_error;
}

typedef struct { int code; const char *name; const char *text; } error_entry;

/* Names and texts as the CUDA runtime prints them. */
static const error_entry ERRORS[] = {
    {0, "cudaSuccess", "no error"},
    {1, "cudaErrorInvalidValue", "invalid argument"},
    {2, "cudaErrorMemoryAllocation", "out of memory"},
    {3, "cudaErrorInitializationError", "initialization error"},
    {4, "cudaErrorCudartUnloading", "driver shutting down"},
    {9, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {12, "cudaErrorInvalidPitchValue", "invalid pitch argument"},
    {13, "cudaErrorInvalidSymbol", "invalid device symbol"},
    {16, "cudaErrorInvalidHostPointer", "invalid host pointer"},
    {17, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {21, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {35, "cudaErrorInsufficientDriver", "CUDA driver version is insufficient for CUDA runtime version"},
    {52, "cudaErrorMissingConfiguration", "__global__ function call is not configured"},
    {98, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {100, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {101, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {200, "cudaErrorInvalidKernelImage", "device kernel image is invalid"},
    {209, "cudaErrorNoKernelImageForDevice", "no kernel image is available for execution on the device"},
    {400, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {401, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {500, "cudaErrorSymbolNotFound", "named symbol not found"},
    {600, "cudaErrorNotReady", "device not ready"},
    {700, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {709, "cudaErrorContextIsDestroyed", "context is destroyed"},
    {712, "cudaErrorHostMemoryAlreadyRegistered", "part or all of the requested memory range is already mapped"},
    {713, "cudaErrorHostMemoryNotRegistered", "pointer does not correspond to a registered memory region"},
    {719, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {800, "cudaErrorNotPermitted", "operation not permitted"},
    {801, "cudaErrorNotSupported", "operation not supported"},
    {900, "cudaErrorStreamCaptureUnsupported", "operation not permitted when stream is capturing"},
    {999, "cudaErrorUnknown", "unknown error"},
};

static const error_entry *find(cudaError_t e) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++)
        if (ERRORS[i].code == (int)e) return &ERRORS[i];
    return NULL;
}

const char *simgpu_error_name(cudaError_t e) {
    const error_entry *x = find(e);
    return x ? x->name : "unrecognized error code";
}

SIMGPU_API const char *cudaGetErrorName(cudaError_t e) { return simgpu_error_name(e); }

SIMGPU_API const char *cudaGetErrorString(cudaError_t e) {
    const error_entry *x = find(e);
    return x ? x->text : "unrecognized error code";
}
