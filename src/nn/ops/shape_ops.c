/* Shape-only ops: flatten and reshape. The data is the same row-major sequence
 * of numel f32 values before and after; only the shape changes.
 *
 *   flatten: (N, d1, ..., dk) -> (N, d1*...*dk)   (attrs ignored; always from dim 1)
 *   reshape: (N, ...)         -> (N, attrs.shape[0..attrs.ndim)), one entry may be -1
 *
 * FLOPs: 0 (pure data movement). */
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/op.h"

static const char *node_name(const shr_node *n) { return n->name ? n->name : "?"; }

static shr_status single_input(const shr_graph *g, const shr_node *n, const shr_value **out) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): expects exactly one input", node_name(n),
                        shr_op_name(n->op));
    *out = x;
    return SHR_OK;
}

/* Elements per sample (all dims but the batch), overflow-checked. */
static shr_status sample_numel(const shr_node *n, const shr_value *x, int64_t *out) {
    if (shr_shape_numel(x->ndim - 1, x->shape + 1, out) != SHR_OK || *out <= 0)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): input '%s' has an invalid or too large shape",
                        node_name(n), shr_op_name(n->op), x->name);
    return SHR_OK;
}

static shr_status flatten_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = NULL;
    SHR_TRY(single_input(g, n, &x));
    int64_t per;
    SHR_TRY(sample_numel(n, x, &per));
    *ndim = 2;
    shape[0] = -1;
    shape[1] = per;
    return SHR_OK;
}

static shr_status reshape_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = NULL;
    SHR_TRY(single_input(g, n, &x));
    int64_t per;
    SHR_TRY(sample_numel(n, x, &per));
    const shr_attrs *a = &n->attrs;
    if (a->ndim < 1 || a->ndim > SHR_MAX_DIMS - 1)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (reshape): target rank %d out of range 1..%d", node_name(n),
                        a->ndim, SHR_MAX_DIMS - 1);
    char want[200], have[200];
    shr_shape_str(a->ndim, a->shape, want, sizeof want);
    shr_shape_str(x->ndim, x->shape, have, sizeof have);
    int hole = -1;
    int64_t known = 1;
    for (int d = 0; d < a->ndim; d++) {
        int64_t v = a->shape[d];
        if (v == -1 && hole < 0) {
            hole = d;
            continue;
        }
        if (v <= 0)
            return shr_fail(SHR_ERR_SHAPE,
                            "node '%s' (reshape): target %s needs positive dims and at most one -1", node_name(n),
                            want);
        if (shr_mul_overflow_i64(known, v, &known))
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (reshape): target %s is too large", node_name(n), want);
    }
    int64_t fill = 1;
    if (hole >= 0) {
        if (per % known != 0)
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (reshape): cannot fit input %s into %s", node_name(n),
                            have, want);
        fill = per / known;
    } else if (known != per) {
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (reshape): input %s has %lld elements per sample, target %s has %lld",
                        node_name(n), have, (long long)per, want, (long long)known);
    }
    *ndim = a->ndim + 1;
    shape[0] = -1;
    for (int d = 0; d < a->ndim; d++) shape[d + 1] = d == hole ? fill : a->shape[d];
    return SHR_OK;
}

/* Both ops: y is x's data in x's order. An executor may hand y as a view of x. */
static shr_status copy_fwd(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    if (!x || !io->out || x->numel != io->out->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): input and output sizes differ", node_name(io->node),
                        shr_op_name(io->node->op));
    if (io->out->data != x->data) memcpy(io->out->data, x->data, (size_t)x->numel * sizeof(float));
    return SHR_OK;
}

static shr_status copy_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    if (!dout || dout->numel != din[0]->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): gradient sizes differ", node_name(io->node),
                        shr_op_name(io->node->op));
    const float *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
    int64_t n = dout->numel;
#pragma omp parallel for simd schedule(static) if (parallel: n >= ((int64_t)1 << 15))
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_flatten = {"flatten", 1, 1, flatten_infer, copy_fwd, copy_bwd, no_flops, NULL};
const shr_op_def shr_op_reshape = {"reshape", 1, 1, reshape_infer, copy_fwd, copy_bwd, no_flops, NULL};
