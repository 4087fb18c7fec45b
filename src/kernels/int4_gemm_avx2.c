/* AVX2 dequantization of an int4 tile into the transposed f32 panel the fp32 GEMM reads in
 * place (int4.h, shr_i4_dequant_t_*): T[k*ldt + j] = w[n0 + j][k0 + k].
 *
 * Lane j holds row n0 + j0 + j: one vector holds, for 8 rows, the dword that packs their
 * 8 nibbles of k..k+7 (k0 is a multiple of 32, so such a block never leaves its group).
 * Shifting nibble l to the top and arithmetically back sign-extends it, so each of the 8
 * shifts yields one full T row (k + l) for 8 columns with no transpose. (v - zero) -> float
 * -> times scale is exactly the reference's (float)(v - zero) * scale. Rows past nb repeat
 * the last row (their columns of T are padding); T rows past kb are not stored. T needs
 * ldt >= nb rounded up to 8. */
#include <immintrin.h>
#include <string.h>

#include "kernels/int4.h"

/* T row for nibble L (compile-time) of every lane of d. */
#define NIBBLE_ROW(L)                                                                              \
    if ((L) < rows) {                                                                              \
        __m256i v = _mm256_srai_epi32(_mm256_slli_epi32(d, 28 - 4 * (L)), 28);                     \
        _mm256_storeu_ps(t + (L) * ldt, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zv)), sv)); \
    }

void shr_i4_dequant_t_avx2(const shr_i4_mat *W, int n0, int nb, int k0, int kb, float *T, long ldt) {
    for (int j0 = 0; j0 < nb; j0 += 8) {
        int row[8];
        for (int j = 0; j < 8; j++) row[j] = j0 + j < nb ? j : nb - 1 - j0;
        const uint8_t *base = W->q + (long)(n0 + j0) * W->ldq;
        __m256i zv = _mm256_setzero_si256();
        __m256 sv = _mm256_setzero_ps();
        for (int k = 0; k < kb; k += 8) {
            int kk = k0 + k, g = kk / W->group;
            if (k == 0 || kk % W->group == 0) { /* a new group: its 8 scales and zero points */
                float s[8];
                int z[8];
                for (int j = 0; j < 8; j++) {
                    long gi = (long)(n0 + j0 + row[j]) * W->ngroups + g;
                    s[j] = W->scale[gi];
                    z[j] = W->zero ? W->zero[gi] : 0;
                }
                sv = _mm256_loadu_ps(s);
                zv = _mm256_loadu_si256((const __m256i *)z);
            }
            const uint8_t *b = base + kk / 2;
            int32_t w[8]; /* 8 scalar loads beat vpgatherdd here (measured) */
            for (int j = 0; j < 8; j++) memcpy(&w[j], b + (long)row[j] * W->ldq, 4);
            __m256i d = _mm256_loadu_si256((const __m256i *)w);
            int rows = kb - k < 8 ? kb - k : 8;
            float *t = T + (long)k * ldt + j0;
            NIBBLE_ROW(0) NIBBLE_ROW(1) NIBBLE_ROW(2) NIBBLE_ROW(3)
            NIBBLE_ROW(4) NIBBLE_ROW(5) NIBBLE_ROW(6) NIBBLE_ROW(7)
        }
    }
}
