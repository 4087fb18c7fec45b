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

/* Below this many multiply-adds a second thread costs more than it saves. */
#define PAR_MIN_WORK 32768.0

static shr_status job_init(sp_job *j, const shr_spmat *A, int kn, int M, const void *X, long ldx,
                           const shr_sp_qinput *q, const shr_gemm_epilogue *ep, float *Y, long ldy) {
    *j = (sp_job){0};
    if (!A || !A->values) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL or empty weight");
    if (M < 0) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: batch %d", M);
    if (M > 0 && (!X || !Y)) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activations or output");
    if (!kn && (ldx < A->K || ldy < A->N))
        return shr_fail(SHR_ERR_SHAPE, "sparse matmul: strides %ld, %ld below K = %d, N = %d", ldx, ldy, A->K, A->N);
    if (kn && (ldx < M || ldy < M))
        return shr_fail(SHR_ERR_SHAPE, "sparse matmul (conv layout): strides %ld, %ld below M = %d", ldx, ldy, M);
    if (ep && ep->bias && ep->bias_per_row != kn)
        return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: the bias is per output %s here (bias_per_row = %d)",
                        kn ? "row" : "column", kn);
    j->A = A;
    j->kn = kn;
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
    if (j->M == 1 && !j->kn) {
        (ref ? shr_gemv_f32_ref : shr_gemv_f32)(A->N, A->K, A->values, A->K, j->X, j->bias, j->Y);
        for (int n = 0; n < A->N; n++) {
            float y = j->Y[n];
            y = y < j->lo ? j->lo : y;
            j->Y[n] = y > j->hi ? j->hi : y;
        }
        return SHR_OK;
    }
    if (j->ldx > INT_MAX || j->ldy > INT_MAX) return shr_fail(SHR_ERR_LIMIT, "sparse matmul: stride over INT_MAX");
    shr_gemm_epilogue ep = {j->bias, j->kn, j->lo, j->hi};
    void (*gemm)(int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int,
                 const shr_gemm_epilogue *) = ref ? shr_gemm_f32_ex_ref : shr_gemm_f32_ex;
    if (j->kn) /* Y[N,M] = W[N,K] X[K,M] */
        gemm(0, 0, A->N, j->M, A->K, 1.0f, A->values, A->K, j->X, (int)j->ldx, 0.0f, j->Y, (int)j->ldy, &ep);
    else /* Y[M,N] = X[M,K] W^T */
        gemm(0, 1, j->M, A->N, A->K, 1.0f, j->X, (int)j->ldx, A->values, A->K, 0.0f, j->Y, (int)j->ldy, &ep);
    return SHR_OK;
}

shr_status shr_spmm_f32_ref(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep,
                            float *Y, long ldy) {
    sp_job j;
    SHR_TRY(job_init(&j, A, 0, M, X, ldx, NULL, ep, Y, ldy));
    if (M == 0) return SHR_OK;
    if (A->format == SHR_SP_DENSE) return run_dense(&j, 1);
    shr_sp_rows_ref(&j, 0, A->N);
    return SHR_OK;
}

shr_status shr_spmm_q8_ref(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                           const shr_gemm_epilogue *ep, float *Y, long ldy) {
    sp_job j;
    if (!q) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activation quantization");
    SHR_TRY(job_init(&j, A, 0, M, X, ldx, q, ep, Y, ldy));
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

/* This thread's index and the team size (inside a parallel region; 0 of 1 outside). */
static void this_part(int *p, int *parts) {
    *p = 0, *parts = 1;
#ifdef _OPENMP
    *p = omp_get_thread_num();
    *parts = omp_get_num_threads();
#endif
}

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

/* Rows [k0, k1) of tile t of X (activation rows [64 t, 64 t + mt)) packed into buf. */
static void pack_tile(const sp_job *j, int t, void *buf, int k0, int k1) {
    int m0 = t * SP_TILE, mt = j->M - m0 < SP_TILE ? j->M - m0 : SP_TILE;
    shr_sp_pack_tile_avx2(j, m0, mt, sp_tile_width(mt), k0, k1, buf);
}

/* Tile t where the kernel reads it: X itself for a whole f32 tile in the conv layout (already
 * K-major, row stride ldx), else buf (row stride the tile width). */
static const void *tile_at(const sp_job *j, int t, void *buf, long *ldt) {
    int mt = j->M - t * SP_TILE < SP_TILE ? j->M - t * SP_TILE : SP_TILE;
    if (j->kn && j->vt != SP_VQ && mt == SP_TILE) {
        *ldt = j->ldx;
        return (const float *)j->X + (size_t)t * SP_TILE;
    }
    *ldt = sp_tile_width(mt);
    return buf;
}

/* The batched kernel over all tiles. With at least as many tiles as threads, each thread takes
 * whole tiles (all output rows) and packs them one at a time into its own cache-sized buffer;
 * otherwise (one or few tiles) the threads pack the tiles together, then split the rows. */
static shr_status run_tiles(const sp_job *j, int nthr) {
    const shr_spmat *A = j->A;
    int K = A->K, tiles = (j->M + SP_TILE - 1) / SP_TILE, by_tiles = tiles >= nthr;
    size_t tile_elems = (size_t)K * SP_TILE, bytes = (by_tiles ? (size_t)nthr : (size_t)tiles) * tile_elems * 4;
    void *work = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!work) return shr_fail(SHR_ERR_NOMEM, "sparse matmul: out of memory for a %zu-byte workspace", bytes);
#ifdef _OPENMP
#pragma omp parallel num_threads(nthr) if (nthr > 1)
#endif
    {
        int p, parts;
        this_part(&p, &parts);
        long ldt;
        if (by_tiles) {
            int32_t *buf = (int32_t *)work + (size_t)p * tile_elems;
            for (int t = (int)((int64_t)tiles * p / parts); t < (int)((int64_t)tiles * (p + 1) / parts); t++) {
                const void *xt = tile_at(j, t, buf, &ldt);
                if (xt == buf) pack_tile(j, t, buf, 0, K);
                shr_spmm_xt_avx2(j, xt, ldt, t * SP_TILE, 0, A->N);
            }
        } else {
            for (int t = 0; t < tiles; t++) {
                int32_t *buf = (int32_t *)work + (size_t)t * tile_elems;
                if (tile_at(j, t, buf, &ldt) == buf)
                    pack_tile(j, t, buf, (int)((int64_t)K * p / parts), (int)((int64_t)K * (p + 1) / parts));
            }
#ifdef _OPENMP
#pragma omp barrier
#endif
            int lo = part_start(A, p, parts), hi = part_start(A, p + 1, parts);
            for (int t = 0; t < tiles && hi > lo; t++) {
                const void *xt = tile_at(j, t, (int32_t *)work + (size_t)t * tile_elems, &ldt);
                shr_spmm_xt_avx2(j, xt, ldt, t * SP_TILE, lo, hi);
            }
        }
    }
    free(work);
    return SHR_OK;
}

/* From these batches on (measured crossovers) a format runs on K-major tiles of X; below, the
 * batch-1 kernel once per activation row is faster. */
static int xt_min_batch(shr_sp_format f) {
    static const int from[SHR_SP_NFORMATS] = {0, 4, 8, 4, 7, 6, 7};
    return from[f];
}

/* The batch-1 kernel of a format (run once per activation row). */
static rows_fn spmv_avx2(const shr_spmat *A) {
    if (A->format == SHR_SP_4X1 || A->format == SHR_SP_8X1) return shr_spmv_block_avx2;
    return A->nm_keep ? shr_spmv_nm_avx2 : shr_spmv_row_avx2;
}

static shr_status run(sp_job *j) {
    const shr_spmat *A = j->A;
    if (j->M == 0) return SHR_OK;
    if (A->format == SHR_SP_DENSE) return run_dense(j, 0);
    int avx2 = shr_cpu_has_avx2_fma();
    int nthr = 1;
#ifdef _OPENMP
    double macs = (double)(A->nm_keep ? A->nblocks * A->nm_keep : A->nblocks * A->br * A->bc) * j->M;
    nthr = omp_in_parallel() || macs < PAR_MIN_WORK ? 1 : omp_get_max_threads();
#endif
    if (avx2 && (j->kn || j->M >= xt_min_batch(A->format))) return run_tiles(j, nthr);
    /* rows: the reference, or the batch-1 kernel on row-major x (int8 widened first) */
    int need_xr = avx2 && j->vt == SP_VQ, K = A->K;
    void *work = NULL;
    if (need_xr && !(work = aligned_alloc(64, ((size_t)j->M * K * 4 + 63) & ~(size_t)63)))
        return shr_fail(SHR_ERR_NOMEM, "sparse matmul: out of memory widening %d x %d activations", j->M, K);
    j->xr = need_xr ? work : j->X;
    j->ldxr = need_xr ? K : j->ldx;
    rows_fn fn = avx2 ? spmv_avx2(A) : shr_sp_rows_ref;
#ifdef _OPENMP
    int units = (A->N + SP_ROW_UNIT - 1) / SP_ROW_UNIT;
    if (nthr > units) nthr = units;
#endif
    if (nthr == 1) { /* no team at all: even an if(0) parallel region costs ~0.5 us, a batch-1 layer ~1-5 us */
        if (need_xr) widen_rows(j, work, 0, j->M);
        fn(j, 0, A->N);
        free(work);
        return SHR_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nthr)
#endif
    {
        int p, parts;
        this_part(&p, &parts);
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

/* The public entries: layout kn, int8 activations when q8 (then q is required). */
static shr_status entry(const shr_spmat *A, int kn, int q8, int M, const void *X, long ldx, const shr_sp_qinput *q,
                        const shr_gemm_epilogue *ep, float *Y, long ldy) {
    sp_job j;
    if (q8 && !q) return shr_fail(SHR_ERR_INVALID_ARG, "sparse matmul: NULL activation quantization");
    SHR_TRY(job_init(&j, A, kn, M, X, ldx, q8 ? q : NULL, ep, Y, ldy));
    return run(&j);
}

shr_status shr_spmm_f32(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep, float *Y,
                        long ldy) {
    return entry(A, 0, 0, M, X, ldx, NULL, ep, Y, ldy);
}

shr_status shr_spmm_q8(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                       const shr_gemm_epilogue *ep, float *Y, long ldy) {
    return entry(A, 0, 1, M, X, ldx, q, ep, Y, ldy);
}

shr_status shr_spmm_f32_kn(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep,
                           float *Y, long ldy) {
    return entry(A, 1, 0, M, X, ldx, NULL, ep, Y, ldy);
}

shr_status shr_spmm_q8_kn(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                          const shr_gemm_epilogue *ep, float *Y, long ldy) {
    return entry(A, 1, 1, M, X, ldx, q, ep, Y, ldy);
}
