/*
 * Weight streaming with unpredictable small copies, for the pipeline's NOP padding
 * (pipeline_nop_test.py): each cycle copies LAYERS pinned layers H2D in the same order, and, before
 * one layer picked at random, one small fresh copy (new bytes every time) that no predictor can
 * foresee. The IV slack policy then leaves spare IVs before predicted copies, and each copy whose
 * spare IV no small copy took needs a NOP to reach its slot. At the end every layer and the last
 * small copy are read back and compared.
 *
 * SEED 0: no small copies (steady weight streaming). WARM (environment PROG_WEIGHTS_WARM_UP_FAST=F):
 * first stream until the agent's statistics show F fast-path messages (agent_stats.h, at most 60 s)
 * and for at least PROG_WEIGHTS_WARM_UP_S seconds (default 0: the agent's governor decides in its
 * first windows whether pre-encryption pays here),
 * then run the CYCLES measured cycles and print "weights measured fast=X h2d=Y nop=Z" for them alone.
 *
 * Usage: prog_weights LAYERS LAYER_BYTES CYCLES SEED [COMPUTE_US]: COMPUTE_US of modelled compute
 * per layer (simgpu's simgpuStreamCompute, looked up at run time) after each layer's copy, waited for
 * at the end of each cycle, as an inference step would. Prints "weights ok messages=N" and exits 0;
 * exits 1 on a wrong byte, 2 on a CUDA error.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_stats.h"

#define CK(x)                                                                               \
    do {                                                                                    \
        cudaError_t e_ = (x);                                                               \
        if (e_ != cudaSuccess) {                                                            \
            fprintf(stderr, "prog_weights: %s failed: %s\n", #x, cudaGetErrorString(e_));   \
            exit(2);                                                                        \
        }                                                                                   \
    } while (0)

static unsigned long long rng;
static unsigned next_rand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(rng >> 33);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: prog_weights LAYERS LAYER_BYTES CYCLES SEED [COMPUTE_US]\n");
        return 2;
    }
    unsigned long long compute_ns = argc == 6 ? strtoull(argv[5], NULL, 0) * 1000ull : 0;
    cudaError_t (*compute)(cudaStream_t, unsigned long long) = NULL;
    *(void **)&compute = dlsym(RTLD_DEFAULT, "simgpuStreamCompute");
    if (compute_ns && !compute) {
        fprintf(stderr, "prog_weights: COMPUTE_US needs simgpu (simgpuStreamCompute)\n");
        return 2;
    }
    int layers = atoi(argv[1]), cycles = atoi(argv[3]);
    size_t bytes = strtoull(argv[2], NULL, 0);
    rng = strtoull(argv[4], NULL, 0);
    int steady = rng == 0;
    if (layers < 2 || bytes < 64 || cycles < 1) return 2;
    char **host = calloc((size_t)layers, sizeof *host), *dev, *small_dev, *small, *back = malloc(bytes);
    CK(cudaMalloc((void **)&dev, bytes * (size_t)layers));
    CK(cudaMalloc((void **)&small_dev, 64));
    CK(cudaMallocHost((void **)&small, 64));
    for (int l = 0; l < layers; l++) {
        CK(cudaMallocHost((void **)&host[l], bytes));
        for (size_t i = 0; i < bytes; i++) host[l][i] = (char)(next_rand() >> 7);
    }
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    long messages = 0;
    const char *warm = getenv("PROG_WEIGHTS_WARM_UP_FAST");
    long warm_fast = warm ? atol(warm) : -1, fast0 = 0, h2d0 = 0, nop0 = 0;
    const char *warm_s = getenv("PROG_WEIGHTS_WARM_UP_S");
    long warm_min_s = warm_s ? atol(warm_s) : 0;
    for (int phase = warm_fast >= 0 ? 0 : 1; phase < 2; phase++) {
        time_t t0 = time(NULL);
        for (int c = 0; phase == 1 ? c < cycles
                        : (agent_stat("fast_path_messages") < warm_fast || time(NULL) - t0 < warm_min_s) && time(NULL) - t0 < 60;
             c++) {
            int before = steady ? -1 : (int)(next_rand() % (unsigned)layers);
            for (int l = 0; l < layers; l++) {
                if (l == before) {
                    for (int i = 0; i < 64; i++) small[i] = (char)next_rand();
                    CK(cudaMemcpyAsync(small_dev, small, 64, cudaMemcpyHostToDevice, s));
                    messages++;
                }
                CK(cudaMemcpyAsync(dev + (size_t)l * bytes, host[l], bytes, cudaMemcpyHostToDevice, s));
                messages += (long)((bytes + (1u << 20) - 1) >> 20);
                if (compute_ns) CK(compute(s, compute_ns));
            }
            CK(cudaStreamSynchronize(s));
        }
        if (warm_fast >= 0) {
            agent_stats_settle();
            long fast = agent_stat("fast_path_messages"), h2d = agent_stat("h2d_messages"), nop = agent_stat("nop_messages");
            if (phase == 0) {
                fast0 = fast, h2d0 = h2d, nop0 = nop;
            } else {
                printf("weights measured fast=%ld h2d=%ld nop=%ld\n", fast - fast0, h2d - h2d0, nop - nop0);
            }
        }
    }
    for (int l = 0; l < layers; l++) {
        CK(cudaMemcpy(back, dev + (size_t)l * bytes, bytes, cudaMemcpyDeviceToHost));
        if (memcmp(back, host[l], bytes)) {
            fprintf(stderr, "prog_weights: layer %d differs on the device\n", l);
            return 1;
        }
    }
    CK(cudaMemcpy(back, small_dev, 64, cudaMemcpyDeviceToHost));
    if (!steady && memcmp(back, small, 64)) {
        fprintf(stderr, "prog_weights: the last small copy differs on the device\n");
        return 1;
    }
    printf("weights ok messages=%ld\n", messages);
    return 0;
}
