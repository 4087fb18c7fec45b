/* quantize: f32 -> codes, dequantize: codes -> f32 (the edges of an integer region).
 *   quantize    [x f32, scale, zero_point]  q = clamp(round_half_even(x / scale) + zp, alpha, eps)
 *   dequantize  [q codes, scale, zero_point] x = scale * (q - zp)
 * Either may move the channel axis of a rank-4 tensor, given as a TRANSPOSE permutation in
 * attrs.ndim / attrs.shape: quantize (0, 2, 3, 1) writes NCHW floats as NHWC codes,
 * dequantize (0, 3, 1, 2) the reverse. Not differentiable (QAT uses fake_quant). */
#include "nn/ops/ops_quant.h"

static const char *const QOP = "quantize", *const DQOP = "dequantize";

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

/* 0: no permutation, 1: the one this op allows; fails on anything else. */
static shr_status layout_perm(const shr_node *n, const char *op, const int64_t *want, int xnd, int *perm) {
    const shr_attrs *a = &n->attrs;
    if (a->ndim == 0) {
        *perm = 0;
        return SHR_OK;
    }
    if (a->ndim != 4 || memcmp(a->shape, want, sizeof TO_NHWC) != 0 || xnd != 4)
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "only the permutation (%lld, %lld, %lld, %lld) of a rank-4 tensor "
                             "is supported", (long long)want[0], (long long)want[1], (long long)want[2],
                             (long long)want[3]);
    *perm = 1;
    return SHR_OK;
}

static void permute_shape(int ndim, const int64_t *in, const int64_t *perm, int64_t *out) {
    for (int d = 0; d < ndim; d++) out[d] = in[perm[d]];
}

static shr_status quantize_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    shr_qparam qp;
    int perm, lo, hi;
    SHR_TRY(shr_q_read_param(g, n, QOP, 1, 2, &qp));
    if (shr_value_dtype(g, n->inputs[0]) != SHR_F32)
        return shr_node_fail(SHR_ERR_FORMAT, n, QOP, "input '%s' must be f32", x->name);
    if (!shr_dims_ok(x->ndim, x->shape, 1)) return shr_node_fail(SHR_ERR_SHAPE, n, QOP, "bad input shape");
    SHR_TRY(shr_q_check_clamp(n, QOP, qp.type, &lo, &hi));
    SHR_TRY(layout_perm(n, QOP, TO_NHWC, x->ndim, &perm));
    *ndim = x->ndim;
    if (perm) permute_shape(4, x->shape, TO_NHWC, shape);
    else memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    return SHR_OK;
}

static shr_status quantize_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    shr_qparam qp = shr_q_param_io(io, 1, 2);
    int lo = (int)io->node->attrs.alpha, hi = (int)io->node->attrs.eps;
    const float *xp = shr_f32(x);
    void *y = io->out->data;
    if (io->node->attrs.ndim == 0) {
        for (int64_t i = 0; i < x->numel; i++)
            shr_q_put(y, qp.type, (size_t)i, shr_q_quantize1(xp[i], qp.scale, qp.zero_point, lo, hi));
        return SHR_OK;
    }
    int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++) {
            const float *src = xp + (b * C + c) * HW;
            size_t dst = (size_t)(b * HW * C + c);
            for (int64_t i = 0; i < HW; i++)
                shr_q_put(y, qp.type, dst + (size_t)(i * C), shr_q_quantize1(src[i], qp.scale, qp.zero_point, lo, hi));
        }
    return SHR_OK;
}

static shr_status dequantize_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    shr_qparam qp;
    int perm;
    SHR_TRY(shr_q_read_param(g, n, DQOP, 1, 2, &qp));
    SHR_TRY(shr_q_check_codes(g, n, DQOP, 0, &qp));
    if (!shr_dims_ok(x->ndim, x->shape, 1)) return shr_node_fail(SHR_ERR_SHAPE, n, DQOP, "bad input shape");
    SHR_TRY(layout_perm(n, DQOP, TO_NCHW, x->ndim, &perm));
    *ndim = x->ndim;
    if (perm) permute_shape(4, x->shape, TO_NCHW, shape);
    else memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    return SHR_OK;
}

static shr_status dequantize_forward(shr_op_io *io) {
    const shr_tensor *q = io->in[0];
    shr_qparam qp = shr_q_param_io(io, 1, 2);
    float *y = shr_f32(io->out);
    if (io->node->attrs.ndim == 0) {
        for (int64_t i = 0; i < q->numel; i++)
            y[i] = (float)(shr_q_get(q->data, qp.type, (size_t)i) - qp.zero_point) * qp.scale;
        return SHR_OK;
    }
    int64_t N = q->shape[0], HW = q->shape[1] * q->shape[2], C = q->shape[3];
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++) {
            float *dst = y + (b * C + c) * HW;
            size_t src = (size_t)(b * HW * C + c);
            for (int64_t i = 0; i < HW; i++)
                dst[i] = (float)(shr_q_get(q->data, qp.type, src + (size_t)(i * C)) - qp.zero_point) * qp.scale;
        }
    return SHR_OK;
}

const shr_op_def shr_op_quantize = {
    .name = "quantize",
    .min_inputs = 3,
    .max_inputs = 3,
    .infer = quantize_infer,
    .forward = quantize_forward,
};

const shr_op_def shr_op_dequantize = {
    .name = "dequantize",
    .min_inputs = 3,
    .max_inputs = 3,
    .infer = dequantize_infer,
    .forward = dequantize_forward,
};
