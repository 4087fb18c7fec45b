/* int4 weight-only matrices: nibble layout (SHR_I4-compatible), exact round trips of integer
 * weights, the per-element quantization error bound, validation of outside data, and the
 * GEMV (reference, AVX2, threaded dispatch) against the exact double product for N, K in
 * 1..67, G in {32, 64, 128}, symmetric and asymmetric, padded rows, misaligned buffers;
 * 1 and 2 threads bit-identical. Dyadic data must match exactly; for random floats the
 * tolerance is derived in test_int4_util.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/int4.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"
#include "test_int4_util.h"

/* Even k in the low nibble, odd k in the high one, two's complement: as shr_i4_get. */
static void test_nibble_layout(void) {
    float w[2 * 3] = {-8, -2, 7, -8, 0, 3}; /* one group per row, scale max(7/7, 8/8) = 1 */
    shr_i4_mat *m = NULL;
    CHECK_OK(shr_i4_quantize(w, 3, 2, 3, 32, 0, &m));
    if (!m) return;
    CHECK(m->ldq == 16 && m->ngroups == 1);
    CHECK(m->scale[0] == 1.0f);
    CHECK(m->q[0] == 0xE8);                  /* low -8 (0x8), high -2 (0xE) */
    CHECK(m->q[1] == 0x07);                  /* 7, then the zero padding nibble */
    for (int k = 3; k < 32; k++) CHECK(shr_i4_get(m->q, k) == 0);
    CHECK(shr_i4_get(m->q + m->ldq, 0) == -8 && shr_i4_get(m->q + m->ldq, 1) == 0 && shr_i4_get(m->q + m->ldq, 2) == 3);
    shr_i4_mat_free(m);
}

/* Integer weights whose groups span the full range quantize to scale 1 and come back exactly. */
static void test_round_trip(void) {
    for (int asym = 0; asym < 2; asym++)
        for (int G = 32; G <= 128; G *= 2) {
            int N = 5, K = 3 * G + 17;
            float W[5 * 401], D[5 * 401];
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++) {
                    int v = asym ? (int)((n * 31 + k * 7) % 16) - 5 : (int)((n * 31 + k * 7) % 16) - 8;
                    if (k % G == 0) v = asym ? -5 : -8;
                    if (k % G == 1) v = asym ? 10 : 7;
                    W[n * K + k] = (float)v;
                }
            shr_i4_mat *m = NULL;
            CHECK_OK(shr_i4_quantize(W, K, N, K, G, asym, &m));
            if (!m) continue;
            int exact = 1;
            for (long i = 0; i < (long)N * m->ngroups; i++) exact &= m->scale[i] == 1.0f && (!asym || m->zero[i] == -3);
            shr_i4_dequantize(m, D, K);
            for (int i = 0; i < N * K; i++) exact &= D[i] == W[i];
            for (int n = 0; n < N && !asym; n++)
                for (int k = 0; k < K; k++) exact &= shr_i4_get(m->q + n * m->ldq, k) == (int)W[n * K + k];
            CHECK_MSG(exact, "asym=%d G=%d", asym, G);
            shr_i4_mat_free(m);
        }
}

/* |w - deq(q(w))| <= scale/2 per element (plus float rounding of w/scale and of the product). */
static void test_error_bound(void) {
    int N = 13, K = 300;
    static float W[13 * 300], D[13 * 300];
    for (int i = 0; i < N * K; i++) W[i] = i4_frand() * (1.0f + (float)(i % 7)) + (i % 11 == 0 ? 0.5f : 0.0f);
    for (int k = 0; k < K; k++) W[2 * K + k] = 0.25f + 0.1f * i4_frand(); /* all positive */
    for (int k = 0; k < K; k++) W[3 * K + k] = -3.0f - i4_frand();        /* all negative */
    for (int k = 0; k < K; k++) W[4 * K + k] = 0.0f;                        /* all zero */
    for (int asym = 0; asym < 2; asym++)
        for (int G = 32; G <= 256; G *= 2) {
            shr_i4_mat *m = NULL;
            CHECK_OK(shr_i4_quantize(W, K, N, K, G, asym, &m));
            if (!m) continue;
            shr_i4_dequantize(m, D, K);
            int ok = 1;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++) {
                    float s = m->scale[(long)n * m->ngroups + k / G];
                    double e = fabs((double)W[n * K + k] - D[n * K + k]);
                    if (e > 0.5 * s * (1 + 1e-6) + 1e-7 * fabs((double)W[n * K + k])) ok = 0;
                }
            for (long i = 4L * m->ngroups; i < 5L * m->ngroups; i++) ok &= m->scale[i] == 0.0f;
            CHECK_MSG(ok, "asym=%d G=%d", asym, G);
            shr_i4_mat_free(m);
        }
}

static void test_validation(void) {
    shr_i4_mat *m = NULL;
    float w[4] = {1, 2, 3, 4};
    CHECK_STATUS(shr_i4_quantize(w, 4, 1, 4, 48, 0, &m), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_i4_quantize(w, 4, 1, 4, 16, 0, &m), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_i4_quantize(w, 3, 1, 4, 32, 0, &m), SHR_ERR_INVALID_ARG);
    w[2] = NAN;
    CHECK_STATUS(shr_i4_quantize(w, 4, 1, 4, 32, 1, &m), SHR_ERR_INVALID_ARG);
    CHECK(m == NULL);
    w[2] = 3;
    CHECK_OK(shr_i4_quantize(w, 4, 1, 4, 32, 1, &m));
    if (!m) return;
    CHECK_OK(shr_i4_mat_check(m));
    shr_i4_mat v = *m;
    v.ldq = 8;
    CHECK_STATUS(shr_i4_mat_check(&v), SHR_ERR_FORMAT);
    v = *m;
    v.ngroups = 2;
    CHECK_STATUS(shr_i4_mat_check(&v), SHR_ERR_FORMAT);
    m->zero[0] = 9;
    CHECK_STATUS(shr_i4_mat_check(m), SHR_ERR_FORMAT);
    m->zero[0] = 0;
    m->scale[0] = INFINITY;
    CHECK_STATUS(shr_i4_mat_check(m), SHR_ERR_FORMAT);
    shr_i4_mat_free(m);
    shr_i4_mat_free(NULL);
}

typedef enum { GEMV_REF, GEMV_AVX2, GEMV_DISPATCH } gemv_kind;

static void run_gemv(gemv_kind kind, const shr_i4_mat *m, const float *x, const float *b, float *y, int *ok) {
    if (kind == GEMV_REF) shr_i4_gemv_ref(m, x, b, y);
    if (kind == GEMV_DISPATCH) *ok &= shr_i4_gemv(m, x, b, y) == SHR_OK;
    if (kind == GEMV_AVX2) {
        float *work = shr_alloc(shr_i4_gemv_avx2_work(m) * sizeof(float) + 1);
        *ok &= work != NULL;
        if (work) {
            shr_i4_gemv_avx2_prep(m, x, work);
            shr_i4_gemv_avx2_rows(m, 1, 0, m->N, work, b, y, 0);
        }
        shr_free(work);
    }
}

/* One shape: a matrix (dyadic: random nibbles, zero points and scales in {1/2, 1, 2}, x and
 * bias in quarters, so every float operation of any summation order is exact and y must
 * equal the double product exactly; else: random floats quantized, tolerance from
 * i4_exact), viewed with padded rows / misaligned buffers; run `kind`, compare every y;
 * nothing written past N. */
static int check_gemv(gemv_kind kind, int dyadic, int N, int K, int G, int asym, long pad, int off, int with_bias) {
    size_t nwf = (size_t)N * K + 1;
    float *W = shr_alloc(nwf * sizeof(float)), *bx = shr_alloc((size_t)(K + 9) * sizeof(float));
    float *by = shr_alloc((size_t)(N + 17) * sizeof(float)), *bias = shr_alloc((size_t)N * sizeof(float));
    shr_i4_mat *m = NULL;
    i4_view v;
    memset(&v, 0, sizeof v);
    int ok = W && bx && by && bias;
    if (ok && dyadic) {
        ok = shr_i4_mat_create(&m, N, K, G, asym) == SHR_OK;
        for (long n = 0; ok && n < N; n++) {
            for (int k = 0; k < K; k++) shr_i4_set(m->q + n * m->ldq, k, (int)(i4_frand() * 8.0f + 8.0f) - 8);
            for (long g = n * m->ngroups; g < (n + 1) * m->ngroups; g++) {
                m->scale[g] = ldexpf(1.0f, (int)(i4_frand() * 1.5f + 1.5f) - 1);
                if (m->zero) m->zero[g] = (int8_t)((int)(i4_frand() * 8.0f + 8.0f) - 8);
            }
        }
    } else if (ok) {
        for (size_t i = 0; i + 1 < nwf; i++) W[i] = i4_frand() * (1.0f + (float)(i % 5));
        ok = shr_i4_quantize(W, K, N, K, G, asym, &m) == SHR_OK;
    }
    ok = ok && i4_view_make(&v, m, pad, off);
    if (ok) {
        float *x = bx + off % 8, *y = by + off % 8;
        for (int k = 0; k < K; k++) x[k] = dyadic ? (float)(int)(i4_frand() * 4.5f) / 4.0f : i4_frand();
        for (int n = 0; n < N; n++) bias[n] = dyadic ? (float)(int)(i4_frand() * 40.0f) / 4.0f : i4_frand();
        for (int n = 0; n < N + 8; n++) y[n] = 12345.0f;
        const float *b = with_bias ? bias : NULL;
        run_gemv(kind, &v.m, x, b, y, &ok);
        for (int n = 0; n < N && ok; n++) {
            double e, tol;
            i4_exact(m, n, x, b, &e, &tol);
            if (!(fabs(y[n] - e) <= (dyadic ? 0.0 : tol))) ok = 0;
        }
        for (int n = N; n < N + 8; n++) ok &= y[n] == 12345.0f;
    }
    if (!ok)
        fprintf(stderr, "gemv kind %d dyadic %d mismatch N=%d K=%d G=%d asym=%d pad=%ld off=%d bias=%d\n", kind,
                dyadic, N, K, G, asym, pad, off, with_bias);
    i4_view_free(&v);
    shr_i4_mat_free(m);
    shr_free(W), shr_free(bx), shr_free(by), shr_free(bias);
    return ok;
}

static void test_gemv_grid(void) {
    const int others[] = {1, 7, 16, 67};
    int nk = shr_cpu_has_avx2_fma() ? 3 : 2;
    const gemv_kind kinds[] = {GEMV_REF, GEMV_DISPATCH, GEMV_AVX2};
    for (int f = 0; f < nk; f++)
        for (int dy = 0; dy < 2; dy++) {
            int ok = 1, cases = 0;
            for (int G = 32; G <= 128; G *= 2)
                for (int a = 1; a <= 67; a++)
                    for (int o = 0; o < 4; o++) {
                        int i = a + o + G;
                        /* sweep K with N from `others`, then N with K from `others` */
                        ok &= check_gemv(kinds[f], dy, others[o], a, G, i & 1, 16 * (i % 3), i % 7, (i >> 1) & 1);
                        ok &= check_gemv(kinds[f], dy, a, others[o], G, (i >> 2) & 1, 16 * (i % 2), i % 5, i & 1);
                        cases += 2;
                    }
            const int big[][3] = {{64, 4096, 128}, {300, 784, 32}, {10, 1000, 64}, {129, 4001, 32},
                                  {3, 5000, 128},  {33, 200, 256}, {17, 96, 1024}, {5, 1100, 32}};
            for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
                for (int asym = 0; asym < 2; asym++)
                    ok &= check_gemv(kinds[f], dy, big[i][0], big[i][1], big[i][2], asym, 32, 3, 1);
            CHECK_MSG(ok, "kind %d dyadic %d", kinds[f], dy);
            CHECK(cases > 1000);
        }
}

/* Rows are split across threads in whole blocks: 1 and 2 threads agree bit for bit, and the
 * dispatch agrees with the single-threaded AVX2 pieces. */
static void test_threads_bit_identical(void) {
    int N = 1000, K = 700;
    float *W = shr_alloc((size_t)N * K * sizeof(float)), *x = shr_alloc((size_t)K * sizeof(float));
    float *y1 = shr_alloc((size_t)N * sizeof(float)), *y2 = shr_alloc((size_t)N * sizeof(float));
    CHECK(W && x && y1 && y2);
    for (int asym = 0; asym < 2 && W && x && y1 && y2; asym++) {
        for (long i = 0; i < (long)N * K; i++) W[i] = i4_frand();
        for (int i = 0; i < K; i++) x[i] = i4_frand();
        shr_i4_mat *m = NULL;
        CHECK_OK(shr_i4_quantize(W, K, N, K, asym ? 32 : 128, asym, &m));
        if (!m) break;
        shr_set_threads(1);
        CHECK_OK(shr_i4_gemv(m, x, NULL, y1));
        shr_set_threads(2);
        CHECK_OK(shr_i4_gemv(m, x, NULL, y2));
        CHECK(memcmp(y1, y2, (size_t)N * sizeof(float)) == 0);
        shr_i4_mat_free(m);
    }
    shr_set_threads(0);
    shr_free(W), shr_free(x), shr_free(y1), shr_free(y2);
}

int main(void) {
    RUN(test_nibble_layout);
    RUN(test_round_trip);
    RUN(test_error_bound);
    RUN(test_validation);
    RUN(test_gemv_grid);
    RUN(test_threads_bit_identical);
    return test_summary();
}
