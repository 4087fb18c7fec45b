/* Importance of structured units (channels, filters, FC units). Every weight
 * element that belongs to a unit is visited once with its role:
 *   producer weight  row o of a linear / filter o of a conv (incl. a depthwise filter)
 *   producer bias    bias o
 *   consumer weight  the input column(s) of the next linear / conv reading the unit
 *   bn gamma / beta  the batchnorm scale / shift of the channel
 * and the scores combine them per unit:
 *   l1 / l2       producer weights (channel) or producer + consumer weights (neuron)
 *   bn            sum of |gamma| (units without a batchnorm fall back to l2)
 *   taylor        sum of |w * dL/dw| over every role, gradients summed over a few batches
 *   connections   producer + consumer weights left after per-layer magnitude pruning
 *                 at the same sparsity, ties broken by l1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/tape.h"
#include "prune/prune_internal.h"

enum { ROLE_PW, ROLE_PB, ROLE_CW, ROLE_BN_G, ROLE_BN_B };

typedef void (*visit_fn)(void *user, int unit, int role, int value, int64_t elem);

/* Calls fn for every weight element tied to a unit (grouped convs have only fixed units: skipped). */
static void visit_elements(const shr_graph *g, const prune_deps *d, visit_fn fn, void *user) {
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        const int *ux = d->unit[n->inputs[0]], *uo = d->unit[n->output];
        if (!ux || !uo) continue;
        if (n->op == SHR_OP_BATCHNORM) {
            if (n->n_inputs < 3 || n->inputs[1] < 0 || n->inputs[2] < 0) continue;
            int C = d->npos[n->inputs[0]];
            for (int c = 0; c < C; c++) {
                fn(user, ux[c], ROLE_BN_G, n->inputs[1], c);
                fn(user, ux[c], ROLE_BN_B, n->inputs[2], c);
            }
            continue;
        }
        if (!prune_is_weight_node(g, k)) continue;
        const shr_tensor *w = g->values[n->inputs[1]].data;
        int wv = n->inputs[1], bv = n->n_inputs > 2 ? n->inputs[2] : -1;
        int64_t O = w->shape[0], I = w->shape[1], inner = w->numel / (O * (I ? I : 1));
        int G = n->op == SHR_OP_CONV2D && n->attrs.groups ? n->attrs.groups : 1;
        int depthwise = G > 1 && G == d->npos[n->inputs[0]] && O == G;
        if (G > 1 && !depthwise) continue;
        for (int64_t o = 0; o < O; o++) {
            for (int64_t i = 0; i < I; i++)
                for (int64_t s = 0; s < inner; s++) {
                    int64_t e = (o * I + i) * inner + s;
                    fn(user, uo[o], ROLE_PW, wv, e);
                    if (!depthwise) fn(user, ux[i], ROLE_CW, wv, e);
                }
            if (bv >= 0) fn(user, uo[o], ROLE_PB, bv, o);
        }
    }
}

typedef struct acc {
    const shr_graph *g;     /* weights */
    const shr_graph *masked; /* connections: the magnitude-pruned copy */
    shr_tensor *const *grad; /* taylor: per value */
    int with_consumers;
    double *l1, *l2, *bn, *taylor, *conn;
    unsigned char *has_bn;
} acc;

static void accumulate(void *user, int u, int role, int value, int64_t e) {
    acc *a = user;
    float w = shr_f32(a->g->values[value].data)[e];
    if (a->grad && a->grad[value]) a->taylor[u] += fabs((double)w * (double)shr_f32(a->grad[value])[e]);
    if (role == ROLE_BN_G) {
        a->bn[u] += fabsf(w);
        a->has_bn[u] = 1;
    }
    if (role == ROLE_PW || (role == ROLE_CW && a->with_consumers)) {
        a->l1[u] += fabsf(w);
        a->l2[u] += (double)w * (double)w;
        if (a->masked) a->conn[u] += shr_f32(a->masked->values[value].data)[e] != 0.0f;
    }
}

/* Sum of parameter gradients of the cross-entropy over cfg->data_batches batches,
 * on a copy of g (training mode updates batchnorm statistics). */
static shr_status taylor_grads(const shr_graph *g, const shr_prune_config *cfg, shr_graph **copy, shr_tape **tape) {
    const shr_dataset *d = cfg->data;
    int batch = cfg->batch > 0 ? (cfg->batch < 4096 ? cfg->batch : 4096) : 64;
    if (batch > d->n) batch = (int)d->n;
    if (batch < 2) return shr_fail(SHR_ERR_INVALID_ARG, "taylor importance needs at least 2 samples");
    int k = (int)g->values[g->output].shape[1];
    if (k < d->n_classes) return shr_fail(SHR_ERR_SHAPE, "model has %d outputs but the data has %d classes", k, d->n_classes);
    SHR_TRY(shr_graph_clone(copy, g));
    SHR_TRY(shr_tape_create(*copy, batch, tape));
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    float *dl = shr_alloc((size_t)batch * (size_t)k * sizeof(float));
    int32_t *y = malloc((size_t)batch * sizeof *y);
    shr_status st = (x && dl && y) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_rng rng;
    shr_rng_seed(&rng, cfg->seed);
    shr_tape_zero_grad(*tape);
    int nb = cfg->data_batches > 0 ? cfg->data_batches : 4;
    for (int b = 0; st == SHR_OK && b < nb; b++) {
        prune_fill_batch(d, &g->preproc, b, batch, x, y);
        const shr_tensor *logits;
        float loss;
        st = shr_tape_forward(*tape, x, batch, 1, &rng, &logits);
        if (st == SHR_OK) st = shr_loss_cross_entropy(shr_f32(logits), y, batch, k, 0.0f, &loss, dl);
        if (st == SHR_OK) st = shr_tape_backward(*tape, dl);
    }
    shr_free(x);
    shr_free(dl);
    free(y);
    return st;
}

/* The copy of g pruned per layer by magnitude at cfg->sparsity. */
static shr_status magnitude_copy(const shr_graph *g, const shr_prune_config *cfg, shr_graph **copy) {
    SHR_TRY(shr_graph_clone(copy, g));
    shr_prune_masks *m;
    SHR_TRY(shr_prune_masks_create(*copy, &m));
    shr_prune_config mc = *cfg;
    mc.method = SHR_PRUNE_MAGNITUDE;
    mc.n_layers = 0;
    shr_status st = shr_prune_unstructured(*copy, &mc, m);
    shr_prune_masks_free(m);
    return st;
}

shr_status prune_unit_scores(const shr_graph *g, const prune_deps *d, const shr_prune_config *cfg, double *score) {
    shr_prune_importance imp = cfg->importance;
    if (imp == SHR_IMPORTANCE_DEFAULT) imp = cfg->method == SHR_PRUNE_NEURON ? SHR_IMPORTANCE_L2 : SHR_IMPORTANCE_L1;
    if ((unsigned)imp >= SHR_IMPORTANCE_COUNT) return shr_fail(SHR_ERR_INVALID_ARG, "invalid importance %d", (int)imp);
    if (imp == SHR_IMPORTANCE_TAYLOR && !cfg->data)
        return shr_fail(SHR_ERR_INVALID_ARG, "taylor importance needs data for the gradients");
    size_t nu = (size_t)d->n_units + 1;
    acc a;
    memset(&a, 0, sizeof a);
    a.g = g;
    a.with_consumers = cfg->method == SHR_PRUNE_NEURON || imp == SHR_IMPORTANCE_CONNECTIONS;
    a.l1 = calloc(nu, sizeof *a.l1);
    a.l2 = calloc(nu, sizeof *a.l2);
    a.bn = calloc(nu, sizeof *a.bn);
    a.taylor = calloc(nu, sizeof *a.taylor);
    a.conn = calloc(nu, sizeof *a.conn);
    a.has_bn = calloc(nu, 1);
    shr_graph *copy = NULL, *masked = NULL;
    shr_tape *tape = NULL;
    shr_status st = (a.l1 && a.l2 && a.bn && a.taylor && a.conn && a.has_bn) ? SHR_OK
                                                                              : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK && imp == SHR_IMPORTANCE_TAYLOR && (st = taylor_grads(g, cfg, &copy, &tape)) == SHR_OK)
        a.grad = tape->grad.t;
    if (st == SHR_OK && imp == SHR_IMPORTANCE_CONNECTIONS && (st = magnitude_copy(g, cfg, &masked)) == SHR_OK)
        a.masked = masked;
    if (st == SHR_OK) visit_elements(g, d, accumulate, &a);
    for (int u = 0; st == SHR_OK && u < d->n_units; u++) {
        switch (imp) {
        case SHR_IMPORTANCE_L1: score[u] = a.l1[u]; break;
        case SHR_IMPORTANCE_BN: score[u] = a.has_bn[u] ? a.bn[u] : sqrt(a.l2[u]); break;
        case SHR_IMPORTANCE_TAYLOR: score[u] = a.taylor[u]; break;
        case SHR_IMPORTANCE_CONNECTIONS: score[u] = a.conn[u] + a.l1[u] / (1.0 + a.l1[u]); break;
        default: score[u] = sqrt(a.l2[u]); break;
        }
    }
    shr_tape_free(tape);
    shr_graph_free(copy);
    shr_graph_free(masked);
    free(a.l1);
    free(a.l2);
    free(a.bn);
    free(a.taylor);
    free(a.conn);
    free(a.has_bn);
    return st;
}
