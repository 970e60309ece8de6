/*
 * A program that uses only the CUDA driver API (it links libcuda.so.1, no libcudart), as XLA,
 * TornadoVM or JCuda's driver bindings do. Usage: prog_driver direct|procs
 *   direct  calls the exported functions;
 *   procs   fetches every function with cuGetProcAddress (itself fetched through cuGetProcAddress,
 *           as CUDA 12 code does), and checks the lookup's answers (versions, unknown symbols).
 * Checks error codes (before cuInit, without a context, bad device and arguments), contexts
 * (primary, explicit, the stack), then copies in every shape, byte for byte: HtoD/DtoH/DtoD, async
 * on two streams ordered by an event, cuMemcpy and cuMemcpyAsync (unified), 2D with offsets,
 * pinned host memory, memsets, a host function in stream order. With PROG_DRIVER_SHIM=1 the
 * fetched entry points of hooked names must be libpipellm.so's. Prints "copies N" (the copy calls
 * a wrapper of the shim reports, refused ones included; an array copy is not one) and
 * "driver: ok"; the exit status counts failures.
 */
#define _GNU_SOURCE
#define __CUDA_API_VERSION_INTERNAL 1   /* the exported names: cuMemAlloc_v2, cuGetProcAddress (v1) */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog_check.h"

static int copies;
#define OK(call) CHECK((call) == CUDA_SUCCESS)

/* The functions used, filled from the exports or from cuGetProcAddress. */
static struct {
    CUresult (*init)(unsigned);
    CUresult (*device_get)(CUdevice *, int);
    CUresult (*device_count)(int *);
    CUresult (*device_name)(char *, int, CUdevice);
    CUresult (*device_attr)(int *, CUdevice_attribute, CUdevice);
    CUresult (*total_mem)(size_t *, CUdevice);
    CUresult (*primary_retain)(CUcontext *, CUdevice);
    CUresult (*primary_release)(CUdevice);
    CUresult (*ctx_create)(CUcontext *, unsigned, CUdevice);
    CUresult (*ctx_destroy)(CUcontext);
    CUresult (*ctx_set)(CUcontext);
    CUresult (*ctx_get)(CUcontext *);
    CUresult (*ctx_push)(CUcontext);
    CUresult (*ctx_pop)(CUcontext *);
    CUresult (*ctx_sync)(void);
    CUresult (*mem_alloc)(CUdeviceptr *, size_t);
    CUresult (*mem_free)(CUdeviceptr);
    CUresult (*alloc_host)(void **, size_t);
    CUresult (*free_host)(void *);
    CUresult (*htod)(CUdeviceptr, const void *, size_t);
    CUresult (*dtoh)(void *, CUdeviceptr, size_t);
    CUresult (*dtod)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*htod_async)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*dtoh_async)(void *, CUdeviceptr, size_t, CUstream);
    CUresult (*copy)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*copy_async)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*copy2d)(const CUDA_MEMCPY2D *);
    CUresult (*copy2d_async)(const CUDA_MEMCPY2D *, CUstream);
    CUresult (*memset8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*memset32_async)(CUdeviceptr, unsigned int, size_t, CUstream);
    CUresult (*stream_create)(CUstream *, unsigned);
    CUresult (*stream_destroy)(CUstream);
    CUresult (*stream_sync)(CUstream);
    CUresult (*stream_wait)(CUstream, CUevent, unsigned);
    CUresult (*host_func)(CUstream, CUhostFn, void *);
    CUresult (*event_create)(CUevent *, unsigned);
    CUresult (*event_record)(CUevent, CUstream);
    CUresult (*event_sync)(CUevent);
    CUresult (*event_destroy)(CUevent);
    CUresult (*error_string)(CUresult, const char **);
    CUresult (*error_name)(CUresult, const char **);
} f;

static void direct(void) {
    f.init = cuInit, f.device_get = cuDeviceGet, f.device_count = cuDeviceGetCount, f.device_name = cuDeviceGetName;
    f.device_attr = cuDeviceGetAttribute, f.total_mem = cuDeviceTotalMem_v2, f.primary_retain = cuDevicePrimaryCtxRetain;
    f.primary_release = cuDevicePrimaryCtxRelease_v2, f.ctx_create = cuCtxCreate_v2, f.ctx_destroy = cuCtxDestroy_v2;
    f.ctx_set = cuCtxSetCurrent, f.ctx_get = cuCtxGetCurrent, f.ctx_push = cuCtxPushCurrent_v2;
    f.ctx_pop = cuCtxPopCurrent_v2, f.ctx_sync = cuCtxSynchronize, f.mem_alloc = cuMemAlloc_v2, f.mem_free = cuMemFree_v2;
    f.alloc_host = cuMemAllocHost_v2, f.free_host = cuMemFreeHost, f.htod = cuMemcpyHtoD_v2, f.dtoh = cuMemcpyDtoH_v2;
    f.dtod = cuMemcpyDtoD_v2, f.htod_async = cuMemcpyHtoDAsync_v2, f.dtoh_async = cuMemcpyDtoHAsync_v2;
    f.copy = cuMemcpy, f.copy_async = cuMemcpyAsync, f.copy2d = cuMemcpy2D_v2, f.copy2d_async = cuMemcpy2DAsync_v2;
    f.memset8 = cuMemsetD8_v2, f.memset32_async = cuMemsetD32Async, f.stream_create = cuStreamCreate;
    f.stream_destroy = cuStreamDestroy_v2, f.stream_sync = cuStreamSynchronize, f.stream_wait = cuStreamWaitEvent;
    f.host_func = cuLaunchHostFunc, f.event_create = cuEventCreate, f.event_record = cuEventRecord;
    f.event_sync = cuEventSynchronize, f.event_destroy = cuEventDestroy_v2, f.error_string = cuGetErrorString;
    f.error_name = cuGetErrorName;
}

static int shim;

/* One entry point through cuGetProcAddress_v2 (itself fetched through the v1 lookup). */
static CUresult (*proc_v2)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static void *fetch(const char *name, int hooked) {
    void *p = NULL;
    CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    CHECK(proc_v2(name, &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st) == CUDA_SUCCESS && p && st == CU_GET_PROC_ADDRESS_SUCCESS);
    if (p && !strstr(object_of(p), shim && hooked ? "libpipellm" : "libcuda")) {
        fprintf(stderr, "%s comes from %s\n", name, object_of(p));
        failures++;
    }
    return p;
}

static void procs(void) {
    CUresult (*v1)(const char *, void **, int, cuuint64_t) = NULL;
    OK(cuGetProcAddress("cuGetProcAddress", (void **)&v1, 11030, 0));
    CHECK(v1 && strstr(object_of((void *)v1), shim ? "libpipellm" : "libcuda"));
    if (!v1) return;
    OK(v1("cuGetProcAddress", (void **)&proc_v2, 12050, 0));
    CHECK(proc_v2 && strstr(object_of((void *)proc_v2), shim ? "libpipellm" : "libcuda"));
    if (!proc_v2) return;
    /* the lookup's own answers: an unknown symbol, a version older than the function, the ABI per version */
    void *p = (void *)1;
    CUdriverProcAddressQueryResult st;
    CHECK(proc_v2("cuNoSuchFunction", &p, 13000, 0, &st) == CUDA_ERROR_NOT_FOUND && !p && st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    CHECK(proc_v2("cuLaunchHostFunc", &p, 9020, 0, &st) == CUDA_ERROR_NOT_FOUND && st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    CHECK(proc_v2("cuMemAlloc", NULL, 13000, 0, &st) == CUDA_ERROR_INVALID_VALUE);
    void *elapsed_old = NULL, *elapsed_new = NULL;
    OK(proc_v2("cuEventElapsedTime", &elapsed_old, 12000, 0, NULL));
    OK(proc_v2("cuEventElapsedTime", &elapsed_new, 12080, 0, NULL));
    CHECK(elapsed_old && elapsed_new && elapsed_old != elapsed_new);   /* cuEventElapsedTime, then _v2 */
#define F(field, name, hooked) f.field = fetch(name, hooked)
    F(init, "cuInit", 0); F(device_get, "cuDeviceGet", 0); F(device_count, "cuDeviceGetCount", 0);
    F(device_name, "cuDeviceGetName", 0); F(device_attr, "cuDeviceGetAttribute", 0); F(total_mem, "cuDeviceTotalMem", 0);
    F(primary_retain, "cuDevicePrimaryCtxRetain", 0); F(primary_release, "cuDevicePrimaryCtxRelease", 0);
    F(ctx_destroy, "cuCtxDestroy", 0); F(ctx_set, "cuCtxSetCurrent", 0); F(ctx_get, "cuCtxGetCurrent", 0);
    F(ctx_push, "cuCtxPushCurrent", 0); F(ctx_pop, "cuCtxPopCurrent", 0); F(ctx_sync, "cuCtxSynchronize", 1);
    F(mem_alloc, "cuMemAlloc", 1); F(mem_free, "cuMemFree", 1); F(alloc_host, "cuMemAllocHost", 1);
    F(free_host, "cuMemFreeHost", 1); F(htod, "cuMemcpyHtoD", 1); F(dtoh, "cuMemcpyDtoH", 1); F(dtod, "cuMemcpyDtoD", 1);
    F(htod_async, "cuMemcpyHtoDAsync", 1); F(dtoh_async, "cuMemcpyDtoHAsync", 1); F(copy, "cuMemcpy", 1);
    F(copy_async, "cuMemcpyAsync", 1); F(copy2d, "cuMemcpy2D", 1); F(copy2d_async, "cuMemcpy2DAsync", 1);
    F(memset8, "cuMemsetD8", 0); F(memset32_async, "cuMemsetD32Async", 0); F(stream_create, "cuStreamCreate", 0);
    F(stream_destroy, "cuStreamDestroy", 0); F(stream_sync, "cuStreamSynchronize", 1); F(stream_wait, "cuStreamWaitEvent", 1);
    F(host_func, "cuLaunchHostFunc", 0); F(event_create, "cuEventCreate", 0); F(event_record, "cuEventRecord", 1);
    F(event_sync, "cuEventSynchronize", 1); F(event_destroy, "cuEventDestroy", 0); F(error_string, "cuGetErrorString", 0);
    F(error_name, "cuGetErrorName", 0);
    /* cuCtxCreate at 12050 and later is CUDA 13's _v4 (another signature): the classic one by its version */
    void *create = NULL;
    OK(proc_v2("cuCtxCreate", &create, 12000, 0, NULL));
    f.ctx_create = (CUresult (*)(CUcontext *, unsigned, CUdevice))create;
    CHECK(create == (void *)cuCtxCreate_v2);
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 131 + seed + (i >> 11));
}

static volatile int host_fn_ran;
static unsigned char *host_fn_buf;
static void CUDA_CB host_fn(void *user) {
    /* in stream order: the DtoH before it has landed */
    host_fn_ran = host_fn_buf[0] == ((unsigned char *)user)[0] ? 1 : -1;
}

static void copies_in_every_shape(void) {
    size_t n = (3u << 20) + 4093;
    unsigned char *src = malloc(n), *back = malloc(n), *pinned = NULL;
    fill(src, n, 7);
    CUdeviceptr d = 0, d2 = 0;
    OK(f.mem_alloc(&d, n));
    OK(f.mem_alloc(&d2, n));
    /* synchronous, pageable */
    memset(back, 0, n);
    OK(f.htod(d, src, n));
    OK(f.dtod(d2, d, n));
    OK(f.dtoh(back, d2, n));
    CHECK(!memcmp(src, back, n));
    copies += 3;
    /* two streams: an H2D on s1, then a D2H on s2 after an event of s1 */
    CUstream s1 = NULL, s2 = NULL;
    CUevent ev = NULL;
    OK(f.stream_create(&s1, 0));
    OK(f.stream_create(&s2, CU_STREAM_NON_BLOCKING));
    OK(f.event_create(&ev, CU_EVENT_DISABLE_TIMING));
    OK(f.alloc_host((void **)&pinned, n));
    fill(src, n, 99);
    memcpy(pinned, src, n);
    memset(back, 0, n);
    OK(f.htod_async(d, pinned, n, s1));
    OK(f.event_record(ev, s1));
    OK(f.stream_wait(s2, ev, 0));
    OK(f.dtoh_async(back, d, n, s2));
    host_fn_buf = back;
    OK(f.host_func(s2, host_fn, src));
    OK(f.stream_sync(s2));
    OK(f.event_sync(ev));
    CHECK(!memcmp(src, back, n) && host_fn_ran == 1);
    copies += 2;
    /* unified: cuMemcpy and cuMemcpyAsync take the direction from the pointers */
    fill(src, n, 3);
    memset(back, 0, n);
    OK(f.copy(d2, (CUdeviceptr)(uintptr_t)src, n));
    OK(f.copy_async((CUdeviceptr)(uintptr_t)back, d2, n, s1));
    OK(f.stream_sync(s1));
    CHECK(!memcmp(src, back, n));
    copies += 2;
    /* 2D with offsets: a 300 x 1000 window at (x 24, y 5) of a host image with pitch 1500, into
     * device rows of pitch 1024 at (x 8, y 2), and back */
    size_t w = 1000, h = 300, hp = 1500, dp = 1024;
    CUDA_MEMCPY2D up = {0}, down = {0};
    up.srcMemoryType = CU_MEMORYTYPE_HOST, up.srcHost = src, up.srcPitch = hp, up.srcXInBytes = 24, up.srcY = 5;
    up.dstMemoryType = CU_MEMORYTYPE_DEVICE, up.dstDevice = d, up.dstPitch = dp, up.dstXInBytes = 8, up.dstY = 2;
    up.WidthInBytes = w, up.Height = h;
    down.srcMemoryType = CU_MEMORYTYPE_DEVICE, down.srcDevice = d, down.srcPitch = dp, down.srcXInBytes = 8, down.srcY = 2;
    down.dstMemoryType = CU_MEMORYTYPE_HOST, down.dstHost = back, down.dstPitch = w;
    down.WidthInBytes = w, down.Height = h;
    memset(back, 0, n);
    OK(f.copy2d(&up));
    OK(f.copy2d_async(&down, s1));
    OK(f.stream_sync(s1));
    int rows_ok = 1;
    for (size_t r = 0; r < h; r++) rows_ok &= !memcmp(back + r * w, src + (r + 5) * hp + 24, w);
    CHECK(rows_ok);
    copies += 2;
    CUDA_MEMCPY2D bad = up;
    bad.srcMemoryType = CU_MEMORYTYPE_ARRAY;
    CHECK(f.copy2d(&bad) == CUDA_ERROR_INVALID_VALUE);
    bad = up;
    bad.dstPitch = w - 1;
    CHECK(f.copy2d(&bad) == CUDA_ERROR_INVALID_VALUE);
    copies++;
    /* memsets, then back */
    OK(f.memset8(d, 0xa5, n));
    OK(f.memset32_async(d2, 0x01020304u, n / 4, s1));
    OK(f.stream_sync(s1));
    OK(f.dtoh(back, d, n));
    int set_ok = 1;
    for (size_t i = 0; i < n; i++) set_ok &= back[i] == 0xa5;
    OK(f.dtoh(back, d2, n / 4 * 4));
    for (size_t i = 0; i < n / 4 * 4; i += 4) set_ok &= back[i] == 4 && back[i + 1] == 3 && back[i + 2] == 2 && back[i + 3] == 1;
    CHECK(set_ok);
    copies += 2;
    CHECK(f.memset32_async(d + 1, 0, 4, s1) == CUDA_ERROR_INVALID_VALUE);   /* misaligned */
    /* a device range that is not allocated */
    CHECK(f.htod(d + n - 10, src, 11) == CUDA_ERROR_INVALID_VALUE);
    copies++;
    CHECK(f.stream_sync((CUstream)(uintptr_t)0xdead0) == CUDA_ERROR_INVALID_HANDLE);
    OK(f.event_destroy(ev));
    OK(f.stream_destroy(s1));
    OK(f.stream_destroy(s2));
    OK(f.free_host(pinned));
    OK(f.mem_free(d));
    OK(f.mem_free(d2));
    OK(f.ctx_sync());
    free(src);
    free(back);
}

int main(int argc, char **argv) {
    int use_procs = argc > 1 && !strcmp(argv[1], "procs");
    shim = getenv("PROG_DRIVER_SHIM") && !strcmp(getenv("PROG_DRIVER_SHIM"), "1");
    /* before cuInit */
    CUdevice dev = -1;
    CHECK(cuDeviceGet(&dev, 0) == CUDA_ERROR_NOT_INITIALIZED);
    CUdeviceptr none;
    CHECK(cuMemAlloc_v2(&none, 16) == CUDA_ERROR_NOT_INITIALIZED);
    if (use_procs) procs();
    else direct();
    if (failures || !f.init) {
        printf("copies 0\n");
        return failures ? failures : 1;
    }
    CHECK(f.init(1) == CUDA_ERROR_INVALID_VALUE);
    OK(f.init(0));
    int count = 0;
    OK(f.device_count(&count));
    CHECK(count == 1);
    CHECK(f.device_get(&dev, 1) == CUDA_ERROR_INVALID_DEVICE);
    OK(f.device_get(&dev, 0));
    char name[64];
    OK(f.device_name(name, sizeof name, dev));
    CHECK(!strncmp(name, "NVIDIA H100", 11));
    int major = 0, sms = 0;
    OK(f.device_attr(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    OK(f.device_attr(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    CHECK(major == 9 && sms == 132);
    CHECK(f.device_attr(&major, CU_DEVICE_ATTRIBUTE_MAX, dev) == CUDA_ERROR_INVALID_VALUE);
    size_t total = 0;
    OK(f.total_mem(&total, dev));
    CHECK(total > (79ull << 30));
    /* no context yet */
    CUcontext cur = (CUcontext)1;
    OK(f.ctx_get(&cur));
    CHECK(cur == NULL);
    CHECK(f.mem_alloc(&none, 16) == CUDA_ERROR_INVALID_CONTEXT);
    /* an explicit context: current on creation, popped, pushed, destroyed */
    CUcontext mine = NULL, popped = NULL;
    OK(f.ctx_create(&mine, 0, dev));
    OK(f.ctx_get(&cur));
    CHECK(cur == mine);
    copies_in_every_shape();
    OK(f.ctx_pop(&popped));
    CHECK(popped == mine);
    CHECK(f.ctx_pop(&popped) == CUDA_ERROR_INVALID_CONTEXT);
    OK(f.ctx_push(mine));
    OK(f.ctx_destroy(mine));
    OK(f.ctx_get(&cur));
    CHECK(cur == NULL);
    CHECK(f.ctx_push(mine) == CUDA_ERROR_CONTEXT_IS_DESTROYED);
    /* the primary context, made current as a runtime would */
    CUcontext primary = NULL;
    OK(f.primary_retain(&primary, dev));
    OK(f.ctx_set(primary));
    copies_in_every_shape();
    OK(f.primary_release(dev));
    const char *s = NULL;
    OK(f.error_string(CUDA_ERROR_INVALID_CONTEXT, &s));
    CHECK(s && !strcmp(s, "invalid device context"));
    OK(f.error_name(CUDA_ERROR_NOT_FOUND, &s));
    CHECK(s && !strcmp(s, "CUDA_ERROR_NOT_FOUND"));
    CHECK(f.error_string((CUresult)12345, &s) == CUDA_ERROR_INVALID_VALUE && s == NULL);
    printf("copies %d\n", copies);
    if (!failures) printf("driver: ok\n");
    return failures;
}
