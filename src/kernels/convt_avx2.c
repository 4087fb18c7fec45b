/* AVX2+FMA implicit convolution with the output channels in the vector lanes (convt.c has the
 * contract). A tile is 6 output pixels x 16 channels (12 accumulators): per tap k, two
 * vectors of packed weights (channels o..o+15) and one broadcast per pixel, read in place
 * from the padded input planes at x + pix[p] + boff[k] — no im2col matrix, and any 6 pixels
 * form a tile, so rows narrower than a tile (7x7 planes) waste nothing. The tile is then
 * transposed in registers (pixels become lanes) and stored as runs of 6 floats into each
 * channel's plane of the NCHW output. One FMA chain per element, k ascending: the same bits
 * as the reference (fmaf). */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/simd_avx2.h"

#define TP 6  /* pixels per tile */
#define TC 16 /* channels per strip */

/* Bias, clamp, pixels into lanes and the stores of one 8-channel half (channels 8h.. of the
 * strip): v[i] = pixel i's accumulator (i < mp). max/min return the accumulator when it is
 * NaN, like the reference's comparisons. */
static inline __attribute__((always_inline)) void store_half(const int mp, __m256 v0, __m256 v1, __m256 v2,
                                                             __m256 v3, __m256 v4, __m256 v5, const float *bias,
                                                             __m256 vlo, __m256 vhi, float *y, long ldy, int nc) {
    const __m256 b = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), z = _mm256_setzero_ps();
#define FIN(v) _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(v, b)))
    __m256 r[8] = {FIN(v0), mp > 1 ? FIN(v1) : z, mp > 2 ? FIN(v2) : z, mp > 3 ? FIN(v3) : z,
                   mp > 4 ? FIN(v4) : z, mp > 5 ? FIN(v5) : z, z, z};
#undef FIN
    shr_transpose8_avx2(r); /* r[j] = channel j of the half at the tile's pixels */
    for (int j = 0; j < 8 && j < nc; j++) {
        float *dst = y + (long)j * ldy;
        if (mp == TP) {
            _mm_storeu_ps(dst, _mm256_castps256_ps128(r[j]));
            _mm_storel_pi((__m64 *)(dst + 4), _mm256_extractf128_ps(r[j], 1));
        } else {
            float t[8];
            _mm256_storeu_ps(t, r[j]);
            memcpy(dst, t, (size_t)mp * sizeof *dst);
        }
    }
}

/* Pixels p..p+mp-1 (mp <= 6) x channels of one strip (nv vectors: 8 or 16 lanes), stored to
 * y + o * ldy + p for the strip's first nc channels. Named accumulators keep the tile in
 * registers (12 of the 16 ymm). */
static inline __attribute__((always_inline)) void tile(const int mp, const int nv, int K, const float *x,
                                                       const int *pix, const long *boff, const float *wp,
                                                       const float *bias, float lo, float hi, float *y, long ldy,
                                                       int nc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *x0 = x + pix[0], *x1 = x + pix[mp > 1 ? 1 : 0], *x2 = x + pix[mp > 2 ? 2 : 0];
    const float *x3 = x + pix[mp > 3 ? 3 : 0], *x4 = x + pix[mp > 4 ? 4 : 0], *x5 = x + pix[mp > 5 ? 5 : 0];
    for (int k = 0; k < K; k++, wp += TC) {
        const long off = boff[k];
        __m256 w0 = _mm256_load_ps(wp), w1 = nv > 1 ? _mm256_load_ps(wp + 8) : w0;
#define PIX(i, xi, ca, cb)                                                                         \
    if (mp > i) {                                                                                  \
        __m256 a = _mm256_broadcast_ss(xi + off);                                                  \
        ca = _mm256_fmadd_ps(a, w0, ca);                                                           \
        if (nv > 1) cb = _mm256_fmadd_ps(a, w1, cb);                                               \
    }
        PIX(0, x0, c00, c01) PIX(1, x1, c10, c11) PIX(2, x2, c20, c21)
        PIX(3, x3, c30, c31) PIX(4, x4, c40, c41) PIX(5, x5, c50, c51)
#undef PIX
    }
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    store_half(mp, c00, c10, c20, c30, c40, c50, bias, vlo, vhi, y, ldy, nc);
    if (nv > 1) store_half(mp, c01, c11, c21, c31, c41, c51, bias ? bias + 8 : NULL, vlo, vhi, y + 8 * ldy, ldy, nc - 8);
}

#define TILE_CASE(m, nv)                                                                           \
    case m:                                                                                        \
        tile(m, nv, K, x, pix + p, boff, wp, bc, lo, hi, y + (long)o * ldy + p, ldy, nc);           \
        break;

void shr_convt_f32_avx2(int OC, int p0, int p1, int K, const float *wp, const float *x, const int *pix,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy) {
    float bpad[TC];
    for (int o = 0; o < OC; o += TC, wp += (long)K * TC) {
        int nc = OC - o < TC ? OC - o : TC;
        const float *bc = bias ? bias + o : NULL;
        if (bias && nc < TC) { /* the kernel reads whole vectors of bias */
            memset(bpad, 0, sizeof bpad);
            memcpy(bpad, bias + o, (size_t)nc * sizeof *bpad);
            bc = bpad;
        }
        for (int p = p0; p < p1; p += TP) {
            int mp = p1 - p < TP ? p1 - p : TP;
            if (nc > 8) {
                switch (mp) { TILE_CASE(6, 2) TILE_CASE(5, 2) TILE_CASE(4, 2) TILE_CASE(3, 2) TILE_CASE(2, 2) TILE_CASE(1, 2) }
            } else {
                switch (mp) { TILE_CASE(6, 1) TILE_CASE(5, 1) TILE_CASE(4, 1) TILE_CASE(3, 1) TILE_CASE(2, 1) TILE_CASE(1, 1) }
            }
        }
    }
}

/* One phase-plane row (shr_convt_row_ref): zeros, then the source every S floats, then zeros.
 * S = 1: vector copies; S = 2: 16 source floats -> their 8 even ones by one
 * shuffle and a lane permute, while those 16 lie within the `avail` readable floats. */
void shr_convt_row_avx2(float *dst, const float *src, int q0, int q1, int Wq, int S, int avail) {
    int q = 0;
    for (; q + 8 <= q0; q += 8) _mm256_storeu_ps(dst + q, _mm256_setzero_ps());
    for (; q < q0; q++) dst[q] = 0.0f;
    if (S == 1) {
        for (; q + 8 <= q1; q += 8, src += 8) _mm256_storeu_ps(dst + q, _mm256_loadu_ps(src));
        if (q + 4 <= q1) { /* (masked stores are microcoded on AMD: slower than this) */
            _mm_storeu_ps(dst + q, _mm_loadu_ps(src));
            q += 4, src += 4;
        }
    } else if (S == 2) {
        for (int used = 0; q + 8 <= q1 && used + 16 <= avail; q += 8, src += 16, used += 16) {
            __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
            __m256 e = _mm256_shuffle_ps(a, b, 0x88); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
            _mm256_storeu_ps(dst + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        }
    }
    for (; q < q1; q++, src += S) dst[q] = *src;
    for (; q + 8 <= Wq; q += 8) _mm256_storeu_ps(dst + q, _mm256_setzero_ps());
    for (; q < Wq; q++) dst[q] = 0.0f;
}

/* shr_convt_pack_f32 (the same layout): each strip as two halves of 8 channels in the lanes. */
void shr_convt_pack_f32_avx2(int OC, int K, const float *w, long ldw, float *wp) {
    for (int s = 0; s < OC; s += TC, wp += (long)K * TC)
        for (int h = 0; h < TC; h += 8) {
            int nh = OC - s - h; /* real channels in this half */
            shr_pack_rows8_avx2(w + (long)(s + h) * ldw, ldw, nh < 0 ? 0 : nh < 8 ? nh : 8, K, wp + h, TC);
        }
}
