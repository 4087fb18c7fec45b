/* Optimizers: SGD (momentum, Nesterov), Adam and AdamW with the update rules
 * of torch.optim, so hyper-parameters carry over from PyTorch unchanged.
 *
 * One step, per PARAM value v with grads[v] != NULL (grads and data are f32
 * tensors of the same element count; element-wise, so layout is irrelevant):
 *   d = grads[v] + l1 * sign(w)       L1 acts like a loss term, so it is part
 *                                     of the gradient that gets clipped
 *   d *= c, c = min(1, clip / (||d||_global + 1e-6))   if clip_norm > 0
 *                                     (torch.nn.utils.clip_grad_norm_)
 *   SGD:   d += wd * w;  buf = d (first step) or momentum * buf + d;
 *          d = nesterov ? d + momentum * buf : buf;  w -= lr * d
 *   Adam:  d += wd * w;  then the Adam update below
 *   AdamW: w *= 1 - lr * wd;  then the Adam update below
 *   Adam update: m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;
 *          w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * where t counts the steps in which this param had a gradient (as torch keeps
 * a per-param step). The caller's gradients are never modified: the L1 term
 * and the clip factor are applied on the fly inside the update loops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "shrink/train.h"

/* The global norm is summed in fixed blocks, each in double, combined in
 * block order: the result is the same for any thread count. */
#define NORM_BLOCK 4096
/* Below this many elements a loop is not worth waking the thread team. */
#define PAR_MIN 32768

struct shr_optim {
    shr_optim_config cfg;
    int n_values;   /* of the graph at creation */
    int *slot_of;   /* n_values: state slot of each value, -1 if not a PARAM */
    int n_slots;
    int *value;     /* n_slots: value index of each slot, ascending */
    int64_t *numel; /* n_slots */
    int64_t *steps; /* n_slots: updates applied so far (Adam bias correction) */
    float **m;      /* n_slots: SGD momentum buffer or Adam first moment (NULL if unused) */
    float **v;      /* n_slots: Adam second moment (NULL for SGD) */
    double *partial; /* norm partial sums, one per block of the largest param */
};

shr_optim_config shr_optim_default(shr_optim_kind kind) {
    shr_optim_config c = {0};
    c.kind = kind;
    switch (kind) {
    case SHR_OPTIM_SGD:
        c.lr = 0.1f;
        c.momentum = 0.9f;
        break;
    case SHR_OPTIM_ADAMW:
        c.weight_decay = 0.01f;
        /* fall through */
    case SHR_OPTIM_ADAM:
        c.lr = 1e-3f;
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        c.eps = 1e-8f;
        break;
    }
    return c;
}

shr_status shr_optim_parse(const char *name, shr_optim_kind *out) {
    static const char *const names[] = {"sgd", "adam", "adamw"};
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            if (out) *out = (shr_optim_kind)i;
            return SHR_OK;
        }
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown optimizer '%s' (valid: sgd, adam, adamw)", name ? name : "(null)");
}

static int finite_nonneg(float x) { return isfinite(x) && x >= 0.0f; }

static shr_status check_config(const shr_optim_config *c) {
    if (c->kind != SHR_OPTIM_SGD && c->kind != SHR_OPTIM_ADAM && c->kind != SHR_OPTIM_ADAMW)
        return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: unknown kind %d", (int)c->kind);
    if (!finite_nonneg(c->lr)) return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: lr must be >= 0, got %g", (double)c->lr);
    if (!finite_nonneg(c->weight_decay))
        return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: weight_decay must be >= 0, got %g", (double)c->weight_decay);
    if (!finite_nonneg(c->l1)) return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: l1 must be >= 0, got %g", (double)c->l1);
    if (!finite_nonneg(c->clip_norm))
        return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: clip_norm must be >= 0, got %g", (double)c->clip_norm);
    if (c->kind == SHR_OPTIM_SGD) {
        if (!finite_nonneg(c->momentum))
            return shr_fail(SHR_ERR_INVALID_ARG, "sgd: momentum must be >= 0, got %g", (double)c->momentum);
        if (c->nesterov && c->momentum <= 0.0f)
            return shr_fail(SHR_ERR_INVALID_ARG, "sgd: Nesterov momentum requires momentum > 0");
    } else {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return shr_fail(SHR_ERR_INVALID_ARG, "adam: betas must be in [0, 1), got %g, %g", (double)c->beta1,
                            (double)c->beta2);
        if (!finite_nonneg(c->eps)) return shr_fail(SHR_ERR_INVALID_ARG, "adam: eps must be >= 0, got %g", (double)c->eps);
    }
    return SHR_OK;
}

void shr_optim_free(shr_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->n_slots; i++) {
        if (o->m) shr_free(o->m[i]);
        if (o->v) shr_free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->slot_of);
    free(o->value);
    free(o->numel);
    free(o->steps);
    free(o->partial);
    free(o);
}

static shr_status alloc_state(float **out, int64_t numel, const char *name) {
    size_t bytes;
    if (shr_mul_overflow_size((size_t)numel, sizeof(float), &bytes))
        return shr_fail(SHR_ERR_LIMIT, "optimizer state for '%s' is too large", name);
    *out = shr_alloc(bytes ? bytes : sizeof(float));
    if (!*out) return shr_fail(SHR_ERR_NOMEM, "out of memory for the optimizer state of '%s'", name);
    return SHR_OK;
}

static shr_status optim_init(shr_optim *o, const shr_graph *g) {
    int n = g->n_values;
    o->slot_of = malloc((size_t)(n ? n : 1) * sizeof *o->slot_of);
    if (!o->slot_of) return shr_fail(SHR_ERR_NOMEM, "out of memory creating the optimizer");
    for (int v = 0; v < n; v++) {
        const shr_value *val = &g->values[v];
        o->slot_of[v] = -1;
        if (val->kind != SHR_VALUE_PARAM) continue;
        if (!val->data || val->data->dtype != SHR_F32)
            return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: param '%s' has no f32 data", val->name);
        o->slot_of[v] = o->n_slots++;
    }
    size_t ns = (size_t)(o->n_slots ? o->n_slots : 1);
    o->value = malloc(ns * sizeof *o->value);
    o->numel = malloc(ns * sizeof *o->numel);
    o->steps = calloc(ns, sizeof *o->steps);
    o->m = calloc(ns, sizeof *o->m);
    o->v = calloc(ns, sizeof *o->v);
    if (!o->value || !o->numel || !o->steps || !o->m || !o->v)
        return shr_fail(SHR_ERR_NOMEM, "out of memory creating the optimizer");
    const int adam = o->cfg.kind != SHR_OPTIM_SGD;
    int64_t max_blocks = 1;
    for (int v = 0; v < n; v++) {
        int s = o->slot_of[v];
        if (s < 0) continue;
        o->value[s] = v;
        o->numel[s] = g->values[v].data->numel;
        int64_t blocks = (o->numel[s] + NORM_BLOCK - 1) / NORM_BLOCK;
        if (blocks > max_blocks) max_blocks = blocks;
        if (adam || o->cfg.momentum != 0.0f) SHR_TRY(alloc_state(&o->m[s], o->numel[s], g->values[v].name));
        if (adam) SHR_TRY(alloc_state(&o->v[s], o->numel[s], g->values[v].name));
    }
    o->partial = malloc((size_t)max_blocks * sizeof *o->partial);
    if (!o->partial) return shr_fail(SHR_ERR_NOMEM, "out of memory creating the optimizer");
    return SHR_OK;
}

shr_status shr_optim_create(const shr_graph *g, const shr_optim_config *cfg, shr_optim **out) {
    if (!g || !cfg || !out) return shr_fail(SHR_ERR_INVALID_ARG, "optimizer: NULL argument");
    *out = NULL;
    SHR_TRY(check_config(cfg));
    shr_optim *o = calloc(1, sizeof *o);
    if (!o) return shr_fail(SHR_ERR_NOMEM, "out of memory creating the optimizer");
    o->cfg = *cfg;
    o->n_values = g->n_values;
    shr_status st = optim_init(o, g);
    if (st != SHR_OK) {
        shr_optim_free(o);
        return st;
    }
    *out = o;
    return SHR_OK;
}

static inline float sign_f(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }

/* Sum over one param of (g + l1 sign(w))^2, in fixed blocks (see NORM_BLOCK). */
static double sum_sq(const float *gr, const float *w, int64_t n, float l1, double *partial) {
    const int64_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
        double s = 0.0;
        for (int64_t i = lo; i < hi; i++) {
            double d = (double)(gr[i] + l1 * sign_f(w[i]));
            s += d * d;
        }
        partial[b] = s;
    }
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++) s += partial[b];
    return s;
}

/* w (n): params; gr (n): raw gradient; buf (n): momentum buffer or NULL when
 * momentum == 0. buf starts zero-filled, so the first update sets buf = d as
 * torch does. */
static void sgd_update(float *w, const float *gr, float *buf, int64_t n, const shr_optim_config *c, float lr,
                       float scale) {
    const float l1 = c->l1, wd = c->weight_decay, mom = c->momentum;
    const int nesterov = c->nesterov;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float d = (gr[i] + l1 * sign_f(w[i])) * scale + wd * w[i];
        if (buf) {
            float b = mom * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        w[i] -= lr * d;
    }
}

/* w, gr, m, v (n each). step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t),
 * decay = 1 - lr * wd for AdamW (1 for Adam), l2 = wd for Adam (0 for AdamW). */
static void adam_update(float *w, const float *gr, float *m, float *v, int64_t n, const shr_optim_config *c,
                        float scale, float l2, float decay, float step_size, float bc2_sqrt) {
    const float l1 = c->l1, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i];
        float d = (gr[i] + l1 * sign_f(wi)) * scale + l2 * wi;
        float mi = b1 * m[i] + (1.0f - b1) * d;
        float vi = b2 * v[i] + (1.0f - b2) * d * d;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

/* Everything is checked before anything is written, so a failed step leaves
 * params and state untouched. */
static shr_status check_step(const shr_optim *o, const shr_graph *g, shr_tensor *const *grads, float lr) {
    if (!finite_nonneg(lr)) return shr_fail(SHR_ERR_INVALID_ARG, "optimizer step: lr must be >= 0, got %g", (double)lr);
    if (g->n_values != o->n_values)
        return shr_fail(SHR_ERR_INVALID_ARG, "optimizer step: graph has %d values, the optimizer was created for %d",
                        g->n_values, o->n_values);
    for (int v = 0; v < g->n_values; v++) {
        const shr_value *val = &g->values[v];
        int s = o->slot_of[v];
        if ((val->kind == SHR_VALUE_PARAM) != (s >= 0))
            return shr_fail(SHR_ERR_INVALID_ARG, "optimizer step: value '%s' is %s a param than at creation",
                            val->name, s >= 0 ? "no longer" : "now");
        if (s < 0) continue;
        if (!val->data || val->data->dtype != SHR_F32 || val->data->numel != o->numel[s])
            return shr_fail(SHR_ERR_SHAPE, "optimizer step: param '%s' changed size since the optimizer was created",
                            val->name);
        const shr_tensor *gt = grads[v];
        if (gt && (gt->dtype != SHR_F32 || gt->numel != o->numel[s]))
            return shr_fail(SHR_ERR_SHAPE, "optimizer step: gradient of '%s' has %lld elements (%s), param has %lld",
                            val->name, (long long)gt->numel, shr_dtype_name(gt->dtype), (long long)o->numel[s]);
    }
    return SHR_OK;
}

shr_status shr_optim_step(shr_optim *o, shr_graph *g, shr_tensor *const *grads, float lr, float *grad_norm) {
    if (!o || !g || !grads) return shr_fail(SHR_ERR_INVALID_ARG, "optimizer step: NULL argument");
    SHR_TRY(check_step(o, g, grads, lr));
    const shr_optim_config *c = &o->cfg;

    float scale = 1.0f;
    if (c->clip_norm > 0.0f || grad_norm) {
        double ss = 0.0;
        for (int s = 0; s < o->n_slots; s++) {
            const shr_tensor *gt = grads[o->value[s]];
            if (gt) ss += sum_sq(shr_f32(gt), shr_f32(g->values[o->value[s]].data), o->numel[s], c->l1, o->partial);
        }
        const double norm = sqrt(ss);
        if (grad_norm) *grad_norm = (float)norm;
        const double coef = (double)c->clip_norm / (norm + 1e-6);
        if (c->clip_norm > 0.0f && coef < 1.0) scale = (float)coef;
    }

    for (int s = 0; s < o->n_slots; s++) {
        const shr_tensor *gt = grads[o->value[s]];
        if (!gt) continue;
        float *w = shr_f32(g->values[o->value[s]].data);
        const int64_t t = ++o->steps[s];
        if (c->kind == SHR_OPTIM_SGD) {
            sgd_update(w, shr_f32(gt), o->m[s], o->numel[s], c, lr, scale);
        } else {
            const int adamw = c->kind == SHR_OPTIM_ADAMW;
            const double bc1 = 1.0 - pow((double)c->beta1, (double)t);
            const double bc2 = 1.0 - pow((double)c->beta2, (double)t);
            adam_update(w, shr_f32(gt), o->m[s], o->v[s], o->numel[s], c, scale, adamw ? 0.0f : c->weight_decay,
                        adamw ? 1.0f - lr * c->weight_decay : 1.0f, (float)(lr / bc1), (float)sqrt(bc2));
        }
    }
    return SHR_OK;
}
