/* Internal to the sparse AVX2 kernels (include only from *_avx2.c): one vector type for the
 * three value kinds so each kernel is written once and specialised by a compile-time `vt`:
 *   SP_VF  8 f32 lanes, acc += w * x (FMA)
 *   SP_VI  8 f32 lanes, w is int8 widened to f32 (weight-only; scale applied after the sum)
 *   SP_VQ  8 s32 lanes, x lanes hold (uint16_t)(x - zero) (upper half 0), w is int8
 *          sign-extended, so vpmaddwd gives the exact product and vpaddd the exact sum. */
#ifndef SHR_KERNELS_SPARSE_AVX2_H
#define SHR_KERNELS_SPARSE_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "kernels/sparse_internal.h"

#define SP_AI static inline __attribute__((always_inline))

typedef __m256 V; /* 8 f32 lanes, or 8 s32 lanes (VQ) in the same register type */

/* 8 consecutive weights from value index i. */
SP_AI V v_w8(int vt, const void *vals, int64_t i) {
    if (vt == SP_VF) return _mm256_loadu_ps((const float *)vals + i);
    __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)vals + i)));
    return vt == SP_VI ? _mm256_cvtepi32_ps(q) : _mm256_castsi256_ps(q);
}

/* 4 consecutive weights from value index i in the low half (upper half zero). */
SP_AI V v_w4(int vt, const void *vals, int64_t i) {
    if (vt == SP_VF) return _mm256_zextps128_ps256(_mm_loadu_ps((const float *)vals + i));
    int32_t four;
    memcpy(&four, (const int8_t *)vals + i, 4);
    __m128i q = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(four));
    return _mm256_zextps128_ps256(vt == SP_VI ? _mm_cvtepi32_ps(q) : _mm_castsi128_ps(q));
}

/* One weight in all lanes. */
SP_AI V v_w1(int vt, const void *vals, int64_t i) {
    if (vt == SP_VF) return _mm256_set1_ps(((const float *)vals)[i]);
    int q = ((const int8_t *)vals)[i];
    return vt == SP_VI ? _mm256_set1_ps((float)q) : _mm256_castsi256_ps(_mm256_set1_epi32(q));
}

/* One activation (4-byte element k of a row of xr / xt) in all lanes. */
SP_AI V v_x1(const void *x, int64_t k) { return _mm256_broadcast_ss((const float *)x + k); }

SP_AI V v_load(const void *p) { return _mm256_loadu_ps((const float *)p); }

/* acc + w * x */
SP_AI V v_mac(int vt, V acc, V w, V x) {
    if (vt == SP_VQ) {
        __m256i p = _mm256_madd_epi16(_mm256_castps_si256(x), _mm256_castps_si256(w));
        return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(acc), p));
    }
    return _mm256_fmadd_ps(w, x, acc);
}

SP_AI V v_add(int vt, V a, V b) {
    if (vt == SP_VQ) return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b)));
    return _mm256_add_ps(a, b);
}

SP_AI V v_zero(void) { return _mm256_setzero_ps(); }

/* Lanes as f32 (s32 lanes converted, exactly as (float)int). */
SP_AI __m256 v_float(int vt, V a) { return vt == SP_VQ ? _mm256_cvtepi32_ps(_mm256_castps_si256(a)) : a; }

/* A scalar tail next to the vector sums: f for VF / VI, i for VQ. */
typedef struct sp_tail {
    float f;
    int32_t i;
} sp_tail;

SP_AI void s_mac(int vt, sp_tail *t, const void *vals, int64_t i, const void *x, int64_t k) {
    if (vt == SP_VF)
        t->f += ((const float *)vals)[i] * ((const float *)x)[k];
    else if (vt == SP_VI)
        t->f += (float)((const int8_t *)vals)[i] * ((const float *)x)[k];
    else
        t->i += (int32_t)((const int8_t *)vals)[i] * (int16_t)((const int32_t *)x)[k];
}

/* The row's sum: lanes added pairwise, then the tail. */
SP_AI float v_finish(int vt, V a, sp_tail t) {
    if (vt == SP_VQ) {
        __m256i ai = _mm256_castps_si256(a);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(ai), _mm256_extracti128_si256(ai, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        return (float)(_mm_cvtsi128_si32(s) + t.i);
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s) + t.f;
}

/* Blocks [b, end) of 4 values each (1x4 or 4x1), two blocks per vector (their 8 values are
 * contiguous): x of a block is its 4 consecutive columns (cols4) or its column broadcast.
 * Two accumulators; an odd last block goes in the low half with the upper weights zero. */
SP_AI V v_blocks4(int vt, const int cols4, const shr_spmat *A, const void *x, int64_t b, int64_t end) {
    const float *xf = x;
#define SP_X2(b0, b1)                                                                              \
    (cols4 ? _mm256_loadu2_m128(xf + sp_col(A, b1), xf + sp_col(A, b0))                             \
           : _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcast_ss(xf + sp_col(A, b0))),      \
                                  _mm_broadcast_ss(xf + sp_col(A, b1)), 1))
    V a0 = v_zero(), a1 = a0;
    for (; b + 4 <= end; b += 4) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, 4 * b), SP_X2(b, b + 1));
        a1 = v_mac(vt, a1, v_w8(vt, A->values, 4 * b + 8), SP_X2(b + 2, b + 3));
    }
    if (b + 2 <= end) {
        a0 = v_mac(vt, a0, v_w8(vt, A->values, 4 * b), SP_X2(b, b + 1));
        b += 2;
    }
#undef SP_X2
    if (b < end) {
        V xv = cols4 ? _mm256_zextps128_ps256(_mm_loadu_ps(xf + sp_col(A, b))) : v_x1(x, sp_col(A, b));
        a1 = v_mac(vt, a1, v_w4(vt, A->values, 4 * b), xv);
    }
    return v_add(vt, a0, a1);
}

/* 8x8 transpose in registers: row q of the input becomes r[q] = column q. */
SP_AI void v_transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int q = 0; q < 4; q++) {
        t[2 * q] = _mm256_unpacklo_ps(r[2 * q], r[2 * q + 1]);
        t[2 * q + 1] = _mm256_unpackhi_ps(r[2 * q], r[2 * q + 1]);
    }
    for (int q = 0; q < 2; q++) {
        u[4 * q] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
        u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
    }
}

/* Calls fn(vt, j, ...) with vt a compile-time constant (one specialised copy each). */
#define SP_BY_VT(fn, j, ...)                                                                       \
    do {                                                                                           \
        if ((j)->vt == SP_VF)                                                                      \
            fn(SP_VF, j, __VA_ARGS__);                                                             \
        else if ((j)->vt == SP_VI)                                                                 \
            fn(SP_VI, j, __VA_ARGS__);                                                             \
        else                                                                                       \
            fn(SP_VQ, j, __VA_ARGS__);                                                             \
    } while (0)

/* sp_epilogue, bit-identical, for 8 outputs: of the rows n0..n0+7 (row = 0; all < N) or 8
 * activation rows of the one output row n0 (row = 1). */
SP_AI __m256 v_epilogue_at(const sp_job *j, const int row, int n0, __m256 y) {
    if (j->vt != SP_VF) { /* int8: times scale[n] (int8 activations: x_scale * scale[n], rounded first) */
        __m256 sc = row ? _mm256_set1_ps(j->A->scale[n0]) : _mm256_loadu_ps(j->A->scale + n0);
        if (j->vt == SP_VQ) sc = _mm256_mul_ps(_mm256_set1_ps(j->x_scale), sc);
        y = _mm256_mul_ps(y, sc);
    }
    if (j->bias) y = _mm256_add_ps(y, row ? _mm256_set1_ps(j->bias[n0]) : _mm256_loadu_ps(j->bias + n0));
    y = _mm256_max_ps(_mm256_set1_ps(j->lo), y); /* lo > y ? lo : y keeps NaN like the scalar one */
    return _mm256_min_ps(_mm256_set1_ps(j->hi), y);
}
SP_AI __m256 v_epilogue(const sp_job *j, int n0, __m256 y) { return v_epilogue_at(j, 0, n0, y); }

#endif
