/* AVX-512 VNNI micro-kernel of the integer GEMM, used by the AVX2 driver (qgemm_avx2.c) when
 * the CPU has it (Zen 4, Ice Lake and later). Same operands as the byte kernels there:
 *   x: u8 operands u = x + off, row i's 4 codes of quad q at x + i * xrs + q * xqs;
 *   w: one panel [q][16 channels][4 k] s8 (qgemm_internal.h) = exactly one zmm per quad;
 *   ct[i * 16 + j] = sum_q sum_k u[i][4q + k] * w[j][4q + k]   (i < mr <= 6, j < 16).
 * vpdpbusd adds the four u8 x s8 products of a lane to its int32 accumulator with no int16
 * intermediate, so it is exact for every u8 operand: the pack-time contract (umax * sum|w| <
 * 2^31) keeps the int32 sums from wrapping, and the results equal the reference's bit for bit
 * on every path it serves (REDUCED, I16ACC, and EXACT with u8 activations). One instruction does
 * the 64 multiply-adds that cost vpmaddubsw + vpmaddwd + vpaddd twice over on AVX2.
 * The file is compiled for AVX-512 by the pragma below (the build gives *_avx2.c files only
 * -mavx2); nothing here runs unless shr_qg_vnni_ok(). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#endif

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/qgemm_avx2.h"

#define MR SHR_QG_MR
#define NR SHR_QG_NR

static int vnni_on = 1;

void shr_qg_vnni_enable(int on) { vnni_on = on; }

int shr_qg_vnni_ok(void) {
    static int cached = -1;
    if (!vnni_on || !shr_cpu_has_avx2_fma()) return 0;
    if (cached < 0) {
        const char *env = getenv("SHRINK_KERNELS"); /* "avx2": the AVX2 kernels only */
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        cached = !(env && strcmp(env, "avx2") == 0) && __builtin_cpu_supports("avx512vnni") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
        (void)env;
        cached = 0;
#endif
    }
    return cached;
}

/* VNNI serves every byte-operand path, and EXACT with u8 codes (its operand is x itself). */
int shr_qg_vnni_ok_for(const shr_qgemm_packed *p) {
    return shr_qg_vnni_ok() && (p->path == SHR_QPATH_REDUCED || p->path == SHR_QPATH_I16ACC ||
                                (p->path == SHR_QPATH_EXACT && p->act.type == SHR_U8));
}

static inline int32_t load_u32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The tile's sums, one zmm per row (16 channels); rows >= mr stay zero. always_inline: the
 * struct lives in registers. */
typedef struct acc6 {
    __m512i c[MR];
} acc6;

static inline __attribute__((always_inline)) acc6 dot_tile(const int mr, const shr_qg_kargs *a) {
    const uint8_t *x = a->x;
    const int8_t *w = a->w;
    const long xrs = a->xrs, xqs = a->xqs;
    acc6 r;
    for (int i = 0; i < MR; i++) r.c[i] = _mm512_setzero_si512();
    for (int q = 0; q < a->Q; q++, x += xqs, w += 4 * NR) {
        __m512i wq = _mm512_load_si512((const void *)w);
        for (int i = 0; i < MR; i++)
            if (mr > i) r.c[i] = _mm512_dpbusd_epi32(r.c[i], _mm512_set1_epi32(load_u32(x + i * xrs)), wq);
    }
    return r;
}

static inline __attribute__((always_inline)) void k_vnni(const int mr, const shr_qg_kargs *a) {
    acc6 r = dot_tile(mr, a);
    for (int i = 0; i < MR; i++)
        if (mr > i) _mm512_store_si512((void *)(a->ct + i * NR), r.c[i]);
}

/* ---- the kernel with the output stage fused (u8 / s8 out, fixed point or float multiplier) ----
 * The accumulators stay in registers and one zmm is one row of the tile, so the requantization
 * below runs on 16 channels at once. It is requant8 of qgemm_epi_avx2.c on zmm, step for step
 * (shr_requant's arithmetic): saturating left shift, SRDHM as the rounded 64-bit product's bits
 * 31..62, rounding right shift (ties away from zero), clamp, zero point. */
typedef struct zepi {
    __m512i comp, mult, mult_odd, lshift, lsat_lo, lsat_hi, rshift, rmask, rhalf, zp, rlo, rhi;
    int any_lshift;
    int flt;                /* U8F / S8F: the float multiplier instead (requant16f) */
    __m512 scale, flo, fhi; /* rq_scale; the clamp qmin - zp, qmax - zp as floats */
} zepi;

static inline __m512i ld16(const int32_t *p) { return _mm512_loadu_si512((const void *)p); }

static inline void zepi_prepare(const shr_qg_epi *e, const shr_qout *o, zepi *z) {
    z->comp = ld16(e->comp);
    z->mult = ld16(e->mult);
    z->mult_odd = _mm512_srli_epi64(z->mult, 32);
    z->lshift = ld16(e->lshift);
    z->rshift = ld16(e->rshift);
    z->lsat_lo = _mm512_srav_epi32(_mm512_set1_epi32(INT32_MIN), z->lshift);
    z->lsat_hi = _mm512_srav_epi32(_mm512_set1_epi32(INT32_MAX), z->lshift);
    z->rmask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), z->rshift), _mm512_set1_epi32(1));
    z->rhalf = _mm512_srai_epi32(z->rmask, 1);
    z->any_lshift = _mm512_test_epi32_mask(z->lshift, z->lshift) != 0;
    z->zp = _mm512_set1_epi32(o->zero_point);
    z->rlo = _mm512_set1_epi32(o->qmin - o->zero_point);
    z->rhi = _mm512_set1_epi32(o->qmax - o->zero_point);
    z->flt = o->kind == SHR_QOUT_U8F || o->kind == SHR_QOUT_S8F;
    z->scale = _mm512_loadu_ps(e->scale);
    z->flo = _mm512_set1_ps((float)(o->qmin - o->zero_point));
    z->fhi = _mm512_set1_ps((float)(o->qmax - o->zero_point));
}

/* The float output stage on 16 channels, as the reference's U8F / S8F: (float)acc * rq_scale
 * (one rounding: no FMA), clamped, converted with the default rounding (half to even). */
static inline __m512i requant16f(__m512i a, const zepi *z) {
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a, z->comp)), z->scale);
    f = _mm512_min_ps(_mm512_max_ps(f, z->flo), z->fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), z->zp);
}

static inline __m512i requant16(__m512i a, const zepi *z) {
    a = _mm512_add_epi32(a, z->comp);
    if (z->any_lshift) {
        __m512i s = _mm512_sllv_epi32(a, z->lshift);
        s = _mm512_mask_mov_epi32(s, _mm512_cmpgt_epi32_mask(a, z->lsat_hi), _mm512_set1_epi32(INT32_MAX));
        a = _mm512_mask_mov_epi32(s, _mm512_cmpgt_epi32_mask(z->lsat_lo, a), _mm512_set1_epi32(INT32_MIN));
    }
    const __m512i r30 = _mm512_set1_epi64(1LL << 30);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, z->mult), r30);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), z->mult_odd), r30);
    __m512i q = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(q, z->rmask);
    __m512i thr = _mm512_add_epi32(z->rhalf, _mm512_srli_epi32(q, 31));
    __m512i r = _mm512_srav_epi32(q, z->rshift);
    r = _mm512_mask_add_epi32(r, _mm512_cmpgt_epi32_mask(rem, thr), r, _mm512_set1_epi32(1));
    return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, z->rlo), z->rhi), z->zp);
}

/* Codes already inside the type's range: their low bytes, nr of them. */
static inline void store_codes(char *y, __m512i r, int nr) {
    __m128i b = _mm512_cvtepi32_epi8(r);
    if (nr == NR) _mm_storeu_si128((__m128i *)y, b);
    else _mm_mask_storeu_epi8(y, (__mmask16)((1u << nr) - 1), b);
}

static inline __attribute__((always_inline)) void k_vnni_q8(const int mr, const shr_qg_kargs *a,
                                                            const shr_qg_epi *e, const shr_qout *o, int nr,
                                                            int m, int n0) {
    acc6 r = dot_tile(mr, a);
    zepi z;
    zepi_prepare(e, o, &z);
    char *y = (char *)o->y + (long)m * o->ldy + n0;
    for (int i = 0; i < MR; i++)
        if (mr > i) store_codes(y + i * o->ldy, z.flt ? requant16f(r.c[i], &z) : requant16(r.c[i], &z), nr);
}

#define FUSED(m)                                                                                    static void kq##m(const shr_qg_kargs *a, const shr_qg_epi *e, const shr_qout *o, int nr, int mm, int n0) {         k_vnni_q8(m, a, e, o, nr, mm, n0);                                                          }
FUSED(1)
FUSED(2)
FUSED(3)
FUSED(4)
FUSED(5)
FUSED(6)

shr_qg_fused_fn shr_qg_vnni_fused(int mr) {
    static const shr_qg_fused_fn k[MR] = {kq1, kq2, kq3, kq4, kq5, kq6};
    return k[mr - 1];
}

/* ---- rows as taps (shr_qgemm_taps): row i's quad q of tap t at rows[i] + tapoff[t] + 4q ---- */

static inline __attribute__((always_inline)) acc6 dot_taps(const int mr, const uint8_t *const *rows,
                                                           const shr_qtaps *x, const int8_t *w) {
    acc6 r;
    const uint8_t *b[MR];
    for (int i = 0; i < MR; i++) {
        r.c[i] = _mm512_setzero_si512();
        b[i] = rows[mr > i ? i : 0];
    }
    const int qpt = x->run / 4;
    for (int t = 0; t < x->ntaps; t++) {
        const long off = x->tapoff[t];
        for (int q = 0; q < qpt; q++, w += 4 * NR) {
            __m512i wq = _mm512_load_si512((const void *)w);
            for (int i = 0; i < MR; i++)
                if (mr > i) r.c[i] = _mm512_dpbusd_epi32(r.c[i], _mm512_set1_epi32(load_u32(b[i] + off + 4 * q)), wq);
        }
    }
    return r;
}

typedef void (*taps_fn)(const uint8_t *const *rows, const shr_qtaps *x, const int8_t *w, const shr_qg_epi *e,
                        const shr_qout *o, int nr, int m, int n0);
#define TAPS(m)                                                                                 \
    static void kt##m(const uint8_t *const *rows, const shr_qtaps *x, const int8_t *w, const shr_qg_epi *e, \
                      const shr_qout *o, int nr, int mm, int n0) {                             \
        acc6 r = dot_taps(m, rows, x, w);                                                       \
        zepi z;                                                                                 \
        zepi_prepare(e, o, &z);                                                                 \
        char *y = (char *)o->y + (long)mm * o->ldy + n0;                                        \
        for (int i = 0; i < m; i++)                                                             \
            store_codes(y + i * o->ldy, z.flt ? requant16f(r.c[i], &z) : requant16(r.c[i], &z), nr); \
    }
TAPS(1)
TAPS(2)
TAPS(3)
TAPS(4)
TAPS(5)
TAPS(6)

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
    static const taps_fn k[MR] = {kt1, kt2, kt3, kt4, kt5, kt6};
    const int Q = p->Kp / 4;
    if (p->act.bits == 7) { /* the 7-bit contract, on every code the rows can read */
        long bad = first_over127(x->lo, x->hi);
        if (bad >= 0) return bad;
    }
    for (int pp = 0; pp < p->npanels; pp++) {
        _Alignas(64) shr_qg_epi e;
        shr_qg_epi_fill(p, o, pp, &e);
        int n0 = pp * NR, nr = p->N - n0 < NR ? p->N - n0 : NR;
        const int8_t *w = (const int8_t *)p->w + (long)pp * Q * 4 * NR;
        for (int m = 0; m < M; m += MR) {
            int mr = M - m < MR ? M - m : MR;
            k[mr - 1](x->rows + m, x, w, &e, o, nr, m, n0);
        }
    }
    return -1;
}

static void kv1(const shr_qg_kargs *a) { k_vnni(1, a); }
static void kv2(const shr_qg_kargs *a) { k_vnni(2, a); }
static void kv3(const shr_qg_kargs *a) { k_vnni(3, a); }
static void kv4(const shr_qg_kargs *a) { k_vnni(4, a); }
static void kv5(const shr_qg_kargs *a) { k_vnni(5, a); }
static void kv6(const shr_qg_kargs *a) { k_vnni(6, a); }

shr_qg_kern_fn shr_qg_vnni_kernel(int mr) {
    static const shr_qg_kern_fn k[MR] = {kv1, kv2, kv3, kv4, kv5, kv6};
    return k[mr - 1];
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
