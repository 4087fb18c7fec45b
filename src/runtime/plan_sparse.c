/* Sparse Linear layers in the inference plan: y (n, N) = clamp(x (n, K) W^T + b)
 * with W (N, K) converted once to CSR. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/sparse.h"
#include "runtime/plan_sparse.h"

struct shr_plan_sparse {
    const shr_graph *g;
    int n_nodes, count;
    shr_spmat **mat;         /* per node: NULL runs dense */
    unsigned char *batch1;   /* per node: sparse at batch 1..3 as well */
};

/* The weight of a Linear node that should run sparse at some batch size, or NULL;
 * *small: also at batch 1..3. */
static const shr_tensor *sparse_weight(const shr_graph *g, int k, int *small) {
    const shr_node *n = &g->nodes[k];
    if (n->op != SHR_OP_LINEAR || n->n_inputs < 2 || n->inputs[1] < 0) return NULL;
    const shr_value *x = &g->values[n->inputs[0]], *w = &g->values[n->inputs[1]];
    if (x->ndim != 2 || w->kind != SHR_VALUE_PARAM || !w->data || w->data->dtype != SHR_F32 || w->ndim != 2) return NULL;
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        const shr_tensor *b = g->values[n->inputs[2]].data;
        if (!b || b->dtype != SHR_F32) return NULL;
    }
    const shr_tensor *t = w->data;
    if (t->numel < SHR_SPARSE_MIN_NUMEL || t->shape[0] > INT32_MAX || t->shape[1] > INT32_MAX) return NULL;
    double density = (double)shr_tensor_count_nonzero(t) / (double)t->numel;
    *small = density <= SHR_SPARSE_BATCH1_DENSITY(t->shape[1]);
    return density <= SHR_SPARSE_BATCHED_DENSITY ? t : NULL;
}

void shr_plan_sparse_free(shr_plan_sparse *s) {
    if (!s) return;
    for (int k = 0; k < s->n_nodes; k++)
        if (s->mat[k]) {
            shr_spmat_free(s->mat[k]);
            free(s->mat[k]);
        }
    free(s->mat);
    free(s->batch1);
    free(s);
}

shr_status shr_plan_sparse_compile(const shr_graph *g, const unsigned char *skip, shr_plan_sparse **out) {
    *out = NULL;
    const char *env = getenv("SHRINK_SPARSE");
    if (env && strcmp(env, "off") == 0) return SHR_OK;
    shr_plan_sparse *s = NULL;
    for (int k = 0; k < g->n_nodes; k++) {
        int small = 0;
        const shr_tensor *w = skip[k] ? NULL : sparse_weight(g, k, &small);
        if (!w) continue;
        if (!s) {
            s = calloc(1, sizeof *s);
            if (s) s->mat = calloc((size_t)g->n_nodes, sizeof *s->mat);
            if (s) s->batch1 = calloc((size_t)g->n_nodes, 1);
            if (!s || !s->mat || !s->batch1) {
                shr_plan_sparse_free(s);
                return shr_fail(SHR_ERR_NOMEM, "out of memory");
            }
            s->g = g;
            s->n_nodes = g->n_nodes;
        }
        shr_status st = (s->mat[k] = calloc(1, sizeof **s->mat)) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (st == SHR_OK)
            st = shr_spmat_from_dense(s->mat[k], SHR_SP_CSR, SHR_SP_F32, (int)w->shape[0], (int)w->shape[1], shr_f32(w),
                                      (long)w->shape[1]);
        if (st != SHR_OK) {
            shr_plan_sparse_free(s);
            return st;
        }
        s->batch1[k] = (unsigned char)small;
        s->count++;
    }
    *out = s;
    return SHR_OK;
}

int shr_plan_sparse_use(const shr_plan_sparse *s, int k, int n) {
    return s && k >= 0 && k < s->n_nodes && s->mat[k] && (n >= SHR_SPARSE_BATCHED_FROM || s->batch1[k]);
}

int shr_plan_sparse_count(const shr_plan_sparse *s) { return s ? s->count : 0; }

shr_status shr_plan_sparse_run(const shr_plan_sparse *s, shr_value_table *vt, int k, float lo, float hi) {
    const shr_node *n = &s->g->nodes[k];
    const shr_tensor *x = vt->t[n->inputs[0]], *y = vt->t[n->output];
    const shr_spmat *A = s->mat[k];
    shr_gemm_epilogue ep = {NULL, 0, -INFINITY, INFINITY};
    if (n->n_inputs > 2 && n->inputs[2] >= 0) ep.bias = shr_f32(vt->t[n->inputs[2]]);
    if (lo <= hi) {
        ep.lo = lo;
        ep.hi = hi;
    }
    int M = (int)x->shape[0];
    return shr_spmm_f32(A, M, shr_f32(x), A->K, &ep, shr_f32(y), A->N);
}
