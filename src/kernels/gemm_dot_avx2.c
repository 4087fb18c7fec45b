/* AVX2+FMA GEMM for narrow outputs in the Linear layout: C[M,N] = alpha * A[M,K] B[N,K]^T
 * (beta = 0, then the epilogue), N small (a classifier's 10 columns). Two kernels:
 *  - lanes (N >= 8, small K; gemm.c decides): the first 8 columns of B, transposed into
 *    Bt[K][8] by the caller (shr_gemm_f32_pack8_avx2), are the 8 lanes of one vector; 12 rows
 *    of A at a time each keep one accumulator, acc[r] += broadcast(A[r][k]) * Bt[k]: 13 loads
 *    per 12 FMAs, no horizontal reduction, and the epilogue works on 8 outputs at once. At
 *    K = 64..128 the dot kernel's reductions cost as much as its FMAs; this has none (M=64,
 *    N=10: K=64 0.96 vs 1.26 us, K=128 1.87 vs 2.08; at K=1152 dots win, 15.2 vs 16.0).
 *  - dot (the remaining N % 8 columns, or all when N < 8): both operands read along K in place
 *    as dot products: a block of 4 rows of A times 3 rows of B keeps 12 eight-lane
 *    accumulators (7 loads per 12 FMAs; the K % 8 tail through masked loads), then the
 *    accumulators are summed horizontally four at a time.
 * The packed 6x16 kernel would fill only 10 of its 16 columns and pack both operands for a few
 * microseconds of work. Each C element depends only on its row of A, its row of B and K: any
 * split of the rows over threads gives the same bits. */
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/simd_avx2.h"

/* The horizontal sums of four accumulators at once (lane i = sum of v_i). Each sum's order
 * depends only on its own accumulator, so a missing row can be a zero vector. */
static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Rows i0..i0+MB-1 of A against rows j0..j0+NB-1 of B (MB <= 4, 1 <= NB <= 3, compile-time). */
static inline __attribute__((always_inline)) void dot_block(const int MB, const int NB, int K, float alpha,
                                                            const float *A, long lda, const float *B, long ldb,
                                                            float *C, long ldc, int i0, int j0,
                                                            const shr_gemm_epilogue *ep) {
    __m256 acc[4][3];
    for (int a = 0; a < MB; a++)
        for (int b = 0; b < NB; b++) acc[a][b] = _mm256_setzero_ps();
    const float *ar[4], *br[3];
    for (int a = 0; a < MB; a++) ar[a] = A + (long)(i0 + a) * lda;
    for (int b = 0; b < NB; b++) br[b] = B + (long)(j0 + b) * ldb;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 bv[3];
        for (int b = 0; b < NB; b++) bv[b] = _mm256_loadu_ps(br[b] + k);
        for (int a = 0; a < MB; a++) {
            __m256 av = _mm256_loadu_ps(ar[a] + k);
            for (int b = 0; b < NB; b++) acc[a][b] = _mm256_fmadd_ps(av, bv[b], acc[a][b]);
        }
    }
    if (k < K) { /* the last K % 8 values through masked loads (zeros beyond K) */
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 bv[3];
        for (int b = 0; b < NB; b++) bv[b] = _mm256_maskload_ps(br[b] + k, mask);
        for (int a = 0; a < MB; a++) {
            __m256 av = _mm256_maskload_ps(ar[a] + k, mask);
            for (int b = 0; b < NB; b++) acc[a][b] = _mm256_fmadd_ps(av, bv[b], acc[a][b]);
        }
    }
    /* One reduce4 yields four sums; which C elements they are depends on NB: two rows of two
     * columns (NB = 2), four rows of one column (NB = 1), one row of three (NB = 3). Each sum's
     * bits do not depend on its lane. Then alpha, the bias and the clamp on the four lanes at
     * once (same operations, same order as the reference epilogue) and the stores. */
    const __m256 z = _mm256_setzero_ps();
    const int bias = ep && ep->bias, per_row = bias && ep->bias_per_row;
    const __m128 lo = _mm_set1_ps(ep ? ep->lo : 0.0f), hi = _mm_set1_ps(ep ? ep->hi : 0.0f);
#define DOT_FINISH(v, bvec)                                                                 \
    do {                                                                                   \
        v = _mm_mul_ps(_mm_set1_ps(alpha), v);                                             \
        if (bias) v = _mm_add_ps(v, bvec);                                                 \
        if (ep) v = _mm_min_ps(hi, _mm_max_ps(lo, v));                                     \
    } while (0)
    if (NB == 2) {
        for (int a = 0; a < MB; a += 2) {
            const int two = a + 1 < MB;
            __m128 v = reduce4(acc[a][0], acc[a][1], two ? acc[a + 1][0] : z, two ? acc[a + 1][1] : z);
            __m128 bv = _mm_setzero_ps();
            if (per_row) bv = _mm_setr_ps(ep->bias[i0 + a], ep->bias[i0 + a], two ? ep->bias[i0 + a + 1] : 0.0f,
                                          two ? ep->bias[i0 + a + 1] : 0.0f);
            else if (bias) bv = _mm_setr_ps(ep->bias[j0], ep->bias[j0 + 1], ep->bias[j0], ep->bias[j0 + 1]);
            DOT_FINISH(v, bv);
            float *c = C + (long)(i0 + a) * ldc + j0;
            _mm_storel_pi((__m64 *)c, v);
            if (two) _mm_storeh_pi((__m64 *)(c + ldc), v);
        }
    } else if (NB == 1) {
        __m128 v = reduce4(acc[0][0], MB > 1 ? acc[1][0] : z, MB > 2 ? acc[2][0] : z, MB > 3 ? acc[3][0] : z);
        __m128 bv = _mm_setzero_ps();
        if (per_row) {
            float rb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int a = 0; a < MB; a++) rb[a] = ep->bias[i0 + a];
            bv = _mm_loadu_ps(rb);
        } else if (bias) {
            bv = _mm_set1_ps(ep->bias[j0]);
        }
        DOT_FINISH(v, bv);
        float *c = C + (long)i0 * ldc + j0;
        _mm_store_ss(c, v);
        if (MB > 1) _mm_store_ss(c + ldc, _mm_shuffle_ps(v, v, 1));
        if (MB > 2) _mm_store_ss(c + 2 * ldc, _mm_shuffle_ps(v, v, 2));
        if (MB > 3) _mm_store_ss(c + 3 * ldc, _mm_shuffle_ps(v, v, 3));
    } else {
        for (int a = 0; a < MB; a++) {
            __m128 v = reduce4(acc[a][0], acc[a][1], acc[a][2], z);
            __m128 bv = _mm_setzero_ps();
            if (per_row) bv = _mm_set1_ps(ep->bias[i0 + a]);
            else if (bias) bv = _mm_setr_ps(ep->bias[j0], ep->bias[j0 + 1], ep->bias[j0 + 2], 0.0f);
            DOT_FINISH(v, bv);
            float *c = C + (long)(i0 + a) * ldc + j0;
            _mm_storel_pi((__m64 *)c, v);
            _mm_store_ss(c + 2, _mm_movehl_ps(v, v));
        }
    }
#undef DOT_FINISH
}

/* Bt[k * 8 + j] = B[j * ldb + k], j < 8, k < K: eight rows of B as K vectors of 8 lanes. */
void shr_gemm_f32_pack8_avx2(int K, const float *B, int ldb, float *Bt) { shr_pack_rows8_avx2(B, ldb, 8, K, Bt, 8); }

/* alpha, the bias and the clamp on one row of 8 outputs, in the order of the reference
 * epilogue, then the store. */
static inline void lane_store(__m256 acc, float alpha, const shr_gemm_epilogue *ep, __m256 bias_col, int row,
                              float *c) {
    __m256 v = _mm256_mul_ps(_mm256_set1_ps(alpha), acc);
    if (ep) {
        if (ep->bias) v = _mm256_add_ps(v, ep->bias_per_row ? _mm256_set1_ps(ep->bias[row]) : bias_col);
        v = _mm256_min_ps(_mm256_set1_ps(ep->hi), _mm256_max_ps(_mm256_set1_ps(ep->lo), v));
    }
    _mm256_storeu_ps(c, v);
}

static inline __m256 lane_bias(const shr_gemm_epilogue *ep, int j0) {
    return ep && ep->bias && !ep->bias_per_row ? _mm256_loadu_ps(ep->bias + j0) : _mm256_setzero_ps();
}

/* MB rows from i0 (compile-time, <= 12) times the 8 packed columns j0..j0+7. Named
 * accumulators and four row pointers (rows p, p + lda, p + 2 lda) keep everything in
 * registers (an array of accumulators indexed in a loop was spilled to the stack every
 * iteration); rows past MB are neither read nor stored. */
static inline __attribute__((always_inline)) void lane_rows(const int MB, int K, float alpha, const float *A,
                                                            long lda, const float *Bt, float *C, long ldc, int i0,
                                                            int j0, const shr_gemm_epilogue *ep) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    const float *p0 = A + (long)i0 * lda, *p3 = p0 + 3 * lda, *p6 = p3 + 3 * lda, *p9 = p6 + 3 * lda;
    const long l2 = 2 * lda;
    for (int k = 0; k < K; k++, p0++, p3++, p6++, p9++) {
        __m256 b = _mm256_load_ps(Bt + (long)k * 8);
#define LANE_FMA(i, c, p)                                                                          \
    if (MB > i) c = _mm256_fmadd_ps(_mm256_broadcast_ss(p), b, c)
        LANE_FMA(0, c0, p0); LANE_FMA(1, c1, p0 + lda); LANE_FMA(2, c2, p0 + l2);
        LANE_FMA(3, c3, p3); LANE_FMA(4, c4, p3 + lda); LANE_FMA(5, c5, p3 + l2);
        LANE_FMA(6, c6, p6); LANE_FMA(7, c7, p6 + lda); LANE_FMA(8, c8, p6 + l2);
        LANE_FMA(9, c9, p9); LANE_FMA(10, c10, p9 + lda); LANE_FMA(11, c11, p9 + l2);
#undef LANE_FMA
    }
    __m256 bc = lane_bias(ep, j0);
    float *c = C + (long)i0 * ldc + j0;
    const __m256 all[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (int a = 0; a < MB; a++) lane_store(all[a], alpha, ep, bc, i0 + a, c + a * ldc);
}

#define DOT_CASE(mb, nb)                                                                     \
    case (mb) * 4 + (nb):                                                                    \
        dot_block(mb, nb, K, alpha, A, lda, B, ldb, C, ldc, i, j, ep);                        \
        break;
void shr_gemm_f32_dot_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                           float *C, int ldc, const shr_gemm_epilogue *ep, const float *Bt) {
    int j = 0;
    if (Bt && N >= 8) {
        /* blocks of 12 rows, then of 8 (64 = 4 x 12 + 2 x 8: 8 FMA chains still cover the FMA
         * latency), then the last M % 8 rows at most four at a time */
        int i = 0;
        for (; M - i >= 12 && M - i != 16; i += 12) lane_rows(12, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
        for (; M - i >= 8; i += 8) lane_rows(8, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
        for (; i < M; i += 4) {
            if (M - i >= 4) lane_rows(4, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
            else if (M - i == 3) lane_rows(3, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
            else if (M - i == 2) lane_rows(2, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
            else lane_rows(1, K, alpha, A, lda, Bt, C, ldc, i, 0, ep);
        }
        j = 8;
    }
    /* Column blocks outside: their 3 rows of B stay in L1 while the rows of A stream by. */
    for (int nb; j < N; j += nb) {
        /* 3 columns at a time, but 4 as 2 + 2: a 4 x 1 block has only 4 FMA chains (bound
         * by FMA latency) and 5 loads per 4 FMAs */
        nb = N - j == 4 ? 2 : N - j < 3 ? N - j : 3;
        for (int i = 0; i < M; i += 4) {
            int mb = M - i < 4 ? M - i : 4;
            switch (mb * 4 + nb) {
                DOT_CASE(4, 3) DOT_CASE(4, 2) DOT_CASE(4, 1)
                DOT_CASE(3, 3) DOT_CASE(3, 2) DOT_CASE(3, 1)
                DOT_CASE(2, 3) DOT_CASE(2, 2) DOT_CASE(2, 1)
                DOT_CASE(1, 3) DOT_CASE(1, 2) DOT_CASE(1, 1)
            }
        }
    }
}
