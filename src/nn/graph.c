/* Graph construction, lookup and validation. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/op.h"
#include "shrink/graph.h"

shr_attrs shr_attrs_default(void) {
    shr_attrs a;
    memset(&a, 0, sizeof a);
    a.stride[0] = a.stride[1] = 1;
    a.dilation[0] = a.dilation[1] = 1;
    a.groups = 1;
    a.eps = 1e-5f;
    a.momentum = 0.1f;
    a.axis = 1;
    return a;
}

shr_status shr_graph_create(shr_graph **out) {
    shr_graph *g = calloc(1, sizeof *g);
    if (!g) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating a graph");
    g->input = -1;
    g->output = -1;
    g->preproc.scale = 1.0f;
    g->preproc.channels = 1;
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) g->preproc.std[c] = 1.0f;
    *out = g;
    return SHR_OK;
}

void shr_graph_free(shr_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        shr_tensor_free(g->values[i].data);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].inputs);
    }
    free(g->values);
    free(g->nodes);
    free(g->arch);
    free(g->lineage);
    free(g);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static shr_status check_name(const shr_graph *g, const char *name) {
    if (!name || !name[0]) return shr_fail(SHR_ERR_INVALID_ARG, "empty value name");
    if (strlen(name) > 255) return shr_fail(SHR_ERR_LIMIT, "name longer than 255 characters");
    if (shr_graph_find_value(g, name) >= 0)
        return shr_fail(SHR_ERR_INVALID_ARG, "duplicate value name '%s'", name);
    return SHR_OK;
}

static shr_status new_value(shr_graph *g, const char *name, shr_value_kind kind, int ndim, const int64_t *shape,
                            int *out) {
    SHR_TRY(check_name(g, name));
    if (ndim < 0 || ndim > SHR_MAX_DIMS) return shr_fail(SHR_ERR_SHAPE, "'%s': rank %d out of range", name, ndim);
    if (g->n_values >= SHR_MAX_VALUES) return shr_fail(SHR_ERR_LIMIT, "too many values (max %d)", SHR_MAX_VALUES);
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 16;
        shr_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) return shr_fail(SHR_ERR_NOMEM, "out of memory growing the value table");
        g->values = v;
        g->cap_values = cap;
    }
    shr_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    v->kind = kind;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    v->producer = -1;
    *out = g->n_values++;
    return SHR_OK;
}

shr_status shr_graph_add_input(shr_graph *g, const char *name, int ndim, const int64_t *sample_shape, int *out_value) {
    if (g->input >= 0) return shr_fail(SHR_ERR_INVALID_ARG, "graph already has an input");
    if (ndim < 1 || ndim + 1 > SHR_MAX_DIMS) return shr_fail(SHR_ERR_SHAPE, "input rank %d out of range", ndim);
    int64_t shape[SHR_MAX_DIMS];
    shape[0] = -1;
    for (int i = 0; i < ndim; i++) {
        if (sample_shape[i] <= 0) return shr_fail(SHR_ERR_SHAPE, "input dimension %d must be positive", i);
        shape[i + 1] = sample_shape[i];
    }
    int64_t n;
    SHR_TRY(shr_shape_numel(ndim, sample_shape, &n));
    int idx;
    SHR_TRY(new_value(g, name, SHR_VALUE_INPUT, ndim + 1, shape, &idx));
    g->input = idx;
    if (out_value) *out_value = idx;
    return SHR_OK;
}

shr_status shr_graph_add_tensor(shr_graph *g, const char *name, shr_value_kind kind, int ndim, const int64_t *shape,
                                int *out_value) {
    if (kind != SHR_VALUE_PARAM && kind != SHR_VALUE_BUFFER)
        return shr_fail(SHR_ERR_INVALID_ARG, "'%s': only params and buffers hold data", name);
    int64_t numel;
    SHR_TRY(shr_shape_numel(ndim, shape, &numel));
    if (numel > SHR_MAX_PARAMS)
        return shr_fail(SHR_ERR_LIMIT, "'%s': %lld elements exceed the limit of %lld per tensor", name,
                        (long long)numel, (long long)SHR_MAX_PARAMS);
    shr_tensor *t;
    SHR_TRY(shr_tensor_create(&t, SHR_F32, ndim, shape));
    int idx;
    shr_status st = new_value(g, name, kind, ndim, shape, &idx);
    if (st != SHR_OK) {
        shr_tensor_free(t);
        return st;
    }
    g->values[idx].data = t;
    if (out_value) *out_value = idx;
    return SHR_OK;
}

/* Data inputs (input 0 of every op, all inputs of add/concat) must carry the
 * batch: a parameter wired in as data would make the runtime write rows it
 * never allocated. */
shr_status shr_node_check_data_inputs(const shr_graph *g, const shr_node *n) {
    int all = n->op == SHR_OP_ADD || n->op == SHR_OP_CONCAT;
    for (int i = 0; i < (all ? n->n_inputs : 1) && i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v < 0 || v >= g->n_values) continue; /* range errors are reported elsewhere */
        const shr_value *x = &g->values[v];
        if ((x->kind != SHR_VALUE_INPUT && x->kind != SHR_VALUE_ACT) || x->ndim < 1 || x->shape[0] != -1)
            return shr_fail(SHR_ERR_SHAPE, "node '%s' (%s): input '%s' has no batch dimension (not an activation)",
                            n->name ? n->name : "?", shr_op_name(n->op), x->name);
    }
    return SHR_OK;
}

shr_status shr_graph_add_node(shr_graph *g, const char *name, shr_op op, const shr_attrs *attrs, int n_inputs,
                              const int *inputs, int *out_value) {
    const shr_op_def *def = shr_op_def_get(op);
    if (!def) return shr_fail(SHR_ERR_UNSUPPORTED, "node '%s': op %d is not available", name, (int)op);
    if (n_inputs < def->min_inputs || (def->max_inputs >= 0 && n_inputs > def->max_inputs) ||
        n_inputs > SHR_MAX_NODE_INPUTS)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (%s): %d inputs given, expected %d..%d", name, def->name,
                        n_inputs, def->min_inputs, def->max_inputs);
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] >= g->n_values || inputs[i] < -1 || (inputs[i] == -1 && i < def->min_inputs))
            return shr_fail(SHR_ERR_INVALID_ARG, "node '%s': input %d refers to no value", name, i);
    }
    if (g->n_nodes >= SHR_MAX_NODES) return shr_fail(SHR_ERR_LIMIT, "too many nodes (max %d)", SHR_MAX_NODES);
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
        shr_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return shr_fail(SHR_ERR_NOMEM, "out of memory growing the node table");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    shr_node node;
    memset(&node, 0, sizeof node);
    node.op = op;
    node.attrs = attrs ? *attrs : shr_attrs_default();
    node.n_inputs = n_inputs;
    node.output = -1;
    node.name = dup_str(name ? name : "");
    node.inputs = malloc((size_t)(n_inputs ? n_inputs : 1) * sizeof *node.inputs);
    if (!node.name || !node.inputs) {
        free(node.name);
        free(node.inputs);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    memcpy(node.inputs, inputs, (size_t)n_inputs * sizeof *inputs);

    int ndim = 0;
    int64_t shape[SHR_MAX_DIMS];
    shr_status st = shr_node_check_data_inputs(g, &node);
    if (st == SHR_OK) st = def->infer(g, &node, &ndim, shape);
    int idx = -1;
    if (st == SHR_OK) st = new_value(g, node.name, SHR_VALUE_ACT, ndim, shape, &idx);
    if (st != SHR_OK) {
        free(node.name);
        free(node.inputs);
        return st;
    }
    node.output = idx;
    g->values[idx].producer = g->n_nodes;
    g->nodes[g->n_nodes++] = node;
    g->output = idx;
    if (out_value) *out_value = idx;
    return SHR_OK;
}

int shr_graph_find_value(const shr_graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

int shr_graph_find_node(const shr_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

shr_status shr_graph_add_lineage(shr_graph *g, const char *step) {
    /* One step per line: a newline inside would split it into two steps. */
    if (!step || !step[0] || strpbrk(step, "\r\n"))
        return shr_fail(SHR_ERR_INVALID_ARG, "lineage: a step must be one non-empty line");
    size_t old = g->lineage ? strlen(g->lineage) : 0, add = strlen(step);
    char *s = realloc(g->lineage, old + add + 2);
    if (!s) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    memcpy(s + old, step, add);
    s[old + add] = '\n';
    s[old + add + 1] = '\0';
    g->lineage = s;
    return SHR_OK;
}

int64_t shr_graph_param_count(const shr_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == SHR_VALUE_PARAM && g->values[i].data) n += g->values[i].data->numel;
    return n;
}

int64_t shr_graph_nonzero_count(const shr_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == SHR_VALUE_PARAM && g->values[i].data) n += shr_tensor_count_nonzero(g->values[i].data);
    return n;
}

int64_t shr_node_flops(const shr_graph *g, int node) {
    const shr_op_def *def = shr_op_def_get(g->nodes[node].op);
    return (def && def->flops) ? def->flops(g, &g->nodes[node]) : 0;
}

/* Saturates at INT64_MAX: each node's count fits (shape inference bounds it),
 * but a loaded graph can hold many huge-window pools side by side. */
int64_t shr_graph_flops(const shr_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (shr_add_overflow_i64(n, shr_node_flops(g, i), &n)) return INT64_MAX;
    return n;
}
