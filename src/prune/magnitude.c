/* Unstructured pruning: per-layer magnitude, one global magnitude threshold,
 * and N:M semi-structured. Each narrows the masks (a masked weight stays masked)
 * and applies them. Ties in |w| are broken by position, so results are exact and
 * deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"

typedef struct cand {
    float a;      /* |w| */
    int layer;    /* mask index */
    int64_t idx;  /* element */
} cand;

static int cmp_cand(const void *pa, const void *pb) {
    const cand *x = pa, *y = pb;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static const char *node_of_mask(const shr_graph *g, int value) {
    for (int k = 0; k < g->n_nodes; k++)
        if (prune_is_weight_node(g, k) && g->nodes[k].inputs[1] == value) return g->nodes[k].name;
    return "";
}

/* Whether layer i (in mask order) may be pruned at all under cfg. */
static int eligible(const shr_graph *g, const shr_prune_config *cfg, const shr_prune_masks *m, int i) {
    if (cfg->exclude_first && i == 0) return 0;
    if (cfg->exclude_last && i == m->n - 1) return 0;
    return !prune_excluded(cfg, node_of_mask(g, m->value[i]));
}

static int64_t count_pruned(const uint8_t *keep, int64_t n) {
    int64_t p = 0;
    for (int64_t j = 0; j < n; j++) p += !keep[j];
    return p;
}

/* Masks the smallest kept |w| of layer i until `target` elements are masked. */
static shr_status layer_to_count(shr_graph *g, shr_prune_masks *m, int i, int64_t target) {
    const shr_tensor *t = g->values[m->value[i]].data;
    uint8_t *keep = m->keep[i];
    int64_t have = count_pruned(keep, t->numel);
    if (target <= have) return SHR_OK;
    cand *c = malloc((size_t)(t->numel - have) * sizeof *c);
    if (!c) return shr_fail(SHR_ERR_NOMEM, "out of memory sorting weights");
    int64_t n = 0;
    const float *w = shr_f32(t);
    for (int64_t j = 0; j < t->numel; j++)
        if (keep[j]) c[n++] = (cand){fabsf(w[j]), i, j};
    qsort(c, (size_t)n, sizeof *c, cmp_cand);
    for (int64_t j = 0; j < target - have; j++) keep[c[j].idx] = 0;
    free(c);
    return SHR_OK;
}

static int64_t count_for(float s, int64_t numel) {
    int64_t k = (int64_t)floor((double)s * (double)numel + 0.5);
    return k < 0 ? 0 : (k > numel ? numel : k);
}

/* Block sides (0 reads as 1; checked to 0..256 on entry). */
static int side(int v) { return v > 1 ? v : 1; }
static int blocked(const shr_prune_config *cfg) { return side(cfg->block_rows) * side(cfg->block_cols) > 1; }

/* eligible[i] for every layer, and with target, each layer's count of weights to mask. */
static shr_status plan_layers(const shr_graph *g, const shr_prune_config *cfg, const shr_prune_masks *m,
                              unsigned char *elig, int64_t *target) {
    for (int i = 0; i < m->n; i++) {
        elig[i] = (unsigned char)eligible(g, cfg, m, i);
        if (!target || !elig[i]) continue;
        const char *node = node_of_mask(g, m->value[i]);
        float s = cfg->sparsity;
        for (int l = 0; l < cfg->n_layers; l++)
            if (cfg->layers[l].node && strcmp(cfg->layers[l].node, node) == 0) s = cfg->layers[l].sparsity;
        if (!(s >= 0.0f && s <= 1.0f))
            return shr_fail(SHR_ERR_INVALID_ARG, "sparsity %g for layer '%s' is outside 0..1", (double)s, node);
        target[i] = count_for(s, g->values[m->value[i]].data->numel);
    }
    return SHR_OK;
}

static shr_status prune_magnitude(shr_graph *g, const shr_prune_config *cfg, shr_prune_masks *m) {
    unsigned char *elig = malloc((size_t)m->n + 1);
    int64_t *target = malloc(((size_t)m->n + 1) * sizeof *target);
    shr_status st = elig && target ? plan_layers(g, cfg, m, elig, target) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && blocked(cfg))
        st = prune_blocks(g, m, elig, target, 0, 1.0, side(cfg->block_rows), side(cfg->block_cols));
    for (int i = 0; st == SHR_OK && !blocked(cfg) && i < m->n; i++)
        if (elig[i]) st = layer_to_count(g, m, i, target[i]);
    free(elig);
    free(target);
    return st;
}

/* One threshold over all eligible weights, until the masked weights number
 * `sparsity` of ALL params (biases and batchnorm included, never pruned), so
 * nonzero_params <= (1 - sparsity) params whatever training does to the rest;
 * a layer stops at max_layer_sparsity. */
static shr_status prune_global(shr_graph *g, const shr_prune_config *cfg, shr_prune_masks *m) {
    int64_t masked = 0;
    for (int i = 0; i < m->n; i++) masked += count_pruned(m->keep[i], g->values[m->value[i]].data->numel);
    int64_t need = count_for(cfg->sparsity, shr_graph_param_count(g)) - masked;
    if (need <= 0) return SHR_OK;
    if (blocked(cfg)) {
        unsigned char *elig = malloc((size_t)m->n + 1);
        shr_status st = elig ? plan_layers(g, cfg, m, elig, NULL) : shr_fail(SHR_ERR_NOMEM, "out of memory");
        float cap = cfg->max_layer_sparsity > 0.0f ? cfg->max_layer_sparsity : 1.0f;
        if (st == SHR_OK) st = prune_blocks(g, m, elig, NULL, need, cap, side(cfg->block_rows), side(cfg->block_cols));
        free(elig);
        return st;
    }
    int64_t total = 0;
    for (int i = 0; i < m->n; i++)
        if (eligible(g, cfg, m, i)) total += g->values[m->value[i]].data->numel;
    cand *c = malloc((size_t)(total ? total : 1) * sizeof *c);
    int64_t *pruned = calloc((size_t)m->n + 1, sizeof *pruned);
    if (!c || !pruned) {
        free(c);
        free(pruned);
        return shr_fail(SHR_ERR_NOMEM, "out of memory sorting weights");
    }
    int64_t n = 0;
    for (int i = 0; i < m->n; i++) {
        const shr_tensor *t = g->values[m->value[i]].data;
        pruned[i] = count_pruned(m->keep[i], t->numel);
        if (!eligible(g, cfg, m, i)) continue;
        const float *w = shr_f32(t);
        for (int64_t j = 0; j < t->numel; j++)
            if (m->keep[i][j]) c[n++] = (cand){fabsf(w[j]), i, j};
    }
    qsort(c, (size_t)n, sizeof *c, cmp_cand);
    float cap = cfg->max_layer_sparsity > 0.0f ? cfg->max_layer_sparsity : 1.0f;
    for (int64_t j = 0; j < n && need > 0; j++) {
        int i = c[j].layer;
        if (pruned[i] >= count_for(cap, g->values[m->value[i]].data->numel)) continue;
        m->keep[i][c[j].idx] = 0;
        pruned[i]++;
        need--;
    }
    free(c);
    free(pruned);
    return SHR_OK;
}

/* In every row of the (rows, K) view of a weight, every run of M consecutive
 * input weights keeps at most its N largest |w| (the K dimension of the GEMM:
 * in-features of a linear, C/groups*KH*KW of a conv). A last run shorter than M
 * keeps at most N as well. */
static void prune_nm(shr_graph *g, const shr_prune_config *cfg, shr_prune_masks *m) {
    int N = cfg->nm_n, M = cfg->nm_m;
    for (int i = 0; i < m->n; i++) {
        if (!eligible(g, cfg, m, i)) continue;
        const shr_tensor *t = g->values[m->value[i]].data;
        const float *w = shr_f32(t);
        uint8_t *keep = m->keep[i];
        int64_t rows = t->ndim > 0 ? t->shape[0] : 1, K = rows ? t->numel / rows : 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t g0 = 0; g0 < K; g0 += M) {
                int64_t base = r * K + g0, len = K - g0 < M ? K - g0 : M;
                /* Keep the N largest kept entries: repeatedly pick the largest not yet chosen. */
                uint8_t chosen[256] = {0};
                for (int pick = 0; pick < N; pick++) {
                    int best = -1;
                    for (int j = 0; j < len; j++)
                        if (keep[base + j] && !chosen[j] && (best < 0 || fabsf(w[base + j]) > fabsf(w[base + best])))
                            best = j;
                    if (best >= 0) chosen[best] = 1;
                }
                for (int j = 0; j < len; j++)
                    if (!chosen[j]) keep[base + j] = 0;
            }
    }
}

shr_status shr_prune_unstructured(shr_graph *g, const shr_prune_config *cfg, shr_prune_masks *m) {
    if (!g || !cfg || !m) return shr_fail(SHR_ERR_INVALID_ARG, "shr_prune_unstructured: NULL argument");
    for (int i = 0; i < m->n; i++)
        if (m->value[i] < 0 || m->value[i] >= g->n_values || !g->values[m->value[i]].data)
            return shr_fail(SHR_ERR_INVALID_ARG, "pruning masks do not belong to this graph");
    if (cfg->block_rows < 0 || cfg->block_cols < 0 || cfg->block_rows > 256 || cfg->block_cols > 256 ||
        (blocked(cfg) && cfg->method == SHR_PRUNE_NM))
        return shr_fail(SHR_ERR_INVALID_ARG, "pruning block %dx%d: blocks go with magnitude or global, sides 1..256",
                        cfg->block_rows, cfg->block_cols);
    shr_prune_masks_apply(m, g);
    switch (cfg->method) {
    case SHR_PRUNE_MAGNITUDE: SHR_TRY(prune_magnitude(g, cfg, m)); break;
    case SHR_PRUNE_GLOBAL:
        if (!(cfg->sparsity >= 0.0f && cfg->sparsity <= 1.0f) || !(cfg->max_layer_sparsity >= 0.0f) ||
            cfg->max_layer_sparsity > 1.0f)
            return shr_fail(SHR_ERR_INVALID_ARG, "sparsity %g / max layer sparsity %g outside 0..1",
                            (double)cfg->sparsity, (double)cfg->max_layer_sparsity);
        SHR_TRY(prune_global(g, cfg, m));
        break;
    case SHR_PRUNE_NM:
        if (cfg->nm_m < 1 || cfg->nm_m > 256 || cfg->nm_n < 1 || cfg->nm_n >= cfg->nm_m)
            return shr_fail(SHR_ERR_INVALID_ARG, "N:M pattern %d:%d: need 1 <= N < M <= 256", cfg->nm_n, cfg->nm_m);
        prune_nm(g, cfg, m);
        break;
    default:
        return shr_fail(SHR_ERR_INVALID_ARG, "'%s' is a structured method, not a mask-based one",
                        shr_prune_method_name(cfg->method) ? shr_prune_method_name(cfg->method) : "?");
    }
    shr_prune_masks_apply(m, g);
    return SHR_OK;
}
