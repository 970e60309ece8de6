/*
 * Process exit while simgpu is busy.
 *
 * exit() (or a return from main) runs the atexit handlers and then the ELF destructors on the
 * exiting thread while every other thread keeps running: app threads in the middle of copies (the
 * "driver", doing EVP on the public libcrypto) and simgpu's stream workers (the copy engines). What
 * those handlers tear down must never be in use:
 *
 *   - the public libcrypto registers OPENSSL_cleanup with atexit on its first use; it frees the
 *     library context every EVP_EncryptInit_ex/DecryptInit_ex fetches its cipher from, so a driver
 *     thread inside EVP at that moment crashes (or its EVP calls fail and poison the context).
 *     simgpu's handler (at_exit) is registered just after that first use (simgpu_cc.c fetches the
 *     driver's cipher at channel setup), so it runs *before* OPENSSL_cleanup. It closes a gate and
 *     waits until no thread is inside a driver section (simgpu_driver_enter/leave around every
 *     public EVP call). From then on no thread calls the public libcrypto again;
 *   - the copy engine's private libcrypto is initialised with OPENSSL_INIT_NO_ATEXIT
 *     (simgpu_cc.c): its cleanup never runs, so workers may finish the op they are in.
 *
 * Once the gate is closed, a thread other than the exiting one that enters simgpu or a driver
 * section, and a stream worker between two ops, waits for the process to end: it is never
 * resumed and never returns an error the app could print or act on, so the process ends with the
 * exit code the app chose and prints nothing. Should the process still be there after
 * PARK_LIMIT_NS (an exit handler waits for one of those threads: a thread pool joined by a
 * destructor), the context ends instead, quietly, with the sticky error cudaErrorCudartUnloading:
 * every parked call and every wait then unwinds with that error, as the real runtime's calls do
 * at teardown, so simgpu never makes an exit hang. CUDA calls made on the exiting thread itself
 * after the gate (exit handlers registered before simgpu started, destructors) return
 * cudaErrorCudartUnloading at once.
 *
 * Also here: the SIMGPU_STATS file is written by a destructor that reads only atomics and the
 * configuration, and only once initialisation has finished writing it; and simgpu pins itself
 * (RTLD_NODELETE), since a dlclose of libcudart would unmap the code its worker threads run and
 * run at_exit in a live process.
 *
 * The gate is a Dekker handshake on two sequentially consistent atomics: a driver thread bumps
 * in_driver and then reads `exiting`; at_exit sets `exiting` and then reads in_driver. Either the
 * thread sees the gate closed (and backs out before any EVP call) or at_exit sees the thread and
 * waits for it to leave its section.
 */
#include "simgpu_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Waiting for driver sections to close: longer than one message's crypto can take (a 1 MiB chunk
 * takes a millisecond, through a Java interposer a few; a chunk can be up to 1 GiB: DRAIN_NS_PER_BYTE),
 * short enough that a thread stuck elsewhere in a section (an interposer blocked on a JVM that is
 * itself exiting) does not hold the exit up for long. */
#define DRAIN_BASE_NS 1000000000ull
#define DRAIN_NS_PER_BYTE 10ull
/* Far longer than exit handlers and destructors take (a few ms, with a JVM in the process tens). */
#define PARK_LIMIT_NS 5000000000ull

static _Atomic int exiting;
static _Atomic int in_driver;       /* threads between simgpu_driver_enter and simgpu_driver_leave */
static _Atomic int init_finished;   /* g.cfg is complete: the stats destructor may read it */
static _Atomic uint64_t exit_started_ns;
static __thread int exiting_thread; /* this thread runs the exit handlers */
static __thread int driver_depth;   /* this thread's open driver sections */

int simgpu_exiting(void) { return atomic_load_explicit(&exiting, memory_order_acquire); }

static void sleep_until(uint64_t deadline_ns) {
    struct timespec ts = {(time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

void simgpu_exit_wait(void) {
    if (exiting_thread) return;
    sleep_until(atomic_load(&exit_started_ns) + PARK_LIMIT_NS);
    /* Still here: something waits for this thread. End the context so that everything unwinds. */
    simgpu_poison(cudaErrorCudartUnloading, NULL);
}

cudaError_t simgpu_exit_refuse(void) {
    simgpu_exit_wait();
    return cudaErrorCudartUnloading;
}

int simgpu_driver_enter(void) {
    atomic_fetch_add(&in_driver, 1);
    if (atomic_load(&exiting)) {
        atomic_fetch_sub(&in_driver, 1);
        simgpu_exit_wait();
        return -1;
    }
    driver_depth++;
    return 0;
}

void simgpu_driver_leave(void) {
    driver_depth--;
    atomic_fetch_sub(&in_driver, 1);
}

static void at_exit(void) {
    exiting_thread = 1;
    uint64_t now = simgpu_now_ns();
    atomic_store(&exit_started_ns, now);
    atomic_store(&exiting, 1);
    /* Sections this thread had open (a signal handler that called exit) never close. */
    uint64_t deadline = now + DRAIN_BASE_NS + DRAIN_NS_PER_BYTE * g.cfg.chunk_bytes;
    while (atomic_load(&in_driver) > driver_depth && simgpu_now_ns() < deadline)
        sleep_until(simgpu_now_ns() + 50000);
}

/* A dlclose must not unmap code that worker threads run, nor run at_exit in a live process. */
static void pin_self(void) {
    Dl_info self;
    if (dladdr((void *)pin_self, &self) && self.dli_fname)
        dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

void simgpu_exit_init(void) {
    pin_self();
    if (atexit(at_exit)) simgpu_log(SIMGPU_LOG_ERROR, "cannot register the exit handler");
}

void simgpu_exit_init_finished(void) { atomic_store_explicit(&init_finished, 1, memory_order_release); }

void simgpu_exit_after_fork(void) {
    /* The parent's other threads did not come along: none of them is inside a driver section here. */
    atomic_store(&in_driver, driver_depth);
}

__attribute__((destructor)) static void at_unload(void) {
    if (atomic_load_explicit(&init_finished, memory_order_acquire) && g.cfg.stats_path[0]) simgpu_stats_write();
}
