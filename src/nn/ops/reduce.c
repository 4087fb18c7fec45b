/* Reductions with ONNX semantics over a set of non-batch axes:
 *   reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod, reduce_l1
 *   (sum |x|), reduce_l2 (sqrt sum x^2), reduce_sum_square, reduce_log_sum
 *   (log sum x), reduce_log_sum_exp (max-shifted, so large inputs stay finite).
 *
 * Attributes: axes = attrs.shape[0..attrs.ndim) (distinct, 1..rank-1; the batch
 * axis 0 is never reduced), keepdims = attrs.count_include_pad (0/1).
 * Layout: x (N, d1..dk) row-major; y has 1 in place of each reduced dim
 * (keepdims) or drops it. Per sample, every x element maps to the output offset
 * sum_d idx[d] * ostride[d] (ostride 0 on reduced dims); the sums run in double,
 * in x's row-major order. Samples are independent: threads split the batch, so
 * results never depend on the thread count. max/min propagate NaN; their
 * gradient goes to the first extreme element (row-major).
 * FLOPs: 0 (not counted, like the other element-wise ops). */
#include <math.h>
#include <stdlib.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static shr_status reduce_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const char *op = shr_op_name(n->op);
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x) return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "expects exactly one input");
    const shr_attrs *a = &n->attrs;
    if (a->ndim < 1 || a->ndim >= x->ndim)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "%d axes for an input of rank %d", a->ndim, x->ndim);
    if (a->count_include_pad != 0 && a->count_include_pad != 1)
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "keepdims must be 0 or 1");
    int reduced[SHR_MAX_DIMS] = {0};
    for (int i = 0; i < a->ndim; i++) {
        int64_t ax = a->shape[i];
        if (ax < 1 || ax >= x->ndim || reduced[ax])
            return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "axis %lld is the batch, out of range or repeated",
                                 (long long)ax);
        reduced[ax] = 1;
    }
    int r = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!reduced[d]) shape[r++] = x->shape[d];
        else if (a->count_include_pad) shape[r++] = 1;
    }
    *ndim = r;
    return SHR_OK;
}

/* Per-sample geometry: x's sample dims with their output strides. */
typedef struct rgeo {
    int r;                      /* sample rank (x rank - 1) */
    int64_t dim[SHR_MAX_DIMS];  /* x sample dims */
    int64_t ostr[SHR_MAX_DIMS]; /* output stride per x dim; 0 if reduced */
    int64_t xs, ys;             /* elements per sample of x and y */
    int64_t count;              /* elements reduced into each output */
} rgeo;

static shr_status geometry(const shr_node *n, const shr_tensor *x, const shr_tensor *y, rgeo *g) {
    int reduced[SHR_MAX_DIMS] = {0};
    for (int i = 0; i < n->attrs.ndim; i++) reduced[n->attrs.shape[i]] = 1;
    g->r = x->ndim - 1;
    g->xs = 1;
    g->count = 1;
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 1; d--) {
        g->dim[d - 1] = x->shape[d];
        g->xs *= x->shape[d];
        if (reduced[d]) {
            g->ostr[d - 1] = 0;
            g->count *= x->shape[d];
        } else {
            g->ostr[d - 1] = s;
            s *= x->shape[d];
        }
    }
    g->ys = s;
    if (x->shape[0] != y->shape[0] || y->numel != s * y->shape[0])
        return shr_node_fail(SHR_ERR_SHAPE, n, shr_op_name(n->op), "output does not match the reduction");
    return SHR_OK;
}

/* Calls BODY for every element of one sample with xi (x index) and yo (output
 * offset), in row-major order. */
#define EACH(G, BODY)                                                   \
    do {                                                                \
        int64_t idx_[SHR_MAX_DIMS] = {0}, yo = 0;                       \
        for (int64_t xi = 0; xi < (G)->xs; xi++) {                      \
            BODY;                                                       \
            for (int d_ = (G)->r - 1; d_ >= 0; d_--) {                  \
                yo += (G)->ostr[d_];                                    \
                if (++idx_[d_] < (G)->dim[d_]) break;                   \
                yo -= (G)->ostr[d_] * (G)->dim[d_];                     \
                idx_[d_] = 0;                                           \
            }                                                           \
        }                                                               \
    } while (0)

/* y (one sample) from x (one sample); acc: ys doubles of scratch. */
static void reduce_sample(shr_op op, const rgeo *g, const float *x, float *y, double *acc) {
    double init = op == SHR_OP_REDUCE_PROD ? 1.0 : op == SHR_OP_REDUCE_MAX || op == SHR_OP_REDUCE_LOG_SUM_EXP ? -INFINITY
                  : op == SHR_OP_REDUCE_MIN ? INFINITY : 0.0;
    for (int64_t i = 0; i < g->ys; i++) acc[i] = init;
    switch (op) {
    case SHR_OP_REDUCE_SUM:
    case SHR_OP_REDUCE_MEAN:
    case SHR_OP_REDUCE_LOG_SUM: EACH(g, acc[yo] += x[xi]); break;
    case SHR_OP_REDUCE_PROD: EACH(g, acc[yo] *= x[xi]); break;
    case SHR_OP_REDUCE_L1: EACH(g, acc[yo] += fabs((double)x[xi])); break;
    case SHR_OP_REDUCE_L2:
    case SHR_OP_REDUCE_SUM_SQUARE: EACH(g, acc[yo] += (double)x[xi] * x[xi]); break;
    case SHR_OP_REDUCE_MAX:
    case SHR_OP_REDUCE_LOG_SUM_EXP: EACH(g, if (x[xi] > acc[yo] || x[xi] != x[xi]) acc[yo] = x[xi]); break; /* NaN sticks */
    case SHR_OP_REDUCE_MIN: EACH(g, if (x[xi] < acc[yo] || x[xi] != x[xi]) acc[yo] = x[xi]); break;
    default: break;
    }
    if (op == SHR_OP_REDUCE_LOG_SUM_EXP) {
        for (int64_t i = 0; i < g->ys; i++) y[i] = (float)acc[i]; /* the max, as the shift */
        for (int64_t i = 0; i < g->ys; i++) acc[i] = 0.0;
        EACH(g, acc[yo] += exp((double)x[xi] - (double)y[yo]));
        for (int64_t i = 0; i < g->ys; i++) y[i] = isfinite(y[i]) ? (float)((double)y[i] + log(acc[i])) : y[i];
        return;
    }
    for (int64_t i = 0; i < g->ys; i++) {
        double v = acc[i];
        if (op == SHR_OP_REDUCE_MEAN) v /= (double)g->count;
        else if (op == SHR_OP_REDUCE_L2) v = sqrt(v);
        else if (op == SHR_OP_REDUCE_LOG_SUM) v = log(v);
        y[i] = (float)v;
    }
}

static shr_status reduce_forward(shr_op_io *io) {
    const shr_node *nd = io->node;
    const shr_tensor *x = io->in[0];
    rgeo g;
    if (!x || !io->out) return shr_node_fail(SHR_ERR_INVALID_ARG, nd, shr_op_name(nd->op), "missing tensor");
    SHR_TRY(geometry(nd, x, io->out, &g));
    const int64_t N = x->shape[0];
    const float *px = shr_f32(x);
    float *py = shr_f32(io->out);
    int failed = 0;
#pragma omp parallel if (N > 1 && g.xs * N >= ((int64_t)1 << 15))
    {
        double *acc = malloc((size_t)g.ys * sizeof *acc);
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t s = 0; s < N; s++)
            if (acc) reduce_sample(nd->op, &g, px + s * g.xs, py + s * g.ys, acc);
        free(acc);
    }
    if (failed) return shr_fail(SHR_ERR_NOMEM, "out of memory in %s", shr_op_name(nd->op));
    return SHR_OK;
}

/* dx for one sample. first: ys bytes of scratch (max/min: output already taken);
 * acc: ys doubles (prod: product of the nonzero elements), zeros: ys counts. */
static void reduce_grad_sample(shr_op op, const rgeo *g, const float *x, const float *y, const float *gy, float *gx,
                               unsigned char *first, double *acc, int64_t *zeros) {
    switch (op) {
    case SHR_OP_REDUCE_SUM: EACH(g, gx[xi] += gy[yo]); break;
    case SHR_OP_REDUCE_MEAN: {
        const float inv = (float)(1.0 / (double)g->count);
        EACH(g, gx[xi] += gy[yo] * inv);
        break;
    }
    case SHR_OP_REDUCE_L1: EACH(g, gx[xi] += x[xi] > 0.0f ? gy[yo] : (x[xi] < 0.0f ? -gy[yo] : 0.0f)); break;
    case SHR_OP_REDUCE_SUM_SQUARE: EACH(g, gx[xi] += 2.0f * x[xi] * gy[yo]); break;
    case SHR_OP_REDUCE_L2: EACH(g, gx[xi] += y[yo] > 0.0f ? gy[yo] * x[xi] / y[yo] : 0.0f); break;
    case SHR_OP_REDUCE_LOG_SUM: EACH(g, gx[xi] += gy[yo] / expf(y[yo])); break;
    case SHR_OP_REDUCE_LOG_SUM_EXP: EACH(g, gx[xi] += gy[yo] * expf(x[xi] - y[yo])); break;
    case SHR_OP_REDUCE_MAX:
    case SHR_OP_REDUCE_MIN:
        for (int64_t i = 0; i < g->ys; i++) first[i] = 0;
        EACH(g, if (!first[yo] && (x[xi] == y[yo] || (x[xi] != x[xi] && y[yo] != y[yo]))) {
            first[yo] = 1;
            gx[xi] += gy[yo];
        });
        break;
    case SHR_OP_REDUCE_PROD:
        /* d prod / dx_i = product of the others: y / x_i, or from the nonzero
         * product when x_i is the only zero (0 when there are more). */
        for (int64_t i = 0; i < g->ys; i++) {
            acc[i] = 1.0;
            zeros[i] = 0;
        }
        EACH(g, if (x[xi] == 0.0f) zeros[yo]++; else acc[yo] *= x[xi]);
        EACH(g, {
            float c = x[xi] != 0.0f ? (zeros[yo] ? 0.0f : (float)(acc[yo] / x[xi])) : (zeros[yo] == 1 ? (float)acc[yo] : 0.0f);
            gx[xi] += gy[yo] * c;
        });
        break;
    default: break;
    }
}

static shr_status reduce_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    const shr_node *nd = io->node;
    const shr_tensor *x = io->in[0];
    if (!dout || dout->numel != io->out->numel || din[0]->numel != x->numel)
        return shr_node_fail(SHR_ERR_SHAPE, nd, shr_op_name(nd->op), "gradient sizes differ");
    rgeo g;
    SHR_TRY(geometry(nd, x, io->out, &g));
    const int64_t N = x->shape[0];
    const float *px = shr_f32(x), *py = shr_f32(io->out), *pgy = shr_f32(dout);
    float *pgx = shr_f32(din[0]);
    int failed = 0;
#pragma omp parallel if (N > 1 && g.xs * N >= ((int64_t)1 << 15))
    {
        unsigned char *first = malloc((size_t)g.ys);
        double *acc = malloc((size_t)g.ys * sizeof *acc);
        int64_t *zeros = malloc((size_t)g.ys * sizeof *zeros);
        if (!first || !acc || !zeros) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t s = 0; s < N; s++)
            if (first && acc && zeros)
                reduce_grad_sample(nd->op, &g, px + s * g.xs, py + s * g.ys, pgy + s * g.ys, pgx + s * g.xs, first,
                                   acc, zeros);
        free(first);
        free(acc);
        free(zeros);
    }
    if (failed) return shr_fail(SHR_ERR_NOMEM, "out of memory in %s backward", shr_op_name(nd->op));
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

#define REDUCE_DEF(NAME) \
    const shr_op_def shr_op_##NAME = {#NAME, 1, 1, reduce_infer, reduce_forward, reduce_backward, no_flops, NULL}
REDUCE_DEF(reduce_sum);
REDUCE_DEF(reduce_mean);
REDUCE_DEF(reduce_max);
REDUCE_DEF(reduce_min);
REDUCE_DEF(reduce_prod);
REDUCE_DEF(reduce_l1);
REDUCE_DEF(reduce_l2);
REDUCE_DEF(reduce_sum_square);
REDUCE_DEF(reduce_log_sum);
REDUCE_DEF(reduce_log_sum_exp);
