/* gather: [x, indices] -> y, along axis = attrs.axis (>= 1: never the batch).
 *   x (N, d1..dk); indices: a buffer of any shape I holding integral
 *   values in [0, d_axis) (checked by infer, so a loaded file cannot index out
 *   of bounds); y = x.shape[:axis] + I + x.shape[axis+1:].
 *   y[o, j, i] = x[o, indices[j], i] with o over the dims before the axis and i
 *   over those after it.
 * Slices and repeats (tiles) of ONNX models become gathers with index lists.
 *
 * Layout: row-major; (o, j) blocks of `inner` contiguous floats are independent
 * and copied in parallel. Backward adds dy blocks back into dx; it is parallel
 * over o only, so repeated indices sum in j order whatever the thread count.
 * The indices get no gradient. FLOPs: 0 (data movement). */
#include <math.h>
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "gather";

static shr_status gather_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *ix = shr_node_in(g, n, 1);
    if (n->n_inputs != 2 || !x || !ix) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "expects [x, indices]");
    int axis = n->attrs.axis < 0 ? n->attrs.axis + x->ndim : n->attrs.axis;
    if (axis < 1 || axis >= x->ndim)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "axis %d is the batch or out of range for rank %d",
                             n->attrs.axis, x->ndim);
    if (ix->kind != SHR_VALUE_BUFFER || !ix->data)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "indices '%s' must be a buffer (not trained)", ix->name);
    if (x->ndim - 1 + ix->ndim > SHR_MAX_DIMS)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "output rank exceeds %d", SHR_MAX_DIMS);
    const float *iv = shr_f32(ix->data);
    const int64_t len = x->shape[axis];
    for (int64_t i = 0; i < ix->data->numel; i++)
        if (!(iv[i] >= 0.0f) || iv[i] >= (float)len || iv[i] != floorf(iv[i]))
            return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "index %g at %lld is not an integer in [0, %lld)",
                                 (double)iv[i], (long long)i, (long long)len);
    int r = 0;
    for (int d = 0; d < axis; d++) shape[r++] = x->shape[d];
    for (int d = 0; d < ix->ndim; d++) shape[r++] = ix->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) shape[r++] = x->shape[d];
    *ndim = r;
    if (r < 1 || !shr_sample_fits(r, shape)) return shr_node_fail(SHR_ERR_LIMIT, n, OP, "output is empty or too large");
    return SHR_OK;
}

typedef struct ggeo {
    int64_t outer, len, K, inner;
} ggeo;

static shr_status geometry(const shr_op_io *io, ggeo *g) {
    const shr_tensor *x = io->in[0], *ix = io->in[1];
    const int axis = io->node->attrs.axis < 0 ? io->node->attrs.axis + x->ndim : io->node->attrs.axis;
    if (!ix || axis < 1 || axis >= x->ndim) return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "bad axis");
    g->outer = 1;
    g->inner = 1;
    for (int d = 0; d < axis; d++) g->outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) g->inner *= x->shape[d];
    g->len = x->shape[axis];
    g->K = ix->numel;
    if (io->out->numel != g->outer * g->K * g->inner)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "output does not match the indices");
    return SHR_OK;
}

static shr_status gather_forward(shr_op_io *io) {
    ggeo g;
    SHR_TRY(geometry(io, &g));
    const float *x = shr_f32(io->in[0]), *iv = shr_f32(io->in[1]);
    float *y = shr_f32(io->out);
    const int64_t blocks = g.outer * g.K;
#pragma omp parallel for schedule(static) if (io->out->numel >= ((int64_t)1 << 15))
    for (int64_t b = 0; b < blocks; b++) {
        int64_t o = b / g.K, j = b % g.K, src = (int64_t)iv[j];
        memcpy(y + b * g.inner, x + (o * g.len + src) * g.inner, (size_t)g.inner * sizeof(float));
    }
    return SHR_OK;
}

static shr_status gather_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    if (!dout || dout->numel != io->out->numel || din[0]->numel != io->in[0]->numel)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "gradient sizes differ");
    ggeo g;
    SHR_TRY(geometry(io, &g));
    const float *gy = shr_f32(dout), *iv = shr_f32(io->in[1]);
    float *gx = shr_f32(din[0]);
#pragma omp parallel for schedule(static) if (dout->numel >= ((int64_t)1 << 15))
    for (int64_t o = 0; o < g.outer; o++)
        for (int64_t j = 0; j < g.K; j++) {
            float *dst = gx + (o * g.len + (int64_t)iv[j]) * g.inner;
            const float *src = gy + (o * g.K + j) * g.inner;
            for (int64_t i = 0; i < g.inner; i++) dst[i] += src[i];
        }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_gather = {"gather", 2, 2, gather_infer, gather_forward, gather_backward, no_flops, NULL};
