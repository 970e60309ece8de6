/*
 * One grammar, key=value[,key=value...], for -agentpath options and the PIPELLM_* variables (the
 * variable for key k is PIPELLM_<K>). C interprets only what it needs before Java runs (mode, log,
 * fail_closed, home, java_home) and hands every key on to the Java agent, which validates the rest.
 */
#include "shim_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pl_options pl_opts = {.mode = PL_OPT_MODE_PASSTHROUGH, .log_level = PL_LOG_WARN};

/* Keys read from PIPELLM_<KEY>; agent options may set any of them too. */
static const char *const ENV_KEYS[] = {
#define X(key) #key,
#include "shim_options.def"
#undef X
};

static int bad(const char *key, const char *val, const char *accepted) {
    char var[64], line[640];
    snprintf(var, sizeof var, "PIPELLM_%s", key);
    for (char *c = var; *c; c++) *c = (char)toupper((unsigned char)*c);
    snprintf(line, sizeof line, "pipellm: %s='%s' is not valid (%s, or agent option %s): accepted values: %s\n",
             key, val, var, key, accepted);
    fputs(line, stderr);
    return -1;
}

static int apply(const char *key, const char *val) {
    if (!strcmp(key, "mode")) {
        if (!strcmp(val, "off")) pl_opts.mode = PL_OPT_MODE_OFF;
        else if (!strcmp(val, "passthrough")) pl_opts.mode = PL_OPT_MODE_PASSTHROUGH;
        else if (!strcmp(val, "sync")) pl_opts.mode = PL_OPT_MODE_SYNC;
        else return bad(key, val, "off, passthrough, sync");
    } else if (!strcmp(key, "log")) {
        static const char *const levels[] = {"off", "error", "warn", "info", "debug"};
        int found = -1;
        for (int i = 0; i < 5; i++) if (!strcmp(val, levels[i])) found = i;
        if (found < 0) return bad(key, val, "off, error, warn, info, debug");
        pl_opts.log_level = found;
    } else if (!strcmp(key, "fail_closed")) {
        if (!strcmp(val, "1") || !strcmp(val, "true")) pl_opts.fail_closed = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false")) pl_opts.fail_closed = 0;
        else return bad(key, val, "0, 1, true, false");
    } else if (!strcmp(key, "home")) {
        snprintf(pl_opts.home, sizeof pl_opts.home, "%s", val);
    } else if (!strcmp(key, "java_home")) {
        snprintf(pl_opts.java_home, sizeof pl_opts.java_home, "%s", val);
    }
    return 0;
}

/* Sets key=val in the merged string (later settings override earlier ones). */
static int merge(const char *key, const char *val) {
    char rebuilt[sizeof pl_opts.merged] = "";
    size_t klen = strlen(key);
    const char *p = pl_opts.merged;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!(len > klen && !strncmp(p, key, klen) && p[klen] == '='))
            snprintf(rebuilt + strlen(rebuilt), sizeof rebuilt - strlen(rebuilt), "%s%.*s", *rebuilt ? "," : "", (int)len, p);
        p += len + (end ? 1 : 0);
    }
    int n = snprintf(rebuilt + strlen(rebuilt), sizeof rebuilt - strlen(rebuilt), "%s%s=%s", *rebuilt ? "," : "", key, val);
    if (n < 0 || strlen(rebuilt) >= sizeof rebuilt - 1) return -1;
    strcpy(pl_opts.merged, rebuilt);
    return 0;
}

static int set(const char *key, const char *val) {
    if (strchr(val, ',')) return bad(key, val, "a value without commas");
    if (apply(key, val)) return -1;
    return merge(key, val);
}

int pl_options_load(const char *agent_options) {
    for (size_t i = 0; i < sizeof ENV_KEYS / sizeof ENV_KEYS[0]; i++) {
        char var[64];
        snprintf(var, sizeof var, "PIPELLM_%s", ENV_KEYS[i]);
        for (char *c = var; *c; c++) *c = (char)toupper((unsigned char)*c);
        const char *v = getenv(var);
        if (v && set(ENV_KEYS[i], v)) return -1;
    }
    if (!pl_opts.java_home[0] && getenv("JAVA_HOME")) snprintf(pl_opts.java_home, sizeof pl_opts.java_home, "%s", getenv("JAVA_HOME"));
    if (agent_options && *agent_options) {
        char copy[sizeof pl_opts.merged];
        snprintf(copy, sizeof copy, "%s", agent_options);
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq || eq == tok) {
                fprintf(stderr, "pipellm: agent option '%s' is not key=value (e.g. mode=sync,stats=/tmp/s.json)\n", tok);
                return -1;
            }
            *eq = 0;
            if (set(tok, eq + 1)) return -1;
        }
    }
    return 0;
}
