/* Max-pooling rows on channels-last codes with AVX2: 32 u8 / i8 (vpmaxub / vpmaxsb) or 16 i16
 * (vpmaxsw) channels per instruction; the remaining channels as in the reference. */
#include <immintrin.h>
#include <string.h>

#include "nn/ops/qpool_rows.h"

#define MAX_ROW_AVX2(NAME, T, LANES, VMAX)                                                                    \
    void NAME(const qpool_cfg *c, const void *xv, void *yv, int oh) {                                         \
        const T *x = xv;                                                                                      \
        T *y = yv;                                                                                            \
        for (int ow = 0; ow < c->OW; ow++) {                                                                  \
            int h0, h1, w0, w1;                                                                               \
            shr_qpool_window(c, oh, ow, &h0, &h1, &w0, &w1);                                                  \
            T *yp = y + (size_t)ow * c->C;                                                                    \
            const T *first = x + ((size_t)h0 * c->W + w0) * c->C;                                             \
            int ch = 0;                                                                                       \
            for (; ch + LANES <= c->C; ch += LANES) {                                                         \
                __m256i m = _mm256_loadu_si256((const __m256i *)(first + ch));                                \
                for (int h = h0; h < h1; h++)                                                                 \
                    for (int w = w0; w < w1; w++)                                                             \
                        m = VMAX(m, _mm256_loadu_si256((const __m256i *)(x + ((size_t)h * c->W + w) * c->C + ch))); \
                _mm256_storeu_si256((__m256i *)(yp + ch), m);                                                 \
            }                                                                                                 \
            if (ch < c->C) { /* the channels left (all of them when C is small) */                       \
                int rest = c->C - ch;                                                                         \
                memcpy(yp + ch, first + ch, (size_t)rest * sizeof(T));                                        \
                for (int h = h0; h < h1; h++)                                                                 \
                    for (int w = w0; w < w1; w++) {                                                           \
                        const T *xp = x + ((size_t)h * c->W + w) * c->C + ch;                                 \
                        T *yq = yp + ch;                                                                      \
                        for (int i = 0; i < rest; i++) yq[i] = xp[i] > yq[i] ? xp[i] : yq[i];                 \
                    }                                                                                         \
            }                                                                                                 \
        }                                                                                                     \
    }

MAX_ROW_AVX2(shr_qmax_row_u8_avx2, uint8_t, 32, _mm256_max_epu8)
MAX_ROW_AVX2(shr_qmax_row_i8_avx2, int8_t, 32, _mm256_max_epi8)
MAX_ROW_AVX2(shr_qmax_row_i16_avx2, int16_t, 16, _mm256_max_epi16)
