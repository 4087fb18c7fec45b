/* Data-movement and matrix ops added for ONNX: transpose, pad (constant,
 * reflect, edge), gather, matmul (shared, broadcast and activation b, bias),
 * batch_const. Forward against index arithmetic, backward against central
 * differences, and the errors infer reports. */
#include <math.h>
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "op_case.h"

static const op_reg regs[] = {
    {SHR_OP_TRANSPOSE, &shr_op_transpose}, {SHR_OP_PAD, &shr_op_pad},           {SHR_OP_GATHER, &shr_op_gather},
    {SHR_OP_MATMUL, &shr_op_matmul},       {SHR_OP_BATCH_CONST, &shr_op_batch_const},
};

static void test_registered(void) { check_registered(regs, sizeof regs / sizeof regs[0]); }

static void test_transpose(void) {
    shr_rng r;
    shr_rng_seed(&r, 1);
    shr_attrs a = shr_attrs_default();
    a.ndim = 4;
    const int64_t perm[4] = {0, 3, 1, 2};
    memcpy(a.shape, perm, sizeof perm);
    shr_graph *g;
    int node = one_node(&g, SHR_OP_TRANSPOSE, &a, 3, (int64_t[]){2, 3, 4});
    const shr_value *o = &g->values[g->nodes[node].output];
    CHECK(o->shape[1] == 4 && o->shape[2] == 2 && o->shape[3] == 3);
    op_case c;
    case_init_normal(&c, g, node, 2, &r);
    CHECK_OK(run_fwd(&c));
    const float *x = shr_f32(c.in[0]), *y = shr_f32(c.out);
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) bad += y[((n * 4 + k) * 2 + i) * 3 + j] != x[((n * 2 + i) * 3 + j) * 4 + k];
    CHECK(bad == 0);
    grad_check(&c, 0, 1e-2f, 1e-3);
    case_free(&c);
    a.shape[0] = 1; /* moving the batch is refused */
    a.shape[1] = 0;
    int x0, y0;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){2, 3, 4}, &x0));
    CHECK_STATUS(shr_graph_add_node(g, "t", SHR_OP_TRANSPOSE, &a, 1, &x0, &y0), SHR_ERR_INVALID_ARG);
    shr_graph_free(g);
}

static int64_t pad_src(int mode, int64_t i, int64_t len) {
    if (i >= 0 && i < len) return i;
    if (mode == 0) return -1;
    if (mode == 2) return i < 0 ? 0 : len - 1;
    return i < 0 ? -i : 2 * (len - 1) - i;
}

static void test_pad(void) {
    shr_rng r;
    shr_rng_seed(&r, 2);
    for (int mode = 0; mode < 3; mode++) {
        const int pads[4] = {1, 2, 2, 0};
        shr_attrs a = shr_attrs_default();
        memcpy(a.pad, pads, sizeof pads);
        a.groups = mode;
        a.alpha = 1.5f;
        shr_graph *g;
        int node = one_node(&g, SHR_OP_PAD, &a, 3, (int64_t[]){2, 3, 4});
        op_case c;
        case_init_normal(&c, g, node, 2, &r);
        CHECK(c.out->shape[2] == 6 && c.out->shape[3] == 6);
        CHECK_OK(run_fwd(&c));
        const float *x = shr_f32(c.in[0]), *y = shr_f32(c.out);
        int bad = 0;
        for (int p = 0; p < 4; p++)
            for (int oh = 0; oh < 6; oh++)
                for (int ow = 0; ow < 6; ow++) {
                    int64_t ih = pad_src(mode, oh - 1, 3), iw = pad_src(mode, ow - 2, 4);
                    float want = (ih < 0 || iw < 0) ? 1.5f : x[(p * 3 + ih) * 4 + iw];
                    bad += y[(p * 6 + oh) * 6 + ow] != want;
                }
        CHECK_MSG(bad == 0, "pad mode %d: %d wrong values", mode, bad);
        grad_check(&c, 0, 1e-2f, 1e-3);
        case_free(&c);
    }
    shr_attrs a = shr_attrs_default();
    a.groups = 1;
    a.pad[0] = 3; /* reflect pad as large as the dim */
    int x0, y0;
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){2, 3, 4}, &x0));
    CHECK_STATUS(shr_graph_add_node(g, "p", SHR_OP_PAD, &a, 1, &x0, &y0), SHR_ERR_SHAPE);
    shr_graph_free(g);
}

static void test_gather(void) {
    shr_rng r;
    shr_rng_seed(&r, 3);
    shr_graph *g;
    int x, ix, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){3, 4, 2}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "idx", SHR_VALUE_BUFFER, 2, (int64_t[]){2, 3}, &ix));
    const float idx[6] = {3, 0, 3, 1, 1, 2}; /* repeats: their gradients add up */
    memcpy(g->values[ix].data->data, idx, sizeof idx);
    shr_attrs a = shr_attrs_default();
    a.axis = 2;
    CHECK_OK(shr_graph_add_node(g, "gather", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y));
    const shr_value *o = &g->values[y];
    CHECK(o->ndim == 5 && o->shape[1] == 3 && o->shape[2] == 2 && o->shape[3] == 3 && o->shape[4] == 2);
    CHECK_OK(shr_graph_validate(g));
    op_case c;
    case_init_normal(&c, g, 0, 2, &r);
    memcpy(c.in[1]->data, idx, sizeof idx);
    CHECK_OK(run_fwd(&c));
    const float *px = shr_f32(c.in[0]), *py = shr_f32(c.out);
    int bad = 0;
    for (int o1 = 0; o1 < 6; o1++)
        for (int j = 0; j < 6; j++)
            for (int i = 0; i < 2; i++) bad += py[(o1 * 6 + j) * 2 + i] != px[(o1 * 4 + (int)idx[j]) * 2 + i];
    CHECK(bad == 0);
    const fd_opts fo = {1e-2f, 1e-3, 1, 0, 0, NULL, "gather"};
    grad_check_opts(&c, &fo);
    case_free(&c);
    /* Indices out of range, fractional, or trainable are refused. */
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, (int64_t[]){3, 4}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "i1", SHR_VALUE_BUFFER, 1, (int64_t[]){1}, &ix));
    shr_f32(g->values[ix].data)[0] = 4.0f;
    CHECK_STATUS(shr_graph_add_node(g, "g1", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y), SHR_ERR_INVALID_ARG);
    shr_f32(g->values[ix].data)[0] = 1.5f;
    CHECK_STATUS(shr_graph_add_node(g, "g2", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y), SHR_ERR_INVALID_ARG);
    shr_f32(g->values[ix].data)[0] = -1.0f;
    CHECK_STATUS(shr_graph_add_node(g, "g3", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y), SHR_ERR_INVALID_ARG);
    CHECK_OK(shr_graph_add_tensor(g, "i2", SHR_VALUE_PARAM, 1, (int64_t[]){1}, &ix));
    CHECK_STATUS(shr_graph_add_node(g, "g4", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y), SHR_ERR_INVALID_ARG);
    a.axis = 0;
    shr_f32(g->values[ix - 0].data)[0] = 0.0f;
    CHECK_STATUS(shr_graph_add_node(g, "g5", SHR_OP_GATHER, &a, 2, (int[]){x, ix}, &y), SHR_ERR_INVALID_ARG);
    shr_graph_free(g);
}

/* y = a @ b (+ bias) in double for matrix t of a, b matrix bm. */
static double mm_ref(const float *a, const float *b, const float *bias, int M, int K, int P, int64_t t, int64_t bm,
                     int m, int p) {
    double s = bias ? bias[p] : 0.0;
    for (int k = 0; k < K; k++) s += (double)a[(t * M + m) * K + k] * b[(bm * K + k) * P + p];
    return s;
}

/* kind 0: b (K, P) param + bias; 1: b (2, 1, K, P) param broadcast over a's
 * (N, 2, 3, M, K); 2: b an activation (N, 2, 3, K, P). */
static void check_matmul(int kind, shr_rng *r) {
    const int M = 3, K = 4, P = 5;
    shr_graph *g;
    int x, b = -1, bias = -1, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "a", 4, (int64_t[]){2, 3, M, K}, &x));
    if (kind == 0) CHECK_OK(shr_graph_add_tensor(g, "b", SHR_VALUE_PARAM, 2, (int64_t[]){K, P}, &b));
    if (kind == 0) CHECK_OK(shr_graph_add_tensor(g, "bias", SHR_VALUE_PARAM, 1, (int64_t[]){P}, &bias));
    if (kind == 1) CHECK_OK(shr_graph_add_tensor(g, "b", SHR_VALUE_PARAM, 4, (int64_t[]){2, 1, K, P}, &b));
    if (kind == 2) {
        shr_attrs ra = shr_attrs_default();
        ra.ndim = 4;
        memcpy(ra.shape, (int64_t[]){2, 3, K, M}, 4 * sizeof(int64_t));
        CHECK_OK(shr_graph_add_node(g, "bt", SHR_OP_RESHAPE, &ra, 1, &x, &b)); /* any (N, 2, 3, K, M) activation */
    }
    int ins[3] = {x, b, bias};
    CHECK_OK(shr_graph_add_node(g, "mm", SHR_OP_MATMUL, NULL, kind == 0 ? 3 : 2, ins, &y));
    CHECK_OK(shr_graph_validate(g));
    const int node = g->n_nodes - 1;
    CHECK(shr_node_flops(g, node) == 2LL * 6 * M * K * (kind == 2 ? M : P));
    op_case c;
    case_init_normal(&c, g, node, 2, r);
    CHECK_OK(run_fwd(&c));
    const int PP = kind == 2 ? M : P;
    const float *pa = shr_f32(c.in[0]), *pb = shr_f32(c.in[1]), *pbias = kind == 0 ? shr_f32(c.in[2]) : NULL;
    double worst = 0;
    for (int64_t t = 0; t < 12; t++) {
        int64_t bm = kind == 0 ? 0 : kind == 1 ? (t % 6) / 3 : t;
        for (int m = 0; m < M; m++)
            for (int p = 0; p < PP; p++) {
                double want = kind == 0 ? mm_ref(pa, pb, pbias, 1, K, P, t * M + m, 0, 0, p)
                                        : mm_ref(pa, pb, NULL, M, K, PP, t, bm, m, p);
                worst = fmax(worst, fabs(shr_f32(c.out)[(t * M + m) * PP + p] - want));
            }
    }
    CHECK_MSG(worst < 1e-5, "matmul kind %d: forward error %g", kind, worst);
    grad_check_all(&c, r, 0, 1e-2f, 2e-3, "matmul");
    case_free(&c);
}

static void test_matmul(void) {
    shr_rng r;
    shr_rng_seed(&r, 4);
    for (int kind = 0; kind < 3; kind++) check_matmul(kind, &r);
    shr_graph *g;
    int x, b, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "a", 2, (int64_t[]){3, 4}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "b", SHR_VALUE_PARAM, 2, (int64_t[]){5, 2}, &b));
    CHECK_STATUS(shr_graph_add_node(g, "inner", SHR_OP_MATMUL, NULL, 2, (int[]){x, b}, &y), SHR_ERR_SHAPE);
    CHECK_OK(shr_graph_add_tensor(g, "b3", SHR_VALUE_PARAM, 3, (int64_t[]){2, 4, 2}, &b));
    CHECK_STATUS(shr_graph_add_node(g, "lead", SHR_OP_MATMUL, NULL, 2, (int[]){x, b}, &y), SHR_ERR_SHAPE);
    shr_graph_free(g);
}

static void test_batch_const(void) {
    shr_rng r;
    shr_rng_seed(&r, 6);
    shr_graph *g;
    int x, cst, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 1, (int64_t[]){7}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "c", SHR_VALUE_PARAM, 2, (int64_t[]){2, 3}, &cst));
    CHECK_OK(shr_graph_add_node(g, "bc", SHR_OP_BATCH_CONST, NULL, 2, (int[]){x, cst}, &y));
    CHECK(g->values[y].ndim == 3 && g->values[y].shape[1] == 2 && g->values[y].shape[2] == 3);
    op_case c;
    case_init_normal(&c, g, 0, 3, &r);
    CHECK_OK(run_fwd(&c));
    int bad = 0;
    for (int n = 0; n < 3; n++) bad += memcmp(shr_f32(c.out) + n * 6, c.in[1]->data, 6 * sizeof(float)) != 0;
    CHECK(bad == 0);
    grad_check(&c, 0, 1e-2f, 1e-3);
    case_free(&c);
}

int main(void) {
    RUN(test_registered);
    RUN(test_transpose);
    RUN(test_pad);
    RUN(test_gather);
    RUN(test_matmul);
    RUN(test_batch_const);
    return test_summary();
}
