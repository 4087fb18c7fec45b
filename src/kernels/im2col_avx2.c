/* im2col / col2im for convolution via GEMM, AVX2 build (this file is compiled with -O3
 * -mavx2, so the row copies below vectorize; conv rows are short — 8 to 28 floats — and
 * scalar copies cost as much as the GEMM on small convolutions). Layout in kernels.h.
 * Per (c, kh, kw) row, the output positions whose input index is inside the image
 * form one rectangle [oh0, oh1) x [ow0, ow1), computed once; the rest is zero
 * (im2col) or skipped (col2im), so the inner loops have no bounds tests and
 * stride-1 rows are straight copies. A stride-1 row is written as whole 8-float vectors:
 * masked loads read zeros outside [ow0, ow1) (masked lanes never touch memory) and the
 * last vector may spill into the following rows of the plane, which are written afterwards;
 * a vector that would cross the plane's end is stored masked (nothing past it is touched). */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

/* Outputs o in [0, O) read input o*S + off; the sub-range inside [0, L). */
static void valid_range(int L, int S, int off, int O, int *lo, int *hi) {
    int l = off >= 0 ? 0 : (-off + S - 1) / S;
    int b = L - 1 - off;
    int h = b < 0 ? 0 : b / S + 1;
    if (h > O) h = O;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* dst[0..OW) = src[ow] for ow in [ow0, ow1), else 0; src is the input row shifted so that
 * src[ow] is output column ow's input (only [ow0, ow1) of it is read). Up to 7 floats past
 * dst[OW) are overwritten with garbage, but never past dst[room). */
static inline void row_s1(float *dst, const float *src, int OW, int ow0, int ow1, long room) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lo = _mm256_set1_epi32(ow0 - 1), hi = _mm256_set1_epi32(ow1), end = _mm256_set1_epi32(OW);
    for (int v = 0; v < OW; v += 8) {
        __m256 val;
        if (v >= ow0 && v + 8 <= ow1) {
            val = _mm256_loadu_ps(src + v);
        } else {
            __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(v));
            __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(idx, lo), _mm256_cmpgt_epi32(hi, idx));
            val = _mm256_maskload_ps(src + v, in);
        }
        if (v + 8 > room)
            _mm256_maskstore_ps(dst + v, _mm256_cmpgt_epi32(end, _mm256_add_epi32(lane, _mm256_set1_epi32(v))), val);
        else
            _mm256_storeu_ps(dst + v, val);
    }
}

void shr_im2col_f32_avx2(const shr_conv_geom *g, const float *x, float *col, int ldcol) {
    const int OH = g->OH, OW = g->OW, SW = g->SW;
    for (int c = 0; c < g->C; c++) {
        const float *xc = x + (long)c * g->H * g->W;
        for (int kh = 0; kh < g->KH; kh++) {
            int offh = kh * g->DH - g->PT, oh0, oh1;
            valid_range(g->H, g->SH, offh, OH, &oh0, &oh1);
            for (int kw = 0; kw < g->KW; kw++) {
                int offw = kw * g->DW - g->PL, ow0, ow1;
                valid_range(g->W, SW, offw, OW, &ow0, &ow1);
                float *row = col + (long)((c * g->KH + kh) * g->KW + kw) * ldcol;
                if (oh0 > 0) memset(row, 0, (size_t)oh0 * OW * sizeof *row);
                if (SW == 1) {
                    for (int oh = oh0; oh < oh1; oh++)
                        row_s1(row + (long)oh * OW, xc + (long)(oh * g->SH + offh) * g->W + offw, OW, ow0, ow1,
                               (long)(OH - oh) * OW);
                    if (oh1 < OH) memset(row + (long)oh1 * OW, 0, (size_t)(OH - oh1) * OW * sizeof *row);
                    continue;
                }
                if (oh1 < OH) memset(row + (long)oh1 * OW, 0, (size_t)(OH - oh1) * OW * sizeof *row);
                for (int oh = oh0; oh < oh1; oh++) {
                    float *dst = row + (long)oh * OW;
                    const float *src = xc + (long)(oh * g->SH + offh) * g->W + offw;
                    for (int ow = 0; ow < ow0; ow++) dst[ow] = 0.0f;
                    if (SW == 1)
                        for (int ow = ow0; ow < ow1; ow++) dst[ow] = src[ow];
                    else
                        for (int ow = ow0; ow < ow1; ow++) dst[ow] = src[(long)ow * SW];
                    for (int ow = ow1; ow < OW; ow++) dst[ow] = 0.0f;
                }
            }
        }
    }
}

void shr_col2im_f32_avx2(const shr_conv_geom *g, const float *col, int ldcol, float *x) {
    const int OW = g->OW, SW = g->SW;
    for (int c = 0; c < g->C; c++) {
        float *xc = x + (long)c * g->H * g->W;
        for (int kh = 0; kh < g->KH; kh++) {
            int offh = kh * g->DH - g->PT, oh0, oh1;
            valid_range(g->H, g->SH, offh, g->OH, &oh0, &oh1);
            for (int kw = 0; kw < g->KW; kw++) {
                int offw = kw * g->DW - g->PL, ow0, ow1;
                valid_range(g->W, SW, offw, OW, &ow0, &ow1);
                const float *row = col + (long)((c * g->KH + kh) * g->KW + kw) * ldcol;
                for (int oh = oh0; oh < oh1; oh++) {
                    const float *src = row + (long)oh * OW;
                    float *dst = xc + (long)(oh * g->SH + offh) * g->W + offw;
                    if (SW == 1)
                        for (int ow = ow0; ow < ow1; ow++) dst[ow] += src[ow];
                    else
                        for (int ow = ow0; ow < ow1; ow++) dst[(long)ow * SW] += src[ow];
                }
            }
        }
    }
}
