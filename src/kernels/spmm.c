/* Sparse matmul dispatch: argument checks, the prepared activations the AVX2 kernels read
 * (K-major tiles, widened int8), and OpenMP over output rows. Every output element is summed
 * by one thread in an order fixed by the format, so the thread count never changes a bit. */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/sparse_internal.h"

/* From this batch on, the sparse formats run on K-major tiles of X. */
#define XT_MIN_M 4
/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN_WORK 32768.0

static shr_status job_init(sp_job *j, const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                           const shr_gemm_epilogue *ep, float *Y, long ldy) {
    *j = (sp_job){0};
    if (!A || !A->values) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL or empty weight");
    if (M < 0) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: batch %d", M);
    if (M > 0 && (!X || !Y)) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activations or output");
    if (ldx < A->K || ldy < A->N)
        return shr_fail(SHR_ERR_SHAPE, "sparse matmul: strides %ld, %ld below K = %d, N = %d", ldx, ldy, A->K, A->N);
    if (ep && ep->bias_per_row) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: bias is per output column");
    j->A = A;
    j->M = M;
    j->X = X;
    j->ldx = ldx;
    j->Y = Y;
    j->ldy = ldy;
    j->bias = ep ? ep->bias : NULL;
    j->lo = ep ? ep->lo : -INFINITY;
    j->hi = ep ? ep->hi : INFINITY;
    j->vt = A->dtype == SHR_SP_F32 ? SP_VF : SP_VI;
    if (!q) return SHR_OK;
    if (A->dtype != SHR_SP_I8) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: int8 activations need int8 weights");
    if (A->K > 65536) return shr_fail(SHR_ERR_LIMIT, "sparse matmul: K = %d > 65536 could overflow s32 sums", A->K);
    int zlo = q->x_signed ? -128 : 0, zhi = q->x_signed ? 127 : 255;
    if (q->x_zero < zlo || q->x_zero > zhi || !(q->x_scale > 0.0f) || !isfinite(q->x_scale))
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: activation zero point %d / scale %g out of range",
                        q->x_zero, (double)q->x_scale);
    j->vt = SP_VQ;
    j->x_signed = q->x_signed;
    j->x_zero = q->x_zero;
    j->x_scale = q->x_scale;
    return SHR_OK;
}

/* The dense format runs on the GEMV (batch 1) or the GEMM. */
static shr_status run_dense(const sp_job *j, int ref) {
    const shr_spmat *A = j->A;
    if (j->vt == SP_VQ) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: int8 activations need int8 weights");
    if (j->M == 1) {
        (ref ? shr_gemv_f32_ref : shr_gemv_f32)(A->N, A->K, A->values, A->K, j->X, j->bias, j->Y);
        for (int n = 0; n < A->N; n++) {
            float y = j->Y[n];
            y = y < j->lo ? j->lo : y;
            j->Y[n] = y > j->hi ? j->hi : y;
        }
        return SHR_OK;
    }
    if (j->ldx > INT_MAX || j->ldy > INT_MAX) return shr_fail(SHR_ERR_LIMIT, "sparse matmul: stride over INT_MAX");
    shr_gemm_epilogue ep = {j->bias, 0, j->lo, j->hi};
    (ref ? shr_gemm_f32_ex_ref : shr_gemm_f32_ex)(0, 1, j->M, A->N, A->K, 1.0f, j->X, (int)j->ldx, A->values, A->K,
                                                 0.0f, j->Y, (int)j->ldy, &ep);
    return SHR_OK;
}

shr_status shr_spmm_f32_ref(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep,
                            float *Y, long ldy) {
    sp_job j;
    SHR_TRY(job_init(&j, A, M, X, ldx, NULL, ep, Y, ldy));
    if (M == 0) return SHR_OK;
    if (A->format == SHR_SP_DENSE) return run_dense(&j, 1);
    shr_sp_rows_ref(&j, 0, A->N);
    return SHR_OK;
}

shr_status shr_spmm_q8_ref(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                           const shr_gemm_epilogue *ep, float *Y, long ldy) {
    sp_job j;
    if (!q) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activation quantization");
    SHR_TRY(job_init(&j, A, M, X, ldx, q, ep, Y, ldy));
    if (M > 0) shr_sp_rows_ref(&j, 0, A->N);
    return SHR_OK;
}

/* ---- threads ---- */

/* First output row of part p of `parts`: cut where the stored blocks before it reach p/parts
 * of all (a row costs one block extra), rounded to whole row units. */
static int part_start(const shr_spmat *A, int p, int parts) {
    if (p <= 0) return 0;
    if (p >= parts) return A->N;
    int row;
    if (!A->rowptr) {
        row = (int)((int64_t)A->N * p / parts);
    } else {
        double target = ((double)A->nblocks + A->nbrow) * p / parts;
        int lo = 0, hi = A->nbrow; /* first block row whose prefix reaches the target */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if ((double)A->rowptr[mid] + mid >= target)
                hi = mid;
            else
                lo = mid + 1;
        }
        row = (int)((int64_t)lo * A->br < A->N ? (int64_t)lo * A->br : A->N);
    }
    row = row / SP_ROW_UNIT * SP_ROW_UNIT;
    return row;
}

typedef void (*rows_fn)(const sp_job *, int, int);

/* ---- prepared activations ---- */

/* int8 activations as int32 lanes (uint16_t)(x - zero): row-major rows [m0, m1). */
static void widen_rows(const sp_job *j, int32_t *xr, int m0, int m1) {
    int K = j->A->K;
    for (int m = m0; m < m1; m++) {
        const int8_t *xs = (const int8_t *)j->X + (size_t)m * j->ldx;
        const uint8_t *xu = (const uint8_t *)j->X + (size_t)m * j->ldx;
        int32_t *o = xr + (size_t)m * K;
        if (j->x_signed)
            for (int k = 0; k < K; k++) o[k] = (uint16_t)(xs[k] - j->x_zero);
        else
            for (int k = 0; k < K; k++) o[k] = (uint16_t)(xu[k] - j->x_zero);
    }
}

/* Rows [k0, k1) of every K-major tile. */
static void pack_tiles(const sp_job *j, void *xt, int k0, int k1) {
    int K = j->A->K, tiles = (j->M + SP_TILE - 1) / SP_TILE;
    for (int t = 0; t < tiles; t++) {
        int m0 = t * SP_TILE, mt = j->M - m0 < SP_TILE ? j->M - m0 : SP_TILE;
        if (j->vt != SP_VQ) {
            float *tile = (float *)xt + (size_t)t * K * SP_TILE;
            shr_sp_pack_tile_f32_avx2((const float *)j->X + (size_t)m0 * j->ldx, j->ldx, mt, k0, k1, tile);
            continue;
        }
        int32_t *tile = (int32_t *)xt + (size_t)t * K * SP_TILE;
        for (int k = k0; k < k1; k++)
            for (int i = mt; i < SP_TILE; i++) tile[(size_t)k * SP_TILE + i] = 0;
        for (int i = 0; i < mt; i++) {
            const int8_t *xs = (const int8_t *)j->X + (size_t)(m0 + i) * j->ldx;
            const uint8_t *xu = (const uint8_t *)j->X + (size_t)(m0 + i) * j->ldx;
            for (int k = k0; k < k1; k++)
                tile[(size_t)k * SP_TILE + i] = (uint16_t)((j->x_signed ? xs[k] : xu[k]) - j->x_zero);
        }
    }
}

static rows_fn pick_avx2(const shr_spmat *A, int M, int *use_xt) {
    *use_xt = 0;
    if (M < XT_MIN_M) {
        if (A->format == SHR_SP_4X1 || A->format == SHR_SP_8X1) return shr_spmv_block_avx2;
        return A->nm_keep ? shr_spmv_nm_avx2 : shr_spmv_row_avx2;
    }
    *use_xt = 1;
    return shr_spmm_xt_avx2;
}

static shr_status run(sp_job *j) {
    const shr_spmat *A = j->A;
    if (j->M == 0) return SHR_OK;
    if (A->format == SHR_SP_DENSE) return run_dense(j, 0);
    int avx2 = shr_cpu_has_avx2_fma(), use_xt = 0;
    rows_fn fn = avx2 ? pick_avx2(A, j->M, &use_xt) : shr_sp_rows_ref;
    int need_xr = avx2 && j->vt == SP_VQ && !use_xt, K = A->K;
    size_t xt_elems = use_xt ? (size_t)((j->M + SP_TILE - 1) / SP_TILE) * K * SP_TILE : 0;
    size_t xr_elems = need_xr ? (size_t)j->M * K : 0, bytes = (xt_elems + xr_elems) * 4;
    void *work = NULL;
    if (bytes) {
        work = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!work) return shr_fail(SHR_ERR_NOMEM, "sparse matmul: out of memory for a %zu-byte workspace", bytes);
    }
    j->xt = use_xt ? work : NULL;
    j->xr = need_xr ? work : j->X;
    j->ldxr = need_xr ? K : j->ldx;
    int nthr = 1;
#ifdef _OPENMP
    double macs = (double)(A->nm_keep ? A->nblocks * A->nm_keep : A->nblocks * A->br * A->bc) * j->M;
    nthr = omp_in_parallel() || macs < PAR_MIN_WORK ? 1 : omp_get_max_threads();
    int units = (A->N + SP_ROW_UNIT - 1) / SP_ROW_UNIT;
    if (nthr > units) nthr = units;
#pragma omp parallel num_threads(nthr) if (nthr > 1)
#endif
    {
        int p = 0, parts = 1;
#ifdef _OPENMP
        p = omp_get_thread_num();
        parts = omp_get_num_threads();
#endif
        if (use_xt) pack_tiles(j, work, (int)((int64_t)K * p / parts), (int)((int64_t)K * (p + 1) / parts));
        if (need_xr) widen_rows(j, work, (int)((int64_t)j->M * p / parts), (int)((int64_t)j->M * (p + 1) / parts));
#ifdef _OPENMP
#pragma omp barrier
#endif
        int lo = part_start(A, p, parts), hi = part_start(A, p + 1, parts);
        if (hi > lo) fn(j, lo, hi);
    }
    free(work);
    return SHR_OK;
}

shr_status shr_spmm_f32(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep, float *Y,
                        long ldy) {
    sp_job j;
    SHR_TRY(job_init(&j, A, M, X, ldx, NULL, ep, Y, ldy));
    return run(&j);
}

shr_status shr_spmm_q8(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                       const shr_gemm_epilogue *ep, float *Y, long ldy) {
    sp_job j;
    if (!q) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activation quantization");
    SHR_TRY(job_init(&j, A, M, X, ldx, q, ep, Y, ldy));
    return run(&j);
}
