/* Depthwise qconv2d on channels-last codes: every output pixel is a vector over channels,
 *   acc[c] = bias[c] + sum over in-bounds taps (kh, kw) of (x[ih, iw, c] - zx) * w[c, kh, kw]
 * (out-of-bounds taps are padding: a real zero, so they add nothing), then requantized per
 * channel like qlinear (fixed point, or the float multiplier of shr_q_float_requant). The channel loop is contiguous in x, w (repacked tap-major) and y.
 * Threads split output rows (image, oh); results are exact integers, independent of the split. */
#include <stdlib.h>

#include "kernels/qgemm.h"
#include "nn/ops/ops_quant.h"
#include "nn/ops/qconv.h"

struct shr_qconv_dw {
    int C, taps, parts;
    int32_t *w;           /* [taps][C] */
    int32_t *bias;        /* [C] */
    int32_t *mult, *shift; /* [C] codes out */
    float *fscale;        /* [C] f32 out: x_scale * w_scale[c] */
    float *rq;            /* [C] 8-bit codes out, float requantization (shr_q_float_requant); else NULL */
    shr_dtype xt, yt;
    int zx, zy, qmin, qmax;
    int32_t *acc;         /* [parts][C] */
};

void shr_qconv_dw_free(shr_qconv_dw *d) {
    if (!d) return;
    free(d->w);
    free(d->bias);
    free(d->mult);
    free(d->shift);
    free(d->fscale);
    free(d->rq);
    free(d->acc);
    free(d);
}

shr_status shr_qconv_dw_init(shr_qconv_dw **out, const shr_op_io *io, const shr_qconv_cfg *c) {
    shr_qconv_dw *d = calloc(1, sizeof *d);
    if (!d) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    int C = c->C, taps = c->KH * c->KW;
    d->C = C;
    d->taps = taps;
    d->parts = shr_op_threads();
    d->w = malloc((size_t)taps * C * sizeof *d->w);
    d->bias = calloc((size_t)C, sizeof *d->bias);
    d->mult = malloc((size_t)C * sizeof *d->mult);
    d->shift = malloc((size_t)C * sizeof *d->shift);
    d->fscale = malloc((size_t)C * sizeof *d->fscale);
    d->acc = malloc((size_t)d->parts * C * sizeof *d->acc);
    shr_status st = d->w && d->bias && d->mult && d->shift && d->fscale && d->acc
                        ? SHR_OK
                        : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st != SHR_OK) {
        shr_qconv_dw_free(d);
        return st;
    }
    const shr_tensor *wt = io->in[3], *ws = io->in[4], *b = io->node->n_inputs > 5 ? io->in[5] : NULL;
    for (int ch = 0; ch < C; ch++)
        for (int t = 0; t < taps; t++) d->w[(size_t)t * C + ch] = shr_q_get(wt->data, wt->dtype, (size_t)ch * taps + t);
    if (b) memcpy(d->bias, b->data, (size_t)C * sizeof *d->bias);
    shr_qparam xq = shr_q_param_io(io, 1, 2);
    d->xt = xq.type;
    d->zx = xq.zero_point;
    d->yt = io->node->n_inputs > 7 && io->in[7] ? io->in[7]->dtype : SHR_F32;
    shr_qparam yq = {1.0f, 0, SHR_F32};
    if (d->yt != SHR_F32) yq = shr_q_param_io(io, 6, 7);
    d->zy = yq.zero_point;
    d->qmin = (int)io->node->attrs.alpha;
    d->qmax = (int)io->node->attrs.eps;
    if ((d->yt == SHR_U8 || d->yt == SHR_I8) && shr_q_float_requant(io->node) &&
        !(d->rq = malloc((size_t)C * sizeof *d->rq)))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int ch = 0; ch < C && st == SHR_OK; ch++) {
        float s = shr_f32(ws)[ws->numel > 1 ? ch : 0];
        d->fscale[ch] = xq.scale * s;
        if (d->yt != SHR_F32) st = shr_quant_multiplier((double)xq.scale * s / yq.scale, &d->mult[ch], &d->shift[ch]);
        if (d->rq) d->rq[ch] = xq.scale * s / yq.scale; /* float32, as ONNX Runtime */
        if (d->rq && !isfinite(d->rq[ch]))
            st = shr_node_fail(SHR_ERR_FORMAT, io->node, "qconv2d", "requantization scale of channel %d is not finite", ch);
    }
    if (st != SHR_OK) {
        shr_qconv_dw_free(d);
        return st;
    }
    *out = d;
    return SHR_OK;
}

/* acc[c] += (x[c] - zx) * w[c] over one tap, for each code type. */
static void tap_u8(int32_t *acc, const uint8_t *x, const int32_t *w, int C, int zx) {
    for (int ch = 0; ch < C; ch++) acc[ch] += ((int32_t)x[ch] - zx) * w[ch];
}
static void tap_i8(int32_t *acc, const int8_t *x, const int32_t *w, int C, int zx) {
    for (int ch = 0; ch < C; ch++) acc[ch] += ((int32_t)x[ch] - zx) * w[ch];
}
static void tap_i16(int32_t *acc, const int16_t *x, const int32_t *w, int C) {
    for (int ch = 0; ch < C; ch++) acc[ch] += (int32_t)x[ch] * w[ch];
}

static void store(const shr_qconv_dw *d, const int32_t *acc, void *y, size_t at, int fused, float lo, float hi) {
    if (d->yt == SHR_F32) {
        float *yf = (float *)y + at;
        for (int ch = 0; ch < d->C; ch++) {
            float v = (float)acc[ch] * d->fscale[ch];
            yf[ch] = fused ? (v < lo ? lo : v > hi ? hi : v) : v;
        }
        return;
    }
    if (d->rq)
        for (int ch = 0; ch < d->C; ch++)
            shr_q_put(y, d->yt, at + (size_t)ch, shr_q_requant_f(acc[ch], d->rq[ch], d->zy, d->qmin, d->qmax));
    else
        for (int ch = 0; ch < d->C; ch++)
            shr_q_put(y, d->yt, at + (size_t)ch,
                      shr_requant(acc[ch], d->mult[ch], d->shift[ch], d->zy, d->qmin, d->qmax));
}

shr_status shr_qconv_dw_run(shr_qconv_dw *d, const shr_qconv_cfg *c, shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    int rows = (int)x->shape[0] * c->OH, C = c->C, parts = d->parts;
    size_t esz = shr_act_elem_size(d->xt);
    const unsigned char *xb = x->data;
    void *y = io->out->data;
    int fused = io->act_fused;
    float lo = io->act_lo, hi = io->act_hi;
    if (parts > rows) parts = rows;
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
    for (int t = 0; t < parts; t++) {
        int32_t *acc = d->acc + (size_t)t * C;
        for (int r = (int)((int64_t)rows * t / parts); r < (int)((int64_t)rows * (t + 1) / parts); r++) {
            int b = r / c->OH, oh = r % c->OH;
            for (int ow = 0; ow < c->OW; ow++) {
                memcpy(acc, d->bias, (size_t)C * sizeof *acc);
                for (int kh = 0; kh < c->KH; kh++) {
                    int ih = oh * c->SH - c->PT + kh * c->DH;
                    if (ih < 0 || ih >= c->H) continue;
                    for (int kw = 0; kw < c->KW; kw++) {
                        int iw = ow * c->SW - c->PL + kw * c->DW;
                        if (iw < 0 || iw >= c->W) continue;
                        const unsigned char *xp = xb + (((size_t)b * c->H + ih) * c->W + iw) * C * esz;
                        const int32_t *w = d->w + (size_t)(kh * c->KW + kw) * C;
                        if (d->xt == SHR_U8) tap_u8(acc, xp, w, C, d->zx);
                        else if (d->xt == SHR_I8) tap_i8(acc, (const int8_t *)xp, w, C, d->zx);
                        else tap_i16(acc, (const int16_t *)xp, w, C);
                    }
                }
                store(d, acc, y, ((size_t)r * c->OW + ow) * C, fused, lo, hi);
            }
        }
    }
    return SHR_OK;
}
