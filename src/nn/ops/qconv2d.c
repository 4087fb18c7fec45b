/* qconv2d: integer 2-D convolution on channels-last codes.
 *   x (N, H, W, C) codes, W (OC, KH, KW, C/G) i8|i16, conv attrs (stride, pad, dilation, groups)
 *   -> y (N, OH, OW, OC) codes (or f32 without y_scale / y_zp), arithmetic as qlinear with
 *   the padding read as x's zero point (a real zero).
 * General path: rows of patches ("im2row": row (n, oh, ow) holds x[n, ih, iw, c] for kh, kw, c
 * in the weight's order) times W^T through qgemm; a 1x1 / stride 1 / unpadded conv reads x
 * itself. Rows are cut into chunks whose patch buffer stays in L2; with several threads each
 * takes whole chunks (qgemm then runs single-threaded), else qgemm threads itself.
 * With AVX-512 VNNI, u8 codes in and codes out, one group: no patch rows at all (run_taps); qgemm
 * reads each patch from a padded copy of the input as KH * KW runs of C codes (C % 4 == 0) or
 * KH runs of KW * C codes rounded up to whole quads against zero-padded weights (first layers).
 * Depthwise (G == C == OC): a direct kernel (qconv2d_dw.c). Integer results do not depend on
 * the path, the split or the thread count. */
#ifdef _OPENMP
#include <omp.h>
#endif
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
    void *buf;        /* per part: patch rows, then s32 scratch (taps: row pointers) */
    size_t buf_cap;
    uint8_t *pad;     /* taps: the input with its padding written out */
    size_t pad_cap;
    shr_qlayer *wide; /* taps over whole kernel rows: KW * C codes padded to a multiple of 4 */
    int wide_run;
} qconv_state;

static void qconv_free_state(void *p) {
    qconv_state *s = p;
    if (!s) return;
    for (int g = 0; s->L && g < s->G; g++) shr_qlayer_free(s->L[g]);
    free(s->L);
    shr_qconv_dw_free(s->dw);
    shr_qlayer_free(s->wide);
    shr_free(s->buf);
    shr_free(s->pad);
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

/* A convolution whose kernel rows are not a whole number of 4-code quads (LeNet's and cnn's first
 * layers: KW * C = 3 or 5) can still read its patches in place: each kernel row becomes one tap
 * of KW * C codes rounded up to a multiple of 4, the extra codes (the next input pixels, all
 * valid codes) multiplied by zero weights. This packs those zero-padded weight rows. */
static shr_status wide_init(qconv_state *s, shr_op_io *io, const shr_qconv_cfg *c) {
    const shr_tensor *w = io->in[3];
    int run = c->KW * c->C, R4 = (run + 3) / 4 * 4, K4 = c->KH * R4;
    int64_t shape[2] = {c->OC, K4};
    shr_tensor *w4 = NULL, *in[8];
    SHR_TRY(shr_tensor_create(&w4, SHR_I8, 2, shape));
    for (int oc = 0; oc < c->OC; oc++)
        for (int kh = 0; kh < c->KH; kh++)
            for (int j = 0; j < run; j++) {
                int64_t src = ((int64_t)oc * c->KH + kh) * run + j;
                ((int8_t *)w4->data)[(int64_t)oc * K4 + kh * R4 + j] =
                    (int8_t)(w->dtype == SHR_I4 ? shr_i4_get(w->data, src) : ((const int8_t *)w->data)[src]);
            }
    for (int i = 0; i < 8; i++) in[i] = i < io->node->n_inputs ? io->in[i] : NULL;
    in[3] = w4;
    shr_op_io io2 = *io;
    io2.in = in;
    shr_status st = shr_qlayer_init(&s->wide, &io2, 0, c->OC, K4);
    shr_tensor_free(w4);
    if (st == SHR_OK && !shr_qlayer_taps_ok(s->wide, c->KH, R4)) {
        shr_qlayer_free(s->wide);
        s->wide = NULL;
    }
    s->wide_run = R4;
    return st;
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
        if (st == SHR_OK && c->G == 1 && c->DW == 1 && !c->pointwise && (c->KW * c->C) % 4 &&
            io->in[0]->dtype == SHR_U8 && io->in[3]->dtype != SHR_I16)
            st = wide_init(s, io, c);
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

/* Keeps the first error of the parallel parts; msg (256 bytes) is set again on the calling thread. */
static void keep_error(shr_status e, shr_status *st, char *msg) {
    if (e == SHR_OK) return;
#pragma omp critical(shr_qconv_err)
    if (*st == SHR_OK) {
        *st = e;
        snprintf(msg, 256, "%s", shr_last_error());
    }
}

static shr_status grow(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return SHR_OK;
    shr_free(*p);
    *cap = 0;
    if (!(*p = shr_alloc(need))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    *cap = need;
    return SHR_OK;
}

/* u8 / i8 codes in and out, one group, channels a multiple of 4, the VNNI kernel present: no
 * patch rows. The input is copied once with its padding (x's zero point) around each image,
 * (N, H + pt + pb, W + pl + pr, C); the patch of output pixel (n, oh, ow) is then KH * KW runs of
 * C codes at fixed offsets from its top-left input pixel, which qgemm reads in place
 * (shr_qgemm_taps). Same integers as the im2row path. */
static shr_status run_taps(qconv_state *s, const shr_qconv_cfg *c, shr_op_io *io, int wide) {
    const shr_tensor *x = io->in[0];
    const int *pad = io->node->attrs.pad, N = (int)x->shape[0], M = N * c->P;
    const long Hp = c->H + pad[0] + pad[2], Wp = c->W + pad[1] + pad[3], C = c->C, rowb = Wp * C;
    const size_t total = (size_t)N * Hp * rowb + 4; /* + the codes a wide tap reads past the last pixel */
    SHR_TRY(grow((void **)&s->pad, &s->pad_cap, total));
    const int zp = shr_q_param_io(io, 1, 2).zero_point;
    const uint8_t *src = x->data;
    for (long r = 0; r < N * Hp; r++) { /* padded row r of image r / Hp */
        uint8_t *d = s->pad + r * rowb;
        long ih = r % Hp - pad[0];
        if (ih < 0 || ih >= c->H) {
            memset(d, zp & 0xFF, (size_t)rowb);
            continue;
        }
        memset(d, zp & 0xFF, (size_t)(pad[1] * C));
        memcpy(d + pad[1] * C, src + ((r / Hp) * c->H + ih) * c->W * C, (size_t)(c->W * C));
        memset(d + (pad[1] + c->W) * C, zp & 0xFF, (size_t)(pad[3] * C));
    }
    memset(s->pad + total - 4, zp & 0xFF, 4);
    long tapoff[64];
    shr_qlayer *L = wide ? s->wide : s->L[0];
    const int ntaps = wide ? c->KH : c->KH * c->KW, run = wide ? s->wide_run : c->C;
    for (int t = 0; t < ntaps; t++) /* kernel rows, or (kh, kw) */
        tapoff[t] = wide ? (long)t * c->DH * rowb : ((long)(t / c->KW) * c->DH * Wp + (long)(t % c->KW) * c->DW) * C;
    int R = chunk_rows(c, 1), nchunks = (M + R - 1) / R, parts = shr_op_threads();
    if (parts > nchunks) parts = nchunks;
    SHR_TRY(grow(&s->buf, &s->buf_cap, (size_t)parts * R * sizeof(uint8_t *)));
    uint8_t *y = io->out->data;
    shr_status st = SHR_OK;
    char msg[256] = "";
    /* Chunks are handed out one at a time: a thread the OS has descheduled (a shared machine) does
     * not hold the others up. Each chunk's rows depend on nothing else, so the bits do not change. */
#pragma omp parallel num_threads(parts) if (parts > 1)
    {
#ifdef _OPENMP
        const uint8_t **rows = (const uint8_t **)s->buf + (size_t)omp_get_thread_num() * R;
#else
        const uint8_t **rows = (const uint8_t **)s->buf;
#endif
#pragma omp for schedule(dynamic, 1)
        for (int ch = 0; ch < nchunks; ch++) {
            int r0 = ch * R, r1 = r0 + R < M ? r0 + R : M;
            int b = r0 / c->P, oh = (r0 % c->P) / c->OW, ow = r0 % c->OW; /* then counted, not divided */
            for (int m = r0; m < r1; m++) {
                rows[m - r0] = s->pad + ((long)b * Hp + (long)oh * c->SH) * rowb + (long)ow * c->SW * C;
                if (++ow == c->OW) {
                    ow = 0;
                    if (++oh == c->OH) oh = 0, b++;
                }
            }
            shr_qtaps tp = {rows, tapoff, ntaps, run, rows[0], rows[r1 - r0 - 1] + tapoff[ntaps - 1] + run};
            keep_error(shr_qlayer_run_taps(L, r1 - r0, &tp, y + (size_t)r0 * c->OC, c->OC), &st, msg);
        }
    }
    return st == SHR_OK ? SHR_OK : shr_fail(st, "%s", msg);
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
                keep_error(shr_qlayer_run(s->L[g], r1 - r0, rows, c->K,
                                          y + ((size_t)r0 * c->OC + (size_t)g * c->OCg) * yesz, c->OC, fused, lo,
                                          hi, s32),
                           &st, msg);
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
    int taps = !c.depthwise && !c.pointwise && c.G == 1 && x->dtype != SHR_I16 && c.C % 4 == 0 &&
               c.KH * c.KW <= 64 && shr_qlayer_taps_ok(s->L[0], c.KH * c.KW, c.C);
    int wide = !taps && s->wide && x->dtype == SHR_U8 && c.KH <= 64; /* tapoff[64] */
    const int *pd = io->node->attrs.pad; /* the padded copy: at most 64 MiB, else patch rows */
    if ((double)x->shape[0] * (c.H + pd[0] + pd[2]) * (c.W + pd[1] + pd[3]) * c.C > 64.0 * 1024 * 1024) taps = wide = 0;
    shr_status st = c.depthwise ? shr_qconv_dw_run(s->dw, &c, io)
                    : taps || wide ? run_taps(s, &c, io, wide)
                                   : run_gemm(s, &c, io);
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
