/* AVX2 packing of activations into the K-major tiles of the batched sparse kernels:
 *   tile[k][i] = x(m0 + i, k) for i < mt, 0 for mt <= i < tw,   k in [k0, k1)
 * x(m, k) is X in either layout (sp_xat). f32 is stored as is; int8 / uint8 as 32-bit lanes
 * (uint16_t)(x - zero) (see sparse_avx2.h). Row-major X goes through 8x8 register transposes;
 * K-major X (the convolution layout) is already in tile order and is copied (widened) row by row. */
#include "kernels/sparse_avx2.h"

/* 8 activations from p as 32-bit lanes: f32 bits, or widened int8 minus the zero point. */
SP_AI __m256 load8(const sp_job *j, const void *p) {
    if (j->vt != SP_VQ) return _mm256_loadu_ps(p);
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    __m256i v = j->x_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    v = _mm256_and_si256(_mm256_sub_epi32(v, _mm256_set1_epi32(j->x_zero)), _mm256_set1_epi32(0xffff));
    return _mm256_castsi256_ps(v);
}

/* One activation as a 32-bit lane (the scalar twin of load8). */
SP_AI int32_t load1(const sp_job *j, size_t at) {
    if (j->vt != SP_VQ) {
        int32_t v;
        memcpy(&v, (const float *)j->X + at, 4);
        return v;
    }
    int x = j->x_signed ? ((const int8_t *)j->X)[at] : ((const uint8_t *)j->X)[at];
    return (uint16_t)(x - j->x_zero);
}

SP_AI const void *x_at(const sp_job *j, size_t at) {
    return j->vt == SP_VQ ? (const void *)((const int8_t *)j->X + at) : (const void *)((const float *)j->X + at);
}

void shr_sp_pack_tile_avx2(const sp_job *j, int m0, int mt, int tw, int k0, int k1, void *tile) {
    int32_t *t = tile;
    for (int k = k0; k < k1; k++)
        for (int i = mt; i < tw; i++) t[(size_t)k * tw + i] = 0;
    if (j->kn) { /* row k of X holds x(m, k) for consecutive m */
        for (int k = k0; k < k1; k++) {
            int i = 0;
            for (; i + 8 <= mt; i += 8)
                _mm256_storeu_ps((float *)(t + (size_t)k * tw + i), load8(j, x_at(j, sp_xat(j, m0 + i, k))));
            for (; i < mt; i++) t[(size_t)k * tw + i] = load1(j, sp_xat(j, m0 + i, k));
        }
        return;
    }
    int i = 0;
    for (; i + 8 <= mt; i += 8) {
        int k = k0;
        for (; k + 8 <= k1; k += 8) {
            __m256 r[8];
            for (int q = 0; q < 8; q++) r[q] = load8(j, x_at(j, sp_xat(j, m0 + i + q, k)));
            v_transpose8(r);
            for (int q = 0; q < 8; q++) _mm256_store_ps((float *)(t + (size_t)(k + q) * tw + i), r[q]);
        }
        for (; k < k1; k++)
            for (int q = 0; q < 8; q++) t[(size_t)k * tw + i + q] = load1(j, sp_xat(j, m0 + i + q, k));
    }
    for (int k = k0; k < k1; k++)
        for (int q = i; q < mt; q++) t[(size_t)k * tw + q] = load1(j, sp_xat(j, m0 + q, k));
}
