/* Internal: the ONNX exporter's builder, shared by the driver (onnx_export.c)
 * and the per-op emitters (onnx_export_ops.c).
 *
 * Every shrink value has one ONNX name (its own). Params and buffers become
 * initializers the first time a node reads them, through ex_in(): the single
 * place float tensors enter the graph. Integer ops (quantize output) are written
 * by onnx_export_q.c in QDQ form: weights as int8 codes + DequantizeLinear,
 * activations as QuantizeLinear / DequantizeLinear pairs.
 * All message memory is malloc'ed, so onnx__model_proto__free_unpacked frees
 * the whole tree. */
#ifndef SHR_IO_ONNX_EXPORT_H
#define SHR_IO_ONNX_EXPORT_H

#include "io/onnx/onnx_internal.h"

#define EX_OPSET 13
#define EX_IR_VERSION 7

typedef struct ex_ctx {
    const shr_graph *g;
    Onnx__GraphProto *graph;
    size_t cap_node, cap_init;
    unsigned char *emitted; /* per value: its initializer exists */
    ox_map *names;          /* ONNX names taken (keys in `owned`) */
    char **owned;
    int n_owned, cap_owned;
    int counter;
    int nomem;              /* an allocation failed somewhere: the export fails */
    int not_f32;            /* 1 + a non-f32 param / buffer a float op read */
    const shr_node *node;   /* being emitted, for messages */
    const char **dq;        /* per codes value: the name of its f32 form (QDQ export) */
    const char **scalar;    /* per scale / zero point buffer: its ONNX scalar */
} ex_ctx;

/* The ONNX name of value v as an input (makes the initializer of a param/buffer). */
const char *ex_in(ex_ctx *c, int v);
/* A new unique name "<base>_<k>" for an intermediate tensor. */
const char *ex_fresh(ex_ctx *c, const char *base);
/* Appends a node; ins may hold "" for an absent optional input. NULL on no memory. */
Onnx__NodeProto *ex_node(ex_ctx *c, const char *op, int n_in, const char *const *ins, const char *out);
void ex_attr_i(ex_ctx *c, Onnx__NodeProto *n, const char *name, int64_t v);
void ex_attr_f(ex_ctx *c, Onnx__NodeProto *n, const char *name, float v);
void ex_attr_ints(ex_ctx *c, Onnx__NodeProto *n, const char *name, int count, const int64_t *v);
void ex_attr_s(ex_ctx *c, Onnx__NodeProto *n, const char *name, const char *v);
/* New initializers: an int64 vector, a float tensor. Return their names. */
const char *ex_const_i64(ex_ctx *c, const char *hint, int count, const int64_t *v);
const char *ex_const_f32(ex_ctx *c, const char *hint, int ndim, const int64_t *shape, const float *v);
/* An initializer of ONNX element type `type` named `name` (exact) or "<name>_<k>" (!exact). */
const char *ex_const_raw(ex_ctx *c, const char *name, int exact, int type, int ndim, const int64_t *shape,
                         const void *data, size_t bytes);
/* A scalar initializer of ONNX element type `type` from `bytes` little-endian bytes. */
const char *ex_const_scalar(ex_ctx *c, const char *hint, int type, const void *v, size_t bytes);
/* Fails with SHR_ERR_UNSUPPORTED naming the node being exported. */
shr_status ex_unsupported(ex_ctx *c, const char *why);

/* onnx_export_ops.c: the ONNX nodes for shrink node k; kernel_shape, strides, pads (and
 * dilations) of a conv / pool. */
shr_status ex_emit_node(ex_ctx *c, int k);
void ex_window(ex_ctx *c, Onnx__NodeProto *o, const shr_attrs *a, int dilations);
/* onnx_export_q.c: the QDQ form of an integer op (qconv2d, qlinear, quantize, ...). */
shr_status ex_emit_qnode(ex_ctx *c, const shr_node *n);
/* onnx_meta.c: metadata_props of the model (input preprocessing) and reading them back. */
shr_status ex_metadata(ex_ctx *c, Onnx__ModelProto *m);

#endif
