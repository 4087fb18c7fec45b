#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

static _Thread_local char last_error[512];

shr_status shr_fail(shr_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

const char *shr_last_error(void) { return last_error; }

void shr_clear_error(void) { last_error[0] = '\0'; }

const char *shr_status_name(shr_status s) {
    switch (s) {
    case SHR_OK: return "ok";
    case SHR_ERR_INVALID_ARG: return "invalid argument";
    case SHR_ERR_SHAPE: return "shape error";
    case SHR_ERR_NOMEM: return "out of memory";
    case SHR_ERR_IO: return "i/o error";
    case SHR_ERR_FORMAT: return "format error";
    case SHR_ERR_UNSUPPORTED: return "unsupported";
    case SHR_ERR_LIMIT: return "limit exceeded";
    case SHR_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
