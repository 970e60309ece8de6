/*
 * prog_exit_in_flight VARIANT DIR EXIT_CODE [THREADS]: the process ends while other threads are in
 * the middle of CC copies. It must end with EXIT_CODE and print nothing at all: no crash in a copy
 * engine thread, no message from simgpu, no fatal-error report of a JVM the shim started.
 *
 *   VARIANT  exit    main calls exit(EXIT_CODE)
 *            return  main returns EXIT_CODE
 *            thread  copier 0 calls exit(EXIT_CODE) after a few copies of its own; main keeps
 *                    copying as well
 *            join    main calls exit(EXIT_CODE); an exit handler registered before CUDA started
 *                    (so it runs after simgpu's) checks that its own CUDA calls return
 *                    cudaErrorCudartUnloading at once, then joins the copiers, as a thread pool's
 *                    destructor would: they must unwind (with cudaErrorCudartUnloading) instead of
 *                    hanging the exit
 *   DIR      h2d, d2h or both (copier i alternates when both)
 *
 * Each copier copies in a loop, sizes across the 1 MiB chunk boundary (one message, exactly one
 * chunk, a chunk and a byte, several chunks), alternating cudaMemcpy and cudaMemcpyAsync on its
 * own stream, and checks the bytes of every D2H copy. The exit happens once every copier has
 * finished at least one copy (so everything is initialised and copies are under way), after a
 * short pseudo-random delay so that it hits different phases of the copies. Anything unexpected is
 * reported on stderr, which the harness treats as a failure.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#define MAX_COPIERS 8
#define MAX_BYTES ((3u << 20) + 5u)

static const size_t SIZES[] = {4096, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, MAX_BYTES};
#define N_SIZES (sizeof SIZES / sizeof SIZES[0])

enum variant { V_EXIT, V_RETURN, V_THREAD, V_JOIN };
enum dir { D_H2D, D_D2H, D_BOTH };

static enum variant variant;
static enum dir dir;
static int exit_code;
static atomic_int copies_done[MAX_COPIERS + 1];
static atomic_int joining;   /* V_JOIN: the exit handler is waiting for the copiers */

static void die(const char *what, cudaError_t e) {
    fprintf(stderr, "prog_exit_in_flight: %s: %s (%d)\n", what, cudaGetErrorName(e), (int)e);
    _exit(90);
}

static void check(cudaError_t e, const char *what) {
    if (e == cudaErrorCudartUnloading && atomic_load(&joining)) pthread_exit(NULL);
    if (e != cudaSuccess) die(what, e);
}

typedef struct copier {
    int id;
    int h2d;                 /* direction of this copier's copies */
    cudaStream_t stream;
    unsigned char *host, *dev;
} copier;

/* Device memory holds a pattern that depends on the copier only, so a D2H copy is checkable. */
static unsigned char pattern(int id, size_t i) { return (unsigned char)(i * 131u + (unsigned)id * 17u); }

static void prepare(copier *c, int id, int h2d) {
    c->id = id;
    c->h2d = h2d;
    c->host = malloc(MAX_BYTES);
    if (!c->host) {
        fputs("prog_exit_in_flight: out of memory\n", stderr);
        _exit(91);
    }
    for (size_t i = 0; i < MAX_BYTES; i++) c->host[i] = pattern(id, i);
    check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check(cudaMalloc((void **)&c->dev, MAX_BYTES), "cudaMalloc");
    check(cudaMemcpy(c->dev, c->host, MAX_BYTES, cudaMemcpyHostToDevice), "initial cudaMemcpy");
}

static void copy_once(copier *c, unsigned long round) {
    size_t n = SIZES[round % N_SIZES];
    int async = round & 1;
    if (c->h2d) {
        /* The host buffer keeps the pattern, so device memory keeps it too. */
        if (async) {
            check(cudaMemcpyAsync(c->dev, c->host, n, cudaMemcpyHostToDevice, c->stream), "H2D cudaMemcpyAsync");
            check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
        } else {
            check(cudaMemcpy(c->dev, c->host, n, cudaMemcpyHostToDevice), "H2D cudaMemcpy");
        }
        return;
    }
    memset(c->host, 0, n);
    if (async) {
        check(cudaMemcpyAsync(c->host, c->dev, n, cudaMemcpyDeviceToHost, c->stream), "D2H cudaMemcpyAsync");
        check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
    } else {
        check(cudaMemcpy(c->host, c->dev, n, cudaMemcpyDeviceToHost), "D2H cudaMemcpy");
    }
    for (size_t i = 0; i < n; i++)
        if (c->host[i] != pattern(c->id, i)) {
            fprintf(stderr, "prog_exit_in_flight: copier %d: byte %zu of a %zu-byte D2H copy is wrong\n", c->id, i, n);
            _exit(92);
        }
}

static void *copier_main(void *arg) {
    copier *c = arg;
    for (unsigned long round = 0;; round++) {
        copy_once(c, round);
        atomic_fetch_add(&copies_done[c->id], 1);
        if (variant == V_THREAD && c->id == 0 && round == 3 + (unsigned long)(getpid() % 5)) exit(exit_code);
    }
    return NULL;
}

static copier copiers[MAX_COPIERS + 1];
static pthread_t copier_threads[MAX_COPIERS];
static int n_copiers;

static void expect_unloading(cudaError_t e, const char *what) {
    if (e != cudaErrorCudartUnloading) die(what, e);
}

/* V_JOIN: runs on the exiting thread after simgpu's exit handler. */
static void join_copiers(void) {
    copier *c = &copiers[0];
    expect_unloading(cudaMemcpy(c->dev, c->host, 4096, cudaMemcpyHostToDevice), "H2D cudaMemcpy in an exit handler");
    expect_unloading(cudaMemcpy(c->host, c->dev, 4096, cudaMemcpyDeviceToHost), "D2H cudaMemcpy in an exit handler");
    expect_unloading(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize in an exit handler");
    expect_unloading(cudaDeviceSynchronize(), "cudaDeviceSynchronize in an exit handler");
    expect_unloading(cudaFree(c->dev), "cudaFree in an exit handler");
    atomic_store(&joining, 1);
    for (int i = 0; i < n_copiers; i++) pthread_join(copier_threads[i], NULL);
}

static int all_started(int n) {
    for (int i = 0; i < n; i++)
        if (atomic_load(&copies_done[i]) == 0) return 0;
    return 1;
}

static int parse(int argc, char **argv, int *threads) {
    if (argc < 4) return -1;
    if (!strcmp(argv[1], "exit")) variant = V_EXIT;
    else if (!strcmp(argv[1], "return")) variant = V_RETURN;
    else if (!strcmp(argv[1], "thread")) variant = V_THREAD;
    else if (!strcmp(argv[1], "join")) variant = V_JOIN;
    else return -1;
    if (!strcmp(argv[2], "h2d")) dir = D_H2D;
    else if (!strcmp(argv[2], "d2h")) dir = D_D2H;
    else if (!strcmp(argv[2], "both")) dir = D_BOTH;
    else return -1;
    exit_code = atoi(argv[3]);
    *threads = argc > 4 ? atoi(argv[4]) : 2;
    return *threads >= 1 && *threads <= MAX_COPIERS ? 0 : -1;
}

int main(int argc, char **argv) {
    int threads;
    if (parse(argc, argv, &threads)) {
        fputs("usage: prog_exit_in_flight exit|return|thread|join h2d|d2h|both EXIT_CODE [THREADS 1-8]\n", stderr);
        return 2;
    }
    if (variant == V_JOIN) atexit(join_copiers);   /* before the first CUDA call */
    for (int i = 0; i <= threads; i++) prepare(&copiers[i], i, dir == D_BOTH ? i % 2 == 0 : dir == D_H2D);
    for (n_copiers = 0; n_copiers < threads; n_copiers++) {
        if (pthread_create(&copier_threads[n_copiers], NULL, copier_main, &copiers[n_copiers])) {
            fputs("prog_exit_in_flight: pthread_create failed\n", stderr);
            return 93;
        }
    }
    if (variant == V_THREAD) copier_main(&copiers[threads]);   /* main copies until copier 0 exits */
    while (!all_started(threads)) sched_yield();
    /* A delay of 0-2 ms, different from run to run, so the exit lands in different phases. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    usleep((useconds_t)((now.tv_nsec ^ getpid()) % 2000));
    if (variant == V_RETURN) return exit_code;
    exit(exit_code);
}
