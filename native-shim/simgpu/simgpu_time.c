/* Simulated time is real monotonic time: modelled durations are slept, never skipped. */
#include "simgpu_internal.h"

#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#define SPIN_NS 30000ull   /* longest busy wait before blocking or after sleeping */

uint64_t simgpu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void simgpu_sleep_until(uint64_t deadline_ns) {
    /* Default timer slack (50 us) would round every short copy up; ask for 1 ns once per thread. */
    static __thread int slack_set;
    if (!slack_set) {
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
        slack_set = 1;
    }
    /* Sleep while far from the deadline, spin the last stretch: a wake-up overshoots by ~20 us. */
    uint64_t now = simgpu_now_ns();
    if (deadline_ns > now + SPIN_NS) {
        uint64_t wake = deadline_ns - SPIN_NS;
        struct timespec ts = {(time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull)};
        while (simgpu_now_ns() < wake) {
            int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            if (rc != 0 && rc != EINTR) break;
        }
    }
    while (simgpu_now_ns() < deadline_ns) sched_yield();   /* yield: on 2 cores a peer may need this one */
}

static void wait_spinning(pthread_cond_t *cv, pthread_mutex_t *mu, _Atomic uint64_t *gen) {
    uint64_t seen = atomic_load(gen);
    pthread_mutex_unlock(mu);
    uint64_t until = simgpu_now_ns() + SPIN_NS;
    int changed = 0;
    while (!changed && simgpu_now_ns() < until)
        for (int i = 0; i < 16 && !(changed = atomic_load(gen) != seen); i++) sched_yield();
    pthread_mutex_lock(mu);
    /* Broadcasts happen under mu, so none can slip between this check and the wait. */
    if (atomic_load(gen) == seen) pthread_cond_wait(cv, mu);
}

void simgpu_wait_sched(void) { wait_spinning(&g.cv, &g.mu, &g.sched_gen); }
void simgpu_wait_cc(void) { wait_spinning(&g.cc_cv, &g.cc_mu, &g.cc_gen); }

void simgpu_wake_sched(void) {
    atomic_fetch_add(&g.sched_gen, 1);
    pthread_cond_broadcast(&g.cv);
}

void simgpu_wake_cc(void) {
    atomic_fetch_add(&g.cc_gen, 1);
    pthread_cond_broadcast(&g.cc_cv);
}

uint64_t simgpu_transfer_ns(uint64_t bytes, double gbps) {
    /* GB/s here are decimal (1e9 B/s), so ns = bytes / gbps. */
    return (uint64_t)((double)bytes / gbps + 0.5);
}
