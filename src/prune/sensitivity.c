/* Sensitivity analysis: how much accuracy each layer loses when it alone is
 * magnitude-pruned to each sparsity. Layers that barely react can be pruned
 * harder (shrink prune --sparsity auto). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"

void shr_sensitivity_free(shr_sensitivity *s) {
    if (!s) return;
    for (int i = 0; s->layer && i < s->n_layers; i++) free(s->layer[i]);
    free(s->layer);
    free(s->params);
    free(s->sparsity);
    free(s->accuracy);
    free(s->chosen);
    free(s);
}

static shr_status alloc_result(int n_layers, int n, shr_sensitivity **out) {
    shr_sensitivity *s = calloc(1, sizeof *s);
    if (!s) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    s->layer = calloc((size_t)n_layers + 1, sizeof *s->layer);
    s->params = calloc((size_t)n_layers + 1, sizeof *s->params);
    s->sparsity = calloc((size_t)n, sizeof *s->sparsity);
    s->accuracy = calloc((size_t)n_layers * (size_t)n + 1, sizeof *s->accuracy);
    s->chosen = calloc((size_t)n_layers + 1, sizeof *s->chosen);
    s->n_layers = n_layers;
    s->n_sparsities = n;
    if (!s->layer || !s->params || !s->sparsity || !s->accuracy || !s->chosen) {
        shr_sensitivity_free(s);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return SHR_OK;
}

/* Accuracy of g with only `node` pruned to sparsity sp (g's weights are restored by the caller). */
static shr_status prune_one(shr_graph *g, const char *node, float sp, const shr_dataset *d, int batch, double *acc) {
    shr_prune_masks *m;
    SHR_TRY(shr_prune_masks_create(g, &m));
    shr_prune_config cfg = shr_prune_default();
    shr_prune_layer_target t = {node, sp};
    cfg.method = SHR_PRUNE_MAGNITUDE;
    cfg.sparsity = 0.0f;
    cfg.layers = &t;
    cfg.n_layers = 1;
    shr_status st = shr_prune_unstructured(g, &cfg, m);
    shr_prune_masks_free(m);
    shr_eval_result ev;
    if (st == SHR_OK) st = shr_evaluate(g, d, batch, &ev);
    if (st == SHR_OK) *acc = ev.accuracy;
    return st;
}

shr_status shr_prune_sensitivity(const shr_graph *g, const shr_dataset *d, const float *sparsities, int n, int batch,
                                 shr_sensitivity **out) {
    if (!g || !d || !sparsities || !out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_prune_sensitivity: NULL argument");
    *out = NULL;
    if (n < 1 || n > 64) return shr_fail(SHR_ERR_INVALID_ARG, "give 1..64 sparsities, not %d", n);
    for (int j = 0; j < n; j++)
        if (!(sparsities[j] >= 0.0f && sparsities[j] <= 1.0f))
            return shr_fail(SHR_ERR_INVALID_ARG, "sparsity %g is outside 0..1", (double)sparsities[j]);
    int *values = NULL, *nodes = NULL, nl = 0;
    SHR_TRY(prune_list_weights(g, &values, &nodes, &nl));
    shr_sensitivity *s = NULL;
    shr_graph *work = NULL;
    float *orig = NULL;
    shr_status st = alloc_result(nl, n, &s);
    if (st == SHR_OK) {
        memcpy(s->sparsity, sparsities, (size_t)n * sizeof *sparsities);
        shr_eval_result ev;
        st = shr_evaluate(g, d, batch, &ev);
        s->baseline = ev.accuracy;
    }
    if (st == SHR_OK) st = shr_graph_clone(&work, g);
    for (int i = 0; st == SHR_OK && i < nl; i++) {
        shr_tensor *w = work->values[values[i]].data;
        s->layer[i] = strdup(g->nodes[nodes[i]].name);
        s->params[i] = w->numel;
        free(orig);
        orig = malloc(w->nbytes ? w->nbytes : 1);
        if (!s->layer[i] || !orig) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (st == SHR_OK) memcpy(orig, w->data, w->nbytes);
        for (int j = 0; st == SHR_OK && j < n; j++) {
            st = prune_one(work, s->layer[i], sparsities[j], d, batch, &s->accuracy[(size_t)i * n + j]);
            memcpy(w->data, orig, w->nbytes);
        }
    }
    free(orig);
    free(values);
    free(nodes);
    shr_graph_free(work);
    if (st != SHR_OK) {
        shr_sensitivity_free(s);
        return st;
    }
    *out = s;
    return SHR_OK;
}

/* The largest sparsity such that it and every smaller one tried stay within the budget. */
void shr_sensitivity_pick(const shr_sensitivity *s, double max_drop, float *per_layer) {
    for (int i = 0; i < s->n_layers; i++) {
        const double *acc = s->accuracy + (size_t)i * s->n_sparsities;
        per_layer[i] = 0.0f;
        for (int j = 0; j < s->n_sparsities; j++) {
            int ok = 1;
            for (int k = 0; k < s->n_sparsities && ok; k++)
                if (s->sparsity[k] <= s->sparsity[j]) ok = s->baseline - acc[k] <= max_drop;
            if (ok && s->sparsity[j] > per_layer[i]) per_layer[i] = s->sparsity[j];
        }
    }
}

/* Accuracy of g with every layer magnitude-pruned to s->chosen. */
static shr_status combined_accuracy(const shr_graph *g, const shr_sensitivity *s, const shr_dataset *d, int batch,
                                    double *acc) {
    shr_prune_layer_target *t = malloc(((size_t)s->n_layers + 1) * sizeof *t);
    if (!t) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->n_layers; i++) t[i] = (shr_prune_layer_target){s->layer[i], s->chosen[i]};
    shr_graph *work = NULL;
    shr_prune_masks *m = NULL;
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = 0.0f;
    cfg.layers = t;
    cfg.n_layers = s->n_layers;
    shr_eval_result ev;
    shr_status st = shr_graph_clone(&work, g);
    if (st == SHR_OK) st = shr_prune_masks_create(work, &m);
    if (st == SHR_OK) st = shr_prune_unstructured(work, &cfg, m);
    if (st == SHR_OK) st = shr_evaluate(work, d, batch, &ev);
    if (st == SHR_OK) *acc = ev.accuracy;
    shr_prune_masks_free(m);
    shr_graph_free(work);
    free(t);
    return st;
}

/* The largest tried sparsity below s (0 if none). */
static float step_down(const shr_sensitivity *s, float cur) {
    float best = 0.0f;
    for (int j = 0; j < s->n_sparsities; j++)
        if (s->sparsity[j] < cur && s->sparsity[j] > best) best = s->sparsity[j];
    return best;
}

shr_status shr_prune_auto(const shr_graph *g, const shr_dataset *d, const float *sparsities, int n, double max_drop,
                          int batch, shr_sensitivity **out) {
    if (!(max_drop >= 0.0 && max_drop <= 1.0))
        return shr_fail(SHR_ERR_INVALID_ARG, "accuracy budget %g is outside 0..1", max_drop);
    SHR_TRY(shr_prune_sensitivity(g, d, sparsities, n, batch, out));
    shr_sensitivity *s = *out;
    shr_sensitivity_pick(s, max_drop, s->chosen);
    shr_status st = SHR_OK;
    for (int round = 0; round <= n && st == SHR_OK; round++) {
        st = combined_accuracy(g, s, d, batch, &s->chosen_accuracy);
        if (st != SHR_OK || s->baseline - s->chosen_accuracy <= max_drop) break;
        int any = 0;
        for (int i = 0; i < s->n_layers; i++) {
            any |= s->chosen[i] > 0.0f;
            s->chosen[i] = step_down(s, s->chosen[i]);
        }
        if (!any) break;
    }
    if (st != SHR_OK) {
        shr_sensitivity_free(s);
        *out = NULL;
    }
    return st;
}
