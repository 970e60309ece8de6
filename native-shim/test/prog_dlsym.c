/*
 * A host that finds the CUDA runtime only through dlopen(RTLD_LOCAL) and dlsym/dlvsym, as
 * frameworks with their own loader do (it links no libcudart). Under libpipellm.so
 * (PROG_DLSYM_SHIM=1) a hooked name looked up in the libcudart handle must be the shim's wrapper,
 * anything else the real answer: an unhooked name, a name missing from the library, OpenSSL's
 * functions, dlsym(RTLD_NEXT) from the program (the next object after it: the preloaded shim, which
 * shows the lookup kept the program's place), and the same answers from 8 threads at once. Then a
 * round trip through the pointers (plain, async, 2D), byte-exact. Prints "copies N" and
 * "dlsym: ok"; exit status = failures.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog_check.h"


static int in(void *p, const char *lib) { return strstr(object_of(p), lib) != NULL; }

static void *rt;
static int shim;

static void *lookups(void *arg) {
    int *bad = arg;
    for (int i = 0; i < 20000; i++) {
        void *m = dlsym(rt, "cudaMemcpy"), *c = dlsym(rt, "cudaGetDeviceCount");
        if (!in(m, shim ? "libpipellm" : "libcudart") || !in(c, "libcudart")) (*bad)++;
    }
    return NULL;
}

int main(void) {
    shim = getenv("PROG_DLSYM_SHIM") && !strcmp(getenv("PROG_DLSYM_SHIM"), "1");
    const char *wrapper = shim ? "libpipellm" : "libcudart";
    rt = dlopen("libcudart.so.13", RTLD_NOW | RTLD_LOCAL);
    CHECK(rt != NULL);
    if (!rt) return 1;

    typedef cudaError_t (*memcpy_fn)(void *, const void *, size_t, enum cudaMemcpyKind);
    typedef cudaError_t (*memcpy_async_fn)(void *, const void *, size_t, enum cudaMemcpyKind, cudaStream_t);
    typedef cudaError_t (*memcpy2d_fn)(void *, size_t, const void *, size_t, size_t, size_t, enum cudaMemcpyKind);
    typedef cudaError_t (*malloc_fn)(void **, size_t);
    typedef cudaError_t (*free_fn)(void *);
    typedef cudaError_t (*sync_fn)(cudaStream_t);
    typedef cudaError_t (*count_fn)(int *);
    memcpy_fn cp = (memcpy_fn)dlsym(rt, "cudaMemcpy");
    memcpy_async_fn cpa = (memcpy_async_fn)dlvsym(rt, "cudaMemcpyAsync", "libcudart.so.13");
    memcpy2d_fn cp2 = (memcpy2d_fn)dlsym(rt, "cudaMemcpy2D");
    malloc_fn mal = (malloc_fn)dlsym(rt, "cudaMalloc");
    free_fn fr = (free_fn)dlsym(rt, "cudaFree");
    sync_fn sync = (sync_fn)dlsym(rt, "cudaStreamSynchronize");
    count_fn count = (count_fn)dlsym(rt, "cudaGetDeviceCount");
    CHECK(in((void *)cp, wrapper) && in((void *)cpa, wrapper) && in((void *)cp2, wrapper));
    CHECK(in((void *)mal, wrapper) && in((void *)fr, wrapper) && in((void *)sync, wrapper));
    CHECK(in((void *)count, "libcudart"));                         /* not hooked: the real one */
    CHECK(dlvsym(rt, "cudaMemcpy", "no-such-version") == NULL);    /* the real answer, NULL */
    CHECK(dlsym(rt, "cudaNoSuchFunction") == NULL && dlerror() != NULL);
    /* OpenSSL through its own handle: untouched (the EVP hooks work by caller, not by lookup) */
    void *crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    CHECK(crypto && in(dlsym(crypto, "EVP_EncryptInit_ex"), "libcrypto"));
    /* RTLD_NEXT from the program: the next definition after it, the preloaded shim's if any */
    void *next = dlsym(RTLD_NEXT, "cudaMemcpy");
    CHECK(shim ? in(next, "libpipellm") : next == NULL);
    CHECK(in(dlsym(RTLD_DEFAULT, "printf"), "libc.so"));
    int dev = 0;
    CHECK(count && count(&dev) == cudaSuccess && dev == 1);

    pthread_t t[8];
    int bad[8] = {0};
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, lookups, &bad[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK(bad[i] == 0);
    }

    int copies = 0;
    if (cp && cpa && cp2 && mal && fr && sync) {
        size_t n = (2u << 20) + 77;
        unsigned char *src = malloc(n), *back = malloc(n);
        for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 13 + (i >> 9));
        void *d = NULL;
        CHECK(mal(&d, n) == cudaSuccess);
        memset(back, 0, n);
        CHECK(cp(d, src, n, cudaMemcpyHostToDevice) == cudaSuccess && cp(back, d, n, cudaMemcpyDeviceToHost) == cudaSuccess);
        CHECK(!memcmp(src, back, n));
        memset(back, 0, n);
        CHECK(cpa(d, src, n, cudaMemcpyHostToDevice, NULL) == cudaSuccess);
        CHECK(cpa(back, d, n, cudaMemcpyDeviceToHost, NULL) == cudaSuccess && sync(NULL) == cudaSuccess);
        CHECK(!memcmp(src, back, n));
        memset(back, 0, n);
        CHECK(cp2(d, 4096, src, 4096, 4000, 300, cudaMemcpyHostToDevice) == cudaSuccess);
        CHECK(cp2(back, 4096, d, 4096, 4000, 300, cudaMemcpyDeviceToHost) == cudaSuccess);
        for (size_t r = 0; r < 300; r++) CHECK(!memcmp(src + r * 4096, back + r * 4096, 4000));
        CHECK(fr(d) == cudaSuccess);
        copies = 6;
        free(src);
        free(back);
    }
    printf("copies %d\n", copies);
    if (!failures) printf("dlsym: ok\n");
    return failures;
}
