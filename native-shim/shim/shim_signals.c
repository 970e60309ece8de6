/*
 * The host's signal dispositions across the JVM the shim creates (LD_PRELOAD role only: a JVM the
 * host made itself, under -agentpath or joined, is the host's business).
 *
 * What HotSpot changes while JNI_CreateJavaVM runs, with -Xrs (src/hotspot/os/posix/signals_posix.cpp,
 * PosixSignals::init): SR_initialize takes SR_signum (SIGUSR2), then install_signal_handlers takes
 * SIGSEGV, SIGPIPE, SIGBUS, SIGILL, SIGFPE and SIGXFSZ (SIGTRAP on PPC64 only), chaining to whatever
 * handler was there before. Right after it returns, every disposition that now holds a handler of
 * libjvm.so goes back to the host's, except
 *   - the synchronous error signals SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: HotSpot needs them
 *     (implicit null checks, safepoint polls) and chains the host's handlers itself;
 *   - SR_signum while JFR runs (started with the JVM, -XX:StartFlightRecording in JAVA_TOOL_OPTIONS):
 *     JFR's thread sampler suspends threads with it, and the host's SIG_DFL would end the process;
 *   - SIGRTMAX-2, the JDK's I/O wake-up signal (libnet's linux_close.c, libnio's NativeThread.c):
 *     the JDK installs a no-op handler when those libraries load, later than this point, and sends
 *     the signal to its own threads to interrupt blocking I/O. The default action would end the host.
 * A disposition that changed to anything but a libjvm handler was changed by the host (another of
 * its threads, while the JVM started) and stays. SIGPIPE and SIGXFSZ go back to the host, so a JVM
 * thread's write to a closed pipe would now end the process: the thread that creates the JVM blocks
 * both first, and every JVM thread inherits that mask (hotspot_sigmask unblocks only the error
 * signals and SR_signum), so such a write returns EPIPE/EFBIG on JVM threads, as Java expects.
 * Giving SIGUSR2 back costs the JVM what suspends threads with SR_signum: JFR's thread sampling
 * (which is why JFR keeps it). _JAVA_SR_SIGNUM would only move SR_signum onto another of the host's
 * signals, and setting it means setenv in a multi-threaded host.
 *
 * libjsig (src/java.base/unix/native/libjsig/jsig.c), when preloaded, records the signals the JVM
 * set between JVM_begin_signal_setting and JVM_end_signal_setting (its jvmsigs) and from then on only
 * saves, never installs, what the host sets for them. A restore through libc alone would leave
 * libjsig swallowing the host's later handlers for SIGPIPE and SIGXFSZ. So, while libjsig holds
 * other threads' signal calls (between begin and end), the restore runs, taking for those signals
 * what libjsig saved (the host's disposition, or what the host asked for while the JVM started), and
 * jvmsigs is rebuilt with the error signals only: begin empties it; our sigaction through libjsig of
 * each error signal, with the handler the kernel already holds, adds it back (the kernel keeps the
 * JVM's handler); after end, a second sigaction puts the host's chained handler back into libjsig's
 * slot (its save-only path). Between the two, a real crash would chain to the JVM's own handler and
 * die as if the host had none: a window of a few calls, right after the JVM started.
 *
 * Everything here runs once, on the thread that creates the JVM. A failure logs one line and the
 * host runs on, with whatever dispositions the JVM left.
 */
#include "shim_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* The JDK's INTERRUPT_SIGNAL / sigWakeup, spelled as the JDK spells it (the kernel's SIGRTMAX). */
#define JDK_WAKEUP_SIGNAL (__SIGRTMAX - 2)

static sigaction_fn libc_act;   /* written by pl_signals_before_jvm, read after, on the same thread */

/* The C library's own sigaction, looked up in libc.so.6 itself: no preloaded interposer (libjsig)
 * stands between it and the kernel, whatever the order of LD_PRELOAD. */
static sigaction_fn find_libc_sigaction(void) {
    void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
    if (!libc) return NULL;
    sigaction_fn fn = (sigaction_fn)pl_dlsym(libc, "sigaction");
    dlclose(libc);   /* RTLD_NOLOAD took a reference: give it back, libc stays loaded */
    return fn;
}

static int is_error_signal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
}

/* Signals whose disposition goes back to the host's after the JVM started. */
static int returns_to_host(int sig) {
    if (sig == SIGKILL || sig == SIGSTOP || is_error_signal(sig) || sig == JDK_WAKEUP_SIGNAL) return 0;
    return sig < __SIGRTMIN || sig >= SIGRTMIN;   /* __SIGRTMIN..SIGRTMIN-1 belong to the C library */
}

static void read_action(int sig, struct sigaction *out) {
    memset(out, 0, sizeof *out);
    libc_act(sig, NULL, out);
}

/* Handler, flags and the mask as the kernel keeps it (libc leaves the rest of sa_mask undefined). */
static int same_action(const struct sigaction *a, const struct sigaction *b) {
    if (a->sa_sigaction != b->sa_sigaction || a->sa_flags != b->sa_flags) return 0;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&a->sa_mask, sig) != sigismember(&b->sa_mask, sig)) return 0;
    return 1;
}

/* A handler of HotSpot's (javaSignalHandler, SR_handler, ...), as opposed to SIG_DFL, SIG_IGN or
 * one the host set. */
static int jvm_handler(const struct sigaction *a) {
    if (a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN) return 0;
    Dl_info where;
    if (!dladdr((void *)a->sa_sigaction, &where) || !where.dli_fname) return 0;
    const char *base = strrchr(where.dli_fname, '/');
    return !strcmp(base ? base + 1 : where.dli_fname, "libjvm.so");
}

void pl_signals_before_jvm(pl_signal_snapshot *s) {
    memset(s, 0, sizeof *s);
    libc_act = find_libc_sigaction();
    if (!libc_act) {
        pl_log(PL_LOG_WARN, "cannot find the C library's sigaction: the JVM may change the host's signal dispositions");
        return;
    }
    for (int sig = 1; sig < NSIG; sig++) {
        if (!returns_to_host(sig)) continue;
        memset(&s->act[sig], 0, sizeof s->act[sig]);
        s->recorded[sig] = libc_act(sig, NULL, &s->act[sig]) == 0;
    }
    s->taken = 1;
    sigset_t jvm_ignores;
    sigemptyset(&jvm_ignores);
    sigaddset(&jvm_ignores, SIGPIPE);
    sigaddset(&jvm_ignores, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &jvm_ignores, NULL);   /* this thread is ours; JVM threads inherit it */
}

/* HotSpot's SR_signum, chosen as SR_initialize chooses it (signals_posix.cpp). */
static int sr_signum(void) {
    const char *env = getenv("_JAVA_SR_SIGNUM");
    long sig = env ? strtol(env, NULL, 10) : 0;
    return sig > SIGSEGV && sig > SIGBUS && sig < NSIG ? (int)sig : SIGUSR2;
}

/* JFR started with the JVM: its threads ("JFR Recorder Thread", ...) run by the time
 * JNI_CreateJavaVM returns. */
static int jfr_running(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(tasks))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
        if (!f) continue;
        found = fgets(comm, sizeof comm, f) && !strncmp(comm, "JFR ", 4);
        fclose(f);
    }
    closedir(tasks);
    return found;
}

typedef struct restore_plan {
    int keep;                        /* a signal that stays the JVM's, or 0 */
    const struct sigaction *held;    /* libjsig's saved actions, indexed by signal; NULL without it */
    const unsigned char *held_set;   /* which entries of held are set */
    int failed, first_failed;
    char names[256];                 /* the signals given back, for the debug line */
} restore_plan;

/* Puts back the host's disposition wherever the JVM installed a handler of its own. */
static void restore(const pl_signal_snapshot *s, restore_plan *p) {
    size_t n = 0;
    for (int sig = 1; sig < NSIG; sig++) {
        if (!s->recorded[sig] || sig == p->keep) continue;
        struct sigaction now;
        read_action(sig, &now);
        if (same_action(&now, &s->act[sig]) || !jvm_handler(&now)) continue;
        const struct sigaction *host = p->held && p->held_set[sig] ? &p->held[sig] : &s->act[sig];
        if (libc_act(sig, host, NULL)) {
            if (!p->failed++) p->first_failed = sig;
        } else if (n < sizeof p->names) {
            n += (size_t)snprintf(p->names + n, sizeof p->names - n, " %d", sig);
        }
    }
}

typedef struct libjsig {
    void (*begin)(void);
    void (*end)(void);
    struct sigaction *(*get)(int);
    sigaction_fn sigaction;   /* libjsig's own, even when it is not first in the lookup order */
} libjsig;

/* libjsig as HotSpot finds it (dlsym(RTLD_DEFAULT, "JVM_begin_signal_setting")); 0 when found. */
static int find_libjsig(libjsig *j) {
    memset(j, 0, sizeof *j);
    j->begin = (void (*)(void))pl_dlsym(RTLD_DEFAULT, "JVM_begin_signal_setting");
    j->end = (void (*)(void))pl_dlsym(RTLD_DEFAULT, "JVM_end_signal_setting");
    j->get = (struct sigaction * (*)(int)) pl_dlsym(RTLD_DEFAULT, "JVM_get_signal_action");
    Dl_info where;
    if (!j->begin || !j->end || !j->get || !dladdr((void *)j->begin, &where) || !where.dli_fname) return -1;
    void *h = dlopen(where.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
    if (!h) return -1;
    j->sigaction = (sigaction_fn)pl_dlsym(h, "sigaction");
    dlclose(h);
    return j->sigaction ? 0 : -1;
}

/* The restore inside libjsig's installing window, and jvmsigs rebuilt with the error signals only
 * (see the top of this file). 0 when libjsig ends up as planned. */
static int restore_with_libjsig(const pl_signal_snapshot *s, const libjsig *j, restore_plan *p) {
    struct sigaction held[NSIG];
    unsigned char held_set[NSIG] = {0};
    for (int sig = 1; sig < NSIG; sig++) {
        const struct sigaction *saved = j->get(sig);
        if (saved) {
            held[sig] = *saved;
            held_set[sig] = 1;
        }
    }
    p->held = held;
    p->held_set = held_set;
    j->begin();
    restore(s, p);
    for (int sig = 1; sig < NSIG; sig++) {
        if (!held_set[sig] || !is_error_signal(sig)) continue;
        struct sigaction jvm;
        read_action(sig, &jvm);
        j->sigaction(sig, &jvm, NULL);   /* installing: the kernel keeps the JVM's handler */
    }
    j->end();
    for (int sig = 1; sig < NSIG; sig++)
        if (held_set[sig] && is_error_signal(sig)) j->sigaction(sig, &held[sig], NULL);   /* saved only */
    p->held = NULL;
    for (int sig = 1; sig < NSIG; sig++) {
        const struct sigaction *now = j->get(sig);
        int chained = held_set[sig] && is_error_signal(sig);
        if (chained ? !now || !same_action(now, &held[sig]) : now != NULL) return -1;
    }
    return 0;
}

void pl_signals_after_jvm(const pl_signal_snapshot *s) {
    if (!s->taken) return;
    restore_plan plan;
    memset(&plan, 0, sizeof plan);
    if (jfr_running()) {
        plan.keep = sr_signum();
        pl_log(PL_LOG_WARN, "JFR runs in the embedded JVM: signal %d stays the JVM's (JFR thread sampling), "
                            "not the host's", plan.keep);
    }
    libjsig j;
    int others = 0;   /* libjsig holds signals besides the error signals: SIGPIPE, SIGXFSZ */
    if (!find_libjsig(&j))
        for (int sig = 1; sig < NSIG; sig++) others |= !is_error_signal(sig) && j.get(sig) != NULL;
    if (!others) restore(s, &plan);
    else if (restore_with_libjsig(s, &j, &plan))
        pl_log(PL_LOG_WARN, "libjsig did not take back the JVM's signal set: handlers the host installs later "
                            "for SIGPIPE or SIGXFSZ may not be installed");
    if (plan.failed)
        pl_log(PL_LOG_WARN, "could not restore %d of the host's signal dispositions (first: signal %d)", plan.failed,
               plan.first_failed);
    pl_log(PL_LOG_DEBUG, "signals given back to the host after the JVM started:%s", plan.names[0] ? plan.names : " none");
}
