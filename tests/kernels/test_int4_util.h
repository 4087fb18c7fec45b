/* Helpers shared by the int4 kernel tests: random data, a copy of a matrix with a padded
 * row stride and misaligned buffers, and the exact (double) product with its error bound. */
#ifndef SHR_TEST_INT4_UTIL_H
#define SHR_TEST_INT4_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/int4.h"
#include "shrink/tensor.h"

static uint32_t i4_rng = 12345u;
static float i4_frand(void) { /* uniform in [-1, 1) */
    i4_rng = i4_rng * 1664525u + 1013904223u;
    return (float)(i4_rng >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* A view of m's data copied into buffers offset by `off` bytes/floats from 64-byte alignment,
 * rows padded by pad extra bytes (pad multiple of 16 keeps rows valid). Free with
 * i4_view_free. */
typedef struct i4_view {
    shr_i4_mat m;
    void *bq, *bs, *bz;
} i4_view;

static int i4_view_make(i4_view *v, const shr_i4_mat *m, long pad, int off) {
    memset(v, 0, sizeof *v);
    v->m = *m;
    v->m.owned = 0;
    v->m.ldq = m->ldq + pad;
    size_t ng = (size_t)m->N * m->ngroups;
    v->bq = shr_alloc((size_t)m->N * v->m.ldq + off + 1);
    v->bs = shr_alloc((ng + 1) * sizeof(float) + off * sizeof(float));
    v->bz = shr_alloc(ng + off + 1);
    if (!v->bq || !v->bs || !v->bz) return 0;
    v->m.q = (uint8_t *)v->bq + off;
    v->m.scale = (float *)v->bs + off;
    v->m.zero = m->zero ? (int8_t *)v->bz + off : NULL;
    for (int n = 0; n < m->N; n++) {
        memcpy(v->m.q + n * v->m.ldq, m->q + n * m->ldq, (size_t)m->ldq);
        memset(v->m.q + n * v->m.ldq + m->ldq, 0xA5, (size_t)pad); /* row padding is never read as weights */
        for (long k = m->K; k < 2 * m->ldq; k++) shr_i4_set(v->m.q + n * v->m.ldq, k, (int)(k % 16) - 8);
    }
    memcpy(v->m.scale, m->scale, ng * sizeof(float));
    if (m->zero) memcpy(v->m.zero, m->zero, ng);
    return 1;
}

static void i4_view_free(i4_view *v) {
    shr_free(v->bq), shr_free(v->bs), shr_free(v->bz);
}

/* Exact dequantized weight (a float times a small integer: exact in double). */
static double i4_w(const shr_i4_mat *m, int n, int k) {
    long gi = (long)n * m->ngroups + k / m->group;
    int z = m->zero ? m->zero[gi] : 0;
    return (double)(shr_i4_get(m->q + (long)n * m->ldq, k) - z) * m->scale[gi];
}

/* y = sum_k w[n][k] x[k] + bias in double, and a bound on the float kernels' error:
 * kernels sum at most G + ngroups + 16 rounded terms in sequence, each term's magnitude at
 * most |scale| (31 + |24 + zero|) |x| (the AVX2 GEMV sums 32 (0.5 + (v + 8)/32) x, at most
 * 31 |x|, and subtracts (24 + zero) X_g; the reference and the GEMM sum (v - zero) x with
 * |v - zero| <= 15), so |error| <= (G + ngroups + 16) * 2^-24 * (that sum + |bias|)
 * (float rounding, gamma_n). */
static void i4_exact(const shr_i4_mat *m, int n, const float *x, const float *bias, double *y, double *tol) {
    double s = 0.0, b = 0.0;
    for (int k = 0; k < m->K; k++) {
        long gi = (long)n * m->ngroups + k / m->group;
        int z = m->zero ? m->zero[gi] : 0;
        s += i4_w(m, n, k) * x[k];
        b += fabs((double)m->scale[gi]) * (31.0 + fabs(24.0 + z)) * fabs((double)x[k]);
    }
    if (bias) s += bias[n], b += fabs((double)bias[n]);
    *y = s;
    *tol = (m->group + m->ngroups + 16) * 0x1p-24 * b * 1.01 + 1e-30;
}

#endif
