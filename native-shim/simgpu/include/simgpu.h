/*
 * simgpu.h: extensions of simgpu, the simulated H100 (with confidential computing) that stands in
 * for libcudart.so.12 / libcudart.so.13. Programs call these to model GPU work simgpu cannot run
 * (it has no kernels) and to read its statistics. Resolve them with dlsym when the same binary must
 * also run on a real GPU: a real libcudart does not export them.
 */
#ifndef SIMGPU_H
#define SIMGPU_H

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Counters since process start; the same keys as the SIMGPU_STATS JSON file. */
typedef struct simgpuStats {
    unsigned long long h2d_copies, d2h_copies, d2d_copies;
    unsigned long long h2d_bytes, d2h_bytes, d2d_bytes;
    unsigned long long h2d_messages, d2h_messages;        /* CC GCM messages, one IV each */
    unsigned long long verified_messages, unverified_messages;
    unsigned long long tag_failures, key_rotations, iv_rotations;
    unsigned long long bounce_waits;                     /* times the driver waited for a bounce slot */
    unsigned long long compute_ns;                       /* modelled compute submitted */
    /* Real time (CLOCK_MONOTONIC) the calling threads spent in the driver's EVP calls, init to tag,
     * of H2D (encrypt) and D2H (decrypt) messages: "app thread time inside EVP". */
    unsigned long long h2d_driver_crypto_ns, d2h_driver_crypto_ns;
    /* H2D channels opened and closed (keys zeroed): one per context (and per cudaDeviceReset), or
     * one per stream that made an H2D copy with SIMGPU_H2D_CHANNELS=per-stream. */
    unsigned long long h2d_channels_opened, h2d_channels_closed;
} simgpuStats;

/* Enqueues `ns` nanoseconds of modelled compute on `stream` (in stream order, like a kernel). */
cudaError_t simgpuStreamCompute(cudaStream_t stream, unsigned long long ns);

/* Copies the current counters into *out. */
cudaError_t simgpuGetStats(simgpuStats *out);

/* 1 when confidential computing is on (SIMGPU_CC=on), 0 when off. */
int simgpuCcEnabled(void);

#ifdef __cplusplus
}
#endif
#endif
