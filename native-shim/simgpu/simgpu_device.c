/* The simulated device and its context: lazy initialisation, device queries, reset. */
#include "simgpu_internal.h"

#include <stdlib.h>
#include <string.h>

simgpu_global g = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .cc_mu = PTHREAD_MUTEX_INITIALIZER,
    .cc_cv = PTHREAD_COND_INITIALIZER,
    .cfg = {.log_level = SIMGPU_LOG_ERROR},
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static __thread int current_device;
static int forked_child;

/* A child forked after CUDA started has none of the parent's threads: like the real runtime, it
 * cannot use the inherited context, and says so instead of hanging. */
static void after_fork_in_child(void) {
    forked_child = 1;
    simgpu_exit_after_fork();
}

static int init_parts(void) {
    if (simgpu_config_load(&g.cfg)) return -1;
    if (simgpu_memory_init(g.cfg.memory_bytes) || simgpu_streams_init() || (g.cfg.cc_on && simgpu_cc_init())) {
        simgpu_log(SIMGPU_LOG_ERROR, "initialisation failed; every CUDA call returns cudaErrorInitializationError");
        return -1;
    }
    /* After the CC init: its first use of the public libcrypto registered that library's exit-time
     * cleanup, and simgpu's exit handler must be registered after it to run before it. */
    simgpu_exit_init();
    pthread_atfork(NULL, NULL, after_fork_in_child);
    return 0;
}

static void init(void) {
    g.init_failed = init_parts() != 0;
    simgpu_exit_init_finished();
    if (g.init_failed) return;
    simgpu_log(SIMGPU_LOG_INFO, "simulated H100, CC %s, PCIe %.1f GB/s, chunk %llu B, verify %s",
               g.cfg.cc_on ? "on" : "off", g.cfg.pcie_gbps, (unsigned long long)g.cfg.chunk_bytes,
               g.cfg.verify_every == 1 ? "full" : "sampled");
}

/* Like the real runtime, the first call initialises device 0 implicitly: cudaSetDevice is optional. */
__thread int simgpu_in_driver, simgpu_runtime_used;

cudaError_t simgpu_enter(void) {
    if (!simgpu_in_driver) simgpu_runtime_used = 1;
    if (simgpu_exiting()) return simgpu_exit_refuse();
    pthread_once(&init_once, init);
    if (g.init_failed) return cudaErrorInitializationError;
    if (forked_child) {
        static int reported;
        if (!reported++)
            simgpu_log(SIMGPU_LOG_ERROR, "this process was forked after CUDA was initialised in its parent; "
                       "the context cannot be used here (cudaErrorInitializationError)");
        return cudaErrorInitializationError;
    }
    return simgpu_poisoned();
}

SIMGPU_API cudaError_t cudaGetDeviceCount(int *count) {
    pthread_once(&init_once, init);
    if (!count) return simgpu_ret(cudaErrorInvalidValue);
    if (g.init_failed) {
        *count = 0;
        return simgpu_ret(cudaErrorInitializationError);
    }
    *count = 1;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaSetDevice(int device) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (device != 0) return simgpu_ret(cudaErrorInvalidDevice);
    current_device = device;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaGetDevice(int *device) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!device) return simgpu_ret(cudaErrorInvalidValue);
    *device = current_device;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaDriverGetVersion(int *v) {
    if (!v) return simgpu_ret(cudaErrorInvalidValue);
    *v = 13000;   /* an R580 driver: CUDA 13.0 */
    return cudaSuccess;
}

cudaError_t simgpu_runtime_version(int *v, int version) {
    if (!v) return simgpu_ret(cudaErrorInvalidValue);
    *v = version;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaDeviceReset(void) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    /* Waits for the device, then destroys everything the context owned; stale handles and
     * pointers are rejected afterwards. A poisoned context stays poisoned (sticky). */
    simgpu_streams_reset();
    simgpu_memory_reset();
    if (g.cfg.cc_on) simgpu_cc_reset();
    return cudaSuccess;
}

SIMGPU_API int simgpuCcEnabled(void) {
    pthread_once(&init_once, init);
    return !g.init_failed && g.cfg.cc_on;
}
