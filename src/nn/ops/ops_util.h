/* Internal: small helpers shared by the dense / norm / pool op files
 * (linear.c, conv2d.c, batchnorm.c, pool.c). */
#ifndef SHR_NN_OPS_UTIL_H
#define SHR_NN_OPS_UTIL_H

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/checked.h"
#include "core/error.h"
#include "nn/op.h"

/* shr_fail with the "node 'name' (op): " prefix every infer message carries. */
static inline shr_status SHR_PRINTF(4, 5) shr_node_fail(shr_status st, const shr_node *n, const char *op,
                                                          const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return shr_fail(st, "node '%s' (%s): %s", n->name ? n->name : "?", op, msg);
}

/* A shape as text, e.g. "[32, 3, 3, 3]", in a caller-provided buffer. */
typedef struct shr_shape_text {
    char s[160];
} shr_shape_text;
static inline shr_shape_text shr_shape_text_of(int ndim, const int64_t *shape) {
    shr_shape_text t;
    shr_shape_str(ndim, shape, t.s, sizeof t.s);
    return t;
}

/* Attributes where 0 means 1 (stride, dilation, groups). */
static inline int shr_attr_or1(int v) { return v == 0 ? 1 : v; }

/* 1 when every dim from `from` on is in 1..INT_MAX (the kernels index with int). */
static inline int shr_dims_ok(int ndim, const int64_t *shape, int from) {
    for (int d = from; d < ndim; d++)
        if (shape[d] < 1 || shape[d] > INT_MAX) return 0;
    return 1;
}

/* 1 when a*b*c (all >= 0) is at most INT_MAX, without overflowing on the way. */
static inline int shr_fits_int(int64_t a, int64_t b, int64_t c) {
    int64_t ab, abc;
    return !shr_mul_overflow_i64(a, b, &ab) && !shr_mul_overflow_i64(ab, c, &abc) && abc <= INT_MAX;
}

/* Sliding windows: output positions o in [0, O) read input index o*S + off.
 * Writes the sub-range [*lo, *hi) whose index lies inside [0, L). */
static inline void shr_win_range(int L, int S, int off, int O, int *lo, int *hi) {
    int l = off >= 0 ? 0 : (-off + S - 1) / S;
    int b = L - 1 - off;
    int h = b < 0 ? 0 : b / S + 1;
    if (h > O) h = O;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* x = clamp(x, lo, hi) in place (NaN stays NaN): a fused activation applied after a kernel
 * without an epilogue. */
static inline void shr_clamp_f32(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        x[i] = v > hi ? hi : v;
    }
}

/* Grows a 64-byte aligned float scratch buffer to at least n elements (contents lost). */
static inline shr_status shr_scratch_reserve(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return SHR_OK;
    shr_free(*buf);
    *cap = 0;
    *buf = shr_alloc(n * sizeof(float));
    if (!*buf) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating %zu floats of scratch", n);
    *cap = n;
    return SHR_OK;
}

/* OpenMP threads available to an op; 1 when already inside a parallel region. */
static inline int shr_op_threads(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

#endif
