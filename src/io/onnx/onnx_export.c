/* ONNX export driver and builder: graph -> ModelProto (opset 13, IR 7, the
 * batch as the symbolic dim "batch"), packed with protobuf-c and written
 * atomically. Also encodes single tensors (test data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_export.h"
#include "nn/op.h"
#include "shrink/shrink.h"

static void *xcalloc(ex_ctx *c, size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) c->nomem = 1;
    return p;
}

static char *xstrdup(ex_ctx *c, const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) c->nomem = 1;
    return d;
}

/* Grows *arr (of *n pointers, capacity *cap) by one slot; 0 on failure. */
static int grow(ex_ctx *c, void ***arr, size_t n, size_t *cap) {
    if (n < *cap) return 1;
    size_t nc = *cap ? 2 * *cap : 16;
    void **a = realloc(*arr, nc * sizeof *a);
    if (!a) {
        c->nomem = 1;
        return 0;
    }
    *arr = a;
    *cap = nc;
    return 1;
}

/* Records name as taken; the string is kept in c->owned. */
static const char *take_name(ex_ctx *c, const char *name) {
    if (c->n_owned == c->cap_owned) {
        int cap = c->cap_owned ? 2 * c->cap_owned : 64;
        char **o = realloc(c->owned, (size_t)cap * sizeof *o);
        if (!o) {
            c->nomem = 1;
            return "";
        }
        c->owned = o;
        c->cap_owned = cap;
    }
    char *s = xstrdup(c, name);
    if (!s) return "";
    c->owned[c->n_owned++] = s;
    if (ox_map_put(c->names, s, 1) != SHR_OK) c->nomem = 1;
    return s;
}

const char *ex_fresh(ex_ctx *c, const char *base) {
    char buf[300];
    do snprintf(buf, sizeof buf, "%.200s_%d", base, ++c->counter);
    while (ox_map_get(c->names, buf) >= 0);
    return take_name(c, buf);
}

static Onnx__TensorProto *new_tensor(ex_ctx *c, const char *name, int type, int ndim, const int64_t *shape,
                                     const void *data, size_t bytes) {
    Onnx__TensorProto *t = xcalloc(c, 1, sizeof *t);
    if (!t) return NULL;
    onnx__tensor_proto__init(t);
    t->name = xstrdup(c, name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = xcalloc(c, (size_t)ndim, sizeof *t->dims);
    if (t->dims && ndim) memcpy(t->dims, shape, (size_t)ndim * sizeof *t->dims);
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = xcalloc(c, bytes, 1);
    if (t->raw_data.data && bytes) memcpy(t->raw_data.data, data, bytes); /* little-endian host (.shrk asserts it too) */
    return t;
}

static void add_init(ex_ctx *c, Onnx__TensorProto *t) {
    if (!t || !grow(c, (void ***)&c->graph->initializer, c->graph->n_initializer, &c->cap_init)) return;
    c->graph->initializer[c->graph->n_initializer++] = t;
}

const char *ex_in(ex_ctx *c, int v) {
    const shr_value *val = &c->g->values[v];
    if ((val->kind == SHR_VALUE_PARAM || val->kind == SHR_VALUE_BUFFER) && !c->emitted[v]) {
        c->emitted[v] = 1; /* integer tensors are written by the QDQ emitter, never here */
        if (val->data->dtype != SHR_F32) c->not_f32 = v + 1;
        add_init(c, new_tensor(c, val->name, 1, val->ndim, val->shape, val->data->data, val->data->nbytes));
    }
    return val->name;
}

const char *ex_const_raw(ex_ctx *c, const char *name, int exact, int type, int ndim, const int64_t *shape,
                         const void *data, size_t bytes) {
    const char *n = exact ? name : ex_fresh(c, name);
    add_init(c, new_tensor(c, n, type, ndim, shape, data, bytes));
    return n;
}

const char *ex_const_i64(ex_ctx *c, const char *hint, int count, const int64_t *v) {
    const char *name = ex_fresh(c, hint);
    int64_t n = count;
    add_init(c, new_tensor(c, name, 7, 1, &n, v, (size_t)count * sizeof *v));
    return name;
}

const char *ex_const_f32(ex_ctx *c, const char *hint, int ndim, const int64_t *shape, const float *v) {
    const char *name = ex_fresh(c, hint);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= shape[d];
    add_init(c, new_tensor(c, name, 1, ndim, shape, v, (size_t)numel * sizeof *v));
    return name;
}

const char *ex_const_scalar(ex_ctx *c, const char *hint, int type, const void *v, size_t bytes) {
    const char *name = ex_fresh(c, hint);
    add_init(c, new_tensor(c, name, type, 0, NULL, v, bytes));
    return name;
}

Onnx__NodeProto *ex_node(ex_ctx *c, const char *op, int n_in, const char *const *ins, const char *out) {
    Onnx__NodeProto *n = xcalloc(c, 1, sizeof *n);
    if (!n || !grow(c, (void ***)&c->graph->node, c->graph->n_node, &c->cap_node)) {
        free(n);
        return NULL;
    }
    onnx__node_proto__init(n);
    c->graph->node[c->graph->n_node++] = n;
    n->op_type = xstrdup(c, op);
    n->name = xstrdup(c, out);
    n->n_input = (size_t)n_in;
    n->input = xcalloc(c, (size_t)n_in, sizeof *n->input);
    for (int i = 0; n->input && i < n_in; i++) n->input[i] = xstrdup(c, ins[i]);
    n->n_output = 1;
    n->output = xcalloc(c, 1, sizeof *n->output);
    if (n->output) n->output[0] = xstrdup(c, out);
    return n;
}

static Onnx__AttributeProto *new_attr(ex_ctx *c, Onnx__NodeProto *n, const char *name, int type) {
    if (!n) return NULL;
    Onnx__AttributeProto *a = xcalloc(c, 1, sizeof *a);
    size_t cap = n->n_attribute; /* arrays are exact-size: grow by one */
    Onnx__AttributeProto **arr = a ? realloc(n->attribute, (cap + 1) * sizeof *arr) : NULL;
    if (!arr) {
        free(a);
        c->nomem = 1;
        return NULL;
    }
    onnx__attribute_proto__init(a);
    n->attribute = arr;
    n->attribute[n->n_attribute++] = a;
    a->name = xstrdup(c, name);
    a->has_type = 1;
    a->type = type;
    return a;
}

void ex_attr_i(ex_ctx *c, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void ex_attr_f(ex_ctx *c, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

void ex_attr_ints(ex_ctx *c, Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = new_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a) return;
    a->ints = xcalloc(c, (size_t)count, sizeof *a->ints);
    if (!a->ints) return;
    memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n_ints = (size_t)count;
}

void ex_attr_s(ex_ctx *c, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = new_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (!a) return;
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)xstrdup(c, v);
}

shr_status ex_unsupported(ex_ctx *c, const char *why) {
    const shr_node *n = c->node;
    return shr_fail(SHR_ERR_UNSUPPORTED, "cannot export node '%s' (%s) to ONNX: %s", n ? n->name : "?",
                    n ? shr_op_name(n->op) : "?", why);
}

/* A float tensor value info with the batch as the symbolic dim "batch". */
static Onnx__ValueInfoProto *value_info(ex_ctx *c, const shr_value *v) {
    Onnx__ValueInfoProto *vi = xcalloc(c, 1, sizeof *vi);
    Onnx__TypeProto *tp = xcalloc(c, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = xcalloc(c, 1, sizeof *tt);
    Onnx__TensorShapeProto *sh = xcalloc(c, 1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = xcalloc(c, (size_t)v->ndim, sizeof *dims);
    if (!vi || !tp || !tt || !sh || !dims) {
        free(vi), free(tp), free(tt), free(sh), free(dims);
        return NULL;
    }
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    vi->name = xstrdup(c, v->name);
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = 1;
    tt->shape = sh;
    sh->dim = dims;
    for (int d = 0; d < v->ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dim = xcalloc(c, 1, sizeof *dim);
        if (!dim) break;
        onnx__tensor_shape_proto__dimension__init(dim);
        if (v->shape[d] < 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = xstrdup(c, "batch");
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = v->shape[d];
        }
        dims[sh->n_dim++] = dim;
    }
    return vi;
}

static shr_status build(ex_ctx *c, Onnx__ModelProto *m) {
    const shr_graph *g = c->g;
    SHR_TRY(shr_graph_validate(g));
    m->has_ir_version = 1;
    m->ir_version = EX_IR_VERSION;
    m->producer_name = xstrdup(c, "shrink");
    m->producer_version = xstrdup(c, SHRINK_VERSION);
    m->opset_import = xcalloc(c, 1, sizeof *m->opset_import);
    Onnx__OperatorSetIdProto *os = xcalloc(c, 1, sizeof *os);
    if (!m->opset_import || !os) {
        free(os);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    onnx__operator_set_id_proto__init(os);
    os->domain = xstrdup(c, "");
    os->has_version = 1;
    os->version = EX_OPSET;
    m->opset_import[m->n_opset_import++] = os;
    c->graph = m->graph = xcalloc(c, 1, sizeof *m->graph);
    if (!m->graph) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    onnx__graph_proto__init(c->graph);
    c->graph->name = xstrdup(c, "shrink");
    for (int v = 0; v < g->n_values; v++) take_name(c, g->values[v].name);
    c->graph->input = xcalloc(c, 1, sizeof *c->graph->input);
    c->graph->output = xcalloc(c, 1, sizeof *c->graph->output);
    if (c->graph->input && (c->graph->input[0] = value_info(c, &g->values[g->input]))) c->graph->n_input = 1;
    if (c->graph->output && (c->graph->output[0] = value_info(c, &g->values[g->output]))) c->graph->n_output = 1;
    for (int k = 0; k < g->n_nodes && !c->nomem; k++) {
        c->node = &g->nodes[k];
        SHR_TRY(ex_emit_node(c, k));
        if (c->not_f32)
            return ex_unsupported(c, "an integer tensor read by a float op has no ONNX form here");
    }
    SHR_TRY(ex_metadata(c, m));
    return c->nomem ? shr_fail(SHR_ERR_NOMEM, "out of memory building the ONNX model") : SHR_OK;
}

shr_status shr_onnx_export_memory(const shr_graph *g, void **buf, size_t *size) {
    if (!g || !buf || !size) return shr_fail(SHR_ERR_INVALID_ARG, "shr_onnx_export_memory: NULL argument");
    ex_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    Onnx__ModelProto *m = calloc(1, sizeof *m);
    c.emitted = calloc((size_t)g->n_values + 1, 1);
    c.dq = calloc((size_t)g->n_values + 1, sizeof *c.dq);
    c.scalar = calloc((size_t)g->n_values + 1, sizeof *c.scalar);
    shr_status st = (m && c.emitted && c.dq && c.scalar) ? ox_map_create(&c.names) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (m) onnx__model_proto__init(m);
    if (st == SHR_OK) st = build(&c, m);
    if (st == SHR_OK) {
        size_t n = onnx__model_proto__get_packed_size(m);
        *buf = malloc(n ? n : 1);
        if (!*buf) st = shr_fail(SHR_ERR_NOMEM, "out of memory packing the ONNX model");
        else *size = onnx__model_proto__pack(m, *buf);
    }
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    for (int i = 0; i < c.n_owned; i++) free(c.owned[i]);
    free(c.owned);
    free(c.emitted);
    free(c.dq);
    free(c.scalar);
    ox_map_free(c.names);
    return st;
}

shr_status shr_onnx_export(const shr_graph *g, const char *path) {
    void *buf = NULL;
    size_t size = 0;
    SHR_TRY(shr_onnx_export_memory(g, &buf, &size));
    shr_status st = shr_write_file_atomic(path, buf, size);
    free(buf);
    return st;
}

shr_status shr_onnx_tensor_encode(const shr_tensor *t, const char *name, void **buf, size_t *size) {
    if (!t || t->dtype != SHR_F32 || !buf || !size)
        return shr_fail(SHR_ERR_INVALID_ARG, "shr_onnx_tensor_encode: needs an f32 tensor");
    ex_ctx c;
    memset(&c, 0, sizeof c);
    Onnx__TensorProto *tp = new_tensor(&c, name ? name : "", 1, t->ndim, t->shape, t->data, t->nbytes);
    shr_status st = c.nomem ? shr_fail(SHR_ERR_NOMEM, "out of memory") : SHR_OK;
    if (st == SHR_OK) {
        size_t n = onnx__tensor_proto__get_packed_size(tp);
        if (!(*buf = malloc(n ? n : 1))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        else *size = onnx__tensor_proto__pack(tp, *buf);
    }
    if (tp) onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}
