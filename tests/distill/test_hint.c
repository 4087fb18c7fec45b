/* Feature hints: gradient seeds at inner activations of the tape, the input
 * gradient of a tape, the whole hint loss (KD + hints through 1x1-conv,
 * pool + conv and linear adapters) against finite differences for both the
 * student's and the adapters' parameters, shape errors, and a training run
 * that leaves no adapter in the student. */
#include <math.h>
#include <string.h>

#include "distill/distill_internal.h"
#include "shrink/distill.h"
#include "shrink/shrink.h"
#include "test.h"

static void random_fill(float *x, int n, uint64_t seed, float scale) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) x[i] = scale * shr_rng_normal(&r);
}

/* ---- the tape's seeds: L = CE(logits) + <seed, a> for an inner activation a ---- */

static double seeded_loss(shr_tape *t, const float *x, const int32_t *y, int a, const float *seed, float *dl) {
    const shr_tensor *out;
    if (shr_tape_forward(t, x, 3, 1, NULL, &out) != SHR_OK) return NAN;
    float ce;
    shr_loss_cross_entropy(shr_f32(out), y, 3, 3, 0.0f, &ce, dl);
    const shr_tensor *act = shr_tape_act(t, a);
    double dot = 0;
    for (int64_t i = 0; i < act->numel; i++) dot += (double)seed[i] * shr_f32(act)[i];
    return ce + dot;
}

static void test_tape_seeds(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_arch_parse("flatten\nh: linear 4\ntanh\nlinear 3\n", 1, 2, 3, 3, 5, &g));
    shr_tape *t = NULL;
    if (g) CHECK_OK(shr_tape_create_ex(g, 3, SHR_TAPE_INPUT_GRAD, &t));
    if (!t) goto done;
    int a = shr_graph_find_value(g, "h");
    float x[18], seed[12], half[12], dl[9];
    int32_t y[3] = {0, 2, 1};
    random_fill(x, 18, 1, 1.0f);
    random_fill(seed, 12, 2, 1.0f);
    for (int i = 0; i < 12; i++) half[i] = seed[i] / 2;
    seeded_loss(t, x, y, a, seed, dl);
    /* Two halves add up to the seed. */
    CHECK_OK(shr_tape_add_act_grad(t, a, half));
    CHECK_OK(shr_tape_add_act_grad(t, a, half));
    shr_tape_zero_grad(t);
    CHECK_OK(shr_tape_backward(t, dl));
    double worst = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind != SHR_VALUE_PARAM) continue;
        shr_tensor *w = g->values[v].data;
        float grad[64];
        memcpy(grad, shr_f32(t->param_grad[v]), sizeof(float) * (size_t)w->numel);
        for (int64_t i = 0; i < w->numel; i++) {
            float keep = shr_f32(w)[i];
            shr_f32(w)[i] = keep + 1e-2f;
            double lp = seeded_loss(t, x, y, a, seed, dl);
            shr_f32(w)[i] = keep - 1e-2f;
            double lm = seeded_loss(t, x, y, a, seed, dl);
            shr_f32(w)[i] = keep;
            worst = fmax(worst, fabs((lp - lm) / 2e-2 - grad[i]));
        }
    }
    CHECK_MSG(worst < 1e-3, "parameter gradient error %g", worst);
    /* The input gradient (SHR_TAPE_INPUT_GRAD) against finite differences too. */
    seeded_loss(t, x, y, a, seed, dl);
    CHECK_OK(shr_tape_add_act_grad(t, a, seed));
    shr_tape_zero_grad(t);
    CHECK_OK(shr_tape_backward(t, dl));
    const shr_tensor *gin = shr_tape_act_grad(t, g->input);
    CHECK(gin != NULL);
    float gx[18];
    if (gin) memcpy(gx, shr_f32(gin), sizeof gx);
    worst = 0;
    for (int i = 0; gin && i < 18; i++) {
        float keep = x[i];
        x[i] = keep + 1e-2f;
        double lp = seeded_loss(t, x, y, a, seed, dl);
        x[i] = keep - 1e-2f;
        double lm = seeded_loss(t, x, y, a, seed, dl);
        x[i] = keep;
        worst = fmax(worst, fabs((lp - lm) / 2e-2 - gx[i]));
    }
    CHECK_MSG(worst < 1e-3, "input gradient error %g", worst);
    /* A new forward drops pending seeds: the gradient is the plain one again. */
    seeded_loss(t, x, y, a, seed, dl);
    CHECK_OK(shr_tape_add_act_grad(t, a, seed));
    seeded_loss(t, x, y, a, seed, dl);
    shr_tape_zero_grad(t);
    CHECK_OK(shr_tape_backward(t, dl));
    float plain[18];
    memcpy(plain, shr_f32(shr_tape_act_grad(t, g->input)), sizeof plain);
    shr_tape *t2 = NULL;
    CHECK_OK(shr_tape_create_ex(g, 3, SHR_TAPE_INPUT_GRAD, &t2));
    if (t2) {
        seeded_loss(t2, x, y, a, seed, dl);
        shr_tape_zero_grad(t2);
        CHECK_OK(shr_tape_backward(t2, dl));
        CHECK(memcmp(plain, shr_f32(shr_tape_act_grad(t2, g->input)), sizeof plain) == 0);
    }
    shr_tape_free(t2);
    CHECK_STATUS(shr_tape_add_act_grad(t, g->n_values, seed), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_tape_add_act_grad(t, a, NULL), SHR_ERR_INVALID_ARG);
    /* A NO_GRAD tape keeps activations but has no gradients at all. */
    shr_tape *nt = NULL;
    CHECK_OK(shr_tape_create_ex(g, 3, SHR_TAPE_NO_GRAD, &nt));
    if (nt) {
        CHECK_OK(shr_tape_forward(nt, x, 3, 0, NULL, NULL));
        CHECK(shr_tape_act(nt, a) != NULL && shr_tape_act_grad(nt, a) == NULL);
        CHECK_STATUS(shr_tape_add_act_grad(nt, a, seed), SHR_ERR_INVALID_ARG);
        CHECK_STATUS(shr_tape_backward(nt, dl), SHR_ERR_INVALID_ARG);
    }
    shr_tape_free(nt);
done:
    shr_tape_free(t);
    shr_graph_free(g);
}

/* ---- the whole distillation loss with three kinds of adapter ---- */

static const char *TEACHER = "t1: conv 3 k=3\ntanh\nt2: avgpool k=2\nflatten\ntf: linear 6\ntanh\nlinear 3\n";
static const char *STUDENT = "s1: conv 2 k=3\ns1a: tanh\nflatten\nsf: linear 5\ntanh\nlinear 3\n";
#define B 3

typedef struct hint_fixture {
    shr_graph *t, *s;
    shr_tape *tape;
    shr_distiller *d;
    shr_train_hooks hooks;
    float x[B * 16];
    int32_t y[B];
} hint_fixture;

static int hint_init(hint_fixture *f) {
    memset(f, 0, sizeof *f);
    CHECK_OK(shr_arch_parse(TEACHER, 1, 4, 4, 3, 7, &f->t));
    CHECK_OK(shr_arch_parse(STUDENT, 1, 4, 4, 3, 8, &f->s));
    if (!f->t || !f->s) return 0;
    random_fill(f->x, B * 16, 3, 1.0f);
    for (int i = 0; i < B; i++) f->y[i] = i % 3;
    shr_distill_config c = shr_distill_default();
    c.temperature = 2.0f;
    c.alpha = 0.5f;
    c.beta = 0.7f;
    c.adapter_lr = 1e-20f; /* the adapters stay put while finite differences probe them */
    c.n_hints = 3;
    c.hints[0] = (shr_hint){"t1", "s1a"};
    c.hints[1] = (shr_hint){"t2", "s1a"};
    c.hints[2] = (shr_hint){"tf", "sf"};
    CHECK_OK(shr_distiller_create(f->t, f->s, &c, B, NULL, NULL, &f->d));
    CHECK_OK(shr_tape_create(f->s, B, &f->tape));
    if (!f->d || !f->tape) return 0;
    CHECK_OK(shr_distill_hooks(f->d, NULL, &f->hooks));
    return 1;
}

static void hint_free(hint_fixture *f) {
    shr_distiller_free(f->d);
    shr_tape_free(f->tape);
    shr_graph_free(f->t);
    shr_graph_free(f->s);
}

static double hint_loss(hint_fixture *f, float *dl) {
    const shr_tensor *z;
    if (shr_tape_forward(f->tape, f->x, B, 1, NULL, &z) != SHR_OK) return NAN;
    float loss;
    if (f->hooks.loss(f->hooks.user, f->tape, f->x, f->y, B, shr_f32(z), 3, &loss, dl) != SHR_OK) return NAN;
    return loss;
}

/* Max |finite difference - analytic| over every element of the PARAMs of g. */
static double fd_error(hint_fixture *f, shr_graph *g, shr_tensor **grads) {
    float dl[B * 3];
    double worst = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind != SHR_VALUE_PARAM) continue;
        shr_tensor *w = g->values[v].data;
        for (int64_t i = 0; i < w->numel; i++) {
            float keep = shr_f32(w)[i];
            shr_f32(w)[i] = keep + 1e-2f;
            double lp = hint_loss(f, dl);
            shr_f32(w)[i] = keep - 1e-2f;
            double lm = hint_loss(f, dl);
            shr_f32(w)[i] = keep;
            worst = fmax(worst, fabs((lp - lm) / 2e-2 - shr_f32(grads[v])[i]));
        }
    }
    return worst;
}

static void test_hint_gradients(void) {
    hint_fixture f;
    if (!hint_init(&f)) goto done;
    CHECK(f.d->n_hints == 3 && f.d->hints[1].g->n_nodes == 2); /* pool + conv */
    float dl[B * 3];
    double loss = hint_loss(&f, dl);
    float kl, ce, hint;
    shr_distill_last_terms(f.d, &kl, &ce, &hint);
    CHECK(hint > 0 && kl > 0 && ce > 0);
    CHECK_NEAR(loss, 0.5 * 4 * kl + 0.5 * ce + 0.7 * hint, 1e-5);
    /* Student: logits gradient plus the seeds the hook left in the tape. */
    shr_tape_zero_grad(f.tape);
    CHECK_OK(shr_tape_backward(f.tape, dl));
    int nv = f.s->n_values;
    shr_tensor *grads[64] = {0};
    for (int v = 0; v < nv && v < 64; v++)
        if (f.tape->param_grad[v]) CHECK_OK(shr_tensor_clone(&grads[v], f.tape->param_grad[v]));
    double e = fd_error(&f, f.s, grads);
    CHECK_MSG(e < 2e-3, "student gradient error %g", e);
    for (int v = 0; v < 64; v++) shr_tensor_free(grads[v]);
    /* Adapters: their gradient of beta * MSE, kept on their tapes by the last hook call. */
    for (int h = 0; h < 3; h++) {
        hint_loss(&f, dl);
        shr_hint_adapter *a = &f.d->hints[h];
        shr_tensor *ag[16] = {0};
        for (int v = 0; v < a->g->n_values && v < 16; v++)
            if (a->tape->param_grad[v]) CHECK_OK(shr_tensor_clone(&ag[v], a->tape->param_grad[v]));
        e = fd_error(&f, a->g, ag);
        CHECK_MSG(e < 2e-3, "adapter %d gradient error %g", h, e);
        for (int v = 0; v < 16; v++) shr_tensor_free(ag[v]);
    }
done:
    hint_free(&f);
}

static void test_hint_shape_errors(void) {
    shr_graph *t = NULL, *s = NULL;
    CHECK_OK(shr_arch_parse(TEACHER, 1, 4, 4, 3, 7, &t));
    CHECK_OK(shr_arch_parse("s1: conv 2 k=3 s=2\nflatten\nlinear 3\n", 1, 4, 4, 3, 8, &s));
    if (!t || !s) goto done;
    shr_distill_config c = shr_distill_default();
    shr_distiller *d = NULL;
    c.n_hints = 1;
    c.hints[0] = (shr_hint){"t1", "s1"}; /* student 2x2 map, teacher 4x4 */
    CHECK_STATUS(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "t1:s1") != NULL);
    c.hints[0] = (shr_hint){"nope", "s1"};
    CHECK_STATUS(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "nope") != NULL);
    c.hints[0] = (shr_hint){"t1", "s1.weight"}; /* a parameter, not a layer output */
    CHECK_STATUS(shr_distiller_create(t, s, &c, 4, NULL, NULL, &d), SHR_ERR_INVALID_ARG);
    CHECK(d == NULL);
done:
    shr_graph_free(t);
    shr_graph_free(s);
}

/* Hints train the student, and the adapters stay out of it. */
static void test_training_leaves_no_adapter(void) {
    shr_graph *t = NULL, *s = NULL, *before = NULL;
    CHECK_OK(shr_arch_parse(TEACHER, 1, 4, 4, 3, 7, &t));
    CHECK_OK(shr_arch_parse(STUDENT, 1, 4, 4, 3, 8, &s));
    float x[60 * 16];
    int32_t y[60];
    random_fill(x, 60 * 16, 4, 1.0f);
    for (int i = 0; i < 60; i++) y[i] = (x[i * 16] > 0) + (x[i * 16 + 1] > 0);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(60, 1, 4, 4, x, y, &d));
    if (!t || !s || !d) goto done;
    CHECK_OK(shr_graph_clone(&before, s));
    shr_train_config tc = shr_train_default();
    tc.epochs = 2;
    tc.batch = 16;
    shr_distill_config c = shr_distill_default();
    c.n_hints = 2;
    c.hints[0] = (shr_hint){"t1", "s1a"};
    c.hints[1] = (shr_hint){"tf", "sf"};
    shr_train_result r;
    CHECK_OK(shr_distill_train(s, t, d, NULL, &tc, &c, &r));
    CHECK(isfinite(r.final_loss));
    CHECK(s->n_values == before->n_values && s->n_nodes == before->n_nodes);
    CHECK(shr_graph_param_count(s) == shr_graph_param_count(before));
    int changed = 0;
    for (int v = 0; v < s->n_values; v++) {
        CHECK(strstr(s->values[v].name, "adapter") == NULL);
        if (s->values[v].kind == SHR_VALUE_PARAM)
            changed |= memcmp(s->values[v].data->data, before->values[v].data->data, s->values[v].data->nbytes);
    }
    CHECK(changed);
done:
    shr_dataset_free(d);
    shr_graph_free(t);
    shr_graph_free(s);
    shr_graph_free(before);
}

int main(void) {
    shr_set_threads(1); /* tiny shapes: a loaded machine makes thread hand-offs the cost */
    RUN(test_tape_seeds);
    RUN(test_hint_gradients);
    RUN(test_hint_shape_errors);
    RUN(test_training_leaves_no_adapter);
    return test_summary();
}
