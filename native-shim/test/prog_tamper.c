/*
 * Scenario program for the tampering interposers (tamper_evp.c). Usage: prog_tamper h2d|d2h|count.
 * Exits 0 when simgpu behaved: tampering fails loudly, poisons the context and never delivers
 * different bytes; with the counting interposer, only the driver's EVP calls are visible.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdint.h>

#include "simgpu.h"
#include "test_runner.h"

#define CHUNK 65536u   /* ctest sets SIMGPU_CC_CHUNK_BYTES to this */
#define N (6 * CHUNK)

typedef void (*counts_fn)(long out[8], int *acted);

static char src[N], dst[N];

static int interposer_acted(long counts[8]) {
    counts_fn f = (counts_fn)dlsym(RTLD_DEFAULT, "tamper_counts");
    int acted = 0;
    if (!f) {
        fprintf(stderr, "prog_tamper: no interposer preloaded\n");
        return -1;
    }
    f(counts, &acted);
    return acted;
}

static void prepare(char **d) {
    for (size_t i = 0; i < N; i++) src[i] = (char)(i * 17 + 5);
    REQUIRE(cudaMalloc((void **)d, N) == cudaSuccess);
    REQUIRE(cudaMemset(*d, 0xAB, N) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
}

TEST_CASE(h2d) {
    char *d;
    prepare(&d);
    CHECK_EQ(cudaMemcpy(d, src, N, cudaMemcpyHostToDevice), cudaErrorLaunchFailure);
    long counts[8];
    CHECK_EQ(interposer_acted(counts), 1);
    /* Device memory holds whole authenticated messages before the bad one, nothing else. */
    size_t delivered = 0;
    while (delivered < N && d[delivered] == src[delivered]) delivered++;
    CHECK(delivered % CHUNK == 0);
    CHECK(delivered < N);
    for (size_t i = delivered; i < N; i++)
        if ((unsigned char)d[i] != 0xAB) {
            fprintf(stderr, "  byte %zu reached device memory unauthenticated\n", i);
            CHECK(0);
            break;
        }
    /* Sticky: every later call fails with the same code. */
    void *x;
    CHECK_EQ(cudaMalloc(&x, 16), cudaErrorLaunchFailure);
    CHECK_EQ(cudaMemcpy(dst, d, 16, cudaMemcpyDeviceToHost), cudaErrorLaunchFailure);
    CHECK_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
    CHECK_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
    simgpuStats st;
    simgpuGetStats(&st);
    CHECK_EQ(st.tag_failures, 1);
}

TEST_CASE(d2h) {
    char *d;
    prepare(&d);
    REQUIRE(cudaMemcpy(d, src, N, cudaMemcpyHostToDevice) == cudaSuccess);
    memset(dst, 0xCD, N);
    CHECK_EQ(cudaMemcpy(dst, d, N, cudaMemcpyDeviceToHost), cudaErrorLaunchFailure);
    long counts[8];
    CHECK_EQ(interposer_acted(counts), 1);
    for (size_t i = 0; i < CHUNK; i++)               /* the failed message leaves no plaintext */
        if (dst[i] != 0) { CHECK(0); break; }
    for (size_t i = CHUNK; i < N; i++)               /* later messages were never decrypted */
        if ((unsigned char)dst[i] != 0xCD) { CHECK(0); break; }
    CHECK_EQ(cudaMemcpy(dst, d, 16, cudaMemcpyDeviceToHost), cudaErrorLaunchFailure);
    CHECK_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
}

TEST_CASE(count) {
    char *d;
    prepare(&d);
    char one = 1;
    REQUIRE(cudaMemcpy(d, src, N, cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(d, &one, 1, cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(dst, d, N, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(dst[0] == 1 && !memcmp(dst + 1, src + 1, N - 1));
    long c[8];
    CHECK_EQ(interposer_acted(c), 0);
    simgpuStats st;
    simgpuGetStats(&st);
    CHECK_EQ(st.h2d_messages, 7);
    CHECK_EQ(st.d2h_messages, 6);
    /* The driver's EVP calls go through the dynamic linker, one set per message... */
    CHECK_EQ(c[0], 7); CHECK_EQ(c[1], 7); CHECK_EQ(c[2], 7); CHECK_EQ(c[3], 7);
    CHECK_EQ(c[4], 6); CHECK_EQ(c[5], 6); CHECK_EQ(c[6], 6); CHECK_EQ(c[7], 6);
    /* ...while the copy engine's own decrypts (7) and encrypts (6) stayed invisible. */
    CHECK_EQ(st.verified_messages, 13);
}

TEST_MAIN()
