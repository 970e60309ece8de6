/* Simulated time is real monotonic time: modelled durations are slept, never skipped. */
#include "simgpu_internal.h"

#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

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
    struct timespec ts = {(time_t)(deadline_ns / 1000000000ull), (long)(deadline_ns % 1000000000ull)};
    while (simgpu_now_ns() < deadline_ns) {
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc != 0 && rc != EINTR) break;
    }
}

uint64_t simgpu_transfer_ns(uint64_t bytes, double gbps) {
    /* GB/s here are decimal (1e9 B/s), so ns = bytes / gbps. */
    return (uint64_t)((double)bytes / gbps + 0.5);
}
