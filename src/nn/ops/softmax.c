/* softmax and log_softmax over attrs.axis (negative counts from the end; not
 * the batch axis).
 *
 * Layout: x, y of identical shape, viewed as (outer, len, inner) with
 * len = shape[axis], outer = prod(dims before), inner = prod(dims after). Each
 * (outer, inner) column of len values is normalised independently. Columns are
 * handled in blocks of up to BLOCK adjacent inner positions so that the inner
 * loops run over contiguous memory and vectorize (omp simd); for inner == 1 a
 * block is one row, walked serially.
 * The max is subtracted before exp, so logits of any magnitude stay finite.
 * Each column's sums run in a fixed order inside one thread: results do not
 * depend on the thread count.
 * FLOPs: 0 (not counted, like the other element-wise ops). */
#include <math.h>

#include "core/error.h"
#include "nn/op.h"

#define PAR_MIN ((int64_t)1 << 15)
#define BLOCK 64

static const char *node_name(const shr_node *n) { return n->name ? n->name : "?"; }

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

static shr_status softmax_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): expects exactly one input", node_name(n),
                        shr_op_name(n->op));
    if (x->ndim < 2 || x->shape[0] != -1)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): input '%s' needs a batch dimension and a sample shape",
                        node_name(n), shr_op_name(n->op), x->name);
    int axis = norm_axis(n->attrs.axis, x->ndim);
    if (axis == 0)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): cannot normalise over the batch axis", node_name(n),
                        shr_op_name(n->op));
    if (axis < 0 || axis >= x->ndim)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): axis %d out of range for rank %d", node_name(n),
                        shr_op_name(n->op), n->attrs.axis, x->ndim);
    *ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    return SHR_OK;
}

typedef struct geo {
    int64_t outer, len, inner, blocks; /* blocks per outer index */
} geo;

static shr_status geometry(const shr_op_io *io, const shr_tensor *other, geo *gm) {
    const shr_tensor *x = io->in[0], *y = io->out;
    if (!x || !y || x->numel != y->numel || (other && other->numel != y->numel))
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): tensor sizes differ", node_name(io->node),
                        shr_op_name(io->node->op));
    int axis = norm_axis(io->node->attrs.axis, y->ndim);
    if (axis <= 0 || axis >= y->ndim)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): output rank does not fit the axis", node_name(io->node),
                        shr_op_name(io->node->op));
    gm->outer = gm->inner = 1;
    for (int d = 0; d < axis; d++) gm->outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) gm->inner *= y->shape[d];
    gm->len = y->shape[axis];
    gm->blocks = (gm->inner + BLOCK - 1) / BLOCK;
    return SHR_OK;
}

/* One block: columns j0..j0+w of x/y at stride `inner` along the axis. */
static void fwd_block(const float *x, float *y, int64_t len, int64_t inner, int w, int is_log) {
    float m[BLOCK], s[BLOCK];
    for (int j = 0; j < w; j++) {
        m[j] = x[j];
        s[j] = 0.0f;
    }
    for (int64_t a = 1; a < len; a++) {
        const float *xa = x + a * inner;
#pragma omp simd
        for (int j = 0; j < w; j++) m[j] = xa[j] > m[j] ? xa[j] : m[j];
    }
    for (int64_t a = 0; a < len; a++) {
        const float *xa = x + a * inner;
        float *ya = y + a * inner;
        for (int j = 0; j < w; j++) {
            float e = expf(xa[j] - m[j]);
            s[j] += e;
            if (!is_log) ya[j] = e;
        }
    }
    if (is_log) {
        for (int j = 0; j < w; j++) s[j] = logf(s[j]);
        for (int64_t a = 0; a < len; a++) {
            const float *xa = x + a * inner;
            float *ya = y + a * inner;
#pragma omp simd
            for (int j = 0; j < w; j++) ya[j] = (xa[j] - m[j]) - s[j];
        }
    } else {
        for (int j = 0; j < w; j++) s[j] = 1.0f / s[j];
        for (int64_t a = 0; a < len; a++) {
            float *ya = y + a * inner;
#pragma omp simd
            for (int j = 0; j < w; j++) ya[j] *= s[j];
        }
    }
}

/* softmax:     dx = y * (dy - sum(dy * y))
 * log_softmax: dx = dy - exp(y) * sum(dy)      (accumulated into gx) */
static void bwd_block(const float *y, const float *gy, float *gx, int64_t len, int64_t inner, int w, int is_log) {
    float s[BLOCK];
    for (int j = 0; j < w; j++) s[j] = 0.0f;
    for (int64_t a = 0; a < len; a++) {
        const float *ya = y + a * inner, *ga = gy + a * inner;
        if (is_log) {
#pragma omp simd
            for (int j = 0; j < w; j++) s[j] += ga[j];
        } else {
#pragma omp simd
            for (int j = 0; j < w; j++) s[j] += ga[j] * ya[j];
        }
    }
    for (int64_t a = 0; a < len; a++) {
        const float *ya = y + a * inner, *ga = gy + a * inner;
        float *xa = gx + a * inner;
        if (is_log) {
            for (int j = 0; j < w; j++) xa[j] += ga[j] - expf(ya[j]) * s[j];
        } else {
#pragma omp simd
            for (int j = 0; j < w; j++) xa[j] += ya[j] * (ga[j] - s[j]);
        }
    }
}

static shr_status softmax_fwd(shr_op_io *io) {
    geo gm;
    SHR_TRY(geometry(io, NULL, &gm));
    const float *x = shr_f32(io->in[0]);
    float *y = shr_f32(io->out);
    int is_log = io->node->op == SHR_OP_LOG_SOFTMAX;
    int64_t items = gm.outer * gm.blocks, numel = io->out->numel;
#pragma omp parallel for schedule(static) if (numel >= PAR_MIN)
    for (int64_t it = 0; it < items; it++) {
        int64_t o = it / gm.blocks, j0 = (it % gm.blocks) * BLOCK;
        int w = (int)(gm.inner - j0 < BLOCK ? gm.inner - j0 : BLOCK);
        int64_t base = o * gm.len * gm.inner + j0;
        fwd_block(x + base, y + base, gm.len, gm.inner, w, is_log);
    }
    return SHR_OK;
}

static shr_status softmax_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    geo gm;
    SHR_TRY(geometry(io, dout, &gm));
    if (!dout || din[0]->numel != dout->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): gradient sizes differ", node_name(io->node),
                        shr_op_name(io->node->op));
    const float *y = shr_f32(io->out), *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
    int is_log = io->node->op == SHR_OP_LOG_SOFTMAX;
    int64_t items = gm.outer * gm.blocks, numel = io->out->numel;
#pragma omp parallel for schedule(static) if (numel >= PAR_MIN)
    for (int64_t it = 0; it < items; it++) {
        int64_t o = it / gm.blocks, j0 = (it % gm.blocks) * BLOCK;
        int w = (int)(gm.inner - j0 < BLOCK ? gm.inner - j0 : BLOCK);
        int64_t base = o * gm.len * gm.inner + j0;
        bwd_block(y + base, gy + base, gx + base, gm.len, gm.inner, w, is_log);
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

const shr_op_def shr_op_softmax = {"softmax", 1, 1, softmax_infer, softmax_fwd, softmax_bwd, no_flops, NULL};
const shr_op_def shr_op_log_softmax = {"log_softmax", 1, 1, softmax_infer, softmax_fwd, softmax_bwd, no_flops,
                                       NULL};
