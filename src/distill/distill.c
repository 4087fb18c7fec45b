/* Distillation as a training-loop loss hook: soft targets at temperature T
 * mixed with the label cross-entropy, plus FitNets hints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "distill/distill_internal.h"

shr_distill_config shr_distill_default(void) {
    shr_distill_config c;
    memset(&c, 0, sizeof c);
    /* Measured on Fashion-MNIST (cnn -> cnn-tiny and mlp-small, docs/distill.md):
     * T = 2, alpha = 0.5 beat Hinton's T = 4, alpha = 0.9 on every seed tried. */
    c.temperature = 2.0f;
    c.alpha = 0.5f;
    c.beta = 1.0f;
    c.adapter_lr = 1e-3f;
    c.cache_teacher = 1;
    c.seed = 1;
    return c;
}

static shr_status check_config(const shr_distill_config *c) {
    if (!(c->temperature > 0.0f && c->temperature <= 1e4f))
        return shr_fail(SHR_ERR_INVALID_ARG, "distillation temperature must be in (0, 10000], got %g",
                        (double)c->temperature);
    if (!(c->alpha >= 0.0f && c->alpha <= 1.0f))
        return shr_fail(SHR_ERR_INVALID_ARG, "distillation alpha must be in [0, 1], got %g", (double)c->alpha);
    if (!(c->beta >= 0.0f && isfinite(c->beta)))
        return shr_fail(SHR_ERR_INVALID_ARG, "hint weight beta must be >= 0, got %g", (double)c->beta);
    if (c->n_hints < 0 || c->n_hints > SHR_DISTILL_MAX_HINTS)
        return shr_fail(SHR_ERR_LIMIT, "at most %d feature hints, got %d", SHR_DISTILL_MAX_HINTS, c->n_hints);
    if (c->n_hints > 0 && !(c->adapter_lr > 0.0f && isfinite(c->adapter_lr)))
        return shr_fail(SHR_ERR_INVALID_ARG, "adapter learning rate must be > 0, got %g", (double)c->adapter_lr);
    return SHR_OK;
}

void shr_distiller_free(shr_distiller *d) {
    if (!d) return;
    shr_teacher_release(&d->teacher);
    for (int i = 0; i < d->n_hints; i++) shr_hint_release(&d->hints[i]);
    shr_free(d->gkl);
    free(d);
}

shr_status shr_distiller_create(const shr_graph *teacher, const shr_graph *student, const shr_distill_config *cfg,
                                int max_batch, const shr_dataset *train, const shr_augment *augment,
                                shr_distiller **out) {
    *out = NULL;
    if (!teacher || !student || !cfg) return shr_fail(SHR_ERR_INVALID_ARG, "distillation: NULL argument");
    if (max_batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "batch size must be at least 1");
    SHR_TRY(check_config(cfg));
    shr_distiller *d = calloc(1, sizeof *d);
    if (!d) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    d->cfg = *cfg;
    shr_status st = shr_teacher_init(&d->teacher, teacher, student, max_batch, cfg->n_hints > 0);
    for (int i = 0; st == SHR_OK && i < cfg->n_hints; i++) {
        /* Count first so a failed init is still released. */
        d->n_hints = i + 1;
        st = shr_hint_init(&d->hints[i], teacher, student, &cfg->hints[i], max_batch, cfg->adapter_lr,
                           cfg->seed + 7919u * (uint64_t)(i + 1));
    }
    if (st == SHR_OK) {
        d->gkl = shr_alloc((size_t)max_batch * (size_t)d->teacher.k * sizeof(float));
        if (!d->gkl) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    /* Hints need the teacher's inner activations of every batch, so no cache then;
     * augmented batches never repeat, so none either. */
    int augmented = augment && (augment->crop_pad > 0 || augment->hflip);
    if (st == SHR_OK && train && cfg->cache_teacher && cfg->n_hints == 0 && !augmented)
        st = shr_teacher_build_cache(&d->teacher, train, &student->preproc);
    if (st != SHR_OK) {
        shr_distiller_free(d);
        return st;
    }
    *out = d;
    return SHR_OK;
}

/* The training loop's loss: see include/shrink/distill.h for the formula. The
 * T^2 factor keeps the soft-target gradient's scale independent of T. */
static shr_status distill_loss(void *user, shr_tape *t, const float *x, const int32_t *y, int n, const float *logits,
                               int k, float *loss, float *dlogits) {
    shr_distiller *d = user;
    if (k != d->teacher.k)
        return shr_fail(SHR_ERR_SHAPE, "student has %d outputs, the teacher %d", k, d->teacher.k);
    const float *zt;
    SHR_TRY(shr_teacher_logits(&d->teacher, x, n, &zt));
    const double a = d->cfg.alpha, T = d->cfg.temperature, w_kl = a * T * T, w_ce = 1.0 - a;
    float kl = 0.0f, ce = 0.0f;
    SHR_TRY(shr_loss_kl_div(logits, zt, n, k, (float)T, &kl, d->gkl));
    SHR_TRY(shr_loss_cross_entropy(logits, y, n, k, 0.0f, &ce, dlogits));
    const int64_t m = (int64_t)n * k;
    for (int64_t i = 0; i < m; i++) dlogits[i] = (float)(w_ce * (double)dlogits[i] + w_kl * (double)d->gkl[i]);
    double hint = 0.0;
    for (int i = 0; i < d->n_hints; i++) {
        float mse;
        SHR_TRY(shr_hint_step(&d->hints[i], t, d->teacher.tape, d->cfg.beta, d->cfg.adapter_lr, &mse));
        hint += mse;
    }
    d->last_kl = kl, d->last_ce = ce, d->last_hint = (float)hint;
    *loss = (float)(w_kl * kl + w_ce * ce + (double)d->cfg.beta * hint);
    return SHR_OK;
}

static shr_status inner_epoch_begin(void *user, shr_graph *g, int epoch, int epochs) {
    const shr_train_hooks *in = &((shr_distiller *)user)->inner;
    return in->epoch_begin(in->user, g, epoch, epochs);
}

static shr_status inner_after_backward(void *user, shr_tape *t, int64_t step) {
    const shr_train_hooks *in = &((shr_distiller *)user)->inner;
    return in->after_backward(in->user, t, step);
}

static shr_status inner_after_step(void *user, shr_graph *g, int64_t step) {
    const shr_train_hooks *in = &((shr_distiller *)user)->inner;
    return in->after_step(in->user, g, step);
}

shr_status shr_distill_hooks(shr_distiller *d, const shr_train_hooks *inner, shr_train_hooks *out) {
    if (!d || !out) return shr_fail(SHR_ERR_INVALID_ARG, "distillation hooks: NULL argument");
    if (inner && inner->loss)
        return shr_fail(SHR_ERR_INVALID_ARG, "distillation replaces the loss; the other hooks must not have one");
    memset(&d->inner, 0, sizeof d->inner);
    if (inner) d->inner = *inner;
    memset(out, 0, sizeof *out);
    out->user = d;
    out->loss = distill_loss;
    out->epoch_begin = d->inner.epoch_begin ? inner_epoch_begin : NULL;
    out->after_backward = d->inner.after_backward ? inner_after_backward : NULL;
    out->after_step = d->inner.after_step ? inner_after_step : NULL;
    return SHR_OK;
}

void shr_distill_last_terms(const shr_distiller *d, float *kl, float *ce, float *hint) {
    if (kl) *kl = d ? d->last_kl : 0.0f;
    if (ce) *ce = d ? d->last_ce : 0.0f;
    if (hint) *hint = d ? d->last_hint : 0.0f;
}

shr_status shr_distill_train(shr_graph *student, const shr_graph *teacher, const shr_dataset *train,
                             const shr_dataset *val, const shr_train_config *cfg, const shr_distill_config *dcfg,
                             shr_train_result *out) {
    if (!student || !teacher || !train || !cfg || !dcfg)
        return shr_fail(SHR_ERR_INVALID_ARG, "distillation: NULL argument");
    shr_distiller *d;
    SHR_TRY(shr_distiller_create(teacher, student, dcfg, cfg->batch, train, &cfg->augment, &d));
    shr_train_hooks hooks;
    shr_train_config c = *cfg;
    shr_status st = shr_distill_hooks(d, cfg->hooks, &hooks);
    c.hooks = &hooks;
    if (st == SHR_OK) st = shr_train(student, train, val, &c, out);
    shr_distiller_free(d);
    return st;
}
