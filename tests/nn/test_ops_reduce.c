/* Reductions added for ONNX (reduce.c): forward against sums in double over
 * every axis subset of a rank-4 input, with and without keepdims; backward
 * against central differences; NaN in max, large inputs in log_sum_exp, a zero
 * in prod; infer errors (batch axis, repeats). */
#include <math.h>
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "op_case.h"

static const op_reg regs[] = {
    {SHR_OP_REDUCE_SUM, &shr_op_reduce_sum},
    {SHR_OP_REDUCE_MEAN, &shr_op_reduce_mean},
    {SHR_OP_REDUCE_MAX, &shr_op_reduce_max},
    {SHR_OP_REDUCE_MIN, &shr_op_reduce_min},
    {SHR_OP_REDUCE_PROD, &shr_op_reduce_prod},
    {SHR_OP_REDUCE_L1, &shr_op_reduce_l1},
    {SHR_OP_REDUCE_L2, &shr_op_reduce_l2},
    {SHR_OP_REDUCE_SUM_SQUARE, &shr_op_reduce_sum_square},
    {SHR_OP_REDUCE_LOG_SUM, &shr_op_reduce_log_sum},
    {SHR_OP_REDUCE_LOG_SUM_EXP, &shr_op_reduce_log_sum_exp},
};
#define N_OPS (sizeof regs / sizeof regs[0])

/* Reference over one group of values. */
static double ref(shr_op op, const double *v, int n) {
    double s = 0, m = v[0];
    for (int i = 0; i < n; i++) m = op == SHR_OP_REDUCE_MIN ? fmin(m, v[i]) : fmax(m, v[i]);
    if (op == SHR_OP_REDUCE_PROD) s = 1;
    for (int i = 0; i < n; i++) {
        switch (op) {
        case SHR_OP_REDUCE_PROD: s *= v[i]; break;
        case SHR_OP_REDUCE_L1: s += fabs(v[i]); break;
        case SHR_OP_REDUCE_L2:
        case SHR_OP_REDUCE_SUM_SQUARE: s += v[i] * v[i]; break;
        case SHR_OP_REDUCE_LOG_SUM_EXP: s += exp(v[i] - m); break;
        default: s += v[i]; break;
        }
    }
    switch (op) {
    case SHR_OP_REDUCE_MEAN: return s / n;
    case SHR_OP_REDUCE_MAX:
    case SHR_OP_REDUCE_MIN: return m;
    case SHR_OP_REDUCE_L2: return sqrt(s);
    case SHR_OP_REDUCE_LOG_SUM: return log(s);
    case SHR_OP_REDUCE_LOG_SUM_EXP: return m + log(s);
    default: return s;
    }
}

static const int64_t dims[4] = {2, 3, 4, 2}; /* sample shape; batch 2 in front */

/* Checks y against the reference for axes mask (bits 1..3 of the rank-4 x). */
static void check_forward(op_case *c, shr_op op, unsigned mask) {
    const int64_t N = c->in[0]->shape[0];
    const float *x = shr_f32(c->in[0]), *y = shr_f32(c->out);
    int64_t yo = 0;
    double worst = 0, group[64];
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < ((mask & 2) ? 1 : dims[0]); i++)
            for (int64_t j = 0; j < ((mask & 4) ? 1 : dims[1]); j++)
                for (int64_t k = 0; k < ((mask & 8) ? 1 : dims[2]); k++) {
                    int cnt = 0;
                    for (int64_t a = 0; a < ((mask & 2) ? dims[0] : 1); a++)
                        for (int64_t b = 0; b < ((mask & 4) ? dims[1] : 1); b++)
                            for (int64_t d = 0; d < ((mask & 8) ? dims[2] : 1); d++) {
                                int64_t ii = (mask & 2) ? a : i, jj = (mask & 4) ? b : j, kk = (mask & 8) ? d : k;
                                group[cnt++] = x[((n * dims[0] + ii) * dims[1] + jj) * dims[2] + kk];
                            }
                    double want = ref(op, group, cnt);
                    worst = fmax(worst, fabs(y[yo++] - want) / fmax(1.0, fabs(want)));
                }
    CHECK(yo == c->out->numel);
    CHECK_MSG(worst < 1e-5, "%s mask %u: forward error %g", shr_op_name(op), mask, worst);
}

static void test_registered(void) { check_registered(regs, N_OPS); }

static void test_all_axis_sets(void) {
    shr_rng r;
    shr_rng_seed(&r, 5);
    for (size_t k = 0; k < N_OPS; k++) {
        shr_op op = regs[k].op;
        for (unsigned mask = 2; mask < 16; mask += 2)
            for (int keep = 0; keep < 2; keep++) {
                shr_attrs a = shr_attrs_default();
                a.ndim = 0;
                for (int d = 1; d <= 3; d++)
                    if (mask & (1u << d)) a.shape[a.ndim++] = d;
                a.count_include_pad = keep;
                shr_graph *g;
                int node = one_node(&g, op, &a, 3, dims);
                const shr_value *o = &g->values[g->nodes[node].output];
                CHECK(o->ndim == (keep ? 4 : 4 - a.ndim));
                op_case c;
                case_init(&c, g, node, 2);
                /* Positive inputs keep log_sum defined; prod stays moderate. */
                if (op == SHR_OP_REDUCE_LOG_SUM || op == SHR_OP_REDUCE_PROD) fill(c.in[0], &r, 0.5f, 1.5f);
                else fill(c.in[0], &r, -2.0f, 2.0f);
                c.training = 0;
                CHECK_OK(run_fwd(&c));
                check_forward(&c, op, mask);
                c.training = 1;
                if (op == SHR_OP_REDUCE_L1) /* away from |x|'s kink */
                    for (int64_t e = 0; e < c.in[0]->numel; e++)
                        if (fabsf(shr_f32(c.in[0])[e]) < 0.05f) shr_f32(c.in[0])[e] = 0.5f;
                grad_check(&c, 0, 1e-3f, 1e-2);
                case_free(&c);
            }
    }
}

static void test_special_values(void) {
    shr_attrs a = shr_attrs_default();
    a.ndim = 1;
    a.shape[0] = 1;
    shr_graph *g;
    op_case c;
    /* max: NaN wins; log_sum_exp: large inputs stay finite. */
    int node = one_node(&g, SHR_OP_REDUCE_MAX, &a, 1, (int64_t[]){3});
    case_init(&c, g, node, 2);
    memcpy(c.in[0]->data, (float[]){1.0f, NAN, 3.0f, -1.0f, -2.0f, -0.5f}, 6 * sizeof(float));
    CHECK_OK(run_fwd(&c));
    CHECK(isnan(shr_f32(c.out)[0]) && shr_f32(c.out)[1] == -0.5f);
    case_free(&c);
    node = one_node(&g, SHR_OP_REDUCE_LOG_SUM_EXP, &a, 1, (int64_t[]){3});
    case_init(&c, g, node, 1);
    memcpy(c.in[0]->data, (float[]){1000.0f, 1000.0f, 990.0f}, 3 * sizeof(float));
    CHECK_OK(run_fwd(&c));
    CHECK_NEAR(shr_f32(c.out)[0], 1000.0 + log(2.0 + exp(-10.0)), 1e-6);
    case_free(&c);
    /* prod with one zero: the gradient of the zero is the product of the others. */
    node = one_node(&g, SHR_OP_REDUCE_PROD, &a, 1, (int64_t[]){3});
    case_init(&c, g, node, 1);
    memcpy(c.in[0]->data, (float[]){2.0f, 0.0f, 3.0f}, 3 * sizeof(float));
    CHECK_OK(run_fwd(&c));
    CHECK(shr_f32(c.out)[0] == 0.0f);
    shr_tensor *dy = NULL, *dx = NULL;
    CHECK_OK(shr_tensor_create(&dy, SHR_F32, 1, (int64_t[]){1}));
    CHECK_OK(shr_tensor_create(&dx, SHR_F32, 2, c.in[0]->shape));
    shr_f32(dy)[0] = 1.0f;
    CHECK_OK(run_bwd(&c, dy, (shr_tensor *[]){dx}));
    CHECK(shr_f32(dx)[0] == 0.0f && shr_f32(dx)[1] == 6.0f && shr_f32(dx)[2] == 0.0f);
    shr_tensor_free(dy);
    shr_tensor_free(dx);
    case_free(&c);
}

static void test_bad_axes(void) {
    shr_graph *g;
    int x, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, (int64_t[]){3, 4}, &x));
    shr_attrs a = shr_attrs_default();
    a.ndim = 1;
    a.shape[0] = 0;
    CHECK_STATUS(shr_graph_add_node(g, "batch", SHR_OP_REDUCE_SUM, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.ndim = 2;
    a.shape[0] = a.shape[1] = 2;
    CHECK_STATUS(shr_graph_add_node(g, "twice", SHR_OP_REDUCE_SUM, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.shape[1] = 3;
    CHECK_STATUS(shr_graph_add_node(g, "range", SHR_OP_REDUCE_SUM, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.ndim = 0;
    CHECK_STATUS(shr_graph_add_node(g, "none", SHR_OP_REDUCE_SUM, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_registered);
    RUN(test_all_axis_sets);
    RUN(test_special_values);
    RUN(test_bad_axes);
    return test_summary();
}
