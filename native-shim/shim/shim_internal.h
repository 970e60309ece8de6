/*
 * libpipellm.so internals. Non-static names carry the pl_ prefix; the library is built with
 * -fvisibility=hidden and exports only the interposed names and Agent_OnLoad.
 *
 * States of the agent (pl_agent_state), written once each by the starter, read on every call:
 *   PL_AGENT_OFF      mode off, forked child, or not started and not startable: pure pass-through
 *   PL_AGENT_IDLE     not started yet (starts on the first intercepted CUDA call)
 *   PL_AGENT_READY    pl_up points to the agent's upcall table
 *   PL_AGENT_FAILED   the agent could not start: pass-through, or refusal when fail-closed
 */
#ifndef PL_SHIM_INTERNAL_H
#define PL_SHIM_INTERNAL_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include <cuda_runtime_api.h>
/* The driver's exported names (cuMemAlloc_v2 and the old cuGetProcAddress), not the header's macros. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <openssl/evp.h>

/* Exported by NVIDIA's libcudart (what -default-stream per-thread code calls); declared by the
 * headers only in that mode. */
cudaError_t cudaGetDriverEntryPoint_ptsz(const char *sym, void **fp, unsigned long long f,
                                         enum cudaDriverEntryPointQueryResult *st);
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char *sym, void **fp, unsigned int v, unsigned long long f,
                                                  enum cudaDriverEntryPointQueryResult *st);

#include "shim_bridge.h"

#define PL_API __attribute__((visibility("default")))

/* ---- the hook table (shim_hooks.def) ---- */
enum pl_lib { PL_LIB_CUDART, PL_LIB_CUDA, PL_LIB_CRYPTO };

#define X(ret, name, params, args, lib) typedef ret(*name##_fn) params;
#include "shim_hooks.def"
#undef X

typedef enum pl_hook_id {
#define X(ret, name, params, args, lib) PL_ID_##name,
#include "shim_hooks.def"
#undef X
    PL_HOOK_COUNT
} pl_hook_id;

/* Real functions, indexed by pl_hook_id; resolved lazily, one by one (a library loaded RTLD_LOCAL
 * may appear after the first intercepted call). Read by Java through the bridge too. */
extern void *_Atomic pl_real[PL_HOOK_COUNT];
extern const char *const pl_hook_names[PL_HOOK_COUNT];
void *pl_resolve(pl_hook_id id);
/* The shim's own definition of each hook (what dlsym and cuGetProcAddress hand out instead of the
 * real function), and the id of a CUDA hook (runtime or driver) by name, or -1. */
extern void *const pl_wrappers[PL_HOOK_COUNT];
int pl_cuda_hook_by_name(const char *name);
int pl_hook_kind(pl_hook_id id);   /* enum pl_lib */
/* The real dlsym (shim_dlsym.c): every lookup of the shim's own goes through it. */
void *pl_dlsym(void *handle, const char *name);
/* Resolves the OpenSSL entries a replay needs (the agent reads them from the table). */
void pl_resolve_crypto(void);
#define PL_REAL(name) ((name##_fn)(atomic_load_explicit(&pl_real[PL_ID_##name], memory_order_acquire) \
                                   ?: pl_resolve(PL_ID_##name)))

/* ---- options (shim_options.c) ---- */
/* The mode when no PIPELLM_MODE or agent option mode is given (handed to Java like any other). */
#define PL_DEFAULT_MODE "pipellm"
typedef struct pl_options {
    char mode[64];            /* "off" (C starts no agent), else the value as given: Java validates it */
    int fail_closed;
    int host_register_emulate; /* host_register=emulate (shim_host_register.c) */
    int log_level;            /* 0 quiet .. 4 debug */
    char home[4096];          /* PIPELLM_HOME: where lib/pipellm-agent.jar lives, if not beside us */
    char java_home[4096];     /* PIPELLM_JAVA_HOME, else JAVA_HOME */
    char merged[8192];        /* every key=value for the Java agent */
} pl_options;
extern pl_options pl_opts;
/* Reads the PIPELLM_* variables, then `agent_options` (may be NULL) on top. Returns 0, or -1 after
 * printing one line naming the bad key (the shim then stays in pass-through). */
int pl_options_load(const char *agent_options);
/* mode=off: the agent is never started. Every other mode value is the Java agent's to accept. */
int pl_mode_off(void);

/* ---- logging (shim_log.c): stack buffer + write(2), prefix "pipellm: " ---- */
enum { PL_LOG_QUIET = 0, PL_LOG_ERROR = 1, PL_LOG_WARN = 2, PL_LOG_INFO = 3, PL_LOG_DEBUG = 4 };
void pl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Why the agent could not start: recorded by the failing step, printed once, with the consequence,
 * by pl_agent_start (one line per failure, not one per step). */
void pl_fail_reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern char pl_failure[512];

/* ---- the agent (shim_agent.c, shim_jvm.c) ---- */
enum { PL_AGENT_OFF, PL_AGENT_IDLE, PL_AGENT_READY, PL_AGENT_FAILED };
extern _Atomic int pl_agent_state;
extern const pl_upcalls *pl_up;
/* The upcall table if the agent is ready, starting it first if it is idle; NULL otherwise. */
const pl_upcalls *pl_agent_start(void);
/* ---- when upcalls may be entered (shim_lifecycle.c) ---- */
/* Set at JVMTI VMDeath of a host-owned JVM: no upcall after it. */
extern _Atomic int pl_vm_dead;
/* False once the VM died or on a thread that is exiting. */
int pl_upcalls_allowed(void);
/* The upcall table for a driver call on ctx, or NULL; parks a thread that would continue a message
 * the agent owns after the VM died. Only when the agent is ready. */
const pl_upcalls *pl_agent_for_message(const void *ctx);
/* Records whether the agent owns the message in flight on ctx (this thread's view). */
/* The agent owns this thread's current message on ctx (its calls must all reach the agent). */
int pl_owns(const void *ctx);
void pl_note_owned(const void *ctx, int owned);

/* Set on this thread while a runtime wrapper runs the real runtime: a driver call the runtime makes
 * on the way (through a wrapper it should never hold, see shim_dlsym.c) is not reported twice. */
extern __thread int pl_in_runtime;

/* ---- who called (shim_caller.c) ---- */
/* True when return_address lies in the CUDA driver, NVIDIA's PKCS#11 library or simgpu. */
int pl_caller_is_driver(void *return_address);
/* True when addr lies in a CUDA library (libcudart.so*, libcuda.so*: NVIDIA's or simgpu's), or in
 * libpipellm.so itself. Not for hot paths (no cache). */
int pl_caller_is_cuda_library(void *addr);
int pl_in_shim(void *addr);

/* The upcall table only if the agent is already ready and upcalls are allowed (EVP calls never
 * start a JVM). */
static inline const pl_upcalls *pl_agent_if_ready(void) {
    return atomic_load_explicit(&pl_agent_state, memory_order_acquire) == PL_AGENT_READY && pl_upcalls_allowed()
           ? pl_up : NULL;
}
/* The agent cannot run: FAILED, and one line with pl_failure and the consequence. */
void pl_agent_give_up(void);
/* True when copies must be refused: the agent failed and fail-closed was asked for. */
int pl_refusing(void);

/* Creates or joins the JVM and calls Bridge.bootstrap; returns the upcall table or NULL (with
 * *retry_later set when it is only too early: an agent before VMInit). */
const pl_upcalls *pl_jvm_bootstrap(int *retry_later);
/* Path of the agent jar (beside libpipellm.so, or $PIPELLM_HOME/lib); 0 when found. */
int pl_agent_jar(char *out, size_t cap);
extern int pl_role;

/* ---- the host's signal dispositions across the JVM we create (shim_signals.c) ---- */
typedef struct pl_signal_snapshot {
    int taken;                      /* 0: nothing recorded, nothing is restored */
    unsigned char recorded[NSIG];   /* act[sig] holds the host's disposition */
    struct sigaction act[NSIG];
} pl_signal_snapshot;
/* Called on the thread that creates the JVM, right before and right after JNI_CreateJavaVM: every
 * disposition the JVM took goes back to the host's, except the error signals HotSpot needs (chained
 * to the host's handlers), the JDK's I/O wake-up signal, and SIGUSR2 while JFR runs; with libjsig
 * preloaded, libjsig is made to leave the restored signals to the host. JVM threads block SIGPIPE
 * and SIGXFSZ. Never fails the host: one line, and on. */
void pl_signals_before_jvm(pl_signal_snapshot *s);
void pl_signals_after_jvm(const pl_signal_snapshot *s);

#endif
