/* Internal: setting the thread's error message. */
#ifndef SHR_CORE_ERROR_H
#define SHR_CORE_ERROR_H

#include "shrink/status.h"

#if defined(__GNUC__)
#define SHR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SHR_PRINTF(a, b)
#endif

/* Records a printf-style message for shr_last_error() and returns s. */
shr_status shr_fail(shr_status s, const char *fmt, ...) SHR_PRINTF(2, 3);

/* Propagate a failure: if expr is not SHR_OK, return it (message already set). */
#define SHR_TRY(expr)                         \
    do {                                      \
        shr_status shr_try_st_ = (expr);      \
        if (shr_try_st_ != SHR_OK) return shr_try_st_; \
    } while (0)

#endif
