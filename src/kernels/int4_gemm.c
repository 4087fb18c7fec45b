/* int4 weight-only GEMM, Y[M,N] = X[M,K] W^T + bias (int4.h). Small M goes to the GEMV
 * kernel (shr_i4_gemv_many). Otherwise W is dequantized tile by tile (NB rows x KB columns) into a transposed f32 panel
 * that stays in L2, and shrink's fp32 GEMM kernel multiplies X's K-block by it in place,
 * accumulating over K-blocks into Y. Dequantizing costs about one vector op per weight,
 * repaid over M rows of X; W is never materialized whole.
 *
 * Threads take bands of N tiles (schedule(static)). Each Y element is the fp32 GEMM's sum
 * for each K-block (its order depends only on the block's width) added block after block in
 * k order, then + bias: the same whatever the band or M, so the thread count never changes a
 * bit. Without AVX2 the reference runs. */
#include <limits.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/int4.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"

/* A KB x NB panel (128 KiB) plus the GEMM's packed X block fit in L2. KB is a multiple of 32
 * (the dequantizer's k0 alignment). */
#define KB 256
#define NB 128
/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN 2.0e5
/* Up to this batch the GEMV kernel (each weight decoded once per 4 rows of X, no f32 panel)
 * is faster; beyond it the fp32 micro-kernel's register blocking wins (measured on
 * 4096x1024 and 1024x4096: direct 1.15x faster at M = 16, even at M = 24, 1.05x slower at 32;
 * 2.5x faster at M = 4). */
#define DIRECT_M 16
/* Weights up to this many are dequantized whole (256 KiB of f32, L2-resident). */
#define SMALL_W 65536L

/* Bias per column of Y (the Linear layout), no clamp; NULL without bias. */
static const shr_gemm_epilogue *bias_ep(const float *bias, shr_gemm_epilogue *ep) {
    if (!bias) return NULL;
    *ep = (shr_gemm_epilogue){bias, 0, -INFINITY, INFINITY};
    return ep;
}

static void gemm_band(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y, long ldy,
                      int nlo, int nhi, float *T) {
    for (int n0 = nlo; n0 < nhi; n0 += NB) {
        int nb = nhi - n0 < NB ? nhi - n0 : NB;
        shr_gemm_epilogue e;
        const shr_gemm_epilogue *ep = bias_ep(bias ? bias + n0 : NULL, &e);
        for (int k0 = 0; k0 < W->K; k0 += KB) {
            int kb = W->K - k0 < KB ? W->K - k0 : KB;
            shr_i4_dequant_t_avx2(W, n0, nb, k0, kb, T, NB);
            /* the bias joins on the last K block, as C = (acc + C) + bias */
            shr_gemm_f32_ex_avx2(0, 0, M, nb, kb, 1.0f, X + k0, (int)ldx, T, NB, k0 ? 1.0f : 0.0f, Y + n0, (int)ldy,
                                 k0 + kb >= W->K ? ep : NULL);
        }
        for (int m = 0; m < M && W->K == 0; m++)
            for (int j = 0; j < nb; j++) Y[(long)m * ldy + n0 + j] = bias ? bias[n0 + j] : 0.0f;
    }
}

/* A small W (a classifier, a LeNet layer) is dequantized whole, once, and handed to the fp32
 * GEMM with its own threading and narrow-output paths. */
static shr_status gemm_small(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                             long ldy) {
    long ldt = ((long)W->N + 7) / 8 * 8;
    float *T = shr_alloc((size_t)(W->K > 0 ? W->K : 1) * ldt * sizeof(float));
    if (!T) return shr_fail(SHR_ERR_NOMEM, "int4 gemm: out of memory for a %d x %d panel", W->K, W->N);
    shr_i4_dequant_t_avx2(W, 0, W->N, 0, W->K, T, ldt);
    shr_gemm_epilogue e;
    shr_gemm_f32_ex(0, 0, M, W->N, W->K, 1.0f, X, (int)ldx, T, (int)ldt, 0.0f, Y, (int)ldy, bias_ep(bias, &e));
    shr_free(T);
    return SHR_OK;
}

shr_status shr_i4_gemm(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                       long ldy) {
    if (M <= 0 || W->N <= 0) return SHR_OK;
    if (M <= DIRECT_M) return shr_i4_gemv_many(M, X, ldx, W, bias, Y, ldy);
    if (!shr_cpu_has_avx2_fma()) {
        shr_i4_gemm_ref(M, X, ldx, W, bias, Y, ldy);
        return SHR_OK;
    }
    if (ldx > INT_MAX || ldy > INT_MAX)
        return shr_fail(SHR_ERR_LIMIT, "int4 gemm: row strides %ld, %ld exceed the GEMM's int range", ldx, ldy);
    if ((long)W->N * W->K <= SMALL_W) return gemm_small(M, X, ldx, W, bias, Y, ldy);
    int N = W->N, tiles = (N + NB - 1) / NB, nthr = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && (double)M * N * W->K >= PAR_MIN) nthr = omp_get_max_threads();
#endif
    /* With fewer tiles than threads, split into 16-column bands instead. */
    int unit = tiles >= nthr ? NB : 16, units = (N + unit - 1) / unit;
    if (nthr > units) nthr = units;
    float *T = shr_alloc((size_t)nthr * KB * NB * sizeof(float));
    if (!T) return shr_fail(SHR_ERR_NOMEM, "int4 gemm: out of memory for %d dequantization panels", nthr);
    if (nthr <= 1) {
        gemm_band(M, X, ldx, W, bias, Y, ldy, 0, N, T);
    } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthr)
#endif
        for (int p = 0; p < nthr; p++) {
            int lo = (int)((long)units * p / nthr) * unit, hi = (int)((long)units * (p + 1) / nthr) * unit;
            gemm_band(M, X, ldx, W, bias, Y, ldy, lo, hi < N ? hi : N, T + (size_t)p * KB * NB);
        }
    }
    shr_free(T);
    return SHR_OK;
}
