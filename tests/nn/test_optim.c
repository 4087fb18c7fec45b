/* Optimizers and lr schedules. The optimizers are compared step by step with
 * a double-precision reference written here from the torch.optim update rules
 * (SGD, Adam, AdamW) plus clip_grad_norm_, and with a few updates worked out
 * by hand. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "shrink/graph.h"
#include "shrink/rng.h"
#include "shrink/threads.h"
#include "shrink/train.h"
#include "test.h"

/* ---- the model: input x, param A (3), buffer "stat" (2), param B (2, 2) ---- */

enum { NP = 2, MAXE = 4 };
static const int P_NUMEL[NP] = {3, 4};

typedef struct model {
    shr_graph *g;
    int val[NP]; /* value index of A, B */
    int buf;     /* the buffer, which must never change */
    shr_tensor *grad[NP];
    shr_tensor **grads; /* indexed by value */
} model;

static void model_init(model *m, const float *a0, const float *b0) {
    memset(m, 0, sizeof *m);
    CHECK_OK(shr_graph_create(&m->g));
    const int64_t xs[1] = {3}, as[1] = {3}, bs[2] = {2, 2}, ss[1] = {2};
    int x;
    CHECK_OK(shr_graph_add_input(m->g, "x", 1, xs, &x));
    CHECK_OK(shr_graph_add_tensor(m->g, "A", SHR_VALUE_PARAM, 1, as, &m->val[0]));
    CHECK_OK(shr_graph_add_tensor(m->g, "stat", SHR_VALUE_BUFFER, 1, ss, &m->buf));
    CHECK_OK(shr_graph_add_tensor(m->g, "B", SHR_VALUE_PARAM, 2, bs, &m->val[1]));
    memcpy(shr_f32(m->g->values[m->val[0]].data), a0, 3 * sizeof(float));
    memcpy(shr_f32(m->g->values[m->val[1]].data), b0, 4 * sizeof(float));
    shr_f32(m->g->values[m->buf].data)[0] = 5.0f;
    CHECK_OK(shr_tensor_create(&m->grad[0], SHR_F32, 1, as));
    CHECK_OK(shr_tensor_create(&m->grad[1], SHR_F32, 2, bs));
    m->grads = calloc((size_t)m->g->n_values, sizeof *m->grads);
    m->grads[m->val[0]] = m->grad[0];
    m->grads[m->val[1]] = m->grad[1];
}

static float *model_w(model *m, int p) { return shr_f32(m->g->values[m->val[p]].data); }

static void model_free(model *m) {
    CHECK(shr_f32(m->g->values[m->buf].data)[0] == 5.0f);
    shr_tensor_free(m->grad[0]);
    shr_tensor_free(m->grad[1]);
    free(m->grads);
    shr_graph_free(m->g);
}

/* The model from a0, b0 and an optimizer with config c for it. */
static shr_optim *model_optim(model *m, const float *a0, const float *b0, const shr_optim_config *c) {
    model_init(m, a0, b0);
    shr_optim *o = NULL;
    CHECK_OK(shr_optim_create(m->g, c, &o));
    return o;
}

static void model_optim_free(model *m, shr_optim *o) {
    shr_optim_free(o);
    model_free(m);
}

/* ---- reference optimizer in double, following torch.optim ---- */

typedef struct ref {
    double w[NP][MAXE], buf[NP][MAXE], exp_avg[NP][MAXE], exp_avg_sq[NP][MAXE];
    int64_t step[NP];
} ref;

static double sgn(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }

/* has[p] == 0: param p has no gradient this step (torch: p.grad is None). */
static double ref_step(ref *r, const shr_optim_config *c, double grad[NP][MAXE], const int *has, double lr) {
    /* L1 is a loss term: it is in the gradient before clipping */
    double g[NP][MAXE], total = 0;
    for (int p = 0; p < NP; p++)
        for (int i = 0; has[p] && i < P_NUMEL[p]; i++) {
            g[p][i] = grad[p][i] + c->l1 * sgn(r->w[p][i]);
            total += g[p][i] * g[p][i];
        }
    /* torch.nn.utils.clip_grad_norm_ */
    const double total_norm = sqrt(total);
    if (c->clip_norm > 0) {
        double clip_coef = c->clip_norm / (total_norm + 1e-6);
        if (clip_coef > 1.0) clip_coef = 1.0;
        for (int p = 0; p < NP; p++)
            for (int i = 0; has[p] && i < P_NUMEL[p]; i++) g[p][i] *= clip_coef;
    }
    for (int p = 0; p < NP; p++) {
        if (!has[p]) continue;
        r->step[p]++;
        for (int i = 0; i < P_NUMEL[p]; i++) {
            double *param = &r->w[p][i], d_p = g[p][i];
            if (c->kind == SHR_OPTIM_SGD) { /* torch.optim.SGD, dampening 0 */
                if (c->weight_decay != 0) d_p = d_p + c->weight_decay * *param;
                if (c->momentum != 0) {
                    if (r->step[p] == 1)
                        r->buf[p][i] = d_p;
                    else
                        r->buf[p][i] = c->momentum * r->buf[p][i] + d_p;
                    if (c->nesterov)
                        d_p = d_p + c->momentum * r->buf[p][i];
                    else
                        d_p = r->buf[p][i];
                }
                *param -= lr * d_p;
            } else { /* torch.optim.Adam / AdamW */
                if (c->kind == SHR_OPTIM_ADAMW)
                    *param *= 1 - lr * c->weight_decay;
                else if (c->weight_decay != 0)
                    d_p = d_p + c->weight_decay * *param;
                r->exp_avg[p][i] = r->exp_avg[p][i] * c->beta1 + (1 - c->beta1) * d_p;
                r->exp_avg_sq[p][i] = r->exp_avg_sq[p][i] * c->beta2 + (1 - c->beta2) * d_p * d_p;
                double bias_correction1 = 1 - pow(c->beta1, (double)r->step[p]);
                double bias_correction2 = 1 - pow(c->beta2, (double)r->step[p]);
                double step_size = lr / bias_correction1;
                double denom = sqrt(r->exp_avg_sq[p][i]) / sqrt(bias_correction2) + c->eps;
                *param -= step_size * r->exp_avg[p][i] / denom;
            }
        }
    }
    return total_norm;
}

static const float A0[3] = {0.5f, -1.0f, 0.0f}, B0[4] = {0.25f, 2.0f, -0.75f, 0.0f};

/* Runs `steps` steps on both; gradients are those of 0.5 (w - target)^2 plus a
 * wobble, so they depend on the weights like real ones. skip_b_until: B has no
 * gradient before this step. */
static void compare_with_ref(const shr_optim_config *c, int steps, int skip_b_until, double tol) {
    model m;
    ref r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 3; i++) r.w[0][i] = A0[i];
    for (int i = 0; i < 4; i++) r.w[1][i] = B0[i];
    shr_optim *o = model_optim(&m, A0, B0, c);
    for (int s = 0; s < steps; s++) {
        double rg[NP][MAXE];
        int has[NP] = {1, s >= skip_b_until};
        for (int p = 0; p < NP; p++) {
            float *w = model_w(&m, p), *gr = shr_f32(m.grad[p]);
            for (int i = 0; i < P_NUMEL[p]; i++) {
                gr[i] = (w[i] - 0.3f * (float)(i + 1)) + 0.4f * sinf(1.3f * (float)i + 0.7f * (float)s + (float)p);
                rg[p][i] = gr[i];
            }
        }
        m.grads[m.val[1]] = has[1] ? m.grad[1] : NULL;
        const double lr = c->lr * (1.0 - 0.1 * s);
        float norm = -1;
        CHECK_OK(shr_optim_step(o, m.g, m.grads, (float)lr, &norm));
        const double rnorm = ref_step(&r, c, rg, has, lr);
        CHECK_NEAR(norm, rnorm, 1e-6);
        for (int p = 0; p < NP; p++)
            for (int i = 0; i < P_NUMEL[p]; i++)
                CHECK_MSG(fabs(model_w(&m, p)[i] - r.w[p][i]) <= tol, "kind %d step %d param %d[%d]: %.8g vs ref %.8g",
                          (int)c->kind, s, p, i, model_w(&m, p)[i], r.w[p][i]);
        /* the caller's gradients are left as they were */
        for (int i = 0; i < 3; i++) CHECK(shr_f32(m.grad[0])[i] == (float)rg[0][i]);
    }
    model_optim_free(&m, o);
}

static void test_defaults_parse(void) {
    shr_optim_config s = shr_optim_default(SHR_OPTIM_SGD), a = shr_optim_default(SHR_OPTIM_ADAM),
                     w = shr_optim_default(SHR_OPTIM_ADAMW);
    CHECK(s.kind == SHR_OPTIM_SGD && s.lr == 0.1f && s.momentum == 0.9f && !s.nesterov && s.weight_decay == 0.0f);
    CHECK(s.l1 == 0.0f && s.clip_norm == 0.0f);
    CHECK(a.kind == SHR_OPTIM_ADAM && a.lr == 1e-3f && a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f);
    CHECK(a.weight_decay == 0.0f && a.momentum == 0.0f);
    CHECK(w.kind == SHR_OPTIM_ADAMW && w.lr == 1e-3f && w.beta2 == 0.999f && w.weight_decay == 0.01f);

    shr_optim_kind k = SHR_OPTIM_SGD;
    CHECK_OK(shr_optim_parse("adamw", &k));
    CHECK(k == SHR_OPTIM_ADAMW);
    CHECK_OK(shr_optim_parse("adam", &k));
    CHECK(k == SHR_OPTIM_ADAM);
    CHECK_OK(shr_optim_parse("sgd", &k));
    CHECK(k == SHR_OPTIM_SGD);
    CHECK_STATUS(shr_optim_parse("rmsprop", &k), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "rmsprop") && strstr(shr_last_error(), "sgd, adam, adamw"));
    CHECK_STATUS(shr_optim_parse(NULL, &k), SHR_ERR_INVALID_ARG);

    shr_sched_kind sk = SHR_SCHED_NONE;
    CHECK_OK(shr_sched_parse("cosine", &sk));
    CHECK(sk == SHR_SCHED_COSINE);
    CHECK_OK(shr_sched_parse("step", &sk));
    CHECK(sk == SHR_SCHED_STEP);
    CHECK_OK(shr_sched_parse("none", &sk));
    CHECK(sk == SHR_SCHED_NONE);
    CHECK_STATUS(shr_sched_parse("linear", &sk), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "none, step, cosine") != NULL);
}

static void test_sgd_by_hand(void) {
    /* one weight w = 1, constant gradient 1, lr 0.1, momentum 0.9:
     * bufs 1, 1.9, 2.71 -> w 0.9, 0.71, 0.439.
     * Nesterov: d = g + 0.9 buf = 1.9, 2.71, 3.439 -> w 0.81, 0.539, 0.1951 */
    const double plain[3] = {0.9, 0.71, 0.439}, nest[3] = {0.81, 0.539, 0.1951};
    for (int nv = 0; nv < 2; nv++) {
        model m;
        const float a0[3] = {1, 1, 1}, b0[4] = {0};
        shr_optim_config c = shr_optim_default(SHR_OPTIM_SGD);
        c.nesterov = nv;
        shr_optim *o = model_optim(&m, a0, b0, &c);
        for (int i = 0; i < 3; i++) shr_f32(m.grad[0])[i] = 1.0f;
        m.grads[m.val[1]] = NULL;
        for (int s = 0; s < 3; s++) {
            CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.1f, NULL));
            CHECK_NEAR(model_w(&m, 0)[0], nv ? nest[s] : plain[s], 1e-6);
        }
        CHECK(model_w(&m, 1)[0] == 0.0f); /* no gradient, no change */
        model_optim_free(&m, o);
    }
}

static void test_sgd_vs_ref(void) {
    shr_optim_config c = shr_optim_default(SHR_OPTIM_SGD);
    c.momentum = 0.0f;
    compare_with_ref(&c, 5, 0, 2e-6);
    c.momentum = 0.9f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.nesterov = 1;
    c.weight_decay = 0.01f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.nesterov = 0;
    c.momentum = 0.5f;
    c.l1 = 0.05f;
    c.weight_decay = 0.001f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.clip_norm = 0.5f; /* the gradients here have norm > 1: clipping is active */
    compare_with_ref(&c, 6, 0, 2e-6);
    c.clip_norm = 0.0f;
    compare_with_ref(&c, 6, 3, 2e-6); /* B's buffer starts at its first gradient */
}

static void test_adam_vs_ref(void) {
    shr_optim_config c = shr_optim_default(SHR_OPTIM_ADAM);
    c.lr = 0.05f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.weight_decay = 0.1f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.kind = SHR_OPTIM_ADAMW;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.l1 = 0.02f;
    c.clip_norm = 0.3f;
    compare_with_ref(&c, 6, 0, 2e-6);
    c.kind = SHR_OPTIM_ADAM;
    c.beta1 = 0.5f;
    c.beta2 = 0.9f;
    c.eps = 1e-3f;
    compare_with_ref(&c, 6, 4, 2e-6); /* B's bias correction starts at its first gradient */
}

static void test_adam_by_hand(void) {
    /* First Adam step: m^ = g and v^ = g^2, so every weight moves by lr * g / (|g| + eps),
     * i.e. by lr against the gradient's sign, whatever the gradient's size. */
    model m;
    shr_optim_config c = shr_optim_default(SHR_OPTIM_ADAM);
    shr_optim *o = model_optim(&m, A0, B0, &c);
    const float ga[3] = {1e-3f, -50.0f, 0.0f};
    memcpy(shr_f32(m.grad[0]), ga, sizeof ga);
    m.grads[m.val[1]] = NULL;
    CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.01f, NULL));
    CHECK_NEAR(model_w(&m, 0)[0], 0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8), 1e-7);
    CHECK_NEAR(model_w(&m, 0)[1], -1.0 + 0.01, 1e-7);
    CHECK(model_w(&m, 0)[2] == 0.0f);
    model_optim_free(&m, o);
}

static void test_adamw_vs_adam(void) {
    /* zero gradients: AdamW only shrinks, w *= 1 - lr wd; Adam feeds wd w through
     * the moments, so its first step moves every non-zero weight by lr. */
    const float zero[4] = {0};
    float after[2][3];
    for (int k = 0; k < 2; k++) {
        model m;
        shr_optim_config c = shr_optim_default(k ? SHR_OPTIM_ADAMW : SHR_OPTIM_ADAM);
        c.weight_decay = 0.1f;
        shr_optim *o = model_optim(&m, A0, B0, &c);
        memcpy(shr_f32(m.grad[0]), zero, 3 * sizeof(float));
        memcpy(shr_f32(m.grad[1]), zero, 4 * sizeof(float));
        CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.01f, NULL));
        memcpy(after[k], model_w(&m, 0), sizeof after[k]);
        model_optim_free(&m, o);
    }
    CHECK_NEAR(after[1][0], 0.5 * (1 - 0.01 * 0.1), 1e-7);
    CHECK_NEAR(after[1][1], -1.0 * (1 - 0.01 * 0.1), 1e-7);
    CHECK_NEAR(after[0][0], 0.5 - 0.01, 1e-6);
    CHECK_NEAR(after[0][1], -1.0 + 0.01, 1e-6);
    CHECK(after[0][2] == 0.0f && after[1][2] == 0.0f);

    /* without weight decay they are the same optimizer, bit for bit */
    float res[2][7];
    for (int k = 0; k < 2; k++) {
        model m;
        shr_optim_config c = shr_optim_default(k ? SHR_OPTIM_ADAMW : SHR_OPTIM_ADAM);
        c.weight_decay = 0.0f;
        shr_optim *o = model_optim(&m, A0, B0, &c);
        for (int s = 0; s < 4; s++) {
            for (int i = 0; i < 3; i++) shr_f32(m.grad[0])[i] = sinf((float)(s * 3 + i));
            for (int i = 0; i < 4; i++) shr_f32(m.grad[1])[i] = cosf((float)(s * 4 + i));
            CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.01f, NULL));
        }
        memcpy(res[k], model_w(&m, 0), 3 * sizeof(float));
        memcpy(res[k] + 3, model_w(&m, 1), 4 * sizeof(float));
        model_optim_free(&m, o);
    }
    CHECK(memcmp(res[0], res[1], sizeof res[0]) == 0);
}

static void test_regularizers_by_hand(void) {
    /* plain SGD (no momentum), zero loss gradient, lr 0.5:
     * L1 0.1 moves w by -0.05 sign(w), and sign(0) = 0 leaves 0 in place;
     * weight decay 0.1 moves w by -0.05 w. */
    for (int which = 0; which < 2; which++) {
        model m;
        shr_optim_config c = shr_optim_default(SHR_OPTIM_SGD);
        c.momentum = 0.0f;
        if (which == 0) c.l1 = 0.1f;
        else c.weight_decay = 0.1f;
        shr_optim *o = model_optim(&m, A0, B0, &c);
        CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.5f, NULL)); /* grads are zero-filled */
        const float *a = model_w(&m, 0), *b = model_w(&m, 1);
        if (which == 0) {
            CHECK_NEAR(a[0], 0.45, 1e-7);
            CHECK_NEAR(a[1], -0.95, 1e-7);
            CHECK(a[2] == 0.0f && b[3] == 0.0f);
            CHECK_NEAR(b[1], 1.95, 1e-7);
        } else {
            CHECK_NEAR(a[0], 0.5 * 0.95, 1e-7);
            CHECK_NEAR(b[1], 2.0 * 0.95, 1e-7);
            CHECK_NEAR(b[2], -0.75 * 0.95, 1e-7);
            CHECK(a[2] == 0.0f);
        }
        model_optim_free(&m, o);
    }
}

static void test_clip(void) {
    /* gradients (3, 4, 0) and (0, 0, 0, 12): global norm 13 */
    const float ga[3] = {3, 4, 0}, gb[4] = {0, 0, 0, 12};
    const float clips[3] = {1.0f, 100.0f, 0.0f};
    for (int k = 0; k < 3; k++) {
        model m;
        shr_optim_config c = shr_optim_default(SHR_OPTIM_SGD);
        c.momentum = 0.0f;
        c.clip_norm = clips[k];
        shr_optim *o = model_optim(&m, A0, B0, &c);
        memcpy(shr_f32(m.grad[0]), ga, sizeof ga);
        memcpy(shr_f32(m.grad[1]), gb, sizeof gb);
        float norm = 0;
        CHECK_OK(shr_optim_step(o, m.g, m.grads, 1.0f, &norm));
        CHECK_NEAR(norm, 13.0, 1e-7);
        const double scale = k == 0 ? 1.0 / (13.0 + 1e-6) : 1.0; /* clipped only when norm > clip */
        CHECK_NEAR(model_w(&m, 0)[0], 0.5 - 3 * scale, 1e-6);
        CHECK_NEAR(model_w(&m, 0)[1], -1.0 - 4 * scale, 1e-6);
        CHECK_NEAR(model_w(&m, 1)[3], 0.0 - 12 * scale, 1e-6);
        CHECK(model_w(&m, 1)[0] == 0.25f);
        CHECK(memcmp(shr_f32(m.grad[0]), ga, sizeof ga) == 0); /* scaled on the fly, not in place */
        /* a param without a gradient is left out of the norm */
        m.grads[m.val[1]] = NULL;
        CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.0f, &norm));
        CHECK_NEAR(norm, 5.0, 1e-7);
        model_optim_free(&m, o);
    }
}

static void test_errors(void) {
    model m;
    model_init(&m, A0, B0);
    shr_optim_config c = shr_optim_default(SHR_OPTIM_SGD);
    shr_optim *o = (shr_optim *)&c;
    c.lr = -1.0f;
    CHECK_STATUS(shr_optim_create(m.g, &c, &o), SHR_ERR_INVALID_ARG);
    CHECK(o == NULL);
    c = shr_optim_default(SHR_OPTIM_SGD);
    c.momentum = 0.0f;
    c.nesterov = 1;
    CHECK_STATUS(shr_optim_create(m.g, &c, &o), SHR_ERR_INVALID_ARG);
    c = shr_optim_default(SHR_OPTIM_ADAM);
    c.beta1 = 1.0f;
    CHECK_STATUS(shr_optim_create(m.g, &c, &o), SHR_ERR_INVALID_ARG);
    c = shr_optim_default(SHR_OPTIM_ADAM);
    c.clip_norm = NAN;
    CHECK_STATUS(shr_optim_create(m.g, &c, &o), SHR_ERR_INVALID_ARG);
    c.clip_norm = 0.0f;
    c.kind = (shr_optim_kind)7;
    CHECK_STATUS(shr_optim_create(m.g, &c, &o), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_optim_create(NULL, &c, &o), SHR_ERR_INVALID_ARG);

    c = shr_optim_default(SHR_OPTIM_ADAM);
    CHECK_OK(shr_optim_create(m.g, &c, &o));
    for (int i = 0; i < 4; i++) shr_f32(m.grad[1])[i] = 1.0f;
    /* a gradient of the wrong size fails before anything is written */
    const int64_t bad_shape[1] = {5};
    shr_tensor *bad;
    CHECK_OK(shr_tensor_create(&bad, SHR_F32, 1, bad_shape));
    m.grads[m.val[0]] = bad;
    CHECK_STATUS(shr_optim_step(o, m.g, m.grads, 0.1f, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "'A'") != NULL);
    CHECK(model_w(&m, 1)[0] == B0[0]);
    m.grads[m.val[0]] = m.grad[0];
    CHECK_STATUS(shr_optim_step(o, m.g, m.grads, -0.1f, NULL), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_optim_step(o, m.g, m.grads, NAN, NULL), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_optim_step(o, m.g, NULL, 0.1f, NULL), SHR_ERR_INVALID_ARG);
    CHECK(model_w(&m, 1)[0] == B0[0]);
    /* the same step succeeds, and Adam's first step moves B by lr */
    CHECK_OK(shr_optim_step(o, m.g, m.grads, 0.1f, NULL));
    CHECK_NEAR(model_w(&m, 1)[0], 0.25 - 0.1, 1e-6);
    /* a graph that changed since creation is refused */
    const int64_t cs[1] = {2};
    int extra;
    CHECK_OK(shr_graph_add_tensor(m.g, "C", SHR_VALUE_PARAM, 1, cs, &extra));
    CHECK_STATUS(shr_optim_step(o, m.g, m.grads, 0.1f, NULL), SHR_ERR_INVALID_ARG);
    shr_tensor_free(bad);
    shr_optim_free(o);
    shr_optim_free(NULL);
    model_free(&m);
}

/* Same thread count => same bits is required; this checks more: the result
 * does not depend on the thread count at all (fixed-block norm, element-wise
 * updates). The norm is also checked against a plain double sum. */
static void run_big(int threads, float *w_out, float *norm_out, int64_t n) {
    shr_set_threads(threads);
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    const int64_t shape[1] = {n};
    int v;
    CHECK_OK(shr_graph_add_tensor(g, "W", SHR_VALUE_PARAM, 1, shape, &v));
    shr_tensor *gt;
    CHECK_OK(shr_tensor_create(&gt, SHR_F32, 1, shape));
    shr_rng r;
    shr_rng_seed(&r, 99);
    float *w = shr_f32(g->values[v].data), *gr = shr_f32(gt);
    for (int64_t i = 0; i < n; i++) w[i] = shr_rng_normal(&r);
    shr_optim_config c = shr_optim_default(SHR_OPTIM_ADAMW);
    c.clip_norm = 10.0f;
    c.l1 = 1e-3f;
    shr_optim *o;
    CHECK_OK(shr_optim_create(g, &c, &o));
    shr_tensor *grads[1] = {gt};
    for (int s = 0; s < 3; s++) {
        double sq = 0;
        for (int64_t i = 0; i < n; i++) {
            gr[i] = shr_rng_normal(&r);
            double d = (double)gr[i] + 1e-3 * sgn(w[i]);
            sq += d * d;
        }
        CHECK_OK(shr_optim_step(o, g, grads, 1e-2f, &norm_out[s]));
        CHECK_NEAR(norm_out[s], sqrt(sq), 1e-6);
    }
    memcpy(w_out, w, (size_t)n * sizeof(float));
    shr_optim_free(o);
    shr_tensor_free(gt);
    shr_graph_free(g);
}

static void test_thread_count_independent(void) {
    const int64_t n = 100003;
    const int saved = shr_get_threads();
    float *w1 = malloc((size_t)n * sizeof(float)), *w4 = malloc((size_t)n * sizeof(float));
    float n1[3], n4[3];
    run_big(1, w1, n1, n);
    run_big(4, w4, n4, n);
    CHECK(memcmp(w1, w4, (size_t)n * sizeof(float)) == 0);
    CHECK(memcmp(n1, n4, sizeof n1) == 0);
    free(w1);
    free(w4);
    shr_set_threads(saved);
}

static void test_schedules(void) {
    const float base = 0.1f;
    shr_schedule s = {0};
    s.kind = SHR_SCHED_NONE;
    CHECK(shr_schedule_lr(&s, base, 0) == base);
    CHECK(shr_schedule_lr(&s, base, 12345) == base);
    CHECK(shr_schedule_lr(NULL, base, 3) == base);

    /* warm-up 4: 0.025, 0.05, 0.075, 0.1, then the schedule proper */
    s.warmup_steps = 4;
    CHECK_NEAR(shr_schedule_lr(&s, base, 0), 0.025, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 2), 0.075, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 3), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 4), 0.1, 1e-8);

    /* step: warm-up 2, then x0.5 every 3 steps */
    s.kind = SHR_SCHED_STEP;
    s.warmup_steps = 2;
    s.step_size = 3;
    s.gamma = 0.5f;
    CHECK_NEAR(shr_schedule_lr(&s, base, 0), 0.05, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 1), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 2), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 4), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 5), 0.05, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 7), 0.05, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 8), 0.025, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 2 + 3 * 10), 0.1 * pow(0.5, 10), 1e-9);
    s.warmup_steps = 0;
    CHECK_NEAR(shr_schedule_lr(&s, base, 0), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 3), 0.05, 1e-8);

    /* cosine: warm-up 2, total 12 (T = 10), min 0.01 */
    s.kind = SHR_SCHED_COSINE;
    s.warmup_steps = 2;
    s.total_steps = 12;
    s.min_lr = 0.01f;
    const double pi = 3.14159265358979323846;
    CHECK_NEAR(shr_schedule_lr(&s, base, 0), 0.05, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 1), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 2), 0.1, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 4), 0.01 + 0.09 * (1 + cos(pi * 2 / 10)) / 2, 1e-7);
    CHECK_NEAR(shr_schedule_lr(&s, base, 7), 0.01 + 0.09 / 2, 1e-7);
    CHECK_NEAR(shr_schedule_lr(&s, base, 11), 0.01 + 0.09 * (1 + cos(pi * 9 / 10)) / 2, 1e-7);
    CHECK_NEAR(shr_schedule_lr(&s, base, 12), 0.01, 1e-8);
    CHECK_NEAR(shr_schedule_lr(&s, base, 1000), 0.01, 1e-8);
    /* monotone after warm-up */
    for (int64_t t = 2; t < 14; t++) CHECK(shr_schedule_lr(&s, base, t + 1) <= shr_schedule_lr(&s, base, t));
}

int main(void) {
    RUN(test_defaults_parse);
    RUN(test_sgd_by_hand);
    RUN(test_sgd_vs_ref);
    RUN(test_adam_vs_ref);
    RUN(test_adam_by_hand);
    RUN(test_adamw_vs_adam);
    RUN(test_regularizers_by_hand);
    RUN(test_clip);
    RUN(test_errors);
    RUN(test_thread_count_independent);
    RUN(test_schedules);
    return test_summary();
}
