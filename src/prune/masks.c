/* Pruning masks over the prunable weights, names of methods and importances,
 * and small helpers the method files share. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"

static const char *const method_names[SHR_PRUNE_METHOD_COUNT] = {"magnitude", "global", "neuron",
                                                                 "channel",   "layer",  "nm"};
static const char *const importance_names[SHR_IMPORTANCE_COUNT] = {"default", "l1",     "l2",
                                                                   "bn",      "taylor", "connections"};

const char *shr_prune_method_name(shr_prune_method m) {
    return (unsigned)m < SHR_PRUNE_METHOD_COUNT ? method_names[m] : NULL;
}

int prune_name_index(const char *const *names, int n, const char *name) {
    for (int i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

shr_status shr_prune_method_parse(const char *name, shr_prune_method *out) {
    int i = prune_name_index(method_names, SHR_PRUNE_METHOD_COUNT, name);
    if (i >= 0) {
        *out = (shr_prune_method)i;
        return SHR_OK;
    }
    return shr_fail(SHR_ERR_INVALID_ARG,
                    "unknown pruning method '%s' (choose magnitude, global, neuron, channel, layer or nm)",
                    name ? name : "");
}

const char *shr_prune_importance_name(shr_prune_importance i) {
    return (unsigned)i < SHR_IMPORTANCE_COUNT ? importance_names[i] : NULL;
}

shr_status shr_prune_importance_parse(const char *name, shr_prune_importance *out) {
    int i = prune_name_index(importance_names, SHR_IMPORTANCE_COUNT, name);
    if (i >= 0) {
        *out = (shr_prune_importance)i;
        return SHR_OK;
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown importance '%s' (choose l1, l2, bn, taylor or connections)",
                    name ? name : "");
}

shr_prune_config shr_prune_default(void) {
    shr_prune_config c;
    memset(&c, 0, sizeof c);
    c.method = SHR_PRUNE_MAGNITUDE;
    c.sparsity = 0.5f;
    c.nm_n = 2;
    c.nm_m = 4;
    c.data_batches = 4;
    c.batch = 64;
    c.seed = 1;
    return c;
}

int shr_prune_is_structured(shr_prune_method m) {
    return m == SHR_PRUNE_NEURON || m == SHR_PRUNE_CHANNEL || m == SHR_PRUNE_LAYER;
}

int prune_is_weight_node(const shr_graph *g, int k) {
    const shr_node *n = &g->nodes[k];
    if ((n->op != SHR_OP_LINEAR && n->op != SHR_OP_CONV2D) || n->n_inputs < 2) return 0;
    int w = n->inputs[1];
    return w >= 0 && g->values[w].kind == SHR_VALUE_PARAM && g->values[w].data &&
           g->values[w].data->dtype == SHR_F32;
}

shr_status prune_list_weights(const shr_graph *g, int **values, int **nodes, int *n) {
    *values = malloc(((size_t)g->n_nodes + 1) * sizeof **values);
    *nodes = malloc(((size_t)g->n_nodes + 1) * sizeof **nodes);
    if (!*values || !*nodes) {
        free(*values);
        free(*nodes);
        *values = *nodes = NULL;
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    int count = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        if (!prune_is_weight_node(g, k)) continue;
        int w = g->nodes[k].inputs[1], seen = 0;
        for (int i = 0; i < count && !seen; i++) seen = (*values)[i] == w;
        if (seen) continue;
        (*values)[count] = w;
        (*nodes)[count] = k;
        count++;
    }
    *n = count;
    return SHR_OK;
}

int prune_excluded(const shr_prune_config *cfg, const char *node) {
    for (int i = 0; i < cfg->n_exclude; i++)
        if (cfg->exclude[i] && strcmp(cfg->exclude[i], node) == 0) return 1;
    return 0;
}

int prune_mask_index(const shr_prune_masks *m, int value) {
    for (int i = 0; i < m->n; i++)
        if (m->value[i] == value) return i;
    return -1;
}

void shr_prune_masks_free(shr_prune_masks *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) free(m->keep[i]);
    free(m->keep);
    free(m->value);
    free(m);
}

shr_status shr_prune_masks_create(const shr_graph *g, shr_prune_masks **out) {
    *out = NULL;
    shr_prune_masks *m = calloc(1, sizeof *m);
    int *nodes = NULL, n = 0;
    if (!m) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st = prune_list_weights(g, &m->value, &nodes, &n);
    free(nodes);
    if (st == SHR_OK && !(m->keep = calloc((size_t)n + 1, sizeof *m->keep))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int i = 0; st == SHR_OK && i < n; i++) {
        size_t numel = (size_t)g->values[m->value[i]].data->numel;
        if (!(m->keep[i] = malloc(numel ? numel : 1))) st = shr_fail(SHR_ERR_NOMEM, "out of memory for masks");
        else memset(m->keep[i], 1, numel);
        m->n = i + 1;
    }
    if (st != SHR_OK) {
        shr_prune_masks_free(m);
        return st;
    }
    m->n = n;
    *out = m;
    return SHR_OK;
}

void shr_prune_masks_apply(const shr_prune_masks *m, shr_graph *g) {
    for (int i = 0; i < m->n; i++) {
        const shr_tensor *t = g->values[m->value[i]].data;
        float *w = shr_f32(t);
        const uint8_t *k = m->keep[i];
        for (int64_t j = 0; j < t->numel; j++)
            if (!k[j]) w[j] = 0.0f;
    }
}

double shr_prune_masks_sparsity(const shr_prune_masks *m, const shr_graph *g) {
    int64_t total = 0, pruned = 0;
    for (int i = 0; i < m->n; i++) {
        int64_t n = g->values[m->value[i]].data->numel;
        total += n;
        for (int64_t j = 0; j < n; j++) pruned += !m->keep[i][j];
    }
    return total ? (double)pruned / (double)total : 0.0;
}

double shr_prune_weight_sparsity(const shr_graph *g) {
    int *values = NULL, *nodes = NULL, n = 0;
    if (prune_list_weights(g, &values, &nodes, &n) != SHR_OK) return 0.0;
    int64_t total = 0, zero = 0;
    for (int i = 0; i < n; i++) {
        const shr_tensor *t = g->values[values[i]].data;
        total += t->numel;
        zero += t->numel - shr_tensor_count_nonzero(t);
    }
    free(values);
    free(nodes);
    return total ? (double)zero / (double)total : 0.0;
}

void prune_fill_batch(const shr_dataset *d, const shr_preproc *pp, int b, int n, float *x, int32_t *y) {
    int64_t idx[4096];
    if (n > 4096) n = 4096;
    for (int i = 0; i < n; i++) idx[i] = ((int64_t)b * n + i) % d->n;
    shr_batch_fill(d, idx, n, pp, NULL, NULL, x, y);
}
