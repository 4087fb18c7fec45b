/* AVX2+FMA GEMM for narrow outputs in the Linear layout: C[M,N] = alpha * A[M,K] B[N,K]^T
 * (beta = 0, then the epilogue), N small (a classifier's 10 columns). Both operands are
 * read along K in place — no packing — as dot products: a block of 4 rows of A times 3 rows
 * of B keeps 12 eight-lane accumulators in registers (7 loads per 12 FMAs; the K % 8 tail
 * through masked loads), then the accumulators are summed horizontally four at a time. The packed 6x16 kernel would fill
 * only 10 of its 16 columns and pack both operands for a few microseconds of work.
 * Each C element depends only on its row of A, its row of B and K: any split over threads
 * gives the same bits. */
#include <immintrin.h>

#include "kernels/kernels.h"

/* The horizontal sums of four accumulators at once (lane i = sum of v_i). Each sum's order
 * depends only on its own accumulator, so a missing row can be a zero vector. */
static inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Rows i0..i0+MB-1 of A against rows j0..j0+NB-1 of B (MB <= 4, NB <= 3, compile-time). */
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
    /* Row by row: lane b of the reduced vector is C[i0 + a][j0 + b], so alpha, the bias and
     * the clamp apply to the row's NB sums at once (same operations, same order as epi). */
    __m256 z = _mm256_setzero_ps();
    for (int a = 0; a < MB; a++) {
        __m128 v = _mm_mul_ps(_mm_set1_ps(alpha), reduce4(acc[a][0], NB > 1 ? acc[a][1] : z, NB > 2 ? acc[a][2] : z, z));
        if (ep) {
            if (ep->bias) {
                if (ep->bias_per_row) {
                    v = _mm_add_ps(v, _mm_set1_ps(ep->bias[i0 + a]));
                } else {
                    float bb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                    for (int b = 0; b < NB; b++) bb[b] = ep->bias[j0 + b];
                    v = _mm_add_ps(v, _mm_loadu_ps(bb));
                }
            }
            v = _mm_min_ps(_mm_set1_ps(ep->hi), _mm_max_ps(_mm_set1_ps(ep->lo), v));
        }
        float out[4];
        _mm_storeu_ps(out, v);
        float *c = C + (long)(i0 + a) * ldc + j0;
        for (int b = 0; b < NB; b++) c[b] = out[b];
    }
}

#define DOT_CASE(mb, nb)                                                                     \
    case (mb) * 4 + (nb):                                                                    \
        dot_block(mb, nb, K, alpha, A, lda, B, ldb, C, ldc, i, j, ep);                        \
        break;

void shr_gemm_f32_dot_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                           float *C, int ldc, const shr_gemm_epilogue *ep) {
    /* Column blocks outside: their 3 rows of B stay in L1 while the rows of A stream by. */
    for (int j = 0; j < N; j += 3) {
        int nb = N - j < 3 ? N - j : 3;
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
