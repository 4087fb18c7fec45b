/* Element-wise and row-wise ops: activations, dropout, softmax, log_softmax.
 * Forward values against closed forms (computed in double), every backward
 * against central differences of L = sum(out * R), and accumulation (+=). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_case.h"
#include "shrink/threads.h"

#define M_PI_VALUE 3.14159265358979323846

/* Uniform in [lo, hi], but at least `gap` away from each kink. */
static void fill_avoid(shr_tensor *t, shr_rng *r, float lo, float hi, const float *kinks, int nk, float gap) {
    float *p = shr_f32(t);
    for (int64_t i = 0; i < t->numel; i++) {
        float v;
        int bad;
        do {
            v = lo + (hi - lo) * shr_rng_uniform(r);
            bad = 0;
            for (int k = 0; k < nk; k++) bad |= fabsf(v - kinks[k]) < gap;
        } while (bad);
        p[i] = v;
    }
}

static const int64_t odd_dims[] = {1, 2, 3, 5, 7};

static int random_sample_shape(shr_rng *r, int64_t *s, int min_rank) {
    int rank = min_rank + (int)shr_rng_below(r, 3);
    for (int d = 0; d < rank; d++) s[d] = odd_dims[shr_rng_below(r, 5)];
    return rank;
}

/* ---- activations ---- */

static double ref_act(shr_op op, double x, double slope) {
    switch (op) {
    case SHR_OP_RELU: return x > 0 ? x : 0;
    case SHR_OP_RELU6: return x < 0 ? 0 : (x > 6 ? 6 : x);
    case SHR_OP_LEAKY_RELU: return x > 0 ? x : slope * x;
    case SHR_OP_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SHR_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case SHR_OP_TANH: return tanh(x);
    default: return NAN;
    }
}

static const shr_op act_ops[] = {SHR_OP_RELU, SHR_OP_RELU6, SHR_OP_LEAKY_RELU, SHR_OP_GELU, SHR_OP_SIGMOID, SHR_OP_TANH};

static void test_activation_values(void) {
    static const float xs[] = {-100.0f, -20.0f, -6.5f, -3.0f, -1.0f, -0.25f, 0.0f, 0.3f, 1.0f, 2.5f, 5.9f, 6.0f, 6.1f,
                               10.0f, 20.0f, 100.0f};
    const int nx = (int)(sizeof xs / sizeof xs[0]);
    for (size_t k = 0; k < sizeof act_ops / sizeof act_ops[0]; k++) {
        for (int variant = 0; variant < 2; variant++) {
            shr_attrs a = shr_attrs_default();
            a.alpha = variant ? 0.2f : 0.0f; /* leaky: 0 means the default 0.01 */
            double slope = variant ? 0.2 : 0.01;
            shr_graph *g;
            int64_t sample[1] = {nx};
            op_case c;
            int node = one_node(&g, act_ops[k], &a, 1, sample);
            case_init(&c, g, node, 2);
            for (int b = 0; b < 2; b++)
                for (int i = 0; i < nx; i++) shr_f32(c.in[0])[b * nx + i] = b ? -xs[i] : xs[i];
            c.training = 0;
            CHECK_OK(run_fwd(&c));
            for (int b = 0; b < 2; b++)
                for (int i = 0; i < nx; i++) {
                    float x = b ? -xs[i] : xs[i], y = shr_f32(c.out)[b * nx + i];
                    CHECK(isfinite(y));
                    CHECK_NEAR(y, ref_act(act_ops[k], x, slope), 2e-6);
                }
            case_free(&c);
        }
    }
    /* A few well-known values. */
    CHECK_NEAR(ref_act(SHR_OP_GELU, 1.0, 0), 0.8413447460685429, 1e-12);
    shr_graph *g;
    int64_t s1[1] = {3};
    op_case c;
    int node = one_node(&g, SHR_OP_GELU, NULL, 1, s1);
    case_init(&c, g, node, 1);
    shr_f32(c.in[0])[0] = 1.0f;
    shr_f32(c.in[0])[1] = -1.0f;
    shr_f32(c.in[0])[2] = -10.0f;
    c.training = 0;
    CHECK_OK(run_fwd(&c));
    CHECK_NEAR(shr_f32(c.out)[0], 0.8413447460685429, 1e-6);
    CHECK_NEAR(shr_f32(c.out)[1], -0.15865525393145707, 1e-6);
    CHECK(fabsf(shr_f32(c.out)[2]) < 1e-6f);
    case_free(&c);
}

static void test_activation_nan_propagates(void) {
    for (size_t k = 0; k < sizeof act_ops / sizeof act_ops[0]; k++) {
        shr_graph *g;
        int64_t s1[1] = {1};
        op_case c;
        int node = one_node(&g, act_ops[k], NULL, 1, s1);
        case_init(&c, g, node, 1);
        shr_f32(c.in[0])[0] = NAN;
        c.training = 0;
        CHECK_OK(run_fwd(&c));
        CHECK_MSG(isnan(shr_f32(c.out)[0]), "%s swallowed a NaN", shr_op_name(act_ops[k]));
        case_free(&c);
    }
}

static void test_activation_grads(void) {
    shr_rng r;
    shr_rng_seed(&r, 7);
    static const float kinks[] = {0.0f, 6.0f};
    for (size_t k = 0; k < sizeof act_ops / sizeof act_ops[0]; k++) {
        for (int trial = 0; trial < 4; trial++) {
            int64_t sample[SHR_MAX_DIMS];
            int rank = random_sample_shape(&r, sample, 1);
            shr_attrs a = shr_attrs_default();
            a.alpha = trial & 1 ? 0.0f : 0.3f;
            shr_graph *g;
            op_case c;
            int node = one_node(&g, act_ops[k], &a, rank, sample);
            case_init(&c, g, node, 1 + (int64_t)shr_rng_below(&r, 3));
            fill_avoid(c.in[0], &r, -4.0f, 8.0f, kinks, 2, 0.05f);
            grad_check(&c, 0, 1e-2f, 2e-3);
            case_free(&c);
        }
    }
}

static void test_activation_infer_errors(void) {
    shr_graph *g;
    int x, y, w;
    int64_t s[2] = {4, 3}, ws[1] = {3};
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, s, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 1, ws, &w));
    CHECK_STATUS(shr_graph_add_node(g, "r", SHR_OP_RELU, NULL, 1, &w, &y), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "'r'") != NULL);
    shr_attrs a = shr_attrs_default();
    a.alpha = NAN;
    CHECK_STATUS(shr_graph_add_node(g, "lr", SHR_OP_LEAKY_RELU, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    CHECK_OK(shr_graph_add_node(g, "t", SHR_OP_TANH, NULL, 1, &x, &y));
    CHECK(g->values[y].ndim == 3 && g->values[y].shape[0] == -1 && g->values[y].shape[1] == 4 &&
          g->values[y].shape[2] == 3);
    CHECK(shr_node_flops(g, 0) == 0);
    CHECK_OK(shr_graph_validate(g));
    shr_graph_free(g);
}

/* ---- dropout ---- */

static void test_dropout(void) {
    const float p = 0.3f;
    shr_attrs a = shr_attrs_default();
    a.alpha = p;
    int64_t sample[2] = {250, 201};
    shr_graph *g;
    op_case c;
    int node = one_node(&g, SHR_OP_DROPOUT, &a, 2, sample);
    case_init(&c, g, node, 4); /* 201000 elements */
    shr_rng r;
    shr_rng_seed(&r, 5);
    fill(c.in[0], &r, 0.5f, 1.5f); /* never zero, so y == 0 marks a drop */
    const int64_t n = c.out->numel;
    const float *x = shr_f32(c.in[0]), *y = shr_f32(c.out);

    c.rng = &r;
    shr_rng_seed(&r, 42);
    CHECK_OK(run_fwd(&c));
    CHECK(c.state != NULL);
    int64_t dropped = 0, badscale = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] == 0.0f)
            dropped++;
        else
            badscale += fabsf(y[i] - x[i] / (1.0f - p)) > 1e-6f;
    }
    double rate = (double)dropped / (double)n;
    CHECK_MSG(fabs(rate - p) < 0.006, "drop rate %.4f, want %.2f", rate, (double)p);
    CHECK(badscale == 0);

    /* Backward uses the same mask and scale; accumulates. */
    shr_tensor *dout = NULL, *dx = NULL;
    CHECK_OK(shr_tensor_create(&dout, SHR_F32, c.out->ndim, c.out->shape));
    CHECK_OK(shr_tensor_create(&dx, SHR_F32, c.in[0]->ndim, c.in[0]->shape));
    fill(dout, &r, -1.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) shr_f32(dx)[i] = 0.5f;
    CHECK_OK(run_bwd(&c, dout, &dx));
    int64_t badg = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = 0.5f + (y[i] == 0.0f ? 0.0f : shr_f32(dout)[i] / (1.0f - p));
        badg += fabsf(shr_f32(dx)[i] - want) > 1e-6f;
    }
    CHECK(badg == 0);

    /* Same seed -> same mask; another seed -> another mask. */
    shr_tensor *first = NULL;
    CHECK_OK(shr_tensor_clone(&first, c.out));
    shr_rng_seed(&r, 42);
    CHECK_OK(run_fwd(&c));
    CHECK(memcmp(first->data, c.out->data, (size_t)n * sizeof(float)) == 0);
    shr_rng_seed(&r, 43);
    CHECK_OK(run_fwd(&c));
    CHECK(memcmp(first->data, c.out->data, (size_t)n * sizeof(float)) != 0);

    /* Eval: identity forward and pass-through backward, no rng needed. */
    c.training = 0;
    c.rng = NULL;
    CHECK_OK(run_fwd(&c));
    CHECK(memcmp(c.in[0]->data, c.out->data, (size_t)n * sizeof(float)) == 0);
    memset(dx->data, 0, dx->nbytes);
    CHECK_OK(run_bwd(&c, dout, &dx));
    CHECK(memcmp(dx->data, dout->data, (size_t)n * sizeof(float)) == 0);

    /* Training without an rng is an error, not a crash. */
    c.training = 1;
    CHECK_STATUS(run_fwd(&c), SHR_ERR_INVALID_ARG);
    free_state(&c);

    /* Training backward with no forward mask is reported. */
    CHECK_STATUS(run_bwd(&c, dout, &dx), SHR_ERR_INTERNAL);

    shr_tensor_free(first);
    shr_tensor_free(dout);
    shr_tensor_free(dx);
    case_free(&c);
}

/* Every position, including the last of an odd count, is dropped at random. */
static void test_dropout_positions(void) {
    shr_attrs a = shr_attrs_default();
    a.alpha = 0.5f;
    shr_graph *g;
    op_case c;
    int node = one_node(&g, SHR_OP_DROPOUT, &a, 1, (int64_t[]){7});
    case_init(&c, g, node, 1);
    for (int i = 0; i < 7; i++) shr_f32(c.in[0])[i] = 1.0f;
    int kept[7] = {0}, odd = 0;
    shr_rng r;
    c.rng = &r;
    for (uint64_t seed = 0; seed < 200; seed++) {
        shr_rng_seed(&r, seed);
        CHECK_OK(run_fwd(&c));
        for (int i = 0; i < 7; i++) {
            float v = shr_f32(c.out)[i];
            kept[i] += v == 2.0f;
            odd += v != 0.0f && v != 2.0f;
        }
    }
    CHECK(odd == 0);
    for (int i = 0; i < 7; i++) CHECK_MSG(kept[i] > 60 && kept[i] < 140, "position %d kept %d/200", i, kept[i]);
    case_free(&c);
}

static void test_dropout_grad_and_p0(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    for (int trial = 0; trial < 3; trial++) {
        int64_t sample[SHR_MAX_DIMS];
        int rank = random_sample_shape(&r, sample, 1);
        shr_attrs a = shr_attrs_default();
        a.alpha = trial == 0 ? 0.0f : 0.5f;
        shr_graph *g;
        op_case c;
        int node = one_node(&g, SHR_OP_DROPOUT, &a, rank, sample);
        case_init(&c, g, node, 1 + (int64_t)shr_rng_below(&r, 3));
        fill(c.in[0], &r, -2.0f, 2.0f);
        if (trial == 0) { /* p = 0 in training is the identity */
            c.rng = &r;
            CHECK_OK(run_fwd(&c));
            CHECK(memcmp(c.in[0]->data, c.out->data, c.out->nbytes) == 0);
            free_state(&c); /* the check below starts from no state */
        }
        grad_check(&c, 100 + (uint64_t)trial, 1e-2f, 1e-3);
        case_free(&c);
    }
    /* p must be in [0, 1). */
    float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (int k = 0; k < 4; k++) {
        shr_graph *g;
        int x, y;
        int64_t s[1] = {4};
        shr_attrs a = shr_attrs_default();
        a.alpha = bad[k];
        CHECK_OK(shr_graph_create(&g));
        CHECK_OK(shr_graph_add_input(g, "x", 1, s, &x));
        CHECK_STATUS(shr_graph_add_node(g, "drop", SHR_OP_DROPOUT, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
        CHECK(strstr(shr_last_error(), "'drop'") != NULL);
        shr_graph_free(g);
    }
}

/* ---- softmax / log_softmax ---- */

/* Double-precision reference over (outer, len, inner). */
static void ref_softmax(const float *x, double *y, int64_t outer, int64_t len, int64_t inner, int is_log) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *xc = x + o * len * inner + j;
            double *yc = y + o * len * inner + j;
            double m = -INFINITY, s = 0;
            for (int64_t a = 0; a < len; a++) m = fmax(m, xc[a * inner]);
            for (int64_t a = 0; a < len; a++) s += exp(xc[a * inner] - m);
            for (int64_t a = 0; a < len; a++)
                yc[a * inner] = is_log ? (xc[a * inner] - m) - log(s) : exp(xc[a * inner] - m) / s;
        }
}

static void check_softmax_case(int ndim, const int64_t *sample, int axis, int64_t batch, float scale, float shift) {
    for (int is_log = 0; is_log < 2; is_log++) {
        shr_attrs a = shr_attrs_default();
        a.axis = axis;
        shr_graph *g;
        op_case c;
        int node = one_node(&g, is_log ? SHR_OP_LOG_SOFTMAX : SHR_OP_SOFTMAX, &a, ndim, sample);
        case_init(&c, g, node, batch);
        shr_rng r;
        shr_rng_seed(&r, 3 + (uint64_t)ndim);
        fill(c.in[0], &r, shift - scale, shift + scale);
        c.training = 0;
        CHECK_OK(run_fwd(&c));
        int full = ndim + 1, ax = axis < 0 ? axis + full : axis;
        int64_t outer = 1, inner = 1, len = c.out->shape[ax];
        for (int d = 0; d < ax; d++) outer *= c.out->shape[d];
        for (int d = ax + 1; d < full; d++) inner *= c.out->shape[d];
        double *want = malloc((size_t)c.out->numel * sizeof *want);
        ref_softmax(shr_f32(c.in[0]), want, outer, len, inner, is_log);
        int bad = 0, nonfinite = 0;
        for (int64_t i = 0; i < c.out->numel; i++) {
            float v = shr_f32(c.out)[i];
            nonfinite += !isfinite(v);
            bad += fabs(v - want[i]) > 1e-5 * fmax(1.0, fabs(want[i]));
        }
        CHECK_MSG(nonfinite == 0 && bad == 0, "%s axis %d scale %g: %d wrong, %d non-finite",
                  is_log ? "log_softmax" : "softmax", axis, (double)scale, bad, nonfinite);
        /* Every column sums to 1 (exp of log_softmax too). */
        double worst = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++) {
                double s = 0;
                for (int64_t k = 0; k < len; k++) {
                    float v = shr_f32(c.out)[(o * len + k) * inner + j];
                    s += is_log ? exp(v) : v;
                }
                worst = fmax(worst, fabs(s - 1.0));
            }
        CHECK_MSG(worst < 1e-5, "column sum off by %g", worst);
        free(want);
        case_free(&c);
    }
}

static void test_softmax_values(void) {
    int64_t s2[1] = {10};
    check_softmax_case(1, s2, 1, 3, 3.0f, 0.0f);
    check_softmax_case(1, s2, -1, 2, 1e4f, 0.0f);  /* logits ~1e4: still finite and exact */
    check_softmax_case(1, s2, 1, 2, 50.0f, 1e4f);  /* all near 1e4 */
    check_softmax_case(1, s2, 1, 2, 50.0f, -1e4f); /* all near -1e4 */
    int64_t s4[3] = {5, 9, 11};                    /* inner 99 > one block of 64 */
    check_softmax_case(3, s4, 1, 2, 4.0f, 0.0f);
    check_softmax_case(3, s4, 2, 3, 4.0f, 0.0f);
    check_softmax_case(3, s4, -1, 1, 1e4f, 0.0f);
    int64_t s5[2] = {3, 150}; /* inner 150: a partial third block */
    check_softmax_case(2, s5, 1, 2, 2.0f, 0.0f);

    /* Closed form for two classes: softmax([a, b])[0] = 1 / (1 + e^(b - a)). */
    shr_graph *g;
    op_case c;
    int node = one_node(&g, SHR_OP_SOFTMAX, NULL, 1, (int64_t[]){2});
    case_init(&c, g, node, 1);
    shr_f32(c.in[0])[0] = 1.0f;
    shr_f32(c.in[0])[1] = 3.0f;
    c.training = 0;
    CHECK_OK(run_fwd(&c));
    CHECK_NEAR(shr_f32(c.out)[0], 1.0 / (1.0 + exp(2.0)), 1e-6);
    CHECK_NEAR(shr_f32(c.out)[1], 1.0 / (1.0 + exp(-2.0)), 1e-6);
    case_free(&c);
}

static void test_softmax_grads(void) {
    shr_rng r;
    shr_rng_seed(&r, 21);
    static const int axes[] = {1, -1, 2, -2};
    for (int is_log = 0; is_log < 2; is_log++)
        for (int trial = 0; trial < 6; trial++) {
            int64_t sample[SHR_MAX_DIMS];
            int rank = random_sample_shape(&r, sample, 2); /* 2..4 dims per sample */
            shr_attrs a = shr_attrs_default();
            a.axis = axes[trial % 4];
            shr_graph *g;
            op_case c;
            int node = one_node(&g, is_log ? SHR_OP_LOG_SOFTMAX : SHR_OP_SOFTMAX, &a, rank, sample);
            case_init(&c, g, node, 1 + (int64_t)shr_rng_below(&r, 3));
            fill(c.in[0], &r, -3.0f, 3.0f);
            grad_check(&c, 0, 1e-2f, 2e-3);
            case_free(&c);
        }
}

static void test_softmax_infer_errors(void) {
    shr_graph *g;
    int x, y;
    int64_t s[2] = {4, 3};
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 2, s, &x));
    shr_attrs a = shr_attrs_default();
    int bad_axes[] = {0, 3, -4, 7};
    for (int k = 0; k < 4; k++) {
        a.axis = bad_axes[k];
        CHECK_STATUS(shr_graph_add_node(g, "sm", SHR_OP_SOFTMAX, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
        CHECK(strstr(shr_last_error(), "'sm'") != NULL);
    }
    a.axis = -3; /* == 0, the batch */
    CHECK_STATUS(shr_graph_add_node(g, "lsm", SHR_OP_LOG_SOFTMAX, &a, 1, &x, &y), SHR_ERR_INVALID_ARG);
    a.axis = -1;
    CHECK_OK(shr_graph_add_node(g, "lsm", SHR_OP_LOG_SOFTMAX, &a, 1, &x, &y));
    CHECK(g->values[y].ndim == 3 && g->values[y].shape[2] == 3);
    shr_graph_free(g);
}

/* ---- tensors big enough for the OpenMP paths ----
 * The formulas are checked by finite differences on small tensors above; here
 * forward and backward of large tensors are compared with closed forms in
 * double, and with a run on one thread (bit-identical). */

static double ref_dact(shr_op op, double x) {
    switch (op) {
    case SHR_OP_RELU: return x > 0;
    case SHR_OP_RELU6: return x > 0 && x < 6;
    case SHR_OP_LEAKY_RELU: return x > 0 ? 1.0 : 0.01;
    case SHR_OP_GELU: return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI_VALUE);
    case SHR_OP_SIGMOID: return ref_act(op, x, 0) * (1.0 - ref_act(op, x, 0));
    case SHR_OP_TANH: return 1.0 - tanh(x) * tanh(x);
    default: return NAN;
    }
}

/* Runs forward + backward (into din pre-filled with 1) on `threads` threads; returns clones. */
static void fwd_bwd(op_case *c, int threads, const shr_tensor *dout, shr_tensor **y, shr_tensor **dx) {
    int before = shr_get_threads();
    shr_set_threads(threads);
    c->training = 0;
    CHECK_OK(run_fwd(c));
    CHECK_OK(shr_tensor_clone(y, c->out));
    CHECK_OK(shr_tensor_create(dx, SHR_F32, c->in[0]->ndim, c->in[0]->shape));
    for (int64_t i = 0; i < (*dx)->numel; i++) shr_f32(*dx)[i] = 1.0f;
    CHECK_OK(run_bwd(c, dout, dx));
    shr_set_threads(before);
}

static void test_large_tensors(void) {
    shr_rng r;
    shr_rng_seed(&r, 31);
    static const float kinks[] = {0.0f, 6.0f};
    int64_t sample[3] = {5, 67, 61}; /* 20435 per sample, batch 2 crosses the parallel threshold */
    int many = shr_get_threads() > 1 ? shr_get_threads() : 4;
    static const int axes[] = {1, -1, 2};
    const int n_act = (int)(sizeof act_ops / sizeof act_ops[0]);
    for (int k = 0; k < n_act + 6; k++) {
        shr_op op = k < n_act ? act_ops[k] : (k - n_act < 3 ? SHR_OP_SOFTMAX : SHR_OP_LOG_SOFTMAX);
        shr_attrs a = shr_attrs_default();
        a.axis = axes[(k - n_act + 6) % 3];
        shr_graph *g;
        op_case c;
        int node = one_node(&g, op, &a, 3, sample);
        case_init(&c, g, node, 2);
        fill_avoid(c.in[0], &r, -4.0f, 8.0f, kinks, 2, 0.05f);
        shr_tensor *dout = NULL, *y1, *d1, *yn, *dn;
        CHECK_OK(shr_tensor_create(&dout, SHR_F32, c.out->ndim, c.out->shape));
        fill(dout, &r, -1.0f, 1.0f);
        fwd_bwd(&c, 1, dout, &y1, &d1);
        fwd_bwd(&c, many, dout, &yn, &dn);
        CHECK_MSG(memcmp(y1->data, yn->data, y1->nbytes) == 0 && memcmp(d1->data, dn->data, d1->nbytes) == 0,
                  "%s axis %d: results depend on the thread count", shr_op_name(op), a.axis);
        const float *x = shr_f32(c.in[0]), *y = shr_f32(yn), *gy = shr_f32(dout), *gx = shr_f32(dn);
        int bad = 0;
        if (k < n_act) {
            for (int64_t i = 0; i < c.out->numel; i++) {
                bad += fabs(y[i] - ref_act(op, x[i], 0.01)) > 2e-6 * fmax(1.0, fabs(y[i]));
                bad += fabs(gx[i] - (1.0 + gy[i] * ref_dact(op, x[i]))) > 2e-6 * fmax(1.0, fabs(gx[i]));
            }
        } else {
            int is_log = op == SHR_OP_LOG_SOFTMAX, ax = a.axis < 0 ? a.axis + 4 : a.axis;
            int64_t outer = 1, inner = 1, len = c.out->shape[ax];
            for (int d = 0; d < ax; d++) outer *= c.out->shape[d];
            for (int d = ax + 1; d < 4; d++) inner *= c.out->shape[d];
            double *want = malloc((size_t)c.out->numel * sizeof *want);
            ref_softmax(x, want, outer, len, inner, is_log);
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < inner; j++) {
                    int64_t base = o * len * inner + j;
                    double sum = 0;
                    for (int64_t t = 0; t < len; t++) {
                        int64_t i = base + t * inner;
                        sum += is_log ? gy[i] : gy[i] * want[i];
                    }
                    for (int64_t t = 0; t < len; t++) {
                        int64_t i = base + t * inner;
                        double dx = is_log ? gy[i] - exp(want[i]) * sum : want[i] * (gy[i] - sum);
                        bad += fabs(y[i] - want[i]) > 1e-5 * fmax(1.0, fabs(want[i]));
                        bad += fabs(gx[i] - (1.0 + dx)) > 1e-5;
                    }
                }
            free(want);
        }
        CHECK_MSG(bad == 0, "%s axis %d: %d wrong values on a large tensor", shr_op_name(op), a.axis, bad);
        shr_tensor_free(dout);
        shr_tensor_free(y1);
        shr_tensor_free(d1);
        shr_tensor_free(yn);
        shr_tensor_free(dn);
        case_free(&c);
    }
}

/* ---- registration ---- */

static void test_registered(void) {
    static const op_reg ops[] = {
        {SHR_OP_RELU, &shr_op_relu},
        {SHR_OP_RELU6, &shr_op_relu6},
        {SHR_OP_LEAKY_RELU, &shr_op_leaky_relu},
        {SHR_OP_GELU, &shr_op_gelu},
        {SHR_OP_SIGMOID, &shr_op_sigmoid},
        {SHR_OP_TANH, &shr_op_tanh},
        {SHR_OP_DROPOUT, &shr_op_dropout},
        {SHR_OP_SOFTMAX, &shr_op_softmax},
        {SHR_OP_LOG_SOFTMAX, &shr_op_log_softmax},
    };
    check_registered(ops, sizeof ops / sizeof ops[0]);
}

int main(void) {
    RUN(test_registered);
    RUN(test_activation_values);
    RUN(test_activation_nan_propagates);
    RUN(test_activation_grads);
    RUN(test_activation_infer_errors);
    RUN(test_dropout);
    RUN(test_dropout_positions);
    RUN(test_dropout_grad_and_p0);
    RUN(test_softmax_values);
    RUN(test_softmax_grads);
    RUN(test_softmax_infer_errors);
    RUN(test_large_tensors);
    return test_summary();
}
