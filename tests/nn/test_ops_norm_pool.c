/* BatchNorm and pooling ops: forward against naive loops (in double), the
 * running-stat update, gradients against central differences of
 * L = sum(out * R) (din pre-filled: backward must accumulate), BN in training and
 * eval mode, maxpool ties and both argmax paths, and bad shapes in add_node. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_case.h"

/* ---- batchnorm ---- */

/* x sample shape (C) or (C, H, W). eps / momentum 0 take the defaults. */
static shr_graph *bn_graph(int ndim, const int64_t *sample, float eps, float momentum, int *node) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int ins[5];
    int64_t cs[1] = {sample[0]};
    CHECK_OK(shr_graph_add_input(g, "x", ndim, sample, &ins[0]));
    CHECK_OK(shr_graph_add_tensor(g, "bn.gamma", SHR_VALUE_PARAM, 1, cs, &ins[1]));
    CHECK_OK(shr_graph_add_tensor(g, "bn.beta", SHR_VALUE_PARAM, 1, cs, &ins[2]));
    CHECK_OK(shr_graph_add_tensor(g, "bn.mean", SHR_VALUE_BUFFER, 1, cs, &ins[3]));
    CHECK_OK(shr_graph_add_tensor(g, "bn.var", SHR_VALUE_BUFFER, 1, cs, &ins[4]));
    shr_attrs a = shr_attrs_default();
    a.eps = eps;
    a.momentum = momentum;
    CHECK_OK(shr_graph_add_node(g, "bn", SHR_OP_BATCHNORM, &a, 5, ins, NULL));
    *node = g->n_nodes - 1;
    return g;
}

static void bn_case(shr_rng *r, int N, int ndim, const int64_t *sample, float eps_attr, float mom_attr) {
    char label[96];
    snprintf(label, sizeof label, "bn N=%d rank=%d C=%lld eps=%g mom=%g", N, ndim + 1, (long long)sample[0],
             (double)eps_attr, (double)mom_attr);
    int node;
    shr_graph *g = bn_graph(ndim, sample, eps_attr, mom_attr, &node);
    const shr_value *y = &g->values[g->nodes[node].output];
    CHECK(y->ndim == ndim + 1 && y->shape[0] == -1 && y->shape[1] == sample[0]);
    double eps = eps_attr == 0.0f ? 1e-5 : eps_attr, mom = mom_attr == 0.0f ? 0.1 : mom_attr;
    op_case c;
    case_init_normal(&c, g, node, N, r);
    fill_normal(c.in[0], r, 2.0f, 1.5f); /* non-zero mean, non-unit variance */
    for (int64_t i = 0; i < c.in[4]->numel; i++) shr_f32(c.in[4])[i] = 0.5f + shr_rng_uniform(r);
    int C = (int)sample[0];
    int64_t S = c.in[0]->numel / ((int64_t)N * C), M = (int64_t)N * S;
    float *rm0 = malloc((size_t)C * sizeof *rm0), *rv0 = malloc((size_t)C * sizeof *rv0);
    memcpy(rm0, shr_f32(c.in[3]), (size_t)C * sizeof *rm0);
    memcpy(rv0, shr_f32(c.in[4]), (size_t)C * sizeof *rv0);
    const float *x = shr_f32(c.in[0]), *gam = shr_f32(c.in[1]), *bet = shr_f32(c.in[2]);
    double *ref = malloc((size_t)c.out->numel * sizeof *ref);

    /* Eval mode: running statistics, buffers untouched. */
    c.training = 0;
    CHECK_OK(run_fwd(&c));
    for (int64_t i = 0; i < c.out->numel; i++) {
        int ch = (int)((i / S) % C);
        ref[i] = (x[i] - rm0[ch]) / sqrt(rv0[ch] + eps) * gam[ch] + bet[ch];
    }
    CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, c.out->numel) < 1e-5, "%s: eval forward", label);
    CHECK(memcmp(rm0, shr_f32(c.in[3]), (size_t)C * sizeof *rm0) == 0);
    CHECK(memcmp(rv0, shr_f32(c.in[4]), (size_t)C * sizeof *rv0) == 0);

    /* Training mode: batch statistics and the running update. */
    c.training = 1;
    CHECK_OK(run_fwd(&c));
    for (int ch = 0; ch < C; ch++) {
        double s = 0.0, sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int64_t k = 0; k < S; k++) s += x[((int64_t)n * C + ch) * S + k];
        double mean = s / (double)M;
        for (int n = 0; n < N; n++)
            for (int64_t k = 0; k < S; k++) {
                double d = x[((int64_t)n * C + ch) * S + k] - mean;
                sq += d * d;
            }
        double var = sq / (double)M;
        for (int n = 0; n < N; n++)
            for (int64_t k = 0; k < S; k++) {
                int64_t i = ((int64_t)n * C + ch) * S + k;
                ref[i] = (x[i] - mean) / sqrt(var + eps) * gam[ch] + bet[ch];
            }
        CHECK_NEAR(shr_f32(c.in[3])[ch], (1 - mom) * rm0[ch] + mom * mean, 1e-5);
        CHECK_NEAR(shr_f32(c.in[4])[ch], (1 - mom) * rv0[ch] + mom * var * (double)M / (double)(M - 1), 1e-5);
    }
    CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, c.out->numel) < 1e-5, "%s: training forward", label);
    free(ref);
    free(rm0);
    free(rv0);

    /* Gradients of x, gamma and beta in both modes. */
    char l2[128];
    snprintf(l2, sizeof l2, "%s training", label);
    grad_check_all(&c, r, 3, 2e-3f, 1e-2, l2);
    c.training = 0;
    snprintf(l2, sizeof l2, "%s eval", label);
    grad_check_all(&c, r, 3, 1e-2f, 1e-2, l2);
    case_free(&c);
}

static void test_batchnorm(void) {
    shr_rng r;
    shr_rng_seed(&r, 61);
    int64_t s1[1] = {4}, s3[3] = {3, 7, 5}, s3b[3] = {2, 1, 1};
    bn_case(&r, 5, 1, s1, 0.0f, 0.0f);     /* (N, C), defaults from 0 */
    bn_case(&r, 2, 1, s1, 1e-3f, 0.3f);
    bn_case(&r, 2, 3, s3, 0.0f, 0.0f);     /* (N, C, H, W) */
    bn_case(&r, 1, 3, s3, 1e-5f, 1.0f);    /* batch 1: spatial positions are the samples */
    bn_case(&r, 3, 3, s3b, 1e-2f, 0.05f);  /* 1x1 planes */
}

/* Training backward needs a training forward's cache; an eval forward clears it. */
static void test_batchnorm_modes(void) {
    shr_rng r;
    shr_rng_seed(&r, 62);
    int64_t s1[1] = {3};
    int node;
    shr_graph *g = bn_graph(1, s1, 0.0f, 0.0f, &node);
    op_case c;
    case_init_normal(&c, g, node, 4, &r);
    for (int i = 0; i < 3; i++) shr_f32(c.in[4])[i] = 1.0f;
    shr_tensor *din[5] = {NULL};
    CHECK_OK(shr_tensor_clone(&din[0], c.in[0]));
    CHECK_STATUS(run_bwd(&c, c.out, din), SHR_ERR_INTERNAL);
    CHECK_OK(run_fwd(&c));
    CHECK_OK(run_bwd(&c, c.out, din));
    c.training = 0;
    CHECK_OK(run_fwd(&c));
    c.training = 1;
    CHECK_STATUS(run_bwd(&c, c.out, din), SHR_ERR_INTERNAL);
    shr_tensor_free(din[0]);
    case_free(&c);

    /* A batch of one (N, C) row has no variance to normalize with. */
    g = bn_graph(1, s1, 0.0f, 0.0f, &node);
    case_init_normal(&c, g, node, 1, &r);
    CHECK_STATUS(run_fwd(&c), SHR_ERR_SHAPE);
    c.training = 0;
    for (int i = 0; i < 3; i++) shr_f32(c.in[4])[i] = 1.0f;
    CHECK_OK(run_fwd(&c));
    case_free(&c);
}

static void test_batchnorm_bad(void) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, p3, p4, x5;
    int64_t s[3] = {3, 4, 4}, c3[1] = {3}, c4[1] = {4};
    CHECK_OK(shr_graph_add_input(g, "x", 3, s, &x));
    CHECK_OK(shr_graph_add_tensor(g, "p3", SHR_VALUE_PARAM, 1, c3, &p3));
    CHECK_OK(shr_graph_add_tensor(g, "p4", SHR_VALUE_PARAM, 1, c4, &p4));
    int ok[5] = {x, p3, p3, p3, p3}, bad[5] = {x, p3, p4, p3, p3}, badv[5] = {x, p3, p3, p3, p4};
    CHECK_OK(shr_graph_add_node(g, "bn_ok", SHR_OP_BATCHNORM, NULL, 5, ok, &x5));
    CHECK_STATUS(shr_graph_add_node(g, "bn_beta", SHR_OP_BATCHNORM, NULL, 5, bad, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "bn_beta") && strstr(shr_last_error(), "beta shape [4]"));
    CHECK_STATUS(shr_graph_add_node(g, "bn_var", SHR_OP_BATCHNORM, NULL, 5, badv, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "running_var"));
    shr_attrs a = shr_attrs_default();
    a.momentum = 1.5f;
    CHECK_STATUS(shr_graph_add_node(g, "bn_mom", SHR_OP_BATCHNORM, &a, 5, ok, NULL), SHR_ERR_INVALID_ARG);
    a = shr_attrs_default();
    a.eps = -1.0f;
    CHECK_STATUS(shr_graph_add_node(g, "bn_eps", SHR_OP_BATCHNORM, &a, 5, ok, NULL), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_graph_add_node(g, "bn_in", SHR_OP_BATCHNORM, NULL, 4, ok, NULL), SHR_ERR_INVALID_ARG);
    shr_graph_free(g);
    /* Rank 5 input. */
    CHECK_OK(shr_graph_create(&g));
    int64_t s4[4] = {3, 2, 2, 2};
    CHECK_OK(shr_graph_add_input(g, "x", 4, s4, &x));
    CHECK_OK(shr_graph_add_tensor(g, "p3", SHR_VALUE_PARAM, 1, c3, &p3));
    int r5[5] = {x, p3, p3, p3, p3};
    CHECK_STATUS(shr_graph_add_node(g, "bn_r5", SHR_OP_BATCHNORM, NULL, 5, r5, NULL), SHR_ERR_SHAPE);
    shr_graph_free(g);
}

/* ---- pools ---- */

typedef struct pool_spec {
    int N, C, H, W, KH, KW, SH, SW, pad[4], include_pad;
} pool_spec;

static shr_graph *pool_graph(shr_op op, const pool_spec *s, int *node, shr_status *st) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x;
    int64_t sin[3] = {s->C, s->H, s->W};
    CHECK_OK(shr_graph_add_input(g, "x", 3, sin, &x));
    shr_attrs a = window_attrs(s->KH, s->KW, s->SH, s->SW, s->pad);
    a.count_include_pad = s->include_pad;
    *st = shr_graph_add_node(g, "pool", op, &a, 1, &x, NULL);
    *node = g->n_nodes - 1;
    return g;
}

/* Naive max / average pooling in double: y (N, C, OH, OW). */
static void pool_naive(shr_op op, const pool_spec *s, const float *x, int OH, int OW, double *y) {
    for (int q = 0; q < s->N * s->C; q++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double m = -INFINITY, sum = 0.0;
                int cnt = 0;
                for (int kh = 0; kh < s->KH; kh++)
                    for (int kw = 0; kw < s->KW; kw++) {
                        int ih = oh * s->SH - s->pad[0] + kh, iw = ow * s->SW - s->pad[1] + kw;
                        if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                        double v = x[((size_t)q * s->H + ih) * s->W + iw];
                        m = fmax(m, v);
                        sum += v;
                        cnt++;
                    }
                double div = s->include_pad ? s->KH * s->KW : cnt;
                y[((size_t)q * OH + oh) * OW + ow] = op == SHR_OP_MAXPOOL2D ? m : sum / div;
            }
}

/* Distinct values at least 0.1 apart (shuffled), negative on average, so a max
 * never flips under the finite-difference step and padding could only win wrongly. */
static void fill_distinct(shr_tensor *t, shr_rng *r) {
    int64_t *idx = malloc((size_t)t->numel * sizeof *idx);
    for (int64_t i = 0; i < t->numel; i++) idx[i] = i;
    shr_rng_shuffle(r, idx, t->numel);
    for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] = -0.1f * (float)idx[i] - 0.05f + 0.02f * (float)(i % 3);
    free(idx);
}

static void pool_case(shr_rng *r, shr_op op, const pool_spec *s) {
    char label[128];
    snprintf(label, sizeof label, "%s N=%d C=%d %dx%d k=%dx%d s=%dx%d p=%d,%d,%d,%d inc=%d", shr_op_name(op), s->N,
             s->C, s->H, s->W, s->KH, s->KW, s->SH, s->SW, s->pad[0], s->pad[1], s->pad[2], s->pad[3],
             s->include_pad);
    int node;
    shr_status st;
    shr_graph *g = pool_graph(op, s, &node, &st);
    CHECK_MSG(st == SHR_OK, "%s: add_node: %s", label, shr_last_error());
    if (st != SHR_OK) {
        shr_graph_free(g);
        return;
    }
    int OH = (s->H + s->pad[0] + s->pad[2] - s->KH) / s->SH + 1, OW = (s->W + s->pad[1] + s->pad[3] - s->KW) / s->SW + 1;
    const shr_value *y = &g->values[g->nodes[node].output];
    CHECK_MSG(y->ndim == 4 && y->shape[0] == -1 && y->shape[1] == s->C && y->shape[2] == OH && y->shape[3] == OW,
              "%s: inferred shape", label);
    op_case c;
    case_init_normal(&c, g, node, s->N, r);
    if (op == SHR_OP_MAXPOOL2D) fill_distinct(c.in[0], r);
    CHECK_OK(run_fwd(&c));
    double *ref = malloc((size_t)c.out->numel * sizeof *ref);
    pool_naive(op, s, shr_f32(c.in[0]), OH, OW, ref);
    CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, c.out->numel) < 1e-6, "%s: forward", label);
    free(ref);
    grad_check_all(&c, r, 1, 1e-2f, 1e-3, label);
    if (op == SHR_OP_MAXPOOL2D) {
        /* Eval-mode forward keeps no argmax: backward must find the same one from x. */
        c.training = 0;
        char l2[160];
        snprintf(l2, sizeof l2, "%s (eval forward)", label);
        grad_check_all(&c, r, 1, 1e-2f, 1e-3, l2);
    }
    case_free(&c);
}

static pool_spec pspec(int N, int C, int H, int W, int K, int S, int P, int inc) {
    pool_spec s = {N, C, H, W, K, K, S, S, {P, P, P, P}, inc};
    return s;
}

static void test_pools(void) {
    shr_rng r;
    shr_rng_seed(&r, 71);
    pool_spec cases[] = {
        pspec(2, 3, 8, 6, 2, 2, 0, 0), pspec(1, 2, 7, 5, 3, 2, 1, 0), pspec(3, 1, 7, 5, 3, 2, 1, 1),
        pspec(2, 2, 5, 5, 3, 1, 1, 1), pspec(1, 3, 4, 4, 4, 1, 0, 0), pspec(2, 2, 6, 6, 2, 3, 1, 0),
        pspec(2, 2, 7, 5, 2, 2, 0, 0), /* 2x2 stride 2 with a row and a column left over */
        {2, 2, 7, 6, 3, 2, 2, 1, {0, 1, 2, 0}, 0},
        {1, 3, 5, 7, 2, 3, 1, 2, {1, 0, 1, 2}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pool_case(&r, SHR_OP_MAXPOOL2D, &cases[i]);
        pool_case(&r, SHR_OP_AVGPOOL2D, &cases[i]);
    }
}

/* Equal values: the gradient goes to the first maximum in window order. */
static void test_maxpool_ties(void) {
    shr_rng r;
    shr_rng_seed(&r, 72);
    pool_spec s = pspec(1, 1, 4, 4, 2, 2, 0, 0);
    int node;
    shr_status st;
    shr_graph *g = pool_graph(SHR_OP_MAXPOOL2D, &s, &node, &st);
    CHECK_OK(st);
    op_case c;
    case_init_normal(&c, g, node, 1, &r);
    for (int i = 0; i < 16; i++) shr_f32(c.in[0])[i] = 1.0f;
    shr_f32(c.in[0])[11] = 2.0f; /* window (1, 1): (2,3) wins */
    shr_f32(c.in[0])[14] = 2.0f; /* ... over (3,2), which comes later */
    CHECK_OK(run_fwd(&c));
    shr_tensor *dy, *dx;
    CHECK_OK(shr_tensor_clone(&dy, c.out));
    CHECK_OK(shr_tensor_clone(&dx, c.in[0]));
    for (int i = 0; i < 16; i++) shr_f32(dx)[i] = 1.0f;
    for (int i = 0; i < 4; i++) shr_f32(dy)[i] = (float)(i + 1);
    CHECK_OK(run_bwd(&c, dy, &dx));
    const float want[16] = {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++) CHECK_MSG(shr_f32(dx)[i] == want[i] + 1.0f, "dx[%d] = %g", i, (double)shr_f32(dx)[i]);
    shr_tensor_free(dy);
    shr_tensor_free(dx);
    case_free(&c);
}

/* A NaN in a window wins the max and takes the gradient, for the 2x2/stride-2 case
 * and a padded 3x3 one; windows without it are unaffected. */
static void test_maxpool_nan(void) {
    shr_rng r;
    shr_rng_seed(&r, 74);
    const pool_spec specs[2] = {pspec(1, 2, 4, 4, 2, 2, 0, 0), pspec(1, 2, 4, 4, 3, 1, 1, 0)};
    for (int k = 0; k < 2; k++) {
        const pool_spec *s = &specs[k];
        int node;
        shr_status st;
        shr_graph *g = pool_graph(SHR_OP_MAXPOOL2D, s, &node, &st);
        CHECK_OK(st);
        op_case c;
        case_init_normal(&c, g, node, 1, &r);
        fill_distinct(c.in[0], &r);
        float *x = shr_f32(c.in[0]);
        x[16 + 5] = NAN; /* channel 1, (1, 1) */
        CHECK_OK(run_fwd(&c));
        int OH = (int)c.out->shape[2], OW = (int)c.out->shape[3];
        double *ref = malloc((size_t)c.out->numel * sizeof *ref);
        pool_naive(SHR_OP_MAXPOOL2D, s, x, OH, OW, ref); /* fmax ignores NaN: fix those below */
        shr_tensor *dy, *dx;
        CHECK_OK(shr_tensor_clone(&dy, c.out));
        CHECK_OK(shr_tensor_create(&dx, SHR_F32, 4, c.in[0]->shape));
        for (int64_t i = 0; i < dy->numel; i++) shr_f32(dy)[i] = 1.0f;
        CHECK_OK(run_bwd(&c, dy, &dx));
        int nan_windows = 0;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * s->SH - s->pad[0], w0 = ow * s->SW - s->pad[1];
                int has = 1 >= h0 && 1 < h0 + s->KH && 1 >= w0 && 1 < w0 + s->KW;
                float got = shr_f32(c.out)[OH * OW + oh * OW + ow], ch0 = shr_f32(c.out)[oh * OW + ow];
                CHECK(ch0 == (float)ref[oh * OW + ow]);
                if (has) {
                    CHECK(isnan(got));
                    nan_windows++;
                } else {
                    CHECK(got == (float)ref[OH * OW + oh * OW + ow]);
                }
            }
        CHECK_MSG(shr_f32(dx)[16 + 5] == (float)nan_windows, "spec %d: NaN got gradient %g, want %d", k,
                  (double)shr_f32(dx)[16 + 5], nan_windows);
        free(ref);
        shr_tensor_free(dy);
        shr_tensor_free(dx);
        case_free(&c);
    }
}

static void test_global_avgpool(void) {
    shr_rng r;
    shr_rng_seed(&r, 73);
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, y;
    int64_t sin[3] = {3, 5, 4};
    CHECK_OK(shr_graph_add_input(g, "x", 3, sin, &x));
    CHECK_OK(shr_graph_add_node(g, "gap", SHR_OP_GLOBAL_AVGPOOL, NULL, 1, &x, &y));
    const shr_value *v = &g->values[y];
    CHECK(v->ndim == 4 && v->shape[0] == -1 && v->shape[1] == 3 && v->shape[2] == 1 && v->shape[3] == 1);
    op_case c;
    case_init_normal(&c, g, 0, 2, &r);
    CHECK_OK(run_fwd(&c));
    for (int q = 0; q < 6; q++) {
        double s = 0.0;
        for (int i = 0; i < 20; i++) s += shr_f32(c.in[0])[q * 20 + i];
        CHECK_NEAR(shr_f32(c.out)[q], s / 20.0, 1e-6);
    }
    grad_check_all(&c, &r, 1, 1e-2f, 1e-3, "global_avgpool");
    case_free(&c);
}

static shr_status pool_try(shr_op op, const char *name, int rank4, int H, int K, int S, int P) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x;
    int64_t sin[3] = {2, H, H};
    CHECK_OK(shr_graph_add_input(g, "x", rank4 ? 3 : 1, sin, &x));
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = K;
    a.stride[0] = a.stride[1] = S;
    for (int i = 0; i < 4; i++) a.pad[i] = P;
    shr_status st = shr_graph_add_node(g, name, op, &a, 1, &x, NULL);
    if (st != SHR_OK)
        CHECK_MSG(strstr(shr_last_error(), name) != NULL, "message '%s' does not name the node", shr_last_error());
    shr_graph_free(g);
    return st;
}

static void test_pool_bad_shapes(void) {
    const shr_op ops[2] = {SHR_OP_MAXPOOL2D, SHR_OP_AVGPOOL2D};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(pool_try(ops[i], "p_ok", 1, 6, 3, 2, 1));
        CHECK_STATUS(pool_try(ops[i], "p_rank", 0, 6, 2, 2, 0), SHR_ERR_SHAPE);
        CHECK_STATUS(pool_try(ops[i], "p_k0", 1, 6, 0, 1, 0), SHR_ERR_SHAPE);
        CHECK_STATUS(pool_try(ops[i], "p_big", 1, 3, 4, 1, 0), SHR_ERR_SHAPE);
        CHECK_STATUS(pool_try(ops[i], "p_pad", 1, 6, 2, 1, 2), SHR_ERR_SHAPE);
        CHECK_STATUS(pool_try(ops[i], "p_negpad", 1, 6, 2, 1, -1), SHR_ERR_SHAPE);
        CHECK_STATUS(pool_try(ops[i], "p_stride", 1, 6, 2, -2, 0), SHR_ERR_SHAPE);
    }
    CHECK_STATUS(pool_try(SHR_OP_GLOBAL_AVGPOOL, "gap_rank", 0, 6, 1, 1, 0), SHR_ERR_SHAPE);
}

static void test_registered(void) {
    const op_reg ops[] = {{SHR_OP_BATCHNORM, &shr_op_batchnorm},
                          {SHR_OP_MAXPOOL2D, &shr_op_maxpool2d},
                          {SHR_OP_AVGPOOL2D, &shr_op_avgpool2d},
                          {SHR_OP_GLOBAL_AVGPOOL, &shr_op_global_avgpool}};
    check_registered(ops, sizeof ops / sizeof ops[0]);
    CHECK(shr_op_batchnorm.min_inputs == 5 && shr_op_batchnorm.max_inputs == 5);
}

int main(void) {
    RUN(test_registered);
    RUN(test_batchnorm);
    RUN(test_batchnorm_modes);
    RUN(test_batchnorm_bad);
    RUN(test_pools);
    RUN(test_maxpool_ties);
    RUN(test_maxpool_nan);
    RUN(test_global_avgpool);
    RUN(test_pool_bad_shapes);
    return test_summary();
}
