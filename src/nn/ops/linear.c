/* Linear (fully connected): x (N, in), W (out, in), optional b (out) -> y (N, out),
 * y = x W^T + b. All row-major; forward and each gradient is one GEMM. */
#include <math.h>

#include "kernels/kernels.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "linear";

static shr_status linear_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 1), *b = shr_node_in(g, n, 2);
    if (x->ndim != 2 || !shr_dims_ok(2, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input '%s' must be rank 2 (N, features), got %s (flatten first)",
                             x->name, shr_shape_text_of(x->ndim, x->shape).s);
    if (w->ndim != 2 || !shr_dims_ok(2, w->shape, 0) || w->shape[1] != x->shape[1])
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "weight shape %s does not match input features %lld",
                             shr_shape_text_of(w->ndim, w->shape).s, (long long)x->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "bias shape %s does not match output features %lld",
                             shr_shape_text_of(b->ndim, b->shape).s, (long long)w->shape[0]);
    *ndim = 2;
    shape[0] = -1;
    shape[1] = w->shape[0];
    return SHR_OK;
}

/* Batch 1 is a GEMV (memory-bound: the weights are read once, no packing); larger
 * batches one GEMM with bias (and a fused activation clamp) in its epilogue. */
static shr_status linear_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[1];
    const shr_tensor *b = io->node->n_inputs > 2 ? io->in[2] : NULL;
    int N = (int)x->shape[0], in = (int)x->shape[1], out = (int)w->shape[0];
    float *y = shr_f32(io->out);
    const float *bp = b ? shr_f32(b) : NULL;
    float lo = io->act_fused ? io->act_lo : -INFINITY, hi = io->act_fused ? io->act_hi : INFINITY;
    if (N == 1) {
        shr_gemv_f32(out, in, shr_f32(w), in, shr_f32(x), bp, y);
        if (io->act_fused) shr_clamp_f32(y, out, lo, hi);
        return SHR_OK;
    }
    shr_gemm_epilogue ep = {bp, 0, lo, hi};
    shr_gemm_f32_ex(0, 1, N, out, in, 1.0f, shr_f32(x), in, shr_f32(w), in, 0.0f, y, out, &ep);
    return SHR_OK;
}

static shr_status linear_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    const shr_tensor *x = io->in[0], *w = io->in[1];
    int N = (int)x->shape[0], in = (int)x->shape[1], out = (int)w->shape[0];
    const float *dy = shr_f32(dout);
    if (din[0]) /* dx (N, in) += dy (N, out) W (out, in) */
        shr_gemm_f32(0, 0, N, in, out, 1.0f, dy, out, shr_f32(w), in, 1.0f, shr_f32(din[0]), in);
    if (din[1]) /* dW (out, in) += dy^T (out, N) x (N, in) */
        shr_gemm_f32(1, 0, out, in, N, 1.0f, dy, out, shr_f32(x), in, 1.0f, shr_f32(din[1]), in);
    if (io->node->n_inputs > 2 && din[2]) {
        /* Column sums in batch order: deterministic and cache-friendly. */
        float *db = shr_f32(din[2]);
        for (int i = 0; i < N; i++) {
            const float *row = dy + (size_t)i * out;
            for (int o = 0; o < out; o++) db[o] += row[o];
        }
    }
    return SHR_OK;
}

static int64_t linear_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *w = shr_node_in(g, n, 1);
    return 2 * w->shape[0] * w->shape[1];
}

const shr_op_def shr_op_linear = {
    .name = "linear",
    .min_inputs = 2,
    .max_inputs = 3,
    .infer = linear_infer,
    .forward = linear_forward,
    .backward = linear_backward,
    .flops = linear_flops,
    .free_state = NULL,
};
