/*
 * A CUDA program run under LD_PRELOAD=libpipellm.so by shim_e2e_test.py: byte-exact round trips
 * of many sizes (1D and 2D, sync and async) on simgpu. Prints "copies N" (the copy calls it made)
 * and exits 0 when every byte came back. Variants, by environment:
 *   EXPECT_REFUSAL=1     expects its first copy to be refused with cudaErrorNotPermitted
 *   PROG_SHIM_ONLY_2D=1  only the 2D round trip (one EVP update per row in each message)
 *   PROG_SHIM_THREADS=N  also N short-lived threads, a few at a time, each making one round trip
 *                        (the driver's per-thread EVP context is freed as each thread exits)
 *   PROG_SHIM_SLEEP=S    sleeps S seconds after the copies (a server that is then stopped)
 */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic long copies;

static int round_trip(size_t n, cudaStream_t s) {
    char *src = malloc(n + 1), *dst = calloc(1, n + 1);
    void *d = NULL;
    for (size_t i = 0; i < n; i++) src[i] = (char)(i * 13 + n);
    int ok = cudaMalloc(&d, n + 1) == cudaSuccess;
    if (s) {
        ok = ok && cudaMemcpyAsync(d, src, n, cudaMemcpyHostToDevice, s) == cudaSuccess;
        ok = ok && cudaMemcpyAsync(dst, d, n, cudaMemcpyDeviceToHost, s) == cudaSuccess;
        ok = ok && cudaStreamSynchronize(s) == cudaSuccess;
    } else {
        ok = ok && cudaMemcpy(d, src, n, cudaMemcpyHostToDevice) == cudaSuccess;
        ok = ok && cudaMemcpy(dst, d, n, cudaMemcpyDeviceToHost) == cudaSuccess;
    }
    copies += 2;
    ok = ok && memcmp(src, dst, n) == 0;
    if (!ok) fprintf(stderr, "prog_shim: round trip of %zu bytes failed\n", n);
    cudaFree(d);
    free(src);
    free(dst);
    return ok;
}

static int round_trip_2d(void) {
    size_t w = 70000, h = 9, pitch = 70016;
    char *src = malloc(pitch * h), *back = calloc(1, pitch * h), *d = NULL;
    for (size_t i = 0; i < pitch * h; i++) src[i] = (char)(i * 7);
    int ok = cudaMalloc((void **)&d, pitch * h) == cudaSuccess;
    ok &= cudaMemcpy2D(d, pitch, src, pitch, w, h, cudaMemcpyHostToDevice) == cudaSuccess;
    ok &= cudaMemcpy2D(back, pitch, d, pitch, w, h, cudaMemcpyDeviceToHost) == cudaSuccess;
    copies += 2;
    for (size_t r = 0; r < h; r++) ok &= memcmp(src + r * pitch, back + r * pitch, w) == 0;
    if (!ok) fprintf(stderr, "prog_shim: 2D round trip failed\n");
    cudaFree(d);
    free(src);
    free(back);
    return ok;
}

static _Atomic int thread_failures;

static void *one_round_trip(void *arg) {
    if (!round_trip((size_t)(uintptr_t)arg, NULL)) thread_failures++;
    return NULL;
}

/* n threads, 8 at a time: each one's EVP context dies with it. */
static int short_lived_threads(long n) {
    for (long done = 0; done < n;) {
        pthread_t t[8];
        int k = 0;
        for (; k < 8 && done < n; k++, done++)
            if (pthread_create(&t[k], NULL, one_round_trip, (void *)(uintptr_t)(4096 + done % 3))) return 0;
        for (int i = 0; i < k; i++) pthread_join(t[i], NULL);
    }
    return thread_failures == 0;
}

static int finish(int ok) {
    printf("copies %ld\n", (long)copies);
    printf("round trips: %s\n", ok ? "ok" : "FAILED");
    fflush(stdout);
    if (getenv("PROG_SHIM_SLEEP")) sleep((unsigned)atoi(getenv("PROG_SHIM_SLEEP")));
    return ok ? 0 : 1;
}

int main(void) {
    if (getenv("PROG_SHIM_ONLY_2D")) return finish(round_trip_2d());
    if (getenv("EXPECT_REFUSAL")) {
        char b[16] = {0};
        void *d = NULL;
        if (cudaMalloc(&d, 16) != cudaSuccess) return 2;
        cudaError_t e = cudaMemcpy(d, b, 16, cudaMemcpyHostToDevice);
        printf("refused: %s\n", cudaGetErrorName(e));
        return e == cudaErrorNotPermitted ? 0 : 1;
    }
    size_t sizes[] = {1, 15, 16, 17, 4096, 65535, 65536, 65537, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, 3u << 20};
    int ok = 1;
    cudaStream_t s;
    if (cudaStreamCreate(&s) != cudaSuccess) return 2;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ok &= round_trip(sizes[i], NULL);
        ok &= round_trip(sizes[i], s);
    }
    ok &= round_trip_2d();   /* rows gathered into each message */
    cudaStreamDestroy(s);
    if (getenv("PROG_SHIM_THREADS")) ok &= short_lived_threads(atol(getenv("PROG_SHIM_THREADS")));
    return finish(ok);
}
