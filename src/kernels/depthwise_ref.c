/* Plain-C reference of the depthwise plane kernel (kernels.h): every output element sums
 * its taps in (kh, kw) order starting from the bias, then the clamp. */
#include "kernels/kernels.h"

void shr_dwconv_plane_f32_ref(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                              float *y) {
    for (int oh = 0; oh < g->OH; oh++)
        for (int ow = 0; ow < g->OW; ow++) {
            float acc = bias;
            for (int kh = 0; kh < g->KH; kh++) {
                int ih = oh * g->SH - g->PT + kh * g->DH;
                if (ih < 0 || ih >= g->H) continue;
                for (int kw = 0; kw < g->KW; kw++) {
                    int iw = ow * g->SW - g->PL + kw * g->DW;
                    if (iw >= 0 && iw < g->W) acc += w[kh * g->KW + kw] * x[(long)ih * g->W + iw];
                }
            }
            acc = acc < lo ? lo : acc;
            y[(long)oh * g->OW + ow] = acc > hi ? hi : acc;
        }
}
