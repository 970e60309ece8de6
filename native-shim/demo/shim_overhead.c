/*
 * shim_overhead: what libpipellm.so adds per intercepted call, and what starting the agent costs.
 * Calls cudaMemcpy with 0 bytes (the runtime validates its arguments and returns: the cheapest real
 * copy call) and cudaStreamSynchronize on an idle stream, N times each, and prints ns per call.
 * The first cudaMalloc starts the agent when preloaded: its time and the resident memory it adds
 * are printed too. Run it with and without LD_PRELOAD (./pipellm bench shim does all three).
 * Output: "<label> <value>" lines.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    int devices = 0;
    cudaGetDeviceCount(&devices);   /* initialises the runtime outside the measured start-up */
    long rss0 = rss_kb();
    double t0 = now_ns();
    void *d = NULL;
    if (cudaMalloc(&d, 64) != cudaSuccess) return 1;   /* first intercepted call: starts the agent */
    double start_ms = (now_ns() - t0) / 1e6;
    long rss1 = rss_kb();
    char host[64];
    cudaStream_t s;
    cudaStreamCreate(&s);
    for (int round = 0; round < 2; round++) {   /* round 0 warms up (JIT of the upcall targets) */
        double a = now_ns();
        for (long i = 0; i < n; i++) cudaMemcpy(d, host, 0, cudaMemcpyHostToDevice);
        double b = now_ns();
        for (long i = 0; i < n; i++) cudaStreamSynchronize(s);
        double c = now_ns();
        if (round == 1) {
            printf("memcpy_0B_ns %.1f\n", (b - a) / (double)n);
            printf("stream_sync_ns %.1f\n", (c - b) / (double)n);
        }
    }
    printf("first_call_ms %.1f\n", start_ms);
    printf("rss_added_mb %.1f\n", (double)(rss1 - rss0) / 1024.0);
    cudaFree(d);
    return 0;
}
