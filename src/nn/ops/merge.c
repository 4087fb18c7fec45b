/* Ops that merge several activations into one.
 *
 *   add:    [a, b], identical shapes (residual connections); y = a + b.
 *   concat: [x0, x1, ...], 2+ inputs of equal rank, concatenated along
 *           attrs.axis (negative counts from the end; the batch axis 0 is not
 *           allowed). Viewing each input as (outer, A_i * inner) with
 *           outer = prod(dims before axis), inner = prod(dims after axis),
 *           row o of y is the rows o of x0, x1, ... laid end to end.
 *
 * FLOPs: 0 (element-wise / data movement, not counted). */
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/op.h"

#define PAR_MIN ((int64_t)1 << 15)

static const char *node_name(const shr_node *n) { return n->name ? n->name : "?"; }

static shr_status present_input(const shr_graph *g, const shr_node *n, int i, const shr_value **out) {
    const shr_value *x = shr_node_in(g, n, i);
    if (!x)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): input %d is missing", node_name(n),
                        shr_op_name(n->op), i);
    *out = x;
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

/* ---- add ---- */

static shr_status add_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    if (n->n_inputs != 2)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (add): expects 2 inputs, got %d", node_name(n),
                        n->n_inputs);
    const shr_value *a, *b;
    SHR_TRY(present_input(g, n, 0, &a));
    SHR_TRY(present_input(g, n, 1, &b));
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
    if (!same) {
        char sa[200], sb[200];
        shr_shape_str(a->ndim, a->shape, sa, sizeof sa);
        shr_shape_str(b->ndim, b->shape, sb, sizeof sb);
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (add): input shapes %s and %s differ", node_name(n), sa, sb);
    }
    *ndim = a->ndim;
    for (int d = 0; d < a->ndim; d++) shape[d] = a->shape[d];
    return SHR_OK;
}

static shr_status add_fwd(shr_op_io *io) {
    const shr_tensor *ta = io->in[0], *tb = io->in[1];
    if (!ta || !tb || !io->out || ta->numel != io->out->numel || tb->numel != io->out->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (add): input and output sizes differ", node_name(io->node));
    const float *a = shr_f32(ta), *b = shr_f32(tb);
    float *y = shr_f32(io->out);
    int64_t n = io->out->numel;
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return SHR_OK;
}

static shr_status add_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    for (int k = 0; k < 2; k++) {
        if (!din[k]) continue;
        int64_t n = din[k]->numel;
        if (!dout || dout->numel != n)
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (add): gradient sizes differ", node_name(io->node));
        const float *gy = shr_f32(dout);
        float *gx = shr_f32(din[k]);
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
    }
    return SHR_OK;
}

/* ---- concat ---- */

static shr_status concat_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    if (n->n_inputs < 2)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (concat): needs at least 2 inputs, got %d", node_name(n),
                        n->n_inputs);
    const shr_value *x0;
    SHR_TRY(present_input(g, n, 0, &x0));
    int r = x0->ndim, axis = n->attrs.axis < 0 ? n->attrs.axis + r : n->attrs.axis;
    if (axis == 0)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (concat): cannot concatenate along the batch axis",
                        node_name(n));
    if (axis < 0 || axis >= r)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (concat): axis %d out of range for rank %d", node_name(n),
                        n->attrs.axis, r);
    int64_t total = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const shr_value *x;
        SHR_TRY(present_input(g, n, i, &x));
        int same = x->ndim == r;
        for (int d = 1; same && d < r; d++) same = d == axis || x->shape[d] == x0->shape[d];
        if (!same) {
            char s0[200], si[200];
            shr_shape_str(x0->ndim, x0->shape, s0, sizeof s0);
            shr_shape_str(x->ndim, x->shape, si, sizeof si);
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): input %d shape %s does not fit input 0 shape %s "
                            "outside axis %d", node_name(n), i, si, s0, axis);
        }
        if (shr_add_overflow_i64(total, x->shape[axis], &total))
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): output too large", node_name(n));
    }
    *ndim = r;
    for (int d = 0; d < r; d++) shape[d] = x0->shape[d];
    shape[axis] = total;
    return SHR_OK;
}

/* Geometry of one call, from the actual tensors (batch included). */
typedef struct concat_geo {
    int64_t outer, inner, row; /* row = out->shape[axis] * inner */
} concat_geo;

static shr_status concat_geometry(const shr_op_io *io, concat_geo *geo) {
    const shr_node *n = io->node;
    const shr_tensor *y = io->out;
    int r = y ? y->ndim : 0, axis = n->attrs.axis < 0 ? n->attrs.axis + r : n->attrs.axis;
    if (!y || axis <= 0 || axis >= r)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): output does not match the axis", node_name(n));
    geo->outer = 1;
    geo->inner = 1;
    for (int d = 0; d < axis; d++) geo->outer *= y->shape[d];
    for (int d = axis + 1; d < r; d++) geo->inner *= y->shape[d];
    int64_t along = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const shr_tensor *x = io->in[i];
        int ok = x && x->ndim == r;
        for (int d = 0; ok && d < r; d++) ok = d == axis || x->shape[d] == y->shape[d];
        if (!ok)
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): input %d does not fit the output", node_name(n), i);
        along += x->shape[axis];
    }
    if (along != y->shape[axis])
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): inputs do not add up to the output", node_name(n));
    geo->row = along * geo->inner;
    return SHR_OK;
}

static shr_status concat_fwd(shr_op_io *io) {
    concat_geo geo;
    SHR_TRY(concat_geometry(io, &geo));
    int axis = io->node->attrs.axis < 0 ? io->node->attrs.axis + io->out->ndim : io->node->attrs.axis;
    float *y = shr_f32(io->out);
    int64_t off = 0;
    for (int i = 0; i < io->node->n_inputs; i++) {
        const float *x = shr_f32(io->in[i]);
        int64_t blk = io->in[i]->shape[axis] * geo.inner, outer = geo.outer, row = geo.row;
        /* Parallel over independent rows; each copies one contiguous block. */
#pragma omp parallel for schedule(static) if (outer * blk >= PAR_MIN)
        for (int64_t o = 0; o < outer; o++) memcpy(y + o * row + off, x + o * blk, (size_t)blk * sizeof(float));
        off += blk;
    }
    return SHR_OK;
}

static shr_status concat_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    concat_geo geo;
    SHR_TRY(concat_geometry(io, &geo));
    if (!dout || dout->numel != io->out->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): gradient sizes differ", node_name(io->node));
    int axis = io->node->attrs.axis < 0 ? io->node->attrs.axis + io->out->ndim : io->node->attrs.axis;
    const float *gy = shr_f32(dout);
    int64_t off = 0;
    for (int i = 0; i < io->node->n_inputs; i++) {
        int64_t blk = io->in[i]->shape[axis] * geo.inner, outer = geo.outer, row = geo.row;
        if (din[i]) {
            if (din[i]->numel != io->in[i]->numel)
                return shr_fail(SHR_ERR_SHAPE, "node '%s' (concat): gradient %d has the wrong size",
                                node_name(io->node), i);
            float *gx = shr_f32(din[i]);
#pragma omp parallel for schedule(static) if (outer * blk >= PAR_MIN)
            for (int64_t o = 0; o < outer; o++) {
                const float *src = gy + o * row + off;
                float *dst = gx + o * blk;
#pragma omp simd
                for (int64_t j = 0; j < blk; j++) dst[j] += src[j];
            }
        }
        off += blk;
    }
    return SHR_OK;
}

const shr_op_def shr_op_add = {"add", 2, 2, add_infer, add_fwd, add_bwd, no_flops, NULL};
const shr_op_def shr_op_concat = {"concat", 2, -1, concat_infer, concat_fwd, concat_bwd, no_flops, NULL};
