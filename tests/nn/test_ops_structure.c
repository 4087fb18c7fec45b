/* Structure ops: flatten, reshape, add, concat. Forward values against index
 * arithmetic, every backward against central differences of L = sum(out * R),
 * accumulation (+=), and shape errors from shr_graph_add_node. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_case.h"

static void fill_iota(shr_tensor *t, float base) {
    for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] = base + (float)i;
}

static int same_shape(const shr_value *v, int ndim, const int64_t *shape) {
    if (v->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (v->shape[d] != shape[d]) return 0;
    return 1;
}

/* ---- flatten / reshape ---- */

/* Flatten and reshape copy the bytes (eval forward of an iota from `base`), and
 * their backward passes the gradient through (training, random x). Frees c. */
static void check_copy(op_case *c, float base, shr_rng *r) {
    fill_iota(c->in[0], base);
    c->training = 0;
    CHECK_OK(run_fwd(c));
    CHECK(memcmp(c->in[0]->data, c->out->data, c->out->nbytes) == 0);
    fill(c->in[0], r, -1.0f, 1.0f);
    c->training = 1;
    grad_check(c, 0, 1e-2f, 1e-3);
    case_free(c);
}

static void test_flatten(void) {
    shr_rng r;
    shr_rng_seed(&r, 1);
    int64_t sample[3] = {3, 5, 7};
    shr_graph *g;
    op_case c;
    int node = one_node(&g, SHR_OP_FLATTEN, NULL, 3, sample);
    CHECK(same_shape(&g->values[g->nodes[node].output], 2, (int64_t[]){-1, 105}));
    CHECK(shr_node_flops(g, node) == 0);
    CHECK_OK(shr_graph_validate(g));
    case_init(&c, g, node, 3);
    CHECK(c.out->shape[0] == 3 && c.out->shape[1] == 105);
    check_copy(&c, -7.0f, &r);

    /* Rank-1 samples flatten to (N, d). */
    node = one_node(&g, SHR_OP_FLATTEN, NULL, 1, (int64_t[]){4});
    CHECK(same_shape(&g->values[g->nodes[node].output], 2, (int64_t[]){-1, 4}));
    shr_graph_free(g);
}

static void test_reshape(void) {
    shr_rng r;
    shr_rng_seed(&r, 2);
    shr_attrs a = shr_attrs_default();
    a.ndim = 3;
    a.shape[0] = 3;
    a.shape[1] = -1;
    a.shape[2] = 2;
    int64_t sample[2] = {6, 5};
    shr_graph *g;
    op_case c;
    int node = one_node(&g, SHR_OP_RESHAPE, &a, 2, sample);
    CHECK(same_shape(&g->values[g->nodes[node].output], 4, (int64_t[]){-1, 3, 5, 2}));
    CHECK_OK(shr_graph_validate(g));
    case_init(&c, g, node, 2);
    check_copy(&c, 3.0f, &r);

    /* No -1: an exact shape. */
    a.ndim = 2;
    a.shape[0] = 10;
    a.shape[1] = 3;
    node = one_node(&g, SHR_OP_RESHAPE, &a, 2, sample);
    CHECK(same_shape(&g->values[g->nodes[node].output], 3, (int64_t[]){-1, 10, 3}));
    shr_graph_free(g);
}

static void test_reshape_errors(void) {
    static const struct {
        int ndim;
        int64_t shape[3];
    } bad[] = {
        {2, {4, -1}},    /* 30 is not a multiple of 4 */
        {2, {-1, -1}},   /* two holes */
        {1, {7}},        /* wrong count */
        {2, {0, 30}},    /* zero dim */
        {2, {0, -1}},    /* zero dim next to a hole */
        {2, {-2, 15}},   /* negative dim */
        {0, {0}},        /* empty target */
        {3, {INT64_MAX, 2, -1}}, /* overflow */
    };
    shr_graph *g;
    int x, y, w;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, (int64_t[]){6, 5}, &x));
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        shr_attrs a = shr_attrs_default();
        a.ndim = bad[k].ndim;
        for (int d = 0; d < 3; d++) a.shape[d] = bad[k].shape[d];
        CHECK_STATUS(shr_graph_add_node(g, "rs", SHR_OP_RESHAPE, &a, 1, &x, &y), SHR_ERR_SHAPE);
        CHECK_MSG(strstr(shr_last_error(), "'rs' (reshape)") != NULL, "message: %s", shr_last_error());
    }
    /* A param has no batch dimension. */
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, (int64_t[]){6, 5}, &w));
    CHECK_STATUS(shr_graph_add_node(g, "fl", SHR_OP_FLATTEN, NULL, 1, &w, &y), SHR_ERR_SHAPE);
    CHECK(g->n_nodes == 0);
    shr_graph_free(g);
}

/* ---- add ---- */

static void test_add(void) {
    shr_rng r;
    shr_rng_seed(&r, 3);
    for (int trial = 0; trial < 4; trial++) {
        int64_t sample[3] = {1 + 2 * trial, 5, trial == 3 ? 5000 : 3 + trial}; /* the last one runs in parallel */
        shr_graph *g;
        int x, y;
        CHECK_OK(shr_graph_create(&g));
        CHECK_OK(shr_graph_add_input(g, "x", 3, sample, &x));
        CHECK_OK(shr_graph_add_node(g, "add1", SHR_OP_ADD, NULL, 2, (int[]){x, x}, &y));
        CHECK(same_shape(&g->values[y], 4, (int64_t[]){-1, sample[0], sample[1], sample[2]}));
        op_case c;
        case_init(&c, g, 0, 1 + trial);
        fill(c.in[0], &r, -1.0f, 1.0f);
        fill(c.in[1], &r, -1.0f, 1.0f);
        c.training = 0;
        CHECK_OK(run_fwd(&c));
        int bad = 0;
        for (int64_t i = 0; i < c.out->numel; i++)
            bad += shr_f32(c.out)[i] != shr_f32(c.in[0])[i] + shr_f32(c.in[1])[i];
        CHECK(bad == 0);
        c.training = 1;
        if (trial < 3) grad_check(&c, 0, 1e-2f, 1e-3); /* the large case relies on the exact check below */

        /* Only the requested gradient is written. */
        shr_tensor *dout = NULL, *d1 = NULL;
        CHECK_OK(shr_tensor_create(&dout, SHR_F32, c.out->ndim, c.out->shape));
        CHECK_OK(shr_tensor_create(&d1, SHR_F32, c.in[1]->ndim, c.in[1]->shape));
        fill(dout, &r, -1.0f, 1.0f);
        CHECK_OK(run_bwd(&c, dout, (shr_tensor *[]){NULL, d1}));
        CHECK(memcmp(d1->data, dout->data, d1->nbytes) == 0);
        shr_tensor_free(dout);
        shr_tensor_free(d1);
        case_free(&c);
    }
}

static void test_add_errors(void) {
    shr_graph *g;
    int x, cat, y, fl;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){16, 8, 8}, &x));
    CHECK_OK(shr_graph_add_node(g, "cat", SHR_OP_CONCAT, NULL, 2, (int[]){x, x}, &cat));
    CHECK_STATUS(shr_graph_add_node(g, "add1", SHR_OP_ADD, NULL, 2, (int[]){x, cat}, &y), SHR_ERR_SHAPE);
    CHECK_MSG(strcmp(shr_last_error(), "node 'add1' (add): input shapes [-1, 16, 8, 8] and [-1, 32, 8, 8] differ") == 0,
              "message: %s", shr_last_error());
    CHECK_OK(shr_graph_add_node(g, "fl", SHR_OP_FLATTEN, NULL, 1, &x, &fl));
    CHECK_STATUS(shr_graph_add_node(g, "add2", SHR_OP_ADD, NULL, 2, (int[]){x, fl}, &y), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_graph_add_node(g, "add3", SHR_OP_ADD, NULL, 1, &x, &y), SHR_ERR_INVALID_ARG);
    CHECK(g->n_nodes == 2);
    CHECK_OK(shr_graph_validate(g));
    shr_graph_free(g);
}

/* ---- concat ---- */

/* y[flat] must equal the input element found by walking the axis coordinate
 * through the inputs (index arithmetic independent of the op's block copies).
 * Elements coming from input `skip` are not compared. */
static int concat_mismatches(const shr_tensor *y, shr_tensor *const *in, int axis, int skip) {
    int bad = 0;
    for (int64_t flat = 0; flat < y->numel; flat++) {
        int64_t coord[SHR_MAX_DIMS] = {0}, rem = flat;
        for (int d = y->ndim - 1; d >= 0; d--) {
            coord[d] = rem % y->shape[d];
            rem /= y->shape[d];
        }
        int i = 0;
        while (coord[axis] >= in[i]->shape[axis]) coord[axis] -= in[i++]->shape[axis];
        if (i == skip) continue;
        int64_t src = 0;
        for (int d = 0; d < y->ndim; d++) src = src * in[i]->shape[d] + coord[d];
        bad += shr_f32(y)[flat] != shr_f32(in[i])[src];
    }
    return bad;
}

/* fd: also run the finite-difference check (small shapes only). */
static void concat_case(int ndim, const int64_t *sample, int axis, const int *mult, int fd) {
    /* Inputs: x, concat of mult[1] x's, concat of mult[2] x's -> three different sizes along axis. */
    shr_rng r;
    shr_rng_seed(&r, 4 + (uint64_t)axis);
    shr_graph *g;
    int x, v[3];
    shr_attrs a = shr_attrs_default();
    a.axis = axis;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", ndim, sample, &x));
    v[0] = x;
    for (int k = 1; k < 3; k++) {
        int ins[4] = {x, x, x, x};
        char name[8] = {'c', (char)('0' + k), 0};
        CHECK_OK(shr_graph_add_node(g, name, SHR_OP_CONCAT, &a, mult[k], ins, &v[k]));
    }
    int y;
    CHECK_OK(shr_graph_add_node(g, "cat", SHR_OP_CONCAT, &a, 3, v, &y));
    int full = ndim + 1, ax = axis < 0 ? axis + full : axis;
    int64_t want[SHR_MAX_DIMS] = {-1};
    for (int d = 0; d < ndim; d++) want[d + 1] = sample[d];
    want[ax] = sample[ax - 1] * (1 + mult[1] + mult[2]);
    CHECK(same_shape(&g->values[y], full, want));
    CHECK(shr_node_flops(g, g->n_nodes - 1) == 0);
    CHECK_OK(shr_graph_validate(g));

    for (int64_t batch = 1; batch <= 3; batch++) {
        op_case c;
        case_init(&c, g, g->n_nodes - 1, batch);
        for (int i = 0; i < 3; i++) fill_iota(c.in[i], 1000.0f * (float)i);
        c.training = 0;
        CHECK_OK(run_fwd(&c));
        CHECK_MSG(concat_mismatches(c.out, c.in, ax, -1) == 0, "concat axis %d batch %lld", axis, (long long)batch);
        for (int i = 0; i < 3; i++) fill(c.in[i], &r, -1.0f, 1.0f);
        c.training = 1;
        if (fd) grad_check(&c, 0, 1e-2f, 1e-3);

        /* din[1] absent: the others still get exactly their slices. */
        shr_tensor *dout = NULL, *d0 = NULL, *d2 = NULL;
        CHECK_OK(shr_tensor_create(&dout, SHR_F32, c.out->ndim, c.out->shape));
        CHECK_OK(shr_tensor_create(&d0, SHR_F32, c.in[0]->ndim, c.in[0]->shape));
        CHECK_OK(shr_tensor_create(&d2, SHR_F32, c.in[2]->ndim, c.in[2]->shape));
        fill(dout, &r, -1.0f, 1.0f);
        CHECK_OK(run_bwd(&c, dout, (shr_tensor *[]){d0, NULL, d2}));
        /* Input 1 has no gradient; d0 and d2 must hold exactly their slices of dout. */
        shr_tensor *grads[3] = {d0, c.in[1], d2};
        CHECK(concat_mismatches(dout, grads, ax, 1) == 0);
        shr_tensor_free(dout);
        shr_tensor_free(d0);
        shr_tensor_free(d2);
        case_free_io(&c); /* the graph is shared by the batch loop */
    }
    shr_graph_free(g);
}

static void test_concat(void) {
    concat_case(3, (int64_t[]){2, 3, 5}, 1, (int[]){1, 2, 3}, 1);  /* channels: 2 + 4 + 6 */
    concat_case(2, (int64_t[]){3, 2}, -1, (int[]){1, 3, 2}, 1);    /* last axis: 2 + 6 + 4 */
    concat_case(3, (int64_t[]){3, 1, 7}, 2, (int[]){1, 4, 2}, 1);  /* a middle axis of size 1 */
    concat_case(3, (int64_t[]){2, 3, 5}, -3, (int[]){1, 2, 2}, 1); /* -3 == axis 1 */
    concat_case(3, (int64_t[]){2, 40, 41}, 1, (int[]){1, 2, 3}, 0); /* batch 3 takes the parallel path */
    concat_case(2, (int64_t[]){300, 11}, -1, (int[]){1, 2, 3}, 0);
}

static void test_concat_errors(void) {
    shr_graph *g;
    int x, cat, fl, y;
    shr_attrs a = shr_attrs_default();
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, (int64_t[]){2, 3, 5}, &x));
    CHECK_OK(shr_graph_add_node(g, "cat", SHR_OP_CONCAT, &a, 2, (int[]){x, x}, &cat)); /* (-1, 4, 3, 5) */
    CHECK_OK(shr_graph_add_node(g, "fl", SHR_OP_FLATTEN, NULL, 1, &x, &fl));
    int bad_axes[] = {0, -4, 4, 9};
    for (int k = 0; k < 4; k++) {
        a.axis = bad_axes[k];
        CHECK_STATUS(shr_graph_add_node(g, "c0", SHR_OP_CONCAT, &a, 2, (int[]){x, x}, &y), SHR_ERR_INVALID_ARG);
        CHECK(strstr(shr_last_error(), "'c0' (concat)") != NULL);
    }
    a.axis = 2; /* channels 2 vs 4 differ outside the axis */
    CHECK_STATUS(shr_graph_add_node(g, "c1", SHR_OP_CONCAT, &a, 3, (int[]){x, x, cat}, &y), SHR_ERR_SHAPE);
    CHECK_MSG(strstr(shr_last_error(), "input 2") != NULL, "message: %s", shr_last_error());
    a.axis = 1; /* rank 4 vs rank 2 */
    CHECK_STATUS(shr_graph_add_node(g, "c2", SHR_OP_CONCAT, &a, 2, (int[]){x, fl}, &y), SHR_ERR_SHAPE);
    CHECK_STATUS(shr_graph_add_node(g, "c3", SHR_OP_CONCAT, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    /* Many inputs are fine. */
    int many[10];
    for (int k = 0; k < 10; k++) many[k] = k % 2 ? x : cat;
    CHECK_OK(shr_graph_add_node(g, "c4", SHR_OP_CONCAT, &a, 10, many, &y));
    CHECK(g->values[y].shape[1] == 5 * 2 + 5 * 4);
    CHECK_OK(shr_graph_validate(g));
    shr_graph_free(g);
}

/* ---- registration ---- */

static void test_registered(void) {
    static const op_reg ops[] = {
        {SHR_OP_FLATTEN, &shr_op_flatten},
        {SHR_OP_RESHAPE, &shr_op_reshape},
        {SHR_OP_ADD, &shr_op_add},
        {SHR_OP_CONCAT, &shr_op_concat},
    };
    check_registered(ops, sizeof ops / sizeof ops[0]);
}

int main(void) {
    RUN(test_registered);
    RUN(test_flatten);
    RUN(test_reshape);
    RUN(test_reshape_errors);
    RUN(test_add);
    RUN(test_add_errors);
    RUN(test_concat);
    RUN(test_concat_errors);
    return test_summary();
}
