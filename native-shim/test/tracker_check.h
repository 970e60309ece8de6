/*
 * What the tests of the two write trackers behind validate= (shim_protect.c's uffd, shim_mprotect.c's
 * page protection) share: the same four calls, so the same checks serve both. Each test file names
 * its tracker once (struct tracker) and includes this after test_runner.h.
 */
#ifndef PL_TRACKER_CHECK_H
#define PL_TRACKER_CHECK_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct tracker {
    int (*track)(uint64_t addr, uint64_t len);
    int (*untrack)(uint64_t addr, uint64_t len);
    long (*arm)(uint64_t addr, uint64_t len, uint64_t *regions, int cap);
    int (*clean)(uint64_t addr, uint64_t len);
};

static size_t page;
#define U(p) ((uint64_t)(uintptr_t)(p))

/* n private anonymous pages, filled */
static char *map_pages(size_t n) {
    page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    memset(m, 0x5a, n * page);
    return m;
}

/* n pages, tracked by t and armed */
static char *armed_by(const struct tracker *t, size_t n) {
    char *m = map_pages(n);
    if (!m) return NULL;
    uint64_t r[8];
    if (t->track(U(m), n * page) != 0 || t->arm(U(m), n * page, r, 4) < 0) return NULL;
    return m;
}

/* Whether one of the got (start, end) pairs in r holds address at. */
static int reported_at(const uint64_t *r, long got, uint64_t at) {
    int hit = 0;
    for (long k = 0; k < got; k++) hit |= r[2 * k] <= at && at < r[2 * k + 1];
    return hit;
}

static void *write_x(void *p) {
    *(volatile char *)p = 'x';
    return NULL;
}

/* Writes 'x' at p from another thread; 0 when it ran. */
static int write_from_another_thread(char *p) {
    pthread_t t;
    if (pthread_create(&t, NULL, write_x, p) != 0) return -1;
    return pthread_join(t, NULL);
}

static char *sig_target;
static void copy_in_handler(int sig) {
    (void)sig;
    memcpy(sig_target, "handler", 7);
}

/* Writes "handler" at p with memcpy inside a SIGUSR1 handler, the host's handler put back after. */
static void write_from_a_signal_handler(char *p) {
    sig_target = p;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = copy_in_handler;
    sigaction(SIGUSR1, &sa, &old);
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
}

static atomic_int race_go;
static void *write_when_told(void *p) {
    while (!atomic_load(&race_go)) {}
    ((volatile char *)p)[page / 2] = 'r';
    return NULL;
}

/*
 * 300 times, another thread writes one page of the armed m (pages long) while t re-arms it: the write
 * must be reported by that arm or still be seen by the next clean check. Returns how many were lost
 * (-1 if a thread or an arm failed).
 */
static int writes_lost_racing_the_arm(const struct tracker *t, char *m, size_t pages) {
    int lost = 0;
    for (int i = 0; i < 300; i++) {
        atomic_store(&race_go, 0);
        char *target = m + (size_t)(i % (int)pages) * page;
        pthread_t th;
        if (pthread_create(&th, NULL, write_when_told, target) != 0) return -1;
        uint64_t r[16];
        atomic_store(&race_go, 1);
        long got = t->arm(U(m), pages * page, r, 8);
        pthread_join(th, NULL);
        if (got < 0) return -1;
        if (!reported_at(r, got, U(target) + page / 2) && t->clean(U(m), pages * page)) lost++;
    }
    return lost;
}

#endif
