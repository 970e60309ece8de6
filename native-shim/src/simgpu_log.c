/* One-line diagnostics to stderr: built in a stack buffer, written with write(2), no malloc. */
#include "simgpu_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void simgpu_log(int level, const char *fmt, ...) {
    if (level > g.cfg.log_level) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "simgpu: ");
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
