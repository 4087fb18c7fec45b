/* AVX2+FMA int8 weight-only GEMV (layout in quant/w8.h): 4 rows at a time; 8 int8 weights are
 * widened (vpmovsxbd) and converted to f32, then one FMA with 8 activations. Two accumulators
 * per row hide the FMA latency; one horizontal sum per row, then the row's scale. */
#include <immintrin.h>

#include "kernels/simd_avx2.h"

#include "quant/w8.h"


static inline __m256 load8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

static inline __attribute__((always_inline)) void rows(const int R, int K, const int8_t *W, long ldw,
                                                       const float *x, float *out) {
    __m256 a0[4], a1[4];
    for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        for (int r = 0; r < R; r++) {
            a0[r] = _mm256_fmadd_ps(load8(W + r * ldw + k), x0, a0[r]);
            a1[r] = _mm256_fmadd_ps(load8(W + r * ldw + k + 8), x1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float s = shr_hsum8_avx2(_mm256_add_ps(a0[r], a1[r]));
        for (int t = k; t < K; t++) s += (float)W[r * ldw + t] * x[t];
        out[r] = s;
    }
}

void shr_w8_gemv_avx2(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                      const float *bias, float *y) {
    int n = 0;
    for (; n + 4 <= N; n += 4) rows(4, K, W + n * ldw, ldw, x, y + n);
    for (; n < N; n++) rows(1, K, W + n * ldw, ldw, x, y + n);
    for (int i = 0; i < N; i++) y[i] = y[i] * scale[per_channel ? i : 0] + (bias ? bias[i] : 0.0f);
}
