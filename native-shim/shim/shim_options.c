/*
 * One grammar, key=value[,key=value...], for -agentpath options and the PIPELLM_* variables (the
 * variable for key k is PIPELLM_<K>, every key is in shim_options.def). C interprets only what it
 * needs before Java runs (log, fail_closed, host_register, home, java_home, and of mode only whether
 * it is off) and hands every key on to the Java agent, which validates the rest: a mode C does not
 * know (a typo, or one this shim predates) is refused by Java with one line naming PIPELLM_MODE, and
 * the shim then gives up as for any refused option.
 *
 * A bad value never stops the reading: every key is read, so a bad PIPELLM_MODE cannot hide
 * PIPELLM_FAIL_CLOSED=1, and a fail_closed value that is not understood means closed.
 */
#include "shim_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

pl_options pl_opts = {.mode = PL_DEFAULT_MODE, .log_level = PL_LOG_WARN};
static int mode_given;

int pl_mode_off(void) { return !strcmp(pl_opts.mode, "off"); }

static const char *const OPTION_KEYS[] = {
#define X(key) #key,
#include "shim_options.def"
#undef X
};
#define N_OPTION_KEYS (sizeof OPTION_KEYS / sizeof OPTION_KEYS[0])

/* PIPELLM_* variables of the tools (tests, replay): known, but not options. */
static const char *const TOOL_KEYS[] = {
#define X(key)
#define V(key) #key,
#include "shim_options.def"
#undef V
#undef X
};

static void variable_of(const char *key, char *var, size_t cap) {
    snprintf(var, cap, "PIPELLM_%s", key);
    for (char *c = var; *c; c++) *c = (char)toupper((unsigned char)*c);
}

static int bad(const char *key, const char *val, const char *accepted) {
    char var[64];
    variable_of(key, var, sizeof var);
    fprintf(stderr, "pipellm: %s='%s' is not valid (%s, or agent option %s): accepted values: %s\n", key, val, var,
            key, accepted);
    return -1;
}

static int apply(const char *key, const char *val) {
    if (!strcmp(key, "mode")) {
        snprintf(pl_opts.mode, sizeof pl_opts.mode, "%s", val);   /* Java validates it (whole, in merged) */
        mode_given = 1;
    } else if (!strcmp(key, "log")) {
        static const char *const levels[] = {"off", "error", "warn", "info", "debug"};
        int found = -1;
        for (int i = 0; i < 5; i++) if (!strcmp(val, levels[i])) found = i;
        if (found < 0) return bad(key, val, "off, error, warn, info, debug");
        pl_opts.log_level = found;
    } else if (!strcmp(key, "fail_closed")) {
        if (!strcmp(val, "0") || !strcmp(val, "false")) {
            pl_opts.fail_closed = 0;
        } else {
            pl_opts.fail_closed = 1;   /* "1", "true", and anything not understood: closed */
            if (strcmp(val, "1") && strcmp(val, "true")) return bad(key, val, "0, 1, true, false (taken as 1)");
        }
    } else if (!strcmp(key, "host_register")) {
        if (strcmp(val, "off") && strcmp(val, "emulate")) return bad(key, val, "off, emulate");
        pl_opts.host_register_emulate = !strcmp(val, "emulate");
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
    if (n < 0 || strlen(rebuilt) >= sizeof rebuilt - 1) {
        fprintf(stderr, "pipellm: the options are longer than %zu bytes\n", sizeof rebuilt - 2);
        return -1;
    }
    strcpy(pl_opts.merged, rebuilt);
    return 0;
}

static int set(const char *key, const char *val) {
    int rc = apply(key, val);   /* even with a comma: fail_closed=1,x must still close */
    if (strchr(val, ',')) return bad(key, val, "a value without commas");
    return rc ? rc : merge(key, val);
}

/* Levenshtein distance, for "did you mean": keys are short (< 32 bytes). */
static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), row[32];
    if (la >= 32 || lb >= 32) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static int is_option_key(const char *key) {
    for (size_t i = 0; i < N_OPTION_KEYS; i++) if (!strcmp(key, OPTION_KEYS[i])) return 1;
    return 0;
}

/* The known key closest to `key` ("" when none is close enough to be a typo). */
static const char *closest_key(const char *key) {
    const char *best = "";
    size_t best_d = strlen(key) / 3 + 2;
    for (size_t i = 0; i < N_OPTION_KEYS; i++) {
        size_t d = distance(key, OPTION_KEYS[i]);
        if (d < best_d) {
            best_d = d;
            best = OPTION_KEYS[i];
        }
    }
    return best;
}

static void known_keys(char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < N_OPTION_KEYS && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", OPTION_KEYS[i]);
}

/* A typo in a variable name (PIPELLM_WROKERS) would silently keep the default: say so, once. */
static void warn_unknown_variables(void) {
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "PIPELLM_", 8)) continue;
        char key[64];
        size_t len = strcspn(*e + 8, "=");
        if (len >= sizeof key) len = sizeof key - 1;
        for (size_t i = 0; i < len; i++) key[i] = (char)tolower((unsigned char)(*e)[8 + i]);
        key[len] = 0;
        int known = is_option_key(key);
        for (size_t i = 0; !known && i < sizeof TOOL_KEYS / sizeof TOOL_KEYS[0]; i++) known = !strcmp(key, TOOL_KEYS[i]);
        if (known) continue;
        const char *near = closest_key(key);
        char var[64], keys[512];
        variable_of(near, var, sizeof var);
        known_keys(keys, sizeof keys);
        if (*near) pl_log(PL_LOG_WARN, "PIPELLM_%.*s is not a PipeLLM variable (ignored): did you mean %s?", (int)len, *e + 8, var);
        else pl_log(PL_LOG_WARN, "PIPELLM_%.*s is not a PipeLLM variable (ignored): the keys are %s", (int)len, *e + 8, keys);
    }
}

static int unknown_agent_option(const char *key) {
    const char *near = closest_key(key);
    char keys[512];
    known_keys(keys, sizeof keys);
    fprintf(stderr, "pipellm: unknown agent option '%s'%s%s%s: known keys: %s\n", key, *near ? " (did you mean " : "",
            near, *near ? "?)" : "", keys);
    return -1;
}

static int load_agent_options(const char *agent_options) {
    char copy[sizeof pl_opts.merged];
    int rc = 0;
    if (strlen(agent_options) >= sizeof copy) {
        fprintf(stderr, "pipellm: the -agentpath options are longer than %zu bytes\n", sizeof copy - 1);
        return -1;
    }
    snprintf(copy, sizeof copy, "%s", agent_options);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            fprintf(stderr, "pipellm: agent option '%s' is not key=value (e.g. mode=sync,stats=/tmp/s.json)\n", tok);
            rc = -1;
            continue;
        }
        *eq = 0;
        if (!is_option_key(tok)) rc = unknown_agent_option(tok);
        else if (set(tok, eq + 1)) rc = -1;
    }
    return rc;
}

int pl_options_load(const char *agent_options) {
    int rc = 0;
    for (size_t i = 0; i < N_OPTION_KEYS; i++) {
        char var[64];
        variable_of(OPTION_KEYS[i], var, sizeof var);
        const char *v = getenv(var);
        if (v && set(OPTION_KEYS[i], v)) rc = -1;   /* go on: a later key may be fail_closed */
    }
    warn_unknown_variables();   /* after the loop: obeys PIPELLM_LOG */
    if (!pl_opts.java_home[0] && getenv("JAVA_HOME")) snprintf(pl_opts.java_home, sizeof pl_opts.java_home, "%s", getenv("JAVA_HOME"));
    if (agent_options && *agent_options && load_agent_options(agent_options)) rc = -1;
    /* The shim's default, stated: Java starts in the mode the shim reports. */
    if (!rc && !mode_given && merge("mode", PL_DEFAULT_MODE)) rc = -1;
    return rc;
}
