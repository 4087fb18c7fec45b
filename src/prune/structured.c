/* Structured pruning (neuron, channel): rank the units of each dependency group,
 * remove the weakest, and rebuild the graph with smaller tensors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/op.h"
#include "prune/prune_internal.h"

typedef struct ranked {
    double s;
    int u;
} ranked;

static int cmp_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->s != b->s) return a->s < b->s ? -1 : 1;
    return (a->u > b->u) - (a->u < b->u);
}

int prune_select_units(const prune_deps *d, const double *score, float frac, unsigned char *removed) {
    memset(removed, 0, (size_t)d->n_units + 1);
    ranked *r = malloc(((size_t)d->n_units + 1) * sizeof *r);
    int total = 0;
    if (!r) return -1;
    for (int grp = 0; grp < d->n_groups; grp++) {
        int n = 0;
        for (int u = 0; u < d->n_units; u++)
            if (d->group[u] == grp && !d->fixed[u]) r[n++] = (ranked){score[u], u};
        int cut = (int)floor((double)frac * n + 1e-6);
        if (cut > n - 1) cut = n - 1;
        if (cut <= 0) continue;
        qsort(r, (size_t)n, sizeof *r, cmp_ranked);
        for (int i = 0; i < cut; i++) removed[r[i].u] = 1;
        total += cut;
    }
    free(r);
    return total;
}

/* Kept positions of value v (all positions when v has no map). */
static int *kept_positions(const prune_deps *d, int v, const unsigned char *removed, int *n) {
    int np = d->npos[v];
    int *k = malloc((size_t)(np ? np : 1) * sizeof *k);
    *n = 0;
    if (!k) return NULL;
    for (int p = 0; p < np; p++)
        if (!removed[d->unit[v][p]]) k[(*n)++] = p;
    return k;
}

/* Replaces the (A, B, inner) tensor of value v by rows ra[0..na) and columns
 * cb[0..nb) (NULL: all rows / columns). */
static shr_status gather(shr_value *val, const int *ra, int na, const int *cb, int nb) {
    const shr_tensor *t = val->data;
    int64_t A = val->ndim > 0 ? val->shape[0] : 1, B = val->ndim > 1 ? val->shape[1] : 1;
    int64_t inner = (A && B) ? t->numel / (A * B) : 0;
    int64_t shape[SHR_MAX_DIMS] = {0};
    for (int i = 0; i < val->ndim; i++) shape[i] = val->shape[i];
    if (!ra) na = (int)A;
    if (!cb) nb = (int)B;
    if (val->ndim > 0) shape[0] = na;
    if (val->ndim > 1) shape[1] = nb;
    shr_tensor *nt;
    SHR_TRY(shr_tensor_create(&nt, SHR_F32, val->ndim, shape));
    const float *src = shr_f32(t);
    float *dst = shr_f32(nt);
    for (int i = 0; i < na; i++) {
        int64_t a = ra ? ra[i] : i;
        for (int j = 0; j < nb; j++) {
            int64_t b = cb ? cb[j] : j;
            memcpy(dst + ((int64_t)i * nb + j) * inner, src + (a * B + b) * inner, (size_t)inner * sizeof(float));
        }
    }
    shr_tensor_free(val->data);
    val->data = nt;
    for (int i = 0; i < val->ndim; i++) val->shape[i] = shape[i];
    return SHR_OK;
}

static int is_depthwise(const shr_graph *g, const shr_node *n) {
    int G = n->attrs.groups ? n->attrs.groups : 1;
    return n->op == SHR_OP_CONV2D && G > 1 && G == g->values[n->inputs[0]].shape[1] &&
           G == g->values[n->output].shape[1];
}

static shr_status rebuild_node(shr_graph *g, const prune_deps *d, const unsigned char *removed, int k) {
    shr_node *n = &g->nodes[k];
    int x = n->inputs[0], nx = 0, no = 0;
    if (n->op != SHR_OP_BATCHNORM && !prune_is_weight_node(g, k)) return SHR_OK;
    int G = n->attrs.groups ? n->attrs.groups : 1, dw = is_depthwise(g, n);
    if (n->op == SHR_OP_CONV2D && G > 1 && !dw) return SHR_OK; /* its channels are fixed */
    int *kx = kept_positions(d, x, removed, &nx);
    int *ko = kept_positions(d, n->output, removed, &no);
    shr_status st = (kx && ko) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && n->op == SHR_OP_BATCHNORM) {
        for (int i = 1; i < n->n_inputs && st == SHR_OK; i++)
            if (n->inputs[i] >= 0) st = gather(&g->values[n->inputs[i]], kx, nx, NULL, 0);
    } else if (st == SHR_OK) {
        st = gather(&g->values[n->inputs[1]], ko, no, dw ? NULL : kx, nx);
        if (st == SHR_OK && n->n_inputs > 2 && n->inputs[2] >= 0) st = gather(&g->values[n->inputs[2]], ko, no, NULL, 0);
        if (dw) n->attrs.groups = no;
    }
    free(kx);
    free(ko);
    return st;
}

shr_status prune_rebuild(shr_graph *g, const prune_deps *d, const unsigned char *removed) {
    /* Params first (activation shapes still describe the old graph, which is how
     * depthwise convs are recognised), then every activation shape re-inferred. */
    for (int k = 0; k < g->n_nodes; k++) SHR_TRY(rebuild_node(g, d, removed, k));
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        shr_value *o = &g->values[n->output];
        int ndim;
        int64_t shape[SHR_MAX_DIMS];
        SHR_TRY(shr_op_def_get(n->op)->infer(g, n, &ndim, shape));
        o->ndim = ndim;
        for (int i = 0; i < ndim; i++) o->shape[i] = shape[i];
    }
    return shr_graph_validate(g);
}

void prune_zero_removed_inputs(shr_graph *g, const prune_deps *d, const unsigned char *removed) {
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if (!prune_is_weight_node(g, k) || (n->attrs.groups > 1 && n->op == SHR_OP_CONV2D)) continue;
        const shr_tensor *w = g->values[n->inputs[1]].data;
        int64_t O = w->shape[0], I = w->shape[1];
        if (O * I == 0) continue;
        int64_t inner = w->numel / (O * I);
        const int *ux = d->unit[n->inputs[0]];
        for (int64_t i = 0; i < I; i++) {
            if (!removed[ux[i]]) continue;
            for (int64_t o = 0; o < O; o++) memset(shr_f32(w) + (o * I + i) * inner, 0, (size_t)inner * sizeof(float));
        }
    }
}

shr_status shr_prune_structured(shr_graph **gp, const shr_prune_config *cfg) {
    if (!gp || !*gp || !cfg) return shr_fail(SHR_ERR_INVALID_ARG, "shr_prune_structured: NULL argument");
    if (cfg->method == SHR_PRUNE_LAYER) return prune_layers(gp, cfg);
    if (cfg->method != SHR_PRUNE_NEURON && cfg->method != SHR_PRUNE_CHANNEL)
        return shr_fail(SHR_ERR_INVALID_ARG, "'%s' is not a structured method",
                        shr_prune_method_name(cfg->method) ? shr_prune_method_name(cfg->method) : "?");
    if (!(cfg->sparsity >= 0.0f && cfg->sparsity < 1.0f))
        return shr_fail(SHR_ERR_INVALID_ARG, "structured sparsity %g must be in [0, 1)", (double)cfg->sparsity);
    shr_graph *g;
    SHR_TRY(shr_graph_clone(&g, *gp));
    prune_deps d;
    shr_status st = prune_deps_build(g, cfg, &d);
    if (st != SHR_OK) {
        shr_graph_free(g);
        return st;
    }
    double *score = calloc((size_t)d.n_units + 1, sizeof *score);
    unsigned char *removed = calloc((size_t)d.n_units + 1, 1);
    if (!score || !removed) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = prune_unit_scores(g, &d, cfg, score);
    if (st == SHR_OK && prune_select_units(&d, score, cfg->sparsity, removed) < 0)
        st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = prune_rebuild(g, &d, removed);
    free(score);
    free(removed);
    prune_deps_free(&d);
    if (st != SHR_OK) {
        shr_graph_free(g);
        return st;
    }
    shr_graph_free(*gp);
    *gp = g;
    return SHR_OK;
}
