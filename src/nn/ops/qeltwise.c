/* Element-wise ops on codes.
 *   qadd    [a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp]: the integer add of TFLite:
 *           both inputs are shifted left (20 bits for 8-bit codes, 15 for i16), rescaled to a
 *           common scale 2 * max(sa, sb) by fixed-point multipliers, summed, and requantized:
 *           y = clamp(zy + MBQM(MBQM((a - za) << L, ma) + MBQM((b - zb) << L, mb), my), alpha, eps)
 *           (a fused ReLU is the clamp). Within one output step of the real sum.
 *   qclamp  [x]: y = clamp(x, alpha, eps) (a ReLU / ReLU6 on codes that was not fused).
 *   qflatten [x]: (N, ...) -> (N, rest), bytes unchanged. */
#include "kernels/qgemm.h"
#include "nn/ops/ops_quant.h"

static const char *const ADD = "qadd", *const CLAMP = "qclamp", *const FLAT = "qflatten";

static shr_status qadd_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    shr_qparam a, b, y;
    int lo, hi;
    SHR_TRY(shr_q_read_param(g, n, ADD, 1, 2, &a));
    SHR_TRY(shr_q_read_param(g, n, ADD, 4, 5, &b));
    SHR_TRY(shr_q_read_param(g, n, ADD, 6, 7, &y));
    SHR_TRY(shr_q_check_codes(g, n, ADD, 0, &a));
    SHR_TRY(shr_q_check_codes(g, n, ADD, 3, &b));
    if (a.type != y.type || b.type != y.type)
        return shr_node_fail(SHR_ERR_FORMAT, n, ADD, "inputs and output must be codes of one dtype");
    SHR_TRY(shr_q_check_clamp(n, ADD, y.type, &lo, &hi));
    const shr_value *x0 = shr_node_in(g, n, 0), *x1 = shr_node_in(g, n, 3);
    int same = x0->ndim == x1->ndim;
    for (int d = 0; same && d < x0->ndim; d++) same = x0->shape[d] == x1->shape[d];
    if (!same || !shr_dims_ok(x0->ndim, x0->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, ADD, "inputs %s and %s must have one shape",
                             shr_shape_text_of(x0->ndim, x0->shape).s, shr_shape_text_of(x1->ndim, x1->shape).s);
    *ndim = x0->ndim;
    memcpy(shape, x0->shape, sizeof(int64_t) * (size_t)x0->ndim);
    return SHR_OK;
}

static shr_status qadd_forward(shr_op_io *io) {
    shr_qparam a = shr_q_param_io(io, 1, 2), b = shr_q_param_io(io, 4, 5), y = shr_q_param_io(io, 6, 7);
    int L = a.type == SHR_I16 ? 15 : 20, lo = (int)io->node->attrs.alpha, hi = (int)io->node->attrs.eps;
    double twice = 2.0 * (a.scale > b.scale ? a.scale : b.scale);
    int32_t ma, sa, mb, sb, my, sy;
    SHR_TRY(shr_quant_multiplier(a.scale / twice, &ma, &sa));
    SHR_TRY(shr_quant_multiplier(b.scale / twice, &mb, &sb));
    SHR_TRY(shr_quant_multiplier(twice / ((double)(1 << L) * y.scale), &my, &sy));
    const shr_tensor *xa = io->in[0], *xb = io->in[3];
    int64_t n = xa->numel;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        int32_t va = (shr_q_get(xa->data, a.type, (size_t)i) - a.zero_point) * (1 << L);
        int32_t vb = (shr_q_get(xb->data, b.type, (size_t)i) - b.zero_point) * (1 << L);
        int32_t s = shr_mbqm(va, ma, sa) + shr_mbqm(vb, mb, sb);
        shr_q_put(io->out->data, y.type, (size_t)i, shr_requant(s, my, sy, y.zero_point, lo, hi));
    }
    return SHR_OK;
}

static shr_status qclamp_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    shr_dtype t = shr_value_dtype(g, n->inputs[0]);
    int lo, hi;
    if (!shr_q_is_code(t)) return shr_node_fail(SHR_ERR_FORMAT, n, CLAMP, "input '%s' must be codes", x->name);
    SHR_TRY(shr_q_check_clamp(n, CLAMP, t, &lo, &hi));
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    return SHR_OK;
}

static shr_status qclamp_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    int lo = (int)io->node->attrs.alpha, hi = (int)io->node->attrs.eps;
    for (int64_t i = 0; i < x->numel; i++) {
        int v = shr_q_get(x->data, x->dtype, (size_t)i);
        shr_q_put(io->out->data, x->dtype, (size_t)i, v < lo ? lo : v > hi ? hi : v);
    }
    return SHR_OK;
}

static shr_status qflatten_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (!shr_q_is_code(shr_value_dtype(g, n->inputs[0])))
        return shr_node_fail(SHR_ERR_FORMAT, n, FLAT, "input '%s' must be codes", x->name);
    if (x->ndim < 2 || !shr_dims_ok(x->ndim, x->shape, 1)) return shr_node_fail(SHR_ERR_SHAPE, n, FLAT, "bad shape");
    *ndim = 2;
    shape[0] = -1;
    shape[1] = shr_value_sample_numel(x);
    return SHR_OK;
}

static shr_status qflatten_forward(shr_op_io *io) {
    memcpy(io->out->data, io->in[0]->data, io->in[0]->nbytes);
    return SHR_OK;
}

const shr_op_def shr_op_qadd = {
    .name = "qadd", .min_inputs = 8, .max_inputs = 8, .infer = qadd_infer, .forward = qadd_forward,
};
const shr_op_def shr_op_qclamp = {
    .name = "qclamp", .min_inputs = 1, .max_inputs = 1, .infer = qclamp_infer, .forward = qclamp_forward,
};
const shr_op_def shr_op_qflatten = {
    .name = "qflatten", .min_inputs = 1, .max_inputs = 1, .infer = qflatten_infer, .forward = qflatten_forward,
};
