/*
 * A C host whose signal dispositions must survive the JVM that the shim starts on its first CUDA
 * call (run by signals_test.py plain, under LD_PRELOAD=libpipellm.so, and with libjsig first).
 * Usage: prog_signals MODE, one of
 *   dispositions  sets a few dispositions, records all of 1..64 as the kernel holds them (raw
 *                 rt_sigaction, past libc and libjsig) and as the host sees them (sigaction), makes
 *                 copies, and compares: all equal except SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP, the C
 *                 library's own signals (32, 33), and SIGRTMAX-2 only if it became the JDK's I/O
 *                 wake-up handler. Then installs SIGUSR2 (sigaction) and SIGPIPE (signal) handlers,
 *                 checks the kernel holds them and that they and the earlier ones run on raise().
 *                 With EXPECT_JVM_THREADS=1, also checks the JVM's threads block SIGPIPE/SIGXFSZ.
 *                 Prints "dispositions: ok".
 *   sigpipe       after the copies, writes to a pipe whose read end is closed: must die by SIGPIPE.
 *   segv-before   a SIGSEGV handler installed before the first copy must run on a real crash after it.
 *   segv-after    (with libjsig) a SIGSEGV handler installed after the JVM must be saved by libjsig,
 *                 not installed (the kernel keeps the JVM's), and run, chained, on a real crash.
 *   jfr           (under JAVA_TOOL_OPTIONS=-XX:StartFlightRecording) SIGUSR2 stays the JVM's, for
 *                 JFR's thread sampler; the host survives it and more copies. Prints "jfr: ok".
 * The SIGSEGV modes exit 42 from the host's handler.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SIG 64
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000   /* the kernel's; glibc does not export it */
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "struct kernel_action below is the x86-64/arm64 layout of the kernel's struct sigaction"
#endif
/* What the kernel stores per signal (rt_sigaction with an 8-byte mask). */
struct kernel_action {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

typedef struct disposition {
    int kernel_rc, host_rc;
    struct kernel_action kernel;
    void *host_handler;
    int host_flags;
    unsigned long host_mask;   /* signals 1..64 of sa_mask, bit sig-1 */
} disposition;

static volatile sig_atomic_t ran[MAX_SIG + 1];

static void counting_handler(int sig) { ran[sig]++; }

static void counting_action(int sig, siginfo_t *info, void *ctx) {
    (void)info; (void)ctx;
    ran[sig]++;
}

static void segv_handler(int sig) {
    (void)sig;
    static const char msg[] = "prog_signals: host SIGSEGV handler ran\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(42);
}

static void record(int sig, disposition *d) {
    memset(d, 0, sizeof *d);
    d->kernel_rc = syscall(SYS_rt_sigaction, sig, NULL, &d->kernel, 8) ? errno : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    d->host_rc = sigaction(sig, NULL, &sa) ? errno : 0;
    if (d->host_rc) return;
    d->host_handler = (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler;
    d->host_flags = sa.sa_flags;
    for (int s = 1; s <= MAX_SIG; s++)
        if (sigismember(&sa.sa_mask, s) == 1) d->host_mask |= 1ul << (s - 1);
}

/* The synchronous error signals stay HotSpot's (chained to the host's handlers). Signals
 * __SIGRTMIN..SIGRTMIN-1 belong to the C library (sigaction refuses them to the host). */
static int not_the_hosts(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP ||
           (sig >= __SIGRTMIN && sig < SIGRTMIN);
}

/* The same disposition: handler, mask, flags but SA_RESTORER (libc sets it on every write, as
 * HotSpot's get_sanitized_sa_flags notes), and the restorer where a handler can return to it. */
static int same(const disposition *a, const disposition *b) {
    int handled = a->kernel.handler != SIG_DFL && a->kernel.handler != SIG_IGN;
    return a->kernel_rc == b->kernel_rc && a->kernel.handler == b->kernel.handler &&
           (a->kernel.flags & ~(unsigned long)SA_RESTORER) == (b->kernel.flags & ~(unsigned long)SA_RESTORER) &&
           a->kernel.mask == b->kernel.mask && (!handled || a->kernel.restorer == b->kernel.restorer) &&
           a->host_rc == b->host_rc && a->host_handler == b->host_handler &&
           (a->host_flags & ~SA_RESTORER) == (b->host_flags & ~SA_RESTORER) && a->host_mask == b->host_mask;
}

/* SIGRTMAX-2 may have become the JDK's no-op I/O wake-up handler (libnet/libnio), nothing else. */
static int jdk_wakeup_handler(int sig, const disposition *before, const disposition *after) {
    if (sig != __SIGRTMAX - 2 || before->kernel.handler != SIG_DFL) return 0;
    Dl_info where;
    if (!dladdr(after->kernel.handler, &where) || !where.dli_fname) return 0;
    const char *base = strrchr(where.dli_fname, '/');
    base = base ? base + 1 : where.dli_fname;
    return !strcmp(base, "libnet.so") || !strcmp(base, "libnio.so");
}

static void print_disposition(const char *when, const disposition *d) {
    fprintf(stderr, "  %s: kernel rc %d handler %p flags %#lx mask %#lx restorer %p; host rc %d handler %p flags %#x mask %#lx\n",
            when, d->kernel_rc, d->kernel.handler, d->kernel.flags, d->kernel.mask, d->kernel.restorer, d->host_rc,
            d->host_handler, d->host_flags, d->host_mask);
}

/* Copies through simgpu: under the shim the first one starts the JVM. */
static int copies(void) {
    size_t n = 1 << 20;
    char *src = malloc(n), *dst = calloc(1, n);
    void *dev = NULL;
    for (size_t i = 0; i < n; i++) src[i] = (char)(i * 5 + 3);
    int ok = cudaMalloc(&dev, n) == cudaSuccess;
    for (int r = 0; ok && r < 4; r++) {
        ok = cudaMemcpy(dev, src, n, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemcpy(dst, dev, n, cudaMemcpyDeviceToHost) == cudaSuccess && memcmp(src, dst, n) == 0;
    }
    if (dev) cudaFree(dev);
    free(src);
    free(dst);
    if (!ok) fprintf(stderr, "prog_signals: copies failed\n");
    return ok;
}

static int install(int sig, void (*fn)(int), int flags, const int *mask_sigs) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    for (; mask_sigs && *mask_sigs; mask_sigs++) sigaddset(&sa.sa_mask, *mask_sigs);
    return sigaction(sig, &sa, NULL);
}

static int kernel_handler_is(int sig, void *fn) {
    struct kernel_action k;
    memset(&k, 0, sizeof k);
    return syscall(SYS_rt_sigaction, sig, NULL, &k, 8) == 0 && k.handler == fn;
}

static int check_raised(int sig, const char *name) {
    int before = ran[sig];
    raise(sig);
    if (ran[sig] == before + 1) return 1;
    fprintf(stderr, "prog_signals: the %s handler did not run on raise()\n", name);
    return 0;
}

/* With EXPECT_JVM_THREADS=1 (under the shim): every thread but the host's own (main, simgpu-*)
 * blocks SIGPIPE and SIGXFSZ, so that the JVM's writes to a closed pipe return EPIPE instead of
 * taking the host's SIGPIPE; at least the JVM's creator and its VM Thread must be there. */
static int jvm_threads_block_pipe(void) {
    if (!getenv("EXPECT_JVM_THREADS")) return 1;
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return 0;
    int ok = 1, creator = 0, vm_thread = 0;
    pid_t self = (pid_t)syscall(SYS_gettid);
    struct dirent *e;
    while ((e = readdir(tasks))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
        char path[300], comm[64] = "", line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;   /* the thread has ended */
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        if (!strncmp(comm, "simgpu", 6)) continue;
        creator |= !strcmp(comm, "pipellm-jvm");
        vm_thread |= !strcmp(comm, "VM Thread");
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        if (!(f = fopen(path, "r"))) continue;
        unsigned long long blocked = 0;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "SigBlk:", 7)) blocked = strtoull(line + 7, NULL, 16);
        fclose(f);
        unsigned long long need = (1ull << (SIGPIPE - 1)) | (1ull << (SIGXFSZ - 1));
        if ((blocked & need) != need) {
            fprintf(stderr, "prog_signals: thread '%s' does not block SIGPIPE and SIGXFSZ (SigBlk %llx)\n", comm, blocked);
            ok = 0;
        }
    }
    closedir(tasks);
    if (!creator || !vm_thread) fprintf(stderr, "prog_signals: no pipellm-jvm or VM Thread thread found\n");
    return ok && creator && vm_thread;
}

static int dispositions(void) {
    /* The host's own settings, made before the first CUDA call. */
    struct sigaction usr1;
    memset(&usr1, 0, sizeof usr1);
    usr1.sa_sigaction = counting_action;
    usr1.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&usr1.sa_mask);
    sigaddset(&usr1.sa_mask, SIGTERM);
    sigaddset(&usr1.sa_mask, SIGRTMIN + 3);
    int ok = sigaction(SIGUSR1, &usr1, NULL) == 0;
    ok &= signal(SIGHUP, SIG_IGN) != SIG_ERR;
    static const int xfsz_mask[] = {SIGALRM, 0};
    ok &= install(SIGXFSZ, counting_handler, SA_NODEFER, xfsz_mask) == 0;   /* one the JVM takes */
    if (!ok) {
        fprintf(stderr, "prog_signals: setting the host's dispositions failed\n");
        return 1;
    }

    static disposition before[MAX_SIG + 1], after[MAX_SIG + 1];
    for (int s = 1; s <= MAX_SIG; s++) record(s, &before[s]);
    if (!copies()) return 1;
    for (int s = 1; s <= MAX_SIG; s++) record(s, &after[s]);

    int differ = 0;
    for (int s = 1; s <= MAX_SIG; s++) {
        if (not_the_hosts(s) || same(&before[s], &after[s]) || jdk_wakeup_handler(s, &before[s], &after[s])) continue;
        fprintf(stderr, "prog_signals: signal %d (%s) changed\n", s, strsignal(s));
        print_disposition("before", &before[s]);
        print_disposition("after ", &after[s]);
        differ++;
    }

    /* Handlers installed after the JVM started must really be installed and run. */
    static const int usr2_mask[] = {SIGINT, 0};
    ok = install(SIGUSR2, counting_handler, SA_RESTART, usr2_mask) == 0;
    ok &= signal(SIGPIPE, counting_handler) != SIG_ERR;
    if (!kernel_handler_is(SIGUSR2, (void *)counting_handler)) {
        fprintf(stderr, "prog_signals: the kernel does not hold the SIGUSR2 handler installed after the JVM\n");
        ok = 0;
    }
    if (!kernel_handler_is(SIGPIPE, (void *)counting_handler)) {
        fprintf(stderr, "prog_signals: the kernel does not hold the SIGPIPE handler installed after the JVM\n");
        ok = 0;
    }
    ok &= check_raised(SIGUSR2, "SIGUSR2 (installed after the JVM)");
    ok &= check_raised(SIGPIPE, "SIGPIPE (installed after the JVM)");
    ok &= check_raised(SIGUSR1, "SIGUSR1 (installed before the JVM)");
    ok &= check_raised(SIGXFSZ, "SIGXFSZ (installed before the JVM)");
    raise(SIGHUP);   /* still ignored, or the process ends here */
    ok &= jvm_threads_block_pipe();
    if (differ || !ok) {
        fprintf(stderr, "prog_signals: %d changed dispositions%s\n", differ, ok ? "" : ", handler checks failed");
        return 1;
    }
    printf("dispositions: ok\n");
    return 0;
}

static int sigpipe(void) {
    if (!copies()) return 1;
    int fds[2];
    if (pipe(fds)) return 2;
    close(fds[0]);
    ssize_t w = write(fds[1], "x", 1);
    printf("prog_signals: still alive after writing to a closed pipe (write returned %zd, errno %d)\n", w, errno);
    return 1;
}

static int crash(void) {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
    printf("prog_signals: still alive after a write through NULL\n");
    return 1;
}

static int segv_before(void) {
    if (install(SIGSEGV, segv_handler, 0, NULL)) return 2;
    if (!copies()) return 1;
    return crash();
}

static int segv_after(void) {
    if (!copies()) return 1;
    if (install(SIGSEGV, segv_handler, 0, NULL)) return 2;
    if (kernel_handler_is(SIGSEGV, (void *)segv_handler)) {
        printf("prog_signals: the SIGSEGV handler replaced the JVM's in the kernel (libjsig did not keep SIGSEGV)\n");
        return 1;
    }
    if (!copies()) return 1;   /* Java runs again on this thread with the host's handler saved behind the JVM's */
    return crash();
}

/* Under JAVA_TOOL_OPTIONS=-XX:StartFlightRecording: JFR's thread sampler suspends threads with
 * SIGUSR2, so the JVM keeps it (the host's SIG_DFL would end the process at the first sample). */
static int jfr(void) {
    if (!copies()) return 1;
    if (kernel_handler_is(SIGUSR2, (void *)SIG_DFL)) {
        printf("prog_signals: JFR runs but SIGUSR2 went back to SIG_DFL\n");
        return 1;
    }
    raise(SIGUSR2);   /* to the JVM's SR handler: a thread not being suspended ignores it */
    for (int r = 0; r < 20; r++)
        if (!copies()) return 1;
    printf("jfr: ok\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "dispositions")) return dispositions();
    if (!strcmp(mode, "sigpipe")) return sigpipe();
    if (!strcmp(mode, "segv-before")) return segv_before();
    if (!strcmp(mode, "segv-after")) return segv_after();
    if (!strcmp(mode, "jfr")) return jfr();
    fprintf(stderr, "usage: prog_signals dispositions|sigpipe|segv-before|segv-after|jfr\n");
    return 2;
}
