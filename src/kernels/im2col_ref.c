/* Reference im2col / col2im: one bounds test per element. Layout in kernels.h. */
#include <string.h>

#include "kernels/kernels.h"

void shr_im2col_f32_ref(const shr_conv_geom *g, const float *x, float *col, int ldcol) {
    for (int c = 0; c < g->C; c++) {
        const float *xc = x + (long)c * g->H * g->W;
        for (int kh = 0; kh < g->KH; kh++) {
            for (int kw = 0; kw < g->KW; kw++) {
                float *row = col + (long)((c * g->KH + kh) * g->KW + kw) * ldcol;
                for (int oh = 0; oh < g->OH; oh++) {
                    int ih = oh * g->SH - g->PT + kh * g->DH;
                    float *dst = row + (long)oh * g->OW;
                    if (ih < 0 || ih >= g->H) {
                        memset(dst, 0, (size_t)g->OW * sizeof *dst);
                        continue;
                    }
                    const float *src = xc + (long)ih * g->W;
                    int iw0 = -g->PL + kw * g->DW;
                    for (int ow = 0; ow < g->OW; ow++) {
                        int iw = iw0 + ow * g->SW;
                        dst[ow] = (iw >= 0 && iw < g->W) ? src[iw] : 0.0f;
                    }
                }
            }
        }
    }
}

void shr_col2im_f32_ref(const shr_conv_geom *g, const float *col, int ldcol, float *x) {
    for (int c = 0; c < g->C; c++) {
        float *xc = x + (long)c * g->H * g->W;
        for (int kh = 0; kh < g->KH; kh++) {
            for (int kw = 0; kw < g->KW; kw++) {
                const float *row = col + (long)((c * g->KH + kh) * g->KW + kw) * ldcol;
                for (int oh = 0; oh < g->OH; oh++) {
                    int ih = oh * g->SH - g->PT + kh * g->DH;
                    if (ih < 0 || ih >= g->H) continue;
                    const float *src = row + (long)oh * g->OW;
                    float *dst = xc + (long)ih * g->W;
                    int iw0 = -g->PL + kw * g->DW;
                    for (int ow = 0; ow < g->OW; ow++) {
                        int iw = iw0 + ow * g->SW;
                        if (iw >= 0 && iw < g->W) dst[iw] += src[ow];
                    }
                }
            }
        }
    }
}
