/*
 * What validate=uffd costs, per MiB, against what validate=compare costs (docs/benchmarks.md,
 * "Validation"): the commit's check (pl_protect_clean) and a worker's arm (pl_protect_arm) of a clean
 * 1 MiB range, the app's first write to each armed page (a minor fault the kernel resolves), and the
 * compare's memcmp of 1 MiB against a snapshot, over a working set larger than the cache.
 * validate=mprotect: the same for its arm, its check and its fault (SIGSEGV, handler, mprotect).
 * Usage: protect_bench [MiB of working set, default 256]. Prints one line per figure.
 */
#define _GNU_SOURCE
#include "shim_protect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256, one = 1u << 20, n = mib * one;
    int probe = pl_protect_probe();
    if (probe != 0) {
        printf("protect_bench: uffd write tracking not available here (%d)\n", probe);
        return 1;
    }
    char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *snap = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || snap == MAP_FAILED) return 1;
    memset(m, 1, n);
    memset(snap, 1, n);
    uint64_t r[32];
    if (pl_protect_track((uint64_t)(uintptr_t)m, n) != 0) return 1;
    double t = now_ns();
    for (size_t i = 0; i < mib; i++) pl_protect_arm((uint64_t)(uintptr_t)(m + i * one), one, r, 16);
    printf("arm of a freshly written MiB: %.1f us\n", (now_ns() - t) / (double)mib / 1e3);
    t = now_ns();
    for (size_t i = 0; i < mib; i++) pl_protect_arm((uint64_t)(uintptr_t)(m + i * one), one, r, 16);
    printf("arm of a clean MiB: %.1f us\n", (now_ns() - t) / (double)mib / 1e3);
    int clean = 0;
    t = now_ns();
    for (size_t i = 0; i < mib; i++) clean += pl_protect_clean((uint64_t)(uintptr_t)(m + i * one), one);
    printf("commit check (uffd) of a clean MiB: %.1f us (%d of %zu clean)\n", (now_ns() - t) / (double)mib / 1e3, clean, mib);
    int same = 0;
    t = now_ns();
    for (size_t i = 0; i < mib; i++) same += memcmp(m + i * one, snap + i * one, one) == 0;
    printf("commit check (compare: memcmp) of a MiB: %.1f us (%d of %zu equal)\n", (now_ns() - t) / (double)mib / 1e3, same, mib);
    t = now_ns();
    for (size_t i = 0; i < n; i += 4096) m[i] = 2;   /* one write per armed page: one fault each */
    double fault = (now_ns() - t) / (double)(n / 4096);
    t = now_ns();
    for (size_t i = 0; i < n; i += 4096) m[i] = 3;   /* the same writes, pages now writable */
    double plain = (now_ns() - t) / (double)(n / 4096);
    printf("first write to an armed 4 KiB page: %.2f us (a write to a writable page: %.3f us); %.0f us per MiB written\n",
           fault / 1e3, plain / 1e3, (fault - plain) * 256 / 1e3);

    /* validate=mprotect: the same over a second range (this program links its interposers first) */
    if (pl_mprotect_probe() != 0) {
        printf("mprotect: not available here (%d)\n", pl_mprotect_probe());
        return 0;
    }
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    memset(p, 1, n);
    if (pl_mprotect_track((uint64_t)(uintptr_t)p, n) != 0) return 1;
    t = now_ns();
    for (size_t i = 0; i < mib; i++) pl_mprotect_arm((uint64_t)(uintptr_t)(p + i * one), one, r, 16);
    printf("mprotect: arm of a MiB: %.1f us\n", (now_ns() - t) / (double)mib / 1e3);
    clean = 0;
    t = now_ns();
    for (size_t i = 0; i < mib; i++) clean += pl_mprotect_clean((uint64_t)(uintptr_t)(p + i * one), one);
    printf("mprotect: commit check of a clean MiB: %.1f us (%d of %zu clean)\n", (now_ns() - t) / (double)mib / 1e3, clean, mib);
    t = now_ns();
    for (size_t i = 0; i < n; i += 4096) p[i] = 2;   /* SIGSEGV, our handler, mprotect: per page */
    fault = (now_ns() - t) / (double)(n / 4096);
    printf("mprotect: first write to an armed 4 KiB page: %.2f us; %.0f us per MiB written\n", fault / 1e3,
           (fault - plain) * 256 / 1e3);
    return 0;
}
