/* Pruning schedules (one-shot, iterative, gradual) and fine-tuning with masks
 * that persist: after backward the gradients of pruned weights are zeroed, after
 * each optimizer step the masks are applied again (momentum or weight decay must
 * not revive a pruned weight), and the gradual schedule narrows the masks at the
 * start of its epochs. Hooks a caller already set (e.g. a teacher's loss) run too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/train_hooks.h"
#include "prune/prune_internal.h"

static const char *const sched_names[] = {"oneshot", "iterative", "gradual"};

const char *shr_prune_schedule_name(shr_prune_schedule_kind k) {
    return (unsigned)k <= SHR_PRUNE_GRADUAL ? sched_names[k] : NULL;
}

shr_status shr_prune_schedule_parse(const char *name, shr_prune_schedule_kind *out) {
    int i = prune_name_index(sched_names, SHR_PRUNE_GRADUAL + 1, name);
    if (i >= 0) {
        *out = (shr_prune_schedule_kind)i;
        return SHR_OK;
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown pruning schedule '%s' (choose oneshot, iterative or gradual)",
                    name ? name : "");
}

shr_prune_schedule shr_prune_schedule_default(void) {
    shr_prune_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = SHR_PRUNE_ONESHOT;
    s.cycles = 3;
    s.end_epoch = -1;
    s.frequency = 1;
    return s;
}

float shr_prune_cubic(float s_i, float s_f, int t, int t0, int n, int dt) {
    int64_t span = (int64_t)n * dt;
    if (t <= t0) return t < t0 || span > 0 ? s_i : s_f;
    if (span <= 0 || t >= t0 + span) return s_f;
    double r = 1.0 - (double)(t - t0) / (double)span;
    return (float)((double)s_f + ((double)s_i - (double)s_f) * r * r * r);
}

/* Gradual pruning epochs: t0, t0 + dt, ..., t0 + n dt (the end epoch). */
typedef struct gradual {
    int t0, n, dt;
    float s_i;
} gradual;

static gradual gradual_of(const shr_prune_schedule *s, int epochs) {
    gradual r;
    r.t0 = s->start_epoch > 0 ? s->start_epoch : 0;
    r.dt = s->frequency > 0 ? s->frequency : 1;
    int end = s->end_epoch >= 0 ? s->end_epoch : (3 * epochs) / 4 - 1;
    if (end > epochs - 1) end = epochs - 1;
    if (end < r.t0) end = r.t0;
    r.n = (end - r.t0) / r.dt;
    r.s_i = s->initial_sparsity;
    return r;
}

static int is_event(const gradual *gr, int epoch) {
    return epoch >= gr->t0 && epoch <= gr->t0 + gr->n * gr->dt && (epoch - gr->t0) % gr->dt == 0;
}

/* ---- training hooks for masks ---- */

typedef struct mask_hooks {
    shr_prune_masks *m;
    shr_prune_config cfg; /* sparsity rewritten at each gradual step */
    float s_final;
    int gradual_on;
    gradual gr;
    const shr_train_hooks *inner;
} mask_hooks;

static shr_status h_epoch_begin(void *user, shr_graph *g, int epoch, int epochs) {
    mask_hooks *h = user;
    if (h->inner && h->inner->epoch_begin) SHR_TRY(h->inner->epoch_begin(h->inner->user, g, epoch, epochs));
    if (!h->gradual_on || !is_event(&h->gr, epoch)) return SHR_OK;
    h->cfg.sparsity = shr_prune_cubic(h->gr.s_i, h->s_final, epoch, h->gr.t0, h->gr.n, h->gr.dt);
    return shr_prune_unstructured(g, &h->cfg, h->m);
}

static shr_status h_loss(void *user, shr_tape *t, const float *x, const int32_t *y, int n, const float *logits, int k,
                         float *loss, float *dlogits) {
    mask_hooks *h = user;
    return h->inner->loss(h->inner->user, t, x, y, n, logits, k, loss, dlogits);
}

static shr_status h_after_backward(void *user, shr_tape *t, int64_t step) {
    mask_hooks *h = user;
    for (int i = 0; i < h->m->n; i++) {
        shr_tensor *gr = t->param_grad[h->m->value[i]];
        if (!gr) continue;
        float *d = shr_f32(gr);
        const uint8_t *keep = h->m->keep[i];
        for (int64_t j = 0; j < gr->numel; j++)
            if (!keep[j]) d[j] = 0.0f;
    }
    if (h->inner && h->inner->after_backward) return h->inner->after_backward(h->inner->user, t, step);
    return SHR_OK;
}

static shr_status h_after_step(void *user, shr_graph *g, int64_t step) {
    mask_hooks *h = user;
    shr_prune_masks_apply(h->m, g);
    if (h->inner && h->inner->after_step) return h->inner->after_step(h->inner->user, g, step);
    return SHR_OK;
}

/* Masks that start from the zeros g already has, so earlier pruning persists too. */
static shr_status masks_from_zeros(const shr_graph *g, shr_prune_masks **m) {
    SHR_TRY(shr_prune_masks_create(g, m));
    for (int i = 0; i < (*m)->n; i++) {
        const shr_tensor *t = g->values[(*m)->value[i]].data;
        for (int64_t j = 0; j < t->numel; j++) (*m)->keep[i][j] = shr_f32(t)[j] != 0.0f;
    }
    return SHR_OK;
}

/* Fine-tunes for `epochs` with the masks held (and the gradual schedule when h->gradual_on). */
static shr_status finetune(shr_graph *g, mask_hooks *h, int epochs, const shr_dataset *train, const shr_dataset *val,
                           const shr_train_config *tcfg) {
    if (epochs <= 0) return SHR_OK;
    shr_train_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.user = h;
    hooks.epoch_begin = h_epoch_begin;
    hooks.loss = h->inner && h->inner->loss ? h_loss : NULL;
    hooks.after_backward = h_after_backward;
    hooks.after_step = h_after_step;
    shr_train_config tc = *tcfg;
    tc.epochs = epochs;
    tc.hooks = &hooks;
    return shr_train(g, train, val, &tc, NULL);
}

/* Epochs of cycle i (0-based) when `epochs` are spread over `cycles`. */
static int share(int epochs, int cycles, int i) { return epochs / cycles + (i < epochs % cycles); }

static shr_status run_unstructured(shr_graph *g, const shr_prune_config *cfg, const shr_prune_schedule *sched,
                                   const shr_dataset *train, const shr_dataset *val, const shr_train_config *tcfg) {
    int epochs = tcfg && train ? tcfg->epochs : 0;
    mask_hooks h;
    memset(&h, 0, sizeof h);
    h.cfg = *cfg;
    h.s_final = cfg->sparsity;
    h.inner = tcfg ? tcfg->hooks : NULL;
    SHR_TRY(masks_from_zeros(g, &h.m));
    shr_status st = SHR_OK;
    shr_prune_schedule_kind kind = cfg->method == SHR_PRUNE_NM ? SHR_PRUNE_ONESHOT : sched->kind;
    if (kind == SHR_PRUNE_GRADUAL && epochs > 0) {
        h.gradual_on = 1;
        h.gr = gradual_of(sched, epochs);
        st = finetune(g, &h, epochs, train, val, tcfg);
        /* A schedule that ends after the last epoch still leaves the final sparsity. */
        h.cfg.sparsity = h.s_final;
        if (st == SHR_OK) st = shr_prune_unstructured(g, &h.cfg, h.m);
    } else if (kind == SHR_PRUNE_ITERATIVE) {
        int cycles = sched->cycles > 0 ? sched->cycles : 1;
        for (int i = 1; i <= cycles && st == SHR_OK; i++) {
            h.cfg.sparsity = (float)(1.0 - pow(1.0 - (double)h.s_final, (double)i / cycles));
            if (i == cycles) h.cfg.sparsity = h.s_final;
            st = shr_prune_unstructured(g, &h.cfg, h.m);
            if (st == SHR_OK) st = finetune(g, &h, share(epochs, cycles, i - 1), train, val, tcfg);
        }
    } else {
        st = shr_prune_unstructured(g, &h.cfg, h.m);
        if (st == SHR_OK) st = finetune(g, &h, epochs, train, val, tcfg);
    }
    shr_prune_masks_free(h.m);
    return st;
}

/* Structured: each step removes `frac` of what is left, then fine-tunes `epochs`. */
static shr_status structured_step(shr_graph **g, const shr_prune_config *cfg, double frac, int epochs,
                                  const shr_dataset *train, const shr_dataset *val, const shr_train_config *tcfg) {
    shr_prune_config c = *cfg;
    c.sparsity = (float)(frac < 0 ? 0 : frac);
    if (c.sparsity > 0) SHR_TRY(shr_prune_structured(g, &c));
    if (epochs <= 0 || !train || !tcfg) return SHR_OK;
    mask_hooks h;
    memset(&h, 0, sizeof h);
    h.inner = tcfg->hooks;
    SHR_TRY(masks_from_zeros(*g, &h.m));
    shr_status st = finetune(*g, &h, epochs, train, val, tcfg);
    shr_prune_masks_free(h.m);
    return st;
}

static shr_status run_structured(shr_graph **g, const shr_prune_config *cfg, const shr_prune_schedule *sched,
                                 const shr_dataset *train, const shr_dataset *val, const shr_train_config *tcfg) {
    int epochs = tcfg && train ? tcfg->epochs : 0;
    double s = cfg->sparsity;
    if (sched->kind == SHR_PRUNE_ITERATIVE) {
        int cycles = sched->cycles > 0 ? sched->cycles : 1;
        double step = 1.0 - pow(1.0 - s, 1.0 / cycles);
        for (int i = 0; i < cycles; i++)
            SHR_TRY(structured_step(g, cfg, step, share(epochs, cycles, i), train, val, tcfg));
        return SHR_OK;
    }
    if (sched->kind == SHR_PRUNE_GRADUAL && epochs > 0) {
        gradual gr = gradual_of(sched, epochs);
        SHR_TRY(structured_step(g, cfg, 0.0, gr.t0, train, val, tcfg));
        double done = 0.0;
        for (int j = 0; j <= gr.n; j++) {
            int t = gr.t0 + j * gr.dt;
            double target = shr_prune_cubic(gr.s_i, (float)s, t, gr.t0, gr.n, gr.dt);
            double frac = done < 1.0 ? 1.0 - (1.0 - target) / (1.0 - done) : 0.0;
            int train_for = j < gr.n ? gr.dt : epochs - t;
            SHR_TRY(structured_step(g, cfg, frac, train_for, train, val, tcfg));
            if (target > done) done = target;
        }
        return SHR_OK;
    }
    return structured_step(g, cfg, s, epochs, train, val, tcfg);
}

shr_status shr_prune_run(shr_graph **g, const shr_prune_config *cfg, const shr_prune_schedule *sched,
                         const shr_dataset *train, const shr_dataset *val, const shr_train_config *tcfg) {
    if (!g || !*g || !cfg) return shr_fail(SHR_ERR_INVALID_ARG, "shr_prune_run: NULL argument");
    shr_prune_schedule def = shr_prune_schedule_default();
    if (!sched) sched = &def;
    if ((unsigned)sched->kind > SHR_PRUNE_GRADUAL) return shr_fail(SHR_ERR_INVALID_ARG, "invalid pruning schedule");
    if (tcfg && tcfg->epochs > 0 && !train)
        return shr_fail(SHR_ERR_INVALID_ARG, "fine-tuning for %d epochs needs training data", tcfg->epochs);
    if (shr_prune_is_structured(cfg->method)) return run_structured(g, cfg, sched, train, val, tcfg);
    return run_unstructured(*g, cfg, sched, train, val, tcfg);
}
