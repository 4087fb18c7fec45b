/* AVX2 integer GEMM, single-threaded band (qgemm.c splits the output across threads).
 * Y[M,N] = X[M,K] * W[N,K]^T with W in 16-channel panels of k-quads (qgemm_internal.h).
 *
 * X is packed in blocks of rows into 6-row tiles, [quad][row][4 codes] (4 bytes, or 4 int16
 * for the widening kernels), so one vpbroadcastd (vpbroadcastq) gives a row's 4 codes of a
 * quad against the 64 bytes of W for that quad. While packing, each code is shifted to the
 * kernel operand u = x + off and checked against the declared contract. u8 codes for the byte
 * kernels (off = 0) are read in place instead (see the driver): at small K packing cost more
 * than the multiplies.
 *
 * Micro-kernels (6 rows x 16 channels; narrower instances for edges; int32 results exact):
 *   reduced: acc32 += vpmaddwd(vpmaddubsw(u, w), 1). One vpmaddubsw lane is u0*w0 + u1*w1,
 *            and the pack checked 2 * umax * max|w| <= 32767, so it cannot saturate.
 *   i16acc:  acc16 += vpmaddubsw(u, w) for S quads (vpaddw), then acc32 += vpmaddwd(acc16, 1).
 *            After S quads a 16-bit lane holds 2S products, |.| <= 2S * umax * max|w| <= 32767
 *            (S chosen at pack time), so neither the pair nor the running int16 sum saturates.
 *   widen:   codes and weights as int16 (W sign-extended from s8 in registers, vpmovsxbw, or
 *            s16), acc32 += vpmaddwd(x, w): products of 8/16-bit values summed in pairs into
 *            int32 - exact for every u8/s8 input (the s16 pack bounds |x| * sum|w| < 2^31).
 * The int32 sums are exact (pack-time overflow contract), so every kernel produces the same
 * integers as the reference; the epilogue (qgemm_epi_avx2.c) then writes s32/u8/s8/f32. */
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm_avx2.h"

/* GCC's partial redundancy elimination hoists the six row broadcasts of a quad ahead of the
 * multiplies, which needs six more registers than the micro-tiles have and spills up to seven
 * accumulators (measured: the widening kernel ran at half speed). Without it the 6x16 tiles
 * fit the 16 ymm registers. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-pre")
#endif

#define MR SHR_QG_MR
#define NR SHR_QG_NR
/* Bytes of packed X per block: stays in L2 while every panel of W passes over it. */
#define XBLOCK_BYTES (128 * 1024)

static inline int elem_size(const shr_qgemm_packed *p) {
    return p->path == SHR_QPATH_EXACT || p->path == SHR_QPATH_S16 ? 2 : 1;
}

int shr_qg_block_rows(const shr_qgemm_packed *p) {
    long row = (long)p->Kp * elem_size(p);
    long rows = XBLOCK_BYTES / row / MR * MR;
    return rows < MR ? MR : rows > 1 << 20 ? 1 << 20 : (int)rows;
}

size_t shr_qg_scratch_bytes(const shr_qgemm_packed *p) {
    return (size_t)shr_qg_block_rows(p) * p->Kp * elem_size(p) + 64;
}

static inline int32_t load_u32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline long long load_u64(const void *p) {
    long long v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- micro-kernels: ct[i*16 + j] = sum_k u[i][k] * w[j][k] for i < mr, j < 8*nv ---- */

#define ZERO12                                                                                 \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00; \
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00
#define ALL_ROWS(R) R(0, c00, c01) R(1, c10, c11) R(2, c20, c21) R(3, c30, c31) R(4, c40, c41) R(5, c50, c51)

/* Byte kernels: row i's 4 codes of quad q at x + i * xrs + q * xqs (a packed tile [q][6][4]:
 * xrs = 4, xqs = 24; X read in place: xrs = ldx, xqs = 4); w: panel [q][16][4] bytes. */
#define RED_ROW(i, a0, a1)                                                                     \
    if (mr > i) {                                                                              \
        __m256i xb = _mm256_set1_epi32(load_u32(x + i * xrs));                                 \
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w0), one));       \
        if (nv > 1) a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(xb, w1), one)); \
    }
/* One quad of the panel: channels 0-7 (and 8-15). */
#define LOAD_W01                                                                               \
    __m256i w0 = _mm256_load_si256((const __m256i *)w);                                        \
    __m256i w1 = nv > 1 ? _mm256_load_si256((const __m256i *)(w + 32)) : w0
#define STORE_ROW(i, a0, a1)                                                                   \
    if (mr > i) {                                                                              \
        _mm256_store_si256((__m256i *)(ct + i * NR), a0);                                      \
        if (nv > 1) _mm256_store_si256((__m256i *)(ct + i * NR + 8), a1);                      \
    }

static inline __attribute__((always_inline)) void k_reduced(const int mr, const int nv, int Q, const uint8_t *x,
                                                            long xrs, long xqs, const int8_t *w, int32_t *ct) {
    const __m256i one = _mm256_set1_epi16(1);
    ZERO12;
    for (int q = 0; q < Q; q++, x += xqs, w += 4 * NR) {
        LOAD_W01;
        ALL_ROWS(RED_ROW)
    }
    ALL_ROWS(STORE_ROW)
}

#define I16_ROW(i, a0, a1)                                                                     \
    if (mr > i) {                                                                              \
        __m256i xb = _mm256_set1_epi32(load_u32(x + i * xrs));                                 \
        a0 = _mm256_add_epi16(a0, _mm256_maddubs_epi16(xb, w0));                               \
        if (nv > 1) a1 = _mm256_add_epi16(a1, _mm256_maddubs_epi16(xb, w1));                   \
    }
/* Widens row i's int16 sums into ct: the first run stores, later runs add. */
#define WIDEN_ROW(i, a0, a1)                                                                   \
    if (mr > i) {                                                                              \
        __m256i *d = (__m256i *)(ct + i * NR);                                                 \
        __m256i v0 = _mm256_madd_epi16(a0, one), v1 = nv > 1 ? _mm256_madd_epi16(a1, one) : v0; \
        if (q0) {                                                                              \
            v0 = _mm256_add_epi32(_mm256_load_si256(d), v0);                                   \
            if (nv > 1) v1 = _mm256_add_epi32(_mm256_load_si256(d + 1), v1);                   \
        }                                                                                      \
        _mm256_store_si256(d, v0);                                                             \
        if (nv > 1) _mm256_store_si256(d + 1, v1);                                             \
    }

static inline __attribute__((always_inline)) void k_i16acc(const int mr, const int nv, int Q, int S, const uint8_t *x,
                                                           long xrs, long xqs, const int8_t *w, int32_t *ct) {
    const __m256i one = _mm256_set1_epi16(1);
    for (int q0 = 0; q0 < Q; q0 += S) {
        int qn = Q - q0 < S ? Q - q0 : S;
        ZERO12;
        for (int q = 0; q < qn; q++, x += xqs, w += 4 * NR) {
            LOAD_W01;
            ALL_ROWS(I16_ROW)
        }
        ALL_ROWS(WIDEN_ROW)
    }
}

/* Widening kernel, one half-panel (8 channels) at a time: lo/hi accumulate channels 0-3 / 4-7
 * as [ch0 k0k1, ch0 k2k3, ch1 k0k1, ...]; a horizontal add folds the pairs at the end.
 * x: tile [q][6][4] int16; w: panel [q][16][4] int8 (w16 = 0) or int16. */
#define WD_ROW(i, lo, hi)                                                                      \
    if (mr > i) {                                                                              \
        __m256i xb = _mm256_set1_epi64x(load_u64(x + 4 * i));                                  \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(xb, wl));                                  \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(xb, wh));                                  \
    }
#define FOLD_ROW(i, lo, hi)                                                                    \
    if (mr > i)                                                                                \
        _mm256_store_si256((__m256i *)(ct + i * NR + 8 * h), _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), 0xD8));

static inline __attribute__((always_inline)) void k_widen(const int mr, const int nv, const int w16, int Q,
                                                          const int16_t *x0, const void *wv, int32_t *ct) {
    for (int h = 0; h < nv; h++) {
        const int16_t *x = x0;
        const int8_t *w8 = (const int8_t *)wv + 32 * h;
        const int16_t *ws = (const int16_t *)wv + 32 * h;
        ZERO12;
        for (int q = 0; q < Q; q++, x += 4 * MR, w8 += 4 * NR, ws += 4 * NR) {
            __m256i wl, wh;
            if (w16) {
                wl = _mm256_load_si256((const __m256i *)ws);
                wh = _mm256_load_si256((const __m256i *)(ws + 16));
            } else {
                wl = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)w8));
                wh = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(w8 + 16)));
            }
            ALL_ROWS(WD_ROW)
        }
        ALL_ROWS(FOLD_ROW)
    }
}

/* mr <= 2 (batch 1 and thin edges): both half-panels in one pass, 2 x 4 accumulators per row,
 * so each quad of W is loaded once and each broadcast serves 16 channels. */
static inline __attribute__((always_inline)) void k_widen_narrow(const int mr, const int nv, const int w16, int Q,
                                                                 const int16_t *x, const void *wv, int32_t *ct) {
    __m256i acc[2][2][2];
    for (int i = 0; i < 2; i++) acc[i][0][0] = acc[i][0][1] = acc[i][1][0] = acc[i][1][1] = _mm256_setzero_si256();
    const int8_t *w8 = wv;
    const int16_t *ws = wv;
    for (int q = 0; q < Q; q++, x += 4 * MR, w8 += 4 * NR, ws += 4 * NR) {
        __m256i xb[2];
        for (int i = 0; i < mr; i++) xb[i] = _mm256_set1_epi64x(load_u64(x + 4 * i));
        for (int h = 0; h < nv; h++) {
            __m256i wl, wh;
            if (w16) {
                wl = _mm256_load_si256((const __m256i *)(ws + 32 * h));
                wh = _mm256_load_si256((const __m256i *)(ws + 32 * h + 16));
            } else {
                wl = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(w8 + 32 * h)));
                wh = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(w8 + 32 * h + 16)));
            }
            for (int i = 0; i < mr; i++) {
                acc[i][h][0] = _mm256_add_epi32(acc[i][h][0], _mm256_madd_epi16(xb[i], wl));
                acc[i][h][1] = _mm256_add_epi32(acc[i][h][1], _mm256_madd_epi16(xb[i], wh));
            }
        }
    }
    for (int i = 0; i < mr; i++)
        for (int h = 0; h < nv; h++)
            _mm256_store_si256((__m256i *)(ct + i * NR + 8 * h),
                               _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][h][0], acc[i][h][1]), 0xD8));
}

typedef shr_qg_kargs kargs;
typedef shr_qg_kern_fn kern_fn;

#define KERNELS(m, nv)                                                                          \
    static void kr_##m##_##nv(const kargs *a) { k_reduced(m, nv, a->Q, a->x, a->xrs, a->xqs, a->w, a->ct); } \
    static void ki_##m##_##nv(const kargs *a) { k_i16acc(m, nv, a->Q, a->S, a->x, a->xrs, a->xqs, a->w, a->ct); } \
    static void kw_##m##_##nv(const kargs *a) {                                                 \
        if (m <= 2) k_widen_narrow(m <= 2 ? m : 2, nv, 0, a->Q, a->x, a->w, a->ct);             \
        else k_widen(m, nv, 0, a->Q, a->x, a->w, a->ct);                                        \
    }                                                                                           \
    static void ks_##m##_##nv(const kargs *a) {                                                 \
        if (m <= 2) k_widen_narrow(m <= 2 ? m : 2, nv, 1, a->Q, a->x, a->w, a->ct);             \
        else k_widen(m, nv, 1, a->Q, a->x, a->w, a->ct);                                        \
    }
KERNELS(1, 1)
KERNELS(2, 1)
KERNELS(3, 1)
KERNELS(4, 1)
KERNELS(5, 1)
KERNELS(6, 1)
KERNELS(1, 2)
KERNELS(2, 2)
KERNELS(3, 2)
KERNELS(4, 2)
KERNELS(5, 2)
KERNELS(6, 2)

#define TABLE(k)                                                                               \
    {{k##_1_1, k##_2_1, k##_3_1, k##_4_1, k##_5_1, k##_6_1}, {k##_1_2, k##_2_2, k##_3_2, k##_4_2, k##_5_2, k##_6_2}}
/* [kind][nv - 1][mr - 1]; kinds: reduced, i16acc, widen s8, widen s16 */
static const kern_fn kernels[4][2][MR] = {TABLE(kr), TABLE(ki), TABLE(kw), TABLE(ks)};

static int kind_of(shr_qpath path) {
    switch (path) {
    case SHR_QPATH_REDUCED: return 0;
    case SHR_QPATH_I16ACC: return 1;
    case SHR_QPATH_EXACT: return 2;
    default: return 3;
    }
}

/* ---- packing X ---- */

/* First bad code of row m (scalar rescan after the vector check fired). */
static void find_bad(const shr_qgemm_packed *p, const void *X, long ldx, int m, shr_qg_bad *bad) {
    for (int k = 0; k < p->K; k++) {
        long i = (long)m * ldx + k;
        int x = p->act.type == SHR_U8   ? ((const uint8_t *)X)[i]
                : p->act.type == SHR_I8 ? ((const int8_t *)X)[i]
                                        : ((const int16_t *)X)[i];
        if (!shr_qg_act_ok(p, x)) {
            bad->row = m, bad->col = k, bad->value = x;
            return;
        }
    }
}

/* Codes k..k+31 of a row (bytes) -> nq 4-byte chunks dst[(k/4 + j) * 4 * MR] as u = x + off;
 * acc collects x + chk (bit 7 set = outside a 7-bit contract). */
static inline void step_u8(__m256i v, int nq, uint8_t *dst, __m256i voff, __m256i vchk, __m256i *acc) {
    *acc = _mm256_or_si256(*acc, _mm256_add_epi8(v, vchk));
    uint32_t t[8];
    _mm256_storeu_si256((__m256i *)t, _mm256_add_epi8(v, voff));
    for (int j = 0; j < nq; j++) memcpy(dst + (long)j * 4 * MR, &t[j], 4);
}

/* Bytewise a + b of 4 packed bytes, no carry between them (SWAR). */
static inline uint32_t add_bytes4(uint32_t a, uint32_t b) {
    return ((a & 0x7F7F7F7Fu) + (b & 0x7F7F7F7Fu)) ^ ((a ^ b) & 0x80808080u);
}

/* Row of 8-bit codes -> the byte kernels' tile rows; the tail (< 32 codes) in 4-byte SWAR
 * chunks (a zero-padded copy read back as a vector stalls on store forwarding), the last
 * partial quad zero-padded: padded codes multiply zero weights. Returns nonzero on a
 * contract violation. */
static int pack_row_u8(const shr_qgemm_packed *p, const uint8_t *src, uint8_t *dst) {
    const int K = p->K;
    /* 7-bit contract: x + chk (chk = 64 for i8, 0 for u8) must stay below 128 in a byte. */
    const uint8_t chk = p->act.type == SHR_I8 ? 64 : 0;
    const __m256i voff = _mm256_set1_epi8((char)p->off), vchk = _mm256_set1_epi8((char)chk);
    __m256i acc = _mm256_setzero_si256();
    int k = 0;
    for (; k + 32 <= K; k += 32) step_u8(_mm256_loadu_si256((const __m256i *)(src + k)), 8, dst + k * MR, voff, vchk, &acc);
    const uint32_t off4 = 0x01010101u * (uint8_t)p->off, chk4 = 0x01010101u * chk;
    uint32_t orr = _mm256_movemask_epi8(acc) ? 0x80u : 0u;
    for (; k < K; k += 4) {
        uint32_t v = 0, padmask = 0xFFFFFFFFu;
        if (k + 4 <= K) memcpy(&v, src + k, 4);
        else {
            for (int j = 0; j < K - k; j++) v |= (uint32_t)src[k + j] << 8 * j;
            padmask = 0xFFFFFFFFu >> 8 * (4 - (K - k));
        }
        orr |= add_bytes4(v, chk4) & padmask;
        uint32_t u = add_bytes4(v, off4);
        memcpy(dst + (long)(k / 4) * 4 * MR, &u, 4);
    }
    return p->act.bits == 7 && (orr & 0x80808080u);
}

/* 16 codes (u8 zero-extended or s8 sign-extended) -> nq chunks of 4 int16. */
static inline void step_w16(__m128i v, int u8, int nq, int16_t *dst, __m128i vchk, __m128i *acc) {
    *acc = _mm_or_si128(*acc, _mm_add_epi8(v, vchk));
    int16_t t[16];
    _mm256_storeu_si256((__m256i *)t, u8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v));
    for (int j = 0; j < nq; j++) memcpy(dst + (long)j * 4 * MR, t + 4 * j, 8);
}

/* Row of u8/s8 codes -> the widening kernel's int16 tile rows; the tail (< 16 codes) a quad at
 * a time (a padded copy read back as a vector stalls on store forwarding). */
static int pack_row_w16(const shr_qgemm_packed *p, const uint8_t *src, int16_t *dst) {
    const int K = p->K, u8 = p->act.type == SHR_U8;
    const uint8_t chk = u8 ? 0 : 64;
    __m128i acc = _mm_setzero_si128(), vchk = _mm_set1_epi8((char)chk);
    int k = 0;
    for (; k + 16 <= K; k += 16) step_w16(_mm_loadu_si128((const __m128i *)(src + k)), u8, 4, dst + k * MR, vchk, &acc);
    uint32_t orr = _mm_movemask_epi8(acc) ? 0x80u : 0u;
    for (; k < K; k += 4) {
        uint32_t v = 0, padmask = 0xFFFFFFFFu;
        if (k + 4 <= K) memcpy(&v, src + k, 4);
        else {
            for (int j = 0; j < K - k; j++) v |= (uint32_t)src[k + j] << 8 * j;
            padmask = 0xFFFFFFFFu >> 8 * (4 - (K - k));
        }
        orr |= add_bytes4(v, 0x01010101u * chk) & padmask;
        __m128i b = _mm_cvtsi32_si128((int)v);
        _mm_storel_epi64((__m128i *)(dst + (long)(k / 4) * 4 * MR), u8 ? _mm_cvtepu8_epi16(b) : _mm_cvtepi8_epi16(b));
    }
    return p->act.bits == 7 && (orr & 0x80808080u);
}

/* Row of s16 codes -> chunks of 4; every |x| <= max_abs. */
static int pack_row_s16(const shr_qgemm_packed *p, const int16_t *src, int16_t *dst) {
    const int K = p->K, lim = p->act.max_abs;
    const __m256i hi = _mm256_set1_epi16((short)(lim < 32767 ? lim : 32767));
    const __m256i lo = _mm256_set1_epi16((short)(lim <= 32767 ? -lim : -32768));
    __m256i acc = _mm256_setzero_si256();
    for (int k = 0; k < K; k += 16) {
        _Alignas(32) int16_t t[16] = {0};
        memcpy(t, src + k, (size_t)(K - k < 16 ? K - k : 16) * sizeof *t);
        __m256i v = _mm256_load_si256((const __m256i *)t);
        acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_cmpgt_epi16(v, hi), _mm256_cmpgt_epi16(lo, v)));
        int nq = (p->Kp - k) / 4 < 4 ? (p->Kp - k) / 4 : 4;
        for (int j = 0; j < nq; j++) memcpy(dst + (long)(k / 4 + j) * 4 * MR, t + 4 * j, 8);
    }
    return !_mm256_testz_si256(acc, acc);
}

/* Rows [r0, r0 + mc) into tiles of MR rows ([q][MR][4] codes each) of esz-byte elements.
 * Returns 0 on a contract violation (recorded in *bad). */
static int pack_x(const shr_qgemm_packed *p, int esz, const void *X, long ldx, int r0, int mc, void *buf,
                  shr_qg_bad *bad) {
    for (int r = 0; r < mc; r++) {
        long tile = (long)(r / MR) * MR * p->Kp, in = r % MR * 4; /* elements */
        int m = r0 + r, fail;
        if (p->path == SHR_QPATH_S16)
            fail = pack_row_s16(p, (const int16_t *)X + (long)m * ldx, (int16_t *)buf + tile + in);
        else if (esz == 2)
            fail = pack_row_w16(p, (const uint8_t *)X + (long)m * ldx, (int16_t *)buf + tile + in);
        else
            fail = pack_row_u8(p, (const uint8_t *)X + (long)m * ldx, (uint8_t *)buf + tile + in);
        if (fail) {
            find_bad(p, X, ldx, m, bad);
            return 0;
        }
    }
    return 1;
}

/* First row of [r0, r0 + n) with a code >= 128 (7-bit u8 contract), or -1. */
static int scan_u7(const uint8_t *X, long ldx, int K, int r0, int n) {
    if (ldx == K) { /* one contiguous run */
        const uint8_t *s = X + (long)r0 * K;
        long len = (long)n * K, i = 0;
        __m256i acc = _mm256_setzero_si256(), a1 = acc, a2 = acc, a3 = acc; /* four chains: load-bound */
        for (; i + 128 <= len; i += 128) {
            acc = _mm256_or_si256(acc, _mm256_loadu_si256((const __m256i *)(s + i)));
            a1 = _mm256_or_si256(a1, _mm256_loadu_si256((const __m256i *)(s + i + 32)));
            a2 = _mm256_or_si256(a2, _mm256_loadu_si256((const __m256i *)(s + i + 64)));
            a3 = _mm256_or_si256(a3, _mm256_loadu_si256((const __m256i *)(s + i + 96)));
        }
        for (; i + 32 <= len; i += 32) acc = _mm256_or_si256(acc, _mm256_loadu_si256((const __m256i *)(s + i)));
        acc = _mm256_or_si256(_mm256_or_si256(acc, a1), _mm256_or_si256(a2, a3));
        int bad = _mm256_movemask_epi8(acc);
        for (; i < len; i++) bad |= s[i] & 0x80;
        if (!bad) return -1;
    }
    for (int r = r0; r < r0 + n; r++) {
        const uint8_t *s = X + (long)r * ldx;
        int k = 0, bad = 0;
        for (; k + 32 <= K; k += 32) bad |= _mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)(s + k)));
        for (; k < K; k++) bad |= s[k] & 0x80;
        if (bad) return r;
    }
    return -1;
}

/* ---- driver ---- */

void shr_qg_band_avx2(const shr_qgemm_packed *p, int m0, int m1, int p0, int p1, const void *X, long ldx,
                      const shr_qout *o, void *scratch, shr_qg_bad *bad) {
    const int MC = shr_qg_block_rows(p), Q = p->Kp / 4;
    const int wsz = p->path == SHR_QPATH_S16 ? 2 : 1;
    const int kind = kind_of(p->path);
    /* VNNI serves every byte-operand path, and EXACT with u8 codes (its operand is x itself). */
    const int vnni = shr_qg_vnni_ok_for(p);
    const int esz = vnni ? 1 : elem_size(p); /* <= elem_size(p): the scratch is large enough */
    const int fused = vnni && (o->kind == SHR_QOUT_U8 || o->kind == SHR_QOUT_S8 || o->kind == SHR_QOUT_U8F ||
                               o->kind == SHR_QOUT_S8F); /* requantized in registers */
    /* Byte kernels on u8 codes (no offset to add) read X in place: no packing. A row's padded
     * last quad reads up to 3 bytes past K; a tile does that only if those bytes belong to
     * rows the band certainly has, else it is packed. */
    const int direct = (kind <= 1 || vnni) && p->off == 0;
    const long last_ok = (long)(m1 - 1) * ldx + p->K; /* bytes of X the band can read */
    _Alignas(64) int32_t ct[MR * NR];
    for (int ic = m0; ic < m1; ic += MC) {
        int mc = m1 - ic < MC ? m1 - ic : MC;
        if (!direct) {
            if (!pack_x(p, esz, X, ldx, ic, mc, scratch, bad)) return;
        } else {
            int r = p->act.bits == 7 ? scan_u7(X, ldx, p->K, ic, mc) : -1;
            if (r >= 0) {
                find_bad(p, X, ldx, r, bad);
                return;
            }
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = mc - ir < MR ? mc - ir : MR;
                if ((long)(ic + ir + mr - 1) * ldx + p->Kp > last_ok &&
                    !pack_x(p, esz, X, ldx, ic + ir, mr, (char *)scratch + (long)ir * p->Kp, bad))
                    return;
            }
        }
        if (fused) { /* every tile of the block inside the VNNI kernel's file */
            shr_qg_xblock b = {X, ldx, scratch, direct, last_ok, ic, mc};
            shr_qg_vnni_codes(p, &b, p0, p1, o);
            continue;
        }
        for (int pp = p0; pp < p1; pp++) {
            shr_qg_vepi ve;
            shr_qg_vepi_prepare(p, o, pp, &ve);
            int n0 = pp * NR, nr = p->N - n0 < NR ? p->N - n0 : NR, nv = nr > 8 ? 2 : 1;
            kargs a = {Q, p->steps, NULL, 4, 4 * MR, (const char *)p->w + (long)pp * Q * 4 * NR * wsz, ct};
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = mc - ir < MR ? mc - ir : MR;
                if (direct && (long)(ic + ir + mr - 1) * ldx + p->Kp <= last_ok) {
                    a.x = (const uint8_t *)X + (long)(ic + ir) * ldx;
                    a.xrs = ldx, a.xqs = 4;
                } else {
                    a.x = (const char *)scratch + (long)ir * p->Kp * esz;
                    a.xrs = 4, a.xqs = 4 * MR;
                }
                if (vnni) shr_qg_vnni_kernel(mr)(&a);
                else kernels[kind][nv - 1][mr - 1](&a);
                shr_qg_epilogue(&ve, o, ct, mr, nr, ic + ir, n0);
            }
        }
    }
}
