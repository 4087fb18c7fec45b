/* qlinear: integer Linear. [x codes (N, in), x_scale, x_zp, W (out, in) i8|i16, w_scale (out)|(1),
 * bias (out) i32 | -1, y_scale, y_zp] -> codes (N, out), or f32 when y_scale / y_zp are absent:
 *   acc[n, o] = sum_i (x[n, i] - x_zp) * W[o, i] + bias[o]                      (exact, int32)
 *   y = clamp(y_zp + MBQM(acc, M[o]), alpha, eps),  M[o] = x_scale * w_scale[o] / y_scale
 *   (f32 out: y = acc * x_scale * w_scale[o], a fused ReLU / ReLU6 clamp applied after). */
#include <stdlib.h>

#include "nn/ops/ops_quant.h"
#include "nn/ops/qlayer.h"

static const char *const OP = "qlinear";

static shr_status qlinear_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 3);
    if (x->ndim != 2 || !shr_dims_ok(2, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input '%s' must be rank 2 (N, features)", x->name);
    if (w->ndim != 2 || !shr_dims_ok(2, w->shape, 0) || w->shape[1] != x->shape[1])
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight shape %s does not match input features %lld",
                             shr_shape_text_of(w->ndim, w->shape).s, (long long)x->shape[1]);
    SHR_TRY(shr_qlayer_check(g, n, OP, w->shape[0], w->shape[1]));
    *ndim = 2;
    shape[0] = -1;
    shape[1] = w->shape[0];
    return SHR_OK;
}

static shr_status qlinear_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[3];
    int N = (int)x->shape[0], K = (int)x->shape[1], out = (int)w->shape[0];
    shr_qlayer *L = io->state ? *io->state : NULL;
    if (!L) {
        SHR_TRY(shr_qlayer_init(&L, io, 0, out, K));
        if (io->state) *io->state = L;
    }
    shr_status st = shr_qlayer_run(L, N, x->data, K, io->out->data, out, io->act_fused, io->act_lo, io->act_hi, NULL);
    if (!io->state) shr_qlayer_free(L);
    return st;
}

static void qlayer_free_state(void *p) { shr_qlayer_free(p); }

static int64_t qlinear_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *w = shr_node_in(g, n, 3);
    return 2 * w->shape[0] * w->shape[1];
}

const shr_op_def shr_op_qlinear = {
    .name = "qlinear",
    .min_inputs = 5,
    .max_inputs = 8,
    .infer = qlinear_infer,
    .forward = qlinear_forward,
    .flops = qlinear_flops,
    .free_state = qlayer_free_state,
};
