/*
 * One diagnostic line to stderr for both libraries (simgpu and the shim): built in a stack buffer
 * and written with write(2), so logging never allocates or takes stdio's lock in the host process.
 */
#ifndef PL_LOG_LINE_H
#define PL_LOG_LINE_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static inline void log_line(const char *prefix, const char *fmt, va_list ap) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%s", prefix);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0) return;
    size_t len = (size_t)n + ((size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

#endif
