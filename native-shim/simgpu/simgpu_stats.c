/* Counters (relaxed atomics: only totals matter) and the SIMGPU_STATS JSON file written at exit. */
#include "simgpu_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static _Atomic uint64_t counters[ST_COUNT];

static const char *const NAMES[ST_COUNT] = {
    [ST_H2D_COPIES] = "h2d_copies", [ST_D2H_COPIES] = "d2h_copies", [ST_D2D_COPIES] = "d2d_copies",
    [ST_H2D_BYTES] = "h2d_bytes", [ST_D2H_BYTES] = "d2h_bytes", [ST_D2D_BYTES] = "d2d_bytes",
    [ST_H2D_MESSAGES] = "h2d_messages", [ST_D2H_MESSAGES] = "d2h_messages",
    [ST_VERIFIED_MESSAGES] = "verified_messages", [ST_UNVERIFIED_MESSAGES] = "unverified_messages",
    [ST_TAG_FAILURES] = "tag_failures", [ST_KEY_ROTATIONS] = "key_rotations",
    [ST_IV_ROTATIONS] = "iv_rotations", [ST_BOUNCE_WAITS] = "bounce_waits", [ST_COMPUTE_NS] = "compute_ns",
    [ST_H2D_DRIVER_CRYPTO_NS] = "h2d_driver_crypto_ns", [ST_D2H_DRIVER_CRYPTO_NS] = "d2h_driver_crypto_ns",
    [ST_H2D_CHANNELS_OPENED] = "h2d_channels_opened", [ST_H2D_CHANNELS_CLOSED] = "h2d_channels_closed",
};

void simgpu_count(enum simgpu_counter c, uint64_t n) { atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed); }

uint64_t simgpu_counter_get(enum simgpu_counter c) { return atomic_load_explicit(&counters[c], memory_order_relaxed); }

SIMGPU_API cudaError_t simgpuGetStats(simgpuStats *out) {
    if (!out) return simgpu_ret(cudaErrorInvalidValue);
    unsigned long long *f[ST_COUNT] = {
        &out->h2d_copies, &out->d2h_copies, &out->d2d_copies, &out->h2d_bytes, &out->d2h_bytes, &out->d2d_bytes,
        &out->h2d_messages, &out->d2h_messages, &out->verified_messages, &out->unverified_messages,
        &out->tag_failures, &out->key_rotations, &out->iv_rotations, &out->bounce_waits, &out->compute_ns,
        &out->h2d_driver_crypto_ns, &out->d2h_driver_crypto_ns, &out->h2d_channels_opened, &out->h2d_channels_closed,
    };
    for (int i = 0; i < ST_COUNT; i++) *f[i] = simgpu_counter_get((enum simgpu_counter)i);
    return cudaSuccess;
}

void simgpu_stats_write(void) {
    char buf[2048];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"cc\": %s, \"verify_every\": %llu, \"poisoned\": %d",
                          g.cfg.cc_on ? "true" : "false", (unsigned long long)g.cfg.verify_every, (int)simgpu_poisoned());
    for (int i = 0; i < ST_COUNT && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, ", \"%s\": %llu", NAMES[i],
                              (unsigned long long)simgpu_counter_get((enum simgpu_counter)i));
    if (n < sizeof buf) n += (size_t)snprintf(buf + n, sizeof buf - n, "}\n");
    if (n >= sizeof buf) return;
    int fd = open(g.cfg.stats_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        simgpu_log(SIMGPU_LOG_ERROR, "cannot write SIMGPU_STATS file %s", g.cfg.stats_path);
        return;
    }
    ssize_t w = write(fd, buf, n);
    (void)w;
    close(fd);
}
