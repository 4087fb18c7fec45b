/* Channel dependency analysis for structured pruning (see prune_internal.h):
 * one pass over the nodes in topological order maps every position of every
 * activation to an atom, unifying atoms that must be removed together. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"

/* Positions per value beyond this are refused (the maps hold an int each). */
#define MAX_POSITIONS (1 << 26)

typedef struct atoms {
    int n, cap;
    int *parent;
    int *src;             /* producing node, -1 for the input or a barrier */
    unsigned char *fixed; /* valid at roots after unions */
} atoms;

static int find(int *parent, int a) {
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

static void unite(atoms *A, int a, int b) {
    a = find(A->parent, a);
    b = find(A->parent, b);
    if (a == b) return;
    if (b < a) {
        int t = a;
        a = b;
        b = t;
    }
    A->parent[b] = a;
    A->fixed[a] |= A->fixed[b];
}

static int grow(atoms *A, int count) {
    if (A->n + count <= A->cap) return 0;
    int cap = A->cap ? A->cap : 256;
    while (cap < A->n + count) {
        if (cap > MAX_POSITIONS) return -1;
        cap *= 2;
    }
    int *p = realloc(A->parent, (size_t)cap * sizeof *p);
    if (p) A->parent = p;
    int *s = p ? realloc(A->src, (size_t)cap * sizeof *s) : NULL;
    if (s) A->src = s;
    unsigned char *f = s ? realloc(A->fixed, (size_t)cap) : NULL;
    if (f) A->fixed = f;
    if (!f) return -1;
    A->cap = cap;
    return 0;
}

/* Appends `count` atoms produced by node src (-1: none); returns the first, or -1. */
static int new_atoms(atoms *A, int count, int src, int fixed) {
    if (grow(A, count) != 0) return -1;
    int base = A->n;
    for (int i = 0; i < count; i++) {
        A->parent[base + i] = base + i;
        A->src[base + i] = src;
        A->fixed[base + i] = (unsigned char)(fixed != 0);
    }
    A->n += count;
    return base;
}

typedef struct ctx {
    const shr_graph *g;
    const shr_prune_config *cfg;
    prune_deps *d;
    atoms A;
    int *uses; /* per value: how many node inputs refer to it */
} ctx;

static shr_status alloc_map(ctx *c, int v, int npos) {
    if (npos < 0 || npos > MAX_POSITIONS)
        return shr_fail(SHR_ERR_LIMIT, "value '%s': too many channels to analyse for pruning", c->g->values[v].name);
    c->d->npos[v] = npos;
    c->d->unit[v] = malloc((size_t)(npos ? npos : 1) * sizeof(int));
    return c->d->unit[v] ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
}

static int64_t inner_of(const shr_value *v) {
    int64_t n = 1;
    for (int i = 2; i < v->ndim; i++) n *= v->shape[i];
    return n;
}

/* Fresh atoms for every position of v. */
static shr_status fresh(ctx *c, int v, int src, int fixed) {
    const shr_value *val = &c->g->values[v];
    SHR_TRY(alloc_map(c, v, val->ndim >= 2 ? (int)val->shape[1] : 1));
    int base = new_atoms(&c->A, c->d->npos[v], src, fixed);
    if (base < 0) return shr_fail(SHR_ERR_NOMEM, "out of memory analysing channels");
    for (int p = 0; p < c->d->npos[v]; p++) c->d->unit[v][p] = base + p;
    return SHR_OK;
}

static shr_status copy_map(ctx *c, int dst, int src) {
    SHR_TRY(alloc_map(c, dst, c->d->npos[src]));
    memcpy(c->d->unit[dst], c->d->unit[src], (size_t)c->d->npos[src] * sizeof(int));
    return SHR_OK;
}

static void fix_all(ctx *c, int v) {
    if (v < 0 || !c->d->unit[v]) return;
    for (int p = 0; p < c->d->npos[v]; p++) c->A.fixed[find(c->A.parent, c->d->unit[v][p])] = 1;
}

/* A node's params that other nodes use too (shared weights) make it a barrier. */
static int shares_params(const ctx *c, const shr_node *n) {
    for (int i = 1; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v >= 0 && c->g->values[v].kind != SHR_VALUE_ACT && c->g->values[v].kind != SHR_VALUE_INPUT &&
            c->uses[v] > 1)
            return 1;
    }
    return 0;
}

static shr_status barrier(ctx *c, int k) {
    const shr_node *n = &c->g->nodes[k];
    for (int i = 0; i < n->n_inputs; i++) fix_all(c, n->inputs[i]);
    return fresh(c, n->output, -1, 1);
}

static shr_status visit(ctx *c, int k) {
    const shr_graph *g = c->g;
    const shr_node *n = &g->nodes[k];
    int x = n->inputs[0], out = n->output;
    const shr_value *xv = &g->values[x];
    int excluded = prune_excluded(c->cfg, n->name);
    switch (n->op) {
    case SHR_OP_LINEAR:
        if (!prune_is_weight_node(g, k) || shares_params(c, n)) return barrier(c, k);
        return fresh(c, out, k, excluded);
    case SHR_OP_CONV2D: {
        if (!prune_is_weight_node(g, k) || shares_params(c, n)) return barrier(c, k);
        int G = n->attrs.groups ? n->attrs.groups : 1;
        int64_t C = xv->shape[1], OC = g->values[out].shape[1];
        if (G == 1) return fresh(c, out, k, excluded);
        if (G == C && OC == C) { /* depthwise: filter c belongs to channel c */
            if (excluded) fix_all(c, x);
            return copy_map(c, out, x);
        }
        return barrier(c, k);
    }
    case SHR_OP_BATCHNORM:
        if (shares_params(c, n)) return barrier(c, k);
        return copy_map(c, out, x);
    case SHR_OP_RELU: case SHR_OP_RELU6: case SHR_OP_LEAKY_RELU: case SHR_OP_GELU: case SHR_OP_SIGMOID:
    case SHR_OP_TANH: case SHR_OP_MAXPOOL2D: case SHR_OP_AVGPOOL2D: case SHR_OP_GLOBAL_AVGPOOL:
    case SHR_OP_DROPOUT:
        return copy_map(c, out, x);
    case SHR_OP_FLATTEN: {
        int64_t inner = inner_of(xv), npos = (int64_t)c->d->npos[x] * inner;
        if (npos > MAX_POSITIONS) return barrier(c, k);
        SHR_TRY(alloc_map(c, out, (int)npos));
        for (int64_t f = 0; f < npos; f++) c->d->unit[out][f] = c->d->unit[x][f / inner];
        return SHR_OK;
    }
    case SHR_OP_ADD: {
        int b = n->inputs[1];
        if (c->d->npos[b] != c->d->npos[x]) return barrier(c, k);
        for (int p = 0; p < c->d->npos[x]; p++) unite(&c->A, c->d->unit[x][p], c->d->unit[b][p]);
        return copy_map(c, out, x);
    }
    case SHR_OP_CONCAT: {
        int axis = n->attrs.axis < 0 ? n->attrs.axis + xv->ndim : n->attrs.axis;
        if (axis != 1) { /* along a spatial axis: channels line up position by position */
            for (int i = 1; i < n->n_inputs; i++) {
                int v = n->inputs[i];
                if (c->d->npos[v] != c->d->npos[x]) return barrier(c, k);
                for (int p = 0; p < c->d->npos[x]; p++) unite(&c->A, c->d->unit[x][p], c->d->unit[v][p]);
            }
            return copy_map(c, out, x);
        }
        SHR_TRY(alloc_map(c, out, (int)g->values[out].shape[1]));
        int at = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (at + c->d->npos[v] > c->d->npos[out]) return shr_fail(SHR_ERR_INTERNAL, "concat positions disagree");
            memcpy(c->d->unit[out] + at, c->d->unit[v], (size_t)c->d->npos[v] * sizeof(int));
            at += c->d->npos[v];
        }
        return SHR_OK;
    }
    default: /* reshape, softmax, log_softmax and anything new: channels may not move */
        return barrier(c, k);
    }
}

void prune_deps_free(prune_deps *d) {
    if (!d) return;
    if (d->unit)
        for (int v = 0; v < d->n_values; v++) free(d->unit[v]);
    free(d->unit);
    free(d->npos);
    free(d->fixed);
    free(d->group);
    free(d->unit_src);
    memset(d, 0, sizeof *d);
}

/* Atoms -> dense unit ids; units -> groups by the nodes that produce their atoms. */
static shr_status finish(ctx *c) {
    prune_deps *d = c->d;
    atoms *A = &c->A;
    int *unit_of = malloc((size_t)(A->n ? A->n : 1) * sizeof *unit_of);
    int *node_set = malloc(((size_t)c->g->n_nodes + 1) * sizeof *node_set);
    if (!unit_of || !node_set) {
        free(unit_of);
        free(node_set);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    int nu = 0;
    for (int a = 0; a < A->n; a++) unit_of[a] = find(A->parent, a) == a ? nu++ : -1;
    d->n_units = nu;
    d->fixed = calloc((size_t)nu + 1, 1);
    d->group = malloc(((size_t)nu + 1) * sizeof *d->group);
    d->unit_src = malloc(((size_t)nu + 1) * sizeof *d->unit_src);
    shr_status st = (d->fixed && d->group && d->unit_src) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->g->n_nodes; k++) node_set[k] = k;
    for (int u = 0; st == SHR_OK && u < nu; u++) d->unit_src[u] = -1;
    for (int a = 0; st == SHR_OK && a < A->n; a++) {
        int r = find(A->parent, a), u = unit_of[r];
        if (A->fixed[r]) d->fixed[u] = 1;
        if (A->src[a] < 0) continue;
        if (d->unit_src[u] < 0) d->unit_src[u] = A->src[a];
        int s1 = find(node_set, A->src[a]), s2 = find(node_set, d->unit_src[u]);
        if (s1 != s2) node_set[s1 > s2 ? s1 : s2] = s1 < s2 ? s1 : s2;
    }
    /* Dense group ids in order of first appearance. */
    int *gid = malloc(((size_t)c->g->n_nodes + 1) * sizeof *gid);
    if (st == SHR_OK && !gid) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; st == SHR_OK && k < c->g->n_nodes; k++) gid[k] = -1;
    d->n_groups = 0;
    for (int u = 0; st == SHR_OK && u < nu; u++) {
        if (d->unit_src[u] < 0) {
            d->group[u] = -1;
            d->fixed[u] = 1; /* comes from the model input */
            continue;
        }
        int root = find(node_set, d->unit_src[u]);
        if (gid[root] < 0) gid[root] = d->n_groups++;
        d->group[u] = gid[root];
    }
    for (int v = 0; st == SHR_OK && v < d->n_values; v++)
        for (int p = 0; d->unit[v] && p < d->npos[v]; p++) d->unit[v][p] = unit_of[find(A->parent, d->unit[v][p])];
    free(gid);
    free(unit_of);
    free(node_set);
    return st;
}

shr_status prune_deps_build(const shr_graph *g, const shr_prune_config *cfg, prune_deps *d) {
    memset(d, 0, sizeof *d);
    ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.cfg = cfg;
    c.d = d;
    d->n_values = g->n_values;
    d->npos = calloc((size_t)g->n_values + 1, sizeof *d->npos);
    d->unit = calloc((size_t)g->n_values + 1, sizeof *d->unit);
    c.uses = calloc((size_t)g->n_values + 1, sizeof *c.uses);
    shr_status st = (d->npos && d->unit && c.uses) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; st == SHR_OK && k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_inputs; i++)
            if (g->nodes[k].inputs[i] >= 0) c.uses[g->nodes[k].inputs[i]]++;
    if (st == SHR_OK) st = fresh(&c, g->input, -1, 1);
    for (int k = 0; st == SHR_OK && k < g->n_nodes; k++) st = visit(&c, k);
    if (st == SHR_OK) fix_all(&c, g->output);
    if (st == SHR_OK) st = finish(&c);
    free(c.uses);
    free(c.A.parent);
    free(c.A.src);
    free(c.A.fixed);
    if (st != SHR_OK) prune_deps_free(d);
    return st;
}
