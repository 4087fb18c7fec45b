/* Pooling on channels-last codes (N, H, W, C) -> (N, OH, OW, C), same type, scale and zero point.
 *   qmaxpool2d: max over the in-bounds window (padding never wins), exact.
 *   qavgpool2d [x, scale, zero_point]: zp + round((sum of (q - zp) over the window) / divisor),
 *     ties away from zero; with float requantization (8-bit codes, shr_q_float_requant) ONNX
 *     Runtime's QLinearGlobalAveragePool instead: zp + round_half_even(sum * (scale / (scale *
 *     divisor))) in float32;
 *     divisor KH*KW with count_include_pad (padding is a real zero), else the in-bounds count.
 *     A kernel equal to the input plane is global average pooling.
 * Windows as maxpool2d / avgpool2d (kernel, stride, pad; pad < kernel). The channel loop is
 * innermost and contiguous. Threads split output rows. */
#include "core/cpu.h"
#include "nn/ops/ops_quant.h"
#include "nn/ops/qpool_rows.h"

static shr_status qpool_config(const shr_node *n, const char *op, const int64_t *xs, qpool_cfg *c) {
    const shr_attrs *a = &n->attrs;
    int SH = shr_attr_or1(a->stride[0]), SW = shr_attr_or1(a->stride[1]);
    if (a->kernel[0] <= 0 || a->kernel[1] <= 0 || SH < 1 || SW < 1)
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "kernel %dx%d and stride must be positive", a->kernel[0],
                             a->kernel[1]);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0 || a->pad[i] >= a->kernel[i & 1])
            return shr_node_fail(SHR_ERR_SHAPE, n, op, "padding must be >= 0 and smaller than the kernel");
    int64_t nh = xs[1] + a->pad[0] + a->pad[2] - a->kernel[0], nw = xs[2] + a->pad[1] + a->pad[3] - a->kernel[1];
    if (nh < 0 || nw < 0) return shr_node_fail(SHR_ERR_SHAPE, n, op, "kernel does not fit the input");
    if (!shr_fits_int(a->kernel[0], a->kernel[1], 1) || !shr_fits_int(xs[3], nh / SH + 1, nw / SW + 1) ||
        !shr_fits_int(xs[1], xs[2], xs[3]))
        return shr_node_fail(SHR_ERR_LIMIT, n, op, "sizes are too large");
    *c = (qpool_cfg){(int)xs[1], (int)xs[2], (int)xs[3], a->kernel[0], a->kernel[1], SH, SW, a->pad[0], a->pad[1],
                     (int)(nh / SH + 1), (int)(nw / SW + 1)};
    return SHR_OK;
}

static shr_status qpool_infer(const shr_graph *g, const shr_node *n, const char *op, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (x->ndim != 4 || !shr_dims_ok(4, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "input must be rank 4 (N, H, W, C) codes");
    if (!shr_q_is_code(shr_value_dtype(g, n->inputs[0])))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "input '%s' must be u8, i8 or i16 codes", x->name);
    qpool_cfg c;
    SHR_TRY(qpool_config(n, op, x->shape, &c));
    *ndim = 4;
    shape[0] = -1;
    shape[1] = c.OH;
    shape[2] = c.OW;
    shape[3] = c.C;
    return SHR_OK;
}

static const char *const MAXP = "qmaxpool2d", *const AVGP = "qavgpool2d";

static shr_status qmaxpool_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    return qpool_infer(g, n, MAXP, ndim, shape);
}

static shr_status qmaxpool_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    qpool_cfg c;
    SHR_TRY(qpool_config(io->node, MAXP, x->shape, &c));
    int rows = (int)x->shape[0] * c.OH;
    size_t esz = shr_act_elem_size(x->dtype), in_img = (size_t)c.H * c.W * c.C, out_row = (size_t)c.OW * c.C;
    const unsigned char *xb = x->data;
    unsigned char *yb = io->out->data;
    int avx2 = shr_cpu_has_avx2_fma();
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int r = 0; r < rows; r++) {
        const void *xi = xb + (size_t)(r / c.OH) * in_img * esz;
        void *yr = yb + (size_t)r * out_row * esz;
        int oh = r % c.OH;
        if (x->dtype == SHR_U8) (avx2 ? shr_qmax_row_u8_avx2 : shr_qmax_row_u8_ref)(&c, xi, yr, oh);
        else if (x->dtype == SHR_I8) (avx2 ? shr_qmax_row_i8_avx2 : shr_qmax_row_i8_ref)(&c, xi, yr, oh);
        else (avx2 ? shr_qmax_row_i16_avx2 : shr_qmax_row_i16_ref)(&c, xi, yr, oh);
    }
    return SHR_OK;
}

static int64_t qpool_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *x = shr_node_in(g, n, 0);
    qpool_cfg c;
    if (x->ndim != 4 || qpool_config(n, "pool", x->shape, &c) != SHR_OK) return 0;
    return (int64_t)c.C * c.OH * c.OW * c.KH * c.KW;
}

/* 8-bit codes (float requantization applies to them only). */
static inline int t8(shr_dtype t) { return t == SHR_U8 || t == SHR_I8; }

/* Rounded division, ties away from zero (d > 0). */
static inline int32_t div_round(int32_t s, int32_t d) { return s >= 0 ? (s + d / 2) / d : -((-s + d / 2) / d); }

static shr_status qavgpool_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    shr_qparam qp;
    SHR_TRY(shr_q_read_param(g, n, AVGP, 1, 2, &qp));
    SHR_TRY(shr_q_check_codes(g, n, AVGP, 0, &qp));
    SHR_TRY(qpool_infer(g, n, AVGP, ndim, shape));
    /* the int32 window sum: at most KH*KW codes of magnitude <= 65535 */
    if ((int64_t)n->attrs.kernel[0] * n->attrs.kernel[1] > 32767)
        return shr_node_fail(SHR_ERR_LIMIT, n, AVGP, "window of more than 32767 elements");
    return SHR_OK;
}

static shr_status qavgpool_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    qpool_cfg c;
    SHR_TRY(qpool_config(io->node, AVGP, x->shape, &c));
    int rows = (int)x->shape[0] * c.OH, inc = io->node->attrs.count_include_pad != 0;
    shr_qparam qp = shr_q_param_io(io, 1, 2);
    int lo, hi, zp = qp.zero_point, fl = shr_q_float_requant(io->node) && t8(x->dtype);
    shr_q_code_range(io->g, io->node->inputs[0], &lo, &hi);
    size_t in_img = (size_t)c.H * c.W * c.C;
    shr_dtype t = x->dtype;
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int r = 0; r < rows; r++) {
        int b = r / c.OH, oh = r % c.OH;
        for (int ow = 0; ow < c.OW; ow++) {
            int h0, h1, w0, w1;
            shr_qpool_window(&c, oh, ow, &h0, &h1, &w0, &w1);
            int32_t d = inc ? c.KH * c.KW : (h1 - h0) * (w1 - w0);
            size_t at = ((size_t)r * c.OW + ow) * c.C;
            float sc = qp.scale / (qp.scale * (float)d); /* ONNX Runtime's QLinearGlobalAveragePool */
            for (int ch = 0; ch < c.C; ch++) {
                int32_t s = 0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++)
                        s += shr_q_get(x->data, t, (size_t)b * in_img + ((size_t)h * c.W + w) * c.C + ch) - zp;
                if (fl) {
                    shr_q_put(io->out->data, t, at + ch, shr_q_requant_f(s, sc, zp, lo, hi));
                    continue;
                }
                int v = zp + div_round(s, d);
                shr_q_put(io->out->data, t, at + ch, v < lo ? lo : v > hi ? hi : v);
            }
        }
    }
    return SHR_OK;
}

const shr_op_def shr_op_qmaxpool2d = {
    .name = "qmaxpool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = qmaxpool_infer,
    .forward = qmaxpool_forward,
    .flops = qpool_flops,
};

const shr_op_def shr_op_qavgpool2d = {
    .name = "qavgpool2d",
    .min_inputs = 3,
    .max_inputs = 3,
    .infer = qavgpool_infer,
    .forward = qavgpool_forward,
    .flops = qpool_flops,
};

QPOOL_ROWS(ref)
