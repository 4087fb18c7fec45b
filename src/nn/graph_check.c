/* Whole-graph validation (for loaded or edited graphs) and deep copies. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/exec.h"
#include "nn/op.h"
#include "shrink/graph.h"

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static shr_status check_unique_names(const shr_graph *g) {
    if (g->n_values == 0) return SHR_OK;
    const char **names = malloc((size_t)g->n_values * sizeof *names);
    if (!names) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_values; i++) names[i] = g->values[i].name;
    qsort(names, (size_t)g->n_values, sizeof *names, cmp_names);
    shr_status st = SHR_OK;
    for (int i = 1; i < g->n_values && st == SHR_OK; i++)
        if (strcmp(names[i], names[i - 1]) == 0) st = shr_fail(SHR_ERR_FORMAT, "duplicate value name '%s'", names[i]);
    free(names);
    return st;
}

/* Per-sample elements of an input or activation: the runtime sizes buffers with
 * this product and the kernels index with int, so it must fit one. */
static shr_status check_sample_size(const shr_value *v) {
    int64_t per = 1;
    for (int d = 1; d < v->ndim; d++)
        if (v->shape[d] < 0 || shr_mul_overflow_i64(per, v->shape[d], &per) || per > INT_MAX)
            return shr_fail(SHR_ERR_LIMIT, "value '%s': invalid shape or more than %d elements per sample", v->name,
                            INT_MAX);
    return SHR_OK;
}

static shr_status check_value(const shr_graph *g, int i) {
    const shr_value *v = &g->values[i];
    if (!v->name || !v->name[0]) return shr_fail(SHR_ERR_FORMAT, "value %d has no name", i);
    if (v->ndim < 0 || v->ndim > SHR_MAX_DIMS) return shr_fail(SHR_ERR_FORMAT, "value '%s': bad rank", v->name);
    switch (v->kind) {
    case SHR_VALUE_PARAM:
    case SHR_VALUE_BUFFER:
        if (!v->data) return shr_fail(SHR_ERR_FORMAT, "value '%s' has no data", v->name);
        if ((unsigned)v->data->dtype >= SHR_DTYPE_COUNT) return shr_fail(SHR_ERR_FORMAT, "value '%s': invalid dtype", v->name);
        SHR_TRY(shr_tensor_expect(v->data, v->ndim, v->shape, v->name));
        break;
    case SHR_VALUE_INPUT:
        if (i != g->input) return shr_fail(SHR_ERR_FORMAT, "value '%s' is an input but not the graph input", v->name);
        if (v->ndim < 2 || v->shape[0] != -1) return shr_fail(SHR_ERR_FORMAT, "input '%s' must have a batch dimension", v->name);
        for (int d = 1; d < v->ndim; d++)
            if (v->shape[d] <= 0) return shr_fail(SHR_ERR_FORMAT, "input '%s' has a non-positive dimension", v->name);
        if (v->data) return shr_fail(SHR_ERR_FORMAT, "input '%s' must not hold data", v->name);
        SHR_TRY(check_sample_size(v));
        break;
    case SHR_VALUE_ACT:
        if (v->producer < 0 || v->producer >= g->n_nodes || g->nodes[v->producer].output != i)
            return shr_fail(SHR_ERR_FORMAT, "activation '%s' has no producing node", v->name);
        if (v->data) return shr_fail(SHR_ERR_FORMAT, "activation '%s' must not hold data", v->name);
        SHR_TRY(check_sample_size(v));
        break;
    default: return shr_fail(SHR_ERR_FORMAT, "value '%s' has an unknown kind %d", v->name, (int)v->kind);
    }
    return SHR_OK;
}

/* Quantization ops check their inputs' dtypes in infer(); every other op computes in f32
 * and takes only f32 values (codes must be dequantized first). */
static int is_quant_op(shr_op op) {
    return op == SHR_OP_QUANTIZE || op == SHR_OP_DEQUANTIZE || op == SHR_OP_QLINEAR || op == SHR_OP_QCONV2D ||
           op == SHR_OP_QADD || op == SHR_OP_QMAXPOOL2D || op == SHR_OP_QAVGPOOL2D || op == SHR_OP_QFLATTEN ||
           op == SHR_OP_QCLAMP || op == SHR_OP_WLINEAR || op == SHR_OP_DLINEAR || op == SHR_OP_FAKE_QUANT ||
           op == SHR_OP_SPLINEAR;
}

static shr_status check_dtypes(const shr_graph *g, const shr_node *n) {
    if (is_quant_op(n->op)) return SHR_OK;
    for (int i = 0; i < n->n_inputs; i++) {
        if (n->inputs[i] < 0) continue;
        shr_dtype t = shr_value_dtype(g, n->inputs[i]);
        if (t != SHR_F32)
            return shr_fail(SHR_ERR_FORMAT, "node '%s' (%s): input '%s' is %s, this op takes f32 only", n->name,
                            shr_op_name(n->op), g->values[n->inputs[i]].name, shr_dtype_name(t));
    }
    return SHR_OK;
}

static shr_status check_node(const shr_graph *g, int k) {
    const shr_node *n = &g->nodes[k];
    const char *name = n->name ? n->name : "?";
    const shr_op_def *def = ((unsigned)n->op < SHR_OP_COUNT) ? shr_op_def_get(n->op) : NULL;
    if (!def) return shr_fail(SHR_ERR_UNSUPPORTED, "node '%s': unknown op %d", name, (int)n->op);
    if (n->n_inputs < def->min_inputs || (def->max_inputs >= 0 && n->n_inputs > def->max_inputs))
        return shr_fail(SHR_ERR_FORMAT, "node '%s' (%s): wrong number of inputs (%d)", name, def->name, n->n_inputs);
    for (int i = 0; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v == -1 && i >= def->min_inputs) continue;
        if (v < 0 || v >= g->n_values) return shr_fail(SHR_ERR_FORMAT, "node '%s': input %d out of range", name, i);
        if (g->values[v].kind == SHR_VALUE_ACT && g->values[v].producer >= k)
            return shr_fail(SHR_ERR_FORMAT, "node '%s': input '%s' is produced later (not topological)", name, g->values[v].name);
    }
    if (n->output < 0 || n->output >= g->n_values || g->values[n->output].kind != SHR_VALUE_ACT ||
        g->values[n->output].producer != k)
        return shr_fail(SHR_ERR_FORMAT, "node '%s': bad output", name);
    int ndim;
    int64_t shape[SHR_MAX_DIMS];
    SHR_TRY(shr_node_check_data_inputs(g, n));
    SHR_TRY(check_dtypes(g, n));
    SHR_TRY(def->infer(g, n, &ndim, shape));
    const shr_value *o = &g->values[n->output];
    int same = ndim == o->ndim;
    for (int d = 0; same && d < ndim; d++) same = shape[d] == o->shape[d];
    if (!same) return shr_fail(SHR_ERR_FORMAT, "node '%s': stored output shape differs from the inferred one", name);
    return SHR_OK;
}

shr_status shr_graph_validate(const shr_graph *g) {
    if (g->input < 0 || g->input >= g->n_values || g->values[g->input].kind != SHR_VALUE_INPUT)
        return shr_fail(SHR_ERR_FORMAT, "graph has no valid input");
    if (g->output < 0 || g->output >= g->n_values || g->values[g->output].kind != SHR_VALUE_ACT)
        return shr_fail(SHR_ERR_FORMAT, "graph has no valid output");
    for (int i = 0; i < g->n_values; i++) SHR_TRY(check_value(g, i));
    SHR_TRY(check_unique_names(g));
    for (int k = 0; k < g->n_nodes; k++) SHR_TRY(check_node(g, k));
    if (shr_value_dtype(g, g->output) != SHR_F32)
        return shr_fail(SHR_ERR_FORMAT, "graph output '%s' is %s codes, not f32 (dequantize it)",
                        g->values[g->output].name, shr_dtype_name(shr_value_dtype(g, g->output)));
    const shr_preproc *p = &g->preproc;
    if (p->channels < 1 || p->channels > SHR_MAX_CHANNELS || !(p->scale > 0.0f))
        return shr_fail(SHR_ERR_FORMAT, "invalid preprocessing record");
    for (int c = 0; c < p->channels; c++)
        if (!(p->std[c] > 0.0f) || p->mean[c] != p->mean[c]) return shr_fail(SHR_ERR_FORMAT, "invalid preprocessing std/mean");
    return SHR_OK;
}

static char *dup_or_null(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

shr_status shr_graph_clone(shr_graph **out, const shr_graph *g) {
    shr_graph *c = calloc(1, sizeof *c);
    if (!c) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    *c = *g;
    c->values = NULL;
    c->nodes = NULL;
    c->n_values = c->n_nodes = c->cap_values = c->cap_nodes = 0;
    c->arch = dup_or_null(g->arch);
    c->lineage = dup_or_null(g->lineage);
    c->values = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *c->values);
    c->nodes = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *c->nodes);
    if (!c->values || !c->nodes || (g->arch && !c->arch) || (g->lineage && !c->lineage)) goto nomem;
    c->cap_values = g->n_values ? g->n_values : 1;
    c->cap_nodes = g->n_nodes ? g->n_nodes : 1;
    for (int i = 0; i < g->n_values; i++) {
        shr_value *v = &c->values[i];
        *v = g->values[i];
        v->data = NULL;
        v->name = dup_or_null(g->values[i].name);
        c->n_values = i + 1;
        if (!v->name) goto nomem;
        if (g->values[i].data && shr_tensor_clone(&v->data, g->values[i].data) != SHR_OK) goto nomem;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        shr_node *n = &c->nodes[i];
        *n = g->nodes[i];
        n->name = dup_or_null(g->nodes[i].name);
        n->inputs = malloc((size_t)(n->n_inputs ? n->n_inputs : 1) * sizeof *n->inputs);
        c->n_nodes = i + 1;
        if (!n->name || !n->inputs) goto nomem;
        memcpy(n->inputs, g->nodes[i].inputs, (size_t)n->n_inputs * sizeof *n->inputs);
    }
    *out = c;
    return SHR_OK;
nomem:
    shr_graph_free(c);
    return shr_fail(SHR_ERR_NOMEM, "out of memory copying a graph");
}
