/* Layer pruning: residual blocks whose output is add(x, f(x)) with an identity
 * shortcut can become identity (x). A block's importance is ||f(x)|| / ||x|| over
 * a few batches of data, or without data the scale of f's last batchnorm (mean
 * |gamma|) or weight (RMS). The least important blocks are removed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/tape.h"
#include "prune/prune_internal.h"

typedef struct block {
    int add;              /* the add node */
    int skip, branch;     /* value indices: x and f(x) */
    unsigned char *nodes; /* per node: part of f */
    double score;
} block;

static int is_data(const shr_value *v) { return v->kind == SHR_VALUE_INPUT || v->kind == SHR_VALUE_ACT; }

/* Collects the nodes computing `branch` from `skip` alone into in[]; 0 if f also reads other activations,
 * if its values are used outside the block, or if anything is excluded. */
static int collect_branch(const shr_graph *g, const shr_prune_config *cfg, int add, int skip, int branch,
                          unsigned char *in, int *stack) {
    const shr_value *bv = &g->values[branch];
    if (bv->kind != SHR_VALUE_ACT || branch == skip) return 0;
    int first = g->values[skip].kind == SHR_VALUE_ACT ? g->values[skip].producer : -1;
    int top = 0;
    memset(in, 0, (size_t)g->n_nodes);
    stack[top++] = bv->producer;
    in[bv->producer] = 1;
    while (top > 0) {
        const shr_node *n = &g->nodes[stack[--top]];
        if (prune_excluded(cfg, n->name)) return 0;
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (v < 0 || v == skip || !is_data(&g->values[v])) continue;
            int p = g->values[v].producer;
            if (p <= first) return 0; /* reads the input or something before x */
            if (!in[p]) {
                in[p] = 1;
                stack[top++] = p;
            }
        }
    }
    /* f's values may feed only f itself and the add. */
    for (int k = 0; k < g->n_nodes; k++) {
        if (in[k]) {
            if (g->nodes[k].output == g->output) return 0;
            continue;
        }
        const shr_node *n = &g->nodes[k];
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (v < 0 || !is_data(&g->values[v]) || g->values[v].kind != SHR_VALUE_ACT || !in[g->values[v].producer])
                continue;
            if (k != add || v != branch) return 0;
        }
    }
    return 1;
}

static shr_status find_blocks(const shr_graph *g, const shr_prune_config *cfg, block **out, int *n_out) {
    block *b = calloc((size_t)g->n_nodes + 1, sizeof *b);
    int *stack = malloc(((size_t)g->n_nodes + 1) * sizeof *stack);
    int n = 0;
    shr_status st = (b && stack) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; st == SHR_OK && k < g->n_nodes; k++) {
        const shr_node *a = &g->nodes[k];
        if (a->op != SHR_OP_ADD || a->n_inputs != 2 || prune_excluded(cfg, a->name)) continue;
        if (!(b[n].nodes = malloc((size_t)g->n_nodes + 1))) {
            st = shr_fail(SHR_ERR_NOMEM, "out of memory");
            break;
        }
        for (int side = 0; side < 2; side++) {
            int skip = a->inputs[side], branch = a->inputs[1 - side];
            if (collect_branch(g, cfg, k, skip, branch, b[n].nodes, stack)) {
                b[n].add = k;
                b[n].skip = skip;
                b[n].branch = branch;
                n++;
                break;
            }
        }
        if (n == 0 || b[n - 1].add != k) {
            free(b[n].nodes);
            b[n].nodes = NULL;
        }
    }
    free(stack);
    *out = b;
    *n_out = n;
    return st;
}

/* Without data: the scale of the last batchnorm or weight that produces f(x). */
static double weight_score(const shr_graph *g, int value) {
    for (int hops = 0; hops < g->n_nodes && value >= 0 && g->values[value].kind == SHR_VALUE_ACT; hops++) {
        const shr_node *n = &g->nodes[g->values[value].producer];
        int p = n->op == SHR_OP_BATCHNORM ? 1 : (n->op == SHR_OP_LINEAR || n->op == SHR_OP_CONV2D) ? 1 : -1;
        if (p >= 0 && n->n_inputs > p && n->inputs[p] >= 0 && g->values[n->inputs[p]].data) {
            const shr_tensor *t = g->values[n->inputs[p]].data;
            double s = 0;
            for (int64_t i = 0; i < t->numel; i++)
                s += n->op == SHR_OP_BATCHNORM ? fabs(shr_f32(t)[i]) : (double)shr_f32(t)[i] * shr_f32(t)[i];
            return t->numel ? (n->op == SHR_OP_BATCHNORM ? s / (double)t->numel : sqrt(s / (double)t->numel)) : 0;
        }
        value = n->inputs[0];
    }
    return 0;
}

/* With data: sqrt(sum ||f(x)||^2 / sum ||x||^2) over a few eval-mode batches. */
static shr_status data_scores(shr_graph *g, const shr_prune_config *cfg, block *b, int nb) {
    const shr_dataset *d = cfg->data;
    int batch = cfg->batch > 0 ? (cfg->batch < 4096 ? cfg->batch : 4096) : 64;
    if (batch > d->n) batch = (int)d->n;
    shr_tape *t;
    SHR_TRY(shr_tape_create(g, batch, &t));
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    int32_t *y = malloc((size_t)batch * sizeof *y);
    double *fx = calloc((size_t)nb + 1, sizeof *fx), *xx = calloc((size_t)nb + 1, sizeof *xx);
    shr_status st = (x && y && fx && xx) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    int batches = cfg->data_batches > 0 ? cfg->data_batches : 4;
    for (int i = 0; st == SHR_OK && i < batches; i++) {
        prune_fill_batch(d, &g->preproc, i, batch, x, y);
        st = shr_tape_forward(t, x, batch, 0, NULL, NULL);
        for (int j = 0; st == SHR_OK && j < nb; j++) {
            const shr_tensor *f = t->act.t[b[j].branch], *s = t->act.t[b[j].skip];
            for (int64_t e = 0; e < f->numel; e++) fx[j] += (double)shr_f32(f)[e] * shr_f32(f)[e];
            for (int64_t e = 0; e < s->numel; e++) xx[j] += (double)shr_f32(s)[e] * shr_f32(s)[e];
        }
    }
    for (int j = 0; st == SHR_OK && j < nb; j++) b[j].score = xx[j] > 0 ? sqrt(fx[j] / xx[j]) : sqrt(fx[j]);
    shr_tape_free(t);
    shr_free(x);
    free(y);
    free(fx);
    free(xx);
    return st;
}

shr_status prune_layers(shr_graph **gp, const shr_prune_config *cfg) {
    if (!(cfg->sparsity >= 0.0f && cfg->sparsity <= 1.0f))
        return shr_fail(SHR_ERR_INVALID_ARG, "layer sparsity %g is outside 0..1", (double)cfg->sparsity);
    shr_graph *g;
    SHR_TRY(shr_graph_clone(&g, *gp));
    block *b = NULL;
    int nb = 0;
    shr_status st = find_blocks(g, cfg, &b, &nb);
    if (st == SHR_OK && nb > 0) {
        if (cfg->data) st = data_scores(g, cfg, b, nb);
        else
            for (int j = 0; j < nb; j++) b[j].score = weight_score(g, b[j].branch);
    }
    int cut = (int)floor((double)cfg->sparsity * nb + 0.5);
    unsigned char *drop = calloc((size_t)g->n_nodes + 1, 1);
    int *redirect = malloc(((size_t)g->n_values + 1) * sizeof *redirect);
    if (st == SHR_OK && (!drop || !redirect)) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) {
        for (int v = 0; v < g->n_values; v++) redirect[v] = -1;
        /* Remove the `cut` lowest scores (ties: the earlier block first). */
        for (int c = 0; c < cut; c++) {
            int best = -1;
            for (int j = 0; j < nb; j++)
                if (b[j].score >= 0 && (best < 0 || b[j].score < b[best].score)) best = j;
            if (best < 0) break;
            for (int k = 0; k < g->n_nodes; k++) drop[k] |= b[best].nodes[k];
            drop[b[best].add] = 1;
            redirect[g->nodes[b[best].add].output] = b[best].skip;
            b[best].score = -1;
        }
        st = prune_graph_remove(g, drop, redirect);
    }
    for (int j = 0; j < nb; j++) free(b[j].nodes);
    free(b);
    free(drop);
    free(redirect);
    if (st != SHR_OK) {
        shr_graph_free(g);
        return st;
    }
    shr_graph_free(*gp);
    *gp = g;
    return SHR_OK;
}
