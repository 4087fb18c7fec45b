/* AVX-512 VNNI integer GEMM with the output stage fused, codes out (SHR_QOUT_U8 / S8 / U8F /
 * S8F): the AVX2 driver's fused path (shr_qg_vnni_codes, rows of X as a matrix) and
 * shr_qgemm_taps (shr_qg_vnni_taps, rows as taps). Same operands as qgemm_vnni_avx2.c:
 *   x: u8 codes, row i's 4 codes of quad q at x + i * xrs + q * xqs (or taps);
 *   w: panels [q][16 channels][4 k] s8, one zmm per quad; acc = one zmm per row and panel.
 * Tiles are 6 rows x 1 or 2 panels (12 accumulators), plus the folded bias. The panel
 * constants are prepared once per pair of panels and every tile of the band runs inside one
 * function, so at small K (first convolutions: K = 9, three vpdpbusd per row) the cost is the
 * requantization, which is cut to the bone here:
 *   - fixed point with a right shift e >= 1 on every channel (the usual case: scale < 1/2) runs
 *     SRDHM and the rounding shift as one 64-bit rounding (below), 12 ops per 16 channels;
 *     a left shift or e = 0 anywhere takes the step-by-step version of requant8;
 *   - the clamp, the zero point and the narrowing run on four rows at once: vpackssdw
 *     (saturating to int16), vpaddsw zp, vpackuswb / vpacksswb (saturating to the type), then
 *     vpmaxub / vpminub to [qmin, qmax]. Saturation keeps the order: clamp(sat(v), qmin, qmax) =
 *     clamp(v, qmin, qmax) for qmin, qmax inside the type, so this is clamp(zp + r, qmin, qmax).
 * One 64-bit rounding: with a = acc + bias, m the multiplier, e the right shift, gemmlowp's
 *   q = SRDHM(a, m) = floor((a m + 2^30) / 2^31),  r = RDBPOT(q, e) = floor((q + 2^(e-1) - [q < 0]) / 2^e)
 * and floor((floor(P / 2^31) + c) / 2^e) = floor((P + c 2^31) / 2^(31+e)) for integer c, so
 *   r = floor((a m + 2^30 + 2^(30+e) - [q < 0] 2^31) / 2^(31+e)).
 * [q < 0] may be replaced by [a < 0]: a >= 0 gives q >= 0, and a < 0 gives q <= 0, where q = 0
 * rounds to 0 with or without the -1. |a m| < 2^62, so the sum fits int64 and vpsravq does the
 * floor. Even channels: vpmuldq on the low dwords; odd: the high dwords shifted down with their
 * sign, and shifted by e - 1 only, which leaves r in the high dword (merged by one blend).
 * With qmin >= zp (a fused ReLU) the [a < 0] term is left out (RQ_RELU): a < 0 gives r <= 0
 * either way, and zp + r <= qmin is clamped to qmin: 8 ops per 16 channels.
 * The float multiplier (U8F / S8F): (float)a * rq_scale, min(., qmax - zp) (the bottom is the
 * saturation's: a conversion out of range gives INT32_MIN), vcvtps2dq half to even; rounding
 * and clamping to integer bounds commute. Bit-exact with shr_qgemm_ref (tests/kernels/test_qgemm.c). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#endif

#include <string.h>

#include "kernels/qgemm_avx2.h"

#define MR SHR_QG_MR
#define NR SHR_QG_NR

/* RQ_RELU: RQ_FAST where qmin >= zp (a fused ReLU): a < 0 gives r <= 0 with or without the
 * [a < 0] term, and zp + r <= qmin is clamped to qmin either way, so the term is left out. */
enum { RQ_FAST, RQ_RELU, RQ_FIX, RQ_FLT };

/* One panel's constants. */
typedef struct q8pan {
    __m512i comp, mult, mult_odd;
    __m512i ce, co, se, so;                                 /* RQ_FAST: 64-bit rounding terms, shifts */
    __m512i lshift, lsat_lo, lsat_hi, rshift, rmask, rhalf; /* RQ_FIX */
    __m512 scale;                                           /* RQ_FLT */
    int any_lshift;
} q8pan;

typedef struct q8epi {
    q8pan pan[2];
    __m512i zp16, qmin8, qmax8;
    __m512 fhi;
    int clamp; /* [qmin, qmax] narrower than the type */
} q8epi;

static inline __m512i ld16(const int32_t *p) { return _mm512_loadu_si512((const void *)p); }

static void prep_pan(const shr_qgemm_packed *p, const shr_qout *o, int panel, int mode, q8pan *c) {
    _Alignas(64) shr_qg_epi e;
    shr_qg_epi_fill(p, o, panel, &e);
    c->comp = ld16(e.comp);
    c->mult = ld16(e.mult);
    c->mult_odd = _mm512_srli_epi64(c->mult, 32);
    c->scale = _mm512_loadu_ps(e.scale);
    if (mode == RQ_FAST || mode == RQ_RELU) { /* channels past N: e = 1 (their codes are never stored) */
        const __m512i one = _mm512_set1_epi64(1), r30 = _mm512_set1_epi64(1LL << 30);
        __m512i sh = _mm512_max_epi32(ld16(e.rshift), _mm512_set1_epi32(1));
        __m512i se = _mm512_and_si512(sh, _mm512_set1_epi64(0xFFFFFFFF)), so = _mm512_srli_epi64(sh, 32);
        c->ce = _mm512_add_epi64(r30, _mm512_sllv_epi64(r30, se)); /* 2^30 + 2^(30+e) */
        c->co = _mm512_add_epi64(r30, _mm512_sllv_epi64(r30, so));
        c->se = _mm512_add_epi64(se, _mm512_set1_epi64(31));
        c->so = _mm512_sub_epi64(so, one);
    } else if (mode == RQ_FIX) {
        c->lshift = ld16(e.lshift);
        c->rshift = ld16(e.rshift);
        c->lsat_lo = _mm512_srav_epi32(_mm512_set1_epi32(INT32_MIN), c->lshift);
        c->lsat_hi = _mm512_srav_epi32(_mm512_set1_epi32(INT32_MAX), c->lshift);
        c->rmask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), c->rshift), _mm512_set1_epi32(1));
        c->rhalf = _mm512_srai_epi32(c->rmask, 1);
        c->any_lshift = _mm512_test_epi32_mask(c->lshift, c->lshift) != 0;
    }
}

/* The output stage's mode: RQ_FAST when every channel shifts right by at least one. */
static int rq_mode(const shr_qgemm_packed *p, const shr_qout *o) {
    if (o->kind == SHR_QOUT_U8F || o->kind == SHR_QOUT_S8F) return RQ_FLT;
    int nc = o->per_channel ? p->N : 1;
    for (int c = 0; c < nc; c++)
        if (o->shift[c] > -1) return RQ_FIX;
    return o->qmin >= o->zero_point ? RQ_RELU : RQ_FAST;
}

static void prep(const shr_qgemm_packed *p, const shr_qout *o, int panel, int np, int mode, q8epi *z) {
    for (int i = 0; i < np; i++) prep_pan(p, o, panel + i, mode, &z->pan[i]);
    z->zp16 = _mm512_set1_epi16((short)o->zero_point);
    z->qmin8 = _mm512_set1_epi8((char)o->qmin);
    z->qmax8 = _mm512_set1_epi8((char)o->qmax);
    z->fhi = _mm512_set1_ps((float)(o->qmax - o->zero_point));
    z->clamp = shr_qout_is_u8(o->kind) ? o->qmin > 0 || o->qmax < 255 : o->qmin > -128 || o->qmax < 127;
}

/* A tile's sums: row i, panel pn. always_inline and passed by value: lives in registers. */
typedef struct acc12 {
    __m512i c[MR][2];
} acc12;

static inline int32_t load_u32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* r = MBQM(a, m, shift), before the zero point, on 16 channels; a includes the folded bias. */
static inline __attribute__((always_inline)) __m512i rq_fast(const int relu, __m512i a, const q8pan *c) {
    const __m512i t31 = _mm512_set1_epi64(1LL << 31);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, c->mult), c->ce);
    if (!relu) pe = _mm512_mask_sub_epi64(pe, _mm512_test_epi64_mask(a, _mm512_set1_epi64(0x80000000LL)), pe, t31);
    __m512i ao = _mm512_srai_epi64(a, 32); /* odd channels, sign-extended */
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(ao, c->mult_odd), c->co);
    if (!relu) po = _mm512_mask_sub_epi64(po, _mm512_cmplt_epi64_mask(ao, _mm512_setzero_si512()), po, t31);
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srav_epi64(pe, c->se), _mm512_srav_epi64(po, c->so));
}

/* The same step by step (requant8 of qgemm_epi_avx2.c on zmm): saturating left shift, SRDHM as
 * the rounded 64-bit product's bits 31..62, rounding right shift (ties away from zero). */
static inline __attribute__((always_inline)) __m512i rq_fix(__m512i a, const q8pan *c) {
    if (c->any_lshift) {
        __m512i s = _mm512_sllv_epi32(a, c->lshift);
        s = _mm512_mask_mov_epi32(s, _mm512_cmpgt_epi32_mask(a, c->lsat_hi), _mm512_set1_epi32(INT32_MAX));
        a = _mm512_mask_mov_epi32(s, _mm512_cmpgt_epi32_mask(c->lsat_lo, a), _mm512_set1_epi32(INT32_MIN));
    }
    const __m512i r30 = _mm512_set1_epi64(1LL << 30);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, c->mult), r30);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), c->mult_odd), r30);
    __m512i q = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(q, c->rmask);
    __m512i thr = _mm512_add_epi32(c->rhalf, _mm512_srli_epi32(q, 31));
    __m512i r = _mm512_srav_epi32(q, c->rshift);
    return _mm512_mask_add_epi32(r, _mm512_cmpgt_epi32_mask(rem, thr), r, _mm512_set1_epi32(1));
}

static inline __attribute__((always_inline)) __m512i rq(const int mode, __m512i a, const q8pan *c, const q8epi *z) {
    if (mode == RQ_FAST || mode == RQ_RELU) return rq_fast(mode == RQ_RELU, a, c);
    if (mode == RQ_FIX) return rq_fix(a, c);
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), c->scale), z->fhi));
}

/* Four rows of r -> their codes, clamp(zp + r, qmin, qmax), with dword 4l + i holding row i's
 * channels 4l..4l+3 (the packs work within 128-bit lanes). */
static inline __attribute__((always_inline)) __m512i narrow4_lanes(const int u8, __m512i r0, __m512i r1, __m512i r2,
                                                                  __m512i r3, const q8epi *z) {
    __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), z->zp16); /* lane l: r0[4l..], r1[4l..] */
    __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(r2, r3), z->zp16);
    __m512i b = u8 ? _mm512_packus_epi16(w01, w23) : _mm512_packs_epi16(w01, w23);
    if (z->clamp) b = u8 ? _mm512_min_epu8(_mm512_max_epu8(b, z->qmin8), z->qmax8)
                         : _mm512_min_epi8(_mm512_max_epi8(b, z->qmin8), z->qmax8);
    return b;
}

/* The same, rows in order: 16 codes of row 0, then row 1, ... */
static inline __attribute__((always_inline)) __m512i narrow4(const int u8, __m512i r0, __m512i r1, __m512i r2,
                                                            __m512i r3, const q8epi *z) {
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
                                    narrow4_lanes(u8, r0, r1, r2, r3, z));
}

static inline void st16(char *y, __m128i b, int nr) {
    if (nr == NR) _mm_storeu_si128((__m128i *)y, b);
    else _mm_mask_storeu_epi8(y, (__mmask16)((1u << nr) - 1), b);
}

/* Rows [0, mr) of a tile to y (row stride ldy): panel i's codes at y + 16 i, nrl codes of the
 * last panel. contig: rows ldy = 16 np apart and every panel full, so whole vectors go out. */
static inline __attribute__((always_inline)) void tile_out(const int mode, const int u8, const int np, const int mr,
                                                           acc12 acc, const q8epi *z, char *y, long ldy,
                                                           int nrl, int contig) {
    __m512i r[2][MR];
    for (int pn = 0; pn < np; pn++)
        for (int i = 0; i < MR; i++)
            r[pn][i] = mr > i ? rq(mode, acc.c[i][pn], &z->pan[pn], z) : _mm512_setzero_si512();
    if (contig && mr == MR && np == 2) { /* rows of 32: panel 0's 16 codes, then panel 1's */
        __m512i a0 = narrow4_lanes(u8, r[0][0], r[0][1], r[0][2], r[0][3], z);
        __m512i b0 = narrow4_lanes(u8, r[1][0], r[1][1], r[1][2], r[1][3], z);
        __m512i a1 = narrow4_lanes(u8, r[0][4], r[0][5], r[0][4], r[0][5], z);
        __m512i b1 = narrow4_lanes(u8, r[1][4], r[1][5], r[1][4], r[1][5], z);
        const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
        const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
        _mm512_storeu_si512((void *)y, _mm512_permutex2var_epi32(a0, i01, b0));
        _mm512_storeu_si512((void *)(y + 64), _mm512_permutex2var_epi32(a0, i23, b0));
        _mm512_storeu_si512((void *)(y + 128), _mm512_permutex2var_epi32(a1, i01, b1));
        return;
    }
    __m512i v[2][2];
    for (int pn = 0; pn < np; pn++) {
        v[pn][0] = narrow4(u8, r[pn][0], r[pn][1], r[pn][2], r[pn][3], z);
        v[pn][1] = mr > 4 ? narrow4(u8, r[pn][4], r[pn][5], r[pn][4], r[pn][5], z) : v[pn][0];
    }
    if (contig && mr == MR) { /* np == 1: rows of 16 */
        _mm512_storeu_si512((void *)y, v[0][0]);
        _mm256_storeu_si256((__m256i *)(y + 64), _mm512_castsi512_si256(v[0][1]));
        return;
    }
    for (int pn = 0; pn < np; pn++) {
        int nr = pn == np - 1 ? nrl : NR;
        char *yp = y + 16 * pn;
        st16(yp, _mm512_castsi512_si128(v[pn][0]), nr);
        if (mr > 1) st16(yp + ldy, _mm512_extracti32x4_epi32(v[pn][0], 1), nr);
        if (mr > 2) st16(yp + 2 * ldy, _mm512_extracti32x4_epi32(v[pn][0], 2), nr);
        if (mr > 3) st16(yp + 3 * ldy, _mm512_extracti32x4_epi32(v[pn][0], 3), nr);
        if (mr > 4) st16(yp + 4 * ldy, _mm512_castsi512_si128(v[pn][1]), nr);
        if (mr > 5) st16(yp + 5 * ldy, _mm512_extracti32x4_epi32(v[pn][1], 1), nr);
    }
}

/* Row i x panel pn of the tile: the sum over the quads (np panels wps bytes apart), then the
 * bias (added after the loop: started at the bias, GCC copied accumulators around the loop). */
static inline __attribute__((always_inline)) acc12 dot_m(const int np, const int mr, const uint8_t *x, long xrs,
                                                         long xqs, const int8_t *w, long wps, int Q, const q8epi *z) {
    acc12 r;
    for (int i = 0; i < MR; i++) r.c[i][0] = r.c[i][1] = _mm512_setzero_si512();
    int q = 0;
    if (mr <= 2) { /* batch 1, thin edges: too few chains to hide vpdpbusd's latency; odd quads on a second set */
        __m512i s[2][2];
        for (int i = 0; i < 2; i++) s[i][0] = s[i][1] = _mm512_setzero_si512();
        for (; q + 2 <= Q; q += 2, x += 2 * xqs, w += 8 * NR) {
            __m512i w0 = _mm512_load_si512((const void *)w), v0 = _mm512_load_si512((const void *)(w + 4 * NR));
            __m512i w1 = np > 1 ? _mm512_load_si512((const void *)(w + wps)) : w0;
            __m512i v1 = np > 1 ? _mm512_load_si512((const void *)(w + wps + 4 * NR)) : w0;
            for (int i = 0; i < mr; i++) {
                __m512i b = _mm512_set1_epi32(load_u32(x + i * xrs)), c = _mm512_set1_epi32(load_u32(x + i * xrs + xqs));
                r.c[i][0] = _mm512_dpbusd_epi32(r.c[i][0], b, w0);
                s[i][0] = _mm512_dpbusd_epi32(s[i][0], c, v0);
                if (np > 1) r.c[i][1] = _mm512_dpbusd_epi32(r.c[i][1], b, w1);
                if (np > 1) s[i][1] = _mm512_dpbusd_epi32(s[i][1], c, v1);
            }
        }
        for (int i = 0; i < mr; i++)
            for (int pn = 0; pn < np; pn++) r.c[i][pn] = _mm512_add_epi32(r.c[i][pn], s[i][pn]);
    }
    for (; q < Q; q++, x += xqs, w += 4 * NR) {
        __m512i w0 = _mm512_load_si512((const void *)w);
        __m512i w1 = np > 1 ? _mm512_load_si512((const void *)(w + wps)) : w0;
        for (int i = 0; i < MR; i++)
            if (mr > i) {
                __m512i b = _mm512_set1_epi32(load_u32(x + i * xrs));
                r.c[i][0] = _mm512_dpbusd_epi32(r.c[i][0], b, w0);
                if (np > 1) r.c[i][1] = _mm512_dpbusd_epi32(r.c[i][1], b, w1);
            }
    }
    for (int i = 0; i < MR; i++)
        for (int pn = 0; pn < np; pn++) r.c[i][pn] = _mm512_add_epi32(r.c[i][pn], z->pan[pn].comp);
    return r;
}

/* The same with row i's quad q of tap t at rows[i] + tapoff[t] + 4q, started at the bias (measured
 * faster here: cnn int8 batch 64 2.69 against 2.80 ms). */
static inline __attribute__((always_inline)) acc12 dot_t(const int np, const int mr, const uint8_t *const *rows,
                                                         const shr_qtaps *x, const int8_t *w, long wps,
                                                         const q8epi *z) {
    acc12 r;
    const uint8_t *b[MR];
    for (int i = 0; i < MR; i++) {
        b[i] = rows[mr > i ? i : 0];
        for (int pn = 0; pn < 2; pn++) r.c[i][pn] = pn < np ? z->pan[pn].comp : _mm512_setzero_si512();
    }
    const int qpt = x->run / 4;
    for (int t = 0; t < x->ntaps; t++) {
        const long off = x->tapoff[t];
        for (int q = 0; q < qpt; q++, w += 4 * NR) {
            __m512i w0 = _mm512_load_si512((const void *)w);
            __m512i w1 = np > 1 ? _mm512_load_si512((const void *)(w + wps)) : w0;
            for (int i = 0; i < MR; i++)
                if (mr > i) {
                    __m512i bc = _mm512_set1_epi32(load_u32(b[i] + off + 4 * q));
                    r.c[i][0] = _mm512_dpbusd_epi32(r.c[i][0], bc, w0);
                    if (np > 1) r.c[i][1] = _mm512_dpbusd_epi32(r.c[i][1], bc, w1);
                }
        }
    }
    return r;
}

/* One tile of rows [m, m + mr) x np panels from the block's matrix rows. */
static inline __attribute__((always_inline)) void tile_m(const int mode, const int u8, const int np, const int mr,
                                                         const shr_qgemm_packed *p, const shr_qg_xblock *b, int m,
                                                         const int8_t *w, long wps, const q8epi *z, char *y,
                                                         long ldy, int nrl, int contig) {
    const uint8_t *x;
    long xrs, xqs;
    if (b->direct && (long)(m + mr - 1) * b->ldx + p->Kp <= b->last_ok)
        x = b->X + (long)m * b->ldx, xrs = b->ldx, xqs = 4;
    else
        x = b->packed + (long)(m - b->m0) * p->Kp, xrs = 4, xqs = 4 * MR;
    acc12 a; /* the row count a constant in the multiply loop (an edge tile's is known only here) */
    switch (mr) {
#define DOT_M(r)                                                                                   \
    case r: a = dot_m(np, r, x, xrs, xqs, w, wps, p->Kp / 4, z); break;
        DOT_M(1) DOT_M(2) DOT_M(3) DOT_M(4) DOT_M(5)
    default: a = dot_m(np, MR, x, xrs, xqs, w, wps, p->Kp / 4, z);
#undef DOT_M
    }
    tile_out(mode, u8, np, mr, a, z, y, ldy, nrl, contig);
}

static inline __attribute__((always_inline)) void tile_t(const int mode, const int u8, const int np, const int mr,
                                                         const uint8_t *const *rows, const shr_qtaps *x,
                                                         const int8_t *w, long wps, const q8epi *z, char *y,
                                                         long ldy, int nrl, int contig) {
    acc12 a;
    switch (mr) {
#define DOT_T(r)                                                                                   \
    case r: a = dot_t(np, r, rows, x, w, wps, z); break;
        DOT_T(1) DOT_T(2) DOT_T(3) DOT_T(4) DOT_T(5)
    default: a = dot_t(np, MR, rows, x, w, wps, z);
#undef DOT_T
    }
    tile_out(mode, u8, np, mr, a, z, y, ldy, nrl, contig);
}

/* Every tile of rows [m0, m0 + mc) x panels [p0, p1), panels two at a time. Rows come from the
 * block b (b != NULL) or as taps (x). */
static inline __attribute__((always_inline)) void codes_band(const int mode, const int u8, const shr_qgemm_packed *p,
                                                             const shr_qg_xblock *b, const shr_qtaps *x, int m0,
                                                             int mc, int p0, int p1, const shr_qout *o) {
    const long wps = (long)p->Kp * NR, ldy = o->ldy;
    for (int pp = p0; pp < p1; pp += 2) {
        const int np = p1 - pp >= 2 ? 2 : 1;
        _Alignas(64) q8epi z;
        prep(p, o, pp, np, mode, &z);
        int nrl = p->N - (pp + np - 1) * NR;
        nrl = nrl < NR ? nrl : NR;
        const int contig = nrl == NR && ldy == np * NR;
        const int8_t *w = (const int8_t *)p->w + pp * wps;
        for (int ir = 0; ir < mc; ir += MR) {
            const int m = m0 + ir, mr = mc - ir < MR ? mc - ir : MR;
            char *y = (char *)o->y + (long)m * ldy + pp * NR;
            if (b) {
                if (np == 2 && mr == MR) tile_m(mode, u8, 2, MR, p, b, m, w, wps, &z, y, ldy, nrl, contig);
                else if (np == 2) tile_m(mode, u8, 2, mr, p, b, m, w, wps, &z, y, ldy, nrl, contig);
                else if (mr == MR) tile_m(mode, u8, 1, MR, p, b, m, w, wps, &z, y, ldy, nrl, contig);
                else tile_m(mode, u8, 1, mr, p, b, m, w, wps, &z, y, ldy, nrl, contig);
            } else {
                const uint8_t *const *rows = x->rows + ir;
                if (np == 2 && mr == MR) tile_t(mode, u8, 2, MR, rows, x, w, wps, &z, y, ldy, nrl, contig);
                else if (np == 2) tile_t(mode, u8, 2, mr, rows, x, w, wps, &z, y, ldy, nrl, contig);
                else if (mr == MR) tile_t(mode, u8, 1, MR, rows, x, w, wps, &z, y, ldy, nrl, contig);
                else tile_t(mode, u8, 1, mr, rows, x, w, wps, &z, y, ldy, nrl, contig);
            }
        }
    }
}

typedef void (*band_fn)(const shr_qgemm_packed *p, const shr_qg_xblock *b, const shr_qtaps *x, int m0, int mc,
                        int p0, int p1, const shr_qout *o);
#define BAND(mode, u8)                                                                                      \
    static void band_##mode##_##u8(const shr_qgemm_packed *p, const shr_qg_xblock *b, const shr_qtaps *x,   \
                                   int m0, int mc, int p0, int p1, const shr_qout *o) {                     \
        codes_band(mode, u8, p, b, x, m0, mc, p0, p1, o);                                                   \
    }
BAND(RQ_FAST, 0)
BAND(RQ_FAST, 1)
BAND(RQ_RELU, 0)
BAND(RQ_RELU, 1)
BAND(RQ_FIX, 0)
BAND(RQ_FIX, 1)
BAND(RQ_FLT, 0)
BAND(RQ_FLT, 1)

static band_fn band_for(const shr_qgemm_packed *p, const shr_qout *o) {
    static const band_fn k[4][2] = {{band_RQ_FAST_0, band_RQ_FAST_1}, {band_RQ_RELU_0, band_RQ_RELU_1},
                                    {band_RQ_FIX_0, band_RQ_FIX_1}, {band_RQ_FLT_0, band_RQ_FLT_1}};
    return k[rq_mode(p, o)][shr_qout_is_u8(o->kind)];
}

void shr_qg_vnni_codes(const shr_qgemm_packed *p, const shr_qg_xblock *b, int p0, int p1, const shr_qout *o) {
    band_for(p, o)(p, b, NULL, b->m0, b->mc, p0, p1, o);
}

/* Offset of the first byte > 127 in [lo, hi), or -1. */
static long first_over127(const uint8_t *lo, const uint8_t *hi) {
    long n = hi - lo, i = 0;
    __m512i any = _mm512_setzero_si512();
    for (; i + 64 <= n; i += 64) any = _mm512_or_si512(any, _mm512_loadu_si512((const void *)(lo + i)));
    int bad = _mm512_movepi8_mask(any) != 0;
    for (; i < n; i++) bad |= lo[i] > 127;
    for (i = 0; bad && i < n; i++)
        if (lo[i] > 127) return i;
    return -1;
}

long shr_qg_vnni_taps(const shr_qgemm_packed *p, int M, const shr_qtaps *x, const shr_qout *o) {
    if (p->act.bits == 7) { /* the 7-bit contract, on every code the rows can read */
        long bad = first_over127(x->lo, x->hi);
        if (bad >= 0) return bad;
    }
    band_for(p, o)(p, NULL, x, 0, M, 0, p->npanels, o);
    return -1;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
