/* Sparse Linear layers in the inference plan: y (n, N) = clamp(x (n, K) W^T + b)
 * with W (N, K) converted once to CSR, 4x1 or 8x1 blocks, whichever the cost model
 * (plan_sparse.h) says is fastest, and run only at the batch sizes where it beats dense. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "runtime/plan_sparse.h"

struct shr_plan_sparse {
    const shr_graph *g;
    int n_nodes, count;
    shr_spmat **mat;        /* per node: NULL runs dense */
    unsigned char *batch1;  /* per node: sparse at batch 1..3 */
    unsigned char *batched; /* per node: sparse from batch SHR_SPARSE_BATCHED_FROM on */
};

double shr_plan_sparse_cost(shr_sp_format f, int batched, int N, int K, int64_t blocks) {
    /* {per block, per block row, block rows}: the fits of plan_sparse.h */
    static const double one[SHR_SP_NFORMATS][3] = {[SHR_SP_CSR] = {0.21, 2.6, 1}, [SHR_SP_4X1] = {0.31, 4.5, 4},
                                                   [SHR_SP_8X1] = {0.39, 4.6, 8}};
    static const double many[SHR_SP_NFORMATS][3] = {[SHR_SP_CSR] = {2.2, 21, 1}, [SHR_SP_4X1] = {5.5, 100, 4},
                                                    [SHR_SP_8X1] = {10.8, 200, 8}};
    if (f == SHR_SP_DENSE) return (batched ? 1.4 : 0.043) * (double)N * (double)K;
    if (f != SHR_SP_CSR && f != SHR_SP_4X1 && f != SHR_SP_8X1) return INFINITY;
    const double *c = batched ? many[f] : one[f];
    return c[0] * (double)blocks + c[1] * ceil((double)N / c[2]);
}

/* Stored blocks of W (N x K) in br x 1 blocks: the (block row, column) pairs holding a nonzero. */
static int64_t count_blocks(const float *W, int N, int K, int br) {
    int64_t n = 0;
    for (int n0 = 0; n0 < N; n0 += br)
        for (int k = 0; k < K; k++) {
            int any = 0;
            for (int r = n0; r < n0 + br && r < N && !any; r++) any = W[(size_t)r * K + k] != 0.0f;
            n += any;
        }
    return n;
}

/* The weight of a Linear node that may run sparse, or NULL. */
static const shr_tensor *linear_weight(const shr_graph *g, int k) {
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
    return t;
}

/* The format cheapest at batch 1 if it beats dense there (then batched too where it does),
 * else the one cheapest batched if that beats dense; SHR_SP_DENSE when neither. */
static shr_sp_format choose(const shr_tensor *t, int *at1, int *batched) {
    static const shr_sp_format cand[3] = {SHR_SP_CSR, SHR_SP_4X1, SHR_SP_8X1};
    static const int rows[3] = {1, 4, 8};
    int N = (int)t->shape[0], K = (int)t->shape[1];
    *at1 = *batched = 0;
    if (shr_tensor_count_nonzero(t) > t->numel / 2) return SHR_SP_DENSE; /* no format wins at half density */
    double one[3], many[3];
    int b1 = 0, bm = 0;
    for (int i = 0; i < 3; i++) {
        int64_t blocks = count_blocks(shr_f32(t), N, K, rows[i]);
        one[i] = shr_plan_sparse_cost(cand[i], 0, N, K, blocks);
        many[i] = shr_plan_sparse_cost(cand[i], 1, N, K, blocks);
        if (one[i] < one[b1]) b1 = i;
        if (many[i] < many[bm]) bm = i;
    }
    double dense1 = SHR_SPARSE_MARGIN * shr_plan_sparse_cost(SHR_SP_DENSE, 0, N, K, 0),
           dense_many = SHR_SPARSE_MARGIN * shr_plan_sparse_cost(SHR_SP_DENSE, 1, N, K, 0);
    if (one[b1] <= dense1) {
        *at1 = 1;
        *batched = many[b1] <= dense_many;
        return cand[b1];
    }
    *batched = many[bm] <= dense_many;
    return *batched ? cand[bm] : SHR_SP_DENSE;
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
    free(s->batched);
    free(s);
}

static shr_status plan_alloc(const shr_graph *g, shr_plan_sparse **out) {
    shr_plan_sparse *s = calloc(1, sizeof *s);
    if (s) s->mat = calloc((size_t)g->n_nodes, sizeof *s->mat);
    if (s) s->batch1 = calloc((size_t)g->n_nodes, 1);
    if (s) s->batched = calloc((size_t)g->n_nodes, 1);
    if (!s || !s->mat || !s->batch1 || !s->batched) {
        shr_plan_sparse_free(s);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    s->g = g;
    s->n_nodes = g->n_nodes;
    *out = s;
    return SHR_OK;
}

shr_status shr_plan_sparse_compile(const shr_graph *g, const unsigned char *skip, shr_plan_sparse **out) {
    *out = NULL;
    const char *env = getenv("SHRINK_SPARSE");
    if (env && strcmp(env, "off") == 0) return SHR_OK;
    shr_plan_sparse *s = NULL;
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_tensor *w = skip[k] ? NULL : linear_weight(g, k);
        int at1 = 0, batched = 0;
        shr_sp_format f = w ? choose(w, &at1, &batched) : SHR_SP_DENSE;
        if (f == SHR_SP_DENSE) continue;
        shr_status st = s ? SHR_OK : plan_alloc(g, &s);
        if (st != SHR_OK) return st;
        if (!(s->mat[k] = calloc(1, sizeof **s->mat))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (st == SHR_OK)
            st = shr_spmat_from_dense(s->mat[k], f, SHR_SP_F32, (int)w->shape[0], (int)w->shape[1], shr_f32(w),
                                      (long)w->shape[1]);
        if (st != SHR_OK) {
            shr_plan_sparse_free(s);
            return st;
        }
        s->batch1[k] = (unsigned char)at1;
        s->batched[k] = (unsigned char)batched;
        s->count++;
    }
    *out = s;
    return SHR_OK;
}

int shr_plan_sparse_use(const shr_plan_sparse *s, int k, int n) {
    return s && k >= 0 && k < s->n_nodes && s->mat[k] && (n >= SHR_SPARSE_BATCHED_FROM ? s->batched[k] : s->batch1[k]);
}

shr_sp_format shr_plan_sparse_format(const shr_plan_sparse *s, int k) {
    return s && k >= 0 && k < s->n_nodes && s->mat[k] ? s->mat[k]->format : SHR_SP_DENSE;
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
