/* Inference plan: eval-mode execution with one activation arena. Each
 * activation gets an arena offset; two activations share bytes only if their
 * lifetimes (producer .. last consumer) do not overlap (greedy first-fit by
 * decreasing size).
 * Compilation works on the plan's own copy of the graph: BatchNorms after Conv2d/Linear
 * are folded into their weights (fold_bn.c); nodes nothing needs are skipped and get no
 * memory; a ReLU / ReLU6 whose input is a Linear or Conv2d output used by nothing else
 * is folded into that op's epilogue (a clamp): the activation node is skipped and its
 * output aliases the producer's buffer. Quantized activations take 1 or 2 bytes per element
 * in the arena (shr_value_dtype). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/exec.h"
#include "runtime/plan_sparse.h"
#include "shrink/runtime.h"

struct shr_plan {
    const shr_graph *g; /* == own: the compiled copy */
    shr_graph *own;
    int max_batch;
    shr_value_table vt;
    size_t *offset;    /* per value: arena offset (INPUT/ACT) */
    size_t arena_bytes;
    unsigned char *arena;
    void **state;      /* per node op scratch */
    unsigned char *skip; /* per node: folded into its producer */
    float *fuse_lo, *fuse_hi; /* per node: clamp fused into this node (lo <= hi), else lo > hi */
    int *alias;        /* per value: the value whose buffer it shares, -1 its own, NO_STORAGE */
    int n_fused, n_folded;
    shr_plan_sparse *sparse; /* pruned Linear layers on the sparse kernels (plan_sparse.c) */
};

#define NO_STORAGE (-2) /* the output of a skipped dead node */

/* Skips nodes whose output nothing (transitively) needs for the graph output. */
static void plan_dead_nodes(shr_plan *p) {
    const shr_graph *g = p->g;
    unsigned char *needed = calloc((size_t)g->n_values + 1, 1);
    if (!needed) return; /* nothing skipped: still correct */
    needed[g->output] = 1;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const shr_node *n = &g->nodes[k];
        if (!needed[n->output]) {
            p->skip[k] = 1;
            p->alias[n->output] = NO_STORAGE;
            continue;
        }
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] >= 0) needed[n->inputs[i]] = 1;
    }
    free(needed);
}

/* Ops whose forward honors a fused clamp (shr_op_io.act_fused): the f32 GEMM layers, the
 * weight-only and dynamic Linear, and integer layers with f32 output. */
static int takes_clamp(const shr_graph *g, int k) {
    switch (g->nodes[k].op) {
    case SHR_OP_LINEAR:
    case SHR_OP_CONV2D:
    case SHR_OP_WLINEAR:
    case SHR_OP_DLINEAR:
    case SHR_OP_SPLINEAR: return 1;
    case SHR_OP_QLINEAR:
    case SHR_OP_QCONV2D: return shr_value_dtype(g, g->nodes[k].output) == SHR_F32;
    default: return 0;
    }
}

/* Marks foldable (Linear|Conv2d|...) -> (ReLU|ReLU6) pairs. */
static void plan_fusion(shr_plan *p) {
    const shr_graph *g = p->g;
    for (int j = 0; j < g->n_nodes; j++) {
        const shr_node *act = &g->nodes[j];
        if (p->skip[j]) continue;
        if ((act->op != SHR_OP_RELU && act->op != SHR_OP_RELU6) || act->n_inputs < 1) continue;
        int v = act->inputs[0];
        if (v < 0 || v == g->output || g->values[v].kind != SHR_VALUE_ACT) continue;
        int k = g->values[v].producer;
        if (k < 0 || !takes_clamp(g, k) || p->skip[k]) continue;
        if (p->fuse_lo[k] <= p->fuse_hi[k]) continue;
        int uses = 0;
        for (int n = 0; n < g->n_nodes; n++)
            for (int i = 0; i < g->nodes[n].n_inputs && !p->skip[n]; i++) uses += g->nodes[n].inputs[i] == v;
        if (uses != 1) continue;
        p->fuse_lo[k] = 0.0f;
        p->fuse_hi[k] = act->op == SHR_OP_RELU6 ? 6.0f : INFINITY;
        p->skip[j] = 1;
        p->alias[act->output] = v;
        p->n_fused++;
    }
}

typedef struct interval {
    int value;
    int start, end; /* node indices: produced at start (-1 for input), last used at end */
    size_t bytes;
} interval;

static int cmp_bytes_desc(const void *a, const void *b) {
    const interval *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->value - y->value;
}

static size_t align_up(size_t x) { return (x + SHR_ALIGN - 1) & ~(size_t)(SHR_ALIGN - 1); }


static shr_status plan_memory(shr_plan *p) {
    const shr_graph *g = p->g;
    interval *iv = calloc((size_t)g->n_values + 1, sizeof *iv);
    int *last_use = malloc(((size_t)g->n_values + 1) * sizeof *last_use);
    if (!iv || !last_use) {
        free(iv);
        free(last_use);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < g->n_values; v++) last_use[v] = -1;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_inputs && !p->skip[k]; i++)
            if (g->nodes[k].inputs[i] >= 0) last_use[g->nodes[k].inputs[i]] = k;
    /* An aliased value lives in its source's buffer: the source lives as long as both. */
    for (int v = 0; v < g->n_values; v++) {
        int src = p->alias[v];
        if (src < 0) continue; /* own buffer or none */
        int end = v == g->output ? g->n_nodes : last_use[v];
        if (end > last_use[src]) last_use[src] = end;
        if (v == g->output) last_use[src] = g->n_nodes;
    }
    int n = 0;
    for (int v = 0; v < g->n_values; v++) {
        const shr_value *val = &g->values[v];
        if (val->kind != SHR_VALUE_INPUT && val->kind != SHR_VALUE_ACT) continue;
        if (p->alias[v] != -1) continue;
        size_t bytes;
        size_t esz = shr_act_elem_size(shr_value_dtype(g, v)); /* quantized activations are 1 or 2 bytes */
        if (shr_mul_overflow_size((size_t)shr_value_sample_numel(val), (size_t)p->max_batch * esz, &bytes) ||
            bytes > SHR_MAX_ACTIVATION_BYTES) {
            free(iv);
            free(last_use);
            return shr_fail(SHR_ERR_LIMIT, "activation '%s' is too large", val->name);
        }
        int start = val->kind == SHR_VALUE_INPUT ? -1 : val->producer;
        int end = last_use[v] > start ? last_use[v] : start;
        if (v == g->output) end = g->n_nodes; /* the result outlives the run */
        if (last_use[v] == g->n_nodes) end = g->n_nodes; /* aliased by the output */
        iv[n++] = (interval){v, start, end, align_up(bytes)};
    }
    free(last_use);
    qsort(iv, (size_t)n, sizeof *iv, cmp_bytes_desc);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        /* Lowest offset that does not collide with an already placed, overlapping interval. */
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                int overlap = iv[j].start <= iv[i].end && iv[i].start <= iv[j].end;
                size_t a = p->offset[iv[j].value], b = a + iv[j].bytes;
                if (overlap && off < b && a < off + iv[i].bytes) {
                    off = b;
                    moved = 1;
                }
            }
        }
        size_t end;
        if (shr_add_overflow_size(off, iv[i].bytes, &end) || end > SHR_MAX_ACTIVATION_BYTES) {
            shr_status st = shr_fail(SHR_ERR_LIMIT, "activations need more than %zu GiB at batch %d",
                                     SHR_MAX_ACTIVATION_BYTES >> 30, p->max_batch);
            free(iv);
            return st;
        }
        p->offset[iv[i].value] = off;
        if (end > total) total = end;
    }
    free(iv);
    for (int v = 0; v < g->n_values; v++)
        if (p->alias[v] >= 0) p->offset[v] = p->offset[p->alias[v]];
    p->arena_bytes = total;
    return SHR_OK;
}

void shr_plan_free(shr_plan *p) {
    if (!p) return;
    shr_exec_free_states(p->g, p->state);
    shr_value_table_free(&p->vt);
    free(p->offset);
    free(p->state);
    free(p->skip);
    free(p->fuse_lo);
    free(p->fuse_hi);
    free(p->alias);
    shr_graph_free(p->own);
    shr_plan_sparse_free(p->sparse);
    shr_free(p->arena);
    free(p);
}

shr_status shr_plan_create(const shr_graph *g, int max_batch, shr_plan **out) {
    if (max_batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "batch size must be at least 1");
    if (g->input < 0 || g->output < 0) return shr_fail(SHR_ERR_INVALID_ARG, "graph has no input or output");
    shr_plan *p = calloc(1, sizeof *p);
    if (!p) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status cst = shr_graph_clone(&p->own, g);
    if (cst == SHR_OK) cst = shr_graph_fold_bn(p->own, &p->n_folded);
    if (cst != SHR_OK) {
        shr_graph_free(p->own);
        free(p);
        return cst;
    }
    g = p->own;
    p->g = g;
    p->max_batch = max_batch;
    p->offset = calloc((size_t)g->n_values + 1, sizeof *p->offset);
    p->state = calloc((size_t)g->n_nodes + 1, sizeof *p->state);
    p->skip = calloc((size_t)g->n_nodes + 1, 1);
    p->fuse_lo = calloc((size_t)g->n_nodes + 1, sizeof *p->fuse_lo);
    p->fuse_hi = calloc((size_t)g->n_nodes + 1, sizeof *p->fuse_hi);
    p->alias = calloc((size_t)g->n_values + 1, sizeof *p->alias);
    int ok = p->offset && p->state && p->skip && p->fuse_lo && p->fuse_hi && p->alias;
    shr_status st = ok ? shr_value_table_init(&p->vt, g) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) {
        for (int v = 0; v < g->n_values; v++) p->alias[v] = -1;
        for (int k = 0; k < g->n_nodes; k++) p->fuse_lo[k] = 1.0f, p->fuse_hi[k] = 0.0f;
        plan_dead_nodes(p);
        plan_fusion(p);
        st = shr_plan_sparse_compile(g, p->skip, &p->sparse);
        if (st == SHR_OK) st = plan_memory(p);
    }
    if (st == SHR_OK && !(p->arena = shr_alloc(p->arena_bytes)))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory for a %zu-byte activation arena", p->arena_bytes);
    if (st != SHR_OK) {
        shr_plan_free(p);
        return st;
    }
    *out = p;
    return SHR_OK;
}

shr_status shr_plan_run(shr_plan *p, const float *x, int n, const float **out) {
    const shr_graph *g = p->g;
    if (n < 1 || n > p->max_batch)
        return shr_fail(SHR_ERR_INVALID_ARG, "batch of %d samples outside 1..%d", n, p->max_batch);
    for (int v = 0; v < g->n_values; v++) {
        shr_value_kind k = g->values[v].kind;
        if (k == SHR_VALUE_INPUT || k == SHR_VALUE_ACT) shr_value_table_bind(&p->vt, v, p->arena + p->offset[v], n);
    }
    const shr_tensor *in = p->vt.t[g->input];
    memcpy(in->data, x, in->nbytes);
    for (int k = 0; k < g->n_nodes; k++) {
        if (p->skip[k]) continue;
        if (shr_plan_sparse_use(p->sparse, k, n))
            SHR_TRY(shr_plan_sparse_run(p->sparse, &p->vt, k, p->fuse_lo[k], p->fuse_hi[k]));
        else if (p->fuse_lo[k] <= p->fuse_hi[k])
            SHR_TRY(shr_exec_forward_fused(&p->vt, k, &p->state[k], p->fuse_lo[k], p->fuse_hi[k]));
        else
            SHR_TRY(shr_exec_forward(&p->vt, k, 0, &p->state[k], NULL));
    }
    *out = (const float *)p->vt.t[g->output]->data;
    return SHR_OK;
}

size_t shr_plan_arena_bytes(const shr_plan *p) { return p->arena_bytes; }

int shr_plan_fused_count(const shr_plan *p) { return p->n_fused; }

int shr_plan_folded_count(const shr_plan *p) { return p->n_folded; }

int64_t shr_plan_output_size(const shr_plan *p) { return shr_value_sample_numel(&p->g->values[p->g->output]); }
