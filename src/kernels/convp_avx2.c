/* AVX2+FMA implicit convolution with the output pixels in the vector lanes, for layers with few
 * taps: convt's channel-lanes tile ends with a transpose that costs as much as 10-30 taps, this
 * one stores its vectors straight into the NCHW output. Same math and bits as
 * shr_convt_f32_ref (one FMA chain per element, taps in order), pixels given as output rows:
 * pixel (oh, ow) reads x + oh * Wq + ow + boff[k]. A tile is 4 channels x 16 consecutive
 * pixels of one row (8 accumulators): per tap two loads of the plane row and 4 broadcast
 * weights from the packed strips (shr_convt_pack_f32). A row's last, partial chunk loads
 * through masks, so nothing past the planes is read. */
#include <immintrin.h>

#include "kernels/kernels.h"

#define TC 16 /* channels per packed strip */

/* v0 | v1 (16 lanes) -> dst[0, n), n <= 16 (no masked stores: microcoded on AMD). */
static inline void store_n(float *dst, __m256 v0, __m256 v1, int n) {
    if (n >= 8) {
        _mm256_storeu_ps(dst, v0);
        dst += 8, n -= 8, v0 = v1;
    } else if (n == 0) {
        return;
    }
    if (n == 8) {
        _mm256_storeu_ps(dst, v0);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v0);
    if (n >= 4) {
        _mm_storeu_ps(dst, h);
        dst += 4, n -= 4, h = _mm256_extractf128_ps(v0, 1);
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)dst, h);
        dst += 2, n -= 2, h = _mm_movehl_ps(h, h);
    }
    if (n) _mm_store_ss(dst, h);
}

/* Channels o..o+MB-1 (MB <= 4, compile-time) x pixels ow0..ow0+nw-1 (nw <= 16) of row oh. */
static inline __attribute__((always_inline)) void tile(const int MB, int K, const float *wp, long o, const float *xr,
                                                       const long *boff, int nw, const float *bias, float lo,
                                                       float hi, float *y, long ldy) {
    const float *wc[4];
    for (int c = 0; c < 4; c++) {
        long oc = o + (c < MB ? c : 0);
        wc[c] = wp + (oc / TC) * TC * K + oc % TC;
    }
    __m256 a0[4], a1[4];
    for (int c = 0; c < MB; c++) a0[c] = a1[c] = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nw), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nw - 8), lane);
    for (int k = 0; k < K; k++) {
        const float *xk = xr + boff[k];
        __m256 x0, x1;
        if (nw == 16) {
            x0 = _mm256_loadu_ps(xk), x1 = _mm256_loadu_ps(xk + 8);
        } else {
            x0 = _mm256_maskload_ps(xk, m0), x1 = _mm256_maskload_ps(xk + 8, m1);
        }
        for (int c = 0; c < MB; c++) {
            __m256 w = _mm256_broadcast_ss(wc[c] + (long)k * TC);
            a0[c] = _mm256_fmadd_ps(w, x0, a0[c]);
            a1[c] = _mm256_fmadd_ps(w, x1, a1[c]);
        }
    }
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int c = 0; c < MB; c++) {
        __m256 b = _mm256_set1_ps(bias ? bias[o + c] : 0.0f);
        /* max/min return the accumulator when it is NaN, like the reference's comparisons */
        __m256 v0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(a0[c], b)));
        __m256 v1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(a1[c], b)));
        store_n(y + (o + c) * ldy, v0, v1, nw);
    }
}

void shr_convp_f32_avx2(int OC, int oh0, int oh1, int OW, int Wq, int K, const float *wp, const float *x,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy) {
    for (int oh = oh0; oh < oh1; oh++)
        for (int ow = 0; ow < OW; ow += 16) {
            int nw = OW - ow < 16 ? OW - ow : 16;
            const float *xr = x + (long)oh * Wq + ow;
            float *yr = y + (long)oh * OW + ow;
            int o = 0;
            for (; o + 4 <= OC; o += 4) tile(4, K, wp, o, xr, boff, nw, bias, lo, hi, yr, ldy);
            switch (OC - o) {
            case 3: tile(3, K, wp, o, xr, boff, nw, bias, lo, hi, yr, ldy); break;
            case 2: tile(2, K, wp, o, xr, boff, nw, bias, lo, hi, yr, ldy); break;
            case 1: tile(1, K, wp, o, xr, boff, nw, bias, lo, hi, yr, ldy); break;
            default: break;
            }
        }
}
