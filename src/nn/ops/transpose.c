/* transpose: y dim d = x dim perm[d], perm = attrs.shape[0..attrs.ndim) with
 * attrs.ndim = rank and perm[0] = 0 (the batch stays first).
 *
 * Layout: x, y row-major. Each output row (the last dim) reads x with the
 * stride of x dim perm[last]; rows are independent and run in parallel.
 * Backward scatters dy back through the same map; the map is a bijection, so
 * every dx element receives exactly one value and threads never collide.
 * FLOPs: 0 (data movement). */
#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "transpose";

static shr_status transpose_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "expects exactly one input");
    const shr_attrs *a = &n->attrs;
    if (a->ndim != x->ndim)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "permutation of %d dims for an input of rank %d", a->ndim,
                             x->ndim);
    int seen[SHR_MAX_DIMS] = {0};
    for (int d = 0; d < a->ndim; d++) {
        int64_t p = a->shape[d];
        if (p < 0 || p >= x->ndim || seen[p] || (d == 0 && p != 0))
            return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "not a permutation that keeps the batch first");
        seen[p] = 1;
        shape[d] = x->shape[p];
    }
    *ndim = x->ndim;
    return SHR_OK;
}

typedef struct tgeo {
    int r;
    int64_t ydim[SHR_MAX_DIMS], xstr[SHR_MAX_DIMS]; /* per y dim: size, stride in x */
    int64_t rows, L;
} tgeo;

static shr_status geometry(const shr_node *n, const shr_tensor *x, const shr_tensor *y, tgeo *g) {
    if (x->ndim != n->attrs.ndim || y->ndim != x->ndim || x->numel != y->numel)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "tensors do not match the permutation");
    int64_t xs[SHR_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->shape[d];
    }
    g->r = x->ndim;
    g->rows = 1;
    for (int d = 0; d < g->r; d++) {
        g->ydim[d] = x->shape[n->attrs.shape[d]];
        g->xstr[d] = xs[n->attrs.shape[d]];
        if (g->ydim[d] != y->shape[d]) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "output shape does not match");
        if (d < g->r - 1) g->rows *= g->ydim[d];
    }
    g->L = g->ydim[g->r - 1];
    return SHR_OK;
}

static inline int64_t row_start(const tgeo *g, int64_t q) {
    int64_t off = 0;
    for (int d = g->r - 2; d >= 0; d--) {
        off += (q % g->ydim[d]) * g->xstr[d];
        q /= g->ydim[d];
    }
    return off;
}

static shr_status transpose_forward(shr_op_io *io) {
    tgeo g;
    SHR_TRY(geometry(io->node, io->in[0], io->out, &g));
    const float *x = shr_f32(io->in[0]);
    float *y = shr_f32(io->out);
    const int64_t st = g.xstr[g.r - 1];
#pragma omp parallel for schedule(static) if (io->out->numel >= ((int64_t)1 << 15))
    for (int64_t q = 0; q < g.rows; q++) {
        const float *src = x + row_start(&g, q);
        float *dst = y + q * g.L;
        for (int64_t i = 0; i < g.L; i++) dst[i] = src[i * st];
    }
    return SHR_OK;
}

static shr_status transpose_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    if (!dout || dout->numel != io->out->numel || din[0]->numel != io->in[0]->numel)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "gradient sizes differ");
    tgeo g;
    SHR_TRY(geometry(io->node, io->in[0], io->out, &g));
    const float *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
    const int64_t st = g.xstr[g.r - 1];
#pragma omp parallel for schedule(static) if (dout->numel >= ((int64_t)1 << 15))
    for (int64_t q = 0; q < g.rows; q++) {
        float *dst = gx + row_start(&g, q);
        const float *src = gy + q * g.L;
        for (int64_t i = 0; i < g.L; i++) dst[i * st] += src[i];
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_transpose = {"transpose", 1, 1, transpose_infer, transpose_forward, transpose_backward,
                                     no_flops, NULL};
