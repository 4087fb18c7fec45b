/* Minimal test harness: CHECK* macros count failures; a test file's main()
 * calls its test functions via RUN() and returns test_summary(). */
#ifndef SHR_TEST_H
#define SHR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(cond)) {                                                                     \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                               \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(cond)) {                                                                     \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double ca_ = (double)(a), cb_ = (double)(b);                                       \
        double cs_ = fmax(1.0, fmax(fabs(ca_), fabs(cb_)));                                \
        test_checks++;                                                                     \
        if (!(fabs(ca_ - cb_) <= (tol) * cs_)) {                                           \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n",   \
                    __FILE__, __LINE__, #a, ca_, #b, cb_, (double)(tol));                  \
        }                                                                                  \
    } while (0)

/* Expect a shr_status equal to `want`. */
#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        shr_status cs_st_ = (expr);                                                        \
        test_checks++;                                                                     \
        if (cs_st_ != (want)) {                                                            \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: %s returned %d (%s), want %d; error: %s\n", __FILE__,  \
                    __LINE__, #expr, (int)cs_st_, shr_status_name(cs_st_), (int)(want),    \
                    shr_last_error());                                                     \
        }                                                                                  \
    } while (0)
#define CHECK_OK(expr) CHECK_STATUS(expr, SHR_OK)

#define RUN(fn)                                                                            \
    do {                                                                                   \
        int before_ = test_failures;                                                       \
        fn();                                                                              \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);       \
    } while (0)

static inline int test_summary(void) {
    fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
    if (test_checks == 0) {
        fprintf(stderr, "no checks ran\n");
        return 1;
    }
    return test_failures ? 1 : 0;
}

#endif
