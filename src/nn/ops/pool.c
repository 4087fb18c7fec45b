/* Pooling over NCHW planes: x (N, C, H, W) -> y (N, C, OH, OW),
 *   OH = (H + PT + PB - KH) / SH + 1   (same for OW), no dilation, floor mode.
 * maxpool2d: max over the window, padding never wins (PyTorch semantics; ties go to
 *   the first maximum in row-major window order, NaN propagates). Training forward
 *   stores the argmax (index within the H*W plane) for backward.
 * avgpool2d: mean over the window; the divisor is KH*KW with count_include_pad,
 *   else the number of in-bounds elements.
 * global_avgpool: mean over each plane -> (N, C, 1, 1).
 * Each pad must be smaller than the kernel, so every window touches the input.
 * All loops are parallel over independent (image, channel) planes. */
#include <math.h>
#include <stdlib.h>

#include "nn/ops/ops_util.h"

typedef struct pool_cfg {
    int C, H, W, KH, KW, SH, SW, PT, PL, OH, OW;
} pool_cfg;

static shr_status pool_config(const shr_node *n, const char *op, int xnd, const int64_t *xs, pool_cfg *c) {
    const shr_attrs *a = &n->attrs;
    if (xnd != 4 || !shr_dims_ok(4, xs, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "input must be rank 4 (N, C, H, W), got %s",
                             shr_shape_text_of(xnd, xs).s);
    if (!shr_fits_int(xs[1], xs[2], xs[3])) return shr_node_fail(SHR_ERR_LIMIT, n, op, "per-sample size is too large");
    if (a->kernel[0] <= 0 || a->kernel[1] <= 0)
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "kernel %dx%d must be positive", a->kernel[0], a->kernel[1]);
    int SH = shr_attr_or1(a->stride[0]), SW = shr_attr_or1(a->stride[1]);
    if (SH < 0 || SW < 0) return shr_node_fail(SHR_ERR_SHAPE, n, op, "stride %dx%d must be positive", SH, SW);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0 || a->pad[i] >= a->kernel[i & 1])
            return shr_node_fail(SHR_ERR_SHAPE, n, op,
                                 "padding [%d, %d, %d, %d] must be >= 0 and smaller than kernel %dx%d", a->pad[0],
                                 a->pad[1], a->pad[2], a->pad[3], a->kernel[0], a->kernel[1]);
    int64_t nh = xs[2] + a->pad[0] + a->pad[2] - a->kernel[0], nw = xs[3] + a->pad[1] + a->pad[3] - a->kernel[1];
    if (nh < 0 || nw < 0)
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "kernel %dx%d does not fit input %lldx%lld with padding [%d, %d, %d, %d]",
                             a->kernel[0], a->kernel[1], (long long)xs[2], (long long)xs[3], a->pad[0], a->pad[1],
                             a->pad[2], a->pad[3]);
    /* The avgpool divisor KH*KW and the output plane are ints; a huge padded
     * window over a tiny input would otherwise overflow them. */
    if (!shr_fits_int(a->kernel[0], a->kernel[1], 1) || !shr_fits_int(xs[1], nh / SH + 1, nw / SW + 1))
        return shr_node_fail(SHR_ERR_LIMIT, n, op, "kernel %dx%d or the output per sample is too large", a->kernel[0],
                             a->kernel[1]);
    c->C = (int)xs[1];
    c->H = (int)xs[2];
    c->W = (int)xs[3];
    c->KH = a->kernel[0];
    c->KW = a->kernel[1];
    c->SH = SH;
    c->SW = SW;
    c->PT = a->pad[0];
    c->PL = a->pad[1];
    c->OH = (int)(nh / SH + 1);
    c->OW = (int)(nw / SW + 1);
    return SHR_OK;
}

static shr_status pool_infer_common(const shr_graph *g, const shr_node *n, const char *op, int *ndim,
                                    int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    pool_cfg c;
    SHR_TRY(pool_config(n, op, x->ndim, x->shape, &c));
    *ndim = 4;
    shape[0] = -1;
    shape[1] = c.C;
    shape[2] = c.OH;
    shape[3] = c.OW;
    return SHR_OK;
}

static int64_t pool_flops_common(const shr_graph *g, const shr_node *n, const char *op) {
    /* One compare or add per window element. */
    const shr_value *x = shr_node_in(g, n, 0);
    pool_cfg c;
    if (pool_config(n, op, x->ndim, x->shape, &c) != SHR_OK) return 0;
    return (int64_t)c.C * c.OH * c.OW * c.KH * c.KW;
}

/* The in-bounds window [*h0, *h1) x [*w0, *w1) of output (oh, ow). */
static void pool_window(const pool_cfg *c, int oh, int ow, int *h0, int *h1, int *w0, int *w1) {
    int ih = oh * c->SH - c->PT, iw = ow * c->SW - c->PL;
    *h0 = ih < 0 ? 0 : ih;
    *h1 = ih + c->KH > c->H ? c->H : ih + c->KH;
    *w0 = iw < 0 ? 0 : iw;
    *w1 = iw + c->KW > c->W ? c->W : iw + c->KW;
}

/* ---- maxpool2d ---- */

static const char *const MAXP = "maxpool2d";

typedef struct maxpool_state {
    int32_t *arg; /* (N, C, OH, OW) argmax within each input plane */
    size_t cap;
    size_t count; /* elements valid in arg; 0 after an eval-mode forward */
} maxpool_state;

static void maxpool_free_state(void *p) {
    maxpool_state *s = p;
    if (!s) return;
    free(s->arg);
    free(s);
}

/* The plane kernels run tap by tap over a whole output row: the outputs of a row are
 * independent, so the loops vectorize (omp simd: -O2 alone does not) into max /
 * compare-and-mask code with no data-dependent branch ("v > best" is a coin flip on
 * real data; a window-at-a-time loop with branches was several times slower). Planes
 * holding a NaN take a scalar path that lets the NaN win. */

static int plane_has_nan(const float *x, size_t n) {
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (size_t i = 0; i < n; i++) bad |= x[i] != x[i];
    return bad;
}

/* y (OH, OW) = max over each window of x (H, W). With nan_ok == 0 the plane must hold
 * no NaN (a plain max is then exact); otherwise a NaN anywhere in a window wins. */
static void maxpool_plane_max(const pool_cfg *c, const float *x, float *y, int nan_ok) {
    const int W = c->W, OW = c->OW, SW = c->SW;
    for (int oh = 0; oh < c->OH; oh++) {
        float *yr = y + (size_t)oh * OW;
        int ih0 = oh * c->SH - c->PT, h0 = ih0 < 0 ? 0 : ih0, h1 = ih0 + c->KH > c->H ? c->H : ih0 + c->KH;
        for (int ow = 0; ow < OW; ow++) yr[ow] = -INFINITY;
        for (int ih = h0; ih < h1; ih++) {
            const float *xr = x + (size_t)ih * W;
            for (int kw = 0; kw < c->KW; kw++) {
                int off = kw - c->PL, ow0, ow1;
                shr_win_range(W, SW, off, OW, &ow0, &ow1);
                if (!nan_ok) {
#pragma omp simd
                    for (int ow = ow0; ow < ow1; ow++) {
                        float v = xr[ow * SW + off];
                        yr[ow] = v > yr[ow] ? v : yr[ow];
                    }
                } else {
                    for (int ow = ow0; ow < ow1; ow++) {
                        float v = xr[ow * SW + off];
                        if (v != v || v > yr[ow]) yr[ow] = v;
                    }
                }
            }
        }
    }
}

/* arg (OH, OW) = plane index of the first element (row-major window order) equal to
 * the window max y, or of the first NaN when y is NaN. Taps run in reverse, so the
 * last match written is the first in window order. */
static void maxpool_plane_arg(const pool_cfg *c, const float *x, const float *y, int32_t *arg, int nan_ok) {
    const int W = c->W, OW = c->OW, SW = c->SW;
    for (int oh = 0; oh < c->OH; oh++) {
        const float *yr = y + (size_t)oh * OW;
        int32_t *ar = arg + (size_t)oh * OW;
        int ih0 = oh * c->SH - c->PT, h0 = ih0 < 0 ? 0 : ih0, h1 = ih0 + c->KH > c->H ? c->H : ih0 + c->KH;
        for (int ow = 0; ow < OW; ow++) ar[ow] = h0 * W;
        for (int ih = h1 - 1; ih >= h0; ih--) {
            const float *xr = x + (size_t)ih * W;
            for (int kw = c->KW - 1; kw >= 0; kw--) {
                int off = kw - c->PL, ow0, ow1;
                shr_win_range(W, SW, off, OW, &ow0, &ow1);
                if (!nan_ok) {
#pragma omp simd
                    for (int ow = ow0; ow < ow1; ow++) {
                        int iw = ow * SW + off;
                        ar[ow] = xr[iw] == yr[ow] ? ih * W + iw : ar[ow];
                    }
                } else {
                    for (int ow = ow0; ow < ow1; ow++) {
                        int iw = ow * SW + off;
                        float v = xr[iw], m = yr[ow];
                        if (v == m || (v != v && m != m)) ar[ow] = ih * W + iw;
                    }
                }
            }
        }
    }
}

/* The common 2x2 window, stride 2, no padding, no NaN in the plane: max and argmax in
 * one vectorized pass (same first-maximum rule: only a strictly greater value wins). */
static int maxpool_is_2x2s2(const pool_cfg *c) {
    return c->KH == 2 && c->KW == 2 && c->SH == 2 && c->SW == 2 && c->PT == 0 && c->PL == 0;
}

static void maxpool_plane_2x2s2(const pool_cfg *c, const float *x, float *y, int32_t *arg) {
    const int W = c->W, OW = c->OW;
    for (int oh = 0; oh < c->OH; oh++) {
        const float *r0 = x + (size_t)(2 * oh) * W, *r1 = r0 + W;
        float *yr = y + (size_t)oh * OW;
        int32_t *ar = arg ? arg + (size_t)oh * OW : NULL;
        int base = 2 * oh * W;
        if (!ar) {
#pragma omp simd
            for (int ow = 0; ow < OW; ow++) {
                float m = r0[2 * ow], v;
                v = r0[2 * ow + 1];
                m = v > m ? v : m;
                v = r1[2 * ow];
                m = v > m ? v : m;
                v = r1[2 * ow + 1];
                yr[ow] = v > m ? v : m;
            }
            continue;
        }
#pragma omp simd
        for (int ow = 0; ow < OW; ow++) {
            float m = r0[2 * ow], v;
            int i = base + 2 * ow;
            v = r0[2 * ow + 1];
            i = v > m ? base + 2 * ow + 1 : i;
            m = v > m ? v : m;
            v = r1[2 * ow];
            i = v > m ? base + W + 2 * ow : i;
            m = v > m ? v : m;
            v = r1[2 * ow + 1];
            i = v > m ? base + W + 2 * ow + 1 : i;
            yr[ow] = v > m ? v : m;
            ar[ow] = i;
        }
    }
}

/* Max pooling of `planes` (H, W) planes into (OH, OW) planes; the argmax too when arg != NULL. */
static void maxpool_planes(const pool_cfg *c, const float *x, float *y, int32_t *arg, int64_t planes) {
    size_t P = (size_t)c->OH * c->OW, HW = (size_t)c->H * c->W;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *xq = x + (size_t)q * HW;
        float *yq = y + (size_t)q * P;
        int32_t *aq = arg ? arg + (size_t)q * P : NULL;
        int nan = plane_has_nan(xq, HW);
        if (!nan && maxpool_is_2x2s2(c)) {
            maxpool_plane_2x2s2(c, xq, yq, aq);
            continue;
        }
        maxpool_plane_max(c, xq, yq, nan);
        if (aq) maxpool_plane_arg(c, xq, yq, aq, nan);
    }
}

static shr_status maxpool_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    return pool_infer_common(g, n, MAXP, ndim, shape);
}

static shr_status maxpool_forward(shr_op_io *io) {
    pool_cfg c;
    const shr_tensor *xt = io->in[0];
    SHR_TRY(pool_config(io->node, MAXP, xt->ndim, xt->shape, &c));
    int64_t planes = xt->shape[0] * c.C;
    size_t P = (size_t)c.OH * c.OW, count = (size_t)planes * P;
    maxpool_state *st = io->state ? *io->state : NULL;
    int32_t *arg = NULL;
    if (io->training && io->state) {
        if (!st) {
            st = calloc(1, sizeof *st);
            if (!st) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating maxpool state");
            *io->state = st;
        }
        if (st->cap < count) {
            free(st->arg);
            st->cap = 0;
            st->arg = malloc((count ? count : 1) * sizeof *st->arg);
            if (!st->arg) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating maxpool argmax");
            st->cap = count;
        }
        arg = st->arg;
    }
    if (st) st->count = arg ? count : 0;
    const float *x = shr_f32(xt);
    float *y = shr_f32(io->out);
    maxpool_planes(&c, x, y, arg, planes);
    return SHR_OK;
}

static shr_status maxpool_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    pool_cfg c;
    const shr_tensor *xt = io->in[0];
    SHR_TRY(pool_config(io->node, MAXP, xt->ndim, xt->shape, &c));
    int64_t planes = xt->shape[0] * c.C;
    size_t P = (size_t)c.OH * c.OW, HW = (size_t)c.H * c.W, count = (size_t)planes * P;
    const maxpool_state *st = io->state ? *io->state : NULL;
    const float *x = shr_f32(xt), *dy = shr_f32(dout);
    float *dx = shr_f32(din[0]);
    /* Without a cached argmax (eval-mode forward), find it again from x. */
    int32_t *tmp = NULL;
    const int32_t *arg = (st && st->count == count) ? st->arg : NULL;
    if (!arg) {
        float *ytmp = malloc((count ? count : 1) * sizeof *ytmp);
        tmp = malloc((count ? count : 1) * sizeof *tmp);
        if (!tmp || !ytmp) {
            free(tmp);
            free(ytmp);
            return shr_fail(SHR_ERR_NOMEM, "out of memory in maxpool backward");
        }
        maxpool_planes(&c, x, ytmp, tmp, planes);
        free(ytmp);
        arg = tmp;
    }
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const int32_t *a = arg + (size_t)q * P;
        const float *g = dy + (size_t)q * P;
        float *d = dx + (size_t)q * HW;
        for (size_t o = 0; o < P; o++) d[a[o]] += g[o];
    }
    free(tmp);
    return SHR_OK;
}

static int64_t maxpool_flops(const shr_graph *g, const shr_node *n) { return pool_flops_common(g, n, MAXP); }

const shr_op_def shr_op_maxpool2d = {
    .name = "maxpool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = maxpool_infer,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .flops = maxpool_flops,
    .free_state = maxpool_free_state,
};

/* ---- avgpool2d ---- */

static const char *const AVGP = "avgpool2d";

static shr_status avgpool_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    return pool_infer_common(g, n, AVGP, ndim, shape);
}

static float avgpool_div(const pool_cfg *c, int include_pad, int h0, int h1, int w0, int w1) {
    return include_pad ? (float)(c->KH * c->KW) : (float)((h1 - h0) * (w1 - w0));
}

static shr_status avgpool_forward(shr_op_io *io) {
    pool_cfg c;
    const shr_tensor *xt = io->in[0];
    SHR_TRY(pool_config(io->node, AVGP, xt->ndim, xt->shape, &c));
    int64_t planes = xt->shape[0] * c.C;
    size_t P = (size_t)c.OH * c.OW, HW = (size_t)c.H * c.W;
    int inc = io->node->attrs.count_include_pad != 0;
    const float *x = shr_f32(xt);
    float *y = shr_f32(io->out);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + (size_t)q * HW;
        float *yp = y + (size_t)q * P;
        for (int oh = 0; oh < c.OH; oh++)
            for (int ow = 0; ow < c.OW; ow++) {
                int h0, h1, w0, w1;
                pool_window(&c, oh, ow, &h0, &h1, &w0, &w1);
                float s = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) s += xp[ih * c.W + iw];
                yp[oh * c.OW + ow] = s / avgpool_div(&c, inc, h0, h1, w0, w1);
            }
    }
    return SHR_OK;
}

static shr_status avgpool_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    pool_cfg c;
    const shr_tensor *xt = io->in[0];
    SHR_TRY(pool_config(io->node, AVGP, xt->ndim, xt->shape, &c));
    int64_t planes = xt->shape[0] * c.C;
    size_t P = (size_t)c.OH * c.OW, HW = (size_t)c.H * c.W;
    int inc = io->node->attrs.count_include_pad != 0;
    const float *dy = shr_f32(dout);
    float *dx = shr_f32(din[0]);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *gp = dy + (size_t)q * P;
        float *dp = dx + (size_t)q * HW;
        for (int oh = 0; oh < c.OH; oh++)
            for (int ow = 0; ow < c.OW; ow++) {
                int h0, h1, w0, w1;
                pool_window(&c, oh, ow, &h0, &h1, &w0, &w1);
                float v = gp[oh * c.OW + ow] / avgpool_div(&c, inc, h0, h1, w0, w1);
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) dp[ih * c.W + iw] += v;
            }
    }
    return SHR_OK;
}

static int64_t avgpool_flops(const shr_graph *g, const shr_node *n) { return pool_flops_common(g, n, AVGP); }

const shr_op_def shr_op_avgpool2d = {
    .name = "avgpool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = avgpool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .flops = avgpool_flops,
    .free_state = NULL,
};

/* ---- global_avgpool ---- */

static const char *const GAP = "global_avgpool";

static shr_status gap_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (x->ndim != 4 || !shr_dims_ok(4, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, GAP, "input must be rank 4 (N, C, H, W), got %s",
                             shr_shape_text_of(x->ndim, x->shape).s);
    *ndim = 4;
    shape[0] = -1;
    shape[1] = x->shape[1];
    shape[2] = shape[3] = 1;
    return SHR_OK;
}

static shr_status gap_forward(shr_op_io *io) {
    const shr_tensor *xt = io->in[0];
    int64_t planes = xt->shape[0] * xt->shape[1];
    size_t HW = (size_t)(xt->shape[2] * xt->shape[3]);
    const float *x = shr_f32(xt);
    float *y = shr_f32(io->out);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + (size_t)q * HW;
        double s = 0.0;
        for (size_t i = 0; i < HW; i++) s += xp[i];
        y[q] = (float)(s / (double)HW);
    }
    return SHR_OK;
}

static shr_status gap_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    const shr_tensor *xt = io->in[0];
    int64_t planes = xt->shape[0] * xt->shape[1];
    size_t HW = (size_t)(xt->shape[2] * xt->shape[3]);
    const float *dy = shr_f32(dout);
    float *dx = shr_f32(din[0]);
    float inv = 1.0f / (float)HW;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        float v = dy[q] * inv, *dp = dx + (size_t)q * HW;
        for (size_t i = 0; i < HW; i++) dp[i] += v;
    }
    return SHR_OK;
}

static int64_t gap_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *x = shr_node_in(g, n, 0);
    return x->ndim == 4 ? x->shape[1] * x->shape[2] * x->shape[3] : 0;
}

const shr_op_def shr_op_global_avgpool = {
    .name = "global_avgpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = gap_infer,
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
    .free_state = NULL,
};
