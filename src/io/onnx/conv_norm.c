/* Converters for the normalizations shrink builds from smaller ops:
 * LayerNormalization (opset 17; outputs Y, Mean, InvStdDev) and
 * InstanceNormalization, both as
 *   mean = ReduceMean(x), d = x - mean, var = ReduceMean(d * d),
 *   inv = 1 / sqrt(var + eps), y = d * inv * scale + bias
 * over the normalized axes, so they evaluate and train like any graph. */
#include <string.h>

#include "io/onnx/onnx_internal.h"

/* Emits the normalization of x over shrink axes [first, rank) and returns
 * y (before scale/bias), the mean and 1/std (keepdims shapes). */
static shr_status normalize(ox_ctx *c, const ox_node *n, int x, int first, float eps, int *y, int *mean, int *inv) {
    const shr_value *xv = &c->g->values[x];
    shr_attrs r = shr_attrs_default();
    r.ndim = 0;
    for (int d = first; d < xv->ndim; d++) r.shape[r.ndim++] = d;
    r.count_include_pad = 1;
    if (r.ndim == 0) return ox_unsupported(c, "normalizing over no axes");
    int d, sq, var, ve, sd, ev;
    float e = eps;
    SHR_TRY(ox_emit(c, n, SHR_OP_REDUCE_MEAN, &r, 1, &x, mean));
    SHR_TRY(ox_emit(c, n, SHR_OP_SUB, NULL, 2, (int[]){x, *mean}, &d));
    SHR_TRY(ox_emit(c, n, SHR_OP_MUL, NULL, 2, (int[]){d, d}, &sq));
    SHR_TRY(ox_emit(c, n, SHR_OP_REDUCE_MEAN, &r, 1, &sq, &var));
    SHR_TRY(ox_buffer(c, "epsilon", 0, NULL, &e, &ev));
    SHR_TRY(ox_emit(c, n, SHR_OP_ADD_BCAST, NULL, 2, (int[]){var, ev}, &ve));
    SHR_TRY(ox_emit(c, n, SHR_OP_SQRT, NULL, 1, &ve, &sd));
    SHR_TRY(ox_emit(c, n, SHR_OP_RECIPROCAL, NULL, 1, &sd, inv));
    return ox_emit(c, n, SHR_OP_MUL, NULL, 2, (int[]){d, *inv}, y);
}

/* y * scale + bias with constants of shape `shape` (rank nd, aligned to the
 * trailing dims of y); bias may be NULL. Binds output 0. */
static shr_status affine(ox_ctx *c, const ox_node *n, int y, ox_const *scale, ox_const *bias, int nd, const int64_t *shape) {
    int sv, bv, v;
    SHR_TRY(ox_const_value(c, scale, 1, nd, shape, &sv));
    if (!bias) return ox_emit_out(c, n, 0, SHR_OP_MUL, NULL, 2, (int[]){y, sv});
    SHR_TRY(ox_emit(c, n, SHR_OP_MUL, NULL, 2, (int[]){y, sv}, &v));
    SHR_TRY(ox_const_value(c, bias, 1, nd, shape, &bv));
    return ox_emit_out(c, n, 0, SHR_OP_ADD_BCAST, NULL, 2, (int[]){v, bv});
}

static shr_status conv_layer_norm(ox_ctx *c, const ox_node *n) {
    int x, rank, first;
    int64_t dims[SHR_MAX_DIMS], axis, stash;
    float eps;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    SHR_TRY(ox_attr_int(n, "axis", -1, &axis));
    SHR_TRY(ox_attr_float(n, "epsilon", 1e-5f, &eps));
    SHR_TRY(ox_attr_int(n, "stash_type", 1, &stash));
    if (stash != 1) return ox_unsupported(c, "stash_type %lld (shrink computes in float)", (long long)stash);
    SHR_TRY(ox_axis(c, axis, rank, &first));
    ox_const *scale, *bias = NULL;
    SHR_TRY(ox_in_const(c, n, 1, &scale));
    if (ox_in(c, n, 2)) SHR_TRY(ox_in_const(c, n, 2, &bias));
    const int a0 = first - c->lift, nd = rank - a0;
    int64_t want = 1;
    for (int d = a0; d < rank; d++) want *= dims[d];
    if (scale->numel != want || (bias && bias->numel != want)) return ox_bad(c, "scale/bias do not match the normalized dims");
    int y, mean, inv;
    SHR_TRY(normalize(c, n, x, first, eps, &y, &mean, &inv));
    SHR_TRY(affine(c, n, y, scale, bias, nd, dims + a0));
    if (n->n_output > 1 && n->output[1][0]) SHR_TRY(ox_out_act(c, n, 1, mean));
    if (n->n_output > 2 && n->output[2][0]) SHR_TRY(ox_out_act(c, n, 2, inv));
    return SHR_OK;
}

static shr_status conv_instance_norm(ox_ctx *c, const ox_node *n) {
    int x, rank;
    int64_t dims[SHR_MAX_DIMS];
    float eps;
    SHR_TRY(ox_in_act(c, n, 0, &x));
    ox_act_shape(c, x, &rank, dims);
    SHR_TRY(ox_attr_float(n, "epsilon", 1e-5f, &eps));
    if (rank < 3) return ox_bad(c, "input needs (N, C, spatial...)");
    if (c->lift) return ox_unsupported(c, "needs dim 0 as the batch (import with the batch in dim 0)");
    ox_const *scale, *bias;
    SHR_TRY(ox_in_const(c, n, 1, &scale));
    SHR_TRY(ox_in_const(c, n, 2, &bias));
    if (scale->numel != dims[1] || bias->numel != dims[1]) return ox_bad(c, "scale/bias must have C elements");
    int y, mean, inv;
    SHR_TRY(normalize(c, n, x, 2, eps, &y, &mean, &inv));
    int64_t shape[SHR_MAX_DIMS];
    shape[0] = dims[1]; /* (C, 1, ..., 1): per channel */
    for (int d = 1; d < rank - 1; d++) shape[d] = 1;
    return affine(c, n, y, scale, bias, rank - 1, shape);
}

const ox_op ox_ops_norm[] = {
    {"LayerNormalization", 17, conv_layer_norm},
    {"InstanceNormalization", 6, conv_instance_norm},
};
const int ox_ops_norm_n = (int)(sizeof ox_ops_norm / sizeof ox_ops_norm[0]);
