/*
 * SIMGPU_* variables. Every default is a public H100 figure or a documented modelling choice
 * (docs/simgpu.md lists each with its source). A malformed value is an error that names the
 * variable and what it accepts; simgpu then refuses to initialise rather than guess.
 */
#include "simgpu_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PCIE_GBPS 50.0                    /* PCIe Gen5 x16, practical CE rate */
#define DEFAULT_D2D_GBPS 1500.0                   /* HBM3 3.35 TB/s, read + write per byte */
#define DEFAULT_COPY_LATENCY_NS 2000ull           /* small non-CC device copy, nvtrust #42 */
#define DEFAULT_MEMORY_BYTES (81559ull << 20)     /* nvidia-smi: H100 80GB HBM3 = 81559 MiB */
#define DEFAULT_CHUNK_BYTES (1ull << 20)          /* PipeLLM block_unit: one IV per 1 MiB */
#define DEFAULT_BOUNCE_POOL_BYTES (16ull << 20)   /* unconfirmed for the UMD: 16 chunks */
#define DEFAULT_KEY_ROTATION_BYTES 388736063984ull /* 24,296,003,999 units x 16 B (R570 default) */
#define DEFAULT_IV_ROTATION_MESSAGES 4294967295ull /* 32-bit message counter limit (CSL) */

static int bad(const char *var, const char *val, const char *expected) {
    /* Config errors are printed whatever SIMGPU_LOG says: they stop simgpu from starting. */
    char line[512];
    int n = snprintf(line, sizeof line, "simgpu: %s='%s' is not valid: expected %s\n", var, val, expected);
    if (n > 0) fputs(line, stderr);
    return -1;
}

/* Integer with an optional binary suffix: 4096, 64K, 1M, 1MiB, 80G, 2T. */
static int parse_size(const char *var, const char *val, uint64_t min, uint64_t max, uint64_t *out) {
    const char *expected_fmt = "a byte count such as 1048576, 64K, 1M, 80G (binary suffixes K M G T)";
    if (!*val || !isdigit((unsigned char)val[0])) return bad(var, val, expected_fmt);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno) return bad(var, val, expected_fmt);
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (*end == 'i' || *end == 'I')) end++;
    if (shift && (*end == 'B' || *end == 'b')) end++;
    if (*end) return bad(var, val, expected_fmt);
    if (shift && v > (UINT64_MAX >> shift)) return bad(var, val, expected_fmt);
    v <<= shift;
    if (v < min || v > max) {
        char range[160];
        snprintf(range, sizeof range, "a byte count between %llu and %llu", (unsigned long long)min,
                 (unsigned long long)max);
        return bad(var, val, range);
    }
    *out = v;
    return 0;
}

static int parse_gbps(const char *var, const char *val, double *out) {
    errno = 0;
    char *end;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !(v > 0.0) || v > 1e6)
        return bad(var, val, "a positive number of GB/s (decimal, e.g. 50 or 25.5)");
    *out = v;
    return 0;
}

int simgpu_config_load(simgpu_config *c) {
    memset(c, 0, sizeof *c);
    c->cc_on = 1;
    c->pcie_gbps = DEFAULT_PCIE_GBPS;
    c->d2d_gbps = DEFAULT_D2D_GBPS;
    c->copy_latency_ns = DEFAULT_COPY_LATENCY_NS;
    c->memory_bytes = DEFAULT_MEMORY_BYTES;
    c->chunk_bytes = DEFAULT_CHUNK_BYTES;
    c->bounce_pool_bytes = DEFAULT_BOUNCE_POOL_BYTES;
    c->verify_every = 1;
    c->key_rotation_bytes = DEFAULT_KEY_ROTATION_BYTES;
    c->iv_rotation_messages = DEFAULT_IV_ROTATION_MESSAGES;
    c->log_level = SIMGPU_LOG_ERROR;
    c->ledger_fd = -1;

    const char *v;
    if ((v = getenv("SIMGPU_LOG"))) {
        if (!strcmp(v, "quiet")) c->log_level = SIMGPU_LOG_QUIET;
        else if (!strcmp(v, "error")) c->log_level = SIMGPU_LOG_ERROR;
        else if (!strcmp(v, "info")) c->log_level = SIMGPU_LOG_INFO;
        else if (!strcmp(v, "debug")) c->log_level = SIMGPU_LOG_DEBUG;
        else return bad("SIMGPU_LOG", v, "one of quiet, error, info, debug");
    }
    if ((v = getenv("SIMGPU_CC"))) {
        if (!strcmp(v, "on") || !strcmp(v, "1")) c->cc_on = 1;
        else if (!strcmp(v, "off") || !strcmp(v, "0")) c->cc_on = 0;
        else return bad("SIMGPU_CC", v, "on or off");
    }
    if ((v = getenv("SIMGPU_PCIE_GBPS")) && parse_gbps("SIMGPU_PCIE_GBPS", v, &c->pcie_gbps)) return -1;
    if ((v = getenv("SIMGPU_D2D_GBPS")) && parse_gbps("SIMGPU_D2D_GBPS", v, &c->d2d_gbps)) return -1;
    if ((v = getenv("SIMGPU_COPY_LATENCY_NS"))) {
        errno = 0;
        char *end;
        unsigned long long ns = strtoull(v, &end, 10);
        if (errno || end == v || *end || !isdigit((unsigned char)v[0]) || ns > 1000000000ull)
            return bad("SIMGPU_COPY_LATENCY_NS", v, "an integer number of nanoseconds from 0 to 1000000000");
        c->copy_latency_ns = ns;
    }
    if ((v = getenv("SIMGPU_MEMORY_BYTES")) &&
        parse_size("SIMGPU_MEMORY_BYTES", v, 1ull << 20, 1ull << 46, &c->memory_bytes)) return -1;
    if ((v = getenv("SIMGPU_CC_CHUNK_BYTES")) &&
        parse_size("SIMGPU_CC_CHUNK_BYTES", v, 16, 1ull << 30, &c->chunk_bytes)) return -1;
    if ((v = getenv("SIMGPU_BOUNCE_POOL_BYTES")) &&
        parse_size("SIMGPU_BOUNCE_POOL_BYTES", v, 16, 1ull << 34, &c->bounce_pool_bytes)) return -1;
    if (c->bounce_pool_bytes < c->chunk_bytes) {
        char val[32], exp[128];
        snprintf(val, sizeof val, "%llu", (unsigned long long)c->bounce_pool_bytes);
        snprintf(exp, sizeof exp, "at least one chunk (SIMGPU_CC_CHUNK_BYTES=%llu)",
                 (unsigned long long)c->chunk_bytes);
        return bad("SIMGPU_BOUNCE_POOL_BYTES", val, exp);
    }
    if ((v = getenv("SIMGPU_VERIFY"))) {
        if (!strcmp(v, "full")) {
            c->verify_every = 1;
        } else if (!strncmp(v, "sampled:", 8) && isdigit((unsigned char)v[8])) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v + 8, &end, 10);
            if (errno || *end || n < 2 || n > 1000000) return bad("SIMGPU_VERIFY", v, "full or sampled:N with N from 2 to 1000000");
            c->verify_every = n;
        } else {
            return bad("SIMGPU_VERIFY", v, "full or sampled:N with N from 2 to 1000000");
        }
    }
    if ((v = getenv("SIMGPU_KEY_ROTATION_BYTES")) &&
        parse_size("SIMGPU_KEY_ROTATION_BYTES", v, 4096, 1ull << 50, &c->key_rotation_bytes)) return -1;
    if ((v = getenv("SIMGPU_IV_ROTATION_MESSAGES")) &&
        parse_size("SIMGPU_IV_ROTATION_MESSAGES", v, 1, 4294967295ull, &c->iv_rotation_messages)) return -1;
    if ((v = getenv("SIMGPU_STATS")) && *v) {
        if (strlen(v) >= sizeof c->stats_path) return bad("SIMGPU_STATS", v, "a file path shorter than 4096 bytes");
        strcpy(c->stats_path, v);
    }
    if ((v = getenv("SIMGPU_H2D_CHANNELS"))) {
        if (!strcmp(v, "per-context")) c->h2d_per_stream = 0;
        else if (!strcmp(v, "per-stream")) c->h2d_per_stream = 1;
        else return bad("SIMGPU_H2D_CHANNELS", v, "per-context or per-stream");
    }
    if ((v = getenv("SIMGPU_LEDGER")) && *v) {
        if (strlen(v) >= sizeof c->ledger_path) return bad("SIMGPU_LEDGER", v, "a file path shorter than 4096 bytes");
        strcpy(c->ledger_path, v);
        /* Last, so that no other variable's error leaves it open. Appended to, never truncated. */
        c->ledger_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (c->ledger_fd < 0) {
            char why[160];
            snprintf(why, sizeof why, "a file simgpu can create or append to (%s)", strerror(errno));
            return bad("SIMGPU_LEDGER", v, why);
        }
    }
    return 0;
}
