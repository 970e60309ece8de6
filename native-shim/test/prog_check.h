/*
 * What the scenario programs (prog_dlsym, prog_driver, prog_mixed, prog_host_register) share: a CHECK
 * that reports file:line and counts failures (the program's exit status says whether any failed), and
 * the name of the shared object a function pointer lies in (which library a lookup really returned).
 */
#ifndef PROG_CHECK_H
#define PROG_CHECK_H

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

/* Base name of the object that holds p, or "" when none does. */
static inline const char *object_of(void *p) {
    Dl_info i;
    if (!p || !dladdr(p, &i) || !i.dli_fname) return "";
    const char *s = strrchr(i.dli_fname, '/');
    return s ? s + 1 : i.dli_fname;
}

#endif
