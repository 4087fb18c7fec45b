/* GEMM dispatch: AVX2+FMA when the CPU has it, else the reference. Large problems are split
 * over OpenMP threads into column or row bands of C (never along K). Both kernels compute
 * each C element in an order that depends only on K, so the partition (and thus the thread
 * count) never changes a bit of the result. */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "kernels/gemm_internal.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"


/* Below this many multiply-adds a second thread saves less than the fork/join costs. */
#define PAR_MIN_WORK 2.0e5
/* Column bands are cut at multiples of 8 (the 6x8 edge kernel covers them), row bands at
 * whole micro-tile rows. */
#define COL_STEP 8
#define ROW_STEP SHR_GEMM_MR
/* Packing one element costs about this many multiply-adds (a gather into panels). */
#define PACK_WEIGHT 6.0
#define MAX_PARTS 256

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* One thread's share: padded micro-tile work plus packing its A rows (all M when splitting
 * columns) and, when the kernel packs op(B), its B columns (all N when splitting rows). */
static double share_cost(int transB, int m, int n, int K, int ldb) {
    double tiles = (double)round_up(m, SHR_GEMM_MR) * round_up(n, COL_STEP) * K;
    double packed = (double)m * K + (shr_gemm_avx2_packs_b(transB, m, K, ldb) ? (double)n * K : 0.0);
    return tiles + PACK_WEIGHT * packed;
}

/* Band p of `parts` over `len`, cut at multiples of `step`. */
static void band(int len, int step, int parts, int p, int *lo, int *hi) {
    int units = (len + step - 1) / step;
    *lo = (int)((long)units * p / parts) * step;
    *hi = (int)((long)units * (p + 1) / parts) * step;
    if (*lo > len) *lo = len;
    if (*hi > len) *hi = len;
}

/* Slowest share when cutting into `parts` column (by_cols) or row bands. */
static double split_cost(int by_cols, int parts, int transB, int M, int N, int K, int ldb) {
    double worst = 0.0;
    for (int p = 0; p < parts; p++) {
        int lo, hi;
        band(by_cols ? N : M, by_cols ? COL_STEP : ROW_STEP, parts, p, &lo, &hi);
        double c = by_cols ? share_cost(transB, M, hi - lo, K, ldb) : share_cost(transB, hi - lo, N, K, ldb);
        if (c > worst) worst = c;
    }
    return worst;
}

typedef void (*gemm_ex_fn)(int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                           int, const shr_gemm_epilogue *);

/* The epilogue of a sub-block of C starting at row r0, column c0. */
static const shr_gemm_epilogue *ep_shift(const shr_gemm_epilogue *ep, int r0, int c0, shr_gemm_epilogue *tmp) {
    if (!ep) return NULL;
    *tmp = *ep;
    if (ep->bias) tmp->bias = ep->bias + (ep->bias_per_row ? r0 : c0);
    return tmp;
}

/* Runs fn over bands of C on the OpenMP threads (or all of C on this thread). */
static void gemm_threaded(gemm_ex_fn fn, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep) {
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nthr > MAX_PARTS) nthr = MAX_PARTS;
    int Kw = K > 0 ? K : 1;
    if (nthr > 1 && (double)M * N * Kw >= PAR_MIN_WORK) {
        int col_units = (N + COL_STEP - 1) / COL_STEP, row_units = (M + ROW_STEP - 1) / ROW_STEP;
        int col_parts = col_units < nthr ? col_units : nthr, row_parts = row_units < nthr ? row_units : nthr;
        int by_cols = split_cost(1, col_parts, transB, M, N, Kw, ldb) <= split_cost(0, row_parts, transB, M, N, Kw, ldb);
        int parts = by_cols ? col_parts : row_parts;
        if (parts > 1) {
#pragma omp parallel for schedule(static) num_threads(parts)
            for (int p = 0; p < parts; p++) {
                int lo, hi;
                shr_gemm_epilogue tmp;
                if (by_cols) {
                    band(N, COL_STEP, parts, p, &lo, &hi);
                    const float *Bp = transB ? B + (long)lo * ldb : B + lo;
                    fn(transA, transB, M, hi - lo, K, alpha, A, lda, Bp, ldb, beta, C + lo, ldc, ep_shift(ep, 0, lo, &tmp));
                } else {
                    band(M, ROW_STEP, parts, p, &lo, &hi);
                    const float *Ap = transA ? A + lo : A + (long)lo * lda;
                    fn(transA, transB, hi - lo, N, K, alpha, Ap, lda, B, ldb, beta, C + (long)lo * ldc, ldc,
                       ep_shift(ep, lo, 0, &tmp));
                }
            }
            return;
        }
    }
#endif
    fn(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

/* Narrow outputs (a classifier's 10 columns) waste most of each 16-wide micro-tile. In the
 * Linear layout (A B^T) they run as dot products (gemm_dot); otherwise the transposed problem C^T = op(B)^T op(A)^T fills the tiles, and is computed into scratch
 * and transposed back. Each element still follows the same summation sequence, so the
 * result is bit-identical to the direct path. Only for beta == 0 (C is not read). */
#define NARROW_N 12
#define NARROW_MAX_FLOATS (1 << 20)

static int gemm_narrow(gemm_ex_fn fn, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float *C, int ldc, const shr_gemm_epilogue *ep) {
    if ((long)M * N > NARROW_MAX_FLOATS) return 0;
    float *T = shr_alloc((size_t)M * N * sizeof *T);
    if (!T) return 0;
    shr_gemm_epilogue tep;
    if (ep) {
        tep = *ep;
        tep.bias_per_row = !ep->bias_per_row;
    }
    gemm_threaded(fn, !transB, !transA, N, M, K, alpha, B, ldb, A, lda, 0.0f, T, M, ep ? &tep : NULL);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(long)i * ldc + j] = T[(long)j * M + i];
    shr_free(T);
    return 1;
}

/* Linear-layout narrow outputs (gemm_dot_avx2.c), rows split over threads. With N >= 8 and
 * a small K the first 8 rows of B are packed once here for the lanes kernel (stack for K <= 256). */
#define PACK8_STACK_K 256
/* Above this K the dot products' reductions are cheap and the lanes kernel's broadcasts
 * (13 loads per 12 FMAs) make it the slower one (measured crossover 256..512). */
#define LANES_MAX_K 384
static void gemm_dot(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                     int ldc, const shr_gemm_epilogue *ep) {
    _Alignas(32) float stack_bt[PACK8_STACK_K * 8];
    float *Bt = NULL;
    if (N >= 8 && K <= LANES_MAX_K) {
        Bt = K <= PACK8_STACK_K ? stack_bt : shr_alloc((size_t)K * 8 * sizeof *Bt);
        if (Bt) shr_gemm_f32_pack8_avx2(K, B, ldb, Bt); /* NULL: all columns as dot products */
    }
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    int blocks = (M + 11) / 12; /* a multiple of both kernels' row blocks */
    if (nthr > blocks) nthr = blocks;
    if (nthr > 1 && (double)M * N * K >= PAR_MIN_WORK) {
#pragma omp parallel for schedule(static) num_threads(nthr)
        for (int p = 0; p < nthr; p++) {
            int lo = (int)((long)blocks * p / nthr) * 12, hi = (int)((long)blocks * (p + 1) / nthr) * 12;
            if (hi > M) hi = M;
            shr_gemm_epilogue tmp;
            shr_gemm_f32_dot_avx2(hi - lo, N, K, alpha, A + (long)lo * lda, lda, B, ldb, C + (long)lo * ldc, ldc,
                                  ep_shift(ep, lo, 0, &tmp), Bt);
        }
    } else
#endif
        shr_gemm_f32_dot_avx2(M, N, K, alpha, A, lda, B, ldb, C, ldc, ep, Bt);
    if (Bt && Bt != stack_bt) shr_free(Bt);
}

void shr_gemm_f32_ex(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep) {
    if (M <= 0 || N <= 0) return;
    int avx2 = shr_cpu_has_avx2_fma();
    gemm_ex_fn fn = avx2 ? shr_gemm_f32_ex_avx2 : shr_gemm_f32_ex_ref;
    if (avx2 && !transA && transB && beta == 0.0f && N <= NARROW_N && K >= 16) {
        gemm_dot(M, N, K, alpha, A, lda, B, ldb, C, ldc, ep);
        return;
    }
    if (avx2 && beta == 0.0f && N <= NARROW_N && M >= 4 * N && K > 0 &&
        gemm_narrow(fn, transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc, ep))
        return;
    gemm_threaded(fn, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
}

void shr_gemm_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    shr_gemm_f32_ex(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}
