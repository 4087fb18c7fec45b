/* AVX2+FMA int4 weight-only GEMV: y[N] = W[N,K] x (+ bias), W packed as in int4.h.
 *
 * Decoding without int->float conversions: 32 bytes of a row (64 weights) are XORed with
 * 0x88, turning every signed nibble v into u = v + 8 in 0..15; two shifts and masks give
 * bytes e = u << 3 for the even-k (low) and odd-k (high) nibbles; unpacking e with a 0x3F
 * byte and then with zero words yields dwords 0x3F000000 | e << 16, which are exactly the
 * floats 0.5 + u/32. So 8 weights cost 1.5 unpacks + 1 FMA (+ 5 ops per 64 weights), all
 * within 128-bit lanes. The order the values come out in is fixed, so x is rearranged once
 * per call into that order (_prep) instead of shuffling weights per row.
 *
 * Per group g of row n: D = sum_k (0.5 + u_k/32) x_k in float (4 partial sums combined at
 * the end of the group), total += scale * D; after the row,
 *     y = 32 * total - sum_g scale_g (24 + zero_g) X_g,   X_g = sum of x over group g
 * (as sum (v - zero) x = 32 D - (24 + zero) X; the powers of two are exact). The scale is
 * applied once per group and w = (v - zero) * scale is never formed. The offsets cost some
 * accuracy: rounding errors scale with sum (16 + u + |24 + zero|) |x| rather than with
 * sum |v - zero| |x| (the tests' bound uses the former). At G = 32 one 64-weight block holds
 * two groups, one per 128-bit lane, scaled by [s0 x4, s1 x4]. Every y[n] is computed by the
 * same instruction sequence whatever the row range, so threads never change a bit.
 * (Measured on Zen 3: this beats vpshufb + vcvtdq2ps, 3.5 ops per 8 weights, by ~15 %.) */
#include <immintrin.h>

#include "kernels/simd_avx2.h"

#include "kernels/int4.h"

static long round_up32(long k) { return (k + 31) / 32 * 32; }

size_t shr_i4_gemv_avx2_work(const shr_i4_mat *W) {
    return (size_t)round_up32(W->K) + (size_t)(W->ngroups + 7) / 8 * 8;
}

static inline float xv(const float *x, int K, long k) { return k < K ? x[k] : 0.0f; }

/* Order in which a 64-weight block's values come out of decode64 (8 vectors of 8 lanes):
 * vector t < 4 holds even k = 2*(4t + j) (lane j < 4) and 32 + 2*(4t + j - 4) (lane j >= 4),
 * vector 4 + t the odd k right after each. A final 32-weight block (decode32): vector t < 2
 * holds k = 2*(8t + j), vector 2 + t the odd ones. */
void shr_i4_gemv_avx2_prep(const shr_i4_mat *W, const float *x, float *work) {
    int K = W->K;
    long Kq = round_up32(K), c = 0;
    for (; c + 64 <= K; c += 64) /* vector t: evens of x[c+8t ..] and x[c+32+8t ..], odds at 4 + t */
        for (int t = 0; t < 4; t++) {
            __m256 a = _mm256_loadu_ps(x + c + 8 * t), b = _mm256_loadu_ps(x + c + 32 + 8 * t);
            __m256 ev = _mm256_shuffle_ps(a, b, 0x88), od = _mm256_shuffle_ps(a, b, 0xDD);
            _mm256_storeu_ps(work + c + 8 * t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8)));
            _mm256_storeu_ps(work + c + 32 + 8 * t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xD8)));
        }
    for (; c + 64 <= Kq; c += 64) /* the same with the zero padding past K */
        for (int t = 0; t < 4; t++)
            for (int j = 0; j < 8; j++) {
                long k = c + (j < 4 ? 0 : 32) + 2 * (4 * t + (j & 3));
                work[c + 8 * t + j] = xv(x, K, k);
                work[c + 32 + 8 * t + j] = xv(x, K, k + 1);
            }
    if (c < Kq)
        for (int t = 0; t < 2; t++)
            for (int j = 0; j < 8; j++) {
                long k = c + 2 * (8 * t + j);
                work[c + 8 * t + j] = xv(x, K, k);
                work[c + 16 + 8 * t + j] = xv(x, K, k + 1);
            }
    float *xs = work + Kq;
    int ng8 = (W->ngroups + 7) / 8 * 8;
    for (int g = 0; g < ng8; g++) {
        float s = 0.0f;
        if (g < W->ngroups) {
            long k1 = (long)(g + 1) * W->group < K ? (long)(g + 1) * W->group : K;
            for (long k = (long)g * W->group; k < k1; k++) s += x[k];
        }
        xs[g] = s;
    }
}


typedef struct decoder {
    __m256i m78, x88, c3f;
} decoder;

/* u << 3 of the even-k nibbles (lo) and the odd-k nibbles (hi) of 32 bytes, u = v + 8. */
static inline __attribute__((always_inline)) void split(const decoder *d, __m256i b, __m256i *lo, __m256i *hi) {
    b = _mm256_xor_si256(b, d->x88);
    *lo = _mm256_and_si256(_mm256_slli_epi16(b, 3), d->m78);
    *hi = _mm256_and_si256(_mm256_srli_epi16(b, 1), d->m78);
}

/* Bytes e (u << 3) -> floats with bits 0x3F000000 | e << 16 = 0.5 + u / 32, exactly: two
 * unpacks per 8 values and no conversion. f[t] lane j of 128-bit lane l comes from byte
 * 4t + j of lane l. */
static inline __attribute__((always_inline)) void to_float(const decoder *d, __m256i e, __m256 f[4]) {
    __m256i wa = _mm256_unpacklo_epi8(e, d->c3f), wb = _mm256_unpackhi_epi8(e, d->c3f), z = _mm256_setzero_si256();
    f[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, wa));
    f[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, wa));
    f[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, wb));
    f[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, wb));
}

/* Accumulators: nv vectors of x (stride xs floats apart in the work area), NA partial sums
 * each (4 for one vector to cover the FMA latency, 2 when several vectors share a block). */
#define NA(nv) ((nv) == 1 ? 4 : 2)

/* a[m][.] += (0.5 + u / 32) * x_m for one 64-weight block at q (32 bytes) against the
 * rearranged x_m at xp + m * xs (64 floats each). */
static inline __attribute__((always_inline)) void decode64(const int nv, const decoder *d, const uint8_t *q,
                                                           const float *xp, long xs, __m256 a[][4]) {
    __m256i lo, hi;
    split(d, _mm256_loadu_si256((const __m256i *)q), &lo, &hi);
    for (int h = 0; h < 2; h++) {
        __m256 f[4];
        to_float(d, h ? hi : lo, f);
        for (int t = 0; t < 4; t++)
            for (int m = 0; m < nv; m++)
                a[m][t % NA(nv)] = _mm256_fmadd_ps(f[t], _mm256_loadu_ps(xp + m * xs + 32 * h + 8 * t), a[m][t % NA(nv)]);
    }
}

/* The same for a final 32-weight block (16 bytes): vector t holds bytes 8t..8t+7 in order. */
static inline __attribute__((always_inline)) void decode32(const int nv, const decoder *d, const uint8_t *q,
                                                           const float *xp, long xs, __m256 a[][4]) {
    __m256i lo, hi;
    split(d, _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q)), &lo, &hi);
    __m128i e[2] = {_mm256_castsi256_si128(lo), _mm256_castsi256_si128(hi)}, c3f = _mm256_castsi256_si128(d->c3f);
    for (int h = 0; h < 2; h++) {
        __m128i w[2] = {_mm_unpacklo_epi8(e[h], c3f), _mm_unpackhi_epi8(e[h], c3f)};
        for (int t = 0; t < 2; t++) {
            __m256 f = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(w[t]), 16));
            for (int m = 0; m < nv; m++)
                a[m][(2 * h + t) % NA(nv)] =
                    _mm256_fmadd_ps(f, _mm256_loadu_ps(xp + m * xs + 16 * h + 8 * t), a[m][(2 * h + t) % NA(nv)]);
        }
    }
}

static inline __attribute__((always_inline)) __m256 sum_acc(const int nv, const __m256 a[4]) {
    if (NA(nv) == 2) return _mm256_add_ps(a[0], a[1]);
    return _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
}

/* sum_g scale_g * (24 + zero_g) * X_g over one row. */
static float offset_term(const shr_i4_mat *W, const float *s, const int8_t *z, const float *xs) {
    int ng = W->ngroups, g = 0;
    __m256 c = _mm256_setzero_ps(), off = _mm256_set1_ps(24.0f);
    for (; g + 8 <= ng; g += 8) {
        __m256 zf = off;
        if (z) zf = _mm256_add_ps(off, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(z + g)))));
        c = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(s + g), zf), _mm256_loadu_ps(xs + g), c);
    }
    float r = shr_hsum8_avx2(c);
    for (; g < ng; g++) r += s[g] * (24.0f + (z ? z[g] : 0)) * xs[g];
    return r;
}

/* total[m] += sum_g scale_g * D_g(x_m) over groups g0 <= g < g1 (g0 even) of one row, for
 * nv (compile-time 1..4) vectors. */
static inline __attribute__((always_inline)) void row_dot(const int nv, const shr_i4_mat *W, const decoder *d,
                                                          const uint8_t *q, const float *s, const float *xp,
                                                          long xs, int g0, int g1, __m256 *tot) {
    const long Kq = round_up32(W->K);
    const int G = W->group;
    __m256 a[4][4], total[4]; /* locals: kept in registers */
    for (int m = 0; m < nv; m++) total[m] = tot[m];
#define ZERO_ACC                                                                   \
    for (int m = 0; m < nv; m++)                                                   \
        for (int i = 0; i < NA(nv); i++) a[m][i] = _mm256_setzero_ps();
    if (G == 32) {
        const __m256i pair = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
        int g = g0;
        for (; g + 2 <= g1; g += 2) {
            ZERO_ACC
            decode64(nv, d, q + g * 16, xp + g * 32, xs, a);
            __m256 sv = _mm256_castps128_ps256(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(s + g))));
            sv = _mm256_permutevar8x32_ps(sv, pair);
            for (int m = 0; m < nv; m++) total[m] = _mm256_fmadd_ps(sum_acc(nv, a[m]), sv, total[m]);
        }
        if (g < g1) {
            ZERO_ACC
            decode32(nv, d, q + g * 16, xp + g * 32, xs, a);
            for (int m = 0; m < nv; m++) total[m] = _mm256_fmadd_ps(sum_acc(nv, a[m]), _mm256_set1_ps(s[g]), total[m]);
        }
    } else {
        for (int g = g0; g < g1; g++) {
            long k0 = (long)g * G, k1 = k0 + G < Kq ? k0 + G : Kq, k = k0;
            ZERO_ACC
            for (; k + 64 <= k1; k += 64) decode64(nv, d, q + k / 2, xp + k, xs, a);
            if (k < k1) decode32(nv, d, q + k / 2, xp + k, xs, a);
            for (int m = 0; m < nv; m++) total[m] = _mm256_fmadd_ps(sum_acc(nv, a[m]), _mm256_set1_ps(s[g]), total[m]);
        }
    }
#undef ZERO_ACC
    for (int m = 0; m < nv; m++) tot[m] = total[m];
}

/* Rows n0..n1-1 (at most RB), groups g0..g1-1, nv (compile-time) vectors whose work areas
 * start at work, xs floats apart; tot[(n - n0) * ldt + m] are the running totals. */
static inline __attribute__((always_inline)) void rows_nv(const int nv, const shr_i4_mat *W, int n0, int n1,
                                                          int g0, int g1, const float *work, long xs, __m256 *tot,
                                                          int ldt) {
    decoder d;
    d.m78 = _mm256_set1_epi8(0x78);
    d.x88 = _mm256_set1_epi8((char)0x88);
    d.c3f = _mm256_set1_epi8(0x3F);
    for (int n = n0; n < n1; n++)
        row_dot(nv, W, &d, W->q + (long)n * W->ldq, W->scale + (long)n * W->ngroups, work, xs, g0, g1,
                tot + (n - n0) * ldt);
}

typedef void (*rows_fn)(const shr_i4_mat *, int, int, int, int, const float *, long, __m256 *, int);
#define ROWS_INSTANCE(nv)                                                                              \
    static void rows##nv(const shr_i4_mat *W, int n0, int n1, int g0, int g1, const float *w, long xs, \
                         __m256 *tot, int ldt) {                                                       \
        rows_nv(nv, W, n0, n1, g0, g1, w, xs, tot, ldt);                                               \
    }
ROWS_INSTANCE(1)
ROWS_INSTANCE(2)
ROWS_INSTANCE(3)
ROWS_INSTANCE(4)

/* With several vectors, rows are taken RB at a time and K in slices of SLICE_K values when
 * the vectors' rearranged x would not stay in L1 (about 24 KiB), so that one slice of up to 4
 * of them (4 x 4 KiB) stays in L1 while those rows' weights are decoded for every group of 4
 * vectors in turn. A single vector never needs slicing (its whole x fits up to K = 6144), and
 * unsliced, rows stream through memory in order. The running totals pass through memory
 * unchanged, so the slicing does not alter a bit. */
#define RB 8
#define SLICE_K 1024
#define L1_FLOATS 6144
#define MAX_NV 32

void shr_i4_gemv_avx2_rows(const shr_i4_mat *W, int nv, int n0, int n1, const float *work, const float *bias,
                           float *Y, long ldy) {
    static const rows_fn fn[4] = {rows1, rows2, rows3, rows4};
    const long xs = (long)shr_i4_gemv_avx2_work(W), Kq = round_up32(W->K);
    const int ng = W->ngroups;
    int gs = ng; /* groups per slice */
    if ((nv < 4 ? nv : 4) * Kq > L1_FLOATS) gs = W->group >= SLICE_K ? 1 : SLICE_K / W->group;
    for (int m0 = 0; m0 < nv; m0 += MAX_NV) { /* callers keep nv small; this only bounds tot */
        int mv = nv - m0 < MAX_NV ? nv - m0 : MAX_NV;
        const float *wk = work + m0 * xs;
        __m256 tot[RB * MAX_NV];
        for (int b0 = n0; b0 < n1; b0 += RB) {
            int b1 = n1 - b0 < RB ? n1 : b0 + RB;
            for (int i = 0; i < b1 - b0; i++)
                for (int m = 0; m < mv; m++) tot[i * MAX_NV + m] = _mm256_setzero_ps();
            for (int g0 = 0; g0 < ng; g0 += gs)
                for (int m = 0; m < mv; m += 4) {
                    int c = mv - m < 4 ? mv - m : 4;
                    fn[c - 1](W, b0, b1, g0, g0 + gs < ng ? g0 + gs : ng, wk + m * xs, xs, tot + m, MAX_NV);
                }
            for (int n = b0; n < b1; n++) {
                const float *s = W->scale + (long)n * ng;
                const int8_t *z = W->zero ? W->zero + (long)n * ng : NULL;
                for (int m = 0; m < mv; m++) {
                    float r = 32.0f * shr_hsum8_avx2(tot[(n - b0) * MAX_NV + m]) - offset_term(W, s, z, wk + m * xs + Kq);
                    Y[(m0 + m) * ldy + n] = bias ? r + bias[n] : r;
                }
            }
        }
    }
}
