/* Size and compute metrics read from the stored tensors: non-zeros, bytes in
 * their dtypes, density-scaled FLOPs, density maps, Pareto marks. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "shrink/report.h"

static int has_data(const shr_graph *g, int v) {
    return v >= 0 && (g->values[v].kind == SHR_VALUE_PARAM || g->values[v].kind == SHR_VALUE_BUFFER) &&
           g->values[v].data;
}

/* Element i of any storage dtype is non-zero. */
static int elem_nonzero(const shr_tensor *t, int64_t i) {
    switch (t->dtype) {
    case SHR_F32: return ((const float *)t->data)[i] != 0.0f;
    case SHR_I32: return ((const int32_t *)t->data)[i] != 0;
    case SHR_I16: return ((const int16_t *)t->data)[i] != 0;
    case SHR_I8: return ((const int8_t *)t->data)[i] != 0;
    case SHR_U8: return ((const uint8_t *)t->data)[i] != 0;
    case SHR_I4: return shr_i4_get((const uint8_t *)t->data, i) != 0;
    default: return 0;
    }
}

/* Linear and conv2d do work per weight; a sparse kernel skips the zeros. */
static int64_t effective_node_flops(const shr_graph *g, int k, int64_t dense) {
    const shr_node *n = &g->nodes[k];
    if ((n->op != SHR_OP_LINEAR && n->op != SHR_OP_CONV2D) || n->n_inputs < 2 || !has_data(g, n->inputs[1]))
        return dense;
    const shr_tensor *w = g->values[n->inputs[1]].data;
    if (w->numel == 0) return dense;
    double density = (double)shr_tensor_count_nonzero(w) / (double)w->numel;
    return (int64_t)llround((double)dense * density);
}

void shr_layer_metrics_compute(const shr_graph *g, int node, shr_layer_metrics *out) {
    const shr_node *n = &g->nodes[node];
    *out = (shr_layer_metrics){.dtype = SHR_F32};
    for (int i = 0; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (!has_data(g, v)) continue;
        const shr_tensor *t = g->values[v].data;
        out->weight_bytes += (int64_t)t->nbytes;
        if (g->values[v].kind != SHR_VALUE_PARAM) continue;
        if (!out->has_weight) out->dtype = t->dtype;
        out->has_weight = 1;
        out->params += t->numel;
        out->nonzero += shr_tensor_count_nonzero(t);
    }
    out->flops = shr_node_flops(g, node);
    out->effective_flops = effective_node_flops(g, node, out->flops);
}

void shr_model_metrics_compute(const shr_graph *g, shr_model_metrics *out) {
    *out = (shr_model_metrics){0};
    out->params = shr_graph_param_count(g);
    out->nonzero_params = shr_graph_nonzero_count(g);
    out->flops = shr_graph_flops(g);
    for (int i = 0; i < g->n_values; i++)
        if (has_data(g, i)) out->weight_bytes += (int64_t)g->values[i].data->nbytes;
    for (int k = 0; k < g->n_nodes; k++) {
        int64_t e = effective_node_flops(g, k, shr_node_flops(g, k));
        out->effective_flops = e > INT64_MAX - out->effective_flops ? INT64_MAX : out->effective_flops + e;
    }
}

shr_status shr_weight_density_grid(const shr_tensor *w, int max_rows, int max_cols, float *grid, int *rows,
                                   int *cols) {
    if (!w || w->ndim < 1 || max_rows < 1 || max_cols < 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "density grid: need a tensor of rank >= 1 and a grid of at least 1x1");
    int64_t n_out = w->shape[0], n_in = w->ndim >= 2 ? w->shape[1] : 1;
    if (n_out < 1 || n_in < 1 || w->numel < 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "density grid: the tensor is empty");
    int64_t inner = w->numel / (n_out * n_in);
    int r = n_out < max_rows ? (int)n_out : max_rows, c = n_in < max_cols ? (int)n_in : max_cols;
    int64_t *nz = calloc((size_t)r * (size_t)c * 2, sizeof *nz), *tot = nz + (size_t)r * (size_t)c;
    if (!nz) return shr_fail(SHR_ERR_NOMEM, "density grid: out of memory");
    for (int64_t o = 0; o < n_out; o++)
        for (int64_t i = 0; i < n_in; i++) {
            size_t cell = (size_t)(o * r / n_out) * (size_t)c + (size_t)(i * c / n_in);
            int64_t base = (o * n_in + i) * inner;
            for (int64_t k = 0; k < inner; k++) nz[cell] += elem_nonzero(w, base + k);
            tot[cell] += inner;
        }
    for (size_t k = 0; k < (size_t)r * (size_t)c; k++) grid[k] = tot[k] ? (float)nz[k] / (float)tot[k] : NAN;
    free(nz);
    *rows = r;
    *cols = c;
    return SHR_OK;
}

void shr_pareto_mark(const double *cost, const double *gain, int n, int *optimal) {
    for (int i = 0; i < n; i++) {
        optimal[i] = !isnan(cost[i]) && !isnan(gain[i]);
        for (int j = 0; j < n && optimal[i]; j++) {
            if (j == i || isnan(cost[j]) || isnan(gain[j])) continue;
            int no_worse = cost[j] <= cost[i] && gain[j] >= gain[i];
            int better = cost[j] < cost[i] || gain[j] > gain[i];
            if (no_worse && better) optimal[i] = 0;
        }
    }
}
