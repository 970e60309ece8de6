/*
 * Starting the agent once, lazily, on the first intercepted CUDA call (never in a constructor:
 * every process that inherits LD_PRELOAD would boot a JVM, and libraries dlopen'ed later would not
 * be there yet). After fork() the child never touches the parent's JVM.
 */
#include "shim_internal.h"

#include <pthread.h>
#include <stdlib.h>

_Atomic int pl_agent_state = PL_AGENT_IDLE;
const pl_upcalls *pl_up;

static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static int options_loaded;

static void child_after_fork(void) {
    /* The JVM's threads did not survive the fork: pass through, or refuse when fail-closed. */
    atomic_store(&pl_agent_state, pl_opts.fail_closed ? PL_AGENT_FAILED : PL_AGENT_OFF);
}

static void flush_at_exit(void) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up && up->on_exit) up->on_exit();
}

int pl_refusing(void) {
    return pl_opts.fail_closed && (atomic_load_explicit(&pl_agent_state, memory_order_acquire) == PL_AGENT_FAILED
                                   || atomic_load_explicit(&pl_vm_dead, memory_order_acquire));
}

/* The mode as given (Java accepted it by the time the agent is ready). */
static const char *mode_name(void) { return pl_opts.mode; }

void pl_agent_give_up(void) {
    atomic_store_explicit(&pl_agent_state, PL_AGENT_FAILED, memory_order_release);
    pl_log(PL_LOG_ERROR, "%s: %s", pl_failure[0] ? pl_failure : "the agent did not start",
           pl_opts.fail_closed ? "refusing copies (fail-closed)" : "running without PipeLLM (plain OpenSSL path)");
}

/* Under start_mu, state IDLE: loads the options (preload role), then creates or joins the JVM. */
static void start_locked(void) {
    if (pl_role != PL_ROLE_AGENTPATH && !options_loaded) {
        options_loaded = 1;
        if (pl_options_load(NULL)) {   /* it printed which option, and why */
            pl_fail_reason("invalid options");
            pl_agent_give_up();
            return;
        }
        if (pl_mode_off()) {
            atomic_store_explicit(&pl_agent_state, PL_AGENT_OFF, memory_order_release);
            return;
        }
    }
    int retry = 0;
    const pl_upcalls *up = pl_jvm_bootstrap(&retry);
    if (!up) {
        if (!retry) pl_agent_give_up();
        return;
    }
    pl_up = up;
    pthread_atfork(NULL, NULL, child_after_fork);
    /* Only a JVM we created outlives the host's exit handlers; in a Java host (agent or joined) the
     * agent's own shutdown hook writes the statistics. */
    if (pl_role == PL_ROLE_PRELOAD) atexit(flush_at_exit);
    atomic_store_explicit(&pl_agent_state, PL_AGENT_READY, memory_order_release);
    pl_log(PL_LOG_INFO, "agent ready, mode %s", mode_name());
}

const pl_upcalls *pl_agent_start(void) {
    int state = atomic_load_explicit(&pl_agent_state, memory_order_acquire);
    if (state == PL_AGENT_READY) return pl_agent_if_ready();
    if (state != PL_AGENT_IDLE) return NULL;
    pthread_mutex_lock(&start_mu);
    if (atomic_load(&pl_agent_state) == PL_AGENT_IDLE) start_locked();
    pthread_mutex_unlock(&start_mu);
    return pl_agent_if_ready();
}
