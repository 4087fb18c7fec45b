/* Accuracy-aware mixed precision: which layers must stay wider than int8.
 *
 * The model is folded and calibrated once. Each quantizable layer's sensitivity is measured
 * alone — only it (and the pass-through ops around it) in int8, everything else f32 — as the
 * accuracy drop on a held-out set and the SQNR of the logits. Then all layers start in int8 and,
 * while the drop exceeds the budget, the most sensitive layer still in int8 moves to int16; when
 * none is left in int8, the most sensitive int16 one moves to f32. Each step is one lowering and
 * one evaluation, so the search costs about twice as many evaluations as there are layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"
#include "shrink/runtime.h"

static int layer_op(shr_op op) { return op == SHR_OP_CONV2D || op == SHR_OP_LINEAR || op == SHR_OP_ADD; }

typedef struct search {
    const shr_graph *F;
    const shr_quant_config *cfg;
    shr_observer **obs;
    const shr_dataset *val;
    int *prec;
    float *ref;   /* float logits on the first samples of val */
    int nref;
} search;

/* Accuracy on val and logits SQNR (vs the float model) of F lowered with s->prec. */
static shr_status try_widths(search *s, double *acc, double *sqnr) {
    shr_graph *Q = NULL;
    shr_quant_report *rep = calloc(1, sizeof *rep);
    shr_q_probe *probes = calloc(SHR_QUANT_MAX_LAYERS, sizeof *probes);
    shr_q_lowering L = {s->cfg, s->prec, s->obs, NULL};
    shr_status st = rep && probes ? shr_q_lower(s->F, &L, &Q, rep, probes) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_eval_result ev;
    if (st == SHR_OK) st = shr_evaluate(Q, s->val, 256, &ev);
    if (st == SHR_OK) {
        *acc = ev.accuracy;
        float *x = shr_alloc((size_t)s->nref * (size_t)s->val->sample_size * sizeof(float));
        shr_plan *p = NULL;
        const float *out = NULL;
        st = x ? shr_plan_create(Q, s->nref, &p) : shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (st == SHR_OK) {
            shr_q_fill(s->val, &Q->preproc, 0, s->nref, x, NULL);
            st = shr_plan_run(p, x, s->nref, &out);
        }
        if (st == SHR_OK) *sqnr = shr_sqnr_db(s->ref, out, (size_t)s->nref * (size_t)shr_plan_output_size(p));
        shr_plan_free(p);
        shr_free(x);
    }
    shr_graph_free(Q);
    free(rep);
    free(probes);
    return st;
}

static shr_status float_logits(search *s) {
    shr_plan *p = NULL;
    const float *out = NULL;
    float *x = shr_alloc((size_t)s->nref * (size_t)s->val->sample_size * sizeof(float));
    shr_status st = x ? shr_plan_create(s->F, s->nref, &p) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) {
        shr_q_fill(s->val, &s->F->preproc, 0, s->nref, x, NULL);
        st = shr_plan_run(p, x, s->nref, &out);
    }
    if (st == SHR_OK) {
        size_t n = (size_t)s->nref * (size_t)shr_plan_output_size(p);
        if (!(s->ref = malloc(n * sizeof *s->ref))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        else memcpy(s->ref, out, n * sizeof *s->ref);
    }
    shr_plan_free(p);
    shr_free(x);
    return st;
}

shr_status shr_quant_auto(const shr_graph *g, const shr_dataset *calib, const shr_dataset *val,
                          const shr_quant_config *cfg, double max_drop_pt, shr_graph **out, shr_quant_report *rep,
                          shr_quant_auto_result *res) {
    SHR_TRY(shr_q_check_config(cfg));
    if (cfg->mode != SHR_QUANT_STATIC || cfg->bits != 8)
        return shr_fail(SHR_ERR_INVALID_ARG, "mixed precision searches from static int8");
    if (!val || val->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "mixed precision needs a held-out set");
    memset(res, 0, sizeof *res);
    search s = {NULL, cfg, NULL, val, NULL, NULL, val->n < 256 ? (int)val->n : 256};
    shr_graph *F = NULL;
    int folded, *base = NULL, *order = NULL;
    double *sens = NULL;
    shr_status st = shr_q_folded(g, &F, &folded);
    s.F = F;
    int hist = cfg->calib == SHR_CALIB_PERCENTILE || cfg->calib == SHR_CALIB_ENTROPY || cfg->calib == SHR_CALIB_MSE;
    if (st == SHR_OK) st = shr_q_calibrate(F, calib, cfg->calib_samples, cfg->calib_batch, hist, &s.obs);
    if (st == SHR_OK) st = shr_q_node_widths(F, cfg, &base);
    if (st == SHR_OK && !(s.prec = malloc((size_t)(F->n_nodes + 1) * sizeof *s.prec))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && (!(order = malloc((size_t)(F->n_nodes + 1) * sizeof *order)) ||
                         !(sens = malloc((size_t)(F->n_nodes + 1) * sizeof *sens))))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = float_logits(&s);
    shr_eval_result ev;
    if (st == SHR_OK) st = shr_evaluate(F, val, 256, &ev);
    res->accuracy_float = ev.accuracy;
    /* sensitivity: each layer alone in int8 */
    int n = 0;
    unsigned char *live = NULL;
    int *uses = NULL;
    if (st == SHR_OK) st = shr_q_liveness(F, &live, &uses);
    for (int k = 0; st == SHR_OK && k < F->n_nodes; k++) {
        if (!live[k] || !layer_op(F->nodes[k].op) || base[k] == 0) continue;
        for (int j = 0; j < F->n_nodes; j++) s.prec[j] = layer_op(F->nodes[j].op) ? 0 : base[j];
        s.prec[k] = 8;
        double acc, db;
        st = try_widths(&s, &acc, &db);
        sens[k] = 100.0 * (res->accuracy_float - acc);
        if (st == SHR_OK && n < SHR_QUANT_MAX_LAYERS) {
            shr_quant_sens *l = &res->layers[n];
            snprintf(l->name, sizeof l->name, "%s", F->nodes[k].name);
            l->drop_pt = sens[k];
            l->sqnr_db = db;
            l->bits = 8;
            order[n++] = k;
        }
    }
    res->n_layers = n;
    /* most sensitive first (larger drop, then lower SQNR) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            shr_quant_sens *a = &res->layers[j - 1], *b = &res->layers[j];
            if (b->drop_pt > a->drop_pt || (b->drop_pt == a->drop_pt && b->sqnr_db < a->sqnr_db)) {
                shr_quant_sens t = *a;
                int o = order[j - 1];
                *a = *b, *b = t;
                order[j - 1] = order[j], order[j] = o;
            }
        }
    /* the search: widen the most sensitive layers until the drop fits */
    if (st == SHR_OK) memcpy(s.prec, base, (size_t)F->n_nodes * sizeof *s.prec);
    double acc = 0.0, db;
    for (int step = 0; st == SHR_OK && step <= 2 * n; step++) {
        st = try_widths(&s, &acc, &db);
        if (st != SHR_OK || 100.0 * (res->accuracy_float - acc) <= max_drop_pt) break;
        int moved = 0;
        for (int width = 8; width <= 16 && !moved; width += 8)
            for (int i = 0; i < n && !moved; i++)
                if (s.prec[order[i]] == width) {
                    s.prec[order[i]] = width == 8 ? 16 : 0;
                    res->layers[i].bits = width == 8 ? 16 : 32;
                    moved = 1;
                }
        if (!moved) break;
    }
    res->accuracy = acc;
    res->met = st == SHR_OK && 100.0 * (res->accuracy_float - acc) <= max_drop_pt;
    /* the chosen widths as an explicit configuration, then the regular static path */
    shr_quant_config c = *cfg;
    const char **ex = calloc((size_t)n + 1, sizeof *ex), **k16 = calloc((size_t)n + 1, sizeof *k16);
    if (st == SHR_OK && (!ex || !k16)) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    c.exclude = ex, c.keep16 = k16, c.n_exclude = c.n_keep16 = 0;
    for (int i = 0; st == SHR_OK && i < n; i++) {
        if (res->layers[i].bits == 16) k16[c.n_keep16++] = res->layers[i].name;
        if (res->layers[i].bits == 32) ex[c.n_exclude++] = res->layers[i].name;
    }
    if (st == SHR_OK) st = shr_quantize(g, calib, &c, out, rep);
    free(ex);
    free(k16);
    free(live);
    free(uses);
    free(order);
    free(sens);
    free(base);
    free(s.prec);
    free(s.ref);
    if (s.obs) shr_q_observers_free(s.obs, F->n_values);
    shr_graph_free(F);
    return st;
}
