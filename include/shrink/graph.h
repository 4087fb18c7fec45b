/* The shrink model: a DAG of nodes over named values. Every part of shrink
 * (training, compression passes, runtime, file I/O) reads and writes this type.
 *
 * Values are the model input, trainable parameters, non-trained buffers (e.g.
 * BatchNorm running statistics) and activations. Activation shapes include the
 * batch as dimension 0, stored as -1 (dynamic). Nodes are kept in topological
 * order: every node's inputs are produced by earlier nodes or are params /
 * buffers / the model input. Each node has exactly one output value.
 *
 * Input conventions per op (optional inputs are -1):
 *   LINEAR    [x (N,in), W (out,in), b (out) optional]          y = x W^T + b
 *   CONV2D    [x (N,C,H,W), W (OC, C/groups, KH, KW), b (OC) optional]
 *   BATCHNORM [x (N,C) or (N,C,H,W), gamma (C), beta (C), running_mean (C), running_var (C)]
 *   ADD       [a, b] same shape;  CONCAT [x0, x1, ...] along attrs.axis (1 = channels)
 *   all others [x]
 */
#ifndef SHRINK_GRAPH_H
#define SHRINK_GRAPH_H

#include <stdint.h>
#include "shrink/status.h"
#include "shrink/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard limits: keep hostile files and specs from asking for absurd graphs. */
#define SHR_MAX_VALUES 100000
#define SHR_MAX_NODES 50000
#define SHR_MAX_NODE_INPUTS 1024
/* Elements in one PARAM/BUFFER tensor and in a whole arch-file network
 * (2^28 f32 = 1 GiB); the fuzz build lowers it. */
#ifndef SHR_MAX_PARAMS
#define SHR_MAX_PARAMS (1LL << 28)
#endif

typedef enum shr_op {
    SHR_OP_LINEAR = 0,
    SHR_OP_CONV2D,
    SHR_OP_BATCHNORM,
    SHR_OP_RELU,
    SHR_OP_RELU6,
    SHR_OP_LEAKY_RELU,
    SHR_OP_GELU,
    SHR_OP_SIGMOID,
    SHR_OP_TANH,
    SHR_OP_MAXPOOL2D,
    SHR_OP_AVGPOOL2D,
    SHR_OP_GLOBAL_AVGPOOL,
    SHR_OP_FLATTEN,
    SHR_OP_RESHAPE,
    SHR_OP_DROPOUT,
    SHR_OP_ADD,
    SHR_OP_CONCAT,
    SHR_OP_SOFTMAX,
    SHR_OP_LOG_SOFTMAX,
    /* Added for ONNX models (they keep the ONNX semantics). Element-wise, [x], any rank: */
    SHR_OP_ABS, SHR_OP_NEG, SHR_OP_EXP, SHR_OP_LOG, SHR_OP_SQRT, SHR_OP_RECIPROCAL,
    SHR_OP_SIN, SHR_OP_COS, SHR_OP_TAN, SHR_OP_ASIN, SHR_OP_ACOS, SHR_OP_ATAN,
    SHR_OP_SINH, SHR_OP_COSH, SHR_OP_ASINH, SHR_OP_ACOSH, SHR_OP_ATANH,
    SHR_OP_ERF, SHR_OP_CEIL, SHR_OP_FLOOR, SHR_OP_ROUND, SHR_OP_SIGN,
    SHR_OP_SOFTPLUS, SHR_OP_SOFTSIGN, SHR_OP_HARD_SWISH,
    SHR_OP_ELU,              /* attrs.alpha */
    SHR_OP_CELU,             /* attrs.alpha (nonzero) */
    SHR_OP_SELU,             /* attrs.alpha, attrs.eps = gamma */
    SHR_OP_HARD_SIGMOID,     /* max(0, min(1, alpha * x + eps)) */
    SHR_OP_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
    SHR_OP_SHRINK,           /* attrs.alpha = lambd, attrs.eps = bias */
    SHR_OP_CLIP,             /* min(max(x, alpha), eps); either may be infinite */
    /* Broadcasting binary ops [a, b] (numpy rules, aligned from the right): a is an
     * activation; b an activation of a's rank or a param/buffer that does not reach
     * the batch dim (or has 1 there). */
    SHR_OP_ADD_BCAST, SHR_OP_SUB, SHR_OP_MUL, SHR_OP_DIV, SHR_OP_POW, SHR_OP_MAX, SHR_OP_MIN,
    SHR_OP_PRELU, /* a > 0 ? a : a * b */
    /* Reductions over the axes attrs.shape[0..attrs.ndim) (never 0, the batch);
     * attrs.count_include_pad = keepdims. */
    SHR_OP_REDUCE_SUM, SHR_OP_REDUCE_MEAN, SHR_OP_REDUCE_MAX, SHR_OP_REDUCE_MIN, SHR_OP_REDUCE_PROD,
    SHR_OP_REDUCE_L1, SHR_OP_REDUCE_L2, SHR_OP_REDUCE_SUM_SQUARE, SHR_OP_REDUCE_LOG_SUM, SHR_OP_REDUCE_LOG_SUM_EXP,
    SHR_OP_TRANSPOSE,   /* y dim d = x dim perm[d]; perm = attrs.shape[0..attrs.ndim), perm[0] = 0 */
    SHR_OP_PAD,         /* last two dims by attrs.pad (top, left, bottom, right); attrs.groups: 0 constant
                           (value attrs.alpha), 1 reflect, 2 edge */
    SHR_OP_GATHER,      /* [x, indices (buffer of integral values)] along attrs.axis */
    SHR_OP_MATMUL,      /* [a (N, ..., M, K), b (..., K, P) param or (N, ..., K, P) activation, bias (P) optional] */
    SHR_OP_BATCH_CONST, /* [x, c (param/buffer)]: every sample of y is c (x gives only the batch size) */
    /* Quantization (docs/quant.md). Codes are u8/i8/i16 activations: real = scale * (q - zero_point),
     * scale an f32 buffer [1], zero_point a buffer [1] whose dtype is the codes' dtype. Ops that
     * write codes clamp them to [attrs.alpha, attrs.eps] (integers: the type range, narrowed by a
     * fused ReLU/ReLU6 or 7-bit codes). Rank-4 codes are channels-last (N, H, W, C).
     * attrs.momentum = -1 on qlinear / qconv2d / qavgpool2d: 8-bit codes are requantized with a
     * float32 multiplier as ONNX Runtime does; any other value: gemmlowp fixed point. */
    SHR_OP_QUANTIZE,    /* [x f32, scale, zero_point] -> codes; attrs.ndim/shape: optional perm as TRANSPOSE
                           (0, 2, 3, 1) = NCHW -> NHWC */
    SHR_OP_DEQUANTIZE,  /* [q codes, scale, zero_point] -> f32; optional perm (0, 3, 1, 2) = NHWC -> NCHW */
    SHR_OP_QLINEAR,     /* [x codes, x_scale, x_zp, W (out, in) i8|i16, w_scale (out) or (1), bias (out) i32 or -1,
                           y_scale, y_zp] -> codes; y_scale = y_zp = -1: f32 out */
    SHR_OP_QCONV2D,     /* like QLINEAR, x (N, H, W, C), W (OC, KH, KW, C/groups), conv attrs -> (N, OH, OW, OC) */
    SHR_OP_QADD,        /* [a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp] codes of one dtype -> codes */
    SHR_OP_QMAXPOOL2D,  /* [x codes (N, H, W, C)], pool attrs -> same codes */
    SHR_OP_QAVGPOOL2D,  /* [x codes (N, H, W, C), scale, zero_point], pool attrs (kernel = H, W: global) -> same
                           scale and zero point */
    SHR_OP_QFLATTEN,    /* [x codes] -> (N, rest) */
    SHR_OP_QCLAMP,      /* [x codes] -> codes clamped (a ReLU / ReLU6 that could not be fused) */
    SHR_OP_WLINEAR,     /* weight-only: [x f32 (N, in), W (out, in) i8 | i4, scale (out) or (out, groups) f32 or
                           u8 codes, zero (out, groups) i8 or -1, bias f32 or -1, row scales f32 (out) with u8
                           codes]; attrs.groups = group size (i4) */
    SHR_OP_DLINEAR,     /* dynamic range: [x f32, W (out, in) i8, w_scale (out) or (1), bias f32 or -1]; x is
                           quantized per batch to u8, 7-bit codes (attrs.kernel[0] = 8: 8-bit) */
    SHR_OP_FAKE_QUANT,  /* [x f32, scale (1) param (LSQ) or buffer, zero_point f32 buffer (1), range (2) buffer
                           optional: an EMA observer in training, attrs.momentum]: y = s * (clamp(round(x / s) + z,
                           alpha, eps) - z); straight-through gradient */
    SHR_OP_SPLINEAR,    /* sparse quantized Linear: [x f32 (N, in), w (bytes) u8 param: the shared-codebook
                           non-zeros and their gaps (quant/sparse_code.c), bias f32 (out) or -1] -> f32 */
    SHR_OP_COUNT
} shr_op;

/* Lower-case op name ("linear", "conv2d", "batchnorm", "relu", ...). */
const char *shr_op_name(shr_op op);
shr_status shr_op_parse(const char *name, shr_op *out);

/* Attributes of a node; each op reads the fields it needs (see comments). */
typedef struct shr_attrs {
    int kernel[2];   /* conv2d, pools: KH, KW */
    int stride[2];   /* conv2d, pools: SH, SW (0 is read as 1) */
    int pad[4];      /* conv2d, pools: top, left, bottom, right */
    int dilation[2]; /* conv2d (0 is read as 1) */
    int groups;      /* conv2d (0 is read as 1); groups == C == OC is depthwise */
    float alpha;     /* leaky_relu: negative slope; dropout: drop probability */
    float eps;       /* batchnorm (0 is read as 1e-5) */
    float momentum;  /* batchnorm running-stat update (0 is read as 0.1) */
    int axis;        /* concat / softmax / log_softmax (negative counts from the end) */
    int count_include_pad; /* avgpool2d */
    int ndim;              /* reshape: target rank, batch dim excluded */
    int64_t shape[SHR_MAX_DIMS]; /* reshape: per-sample target shape, one -1 allowed */
} shr_attrs;

typedef enum shr_value_kind {
    SHR_VALUE_INPUT = 0, /* model input (batch dim dynamic) */
    SHR_VALUE_PARAM,     /* trainable parameter, has data */
    SHR_VALUE_BUFFER,    /* stored but not trained (running stats), has data */
    SHR_VALUE_ACT        /* activation produced by a node */
} shr_value_kind;

typedef struct shr_value {
    char *name;
    shr_value_kind kind;
    int ndim;
    int64_t shape[SHR_MAX_DIMS]; /* INPUT/ACT: shape[0] == -1 is the batch */
    shr_tensor *data;            /* PARAM/BUFFER: f32 tensor of this shape; else NULL */
    int producer;                /* ACT: index of the producing node; else -1 */
} shr_value;

typedef struct shr_node {
    char *name;
    shr_op op;
    shr_attrs attrs;
    int n_inputs;
    int *inputs; /* value indices; -1 for an absent optional input */
    int output;  /* value index */
} shr_node;

/* How raw data is turned into the model input: x = (raw * scale - mean[c]) / std[c].
 * Stored in the model file so every command feeds the model what it expects. */
#define SHR_MAX_CHANNELS 4
typedef struct shr_preproc {
    float scale; /* e.g. 1/255 for 8-bit pixels */
    int channels;
    float mean[SHR_MAX_CHANNELS];
    float std[SHR_MAX_CHANNELS];
} shr_preproc;

typedef struct shr_graph {
    shr_value *values;
    int n_values, cap_values;
    shr_node *nodes;
    int n_nodes, cap_nodes;
    int input;  /* value index of the model input */
    int output; /* value index of the model output (logits) */
    shr_preproc preproc;
    char *arch;    /* the zoo name or arch-file text the model came from (may be NULL) */
    char *lineage; /* how the model was made, one step per line (may be NULL) */
} shr_graph;

shr_status shr_graph_create(shr_graph **out);
void shr_graph_free(shr_graph *g); /* NULL is a no-op */
shr_status shr_graph_clone(shr_graph **out, const shr_graph *g);

/* Adds the model input; sample_shape excludes the batch (e.g. {1, 28, 28}). */
shr_status shr_graph_add_input(shr_graph *g, const char *name, int ndim, const int64_t *sample_shape, int *out_value);
/* Adds a zero-filled f32 PARAM or BUFFER value. */
shr_status shr_graph_add_tensor(shr_graph *g, const char *name, shr_value_kind kind, int ndim, const int64_t *shape,
                                int *out_value);
/* Appends a node; checks inputs, infers the output shape and creates the output
 * activation value (named like the node). Fails with a clear message if shapes
 * do not fit. */
shr_status shr_graph_add_node(shr_graph *g, const char *name, shr_op op, const shr_attrs *attrs, int n_inputs,
                              const int *inputs, int *out_value);
/* Checks everything a loaded or edited graph must satisfy: topological order,
 * index ranges, unique names, param shapes, output shapes by re-inference. */
shr_status shr_graph_validate(const shr_graph *g);
/* Index of the value with this name, or -1. */
int shr_graph_find_value(const shr_graph *g, const char *name);
int shr_graph_find_node(const shr_graph *g, const char *name);
/* Appends one line to the lineage record. */
shr_status shr_graph_add_lineage(shr_graph *g, const char *step);

/* Totals over PARAM and BUFFER values. params counts PARAM elements only
 * (like PyTorch's parameters()); nonzero counts non-zero PARAM elements. */
int64_t shr_graph_param_count(const shr_graph *g);
int64_t shr_graph_nonzero_count(const shr_graph *g);
/* Multiply-adds x2 per sample of one forward pass (dense). */
int64_t shr_graph_flops(const shr_graph *g);
int64_t shr_node_flops(const shr_graph *g, int node);

/* Default attributes (stride 1, dilation 1, groups 1, BN eps/momentum, ...). */
shr_attrs shr_attrs_default(void);

#ifdef __cplusplus
}
#endif
#endif
