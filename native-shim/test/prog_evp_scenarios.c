/*
 * Runs evp_scenarios.c's AES-256-GCM scenarios from the library named in argv[1] (the host's own
 * crypto, or the same code under a driver library's name) with a CUDA round trip before the first
 * and after each, so the driver's own messages are in flight around them (and the agent starts).
 * Prints one line per scenario and "copies ok"; the exit status counts the failures.
 */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_failures;

static void round_trip(void) {
    size_t n = (3u << 20) + 7;
    static char src[(3u << 20) + 7], back[(3u << 20) + 7];
    static int round;
    void *d = NULL;
    round++;
    for (size_t i = 0; i < n; i++) src[i] = (char)(i * 5 + round);
    int ok = cudaMalloc(&d, n) == cudaSuccess && cudaMemcpy(d, src, n, cudaMemcpyHostToDevice) == cudaSuccess
             && cudaMemcpy(back, d, n, cudaMemcpyDeviceToHost) == cudaSuccess && !memcmp(src, back, n);
    if (d) cudaFree(d);
    copy_failures += !ok;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: prog_evp_scenarios LIBRARY\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    int (*run)(FILE *, void (*)(void)) = lib ? (int (*)(FILE *, void (*)(void)))dlsym(lib, "evp_scenarios_run") : NULL;
    if (!run) {
        fprintf(stderr, "prog_evp_scenarios: %s\n", dlerror());
        return 2;
    }
    round_trip();
    int failed = run(stdout, round_trip);
    printf("copies %s\n", copy_failures ? "FAILED" : "ok");
    return failed + copy_failures;
}
