/* batch_const: [x, c] -> y (N, c...), every sample of y a copy of c.
 * x (any activation) only supplies the batch size N; c is a param or buffer.
 * It lets a constant take part where ops want activations (concat with a
 * constant, a constant model output).
 * Layout: y is N contiguous copies of c. Backward: dc += sum over n of dy[n]
 * (parallel over elements of c, each summing the batch in order); x gets no
 * gradient. FLOPs: 0. */
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "batch_const";

static shr_status batch_const_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *c = shr_node_in(g, n, 1);
    if (n->n_inputs != 2 || !x || !c) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "expects [x, c]");
    if (shr_value_is_data(c)) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "'%s' must be a constant", c->name);
    if (c->ndim + 1 > SHR_MAX_DIMS) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "constant rank too large");
    shape[0] = -1;
    for (int d = 0; d < c->ndim; d++) shape[d + 1] = c->shape[d];
    *ndim = c->ndim + 1;
    if (!shr_sample_fits(*ndim, shape)) return shr_node_fail(SHR_ERR_LIMIT, n, OP, "constant is empty or too large");
    return SHR_OK;
}

static shr_status batch_const_forward(shr_op_io *io) {
    const shr_tensor *c = io->in[1];
    const int64_t N = io->out->shape[0];
    if (!c || io->out->numel != N * c->numel) return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "output size differs");
    float *y = shr_f32(io->out);
    for (int64_t s = 0; s < N; s++) memcpy(y + s * c->numel, c->data, (size_t)c->numel * sizeof(float));
    return SHR_OK;
}

static shr_status batch_const_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[1]) return SHR_OK;
    const int64_t N = io->out->shape[0], m = din[1]->numel;
    if (!dout || dout->numel != N * m) return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "gradient sizes differ");
    const float *gy = shr_f32(dout);
    float *gc = shr_f32(din[1]);
#pragma omp parallel for schedule(static) if (dout->numel >= ((int64_t)1 << 15))
    for (int64_t i = 0; i < m; i++) {
        float s = 0.0f;
        for (int64_t n = 0; n < N; n++) s += gy[n * m + i];
        gc[i] += s;
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_batch_const = {"batch_const", 2, 2, batch_const_infer, batch_const_forward,
                                       batch_const_backward, no_flops, NULL};
