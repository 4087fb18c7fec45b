/* AVX2+FMA fp32 GEMV, y[N] = W[N,K] x[K] (+ bias), W row-major (a Linear layer's weight at
 * batch 1). Memory-bound: every weight is read once, so the kernel just has to keep enough
 * loads in flight — 4 rows at a time, two 8-lane accumulators per row (8 FMA chains cover
 * the FMA latency), one horizontal sum per row. Each row's sum order depends only on K. */
#include <immintrin.h>

#include "kernels/simd_avx2.h"

#include "kernels/kernels.h"


/* Rows r..r+R-1 (R compile-time 1 or 4). */
static inline __attribute__((always_inline)) void rows(const int R, int K, const float *W, long ldw,
                                                       const float *x, float *out) {
    __m256 a0[4], a1[4];
    for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        for (int r = 0; r < R; r++) {
            a0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(W + r * ldw + k), x0, a0[r]);
            a1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(W + r * ldw + k + 8), x1, a1[r]);
        }
    }
    if (k + 8 <= K) {
        __m256 x0 = _mm256_loadu_ps(x + k);
        for (int r = 0; r < R; r++) a0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(W + r * ldw + k), x0, a0[r]);
        k += 8;
    }
    for (int r = 0; r < R; r++) {
        float s = shr_hsum8_avx2(_mm256_add_ps(a0[r], a1[r]));
        for (int t = k; t < K; t++) s += W[r * ldw + t] * x[t];
        out[r] = s;
    }
}

void shr_gemv_f32_avx2(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y) {
    int n = 0;
    for (; n + 4 <= N; n += 4) rows(4, K, W + n * ldw, ldw, x, y + n);
    for (; n < N; n++) rows(1, K, W + n * ldw, ldw, x, y + n);
    if (bias)
        for (int i = 0; i < N; i++) y[i] += bias[i];
}
