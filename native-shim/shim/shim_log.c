/* Never keys or data in a line: only lengths, ids, counts and paths. */
#include "shim_internal.h"

#include "log_line.h"

void pl_log(int level, const char *fmt, ...) {
    if (level > pl_opts.log_level) return;
    va_list ap;
    va_start(ap, fmt);
    log_line("pipellm: ", fmt, ap);
    va_end(ap);
}

char pl_failure[512];

void pl_fail_reason(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl_failure, sizeof pl_failure, fmt, ap);
    va_end(ap);
}
