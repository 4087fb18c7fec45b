/* AVX2+FMA depthwise convolution of one plane (kernels.h). For each output row, 8 outputs
 * at a time stay in one register while all KH*KW taps are added (the loop version reads and
 * writes y once per tap); the columns whose taps all fall inside the image are vectorized,
 * the border columns go through the same tap sequence in scalar code. Stride 1 loads 8
 * consecutive inputs per tap; stride 2 loads 16 and keeps the even lanes.
 * Each output is bias + taps in (kh, kw) order with FMA, then clamped. */
#include <immintrin.h>

#include "kernels/kernels.h"

/* One output element, taps in (kh, kw) order (fmaf, like the vector lanes). */
static float dw_point(const shr_conv_geom *g, const float *x, const float *w, float bias, int oh, int ow) {
    float acc = bias;
    for (int kh = 0; kh < g->KH; kh++) {
        int ih = oh * g->SH - g->PT + kh * g->DH;
        if (ih < 0 || ih >= g->H) continue;
        for (int kw = 0; kw < g->KW; kw++) {
            int iw = ow * g->SW - g->PL + kw * g->DW;
            if (iw >= 0 && iw < g->W) acc = __builtin_fmaf(w[kh * g->KW + kw], x[(long)ih * g->W + iw], acc);
        }
    }
    return acc;
}

static inline float clampf(float v, float lo, float hi) {
    v = v < lo ? lo : v; /* comparisons keep NaN, like max_ps(lo, v) */
    return v > hi ? hi : v;
}

static inline __m256 load_strided(const float *p, int stride) {
    if (stride == 1) return _mm256_loadu_ps(p);
    /* stride 2: even lanes of p[0..15] */
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 e = _mm256_shuffle_ps(a, b, 0x88); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

void shr_dwconv_plane_f32_avx2(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                               float *y) {
    const int SW = g->SW;
    if (SW > 2) {
        shr_dwconv_plane_f32_ref(g, x, w, bias, lo, hi, y);
        return;
    }
    /* Interior columns [c0, c1): every tap column inside [0, W); for stride 2 the last
     * vector also reads up to 7 floats past its last tap, so keep those inside the row. */
    int c0 = (g->PL + g->SW - 1) / g->SW;
    int span = (g->KW - 1) * g->DW - g->PL; /* last tap offset from ow*SW */
    int c1 = g->OW;
    while (c1 > c0 && (c1 - 1) * SW + span >= g->W) c1--;
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int oh = 0; oh < g->OH; oh++) {
        float *yr = y + (long)oh * g->OW;
        int ow = 0;
        for (; ow < c0 && ow < g->OW; ow++) yr[ow] = clampf(dw_point(g, x, w, bias, oh, ow), lo, hi);
        /* stride 2 reads one float past the last tap of the vector's last output */
        for (; ow + 8 <= c1 && (SW == 1 || (ow + 7) * 2 + span + 1 < g->W); ow += 8) {
            __m256 acc = _mm256_set1_ps(bias);
            for (int kh = 0; kh < g->KH; kh++) {
                int ih = oh * g->SH - g->PT + kh * g->DH;
                if (ih < 0 || ih >= g->H) continue;
                const float *xr = x + (long)ih * g->W + (long)ow * SW - g->PL;
                for (int kw = 0; kw < g->KW; kw++)
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(w[kh * g->KW + kw]), load_strided(xr + kw * g->DW, SW), acc);
            }
            acc = _mm256_max_ps(vlo, acc);
            _mm256_storeu_ps(yr + ow, _mm256_min_ps(vhi, acc));
        }
        for (; ow < g->OW; ow++) yr[ow] = clampf(dw_point(g, x, w, bias, oh, ow), lo, hi);
    }
}
