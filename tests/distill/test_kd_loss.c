/* Logit distillation: the loss hook against the formula computed here in
 * double, its gradient against finite differences, the large-temperature
 * limit, the alpha extremes, the teacher's preprocessing conversion and the
 * logit cache. */
#include <math.h>
#include <string.h>

#include "distill/distill_internal.h"
#include "shrink/shrink.h"
#include "shrink/distill.h"
#include "test.h"

#define N 4
#define K 5

/* A teacher and a student on 1x3x3 inputs with K outputs (different widths). */
static shr_graph *model(const char *spec, uint64_t seed) {
    shr_graph *g = NULL;
    CHECK_OK(shr_arch_parse(spec, 1, 3, 3, K, seed, &g));
    return g;
}

static const char *TEACHER = "flatten\nlinear 12\ntanh\nlinear 5\n";
static const char *STUDENT = "flatten\nlinear 5\n";

static void random_fill(float *x, int n, uint64_t seed, float scale) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) x[i] = scale * shr_rng_normal(&r);
}

/* The teacher's logits through a plan (what the hook must use). */
static void teacher_logits(const shr_graph *t, const float *x, float *z) {
    shr_plan *p = NULL;
    CHECK_OK(shr_plan_create(t, N, &p));
    const float *out = NULL;
    if (p) CHECK_OK(shr_plan_run(p, x, N, &out));
    if (out) memcpy(z, out, sizeof(float) * N * K);
    shr_plan_free(p);
}

/* alpha T^2 KL(p_t || p_s) + (1 - alpha) CE, batch mean, in double. */
static double reference_loss(const float *zs, const float *zt, const int32_t *y, double T, double alpha) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        double ms = -1e300, mt = -1e300, m1 = -1e300, ss = 0, st = 0, s1 = 0;
        for (int k = 0; k < K; k++) {
            ms = fmax(ms, zs[n * K + k] / T);
            mt = fmax(mt, zt[n * K + k] / T);
            m1 = fmax(m1, zs[n * K + k]);
        }
        for (int k = 0; k < K; k++) {
            ss += exp(zs[n * K + k] / T - ms);
            st += exp(zt[n * K + k] / T - mt);
            s1 += exp(zs[n * K + k] - m1);
        }
        double kl = 0;
        for (int k = 0; k < K; k++) {
            double lpt = zt[n * K + k] / T - mt - log(st), lps = zs[n * K + k] / T - ms - log(ss);
            kl += exp(lpt) * (lpt - lps);
        }
        double ce = -(zs[n * K + y[n]] - m1 - log(s1));
        total += alpha * T * T * kl + (1 - alpha) * ce;
    }
    return total / N;
}

typedef struct kd_fixture {
    shr_graph *t, *s;
    shr_distiller *d;
    shr_train_hooks hooks;
    float x[N * 9], zt[N * K];
    int32_t y[N];
} kd_fixture;

static int fixture_init(kd_fixture *f, float T, float alpha) {
    memset(f, 0, sizeof *f);
    f->t = model(TEACHER, 3);
    f->s = model(STUDENT, 4);
    if (!f->t || !f->s) return 0;
    random_fill(f->x, N * 9, 11, 1.0f);
    for (int n = 0; n < N; n++) f->y[n] = (n * 3) % K;
    teacher_logits(f->t, f->x, f->zt);
    shr_distill_config c = shr_distill_default();
    c.temperature = T;
    c.alpha = alpha;
    CHECK_OK(shr_distiller_create(f->t, f->s, &c, N, NULL, NULL, &f->d));
    if (!f->d) return 0;
    CHECK_OK(shr_distill_hooks(f->d, NULL, &f->hooks));
    return f->hooks.loss != NULL;
}

static void fixture_free(kd_fixture *f) {
    shr_distiller_free(f->d);
    shr_graph_free(f->t);
    shr_graph_free(f->s);
}

static double hook_loss(kd_fixture *f, const float *zs, float *grad) {
    float loss = NAN, scratch[N * K];
    if (f->hooks.loss(f->hooks.user, NULL, f->x, f->y, N, zs, K, &loss, grad ? grad : scratch) != SHR_OK) return NAN;
    return loss;
}

static void test_loss_and_gradient(void) {
    const float Ts[] = {1.0f, 2.5f, 4.0f, 8.0f};
    const float alphas[] = {0.0f, 0.5f, 0.9f, 1.0f};
    for (int i = 0; i < 4; i++) {
        kd_fixture f;
        if (!fixture_init(&f, Ts[i], alphas[i])) {
            fixture_free(&f);
            CHECK(0);
            continue;
        }
        float zs[N * K], grad[N * K];
        random_fill(zs, N * K, 20 + (uint64_t)i, 2.0f);
        double loss = hook_loss(&f, zs, grad);
        CHECK_NEAR(loss, reference_loss(zs, f.zt, f.y, Ts[i], alphas[i]), 1e-5);
        double worst = 0;
        for (int j = 0; j < N * K; j++) {
            const float h = 1e-2f, keep = zs[j];
            zs[j] = keep + h;
            double lp = reference_loss(zs, f.zt, f.y, Ts[i], alphas[i]);
            zs[j] = keep - h;
            double lm = reference_loss(zs, f.zt, f.y, Ts[i], alphas[i]);
            zs[j] = keep;
            worst = fmax(worst, fabs((lp - lm) / (2 * h) - grad[j]));
        }
        CHECK_MSG(worst < 2e-4, "T=%g alpha=%g: worst gradient error %g", (double)Ts[i], (double)alphas[i], worst);
        fixture_free(&f);
    }
}

/* Soft targets alone (alpha = 1) ignore the labels; labels alone (alpha = 0)
 * are the plain cross-entropy; a student that matches the teacher has no KL. */
static void test_alpha_extremes(void) {
    kd_fixture f;
    if (fixture_init(&f, 3.0f, 1.0f)) {
        float zs[N * K];
        random_fill(zs, N * K, 5, 1.0f);
        double a = hook_loss(&f, zs, NULL);
        for (int n = 0; n < N; n++) f.y[n] = (f.y[n] + 1) % K;
        CHECK(hook_loss(&f, zs, NULL) == a);
        float g[N * K];
        CHECK_NEAR(hook_loss(&f, f.zt, g), 0.0, 1e-6);
        for (int j = 0; j < N * K; j++) CHECK_NEAR(g[j], 0.0, 1e-7);
    }
    fixture_free(&f);
    if (fixture_init(&f, 3.0f, 0.0f)) {
        float zs[N * K], g1[N * K], g2[N * K], ce;
        random_fill(zs, N * K, 6, 1.0f);
        double a = hook_loss(&f, zs, g1);
        CHECK_OK(shr_loss_cross_entropy(zs, f.y, N, K, 0.0f, &ce, g2));
        CHECK_NEAR(a, ce, 1e-6);
        for (int j = 0; j < N * K; j++) CHECK_NEAR(g1[j], g2[j], 1e-7);
    }
    fixture_free(&f);
}

/* For T -> infinity, softmax(z/T)_k = (1 + c_k/T + O(1/T^2)) / K with c the
 * logits minus their row mean, so the T^2-scaled KL gradient tends to
 * (c_s - c_t) / (K N) (Hinton's logit matching), with an O(1/T) error, and the
 * unscaled one to (c_s - c_t) / (K T^2 N), which is (z_s - z_t) / (K T^2 N)
 * for zero-mean logits. The T^2-scaled loss tends to sum (c_s - c_t)^2 / (2 K N). */
static void test_large_temperature_limit(void) {
    float zs[N * K], zt[N * K];
    random_fill(zs, N * K, 31, 3.0f);
    random_fill(zt, N * K, 32, 3.0f);
    double match[N * K], match_loss = 0;
    for (int n = 0; n < N; n++) {
        double ms = 0, mt = 0;
        for (int k = 0; k < K; k++) ms += zs[n * K + k] / (double)K, mt += zt[n * K + k] / (double)K;
        for (int k = 0; k < K; k++) {
            double d = (zs[n * K + k] - ms) - (zt[n * K + k] - mt);
            match[n * K + k] = d / (K * N);
            match_loss += d * d / (2.0 * K * N);
        }
    }
    double err[3];
    const double Ts[3] = {10, 100, 1000};
    for (int i = 0; i < 3; i++) {
        float loss, g[N * K];
        CHECK_OK(shr_loss_kl_div(zs, zt, N, K, (float)Ts[i], &loss, g));
        double e = 0, scale = 0;
        for (int j = 0; j < N * K; j++) {
            e = fmax(e, fabs(Ts[i] * Ts[i] * g[j] - match[j]));
            scale = fmax(scale, fabs(match[j]));
        }
        err[i] = e / scale;
        if (i > 0) CHECK_NEAR(Ts[i] * Ts[i] * loss, match_loss, 3.0 / Ts[i]);
    }
    CHECK_MSG(err[1] < 0.05 && err[2] < 0.005, "relative errors %g %g", err[1], err[2]);
    /* O(1/T): ten times the temperature, about a tenth of the error. */
    CHECK_MSG(err[1] / err[2] > 5 && err[1] / err[2] < 20, "error ratio %g", err[1] / err[2]);
    CHECK_MSG(err[0] / err[1] > 5 && err[0] / err[1] < 20, "error ratio %g", err[0] / err[1]);
    /* Zero-mean logits: the plain difference over K T^2. */
    for (int n = 0; n < N; n++) {
        double ms = 0, mt = 0;
        for (int k = 0; k < K; k++) ms += zs[n * K + k] / K, mt += zt[n * K + k] / K;
        for (int k = 0; k < K; k++) zs[n * K + k] -= (float)ms, zt[n * K + k] -= (float)mt;
    }
    float loss, g[N * K];
    const double T = 500;
    CHECK_OK(shr_loss_kl_div(zs, zt, N, K, (float)T, &loss, g));
    for (int j = 0; j < N * K; j++) CHECK_NEAR(g[j] * K * T * T * N, zs[j] - zt[j], 0.02);
}

/* A student with another preprocessing: the hook converts the batch before the
 * teacher sees it. */
static void test_teacher_preprocessing(void) {
    kd_fixture f;
    if (fixture_init(&f, 2.0f, 1.0f)) {
        shr_distiller_free(f.d);
        f.d = NULL;
        f.t->preproc = (shr_preproc){1.0f / 255, 1, {0.3f}, {0.4f}};
        f.s->preproc = (shr_preproc){1.0f, 1, {100.0f}, {50.0f}};
        float raw[N * 9], xs[N * 9], xt[N * 9];
        random_fill(raw, N * 9, 8, 60.0f);
        for (int i = 0; i < N * 9; i++) {
            raw[i] = fabsf(raw[i]);
            xs[i] = (raw[i] - 100.0f) / 50.0f;
            xt[i] = (raw[i] / 255 - 0.3f) / 0.4f;
        }
        memcpy(f.x, xs, sizeof xs);
        teacher_logits(f.t, xt, f.zt);
        shr_distill_config c = shr_distill_default();
        c.alpha = 1.0f;
        CHECK_OK(shr_distiller_create(f.t, f.s, &c, N, NULL, NULL, &f.d));
        if (f.d) {
            CHECK(!f.d->teacher.same_preproc);
            CHECK_OK(shr_distill_hooks(f.d, NULL, &f.hooks));
            CHECK_NEAR(hook_loss(&f, f.zt, NULL), 0.0, 1e-5);
        }
    }
    fixture_free(&f);
}

/* The cache answers for training samples (poke a marker into it to see it is
 * used) and runs the teacher for anything else; augmentation or hints turn it off. */
static void test_logit_cache(void) {
    shr_graph *t = model(TEACHER, 3), *s = model(STUDENT, 4);
    float x[40 * 9];
    int32_t y[40];
    random_fill(x, 40 * 9, 9, 100.0f);
    for (int i = 0; i < 40; i++) x[i * 9] = fabsf(x[i * 9]), y[i] = i % K;
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(40, 1, 3, 3, x, y, &d));
    if (!t || !s || !d) goto done;
    CHECK_OK(shr_dataset_default_preproc(d, &s->preproc));
    t->preproc = s->preproc;
    shr_distill_config c = shr_distill_default();
    shr_distiller *dist = NULL;
    CHECK_OK(shr_distiller_create(t, s, &c, 8, d, NULL, &dist));
    if (!dist) goto done;
    CHECK(dist->teacher.cache.n == 40);
    int64_t idx[3] = {17, 3, 17};
    float xb[3 * 9], direct[3 * K];
    shr_batch_fill(d, idx, 3, &s->preproc, NULL, NULL, xb, NULL);
    const float *z = NULL;
    CHECK_OK(shr_teacher_logits(&dist->teacher, xb, 3, &z));
    if (z) memcpy(direct, z, sizeof direct);
    shr_plan *p = NULL;
    CHECK_OK(shr_plan_create(t, 3, &p));
    const float *pz = NULL;
    if (p) CHECK_OK(shr_plan_run(p, xb, 3, &pz));
    for (int j = 0; pz && j < 3 * K; j++) CHECK_NEAR(direct[j], pz[j], 1e-6);
    shr_plan_free(p);
    dist->teacher.cache.logits[17 * K + 2] = 1234.0f;
    CHECK_OK(shr_teacher_logits(&dist->teacher, xb, 3, &z));
    CHECK(z && z[2] == 1234.0f && z[2 * K + 2] == 1234.0f && z[K + 2] == direct[K + 2]);
    xb[9 + 4] += 0.5f; /* the second row is no training sample any more: the teacher runs */
    CHECK_OK(shr_teacher_logits(&dist->teacher, xb, 3, &z));
    CHECK(z && z[2] == direct[2]);
    shr_distiller_free(dist);
    dist = NULL;
    shr_augment aug = {2, 0};
    CHECK_OK(shr_distiller_create(t, s, &c, 8, d, &aug, &dist));
    CHECK(dist && dist->teacher.cache.n == 0);
    shr_distiller_free(dist);
    dist = NULL;
    c.cache_teacher = 0;
    CHECK_OK(shr_distiller_create(t, s, &c, 8, d, NULL, &dist));
    CHECK(dist && dist->teacher.cache.n == 0);
    shr_distiller_free(dist);
done:
    shr_dataset_free(d);
    shr_graph_free(t);
    shr_graph_free(s);
}

static shr_status other_loss(void *u, shr_tape *t, const float *x, const int32_t *y, int n, const float *z, int k,
                             float *loss, float *dz) {
    (void)u, (void)t, (void)x, (void)y, (void)n, (void)z, (void)k, (void)loss, (void)dz;
    return SHR_OK;
}

static void test_bad_configs(void) {
    shr_graph *t = model(TEACHER, 3), *s = model(STUDENT, 4), *wide = NULL;
    CHECK_OK(shr_arch_parse("flatten\nlinear 7\n", 1, 3, 3, 7, 1, &wide));
    shr_distill_config c = shr_distill_default();
    shr_distiller *d = NULL;
    c.temperature = 0;
    CHECK_STATUS(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d), SHR_ERR_INVALID_ARG);
    c = shr_distill_default();
    c.alpha = 1.5f;
    CHECK_STATUS(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d), SHR_ERR_INVALID_ARG);
    c = shr_distill_default();
    CHECK_STATUS(shr_distiller_create(t, wide, &c, 4, NULL, NULL, &d), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "outputs") != NULL);
    CHECK(d == NULL);
    /* Inner hooks with a loss of their own cannot be combined. */
    CHECK_OK(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d));
    shr_train_hooks inner = {0}, out;
    inner.loss = other_loss;
    if (d) CHECK_STATUS(shr_distill_hooks(d, &inner, &out), SHR_ERR_INVALID_ARG);
    shr_distiller_free(d);
    shr_graph_free(t);
    shr_graph_free(s);
    shr_graph_free(wide);
}

int main(void) {
    shr_set_threads(1); /* tiny shapes: a loaded machine makes thread hand-offs the cost */
    RUN(test_loss_and_gradient);
    RUN(test_alpha_extremes);
    RUN(test_large_temperature_limit);
    RUN(test_teacher_preprocessing);
    RUN(test_logit_cache);
    RUN(test_bad_configs);
    return test_summary();
}
