/* One-line diagnostics to stderr: stack buffer, write(2), no malloc; never keys or data. */
#include "shim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void pl_log(int level, const char *fmt, ...) {
    if (level > pl_opts.log_level) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "pipellm: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = (size_t)n + ((size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

char pl_failure[512];

void pl_fail_reason(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl_failure, sizeof pl_failure, fmt, ap);
    va_end(ap);
}
