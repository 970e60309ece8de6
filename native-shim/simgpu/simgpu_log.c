#include "simgpu_internal.h"

#include "log_line.h"

void simgpu_log(int level, const char *fmt, ...) {
    if (level > g.cfg.log_level) return;
    va_list ap;
    va_start(ap, fmt);
    log_line("simgpu: ", fmt, ap);
    va_end(ap);
}
