/* The training tape: whole-graph gradients against finite differences
 * (residual Add, BN, conv, pooling, linear), plan-vs-tape agreement in eval
 * mode, memory reuse in the plan, and bit-for-bit deterministic training. */
#include <math.h>
#include <string.h>

#include "nn/tape.h"
#include "shrink/shrink.h"
#include "test.h"

/* Smooth activations only: finite differences across ReLU kinks are noise. */
static const char *SPEC = "stem: conv 4 k=3 bias=1\n"
                          "bn\n"
                          "gelu\n"
                          "conv 4 k=3\n"
                          "add stem\n"
                          "tanh\n"
                          "avgpool k=2\n"
                          "flatten\n"
                          "linear 6\n"
                          "gelu\n"
                          "linear 3\n";

static double loss_of(shr_tape *t, const float *x, int n, const int32_t *y, float *dlogits) {
    const shr_tensor *out;
    if (shr_tape_forward(t, x, n, 1, NULL, &out) != SHR_OK) return NAN;
    float loss;
    shr_loss_cross_entropy(shr_f32(out), y, n, 3, 0.0f, &loss, dlogits);
    return loss;
}

static void test_whole_graph_gradient(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_arch_parse(SPEC, 1, 6, 6, 3, 9, &g));
    if (!g) return;
    shr_tape *t = NULL;
    CHECK_OK(shr_tape_create(g, 4, &t));
    shr_rng r;
    shr_rng_seed(&r, 3);
    float x[4 * 36], dl[12];
    int32_t y[4] = {0, 2, 1, 2};
    for (int i = 0; i < 4 * 36; i++) x[i] = shr_rng_normal(&r);
    loss_of(t, x, 4, y, dl);
    shr_tape_zero_grad(t);
    CHECK_OK(shr_tape_backward(t, dl));
    /* BN in training mode updates running stats on every forward; they do not
     * affect training-mode outputs, so finite differences stay valid. */
    int checked = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind != SHR_VALUE_PARAM) continue;
        shr_tensor *w = g->values[v].data, *gw = t->param_grad[v];
        double num2 = 0, den2 = 0;
        for (int64_t i = 0; i < w->numel; i += 1 + w->numel / 7) {
            float keep = shr_f32(w)[i];
            const float h = 1e-2f;
            shr_f32(w)[i] = keep + h;
            double lp = loss_of(t, x, 4, y, dl);
            shr_f32(w)[i] = keep - h;
            double lm = loss_of(t, x, 4, y, dl);
            shr_f32(w)[i] = keep;
            double fd = (lp - lm) / (2 * h), an = shr_f32(gw)[i];
            num2 += (fd - an) * (fd - an);
            den2 += fd * fd + an * an;
            checked++;
        }
        CHECK_MSG(sqrt(num2) <= 2e-2 * sqrt(den2) + 1e-5, "param %s: relative gradient error %g",
                  g->values[v].name, sqrt(num2 / (den2 + 1e-30)));
    }
    CHECK(checked > 20);
    shr_tape_free(t);
    shr_graph_free(g);
}

static void test_plan_matches_tape_in_eval_mode(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("resnet8", 1, 12, 12, 5, 4, &g));
    if (!g) return;
    shr_tape *t = NULL;
    shr_plan *p = NULL;
    CHECK_OK(shr_tape_create(g, 5, &t));
    CHECK_OK(shr_plan_create(g, 5, &p));
    shr_rng r;
    shr_rng_seed(&r, 8);
    float x[5 * 144];
    for (int i = 0; i < 5 * 144; i++) x[i] = shr_rng_normal(&r);
    const shr_tensor *a;
    const float *b;
    CHECK_OK(shr_tape_forward(t, x, 5, 0, NULL, &a));
    CHECK_OK(shr_plan_run(p, x, 5, &b));
    /* The plan folds BN and fuses ReLUs (other rounding), so: close, not bit-equal. */
    float scale = 1e-30f;
    for (int i = 0; i < 25; i++) scale = fmaxf(scale, fabsf(shr_f32(a)[i]));
    for (int i = 0; i < 25; i++) CHECK_NEAR(b[i], shr_f32(a)[i], 1e-4f * scale);
    float b5[25];
    memcpy(b5, b, sizeof b5);
    /* The arena reuses memory: it is smaller than all activations together. */
    size_t all = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == SHR_VALUE_ACT || g->values[v].kind == SHR_VALUE_INPUT) {
            size_t n = 5 * sizeof(float);
            for (int d = 1; d < g->values[v].ndim; d++) n *= (size_t)g->values[v].shape[d];
            all += n;
        }
    CHECK_MSG(shr_plan_arena_bytes(p) < all / 2, "arena %zu of %zu", shr_plan_arena_bytes(p), all);
    /* A smaller batch through the same plan gives the same rows, bit for bit. */
    const float *c;
    CHECK_OK(shr_plan_run(p, x, 2, &c));
    CHECK(memcmp(b5, c, 2 * 5 * sizeof(float)) == 0);
    CHECK_STATUS(shr_plan_run(p, x, 6, &c), SHR_ERR_INVALID_ARG);
    shr_plan_free(p);
    shr_tape_free(t);
    shr_graph_free(g);
}

static shr_graph *train_once(int threads) {
    shr_set_threads(threads);
    enum { N = 96 };
    static float x[N * 64];
    static int32_t y[N];
    shr_rng r;
    shr_rng_seed(&r, 21);
    for (int i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 3);
        for (int j = 0; j < 64; j++) x[i * 64 + j] = 128.0f + 60.0f * shr_rng_normal(&r) + 40.0f * (float)y[i] * (j % 3 == y[i]);
    }
    shr_dataset *d = NULL;
    shr_graph *g = NULL;
    if (shr_dataset_from_arrays(N, 1, 8, 8, x, y, &d) != SHR_OK) return NULL;
    if (shr_arch_parse("conv 4 k=3\nbn\nrelu\nmaxpool k=2\nflatten\ndropout p=0.2\nlinear 3\n", 1, 8, 8, 3, 5, &g) ==
        SHR_OK) {
        shr_dataset_default_preproc(d, &g->preproc);
        shr_train_config cfg = shr_train_default();
        cfg.epochs = 2;
        cfg.batch = 16;
        cfg.augment.crop_pad = 1;
        cfg.augment.hflip = 1;
        shr_train_result res;
        if (shr_train(g, d, NULL, &cfg, &res) != SHR_OK) {
            shr_graph_free(g);
            g = NULL;
        }
    }
    shr_dataset_free(d);
    return g;
}

static int same_weights(const shr_graph *a, const shr_graph *b) {
    for (int v = 0; v < a->n_values; v++)
        if (a->values[v].data && memcmp(a->values[v].data->data, b->values[v].data->data, a->values[v].data->nbytes))
            return 0;
    return 1;
}

static void test_training_is_deterministic(void) {
    shr_graph *a = train_once(2), *b = train_once(2);
    CHECK(a && b);
    if (a && b) CHECK(same_weights(a, b));
    shr_graph_free(a);
    shr_graph_free(b);
    shr_set_threads(0);
}

static void test_plan_refuses_huge_activations(void) {
    shr_graph *g = NULL;
    /* 1 x 46340 x 46340 floats per sample: 8 GiB, 32 GiB at batch 4. */
    CHECK_OK(shr_arch_parse("relu\ngap\nflatten\nlinear 2\n", 1, 46340, 46340, 2, 1, &g));
    if (!g) return;
    shr_plan *p = NULL;
    CHECK_STATUS(shr_plan_create(g, 4, &p), SHR_ERR_LIMIT);
    CHECK(p == NULL);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_whole_graph_gradient);
    RUN(test_plan_matches_tape_in_eval_mode);
    RUN(test_training_is_deterministic);
    RUN(test_plan_refuses_huge_activations);
    return test_summary();
}
