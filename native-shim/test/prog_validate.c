/*
 * Validation under every write the issue names (pipeline_property_test.py runs it once per
 * validate mode): a loop of pinned layers the pipeline learns and pre-encrypts, and before each
 * copy of one layer a CPU write to its source, after its slot was made and before its commit:
 * from this thread, from another thread, while a worker may still be encrypting it (right after the
 * previous copy), through read(2) from a pipe, and by memcpy in a signal handler. After every copy
 * the device copy is read back and compared with the host: a stale commit shows as a mismatch. The
 * writes themselves must all succeed (a write-protected page must never make read(2) fail).
 *
 * Usage: prog_validate [cycles]. Prints "validate ... ok" and exits 0, or names what failed.
 */
#define _GNU_SOURCE
#include "prog_check.h"

#include <cuda_runtime.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define LAYERS 6
#define LAYER_BYTES (3u << 20)   /* several driver messages each */
#define WRITE_BYTES 24           /* a write smaller than a page, across a page boundary */

static unsigned char *host[LAYERS];
static void *dev[LAYERS];
static unsigned char *back;
static unsigned char pattern[WRITE_BYTES];
static unsigned char *sig_dst;

static void on_usr1(int sig) {
    (void)sig;
    memcpy(sig_dst, pattern, WRITE_BYTES);
}

struct job { unsigned char *dst; };
static void *thread_write(void *p) {
    memcpy(((struct job *)p)->dst, pattern, WRITE_BYTES);
    return NULL;
}

static const char *KINDS[] = {"this thread", "another thread", "during encryption", "read(2) from a pipe",
                              "memcpy in a signal handler"};

/* Writes pattern into layer l at off by kind k; returns 0 if the write itself succeeded. */
static int write_kind(int k, int l, size_t off) {
    unsigned char *dst = host[l] + off;
    switch (k) {
    case 0:
    case 2:
        memcpy(dst, pattern, WRITE_BYTES);
        return 0;
    case 1: {
        struct job j = {dst};
        pthread_t t;
        if (pthread_create(&t, NULL, thread_write, &j) != 0) return -1;
        pthread_join(t, NULL);
        return 0;
    }
    case 3: {
        int fds[2];
        if (pipe(fds) != 0) return -1;
        int ok = write(fds[1], pattern, WRITE_BYTES) == WRITE_BYTES && read(fds[0], dst, WRITE_BYTES) == WRITE_BYTES;
        close(fds[0]);
        close(fds[1]);
        return ok ? 0 : -1;
    }
    default:
        sig_dst = dst;
        return raise(SIGUSR1);
    }
}

static int copy_and_check(int l, const char *what, int cycle) {
    if (cudaMemcpy(dev[l], host[l], LAYER_BYTES, cudaMemcpyHostToDevice) != cudaSuccess) {
        fprintf(stderr, "prog_validate: H2D copy failed (%s, cycle %d)\n", what, cycle);
        return 1;
    }
    if (cudaMemcpy(back, dev[l], LAYER_BYTES, cudaMemcpyDeviceToHost) != cudaSuccess) return 1;
    if (memcmp(back, host[l], LAYER_BYTES) != 0) {
        size_t i = 0;
        while (back[i] == host[l][i]) i++;
        fprintf(stderr, "prog_validate: MISMATCH after a write by %s, layer %d cycle %d, byte %zu: stale data committed\n",
                what, l, cycle, i);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int cycles = argc > 1 ? atoi(argv[1]) : 40;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    for (int l = 0; l < LAYERS; l++) {
        CHECK(cudaHostAlloc((void **)&host[l], LAYER_BYTES, cudaHostAllocDefault) == cudaSuccess);
        CHECK(cudaMalloc(&dev[l], LAYER_BYTES) == cudaSuccess);
        if (failures) return 1;
        for (size_t i = 0; i < LAYER_BYTES; i++) host[l][i] = (unsigned char)(i * 31 + l);
    }
    back = malloc(LAYER_BYTES);
    int bad = 0, writes = 0;
    for (int c = 0; c < cycles && !bad; c++) {
        for (int l = 0; l < LAYERS && !bad; l++) {
            /* from cycle 4 on, layer (c % LAYERS) is written before its copy, one kind per cycle */
            if (c >= 4 && l == c % LAYERS) {
                int k = c % 5;
                for (int b = 0; b < WRITE_BYTES; b++) pattern[b] = (unsigned char)(c * 7 + b + 1);
                /* a place in the layer's middle message, across a page boundary */
                size_t off = (size_t)(LAYER_BYTES / 2) + (size_t)(c % 3) * 4096 - WRITE_BYTES / 2;
                if (k == 2) {
                    /* right after the previous layer's copy: the workers may be encrypting this one now */
                    usleep(200);
                }
                if (write_kind(k, l, off) != 0) {
                    fprintf(stderr, "prog_validate: the write by %s itself failed: %s\n", KINDS[k], strerror(errno));
                    bad = 1;
                    break;
                }
                if (memcmp(host[l] + off, pattern, WRITE_BYTES) != 0) {
                    fprintf(stderr, "prog_validate: the write by %s did not land\n", KINDS[k]);
                    bad = 1;
                    break;
                }
                writes++;
                bad = copy_and_check(l, KINDS[k], c);
            } else {
                bad = copy_and_check(l, "nobody (no write)", c);
            }
        }
    }
    if (bad || failures) return 1;
    printf("validate cycles=%d writes=%d ok\n", cycles, writes);
    return 0;
}
