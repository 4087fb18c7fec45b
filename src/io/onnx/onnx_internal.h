/* Internal: the ONNX importer's state and the helpers the per-op converters
 * (conv_*.c) share. The protobuf types come from onnx.pb-c.h, generated at
 * build time by protoc-c from Debian's onnx.proto.
 *
 * Import walks the ONNX nodes in topological order. Every ONNX tensor name maps
 * to an entry: an activation (a shrink value carrying the batch) or a host
 * constant (initializers, Constant nodes, and everything computed from
 * constants only, shapes included). Converters fold constant-only nodes and
 * turn the others into shrink nodes; constants become params or buffers only
 * when a shrink node takes them.
 *
 * Batch: in SHR_ONNX_BATCH_DIM0 mode ONNX dim 0 of the input is shrink's batch
 * and ONNX axis a is shrink axis a; Shape() of an activation yields the symbol
 * OX_BATCH in dim 0, which Reshape understands. In SHR_ONNX_BATCH_NONE mode the
 * whole ONNX input is one sample: shrink adds a batch dim in front (lift = 1)
 * and ONNX axis a is shrink axis a + 1. */
#ifndef SHR_IO_ONNX_INTERNAL_H
#define SHR_IO_ONNX_INTERNAL_H

#include <stdint.h>

#include "core/error.h"
#include "onnx.pb-c.h"
#include "shrink/graph.h"
#include "shrink/io.h"

/* An int64 shape element meaning "the batch size" (unknown until run time). */
#define OX_BATCH (INT64_MIN + 1)
/* Elements a folded constant may have (shape arithmetic, small tables). */
#define OX_MAX_FOLD ((int64_t)1 << 24)

typedef Onnx__NodeProto ox_node;

typedef struct ox_const {
    int is_int;     /* 1: integers (and bools) in i; 0: floating point in f */
    int onnx_type;  /* ONNX element type it has in the model */
    int ndim;
    int64_t shape[SHR_MAX_DIMS];
    int64_t numel;
    float *f;
    int64_t *i;
    int trainable;  /* from an initializer: becomes a PARAM where an op learns it */
    const char *name; /* initializer name (into the model message), or NULL */
    int value;      /* shrink value once materialized, else -1 */
} ox_const;

/* OX_QUANT: the integer output of QuantizeLinear on an activation; only a
 * DequantizeLinear may read it (the pair becomes one fake_quant). */
typedef enum ox_kind { OX_ACT = 1, OX_CONST = 2, OX_QUANT = 3 } ox_kind;

typedef struct ox_quant {
    float scale, zero;  /* per tensor */
    float lo, hi;       /* the integer type's range */
    int type;           /* ONNX element type of the codes */
} ox_quant;

typedef struct ox_entry {
    const char *name; /* points into the model message */
    ox_kind kind;
    int value;        /* OX_ACT, OX_QUANT: shrink value index (OX_QUANT: the float input) */
    ox_const *c;      /* OX_CONST */
    ox_quant q;       /* OX_QUANT */
} ox_entry;

typedef struct ox_map ox_map; /* name -> entry index (onnx_names.c) */

typedef struct ox_ctx {
    shr_graph *g;
    const Onnx__ModelProto *model;
    const char *base_dir; /* external data is read relative to this */
    int opset;
    int lift;             /* 1 in SHR_ONNX_BATCH_NONE mode */
    int64_t static_batch; /* the ONNX input's dim 0 when fixed (batch mode), else -1 */
    ox_entry *entries;
    int n_entries, cap_entries;
    ox_map *map;          /* ONNX name -> entry */
    ox_map *used;         /* names taken in the shrink graph */
    int counter;          /* for fresh names */
    const ox_node *node;  /* the node being converted (for messages) */
    int node_index;
    int64_t fold_budget;  /* folded elements left (hostile graphs cannot fold forever) */
    int first_new_value;  /* values from here on were made by the node being converted */
    char **dead;          /* value names replaced by renaming (still keys of `used`) */
    int n_dead, cap_dead;
} ox_ctx;

typedef shr_status (*ox_conv_fn)(ox_ctx *c, const ox_node *n);
typedef struct ox_op {
    const char *name;
    int min_opset; /* the earliest opset whose definition the converter implements */
    ox_conv_fn fn;
} ox_op;

/* Converter tables, one per conv_*.c. */
extern const ox_op ox_ops_const[], ox_ops_elem[], ox_ops_nn[], ox_ops_shape[], ox_ops_index[], ox_ops_norm[],
    ox_ops_quant[], ox_ops_resize[];
extern const int ox_ops_const_n, ox_ops_elem_n, ox_ops_nn_n, ox_ops_shape_n, ox_ops_index_n, ox_ops_norm_n,
    ox_ops_quant_n, ox_ops_resize_n;

/* ---- onnx_names.c ---- */
shr_status ox_map_create(ox_map **out);
void ox_map_free(ox_map *m);
/* -1 if absent. */
int ox_map_get(const ox_map *m, const char *name);
shr_status ox_map_put(ox_map *m, const char *name, int value);

/* ---- onnx_tensor.c ---- */
void ox_const_free(ox_const *k);
/* A new zero-filled constant (float or int) of the given shape. */
shr_status ox_const_new(int is_int, int onnx_type, int ndim, const int64_t *shape, ox_const **out);
/* Decodes a TensorProto (inline or external data under base_dir). Float types
 * become float, integer and bool types int64; others are unsupported. */
shr_status ox_const_from_tensor(const Onnx__TensorProto *t, const char *base_dir, ox_const **out);
/* Element e as double / int64 (either storage). */
double ox_const_get_f(const ox_const *k, int64_t e);
int64_t ox_const_get_i(const ox_const *k, int64_t e);
/* 1 if any element is the OX_BATCH symbol. */
int ox_const_has_batch(const ox_const *k);

/* ---- onnx_attr.c: typed attribute access; a wrong type is a format error ---- */
const Onnx__AttributeProto *ox_attr(const ox_node *n, const char *name);
shr_status ox_attr_int(const ox_node *n, const char *name, int64_t def, int64_t *out);
shr_status ox_attr_float(const ox_node *n, const char *name, float def, float *out);
/* Copies up to max ints; *count = -1 when absent. */
shr_status ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int max, int *count);
/* Into buf ("" when absent). */
shr_status ox_attr_string(const ox_node *n, const char *name, char *buf, size_t size);
/* Fails with SHR_ERR_UNSUPPORTED naming the node and attribute. */
shr_status ox_unsupported(const ox_ctx *c, const char *fmt, ...) SHR_PRINTF(2, 3);
/* Fails with SHR_ERR_FORMAT naming the node. */
shr_status ox_bad(const ox_ctx *c, const char *fmt, ...) SHR_PRINTF(2, 3);

/* ---- onnx_emit.c: helpers for converters ---- */
/* Input i of n, or NULL when absent (past the end or an empty name). */
ox_entry *ox_in(ox_ctx *c, const ox_node *n, int i);
/* Input i as an activation value / as a constant; anything else is an error. */
shr_status ox_in_act(ox_ctx *c, const ox_node *n, int i, int *value);
shr_status ox_in_const(ox_ctx *c, const ox_node *n, int i, ox_const **out);
/* Number of inputs present, and 1 if every present input is a constant. */
int ox_all_const(ox_ctx *c, const ox_node *n);
/* The shrink value for a float constant: a PARAM if want_param and it came
 * from an initializer, else a BUFFER. Made once per constant; with ndim >= 0 a
 * new value of that shape (same element count) instead. */
shr_status ox_const_value(ox_ctx *c, ox_const *k, int want_param, int ndim, const int64_t *shape, int *value);
/* An activation for input i: activations as they are; in SHR_ONNX_BATCH_NONE
 * mode a float constant becomes one through batch_const. */
shr_status ox_in_data(ox_ctx *c, const ox_node *n, int i, int *value);
/* A fresh BUFFER from float data (copied). */
shr_status ox_buffer(ox_ctx *c, const char *hint, int ndim, const int64_t *shape, const float *data, int *value);
/* Adds a shrink node for an intermediate result (a fresh name based on n's output 0). */
shr_status ox_emit(ox_ctx *c, const ox_node *n, shr_op op, const shr_attrs *a, int n_in, const int *ins, int *out);
/* Adds the shrink node that computes output i of n (named like it) and binds it. */
shr_status ox_emit_out(ox_ctx *c, const ox_node *n, int i, shr_op op, const shr_attrs *a, int n_in, const int *ins);
/* Binds output i of n to an activation / a constant (the constant is owned by the context after). */
shr_status ox_out_act(ox_ctx *c, const ox_node *n, int i, int value);
shr_status ox_out_const(ox_ctx *c, const ox_node *n, int i, ox_const *k);
/* Binds output i of n to what e holds (constants are copied). */
shr_status ox_out_alias(ox_ctx *c, const ox_node *n, int i, const ox_entry *e);
/* Binds output i of n to quantized codes of activation value (QuantizeLinear). */
shr_status ox_out_quant(ox_ctx *c, const ox_node *n, int i, int value, const ox_quant *q);
/* Binds a graph-level name (initializer, input) to a constant / an activation. */
shr_status ox_bind_const(ox_ctx *c, const char *name, ox_const *k);
shr_status ox_bind_act(ox_ctx *c, const char *name, int value);
/* The ONNX view of an activation's shape: rank and dims (OX_BATCH for the batch). */
void ox_act_shape(const ox_ctx *c, int value, int *rank, int64_t *dims);
/* Normalizes ONNX axis (negative from the end) for rank; to the shrink axis
 * (+lift). Out of range is a format error; the batch axis is unsupported. */
shr_status ox_axis(const ox_ctx *c, int64_t axis, int rank, int *shrink_axis);
/* Reshapes an activation to ONNX dims (dims[0] OX_BATCH in batch mode; the
 * batch cannot move). Returns the same value when nothing changes. */
shr_status ox_reshape(ox_ctx *c, const ox_node *n, int value, int rank, const int64_t *dims, int *out);

/* ---- conv_elem.c ---- */
/* y = a op b (numpy broadcasting) for ONNX op name `on` ("Add", ...) and the shrink
 * op; either operand may be a constant. final: emit as output 0 of n (then *out = -1). */
shr_status ox_binary(ox_ctx *c, const ox_node *n, const char *on, shr_op op, ox_entry *a, ox_entry *b, int final,
                     int *out);

/* ---- folding helpers (conv_const.c) ---- */
/* y = f(a, b) with numpy broadcasting on constants, for Add/Sub/Mul/Div/Pow/Max/Min... */
shr_status ox_fold_binary(ox_ctx *c, const char *op, const ox_const *a, const ox_const *b, ox_const **out);

/* ---- onnx_meta.c ---- */
/* The input preprocessing stored in the model's metadata_props (shrink.normalize,
 * shrink.pixel_scale) into *p; keys that are absent leave *p as it is. */
shr_status ox_read_metadata(const Onnx__ModelProto *m, shr_preproc *p);

#endif
