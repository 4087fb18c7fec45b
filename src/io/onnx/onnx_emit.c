/* Helpers the per-op converters share: resolving inputs, turning constants
 * into params/buffers, adding shrink nodes with unique names, binding outputs,
 * and the mapping between ONNX axes/shapes and shrink's batch-first ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

ox_entry *ox_in(ox_ctx *c, const ox_node *n, int i) {
    if (i < 0 || (size_t)i >= n->n_input || !n->input[i] || !n->input[i][0]) return NULL;
    int e = ox_map_get(c->map, n->input[i]);
    return e >= 0 ? &c->entries[e] : NULL;
}

int ox_all_const(ox_ctx *c, const ox_node *n) {
    for (size_t i = 0; i < n->n_input; i++) {
        ox_entry *e = ox_in(c, n, (int)i);
        if (e && e->kind != OX_CONST) return 0;
    }
    return 1;
}

shr_status ox_in_act(ox_ctx *c, const ox_node *n, int i, int *value) {
    ox_entry *e = ox_in(c, n, i);
    if (!e) return ox_bad(c, "input %d is missing", i);
    if (e->kind != OX_ACT)
        return ox_unsupported(c, "input %d ('%s') is a constant where shrink needs a value computed from the model input",
                              i, e->name);
    *value = e->value;
    return SHR_OK;
}

shr_status ox_in_const(ox_ctx *c, const ox_node *n, int i, ox_const **out) {
    ox_entry *e = ox_in(c, n, i);
    if (!e) return ox_bad(c, "input %d is missing", i);
    if (e->kind != OX_CONST)
        return ox_unsupported(c, "input %d ('%s') must be a constant (known at import), but depends on the model input",
                              i, e->name);
    *out = e->c;
    return SHR_OK;
}

/* A name for a new shrink value: base if free, else base:k. */
static shr_status fresh_name(ox_ctx *c, const char *base, char *buf, size_t size) {
    if (!base || !base[0] || strlen(base) > 200) base = "onnx";
    if (ox_map_get(c->used, base) < 0 && shr_graph_find_value(c->g, base) < 0) {
        snprintf(buf, size, "%s", base);
        return SHR_OK;
    }
    for (int tries = 0; tries < 1000000; tries++) {
        snprintf(buf, size, "%s:%d", base, ++c->counter);
        if (ox_map_get(c->used, buf) < 0 && shr_graph_find_value(c->g, buf) < 0) return SHR_OK;
    }
    return shr_fail(SHR_ERR_INTERNAL, "no free value name for '%s'", base);
}

/* Records the name of value v as taken. */
static shr_status mark_used(ox_ctx *c, int v) { return ox_map_put(c->used, c->g->values[v].name, v); }

shr_status ox_const_value(ox_ctx *c, ox_const *k, int want_param, int ndim, const int64_t *shape, int *value) {
    if (ndim < 0 && k->value >= 0) {
        *value = k->value;
        return SHR_OK;
    }
    if (ox_const_has_batch(k)) return ox_unsupported(c, "a shape holding the batch size is used as data");
    int64_t numel;
    if (ndim < 0) {
        ndim = k->ndim;
        shape = k->shape;
    }
    SHR_TRY(shr_shape_numel(ndim, shape, &numel));
    if (numel != k->numel) return shr_fail(SHR_ERR_INTERNAL, "constant reshaped to a different size");
    char name[256];
    SHR_TRY(fresh_name(c, k->name ? k->name : "const", name, sizeof name));
    int v;
    SHR_TRY(shr_graph_add_tensor(c->g, name, want_param && k->trainable ? SHR_VALUE_PARAM : SHR_VALUE_BUFFER, ndim,
                                 shape, &v));
    float *dst = shr_f32(c->g->values[v].data);
    if (k->is_int) /* an integer operand of a float op (Pow's exponent): shrink computes in float */
        for (int64_t i = 0; i < numel; i++) dst[i] = (float)k->i[i];
    else
        memcpy(dst, k->f, (size_t)numel * sizeof(float));
    SHR_TRY(mark_used(c, v));
    if (ndim == k->ndim && shape == k->shape) k->value = v;
    *value = v;
    return SHR_OK;
}

shr_status ox_buffer(ox_ctx *c, const char *hint, int ndim, const int64_t *shape, const float *data, int *value) {
    char name[256];
    SHR_TRY(fresh_name(c, hint, name, sizeof name));
    SHR_TRY(shr_graph_add_tensor(c->g, name, SHR_VALUE_BUFFER, ndim, shape, value));
    memcpy(c->g->values[*value].data->data, data, c->g->values[*value].data->nbytes);
    return mark_used(c, *value);
}

static const char *out_name(const ox_node *n, int i) {
    return (i >= 0 && (size_t)i < n->n_output && n->output[i]) ? n->output[i] : "";
}

static shr_status emit_named(ox_ctx *c, const char *base, shr_op op, const shr_attrs *a, int n_in, const int *ins,
                             int *out) {
    char name[256];
    SHR_TRY(fresh_name(c, base, name, sizeof name));
    shr_attrs def = shr_attrs_default();
    shr_status st = shr_graph_add_node(c->g, name, op, a ? a : &def, n_in, ins, out);
    if (st == SHR_ERR_SHAPE || st == SHR_ERR_INVALID_ARG) {
        /* The converter checked the ONNX semantics: what is left is a case the
         * shrink op cannot express. */
        char msg[300];
        snprintf(msg, sizeof msg, "%s", shr_last_error());
        return ox_unsupported(c, "%s", msg);
    }
    SHR_TRY(st);
    return mark_used(c, *out);
}

shr_status ox_emit(ox_ctx *c, const ox_node *n, shr_op op, const shr_attrs *a, int n_in, const int *ins, int *out) {
    char base[256];
    snprintf(base, sizeof base, "%s/%s", out_name(n, 0)[0] ? out_name(n, 0) : "node", shr_op_name(op));
    return emit_named(c, base, op, a, n_in, ins, out);
}

shr_status ox_emit_out(ox_ctx *c, const ox_node *n, int i, shr_op op, const shr_attrs *a, int n_in, const int *ins) {
    int v;
    SHR_TRY(emit_named(c, out_name(n, i), op, a, n_in, ins, &v));
    return ox_out_act(c, n, i, v);
}

static shr_status bind(ox_ctx *c, const char *name, ox_kind kind, int value, ox_const *k) {
    if (!name[0]) {
        ox_const_free(k);
        return SHR_OK;
    }
    if (ox_map_get(c->map, name) >= 0) {
        ox_const_free(k);
        return ox_bad(c, "output '%s' is defined twice", name);
    }
    if (c->n_entries == c->cap_entries) {
        int cap = c->cap_entries ? c->cap_entries * 2 : 64;
        ox_entry *e = realloc(c->entries, (size_t)cap * sizeof *e);
        if (!e) {
            ox_const_free(k);
            return shr_fail(SHR_ERR_NOMEM, "out of memory");
        }
        c->entries = e;
        c->cap_entries = cap;
    }
    memset(&c->entries[c->n_entries], 0, sizeof c->entries[c->n_entries]);
    c->entries[c->n_entries] = (ox_entry){name, kind, value, k, {0, 0, 0, 0, 0}};
    SHR_TRY(ox_map_put(c->map, name, c->n_entries));
    c->n_entries++;
    return SHR_OK;
}

/* Gives value v (made by this conversion) the ONNX output name, so shrink's
 * layers read like the model's; the old name stays reserved. */
static shr_status rename_value(ox_ctx *c, int v, const char *name) {
    shr_value *val = &c->g->values[v];
    if (v < c->first_new_value || val->kind != SHR_VALUE_ACT || !strcmp(val->name, name) || strlen(name) > 200 ||
        ox_map_get(c->used, name) >= 0 || shr_graph_find_value(c->g, name) >= 0)
        return SHR_OK;
    if (c->n_dead == c->cap_dead) {
        int cap = c->cap_dead ? 2 * c->cap_dead : 16;
        char **d = realloc(c->dead, (size_t)cap * sizeof *d);
        if (!d) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        c->dead = d;
        c->cap_dead = cap;
    }
    char *vn = strdup(name), *nn = strdup(name);
    if (!vn || !nn) {
        free(vn);
        free(nn);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    c->dead[c->n_dead++] = val->name;
    val->name = vn;
    shr_node *node = &c->g->nodes[val->producer];
    free(node->name);
    node->name = nn;
    return mark_used(c, v);
}

shr_status ox_out_act(ox_ctx *c, const ox_node *n, int i, int value) {
    SHR_TRY(rename_value(c, value, out_name(n, i)));
    return bind(c, out_name(n, i), OX_ACT, value, NULL);
}

shr_status ox_out_const(ox_ctx *c, const ox_node *n, int i, ox_const *k) {
    if (k->numel > c->fold_budget) {
        ox_const_free(k);
        return shr_fail(SHR_ERR_LIMIT, "constants computed at import exceed %lld elements", (long long)OX_MAX_FOLD);
    }
    c->fold_budget -= k->numel;
    return bind(c, out_name(n, i), OX_CONST, -1, k);
}

shr_status ox_out_quant(ox_ctx *c, const ox_node *n, int i, int value, const ox_quant *q) {
    SHR_TRY(bind(c, out_name(n, i), OX_QUANT, value, NULL));
    if (out_name(n, i)[0]) c->entries[c->n_entries - 1].q = *q;
    return SHR_OK;
}

shr_status ox_out_alias(ox_ctx *c, const ox_node *n, int i, const ox_entry *e) {
    if (e->kind == OX_ACT) return ox_out_act(c, n, i, e->value);
    const ox_const *s = e->c;
    ox_const *k;
    SHR_TRY(ox_const_new(s->is_int, s->onnx_type, s->ndim, s->shape, &k));
    if (s->numel)
        memcpy(s->is_int ? (void *)k->i : (void *)k->f, s->is_int ? (void *)s->i : (void *)s->f,
               (size_t)s->numel * (s->is_int ? sizeof *s->i : sizeof *s->f));
    k->trainable = s->trainable;
    k->name = s->name;
    return ox_out_const(c, n, i, k);
}

shr_status ox_bind_const(ox_ctx *c, const char *name, ox_const *k) { return bind(c, name, OX_CONST, -1, k); }
shr_status ox_bind_act(ox_ctx *c, const char *name, int value) { return bind(c, name, OX_ACT, value, NULL); }

void ox_act_shape(const ox_ctx *c, int value, int *rank, int64_t *dims) {
    const shr_value *v = &c->g->values[value];
    *rank = v->ndim - c->lift;
    for (int d = 0; d < *rank; d++) dims[d] = v->shape[d + c->lift] < 0 ? OX_BATCH : v->shape[d + c->lift];
}

shr_status ox_axis(const ox_ctx *c, int64_t axis, int rank, int *shrink_axis) {
    if (axis < -rank || axis >= rank) return ox_bad(c, "axis %lld out of range for rank %d", (long long)axis, rank);
    int a = (int)(axis < 0 ? axis + rank : axis) + c->lift;
    if (a == 0) return ox_unsupported(c, "operates along dim 0, which is the batch in shrink");
    *shrink_axis = a;
    return SHR_OK;
}

shr_status ox_in_data(ox_ctx *c, const ox_node *n, int i, int *value) {
    ox_entry *e = ox_in(c, n, i);
    if (e && e->kind == OX_CONST && c->lift && !e->c->is_int && e->c->ndim + 1 <= SHR_MAX_DIMS) {
        int cv, ins[2];
        SHR_TRY(ox_const_value(c, e->c, 0, -1, NULL, &cv));
        ins[0] = c->g->input;
        ins[1] = cv;
        return ox_emit(c, n, SHR_OP_BATCH_CONST, NULL, 2, ins, value);
    }
    return ox_in_act(c, n, i, value);
}

shr_status ox_reshape(ox_ctx *c, const ox_node *n, int value, int rank, const int64_t *dims, int *out) {
    const shr_value *v = &c->g->values[value];
    const int from = c->lift ? 0 : 1; /* first per-sample ONNX dim */
    if (!c->lift && (rank < 1 || dims[0] != OX_BATCH))
        return ox_unsupported(c, "the result would not keep the batch in dim 0");
    int per = rank - from;
    if (per + 1 > SHR_MAX_DIMS) return ox_unsupported(c, "rank %d exceeds shrink's limit", rank);
    int same = per == v->ndim - 1;
    for (int d = 0; same && d < per; d++) same = dims[d + from] == v->shape[d + 1];
    if (same) {
        *out = value;
        return SHR_OK;
    }
    shr_attrs a = shr_attrs_default();
    if (per == 0) { /* (N, 1, ...) -> (N): sum over the size-1 dims */
        a.ndim = v->ndim - 1;
        for (int d = 1; d < v->ndim; d++) a.shape[d - 1] = d;
        a.count_include_pad = 0;
        return ox_emit(c, n, SHR_OP_REDUCE_SUM, &a, 1, &value, out);
    }
    a.ndim = per;
    for (int d = 0; d < per; d++) {
        if (dims[d + from] < 0) return ox_unsupported(c, "reshape to a shape with an unknown dim");
        a.shape[d] = dims[d + from];
    }
    return ox_emit(c, n, SHR_OP_RESHAPE, &a, 1, &value, out);
}
