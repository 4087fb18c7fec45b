/* pad: pads the last two dims (H, W) of x (N, ..., H, W), rank >= 3, by
 * attrs.pad = (top, left, bottom, right) >= 0, in the mode attrs.groups:
 *   0 constant (the value attrs.alpha), 1 reflect (mirror without repeating the
 *   edge; each pad < that dim), 2 edge (repeat the border element).
 * y (N, ..., H + top + bottom, W + left + right).
 *
 * Layout: row-major; planes (all dims but the last two) are independent and run
 * in parallel. Backward: each output element adds its gradient to the input
 * element it was read from (constant padding reads none); within a plane this
 * runs serially, so repeated sources sum in a fixed order.
 * FLOPs: 0 (data movement). */
#include <math.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "pad";

enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2 };

static shr_status pad_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "expects exactly one input");
    const shr_attrs *a = &n->attrs;
    if (x->ndim < 3)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input %s needs rank >= 3 (N, ..., H, W)",
                             shr_shape_text_of(x->ndim, x->shape).s);
    if (a->groups < PAD_CONSTANT || a->groups > PAD_EDGE)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "unknown mode %d", a->groups);
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    for (int i = 0; i < 4; i++) {
        int64_t len = (i & 1) ? W : H;
        if (a->pad[i] < 0 || (a->groups == PAD_REFLECT && a->pad[i] >= len))
            return shr_node_fail(SHR_ERR_SHAPE, n, OP, "padding [%d, %d, %d, %d] invalid for %lldx%lld (%s)",
                                 a->pad[0], a->pad[1], a->pad[2], a->pad[3], (long long)H, (long long)W,
                                 a->groups == PAD_REFLECT ? "reflect pads must be smaller than the dim" : "negative");
    }
    if (a->groups == PAD_CONSTANT && isnan(a->alpha))
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "pad value must not be NaN");
    *ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 2] = H + a->pad[0] + a->pad[2];
    shape[x->ndim - 1] = W + a->pad[1] + a->pad[3];
    if (!shr_sample_fits(*ndim, shape)) return shr_node_fail(SHR_ERR_LIMIT, n, OP, "output is too large");
    return SHR_OK;
}

/* Source index of padded position i (in [-p, len + p')), or -1 for the constant. */
static inline int64_t src_index(int mode, int64_t i, int64_t len) {
    if (i >= 0 && i < len) return i;
    if (mode == PAD_CONSTANT) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : len - 1;
    return i < 0 ? -i : 2 * (len - 1) - i; /* reflect */
}

typedef struct pgeo {
    int64_t planes, H, W, OH, OW;
} pgeo;

static shr_status geometry(const shr_node *n, const shr_tensor *x, const shr_tensor *y, pgeo *g) {
    const int r = x->ndim;
    if (r < 3 || y->ndim != r) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "tensor ranks differ");
    g->H = x->shape[r - 2];
    g->W = x->shape[r - 1];
    g->OH = y->shape[r - 2];
    g->OW = y->shape[r - 1];
    g->planes = x->numel / (g->H * g->W);
    const shr_attrs *a = &n->attrs;
    if (g->OH != g->H + a->pad[0] + a->pad[2] || g->OW != g->W + a->pad[1] + a->pad[3] ||
        y->numel != g->planes * g->OH * g->OW)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "output does not match the padding");
    return SHR_OK;
}

static shr_status pad_forward(shr_op_io *io) {
    pgeo g;
    SHR_TRY(geometry(io->node, io->in[0], io->out, &g));
    const shr_attrs *a = &io->node->attrs;
    const int mode = a->groups;
    const float value = a->alpha, *x = shr_f32(io->in[0]);
    float *y = shr_f32(io->out);
#pragma omp parallel for schedule(static) if (io->out->numel >= ((int64_t)1 << 15))
    for (int64_t p = 0; p < g.planes; p++) {
        const float *xp = x + p * g.H * g.W;
        float *yp = y + p * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; oh++) {
            int64_t ih = src_index(mode, oh - a->pad[0], g.H);
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t iw = src_index(mode, ow - a->pad[1], g.W);
                yp[oh * g.OW + ow] = (ih < 0 || iw < 0) ? value : xp[ih * g.W + iw];
            }
        }
    }
    return SHR_OK;
}

static shr_status pad_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    if (!dout || dout->numel != io->out->numel || din[0]->numel != io->in[0]->numel)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "gradient sizes differ");
    pgeo g;
    SHR_TRY(geometry(io->node, io->in[0], io->out, &g));
    const shr_attrs *a = &io->node->attrs;
    const int mode = a->groups;
    const float *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
#pragma omp parallel for schedule(static) if (dout->numel >= ((int64_t)1 << 15))
    for (int64_t p = 0; p < g.planes; p++) {
        float *xp = gx + p * g.H * g.W;
        const float *yp = gy + p * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; oh++) {
            int64_t ih = src_index(mode, oh - a->pad[0], g.H);
            if (ih < 0) continue;
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t iw = src_index(mode, ow - a->pad[1], g.W);
                if (iw >= 0) xp[ih * g.W + iw] += yp[oh * g.OW + ow];
            }
        }
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_pad = {"pad", 1, 1, pad_infer, pad_forward, pad_backward, no_flops, NULL};
