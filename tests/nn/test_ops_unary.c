/* Element-wise math ops added for ONNX (unary.c): forward values against the
 * closed forms in double, every backward against central differences of
 * L = sum(out * R) with accumulation (+=), on inputs kept away from the kinks
 * and outside each function's domain limits. */
#include <math.h>
#include <string.h>

#include "nn/ops/ops_onnx.h"
#include "op_case.h"

typedef struct ucase {
    shr_op op;
    const shr_op_def *def;
    float lo, hi;    /* input range */
    float alpha, eps;
    float kinks[3];  /* inputs are kept 0.05 away from these */
    int nk;
    int step;        /* 1: piecewise constant (also kept away from integers and halves) */
} ucase;

static const ucase cases[] = {
    {SHR_OP_ABS, &shr_op_abs, -3, 3, 0, 0, {0}, 1, 0},
    {SHR_OP_NEG, &shr_op_neg, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_EXP, &shr_op_exp, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_LOG, &shr_op_log, 0.2f, 5, 0, 0, {0}, 0, 0},
    {SHR_OP_SQRT, &shr_op_sqrt, 0.2f, 5, 0, 0, {0}, 0, 0},
    {SHR_OP_RECIPROCAL, &shr_op_reciprocal, 0.5f, 4, 0, 0, {0}, 0, 0},
    {SHR_OP_SIN, &shr_op_sin, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_COS, &shr_op_cos, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_TAN, &shr_op_tan, -1.2f, 1.2f, 0, 0, {0}, 0, 0},
    {SHR_OP_ASIN, &shr_op_asin, -0.9f, 0.9f, 0, 0, {0}, 0, 0},
    {SHR_OP_ACOS, &shr_op_acos, -0.9f, 0.9f, 0, 0, {0}, 0, 0},
    {SHR_OP_ATAN, &shr_op_atan, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_SINH, &shr_op_sinh, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_COSH, &shr_op_cosh, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_ASINH, &shr_op_asinh, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_ACOSH, &shr_op_acosh, 1.2f, 4, 0, 0, {0}, 0, 0},
    {SHR_OP_ATANH, &shr_op_atanh, -0.9f, 0.9f, 0, 0, {0}, 0, 0},
    {SHR_OP_ERF, &shr_op_erf, -3, 3, 0, 0, {0}, 0, 0},
    {SHR_OP_CEIL, &shr_op_ceil, -3, 3, 0, 0, {0}, 0, 1},
    {SHR_OP_FLOOR, &shr_op_floor, -3, 3, 0, 0, {0}, 0, 1},
    {SHR_OP_ROUND, &shr_op_round, -3, 3, 0, 0, {0}, 0, 1},
    {SHR_OP_SIGN, &shr_op_sign, -3, 3, 0, 0, {0}, 0, 1},
    {SHR_OP_SOFTPLUS, &shr_op_softplus, -5, 5, 0, 0, {0}, 0, 0},
    {SHR_OP_SOFTSIGN, &shr_op_softsign, -3, 3, 0, 0, {0}, 1, 0},
    {SHR_OP_HARD_SWISH, &shr_op_hard_swish, -5, 5, 0, 0, {-3, 3}, 2, 0},
    {SHR_OP_ELU, &shr_op_elu, -3, 3, 0.7f, 0, {0}, 1, 0},
    {SHR_OP_CELU, &shr_op_celu, -3, 3, 1.5f, 0, {0}, 1, 0},
    {SHR_OP_SELU, &shr_op_selu, -3, 3, 1.67f, 1.05f, {0}, 1, 0},
    {SHR_OP_HARD_SIGMOID, &shr_op_hard_sigmoid, -5, 5, 0.2f, 0.5f, {-2.5f, 2.5f}, 2, 0},
    {SHR_OP_THRESHOLDED_RELU, &shr_op_thresholded_relu, -3, 3, 1.0f, 0, {1.0f}, 1, 0},
    {SHR_OP_SHRINK, &shr_op_shrink, -3, 3, 0.5f, 0.2f, {-0.5f, 0.5f}, 2, 0},
    {SHR_OP_CLIP, &shr_op_clip, -3, 3, -1.0f, 2.0f, {-1.0f, 2.0f}, 2, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static double ref(const ucase *k, double x) {
    const double al = k->alpha, be = k->eps;
    switch (k->op) {
    case SHR_OP_ABS: return fabs(x);
    case SHR_OP_NEG: return -x;
    case SHR_OP_EXP: return exp(x);
    case SHR_OP_LOG: return log(x);
    case SHR_OP_SQRT: return sqrt(x);
    case SHR_OP_RECIPROCAL: return 1.0 / x;
    case SHR_OP_SIN: return sin(x);
    case SHR_OP_COS: return cos(x);
    case SHR_OP_TAN: return tan(x);
    case SHR_OP_ASIN: return asin(x);
    case SHR_OP_ACOS: return acos(x);
    case SHR_OP_ATAN: return atan(x);
    case SHR_OP_SINH: return sinh(x);
    case SHR_OP_COSH: return cosh(x);
    case SHR_OP_ASINH: return asinh(x);
    case SHR_OP_ACOSH: return acosh(x);
    case SHR_OP_ATANH: return atanh(x);
    case SHR_OP_ERF: return erf(x);
    case SHR_OP_CEIL: return ceil(x);
    case SHR_OP_FLOOR: return floor(x);
    case SHR_OP_ROUND: return nearbyint(x);
    case SHR_OP_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    case SHR_OP_SOFTPLUS: return log1p(exp(x));
    case SHR_OP_SOFTSIGN: return x / (1 + fabs(x));
    case SHR_OP_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
    case SHR_OP_ELU: return x < 0 ? al * (exp(x) - 1) : x;
    case SHR_OP_CELU: return fmax(0, x) + fmin(0, al * (exp(x / al) - 1));
    case SHR_OP_SELU: return be * (x > 0 ? x : al * (exp(x) - 1));
    case SHR_OP_HARD_SIGMOID: return fmax(0, fmin(1, al * x + be));
    case SHR_OP_THRESHOLDED_RELU: return x > al ? x : 0;
    case SHR_OP_SHRINK: return x < -al ? x + be : (x > al ? x - be : 0);
    case SHR_OP_CLIP: return fmin(fmax(x, al), be);
    default: return NAN;
    }
}

/* Uniform in [lo, hi], 0.05 away from the kinks (and from integers and
 * half-integers for step functions: round's ties sit at the halves). */
static void fill_case(shr_tensor *t, shr_rng *r, const ucase *k) {
    for (int64_t i = 0; i < t->numel; i++) {
        float v;
        int bad;
        do {
            v = k->lo + (k->hi - k->lo) * shr_rng_uniform(r);
            bad = 0;
            for (int j = 0; j < k->nk; j++) bad |= fabsf(v - k->kinks[j]) < 0.05f;
            if (k->step) bad |= fabsf(v * 2 - nearbyintf(v * 2)) < 0.1f;
        } while (bad);
        shr_f32(t)[i] = v;
    }
}

static void test_registered(void) {
    op_reg regs[N_CASES];
    for (size_t i = 0; i < N_CASES; i++) regs[i] = (op_reg){cases[i].op, cases[i].def};
    check_registered(regs, N_CASES);
}

static void test_values_and_gradients(void) {
    shr_rng r;
    shr_rng_seed(&r, 7);
    const int64_t sample[3] = {3, 4, 5};
    for (size_t i = 0; i < N_CASES; i++) {
        const ucase *k = &cases[i];
        shr_attrs a = shr_attrs_default();
        a.alpha = k->alpha;
        a.eps = k->eps;
        shr_graph *g;
        int node = one_node(&g, k->op, &a, 3, sample);
        CHECK_OK(shr_graph_validate(g));
        CHECK(shr_node_flops(g, node) == 0);
        op_case c;
        case_init(&c, g, node, 2);
        fill_case(c.in[0], &r, k);
        c.training = 0;
        CHECK_OK(run_fwd(&c));
        double worst = 0;
        for (int64_t e = 0; e < c.out->numel; e++) {
            double want = ref(k, shr_f32(c.in[0])[e]);
            worst = fmax(worst, fabs(shr_f32(c.out)[e] - want) / fmax(1.0, fabs(want)));
        }
        CHECK_MSG(worst < 2e-6, "%s: forward error %g", shr_op_name(k->op), worst);
        c.training = 1;
        grad_check(&c, 0, 1e-3f, 1e-2);
        case_free(&c);
    }
}

/* Special values: NaN propagates through clip, round ties go to even, the
 * step functions pass no gradient. */
static void test_special_values(void) {
    shr_attrs a = shr_attrs_default();
    a.alpha = -1.0f;
    a.eps = 1.0f;
    shr_graph *g;
    int node = one_node(&g, SHR_OP_CLIP, &a, 1, (int64_t[]){4});
    op_case c;
    case_init(&c, g, node, 1);
    const float xs[4] = {NAN, -5.0f, 0.5f, 5.0f};
    memcpy(c.in[0]->data, xs, sizeof xs);
    CHECK_OK(run_fwd(&c));
    const float *y = shr_f32(c.out);
    CHECK(isnan(y[0]) && y[1] == -1.0f && y[2] == 0.5f && y[3] == 1.0f);
    case_free(&c);

    node = one_node(&g, SHR_OP_ROUND, NULL, 1, (int64_t[]){4});
    case_init(&c, g, node, 1);
    const float hs[4] = {0.5f, 1.5f, 2.5f, -2.5f};
    memcpy(c.in[0]->data, hs, sizeof hs);
    CHECK_OK(run_fwd(&c));
    y = shr_f32(c.out);
    CHECK(y[0] == 0.0f && y[1] == 2.0f && y[2] == 2.0f && y[3] == -2.0f);
    shr_tensor *dy = NULL, *dx = NULL;
    CHECK_OK(shr_tensor_clone(&dy, c.out));
    CHECK_OK(shr_tensor_create(&dx, SHR_F32, 2, c.in[0]->shape));
    CHECK_OK(run_bwd(&c, dy, (shr_tensor *[]){dx}));
    CHECK(shr_tensor_count_nonzero(dx) == 0);
    shr_tensor_free(dy);
    shr_tensor_free(dx);
    case_free(&c);
}

static void test_bad_attrs(void) {
    shr_graph *g;
    int x, y;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 1, (int64_t[]){3}, &x));
    shr_attrs a = shr_attrs_default();
    a.alpha = 0.0f;
    CHECK_STATUS(shr_graph_add_node(g, "celu0", SHR_OP_CELU, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.alpha = NAN;
    CHECK_STATUS(shr_graph_add_node(g, "clipnan", SHR_OP_CLIP, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.alpha = INFINITY;
    CHECK_STATUS(shr_graph_add_node(g, "eluinf", SHR_OP_ELU, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.alpha = -INFINITY;
    a.eps = INFINITY;
    CHECK_OK(shr_graph_add_node(g, "clipinf", SHR_OP_CLIP, &a, 1, &x, &y));
    shr_graph_free(g);
}

int main(void) {
    RUN(test_registered);
    RUN(test_values_and_gradients);
    RUN(test_special_values);
    RUN(test_bad_attrs);
    return test_summary();
}
