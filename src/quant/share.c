/* Weight sharing with fine-tuning (Deep Compression's "trained quantization"): the non-zero
 * weights of each target Linear layer are replaced by the nearest of 2^b - 1 shared values
 * (k-means), then the model trains with two rules kept by the training hooks: pruned weights
 * stay exactly zero, and the members of a cluster stay equal — after each optimizer step a
 * shared value moves by the mean of its members' steps. The sparse encoder then finds exactly
 * 2^b - 1 distinct values per layer and stores them as its codebook. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/train_hooks.h"
#include "quant/quant_internal.h"
#include "quant/sparse_code.h"

typedef struct share_layer {
    int v;         /* weight value */
    int k;         /* shared values */
    float *c;      /* k centroids */
    int16_t *of;   /* per element: its cluster, -1 for a pruned zero */
} share_layer;

typedef struct share {
    int n;
    share_layer *l;
} share;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void share_free(share *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->l[i].c);
        free(s->l[i].of);
    }
    free(s->l);
}

static shr_status share_layer_init(share_layer *L, shr_tensor *t, int k) {
    int64_t n = t->numel, nz = 0;
    float *w = shr_f32(t), *sorted = malloc((size_t)n * sizeof *sorted + 1);
    L->c = malloc((size_t)k * sizeof *L->c);
    L->of = malloc((size_t)n * sizeof *L->of + 1);
    L->k = k;
    if (!sorted || !L->c || !L->of) {
        free(sorted);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        if (w[i] != 0.0f) sorted[nz++] = w[i];
    qsort(sorted, (size_t)nz, sizeof *sorted, cmp_float);
    if (nz) shr_spq_codebook(sorted, nz, k, L->c);
    else for (int j = 0; j < k; j++) L->c[j] = 0.0f;
    free(sorted);
    for (int64_t i = 0; i < n; i++) {
        L->of[i] = -1;
        if (w[i] == 0.0f) continue;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (fabsf(w[i] - L->c[j]) < fabsf(w[i] - L->c[best])) best = j;
        L->of[i] = (int16_t)best;
        w[i] = L->c[best];
    }
    return SHR_OK;
}

/* The optimizer moved every weight: each cluster moves by its members' mean step; zeros stay. */
static shr_status share_after_step(void *user, shr_graph *g, int64_t step) {
    (void)step;
    share *s = user;
    for (int i = 0; i < s->n; i++) {
        share_layer *L = &s->l[i];
        shr_tensor *t = g->values[L->v].data;
        float *w = shr_f32(t);
        double sum[256] = {0};
        int64_t cnt[256] = {0};
        for (int64_t e = 0; e < t->numel; e++)
            if (L->of[e] >= 0) sum[L->of[e]] += w[e] - L->c[L->of[e]], cnt[L->of[e]]++;
        for (int j = 0; j < L->k; j++)
            if (cnt[j]) L->c[j] += (float)(sum[j] / (double)cnt[j]);
        for (int64_t e = 0; e < t->numel; e++) w[e] = L->of[e] >= 0 ? L->c[L->of[e]] : 0.0f;
    }
    return SHR_OK;
}

shr_status shr_q_share_finetune(shr_graph *F, const shr_dataset *train, const shr_quant_config *cfg,
                                const int *nodes, int n) {
    share s = {0, calloc((size_t)n + 1, sizeof(share_layer))};
    if (!s.l) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st = SHR_OK;
    for (int i = 0; i < n && st == SHR_OK; i++) {
        s.l[i].v = F->nodes[nodes[i]].inputs[1];
        s.n = i + 1;
        st = share_layer_init(&s.l[i], F->values[s.l[i].v].data, (1 << cfg->share_bits) - 1);
    }
    shr_train_hooks hooks = {&s, NULL, NULL, NULL, share_after_step};
    shr_train_config tc = shr_train_default();
    tc.epochs = cfg->epochs;
    tc.optim.lr = cfg->lr > 0.0f ? cfg->lr : 1e-4f;
    tc.seed = cfg->seed;
    tc.hooks = &hooks;
    shr_train_result r;
    if (st == SHR_OK && cfg->epochs > 0) st = shr_train(F, train, NULL, &tc, &r);
    share_free(&s);
    return st;
}
