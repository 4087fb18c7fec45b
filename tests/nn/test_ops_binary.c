/* Broadcasting binary ops added for ONNX (binary.c): forward values against
 * an index-by-index broadcast in double, backward of both operands against
 * central differences (a constant b as a trainable param, an activation b with
 * its own broadcasting), and the shape errors of infer. */
#include <math.h>
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "op_case.h"

static const op_reg regs[] = {
    {SHR_OP_ADD_BCAST, &shr_op_add_bcast}, {SHR_OP_SUB, &shr_op_sub}, {SHR_OP_MUL, &shr_op_mul},
    {SHR_OP_DIV, &shr_op_div},             {SHR_OP_POW, &shr_op_pow}, {SHR_OP_MAX, &shr_op_max},
    {SHR_OP_MIN, &shr_op_min},             {SHR_OP_PRELU, &shr_op_prelu},
};
#define N_OPS (sizeof regs / sizeof regs[0])

static double ref(shr_op op, double u, double v) {
    switch (op) {
    case SHR_OP_ADD_BCAST: return u + v;
    case SHR_OP_SUB: return u - v;
    case SHR_OP_MUL: return u * v;
    case SHR_OP_DIV: return u / v;
    case SHR_OP_POW: return pow(u, v);
    case SHR_OP_MAX: return u > v ? u : v;
    case SHR_OP_MIN: return u < v ? u : v;
    case SHR_OP_PRELU: return u > 0 ? u : u * v;
    default: return NAN;
    }
}

/* Offset of the element of t (rank <= y's, aligned right, size-1 dims
 * broadcast) that output multi-index idx reads. */
static int64_t bcast_offset(const shr_tensor *t, const shr_tensor *y, const int64_t *idx) {
    int64_t off = 0, off_d = y->ndim - t->ndim;
    for (int d = 0; d < t->ndim; d++) off = off * t->shape[d] + (t->shape[d] == 1 ? 0 : idx[d + off_d]);
    return off;
}

static void check_forward(op_case *c, shr_op op) {
    CHECK_OK(run_fwd(c));
    const shr_tensor *y = c->out;
    int64_t idx[SHR_MAX_DIMS] = {0};
    double worst = 0;
    for (int64_t e = 0; e < y->numel; e++) {
        int64_t q = e;
        for (int d = y->ndim - 1; d >= 0; d--) {
            idx[d] = q % y->shape[d];
            q /= y->shape[d];
        }
        double want = ref(op, shr_f32(c->in[0])[bcast_offset(c->in[0], y, idx)], shr_f32(c->in[1])[bcast_offset(c->in[1], y, idx)]);
        worst = fmax(worst, fabs(shr_f32(y)[e] - want) / fmax(1.0, fabs(want)));
    }
    CHECK_MSG(worst < 1e-6, "%s: forward error %g", shr_op_name(op), worst);
}

/* Inputs: a in (0.5, 2) for pow (positive base), else (-2, 2) kept 0.1 from 0
 * (prelu's kink); b in (0.5, 2) (div, pow); max/min operands kept apart. */
static void fill_operands(op_case *c, shr_rng *r, shr_op op) {
    for (int i = 0; i < 2; i++) {
        shr_tensor *t = c->in[i];
        for (int64_t e = 0; e < t->numel; e++) {
            float v;
            do {
                v = (op == SHR_OP_POW || i == 1) ? 0.5f + 1.5f * shr_rng_uniform(r) : -2.0f + 4.0f * shr_rng_uniform(r);
            } while (fabsf(v) < 0.1f);
            if ((op == SHR_OP_MAX || op == SHR_OP_MIN) && i == 1) v = -v; /* b < 0 < a or far from a */
            shr_f32(t)[e] = v;
        }
    }
}

/* Node `node` of g at batch n: forward values, then every gradient. Frees g. */
static void check_node(shr_graph *g, int node, int64_t n, shr_op op, shr_rng *r) {
    op_case c;
    case_init(&c, g, node, n);
    fill_operands(&c, r, op);
    c.training = 0;
    check_forward(&c, op);
    c.training = 1;
    grad_check_all(&c, r, 0, 1e-3f, 1e-2, shr_op_name(op));
    case_free(&c);
}

/* a (N, 3, 4, 5) op a constant b of shape bshape (a trainable param). */
static void check_const_case(shr_op op, int bnd, const int64_t *bshape, shr_rng *r) {
    shr_graph *g;
    int x, b, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){3, 4, 5}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "b", SHR_VALUE_PARAM, bnd, bshape, &b));
    CHECK_OK(shr_graph_add_node(g, "n", op, NULL, 2, (int[]){x, b}, &y));
    CHECK_OK(shr_graph_validate(g));
    check_node(g, 0, 2, op, r);
}

/* Two activations that broadcast against each other: (N, 3, 1, 5) op (N, 1, 4, 5). */
static void check_act_case(shr_op op, shr_rng *r) {
    shr_graph *g;
    int x, a, b, y;
    shr_attrs ra = shr_attrs_default(), rb = shr_attrs_default();
    ra.ndim = rb.ndim = 1;
    ra.shape[0] = 2;
    rb.shape[0] = 1;
    ra.count_include_pad = rb.count_include_pad = 1;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){3, 4, 5}, &x));
    CHECK_OK(shr_graph_add_node(g, "a", SHR_OP_REDUCE_MAX, &ra, 1, &x, &a));
    CHECK_OK(shr_graph_add_node(g, "b", SHR_OP_REDUCE_MAX, &rb, 1, &x, &b));
    CHECK_OK(shr_graph_add_node(g, "n", op, NULL, 2, (int[]){a, b}, &y));
    const shr_value *out = &g->values[y];
    CHECK(out->ndim == 4 && out->shape[0] == -1 && out->shape[1] == 3 && out->shape[2] == 4 && out->shape[3] == 5);
    check_node(g, 2, 3, op, r);
}

static void test_registered(void) { check_registered(regs, N_OPS); }

static void test_ops(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    for (size_t k = 0; k < N_OPS; k++) {
        shr_op op = regs[k].op;
        check_const_case(op, 3, (int64_t[]){3, 1, 5}, &r);  /* broadcast inside the sample */
        check_const_case(op, 4, (int64_t[]){1, 3, 4, 5}, &r); /* 1 on the batch dim */
        check_const_case(op, 0, NULL, &r);                  /* scalar */
        check_const_case(op, 1, (int64_t[]){5}, &r);        /* last dim only */
        check_act_case(op, &r);
    }
}

static void test_shape_errors(void) {
    shr_graph *g;
    int x, x2, b, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, (int64_t[]){4, 5}, &x));
    CHECK_OK(shr_graph_add_tensor(g, "batchy", SHR_VALUE_PARAM, 3, (int64_t[]){2, 4, 5}, &b));
    CHECK_STATUS(shr_graph_add_node(g, "n1", SHR_OP_MUL, NULL, 2, (int[]){x, b}, &y), SHR_ERR_SHAPE);
    CHECK_OK(shr_graph_add_tensor(g, "wrong", SHR_VALUE_PARAM, 1, (int64_t[]){3}, &b));
    CHECK_STATUS(shr_graph_add_node(g, "n2", SHR_OP_SUB, NULL, 2, (int[]){x, b}, &y), SHR_ERR_SHAPE);
    CHECK_OK(shr_graph_add_tensor(g, "deep", SHR_VALUE_PARAM, 4, (int64_t[]){1, 1, 4, 5}, &b));
    CHECK_STATUS(shr_graph_add_node(g, "n3", SHR_OP_DIV, NULL, 2, (int[]){x, b}, &y), SHR_ERR_SHAPE);
    /* Activations of different rank, and a constant as the first operand. */
    shr_attrs fl = shr_attrs_default();
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_FLATTEN, &fl, 1, &x, &x2));
    CHECK_STATUS(shr_graph_add_node(g, "n4", SHR_OP_ADD_BCAST, NULL, 2, (int[]){x, x2}, &y), SHR_ERR_SHAPE);
    CHECK(shr_graph_add_node(g, "n5", SHR_OP_ADD_BCAST, NULL, 2, (int[]){b, x}, &y) != SHR_OK);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_registered);
    RUN(test_ops);
    RUN(test_shape_errors);
    return test_summary();
}
