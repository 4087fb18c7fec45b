/* qconv2d: integer 2-D convolution on channels-last codes.
 *   x (N, H, W, C) codes, W (OC, KH, KW, C/G) i8|i16, conv attrs (stride, pad, dilation, groups)
 *   -> y (N, OH, OW, OC) codes (or f32 without y_scale / y_zp), arithmetic as qlinear with
 *   the padding read as x's zero point (a real zero).
 * General path: rows of patches ("im2row": row (n, oh, ow) holds x[n, ih, iw, c] for kh, kw, c
 * in the weight's order) times W^T through qgemm; a 1x1 / stride 1 / unpadded conv reads x
 * itself. Rows are cut into chunks whose patch buffer stays in L2; with several threads each
 * takes whole chunks (qgemm then runs single-threaded), else qgemm threads itself.
 * Depthwise (G == C == OC): a direct kernel (qconv2d_dw.c). Integer results do not depend on
 * the split or the thread count. */
#include <stdlib.h>

#include "nn/ops/ops_quant.h"
#include "nn/ops/qconv.h"
#include "nn/ops/qlayer.h"

static const char *const OP = "qconv2d";

shr_status shr_qconv_config(const shr_node *n, const int64_t *xs, int wnd, const int64_t *ws, shr_qconv_cfg *c) {
    const shr_attrs *a = &n->attrs;
    if (wnd != 4 || !shr_dims_ok(4, ws, 0))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight must be rank 4 (OC, KH, KW, C/groups)");
    int SH = shr_attr_or1(a->stride[0]), SW = shr_attr_or1(a->stride[1]);
    int DH = shr_attr_or1(a->dilation[0]), DW = shr_attr_or1(a->dilation[1]), G = shr_attr_or1(a->groups);
    if (a->kernel[0] != ws[1] || a->kernel[1] != ws[2] || SH < 1 || SW < 1 || DH < 1 || DW < 1 || G < 1)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "kernel %dx%d, stride, dilation or groups do not fit weight %s",
                             a->kernel[0], a->kernel[1], shr_shape_text_of(4, ws).s);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "negative padding");
    int64_t H = xs[1], W = xs[2], C = xs[3], OC = ws[0];
    if (C % G || OC % G || ws[3] * G != C)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight %s does not match %lld input channels in %d groups",
                             shr_shape_text_of(4, ws).s, (long long)C, G);
    int64_t nh = H + a->pad[0] + a->pad[2] - (int64_t)DH * (ws[1] - 1) - 1;
    int64_t nw = W + a->pad[1] + a->pad[3] - (int64_t)DW * (ws[2] - 1) - 1;
    if (nh < 0 || nw < 0) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "output would be empty");
    int64_t OH = nh / SH + 1, OW = nw / SW + 1;
    if (!shr_fits_int(ws[1], ws[2], ws[3]) || !shr_fits_int(OH, OW, OC) || !shr_fits_int(H, W, C) ||
        !shr_fits_int(ws[1] * ws[2] * ws[3], OH, OW))
        return shr_node_fail(SHR_ERR_LIMIT, n, OP, "per-sample sizes are too large");
    *c = (shr_qconv_cfg){.C = (int)C, .H = (int)H, .W = (int)W, .OC = (int)OC, .KH = (int)ws[1], .KW = (int)ws[2],
                         .SH = SH, .SW = SW, .PT = a->pad[0], .PL = a->pad[1], .DH = DH, .DW = DW, .G = G,
                         .Cg = (int)C / G, .OCg = (int)OC / G, .OH = (int)OH, .OW = (int)OW};
    c->K = c->KH * c->KW * c->Cg;
    c->P = c->OH * c->OW;
    c->pointwise = c->KH == 1 && c->KW == 1 && SH == 1 && SW == 1 && G == 1 && a->pad[0] == 0 && a->pad[1] == 0 &&
                   a->pad[2] == 0 && a->pad[3] == 0;
    c->depthwise = G > 1 && G == C && G == OC;
    return SHR_OK;
}

static shr_status qconv_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 3);
    if (x->ndim != 4 || !shr_dims_ok(4, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input must be rank 4 (N, H, W, C)");
    shr_qconv_cfg c;
    SHR_TRY(shr_qconv_config(n, x->shape, w->ndim, w->shape, &c));
    SHR_TRY(shr_qlayer_check(g, n, OP, c.OC, c.K));
    *ndim = 4;
    shape[0] = -1;
    shape[1] = c.OH;
    shape[2] = c.OW;
    shape[3] = c.OC;
    return SHR_OK;
}

/* ---- general path ---- */

typedef struct qconv_state {
    shr_qlayer **L;   /* one per group */
    int G;
    shr_qconv_dw *dw; /* depthwise */
    void *buf;        /* per part: patch rows, then s32 scratch */
    size_t buf_cap;
} qconv_state;

static void qconv_free_state(void *p) {
    qconv_state *s = p;
    if (!s) return;
    for (int g = 0; s->L && g < s->G; g++) shr_qlayer_free(s->L[g]);
    free(s->L);
    shr_qconv_dw_free(s->dw);
    shr_free(s->buf);
    free(s);
}

static void fill_zp(void *dst, size_t n, int esz, int zp) {
    if (esz == 1) memset(dst, zp & 0xFF, n);
    else memset(dst, 0, n * 2); /* i16 codes have zero point 0 */
}

/* Patch pieces are often a few bytes (one input channel: KW bytes); a call to memcpy per piece
 * would cost more than the copy. Fixed-size memcpy compiles to plain moves (a byte loop would
 * be turned back into a memcpy call). */
static inline void copy_bytes(unsigned char *restrict dst, const unsigned char *restrict src, size_t n) {
    if (n > 64) {
        memcpy(dst, src, n);
        return;
    }
    for (; n >= 8; n -= 8, dst += 8, src += 8) memcpy(dst, src, 8);
    if (n >= 4) memcpy(dst, src, 4), n -= 4, dst += 4, src += 4;
    if (n >= 2) memcpy(dst, src, 2), n -= 2, dst += 2, src += 2;
    if (n) *dst = *src;
}

/* Patch rows r0..r1 of group g into buf (row length K elements of esz bytes). Rows are walked
 * one output row (image, oh) at a time so that per kernel row the input line and its bounds are
 * found once; a pixel whose KW taps are all inside copies them in one piece. */
static void im2row(const shr_qconv_cfg *c, const unsigned char *x, int esz, int zp, int g, int r0, int r1,
                   unsigned char *buf) {
    size_t rowb = (size_t)c->K * esz, cg = (size_t)c->Cg * esz, pix = (size_t)c->C * esz;
    size_t img_bytes = (size_t)c->H * c->W * pix, kwb = (size_t)c->KW * cg;
    int contiguous = c->G == 1 && c->DW == 1;
    for (int r = r0; r < r1;) {
        int b = r / c->P, oh = (r % c->P) / c->OW, ow0 = r % c->OW;
        int ow1 = c->OW - ow0 < r1 - r ? c->OW : ow0 + (r1 - r); /* this output row's part of the chunk */
        const unsigned char *img = x + (size_t)b * img_bytes + (size_t)g * cg;
        unsigned char *row0 = buf + (size_t)(r - r0) * rowb;
        for (int kh = 0; kh < c->KH; kh++) {
            int ih = oh * c->SH - c->PT + kh * c->DH;
            unsigned char *dst = row0 + (size_t)kh * kwb;
            if (ih < 0 || ih >= c->H) {
                for (int ow = ow0; ow < ow1; ow++, dst += rowb) fill_zp(dst, (size_t)c->KW * c->Cg, esz, zp);
                continue;
            }
            const unsigned char *line = img + (size_t)ih * c->W * pix;
            for (int ow = ow0; ow < ow1; ow++, dst += rowb) {
                int iw0 = ow * c->SW - c->PL;
                if (contiguous && iw0 >= 0 && iw0 + c->KW <= c->W) {
                    copy_bytes(dst, line + (size_t)iw0 * pix, kwb);
                    continue;
                }
                for (int kw = 0; kw < c->KW; kw++) {
                    int iw = iw0 + kw * c->DW;
                    if (iw < 0 || iw >= c->W) fill_zp(dst + (size_t)kw * cg, (size_t)c->Cg, esz, zp);
                    else copy_bytes(dst + (size_t)kw * cg, line + (size_t)iw * pix, cg);
                }
            }
        }
        r += ow1 - ow0;
    }
}

static shr_status qconv_init(shr_op_io *io, const shr_qconv_cfg *c, qconv_state **out) {
    qconv_state *s = calloc(1, sizeof *s);
    if (!s) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st = SHR_OK;
    if (c->depthwise) {
        st = shr_qconv_dw_init(&s->dw, io, c);
    } else {
        s->G = c->G;
        s->L = calloc((size_t)c->G, sizeof *s->L);
        if (!s->L) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (int g = 0; st == SHR_OK && g < c->G; g++) st = shr_qlayer_init(&s->L[g], io, g * c->OCg, c->OCg, c->K);
    }
    if (st != SHR_OK) {
        qconv_free_state(s);
        return st;
    }
    *out = s;
    return SHR_OK;
}

/* Patch rows per chunk: about 128 KiB of them (stays in L2 next to the packed weights). */
static int chunk_rows(const shr_qconv_cfg *c, int esz) {
    int r = 131072 / (c->K * esz);
    return r < 24 ? 24 : r / 6 * 6;
}

static shr_status run_gemm(qconv_state *s, const shr_qconv_cfg *c, shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    int M = (int)x->shape[0] * c->P;
    shr_dtype yt = s->L[0]->yt;
    int xesz = x->dtype == SHR_I16 ? 2 : 1, yesz = (int)shr_act_elem_size(yt);
    unsigned char *y = io->out->data;
    int fused = io->act_fused;
    float lo = io->act_lo, hi = io->act_hi;
    if (c->pointwise)
        return shr_qlayer_run(s->L[0], M, x->data, c->C, y, c->OC, fused, lo, hi, NULL);
    int zp = shr_q_param_io(io, 1, 2).zero_point;
    int R = chunk_rows(c, xesz), nchunks = (M + R - 1) / R, parts = shr_op_threads();
    if (parts > nchunks) parts = nchunks;
    size_t per = (size_t)R * c->K * xesz + (yt == SHR_I16 ? (size_t)R * c->OCg * 4 : 0);
    per = (per + 63) / 64 * 64;
    if ((size_t)parts * per > s->buf_cap) {
        shr_free(s->buf);
        s->buf_cap = 0;
        if (!(s->buf = shr_alloc((size_t)parts * per))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        s->buf_cap = (size_t)parts * per;
    }
    shr_status st = SHR_OK;
    char msg[256] = ""; /* a worker's message, set again on this thread */
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
    for (int t = 0; t < parts; t++) {
        unsigned char *rows = (unsigned char *)s->buf + (size_t)t * per;
        int32_t *s32 = yt == SHR_I16 ? (int32_t *)(rows + (size_t)R * c->K * xesz) : NULL;
        for (int ch = (int)((int64_t)nchunks * t / parts); ch < (int)((int64_t)nchunks * (t + 1) / parts); ch++) {
            int r0 = ch * R, r1 = r0 + R < M ? r0 + R : M;
            for (int g = 0; g < c->G; g++) {
                im2row(c, x->data, xesz, zp, g, r0, r1, rows);
                shr_status e = shr_qlayer_run(s->L[g], r1 - r0, rows, c->K,
                                              y + ((size_t)r0 * c->OC + (size_t)g * c->OCg) * yesz, c->OC, fused, lo,
                                              hi, s32);
                if (e != SHR_OK) {
#pragma omp critical(shr_qconv_err)
                    if (st == SHR_OK) {
                        st = e;
                        snprintf(msg, sizeof msg, "%s", shr_last_error());
                    }
                }
            }
        }
    }
    return st == SHR_OK ? SHR_OK : shr_fail(st, "%s", msg);
}

static shr_status qconv_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[3];
    shr_qconv_cfg c;
    SHR_TRY(shr_qconv_config(io->node, x->shape, w->ndim, w->shape, &c));
    qconv_state *s = io->state ? *io->state : NULL;
    if (!s) {
        SHR_TRY(qconv_init(io, &c, &s));
        if (io->state) *io->state = s;
    }
    shr_status st = c.depthwise ? shr_qconv_dw_run(s->dw, &c, io) : run_gemm(s, &c, io);
    if (!io->state) qconv_free_state(s);
    return st;
}

static int64_t qconv_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 3);
    shr_qconv_cfg c;
    if (shr_qconv_config(n, x->shape, w->ndim, w->shape, &c) != SHR_OK) return 0;
    return 2 * (int64_t)c.OC * c.P * c.K;
}

const shr_op_def shr_op_qconv2d = {
    .name = "qconv2d",
    .min_inputs = 5,
    .max_inputs = 8,
    .infer = qconv_infer,
    .forward = qconv_forward,
    .flops = qconv_flops,
    .free_state = qconv_free_state,
};
