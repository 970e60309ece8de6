/*
 * Test programs reading PipeLLM's own statistics while they run: the agent rewrites the
 * PIPELLM_STATS file every PIPELLM_STATS_INTERVAL_MS, so a program can wait until the pipeline is
 * warm (the fast path is in use) before the part of it a test measures, and measure exactly the
 * messages of that part (after a quiet pause longer than the interval, the file is current).
 */
#ifndef PIPELLM_TEST_AGENT_STATS_H
#define PIPELLM_TEST_AGENT_STATS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The counter `key` of the PIPELLM_STATS file, or -1 when there is no file (yet) or no such key. */
static long agent_stat(const char *key) {
    const char *path = getenv("PIPELLM_STATS");
    if (!path || !*path) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char pattern[96];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(buf, pattern);
    return at ? strtol(at + strlen(pattern), NULL, 10) : -1;
}

/* Sleeps long enough for the agent to have rewritten its statistics since the last copy. */
static void agent_stats_settle(void) {
    const char *v = getenv("PIPELLM_STATS_INTERVAL_MS");
    long ms = v ? atol(v) : 1000;
    struct timespec ts = {(3 * ms + 50) / 1000, ((3 * ms + 50) % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
