/* Inference-time BatchNorm folding: BN(conv(x)) with running statistics is an affine map
 * per output channel, so it can live in the conv's (or linear's) weight and bias:
 *   s = gamma / sqrt(running_var + eps)
 *   W'[o, ...] = W[o, ...] * s[o]      b'[o] = (b[o] - running_mean[o]) * s[o] + beta[o]
 * The BN's consumers are rewired to the conv's output; the BN node is left dead (the plan
 * skips nodes nothing needs). Only when the conv output feeds the BN alone, the BN is over
 * the conv's output channels (dim 1) and its statistics are finite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "shrink/runtime.h"

static int use_count(const shr_graph *g, int v) {
    int n = v == g->output;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_inputs; i++) n += g->nodes[k].inputs[i] == v;
    return n;
}

static int bn_param_ok(const shr_graph *g, const shr_node *bn, int i, int64_t C) {
    if (i >= bn->n_inputs || bn->inputs[i] < 0) return 0;
    const shr_value *v = &g->values[bn->inputs[i]];
    return v->data && v->data->dtype == SHR_F32 && v->data->numel == C;
}

/* The bias input of conv/linear node k, created (zero) if absent. */
static shr_status ensure_bias(shr_graph *g, int k, int64_t C, float **bias) {
    shr_node *n = &g->nodes[k];
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        *bias = shr_f32(g->values[n->inputs[2]].data);
        return SHR_OK;
    }
    char name[256];
    snprintf(name, sizeof name, "%.200s.bias_folded", n->name);
    int v;
    SHR_TRY(shr_graph_add_tensor(g, name, SHR_VALUE_PARAM, 1, &C, &v));
    n = &g->nodes[k]; /* the value table may have moved, the node table has not */
    if (n->n_inputs < 3) {
        int *in = realloc(n->inputs, 3 * sizeof *in);
        if (!in) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        n->inputs = in;
        n->n_inputs = 3;
    }
    n->inputs[2] = v;
    *bias = shr_f32(g->values[v].data);
    return SHR_OK;
}

shr_status shr_graph_fold_bn(shr_graph *g, int *n_folded) {
    int folded = 0;
    for (int j = 0; j < g->n_nodes; j++) {
        const shr_node *bn = &g->nodes[j];
        if (bn->op != SHR_OP_BATCHNORM || bn->n_inputs < 5) continue;
        int v = bn->inputs[0];
        if (v < 0 || g->values[v].kind != SHR_VALUE_ACT || use_count(g, v) != 1) continue;
        int k = g->values[v].producer;
        shr_node *cv = &g->nodes[k];
        if (cv->op != SHR_OP_CONV2D && cv->op != SHR_OP_LINEAR) continue;
        shr_value *wv = &g->values[cv->inputs[1]];
        if (!wv->data || wv->data->dtype != SHR_F32 || wv->kind != SHR_VALUE_PARAM) continue;
        int64_t C = wv->shape[0], per = wv->data->numel / C;
        if (g->values[v].shape[1] != C || !bn_param_ok(g, bn, 1, C) || !bn_param_ok(g, bn, 2, C) ||
            !bn_param_ok(g, bn, 3, C) || !bn_param_ok(g, bn, 4, C))
            continue;
        float eps = bn->attrs.eps == 0.0f ? 1e-5f : bn->attrs.eps;
        const float *gamma = shr_f32(g->values[bn->inputs[1]].data), *beta = shr_f32(g->values[bn->inputs[2]].data);
        const float *mean = shr_f32(g->values[bn->inputs[3]].data), *var = shr_f32(g->values[bn->inputs[4]].data);
        int finite = 1;
        for (int64_t o = 0; o < C; o++) finite &= isfinite(gamma[o] / sqrtf(var[o] + eps)) && isfinite(mean[o]);
        if (!finite) continue;
        int bn_out = bn->output;
        float *bias;
        SHR_TRY(ensure_bias(g, k, C, &bias));
        bn = &g->nodes[j];
        float *w = shr_f32(g->values[g->nodes[k].inputs[1]].data);
        for (int64_t o = 0; o < C; o++) {
            float s = gamma[o] / sqrtf(var[o] + eps);
            for (int64_t i = 0; i < per; i++) w[o * per + i] *= s;
            bias[o] = (bias[o] - mean[o]) * s + beta[o];
        }
        /* Rewire: whatever read the BN's output now reads the conv's. */
        for (int n = 0; n < g->n_nodes; n++)
            for (int i = 0; i < g->nodes[n].n_inputs; i++)
                if (g->nodes[n].inputs[i] == bn_out) g->nodes[n].inputs[i] = v;
        if (g->output == bn_out) g->output = v;
        folded++;
    }
    if (n_folded) *n_folded = folded;
    return SHR_OK;
}
