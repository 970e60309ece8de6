/*
 * Write tracking by page protection (validate=mprotect, the paper's design; shim_protect.h has the
 * API, the same shape as uffd's). Explicit only: auto never picks it, because it is exact only for
 * the writes it can see (below) and uffd sees all of them on the kernels that have it.
 *
 * An armed page is mprotect(PROT_READ). A CPU write to it faults; our SIGSEGV handler, installed
 * first (through the C library's sigaction, after the JVM's), recognises the page, marks it written
 * and gives write access back, and the write restarts and succeeds. Every other fault goes to the
 * handler that was there before us (HotSpot's, or the host's), or, for SIG_DFL, to the default
 * action with the fault repeated: the process dies as it would have. A host that sets a SIGSEGV
 * handler after us (sigaction, signal, bsd_signal: interposed here, libjsig's model) gets it stored
 * as the one we chain to, and the old one back: ours stays first, the host's sees only its faults.
 *
 * The kernel's own writes into a write-protected page fail with EFAULT instead of faulting, so the
 * calls that let the kernel write into user memory are interposed and unprotect their destination
 * first (marking it written): read, pread(64), readv, preadv(64)(2), recv, recvfrom, recvmsg, their
 * _FORTIFY_SOURCE _chk variants, and fread/fread_unlocked (glibc's stdio reads with internal calls
 * no interposer sees). NOT covered, so NOT exact or not safe with mprotect: io_uring, Linux AIO,
 * O_DIRECT reads (get_user_pages), another process's process_vm_writev, vmsplice, and any other
 * libc-internal read into pinned memory: hosts that do those must use uffd or compare.
 * Interposition works only where libpipellm.so is first in the global scope (LD_PRELOAD): under
 * -agentpath libc's read comes first, so the probe fails there and the agent compares.
 *
 * Races. One state byte per page: 0 never armed (or untracked again), 1 armed (PROT_READ), 2 written
 * (writable again). The arm (a worker) and the handler (the faulting thread) change a range's pages
 * under one spinlock, the arm with every signal blocked (a handler of the host on that thread must
 * not fault into the lock it holds). So a fault's "mark written, then unprotect" and an arm's
 * "protect, then collect the written pages" never interleave, and a write is either reported by the
 * arm or marks the page after it. WriteTracking (Java) fences the arm against the commit's check as
 * for uffd. fork(): the child makes every tracked page writable again (pthread_atfork) and tracks
 * nothing. mprotect splits VMAs: a handler that cannot unprotect one page (ENOMEM at
 * vm.max_map_count) unprotects the whole allocation and marks it written; if even that fails the
 * fault is chained (the host crashes as it would have on that write without us: a documented limit).
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE   /* this file defines read & co.: no inline fortify wrappers of them */
#include "shim_protect.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#undef fread_unlocked   /* a macro in <bits/stdio.h>: the function is what is interposed */

#define EXPORT __attribute__((visibility("default")))
#define MP_RANGES 1024   /* tracked allocations over the process's life (entries are not reused) */

struct mp_range {
    _Atomic uintptr_t lo; /* 0: a free entry; published after hi and state */
    uintptr_t hi;
    _Atomic(unsigned char *) state;
    atomic_flag lock;
};

static struct mp_range ranges[MP_RANGES];
static atomic_int installed;  /* our SIGSEGV handler is in place (sigaction is virtualised) */
static atomic_int active;     /* pages may be armed: the interposed reads look */
static uintptr_t pmask;
static int mp_probe_result = PL_PROTECT_NO_UFFD;
static pthread_once_t mp_once = PTHREAD_ONCE_INIT;

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction_fn;
/* the handler we chain to: two copies, swapped by the (serialised) virtual sigaction */
static struct sigaction chained[2];
static atomic_int chained_cur;
static pthread_mutex_t chained_mu = PTHREAD_MUTEX_INITIALIZER;

static sigaction_fn real_sigaction(void) {
    if (!real_sigaction_fn) real_sigaction_fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return real_sigaction_fn;
}

static void lock(struct mp_range *r) {
    while (atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire)) {}
}
static void unlock(struct mp_range *r) {
    atomic_flag_clear_explicit(&r->lock, memory_order_release);
}

static struct mp_range *range_of(uintptr_t a) {
    for (int i = 0; i < MP_RANGES; i++) {
        uintptr_t lo = atomic_load_explicit(&ranges[i].lo, memory_order_acquire);
        if (lo && a >= lo && a < ranges[i].hi) return &ranges[i];
    }
    return NULL;
}

/* The faulting thread (or a read about to write): page a becomes written and writable. 1 if the
 * page was ours (armed, or written meanwhile by another thread), 0 if not. */
static int resolve(uintptr_t a) {
    struct mp_range *r = range_of(a);
    if (!r) return 0;
    unsigned char *st = atomic_load(&r->state);
    uintptr_t page = a & ~pmask, lo = atomic_load(&r->lo);
    size_t i = (page - lo) / (pmask + 1);
    int ours = 0;
    lock(r);
    if (st[i] == 1) {
        st[i] = 2;
        if (mprotect((void *)page, pmask + 1, PROT_READ | PROT_WRITE) == 0) {
            ours = 1;
        } else if (mprotect((void *)lo, r->hi - lo, PROT_READ | PROT_WRITE) == 0) {
            for (size_t k = 0; k < (r->hi - lo) / (pmask + 1); k++) if (st[k] == 1) st[k] = 2;
            ours = 1;
        }
    } else if (st[i] == 2) {
        ours = 1;   /* another thread's fault got there first: the page is writable now */
    }
    unlock(r);
    return ours;
}

static void chain(int sig, siginfo_t *si, void *uc) {
    struct sigaction *n = &chained[atomic_load(&chained_cur)];
    if (n->sa_flags & SA_SIGINFO) {
        if (n->sa_sigaction) {
            n->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (n->sa_handler != SIG_DFL && n->sa_handler != SIG_IGN) {
        n->sa_handler(sig);
        return;
    }
    /* the default action, as without us: put it back; a fault repeats on return, a sent signal
     * (kill, raise) is sent again and delivered once this handler returns */
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    real_sigaction()(sig, &d, NULL);
    if (si->si_code <= 0) raise(sig);
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    int saved = errno;
    int ours = si->si_code == SEGV_ACCERR && atomic_load(&active) && resolve((uintptr_t)si->si_addr);
    errno = saved;
    if (!ours) chain(sig, si, uc);
}

/* ---- the host's SIGSEGV handler calls, virtualised once ours is installed ---- */

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV || !atomic_load(&installed)) return real_sigaction()(sig, act, old);
    pthread_mutex_lock(&chained_mu);
    int cur = atomic_load(&chained_cur);
    if (old) *old = chained[cur];
    if (act) {
        chained[1 - cur] = *act;
        atomic_store(&chained_cur, 1 - cur);
    }
    pthread_mutex_unlock(&chained_mu);
    return 0;
}

typedef sighandler_t (*signal_fn)(int, sighandler_t);
static signal_fn real_signal_fn, real_bsd_signal_fn;

static sighandler_t virtual_signal(int sig, sighandler_t h, signal_fn *real, const char *name) {
    if (sig != SIGSEGV || !atomic_load(&installed)) {
        if (!*real) *real = (signal_fn)dlsym(RTLD_NEXT, name);
        return *real ? (*real)(sig, h) : SIG_ERR;
    }
    struct sigaction a, o;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = SA_RESTART;   /* signal(2)'s BSD semantics in glibc */
    sigaction(sig, &a, &o);
    return (o.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)o.sa_sigaction : o.sa_handler;
}

EXPORT sighandler_t signal(int sig, sighandler_t h) { return virtual_signal(sig, h, &real_signal_fn, "signal"); }
EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) { return virtual_signal(sig, h, &real_bsd_signal_fn, "bsd_signal"); }

/* ---- calls that make the kernel write into user memory: unprotect the destination first ---- */

/* (the address as an integer: the buffer is only written by the call that follows, never read here) */
static void before_kernel_write_at(uintptr_t p, size_t n) {
    if (!atomic_load_explicit(&active, memory_order_relaxed) || !p || n == 0) return;
    uintptr_t a = p & ~pmask, end = p + n;
    for (; a < end; a += pmask + 1) resolve(a);
}

static void before_kernel_writev(const struct iovec *v, int n) {
    if (!atomic_load_explicit(&active, memory_order_relaxed) || !v) return;
    for (int i = 0; i < n; i++) before_kernel_write_at((uintptr_t)v[i].iov_base, v[i].iov_len);
}

#define REAL(ret, name, params)                                                     \
    static ret (*real_##name) params;                                               \
    static ret (*get_##name(void)) params {                                         \
        if (!real_##name) real_##name = (ret(*) params)dlsym(RTLD_NEXT, #name);     \
        return real_##name;                                                         \
    }

REAL(ssize_t, read, (int, void *, size_t))
REAL(ssize_t, pread, (int, void *, size_t, off_t))
REAL(ssize_t, pread64, (int, void *, size_t, off_t))
REAL(ssize_t, readv, (int, const struct iovec *, int))
REAL(ssize_t, preadv, (int, const struct iovec *, int, off_t))
REAL(ssize_t, preadv64, (int, const struct iovec *, int, off_t))
REAL(ssize_t, preadv2, (int, const struct iovec *, int, off_t, int))
REAL(ssize_t, recv, (int, void *, size_t, int))
REAL(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))
REAL(ssize_t, recvmsg, (int, struct msghdr *, int))
REAL(ssize_t, __read_chk, (int, void *, size_t, size_t))
REAL(ssize_t, __pread_chk, (int, void *, size_t, off_t, size_t))
REAL(ssize_t, __pread64_chk, (int, void *, size_t, off_t, size_t))
REAL(ssize_t, __recv_chk, (int, void *, size_t, size_t, int))
REAL(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *))
REAL(size_t, fread, (void *, size_t, size_t, FILE *))
REAL(size_t, fread_unlocked, (void *, size_t, size_t, FILE *))

EXPORT ssize_t read(int fd, void *b, size_t n) { before_kernel_write_at((uintptr_t)b, n); return get_read()(fd, b, n); }
EXPORT ssize_t pread(int fd, void *b, size_t n, off_t o) { before_kernel_write_at((uintptr_t)b, n); return get_pread()(fd, b, n, o); }
EXPORT ssize_t pread64(int fd, void *b, size_t n, off_t o) { before_kernel_write_at((uintptr_t)b, n); return get_pread64()(fd, b, n, o); }
EXPORT ssize_t readv(int fd, const struct iovec *v, int c) { before_kernel_writev(v, c); return get_readv()(fd, v, c); }
EXPORT ssize_t preadv(int fd, const struct iovec *v, int c, off_t o) { before_kernel_writev(v, c); return get_preadv()(fd, v, c, o); }
EXPORT ssize_t preadv64(int fd, const struct iovec *v, int c, off_t o) { before_kernel_writev(v, c); return get_preadv64()(fd, v, c, o); }
EXPORT ssize_t preadv2(int fd, const struct iovec *v, int c, off_t o, int f) { before_kernel_writev(v, c); return get_preadv2()(fd, v, c, o, f); }
EXPORT ssize_t recv(int s, void *b, size_t n, int f) { before_kernel_write_at((uintptr_t)b, n); return get_recv()(s, b, n, f); }
EXPORT ssize_t recvfrom(int s, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) {
    before_kernel_write_at((uintptr_t)b, n);
    return get_recvfrom()(s, b, n, f, a, l);
}
EXPORT ssize_t recvmsg(int s, struct msghdr *m, int f) {
    if (m) before_kernel_writev(m->msg_iov, (int)m->msg_iovlen);
    return get_recvmsg()(s, m, f);
}
EXPORT ssize_t __read_chk(int fd, void *b, size_t n, size_t bl) { before_kernel_write_at((uintptr_t)b, n); return get___read_chk()(fd, b, n, bl); }
EXPORT ssize_t __pread_chk(int fd, void *b, size_t n, off_t o, size_t bl) { before_kernel_write_at((uintptr_t)b, n); return get___pread_chk()(fd, b, n, o, bl); }
EXPORT ssize_t __pread64_chk(int fd, void *b, size_t n, off_t o, size_t bl) { before_kernel_write_at((uintptr_t)b, n); return get___pread64_chk()(fd, b, n, o, bl); }
EXPORT ssize_t __recv_chk(int s, void *b, size_t n, size_t bl, int f) { before_kernel_write_at((uintptr_t)b, n); return get___recv_chk()(s, b, n, bl, f); }
EXPORT ssize_t __recvfrom_chk(int s, void *b, size_t n, size_t bl, int f, struct sockaddr *a, socklen_t *l) {
    before_kernel_write_at((uintptr_t)b, n);
    return get___recvfrom_chk()(s, b, n, bl, f, a, l);
}
EXPORT size_t fread(void *p, size_t sz, size_t n, FILE *f) { before_kernel_write_at((uintptr_t)p, sz * n); return get_fread()(p, sz, n, f); }
EXPORT size_t fread_unlocked(void *p, size_t sz, size_t n, FILE *f) { before_kernel_write_at((uintptr_t)p, sz * n); return get_fread_unlocked()(p, sz, n, f); }

/* ---- the API (shim_protect.h) ---- */

static struct mp_range *covering(uint64_t lo, uint64_t hi) {
    struct mp_range *r = range_of((uintptr_t)lo);
    return r && hi <= r->hi ? r : NULL;
}

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

int pl_mprotect_track(uint64_t addr, uint64_t len) {
    if (mp_probe_result != PL_PROTECT_OK || len == 0) return -EINVAL;
    uintptr_t lo = (uintptr_t)addr & ~pmask, hi = ((uintptr_t)(addr + len) + pmask) & ~pmask;
    if (!pl_protect_private_anonymous(lo, hi)) return -EINVAL;
    unsigned char *st = calloc((hi - lo) / (pmask + 1), 1);
    if (!st) return -ENOMEM;
    int rc = -ENOSPC;
    pthread_mutex_lock(&table_mu);
    if (range_of(lo) || range_of(hi - 1)) {
        rc = -EEXIST;   /* a page shared with another tracked allocation: this one is compared */
    } else {
        for (int i = 0; i < MP_RANGES; i++) {
            if (atomic_load(&ranges[i].state) != NULL) continue;   /* taken, or retired */
            ranges[i].hi = hi;
            atomic_store(&ranges[i].state, st);
            atomic_store(&ranges[i].lo, lo);   /* published last: readers check lo first */
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&table_mu);
    if (rc != 0) free(st);
    return rc;
}

int pl_mprotect_untrack(uint64_t addr, uint64_t len) {
    (void)len;   /* the whole allocation: ranges are tracked per allocation */
    struct mp_range *r = range_of((uintptr_t)addr);
    if (!r) return -ENOENT;
    lock(r);
    uintptr_t lo = atomic_load(&r->lo);
    mprotect((void *)lo, r->hi - lo, PROT_READ | PROT_WRITE);
    atomic_store(&r->lo, 0);
    unlock(r);
    /* the state array stays allocated and the entry taken: a handler may still be reading it
     * (a page per 4 KiB of allocation, for the life of the process) */
    return 0;
}

long pl_mprotect_arm(uint64_t addr, uint64_t len, uint64_t *regions, int cap) {
    if (len == 0 || cap < 1) return -EINVAL;
    uintptr_t lo = (uintptr_t)addr & ~pmask, hi = ((uintptr_t)(addr + len) + pmask) & ~pmask;
    struct mp_range *r = covering(lo, hi);
    if (!r) return -EPERM;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_store(&active, 1);
    lock(r);
    long out = 0;
    int rc = mprotect((void *)lo, hi - lo, PROT_READ);
    if (rc == 0) {
        unsigned char *st = atomic_load(&r->state);
        uintptr_t base = atomic_load(&r->lo);
        for (uintptr_t p = lo; p < hi; p += pmask + 1) {
            size_t i = (p - base) / (pmask + 1);
            unsigned char was = st[i];
            st[i] = 1;
            if (was == 1) continue;
            if (out > 0 && regions[2 * out - 1] == p) {
                regions[2 * out - 1] = p + pmask + 1;
            } else if (out < cap) {
                regions[2 * out] = p;
                regions[2 * out + 1] = p + pmask + 1;
                out++;
            } else {
                regions[2 * out - 1] = p + pmask + 1;
            }
        }
    } else {
        rc = -errno;
    }
    unlock(r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? out : rc;
}

int pl_mprotect_clean(uint64_t addr, uint64_t len) {
    if (len == 0) return 0;
    uintptr_t lo = (uintptr_t)addr & ~pmask, hi = ((uintptr_t)(addr + len) + pmask) & ~pmask;
    struct mp_range *r = covering(lo, hi);
    if (!r) return 0;
    unsigned char *st = atomic_load(&r->state);
    uintptr_t base = atomic_load(&r->lo);
    for (uintptr_t p = lo; p < hi; p += pmask + 1) {
        if (atomic_load_explicit((_Atomic unsigned char *)&st[(p - base) / (pmask + 1)], memory_order_acquire) != 1) return 0;
    }
    return 1;
}

static void child_after_fork(void) {
    /* the child tracks nothing and inherits no protection */
    atomic_store(&active, 0);
    for (int i = 0; i < MP_RANGES; i++) {
        uintptr_t lo = atomic_load(&ranges[i].lo);
        if (lo) mprotect((void *)lo, ranges[i].hi - lo, PROT_READ | PROT_WRITE);
        atomic_store(&ranges[i].lo, 0);
    }
}

/* Whether the default scope's function `name` is ours (the interposition is in effect). */
static int ours_first(const char *name, void *ours) {
    return dlsym(RTLD_DEFAULT, name) == ours;
}

static int mp_self_test(void) {
    size_t page = pmask + 1;
    char *m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return PL_PROTECT_INEXACT;
    int ok = 0, fds[2] = {-1, -1};
    uint64_t r[8], a = (uint64_t)(uintptr_t)m;
    memset(m, 1, 3 * page);
    if (pl_mprotect_track(a, 3 * page) != 0 || pl_mprotect_arm(a, 3 * page, r, 4) < 0) goto out;
    if (pl_mprotect_clean(a, 3 * page) != 1) goto out;
    ((volatile char *)m)[5] = 2;   /* faults: our handler */
    if (pipe(fds) != 0 || write(fds[1], "kernel", 6) != 6 || read(fds[0], m + page + 3, 6) != 6) goto out;
    ok = m[5] == 2 && memcmp(m + page + 3, "kernel", 6) == 0 && !pl_mprotect_clean(a, page)
         && !pl_mprotect_clean(a + page, page) && pl_mprotect_clean(a + 2 * page, page) == 1;
out:
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    pl_mprotect_untrack(a, 3 * page);
    munmap(m, 3 * page);
    return ok ? PL_PROTECT_OK : PL_PROTECT_INEXACT;
}

static void mp_probe(void) {
    pmask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
    if (!ours_first("read", (void *)read) || !ours_first("sigaction", (void *)sigaction)
        || !ours_first("signal", (void *)signal) || !real_sigaction()) {
        mp_probe_result = PL_PROTECT_NOT_FIRST;
        return;
    }
    struct sigaction us, old;
    memset(&us, 0, sizeof us);
    us.sa_sigaction = on_segv;
    us.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER;
    sigemptyset(&us.sa_mask);
    if (real_sigaction()(SIGSEGV, &us, &old) != 0) {
        mp_probe_result = PL_PROTECT_NO_UFFD;
        return;
    }
    chained[0] = old;
    atomic_store(&installed, 1);
    pthread_atfork(NULL, NULL, child_after_fork);
    mp_probe_result = PL_PROTECT_OK;   /* the self-test needs track/arm to work */
    mp_probe_result = mp_self_test();
    atomic_store(&active, 0);
    if (mp_probe_result != PL_PROTECT_OK) {   /* not exact here: put the previous handler back */
        atomic_store(&installed, 0);
        real_sigaction()(SIGSEGV, &chained[atomic_load(&chained_cur)], NULL);
    }
}

int pl_mprotect_probe(void) {
    pthread_once(&mp_once, mp_probe);
    return mp_probe_result;
}
