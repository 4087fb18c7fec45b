/* Test helper: builds small ONNX models in memory with the protobuf-c types
 * (every part malloc'ed, so onnx__model_proto__free_unpacked frees it all). */
#ifndef SHR_TEST_ONNX_BUILD_H
#define SHR_TEST_ONNX_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

static inline void *mb_alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort(); /* test code: out of memory is fatal */
    return p;
}

static inline char *mb_str(const char *s) {
    char *d = mb_alloc(strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

/* Appends p to the array *arr of *n pointers. */
static inline void mb_push(void ***arr, size_t *n, void *p) {
    void **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) abort();
    a[(*n)++] = p;
    *arr = a;
}

static inline Onnx__ModelProto *mb_model(int opset) {
    Onnx__ModelProto *m = mb_alloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = mb_str("test");
    Onnx__OperatorSetIdProto *os = mb_alloc(sizeof *os);
    onnx__operator_set_id_proto__init(os);
    os->domain = mb_str("");
    os->has_version = 1;
    os->version = opset;
    mb_push((void ***)&m->opset_import, &m->n_opset_import, os);
    m->graph = mb_alloc(sizeof *m->graph);
    onnx__graph_proto__init(m->graph);
    m->graph->name = mb_str("g");
    return m;
}

/* A float tensor value info; dims < 0 are the symbolic dim "N". */
static inline Onnx__ValueInfoProto *mb_value_info(const char *name, int elem, int rank, const int64_t *dims) {
    Onnx__ValueInfoProto *vi = mb_alloc(sizeof *vi);
    Onnx__TypeProto *tp = mb_alloc(sizeof *tp);
    Onnx__TypeProto__Tensor *tt = mb_alloc(sizeof *tt);
    Onnx__TensorShapeProto *sh = mb_alloc(sizeof *sh);
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    vi->name = mb_str(name);
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sh;
    for (int d = 0; d < rank; d++) {
        Onnx__TensorShapeProto__Dimension *dim = mb_alloc(sizeof *dim);
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] < 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = mb_str("N");
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
        }
        mb_push((void ***)&sh->dim, &sh->n_dim, dim);
    }
    return vi;
}

static inline void mb_input(Onnx__ModelProto *m, const char *name, int rank, const int64_t *dims) {
    mb_push((void ***)&m->graph->input, &m->graph->n_input, mb_value_info(name, 1, rank, dims));
}

static inline void mb_output(Onnx__ModelProto *m, const char *name) {
    mb_push((void ***)&m->graph->output, &m->graph->n_output, mb_value_info(name, 1, 0, NULL));
}

/* An initializer with raw little-endian data of `bytes` bytes. */
static inline Onnx__TensorProto *mb_init(Onnx__ModelProto *m, const char *name, int type, int ndim, const int64_t *dims,
                                         const void *data, size_t bytes) {
    Onnx__TensorProto *t = mb_alloc(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = mb_str(name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = mb_alloc((size_t)ndim * sizeof *t->dims);
    if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = mb_alloc(bytes);
    memcpy(t->raw_data.data, data, bytes);
    mb_push((void ***)&m->graph->initializer, &m->graph->n_initializer, t);
    return t;
}

static inline Onnx__NodeProto *mb_node(Onnx__ModelProto *m, const char *op, const char *name, int n_in,
                                       const char *const *ins, const char *out) {
    Onnx__NodeProto *n = mb_alloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = mb_str(op);
    n->name = mb_str(name);
    for (int i = 0; i < n_in; i++) mb_push((void ***)&n->input, &n->n_input, mb_str(ins[i]));
    mb_push((void ***)&n->output, &n->n_output, mb_str(out));
    mb_push((void ***)&m->graph->node, &m->graph->n_node, n);
    return n;
}

static inline Onnx__AttributeProto *mb_attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = mb_alloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = mb_str(name);
    a->has_type = 1;
    a->type = type;
    mb_push((void ***)&n->attribute, &n->n_attribute, a);
    return a;
}

static inline void mb_attr_int(Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static inline void mb_attr_float(Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static inline void mb_attr_ints(Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = mb_alloc((size_t)count * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n_ints = (size_t)count;
}

/* Serializes m into a malloc'ed buffer. */
static inline void *mb_pack(const Onnx__ModelProto *m, size_t *size) {
    *size = onnx__model_proto__get_packed_size(m);
    void *buf = mb_alloc(*size);
    onnx__model_proto__pack(m, buf);
    return buf;
}

static inline void mb_free(Onnx__ModelProto *m) { onnx__model_proto__free_unpacked(m, NULL); }

#endif
