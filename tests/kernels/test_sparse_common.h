/* Shared by the sparse kernel tests: pruned random weights, and one checked multiply of a
 * sparse matrix against a dense reference computed from the same (pruned, and for int8
 * quantized) weights. Float results must lie within 1e-6 (sqrt(K) + 2) * sum_k |w x| (+|bias|)
 * of the double-precision dot product (as test_gemv.c); int8 activations must match the exact
 * s32 reference bit for bit. Y is checked to be untouched outside N columns / M rows. */
#ifndef TEST_SPARSE_COMMON_H
#define TEST_SPARSE_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/sparse.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t sp_rng = 12345u;
static inline uint32_t sp_next(void) { return sp_rng = sp_rng * 1664525u + 1013904223u; }
static inline float sp_frand(void) { return (float)(sp_next() >> 8) * (2.0f / 16777216.0f) - 1.0f; }
static inline int sp_chance(double p) { return (double)(sp_next() >> 8) < p * 16777216.0; }

enum { PAT_RANDOM = 0, PAT_BLOCKS = 1, PAT_NM = 2 };

/* W[N,K] (stride ld) random, then zeros: each element (PAT_RANDOM), each aligned br x bc block
 * (PAT_BLOCKS) with probability `sparsity`; PAT_NM keeps the `keep` largest of every 4
 * consecutive k (plus random zeros at `sparsity`). */
static inline void sp_pruned(float *W, int N, int K, long ld, double sparsity, int pat, int br, int bc, int keep) {
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) W[(size_t)n * ld + k] = sp_frand();
    if (pat == PAT_BLOCKS) {
        for (int n0 = 0; n0 < N; n0 += br)
            for (int k0 = 0; k0 < K; k0 += bc)
                if (sp_chance(sparsity))
                    for (int n = n0; n < n0 + br && n < N; n++)
                        for (int k = k0; k < k0 + bc && k < K; k++) W[(size_t)n * ld + k] = 0.0f;
        return;
    }
    for (int n = 0; n < N; n++) {
        float *w = W + (size_t)n * ld;
        for (int k = 0; k < K; k++)
            if (sp_chance(sparsity)) w[k] = 0.0f;
        if (pat != PAT_NM) continue;
        for (int g = 0; g < K; g += 4) {
            int len = K - g < 4 ? K - g : 4;
            for (int drop = len - keep; drop > 0; drop--) { /* zero the smallest nonzero */
                int best = -1;
                for (int t = 0; t < len; t++)
                    if (w[g + t] != 0.0f && (best < 0 || fabsf(w[g + t]) < fabsf(w[g + best]))) best = t;
                if (best >= 0) w[g + best] = 0.0f;
            }
        }
    }
}

static inline void sp_shape(shr_sp_format f, int *br, int *bc, int *keep) {
    *br = f == SHR_SP_4X1 ? 4 : f == SHR_SP_8X1 ? 8 : 1;
    *bc = f == SHR_SP_1X4 ? 4 : 1;
    *keep = f == SHR_SP_NM24 ? 2 : f == SHR_SP_NM14 ? 1 : 4;
}

/* 1: sp_case uses the convolution layout (X [K][M], Y [N][M], shr_spmm_*_kn). */
static int sp_kn;

/* One multiply case. kind: 0 f32 weights, 1 int8 weight-only, 2 int8 x s8, 3 int8 x u8.
 * epi: 0 none, 1 bias, 2 bias + ReLU, 3 ReLU6 without bias. pad: extra stride; off: pointer
 * misalignment in elements. Returns 1 when dispatch and reference both pass. */
static inline int sp_case(shr_sp_format f, int kind, int N, int K, int M, double sparsity, int pat, int pad, int off,
                   int epi) {
    int br, bc, keep, ok = 1, kn = sp_kn;
    sp_shape(f, &br, &bc, &keep);
    int xrows = kn ? K : M, xcols = kn ? M : K, yrows = kn ? N : M, ycols = kn ? M : N;
    long ldx = xcols + pad, ldy = ycols + pad;
#define XAT(m, k) (kn ? (size_t)(k) * ldx + (m) : (size_t)(m) * ldx + (k))
    float *W = shr_alloc((size_t)N * K * sizeof(float)), *Wd = shr_alloc((size_t)N * K * sizeof(float));
    float *bias = shr_alloc((size_t)N * sizeof(float));
    unsigned char *xb = shr_alloc((size_t)xrows * ldx * sizeof(float) + 64);
    float *yb = shr_alloc(((size_t)yrows * ldy + 64) * sizeof(float));
    double *ref = shr_alloc((size_t)M * N * sizeof(double)), *bound = shr_alloc((size_t)M * N * sizeof(double));
    int8_t *Q = shr_alloc((size_t)N * K);
    shr_spmat A;
    memset(&A, 0, sizeof A);
    if (!W || !Wd || !bias || !xb || !yb || !ref || !bound || !Q) {
        ok = 0;
        goto out;
    }
    sp_pruned(W, N, K, K, sparsity, pat, br, bc, keep);
    for (int n = 0; n < N; n++) bias[n] = sp_frand();
    shr_sp_dtype dt = kind == 0 ? SHR_SP_F32 : SHR_SP_I8;
    if (shr_spmat_from_dense(&A, f, dt, N, K, W, K) != SHR_OK || shr_spmat_validate(&A) != SHR_OK) {
        fprintf(stderr, "build failed: %s\n", shr_last_error());
        ok = 0;
        goto out;
    }
    shr_spmat_to_dense(&A, Wd, K); /* what the kernels multiply (int8: dequantized) */
    if (kind >= 1) shr_spmat_to_dense_q(&A, Q, K);
    shr_sp_qinput q = {kind == 2, 0, 0.037f};
    q.x_zero = kind == 2 ? (int)(sp_next() % 256) - 128 : (int)(sp_next() % 256);
    float *xf = (float *)(void *)xb + off;
    int8_t *xs = (int8_t *)xb + off;
    uint8_t *xu = (uint8_t *)xb + off;
    for (size_t i = 0; i < (size_t)xrows * ldx; i++) {
        if (kind < 2) xf[i] = sp_frand();
        if (kind == 2) xs[i] = (int8_t)((int)(sp_next() >> 8) % 256 - 128);
        if (kind == 3) xu[i] = (uint8_t)((sp_next() >> 8) % 256);
    }
    shr_gemm_epilogue ep = {epi == 1 || epi == 2 ? bias : NULL, kn, epi >= 2 ? 0.0f : -INFINITY,
                            epi == 3 ? 6.0f : INFINITY};
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0, b = 0;
            int64_t acc = 0;
            for (int k = 0; k < K; k++) {
                double x = kind < 2 ? xf[XAT(m, k)] : (kind == 2 ? xs[XAT(m, k)] : xu[XAT(m, k)]) - q.x_zero;
                s += (double)Wd[(size_t)n * K + k] * x;
                b += fabs((double)Wd[(size_t)n * K + k] * x);
                acc += (int64_t)Q[(size_t)n * K + k] * (int64_t)x;
            }
            if (kind >= 2) { /* the documented exact formula, in f32 */
                float y = (float)acc * (q.x_scale * A.scale[n]);
                if (ep.bias) y = y + ep.bias[n];
                y = y < ep.lo ? ep.lo : y;
                s = y > ep.hi ? ep.hi : y;
            } else {
                if (ep.bias) s += ep.bias[n], b += fabs(ep.bias[n]);
                s = s < ep.lo ? ep.lo : s > ep.hi ? ep.hi : s;
            }
            ref[(size_t)m * N + n] = s;
            bound[(size_t)m * N + n] = 1e-6 * (sqrt((double)K) + 2) * b + 1e-30;
        }
    for (int pass = 0; pass < 2 && ok; pass++) { /* dispatch, then the reference */
        float *y = yb + off;
        for (size_t i = 0; i < (size_t)yrows * ldy + 64 - off; i++) y[i] = 12345.0f;
        shr_status st;
        if (kn) shr_force_reference_kernels(pass);
        if (kind < 2)
            st = kn ? shr_spmm_f32_kn(&A, M, xf, ldx, &ep, y, ldy)
                    : (pass ? shr_spmm_f32_ref : shr_spmm_f32)(&A, M, xf, ldx, &ep, y, ldy);
        else
            st = kn ? shr_spmm_q8_kn(&A, M, xb + off, ldx, &q, &ep, y, ldy)
                    : (pass ? shr_spmm_q8_ref : shr_spmm_q8)(&A, M, xb + off, ldx, &q, &ep, y, ldy);
        shr_force_reference_kernels(0);
        if (st != SHR_OK) {
            fprintf(stderr, "spmm failed: %s\n", shr_last_error());
            ok = 0;
        }
        for (int r = 0; r < yrows && ok; r++)
            for (int c = 0; c < (int)ldy && ok; c++) {
                float v = y[(size_t)r * ldy + c];
                int m = kn ? c : r, n = kn ? r : c;
                if (c >= ycols)
                    ok = v == 12345.0f; /* padding untouched */
                else if (kind >= 2)
                    ok = v == (float)ref[(size_t)m * N + n];
                else
                    ok = fabs(v - ref[(size_t)m * N + n]) <= bound[(size_t)m * N + n];
                if (!ok)
                    fprintf(stderr, "%s m=%d n=%d: got %.9g want %.9g\n", pass ? "ref" : "dispatch", m, n, v,
                            c < ycols ? ref[(size_t)m * N + n] : 12345.0);
            }
        for (int i = 0; i < 64 - off && ok; i++) ok = y[(size_t)(yrows - 1) * ldy + ycols + i] == 12345.0f;
    }
#undef XAT
    if (!ok)
        fprintf(stderr, "FAILED %s kind=%d N=%d K=%d M=%d sparsity=%.2f pat=%d pad=%d off=%d epi=%d%s\n",
                shr_sp_format_name(f), kind, N, K, M, sparsity, pat, pad, off, epi, kn ? " (conv layout)" : "");
out:
    shr_spmat_free(&A);
    shr_free(W), shr_free(Wd), shr_free(bias), shr_free(xb), shr_free(yb), shr_free(ref), shr_free(bound), shr_free(Q);
    return ok;
}

/* A at batch M with 1, then 2 threads (q8: int8 activations Xq, else f32 X); 1 when the two
 * outputs are bit-identical. Leaves the thread count at 2. */
static inline int sp_threads_same(const shr_spmat *A, int M, const float *X, const void *Xq, int q8,
                                  const shr_sp_qinput *q, float *y1, float *y2) {
    for (int t = 1; t <= 2; t++) {
        shr_set_threads(t);
        float *y = t == 1 ? y1 : y2;
        shr_status st = q8 ? shr_spmm_q8(A, M, Xq, A->K, q, NULL, y, A->N) : shr_spmm_f32(A, M, X, A->K, NULL, y, A->N);
        if (st != SHR_OK) return 0;
    }
    return memcmp(y1, y2, (size_t)M * A->N * sizeof(float)) == 0;
}

/* Sweeps each of N, K, M over 1..67 with the other two from {1, 7, 16, 67}, sparsity cycling
 * through 0, 50, 90 and 100 %, strides padded and pointers misaligned by varying amounts. */
static inline int sp_sweep(shr_sp_format f, int kind, int pat) {
    static const int others[4] = {1, 7, 16, 67};
    static const double sparsity[4] = {0.0, 0.5, 0.9, 1.0};
    int ok = 1;
    for (int dim = 0; dim < 3 && ok; dim++)
        for (int v = 1; v <= 67 && ok; v++)
            for (int c = 0; c < 4 && ok; c++) {
                int a = others[c], b = others[(c + v) % 4];
                int N = dim == 0 ? v : a, K = dim == 1 ? v : dim == 0 ? a : b, M = dim == 2 ? v : b;
                ok = sp_case(f, kind, N, K, M, sparsity[(v + c) % 4], pat, (v + c) % 3, (v * 3 + c) % 5, (v + 2 * c) % 4);
            }
    return ok;
}

#endif
