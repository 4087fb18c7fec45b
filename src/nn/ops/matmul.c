/* matmul (ONNX MatMul, optionally with the bias of a following Add):
 *   [a (N, L..., M, K), b, bias (P) optional] -> y (N, L..., M, P), y = a @ b + bias
 * where b is
 *   - a param/buffer (K, P): one GEMM over all rows of a (any rank >= 2);
 *   - a param/buffer (B..., K, P) whose leading dims align from the right with
 *     L... (each equal or 1): one GEMM per matrix of a;
 *   - an activation (N, L..., K, P) of a's rank (>= 3): one GEMM per matrix.
 * Layout: row-major matrices, GEMMs through shr_gemm_f32 (deterministic for any
 * thread count). Backward: da = dy b^T, db = a^T dy (summed over the matrices
 * that share a broadcast b, in matrix order), dbias = column sums of dy in row
 * order. FLOPs: 2 * M * K * P per matrix of a sample. */
#include <limits.h>

#include "kernels/kernels.h"
#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_util.h"

static const char *const OP = "matmul";

static shr_status matmul_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *a = shr_node_in(g, n, 0), *b = shr_node_in(g, n, 1), *bias = shr_node_in(g, n, 2);
    if (n->n_inputs < 2 || n->n_inputs > 3 || !a || !b) return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "expects [a, b, bias?]");
    const int ra = a->ndim, rb = b->ndim;
    shr_shape_text ta = shr_shape_text_of(ra, a->shape), tb = shr_shape_text_of(rb, b->shape);
    if (ra < 2 || rb < 2) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "operands %s and %s need rank >= 2", ta.s, tb.s);
    const int64_t K = a->shape[ra - 1], P = b->shape[rb - 1];
    if (b->shape[rb - 2] != K)
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "inner dims of %s and %s differ", ta.s, tb.s);
    if (shr_value_is_data(b)) {
        int ok = rb == ra && ra >= 3;
        for (int d = 1; ok && d < ra - 2; d++) ok = b->shape[d] == a->shape[d];
        if (!ok) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "activations %s and %s need the same leading dims", ta.s, tb.s);
    } else if (rb > 2) {
        int lead_a = ra - 3, lead_b = rb - 2, ok = lead_b <= lead_a;
        for (int j = 0; ok && j < lead_b; j++) {
            int64_t bd = b->shape[rb - 3 - j], ad = a->shape[ra - 3 - j];
            ok = bd == ad || bd == 1;
        }
        if (!ok) return shr_node_fail(SHR_ERR_SHAPE, n, OP, "constant %s does not broadcast against %s", tb.s, ta.s);
    }
    if (bias && (shr_value_is_data(bias) || bias->ndim != 1 || bias->shape[0] != P))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "bias %s must be a constant of shape [%lld]",
                             shr_shape_text_of(bias->ndim, bias->shape).s, (long long)P);
    for (int d = 0; d < ra; d++) shape[d] = a->shape[d];
    shape[ra - 1] = P;
    *ndim = ra;
    if (!shr_sample_fits(ra, shape) || P > INT_MAX || K > INT_MAX)
        return shr_node_fail(SHR_ERR_LIMIT, n, OP, "output is too large");
    return SHR_OK;
}

typedef struct mgeo {
    int M, K, P;
    int64_t mats;   /* matrices of a in the batch (1 with rows = all rows when b is one shared matrix) */
    int shared;     /* b is one (K, P) matrix for every row */
    int b_act;      /* b is an activation: one b matrix per a matrix */
    int nlead;      /* broadcast constant: a lead dims (N included) and b strides per lead dim */
    int64_t lead[SHR_MAX_DIMS], bstr[SHR_MAX_DIMS];
} mgeo;

static shr_status geometry(const shr_op_io *io, mgeo *g) {
    const shr_tensor *a = io->in[0], *b = io->in[1];
    const int ra = a->ndim, rb = b->ndim;
    const int64_t K = a->shape[ra - 1], P = b->shape[rb - 1];
    if (K < 1 || P < 1 || io->out->numel != a->numel / K * P)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "tensors do not match");
    g->K = (int)K;
    g->P = (int)P;
    g->b_act = shr_value_is_data(&io->g->values[io->node->inputs[1]]);
    g->shared = !g->b_act && rb == 2;
    int64_t rows = a->numel / K;
    if (g->shared) {
        if (rows > INT_MAX) return shr_node_fail(SHR_ERR_LIMIT, io->node, OP, "too many rows for one GEMM");
        g->M = (int)rows;
        g->mats = 1;
        g->nlead = 0;
        return SHR_OK;
    }
    g->M = (int)a->shape[ra - 2];
    g->mats = rows / g->M;
    g->nlead = ra - 2;
    int64_t s = 1;
    for (int d = ra - 3; d >= 0; d--) {
        g->lead[d] = a->shape[d];
        int j = ra - 3 - d; /* position from the right among the lead dims */
        int64_t bd = (!g->b_act && j < rb - 2) ? b->shape[rb - 3 - j] : 1;
        g->bstr[d] = (g->b_act || bd == 1) ? 0 : s;
        if (!g->b_act && j < rb - 2) s *= bd;
    }
    return SHR_OK;
}

/* Offset (in matrices) of the b matrix that multiplies a matrix t. */
static int64_t b_matrix(const mgeo *g, int64_t t) {
    if (g->b_act) return t;
    int64_t m = 0;
    for (int d = g->nlead - 1; d >= 0; d--) {
        m += (t % g->lead[d]) * g->bstr[d];
        t /= g->lead[d];
    }
    return m;
}

static shr_status matmul_forward(shr_op_io *io) {
    mgeo g;
    SHR_TRY(geometry(io, &g));
    const shr_tensor *bias = io->node->n_inputs > 2 ? io->in[2] : NULL;
    const float *a = shr_f32(io->in[0]), *b = shr_f32(io->in[1]);
    float *y = shr_f32(io->out);
    const int64_t mk = (int64_t)g.M * g.K, kp = (int64_t)g.K * g.P, mp = (int64_t)g.M * g.P;
    if (bias) {
        const int64_t rows = io->out->numel / g.P;
        for (int64_t r = 0; r < rows; r++) memcpy(y + r * g.P, shr_f32(bias), (size_t)g.P * sizeof(float));
    }
    for (int64_t t = 0; t < g.mats; t++)
        shr_gemm_f32(0, 0, g.M, g.P, g.K, 1.0f, a + t * mk, g.K, b + b_matrix(&g, t) * kp, g.P, bias ? 1.0f : 0.0f,
                     y + t * mp, g.P);
    return SHR_OK;
}

static shr_status matmul_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    mgeo g;
    SHR_TRY(geometry(io, &g));
    if (!dout || dout->numel != io->out->numel) return shr_node_fail(SHR_ERR_SHAPE, io->node, OP, "gradient sizes differ");
    const float *a = shr_f32(io->in[0]), *b = shr_f32(io->in[1]), *gy = shr_f32(dout);
    const int64_t mk = (int64_t)g.M * g.K, kp = (int64_t)g.K * g.P, mp = (int64_t)g.M * g.P;
    for (int64_t t = 0; t < g.mats; t++) {
        const int64_t bm = b_matrix(&g, t);
        if (din[0])
            shr_gemm_f32(0, 1, g.M, g.K, g.P, 1.0f, gy + t * mp, g.P, b + bm * kp, g.P, 1.0f, shr_f32(din[0]) + t * mk, g.K);
        if (din[1])
            shr_gemm_f32(1, 0, g.K, g.P, g.M, 1.0f, a + t * mk, g.K, gy + t * mp, g.P, 1.0f, shr_f32(din[1]) + bm * kp, g.P);
    }
    if (io->node->n_inputs > 2 && din[2]) {
        float *gb = shr_f32(din[2]);
        const int64_t rows = dout->numel / g.P;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = gy + r * g.P;
#pragma omp simd
            for (int p = 0; p < g.P; p++) gb[p] += row[p];
        }
    }
    return SHR_OK;
}

static int64_t matmul_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *a = shr_node_in(g, n, 0), *b = shr_node_in(g, n, 1);
    int64_t per = 1; /* a's elements per sample / K = rows per sample */
    for (int d = 1; d < a->ndim - 1; d++) per *= a->shape[d];
    return 2 * per * a->shape[a->ndim - 1] * b->shape[b->ndim - 1];
}

const shr_op_def shr_op_matmul = {"matmul", 2, 3, matmul_infer, matmul_forward, matmul_backward, matmul_flops, NULL};
