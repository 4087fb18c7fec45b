/* AVX2 output stage of the integer GEMM: int32 sums + folded bias -> s32, u8/s8 (gemmlowp
 * requantization, bit-exact with shr_requant in requant.c) or f32 (one FMA, as fmaf in the
 * reference). ct holds a micro-tile, MR x NR int32 (qgemm_avx2.c). */
#include <string.h>

#include "kernels/qgemm_avx2.h"

#define MR SHR_QG_MR
#define NR SHR_QG_NR

void shr_qg_vepi_prepare(const shr_qgemm_packed *p, const shr_qout *o, int panel, shr_qg_vepi *v) {
    shr_qg_epi e;
    shr_qg_epi_fill(p, o, panel, &e);
    int32_t lo[NR], hi[NR], mask[NR], half[NR];
    v->any_lshift = 0;
    for (int j = 0; j < NR; j++) {
        lo[j] = INT32_MIN >> e.lshift[j]; /* inputs outside [lo, hi] saturate when shifted left */
        hi[j] = INT32_MAX >> e.lshift[j];
        mask[j] = (int32_t)((1LL << e.rshift[j]) - 1);
        half[j] = mask[j] >> 1;
        v->any_lshift |= e.lshift[j] != 0;
    }
    for (int h = 0; h < 2; h++) {
#define LD(a) _mm256_loadu_si256((const __m256i *)((a) + 8 * h))
        v->comp[h] = LD(e.comp);
        v->mult[h] = LD(e.mult);
        v->mult_odd[h] = _mm256_srli_epi64(v->mult[h], 32);
        v->lshift[h] = LD(e.lshift);
        v->lsat_lo[h] = LD(lo);
        v->lsat_hi[h] = LD(hi);
        v->rshift[h] = LD(e.rshift);
        v->rmask[h] = LD(mask);
        v->rhalf[h] = LD(half);
#undef LD
        v->scale[h] = _mm256_loadu_ps(e.scale + 8 * h);
        v->bias[h] = _mm256_loadu_ps(e.bias + 8 * h);
    }
    /* clamp(zp + r, qmin, qmax) as clamp(r, qmin - zp, qmax - zp) + zp: no int32 overflow. */
    v->zp = _mm256_set1_epi32(o->zero_point);
    v->rlo = _mm256_set1_epi32(o->qmin - o->zero_point);
    v->rhi = _mm256_set1_epi32(o->qmax - o->zero_point);
    v->flo = _mm256_set1_ps((float)(o->qmin - o->zero_point));
    v->fhi = _mm256_set1_ps((float)(o->qmax - o->zero_point));
}

/* shr_requant on 8 lanes:
 *  - saturating left shift (lanes outside [lo, hi] go to INT32_MIN / INT32_MAX), skipped when
 *    no channel of the panel shifts left;
 *  - SRDHM(a, m) = floor((a*m + 2^30) / 2^31) (equal to gemmlowp's nudge-and-truncate for
 *    m >= 0; test_requant checks the identity): the signed 64-bit product (vpmuldq) plus 2^30,
 *    and of (P >> 31) only the low 32 bits are kept, so a logical shift serves;
 *  - rounding right shift: (q >> e) + ((q & mask) > (mask >> 1) + (q < 0)), ties away from 0. */
static inline __m256i requant8(__m256i a, const shr_qg_vepi *v, int h) {
    if (v->any_lshift) {
        __m256i s = _mm256_sllv_epi32(a, v->lshift[h]);
        s = _mm256_blendv_epi8(s, _mm256_set1_epi32(INT32_MAX), _mm256_cmpgt_epi32(a, v->lsat_hi[h]));
        a = _mm256_blendv_epi8(s, _mm256_set1_epi32(INT32_MIN), _mm256_cmpgt_epi32(v->lsat_lo[h], a));
    }
    const __m256i r30 = _mm256_set1_epi64x(1LL << 30);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, v->mult[h]), r30);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), v->mult_odd[h]), r30);
    /* even lanes: bits 31..62 down to the low dword; odd: up to the high dword */
    __m256i q = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);

    __m256i rem = _mm256_and_si256(q, v->rmask[h]);
    __m256i thr = _mm256_add_epi32(v->rhalf[h], _mm256_srli_epi32(q, 31));
    __m256i r = _mm256_sub_epi32(_mm256_srav_epi32(q, v->rshift[h]), _mm256_cmpgt_epi32(rem, thr));
    return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, v->rlo), v->rhi), v->zp);
}

/* Two vectors of 8 int32 already in the type's range -> their 16 low bytes in order, at y
 * (the first cnt of them). u8: packus keeps 0..255; s8: packs keeps -128..127. */
static inline void store_bytes16(char *y, __m256i r0, __m256i r1, int u8, int cnt) {
    __m256i w = _mm256_packs_epi32(r0, r1); /* per lane: r0[0..3] r1[0..3] | r0[4..7] r1[4..7] */
    __m256i b = u8 ? _mm256_packus_epi16(w, w) : _mm256_packs_epi16(w, w);
    __m128i o = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5)));
    if (cnt == 16) _mm_storeu_si128((__m128i *)y, o);
    else if (cnt == 8) _mm_storel_epi64((__m128i *)y, o);
    else {
        char t[16];
        _mm_storeu_si128((__m128i *)t, o);
        for (int j = 0; j < cnt; j++) y[j] = t[j];
    }
}

/* The first cnt (< 8) lanes of v to y. Not vpmaskmovd: a masked store is microcoded on AMD
 * Zen (measured: 87% of the epilogue's time with it). */
static inline void store_part(void *y, __m256i v, int cnt) {
    uint32_t t[8];
    _mm256_storeu_si256((__m256i *)t, v);
    uint32_t *d = y;
    for (int j = 0; j < cnt; j++) d[j] = t[j];
}

static inline void store8(void *y, __m256i v, int cnt) {
    if (cnt >= 8) _mm256_storeu_si256((__m256i *)y, v);
    else store_part(y, v, cnt);
}

/* Row i's sums for channels 8h..8h+7 with the folded bias. */
static inline __m256i acc_at(const shr_qg_vepi *v, const int32_t *ct, int i, int h) {
    return _mm256_add_epi32(_mm256_load_si256((const __m256i *)(ct + i * NR + 8 * h)), v->comp[h]);
}

static inline __m256i requant_f8(__m256i a, const shr_qg_vepi *v, int h) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(a), v->scale[h]);
    f = _mm256_min_ps(_mm256_max_ps(f, v->flo), v->fhi); /* as the reference: clamp, then round */
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), v->zp); /* half to even (MXCSR default) */
}

void shr_qg_epilogue(const shr_qg_vepi *v, const shr_qout *o, const int32_t *ct, int mr, int nr, int m, int n0) {
    const long ldy = o->ldy;
    switch (o->kind) {
    case SHR_QOUT_S32: {
        int32_t *y = (int32_t *)o->y + (long)m * ldy + n0;
        for (int i = 0; i < mr; i++, y += ldy) {
            store8(y, acc_at(v, ct, i, 0), nr);
            if (nr > 8) store8(y + 8, acc_at(v, ct, i, 1), nr - 8);
        }
        break;
    }
    case SHR_QOUT_F32: {
        float *y = (float *)o->y + (long)m * ldy + n0;
        for (int i = 0; i < mr; i++, y += ldy)
            for (int h = 0; 8 * h < nr; h++) {
                __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc_at(v, ct, i, h)), v->scale[h], v->bias[h]);
                if (o->relu) f = _mm256_max_ps(f, _mm256_setzero_ps());
                store8(y + 8 * h, _mm256_castps_si256(f), nr - 8 * h);
            }
        break;
    }
    case SHR_QOUT_U8:
    case SHR_QOUT_S8:
    case SHR_QOUT_U8F:
    case SHR_QOUT_S8F: { /* gemmlowp fixed point, or the float multiplier */
        const int fixed = o->kind == SHR_QOUT_U8 || o->kind == SHR_QOUT_S8, u8 = shr_qout_is_u8(o->kind);
        char *y = (char *)o->y + (long)m * ldy + n0;
        for (int i = 0; i < mr; i++, y += ldy) {
            __m256i a0 = acc_at(v, ct, i, 0), a1 = nr > 8 ? acc_at(v, ct, i, 1) : a0;
            __m256i r0 = fixed ? requant8(a0, v, 0) : requant_f8(a0, v, 0);
            __m256i r1 = nr <= 8 ? r0 : fixed ? requant8(a1, v, 1) : requant_f8(a1, v, 1);
            store_bytes16(y, r0, r1, u8, nr);
        }
        break;
    }
    }
}
