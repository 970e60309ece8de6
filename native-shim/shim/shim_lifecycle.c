/*
 * When an upcall may not be entered. HotSpot aborts the process ("Could not attach thread for
 * upcall") when a thread enters an upcall after the VM began shutting down (a Java host that returns
 * from main: DestroyJavaVM, then the main thread's TLS destructors free simgpu's EVP context), or
 * from a thread whose JVM attachment is already gone (thread-exit destructors). So:
 *
 *  - pl_vm_dead is set at JVMTI VMDeath in the roles where the host owns the JVM (-agentpath, a
 *    Java host we joined). From then on no upcall is made. A JVM the shim created lives until
 *    _exit: its upcalls stay allowed through the host's exit handlers.
 *  - a thread-exit destructor of our own marks the exiting thread; its key is created when the
 *    shim loads, before simgpu's or a driver's keys, so glibc (which runs destructors in key order)
 *    runs ours first.
 *  - a message the agent owns cannot be finished by anyone else (the real context holds only its
 *    init): a thread that would continue one after the VM died parks for good, as HotSpot parks a
 *    Java thread that returns to Java during VM exit. The process is exiting; nothing is written.
 */
#include "shim_internal.h"

#include <pthread.h>
#include <unistd.h>

_Atomic int pl_vm_dead;

#define OWNED_PER_THREAD 4   /* the driver uses one context per thread; a few more cost nothing */

static pthread_key_t exit_key;
static int exit_key_ok;
static __thread char thread_marked, thread_exiting;
static __thread const void *owned[OWNED_PER_THREAD];
static __thread unsigned owned_next;

static void on_thread_exit(void *unused) {
    (void)unused;
    thread_exiting = 1;
}

/* Not lazy on purpose: the key must exist before any library creates its own (see above). It
 * costs one pthread key; no JVM, no symbol resolution. */
__attribute__((constructor)) static void make_exit_key(void) {
    exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

int pl_upcalls_allowed(void) {
    if (thread_exiting || atomic_load_explicit(&pl_vm_dead, memory_order_acquire)) return 0;
    if (!thread_marked) {
        thread_marked = 1;
        if (exit_key_ok) pthread_setspecific(exit_key, (void *)1);
    }
    return 1;
}

static int owned_slot(const void *ctx) {
    for (int i = 0; i < OWNED_PER_THREAD; i++) if (owned[i] == ctx) return i;
    return -1;
}

int pl_owns(const void *ctx) {
    return ctx && owned_slot(ctx) >= 0;
}

void pl_note_owned(const void *ctx, int is_owned) {
    int i = owned_slot(ctx);
    if (is_owned && i < 0) owned[owned_next++ % OWNED_PER_THREAD] = ctx;
    else if (!is_owned && i >= 0) owned[i] = NULL;
}

const pl_upcalls *pl_agent_for_message(const void *ctx) {
    if (pl_upcalls_allowed()) return pl_up;
    if (ctx && owned_slot(ctx) >= 0 && atomic_load_explicit(&pl_vm_dead, memory_order_acquire))
        for (;;) pause();
    return NULL;
}
