/* Broadcasting binary ops with ONNX (numpy) semantics: add_bcast, sub, mul, div,
 * pow, max, min, prelu (a > 0 ? a : a * b).
 *
 * Shapes: a (N, a1..ak) is an activation; b is either an activation of the same
 * rank or a param/buffer of rank <= k+1 (rank k+1 only with 1 in dim 0), aligned
 * from the right. Each output dim is the common size, where a 1 broadcasts.
 * y (N, o1..ok).
 *
 * Layout: row-major. Forward and backward view the three tensors through one
 * geometry: size-1 output dims are dropped and neighbouring dims merged while
 * both inputs stay linear in them, leaving rows x L with per-input strides (0 =
 * broadcast; the innermost stride is 0 or 1). Rows are independent, so forward
 * runs them in parallel. Backward accumulates dL/da and dL/db; a broadcast
 * input's gradient sums several outputs, which then runs serially in row-major
 * order, so results never depend on the thread count.
 * FLOPs: 0 (element-wise, not counted). */
#include <math.h>

#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

#define PAR_MIN ((int64_t)1 << 15)

static shr_status binary_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const char *op = shr_op_name(n->op);
    const shr_value *a = shr_node_in(g, n, 0), *b = shr_node_in(g, n, 1);
    if (n->n_inputs != 2 || !a || !b) return shr_node_fail(SHR_ERR_INVALID_ARG, n, op, "expects 2 inputs");
    const int R = a->ndim, off = R - b->ndim;
    if (shr_value_is_data(b)) {
        if (b->ndim != R)
            return shr_node_fail(SHR_ERR_SHAPE, n, op, "activations %s and %s differ in rank",
                                 shr_shape_text_of(a->ndim, a->shape).s, shr_shape_text_of(b->ndim, b->shape).s);
    } else if (off < 0 || (off == 0 && b->ndim > 0 && b->shape[0] != 1)) {
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "constant %s would broadcast along the batch of %s",
                             shr_shape_text_of(b->ndim, b->shape).s, shr_shape_text_of(a->ndim, a->shape).s);
    }
    shape[0] = -1;
    for (int d = 1; d < R; d++) {
        int64_t ad = a->shape[d], bd = d >= off ? b->shape[d - off] : 1;
        if (ad != bd && ad != 1 && bd != 1)
            return shr_node_fail(SHR_ERR_SHAPE, n, op, "shapes %s and %s do not broadcast",
                                 shr_shape_text_of(a->ndim, a->shape).s, shr_shape_text_of(b->ndim, b->shape).s);
        shape[d] = ad == 1 ? bd : ad;
    }
    *ndim = R;
    if (R < 1 || !shr_sample_fits(R, shape))
        return shr_node_fail(SHR_ERR_LIMIT, n, op, "output %s is empty or too large", shr_shape_text_of(R, shape).s);
    return SHR_OK;
}

typedef struct bgeo {
    int r;
    int64_t dim[SHR_MAX_DIMS], sa[SHR_MAX_DIMS], sb[SHR_MAX_DIMS];
    int64_t rows, L, ia, ib; /* ia, ib: innermost strides (0 or 1) */
} bgeo;

/* The merged geometry of one call, checked against the actual tensors. */
static shr_status geometry(const shr_node *n, const shr_tensor *a, const shr_tensor *b, const shr_tensor *y, bgeo *g) {
    const int R = y->ndim, off = R - b->ndim;
    if (a->ndim != R || off < 0) return shr_node_fail(SHR_ERR_SHAPE, n, shr_op_name(n->op), "tensor ranks differ");
    int64_t dim[SHR_MAX_DIMS], sa[SHR_MAX_DIMS], sb[SHR_MAX_DIMS], ca = 1, cb = 1;
    for (int d = R - 1; d >= 0; d--) {
        int64_t ad = a->shape[d], bd = d >= off ? b->shape[d - off] : 1, od = y->shape[d];
        if ((ad != od && ad != 1) || (bd != od && bd != 1))
            return shr_node_fail(SHR_ERR_SHAPE, n, shr_op_name(n->op), "tensors do not broadcast to the output");
        dim[d] = od;
        sa[d] = ad == 1 ? 0 : ca;
        sb[d] = bd == 1 ? 0 : cb;
        ca *= ad;
        cb *= bd;
    }
    g->r = 0;
    for (int d = 0; d < R; d++) {
        if (dim[d] == 1) continue;
        int k = g->r;
        if (k > 0 && g->sa[k - 1] == sa[d] * dim[d] && g->sb[k - 1] == sb[d] * dim[d]) {
            g->dim[k - 1] *= dim[d]; /* the previous dim continues linearly into this one */
            g->sa[k - 1] = sa[d];
            g->sb[k - 1] = sb[d];
            continue;
        }
        g->dim[k] = dim[d];
        g->sa[k] = sa[d];
        g->sb[k] = sb[d];
        g->r++;
    }
    if (g->r == 0) {
        g->r = 1;
        g->dim[0] = 1;
        g->sa[0] = g->sb[0] = 0;
    }
    g->L = g->dim[g->r - 1];
    g->ia = g->sa[g->r - 1];
    g->ib = g->sb[g->r - 1];
    g->rows = 1;
    for (int d = 0; d < g->r - 1; d++) g->rows *= g->dim[d];
    return SHR_OK;
}

static inline void row_offsets(const bgeo *g, int64_t q, int64_t *ao, int64_t *bo) {
    int64_t oa = 0, ob = 0;
    for (int d = g->r - 2; d >= 0; d--) {
        int64_t i = q % g->dim[d];
        q /= g->dim[d];
        oa += i * g->sa[d];
        ob += i * g->sb[d];
    }
    *ao = oa;
    *bo = ob;
}

/* One output row: u = a element, v = b element; the four stride cases keep the
 * inner loops simple enough to vectorize. */
#define FWD(EXPR)                                                                          \
    do {                                                                                   \
        _Pragma("omp parallel for schedule(static) if (g.rows * g.L >= PAR_MIN && g.rows > 1)") \
        for (int64_t q = 0; q < g.rows; q++) {                                             \
            int64_t ao, bo;                                                                \
            row_offsets(&g, q, &ao, &bo);                                                  \
            const float *pa = A + ao, *pb = B + bo;                                        \
            float *py = Y + q * g.L;                                                       \
            if (g.ia && g.ib) {                                                            \
                for (int64_t i = 0; i < g.L; i++) { const float u = pa[i], v = pb[i]; py[i] = (EXPR); } \
            } else if (g.ia) {                                                             \
                const float v = pb[0];                                                     \
                for (int64_t i = 0; i < g.L; i++) { const float u = pa[i]; py[i] = (EXPR); } \
            } else if (g.ib) {                                                             \
                const float u = pa[0];                                                     \
                for (int64_t i = 0; i < g.L; i++) { const float v = pb[i]; py[i] = (EXPR); } \
            } else {                                                                       \
                const float u = pa[0], v = pb[0];                                          \
                const float c = (EXPR);                                                    \
                for (int64_t i = 0; i < g.L; i++) py[i] = c;                               \
            }                                                                              \
        }                                                                                  \
    } while (0)

static inline float prelu(float u, float v) { return u > 0.0f ? u : u * v; }
static inline float maxnan(float u, float v) { return (u >= v || u != u) ? u : v; }
static inline float minnan(float u, float v) { return (u <= v || u != u) ? u : v; }

static shr_status binary_forward(shr_op_io *io) {
    const shr_node *nd = io->node;
    if (!io->in[0] || !io->in[1] || !io->out)
        return shr_node_fail(SHR_ERR_INVALID_ARG, nd, shr_op_name(nd->op), "missing tensor");
    bgeo g;
    SHR_TRY(geometry(nd, io->in[0], io->in[1], io->out, &g));
    const float *A = shr_f32(io->in[0]), *B = shr_f32(io->in[1]);
    float *Y = shr_f32(io->out);
    switch (nd->op) {
    case SHR_OP_ADD_BCAST: FWD(u + v); break;
    case SHR_OP_SUB: FWD(u - v); break;
    case SHR_OP_MUL: FWD(u * v); break;
    case SHR_OP_DIV: FWD(u / v); break;
    case SHR_OP_POW: FWD(powf(u, v)); break;
    case SHR_OP_MAX: FWD(maxnan(u, v)); break;
    case SHR_OP_MIN: FWD(minnan(u, v)); break;
    case SHR_OP_PRELU: FWD(prelu(u, v)); break;
    default: return shr_node_fail(SHR_ERR_INTERNAL, nd, shr_op_name(nd->op), "not a binary op");
    }
    return SHR_OK;
}

/* ga/gb (either may be NULL) += dy * CA / CB, with u, v, o = a, b, y elements.
 * Parallel over rows only when no requested gradient is broadcast. */
#define BWD(CA, CB)                                                                        \
    do {                                                                                   \
        _Pragma("omp parallel for schedule(static) if (par)")                             \
        for (int64_t q = 0; q < g.rows; q++) {                                             \
            int64_t ao, bo;                                                                \
            row_offsets(&g, q, &ao, &bo);                                                  \
            for (int64_t i = 0; i < g.L; i++) {                                            \
                const float u = A[ao + i * g.ia], v = B[bo + i * g.ib], o = Y[q * g.L + i];  \
                const float dy = GY[q * g.L + i];                                          \
                (void)u;                                                                   \
                (void)v;                                                                   \
                (void)o;                                                                   \
                if (GA) GA[ao + i * g.ia] += dy * (CA);                                    \
                if (GB) GB[bo + i * g.ib] += dy * (CB);                                    \
            }                                                                              \
        }                                                                                  \
    } while (0)

static shr_status binary_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    const shr_node *nd = io->node;
    if (!din[0] && !din[1]) return SHR_OK;
    const shr_tensor *ta = io->in[0], *tb = io->in[1];
    if (!dout || dout->numel != io->out->numel || (din[0] && din[0]->numel != ta->numel) ||
        (din[1] && din[1]->numel != tb->numel))
        return shr_node_fail(SHR_ERR_SHAPE, nd, shr_op_name(nd->op), "gradient sizes differ");
    bgeo g;
    SHR_TRY(geometry(nd, ta, tb, io->out, &g));
    const float *A = shr_f32(ta), *B = shr_f32(tb), *Y = shr_f32(io->out), *GY = shr_f32(dout);
    float *GA = din[0] ? shr_f32(din[0]) : NULL, *GB = din[1] ? shr_f32(din[1]) : NULL;
    const int64_t ny = io->out->numel;
    const int par = ny >= PAR_MIN && g.rows > 1 && (!GA || ta->numel == ny) && (!GB || tb->numel == ny);
    switch (nd->op) {
    case SHR_OP_ADD_BCAST: BWD(1.0f, 1.0f); break;
    case SHR_OP_SUB: BWD(1.0f, -1.0f); break;
    case SHR_OP_MUL: BWD(v, u); break;
    case SHR_OP_DIV: BWD(1.0f / v, -o / v); break;
    case SHR_OP_POW: BWD(v * powf(u, v - 1.0f), u > 0.0f ? o * logf(u) : 0.0f); break;
    case SHR_OP_MAX: BWD((u >= v || u != u) ? 1.0f : 0.0f, (u >= v || u != u) ? 0.0f : 1.0f); break;
    case SHR_OP_MIN: BWD((u <= v || u != u) ? 1.0f : 0.0f, (u <= v || u != u) ? 0.0f : 1.0f); break;
    case SHR_OP_PRELU: BWD(u > 0.0f ? 1.0f : v, u > 0.0f ? 0.0f : u); break;
    default: return shr_node_fail(SHR_ERR_INTERNAL, nd, shr_op_name(nd->op), "not a binary op");
    }
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

#define BINARY_DEF(NAME) \
    const shr_op_def shr_op_##NAME = {#NAME, 2, 2, binary_infer, binary_forward, binary_backward, no_flops, NULL}
BINARY_DEF(add_bcast);
BINARY_DEF(sub);
BINARY_DEF(mul);
BINARY_DEF(div);
BINARY_DEF(pow);
BINARY_DEF(max);
BINARY_DEF(min);
BINARY_DEF(prelu);
