/* The ONNX form of each shrink op (opset 13). Most map to one ONNX node; relu6
 * and clip become Clip with constant bounds, gelu its erf formula, hard_swish
 * x * HardSigmoid(x) (HardSwish needs opset 14), matmul's bias an Add, and
 * batch_const an Expand of the constant to (batch, ...), fake_quant a
 * QuantizeLinear/DequantizeLinear pair. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_export.h"

typedef struct ex_map {
    shr_op op;
    const char *onnx;
} ex_map;

static const ex_map simple[] = {
    {SHR_OP_ABS, "Abs"},     {SHR_OP_NEG, "Neg"},         {SHR_OP_EXP, "Exp"},           {SHR_OP_LOG, "Log"},
    {SHR_OP_SQRT, "Sqrt"},   {SHR_OP_RECIPROCAL, "Reciprocal"}, {SHR_OP_SIN, "Sin"},     {SHR_OP_COS, "Cos"},
    {SHR_OP_TAN, "Tan"},     {SHR_OP_ASIN, "Asin"},       {SHR_OP_ACOS, "Acos"},         {SHR_OP_ATAN, "Atan"},
    {SHR_OP_SINH, "Sinh"},   {SHR_OP_COSH, "Cosh"},       {SHR_OP_ASINH, "Asinh"},       {SHR_OP_ACOSH, "Acosh"},
    {SHR_OP_ATANH, "Atanh"}, {SHR_OP_ERF, "Erf"},         {SHR_OP_CEIL, "Ceil"},         {SHR_OP_FLOOR, "Floor"},
    {SHR_OP_ROUND, "Round"}, {SHR_OP_SIGN, "Sign"},       {SHR_OP_SOFTPLUS, "Softplus"}, {SHR_OP_SOFTSIGN, "Softsign"},
    {SHR_OP_RELU, "Relu"},   {SHR_OP_SIGMOID, "Sigmoid"}, {SHR_OP_TANH, "Tanh"},         {SHR_OP_DROPOUT, "Identity"},
    {SHR_OP_GLOBAL_AVGPOOL, "GlobalAveragePool"},         {SHR_OP_ADD, "Add"},           {SHR_OP_ADD_BCAST, "Add"},
    {SHR_OP_SUB, "Sub"},     {SHR_OP_MUL, "Mul"},         {SHR_OP_DIV, "Div"},           {SHR_OP_POW, "Pow"},
    {SHR_OP_MAX, "Max"},     {SHR_OP_MIN, "Min"},         {SHR_OP_PRELU, "PRelu"},
};

static const ex_map reduces[] = {
    {SHR_OP_REDUCE_SUM, "ReduceSum"},   {SHR_OP_REDUCE_MEAN, "ReduceMean"}, {SHR_OP_REDUCE_MAX, "ReduceMax"},
    {SHR_OP_REDUCE_MIN, "ReduceMin"},   {SHR_OP_REDUCE_PROD, "ReduceProd"}, {SHR_OP_REDUCE_L1, "ReduceL1"},
    {SHR_OP_REDUCE_L2, "ReduceL2"},     {SHR_OP_REDUCE_SUM_SQUARE, "ReduceSumSquare"},
    {SHR_OP_REDUCE_LOG_SUM, "ReduceLogSum"}, {SHR_OP_REDUCE_LOG_SUM_EXP, "ReduceLogSumExp"},
};

static const char *find(const ex_map *m, size_t n, shr_op op) {
    for (size_t i = 0; i < n; i++)
        if (m[i].op == op) return m[i].onnx;
    return NULL;
}

static const char *scalar(ex_ctx *c, const char *hint, float v) { return ex_const_f32(c, hint, 0, NULL, &v); }

/* kernel_shape, strides, pads (and dilations) of conv / pools. */
void ex_window(ex_ctx *c, Onnx__NodeProto *o, const shr_attrs *a, int dilations) {
    int64_t k[2] = {a->kernel[0], a->kernel[1]}, s[2] = {a->stride[0] ? a->stride[0] : 1, a->stride[1] ? a->stride[1] : 1};
    int64_t p[4] = {a->pad[0], a->pad[1], a->pad[2], a->pad[3]}; /* shrink and ONNX agree: t, l, b, r */
    int64_t d[2] = {a->dilation[0] ? a->dilation[0] : 1, a->dilation[1] ? a->dilation[1] : 1};
    ex_attr_ints(c, o, "kernel_shape", 2, k);
    ex_attr_ints(c, o, "strides", 2, s);
    ex_attr_ints(c, o, "pads", 4, p);
    if (dilations) ex_attr_ints(c, o, "dilations", 2, d);
}

static shr_status emit_param_unary(ex_ctx *c, const shr_node *n, const char *x, const char *out) {
    const shr_attrs *a = &n->attrs;
    Onnx__NodeProto *o = NULL;
    switch (n->op) {
    case SHR_OP_LEAKY_RELU:
        o = ex_node(c, "LeakyRelu", 1, &x, out);
        ex_attr_f(c, o, "alpha", a->alpha == 0.0f ? 0.01f : a->alpha);
        break;
    case SHR_OP_ELU: ex_attr_f(c, o = ex_node(c, "Elu", 1, &x, out), "alpha", a->alpha); break;
    case SHR_OP_CELU: ex_attr_f(c, o = ex_node(c, "Celu", 1, &x, out), "alpha", a->alpha); break;
    case SHR_OP_THRESHOLDED_RELU: ex_attr_f(c, o = ex_node(c, "ThresholdedRelu", 1, &x, out), "alpha", a->alpha); break;
    case SHR_OP_SELU:
        o = ex_node(c, "Selu", 1, &x, out);
        ex_attr_f(c, o, "alpha", a->alpha);
        ex_attr_f(c, o, "gamma", a->eps);
        break;
    case SHR_OP_HARD_SIGMOID:
        o = ex_node(c, "HardSigmoid", 1, &x, out);
        ex_attr_f(c, o, "alpha", a->alpha);
        ex_attr_f(c, o, "beta", a->eps);
        break;
    case SHR_OP_SHRINK:
        o = ex_node(c, "Shrink", 1, &x, out);
        ex_attr_f(c, o, "lambd", a->alpha);
        ex_attr_f(c, o, "bias", a->eps);
        break;
    case SHR_OP_HARD_SWISH: {
        const char *hs = ex_fresh(c, out);
        o = ex_node(c, "HardSigmoid", 1, &x, hs);
        ex_attr_f(c, o, "alpha", 1.0f / 6.0f);
        ex_attr_f(c, o, "beta", 0.5f);
        ex_node(c, "Mul", 2, (const char *[]){x, hs}, out);
        break;
    }
    case SHR_OP_RELU6:
    case SHR_OP_CLIP: {
        float lo = n->op == SHR_OP_RELU6 ? 0.0f : a->alpha, hi = n->op == SHR_OP_RELU6 ? 6.0f : a->eps;
        const char *ins[3] = {x, isinf(lo) ? "" : scalar(c, "clip_min", lo), isinf(hi) ? "" : scalar(c, "clip_max", hi)};
        ex_node(c, "Clip", 3, ins, out);
        break;
    }
    case SHR_OP_GELU: { /* x * 0.5 * (1 + erf(x / sqrt(2))), like PyTorch's export */
        const char *t1 = ex_fresh(c, out), *t2 = ex_fresh(c, out), *t3 = ex_fresh(c, out), *t4 = ex_fresh(c, out);
        ex_node(c, "Div", 2, (const char *[]){x, scalar(c, "sqrt2", 1.41421356237309515f)}, t1);
        ex_node(c, "Erf", 1, &t1, t2);
        ex_node(c, "Add", 2, (const char *[]){t2, scalar(c, "one", 1.0f)}, t3);
        ex_node(c, "Mul", 2, (const char *[]){x, t3}, t4);
        ex_node(c, "Mul", 2, (const char *[]){t4, scalar(c, "half", 0.5f)}, out);
        break;
    }
    default:
        return ex_unsupported(c, "no ONNX form in opset 13");
    }
    return SHR_OK;
}

/* fake_quant as QuantizeLinear + DequantizeLinear (uint8 for codes in 0..255,
 * int8 for -128..127), after a Clip when its code range is narrower. */
static shr_status emit_fake_quant(ex_ctx *c, const shr_node *n, const char *out) {
    const shr_graph *g = c->g;
    const float lo = n->attrs.alpha, hi = n->attrs.eps;
    const float s = shr_f32(g->values[n->inputs[1]].data)[0], z = shr_f32(g->values[n->inputs[2]].data)[0];
    const int u8 = lo >= 0.0f && hi <= 255.0f, i8 = lo >= -128.0f && hi <= 127.0f;
    if (!u8 && !i8) return ex_unsupported(c, "codes wider than 8 bits");
    const char *x = ex_in(c, n->inputs[0]);
    if (lo > (u8 ? 0.0f : -128.0f) || hi < (u8 ? 255.0f : 127.0f)) {
        const char *clipped = ex_fresh(c, out);
        ex_node(c, "Clip", 3, (const char *[]){x, scalar(c, "fq_min", s * (lo - z)), scalar(c, "fq_max", s * (hi - z))}, clipped);
        x = clipped;
    }
    const uint8_t zu = (uint8_t)z;
    const int8_t zi = (int8_t)z;
    const char *sc = scalar(c, "fq_scale", s), *zp = ex_const_scalar(c, "fq_zero_point", u8 ? 2 : 3, u8 ? (const void *)&zu : (const void *)&zi, 1);
    const char *q = ex_fresh(c, out);
    ex_node(c, "QuantizeLinear", 3, (const char *[]){x, sc, zp}, q);
    ex_node(c, "DequantizeLinear", 3, (const char *[]){q, sc, zp}, out);
    return SHR_OK;
}

static shr_status emit_reduce(ex_ctx *c, const shr_node *n, const char *x, const char *out, const char *op) {
    int64_t axes[SHR_MAX_DIMS];
    for (int i = 0; i < n->attrs.ndim; i++) axes[i] = n->attrs.shape[i];
    Onnx__NodeProto *o;
    if (n->op == SHR_OP_REDUCE_SUM) /* opset 13 moved ReduceSum's axes to an input */
        o = ex_node(c, op, 2, (const char *[]){x, ex_const_i64(c, "axes", n->attrs.ndim, axes)}, out);
    else {
        o = ex_node(c, op, 1, &x, out);
        ex_attr_ints(c, o, "axes", n->attrs.ndim, axes);
    }
    ex_attr_i(c, o, "keepdims", n->attrs.count_include_pad);
    return SHR_OK;
}

static shr_status emit_layout(ex_ctx *c, const shr_node *n, const char *x, const char *out) {
    const shr_graph *g = c->g;
    const shr_attrs *a = &n->attrs;
    const shr_value *y = &g->values[n->output], *xv = &g->values[n->inputs[0]];
    Onnx__NodeProto *o;
    int64_t v[2 * SHR_MAX_DIMS];
    switch (n->op) {
    case SHR_OP_FLATTEN: ex_attr_i(c, ex_node(c, "Flatten", 1, &x, out), "axis", 1); break;
    case SHR_OP_RESHAPE: /* 0 copies the batch; the other dims as resolved */
        v[0] = 0;
        for (int d = 1; d < y->ndim; d++) v[d] = y->shape[d];
        ex_node(c, "Reshape", 2, (const char *[]){x, ex_const_i64(c, "shape", y->ndim, v)}, out);
        break;
    case SHR_OP_TRANSPOSE:
        for (int d = 0; d < a->ndim; d++) v[d] = a->shape[d];
        ex_attr_ints(c, ex_node(c, "Transpose", 1, &x, out), "perm", a->ndim, v);
        break;
    case SHR_OP_PAD: {
        const int r = xv->ndim;
        memset(v, 0, sizeof v);
        v[r - 2] = a->pad[0];
        v[r - 1] = a->pad[1];
        v[2 * r - 2] = a->pad[2];
        v[2 * r - 1] = a->pad[3];
        const char *ins[3] = {x, ex_const_i64(c, "pads", 2 * r, v), a->groups == 0 ? scalar(c, "pad_value", a->alpha) : ""};
        o = ex_node(c, "Pad", a->groups == 0 ? 3 : 2, ins, out);
        ex_attr_s(c, o, "mode", a->groups == 1 ? "reflect" : a->groups == 2 ? "edge" : "constant");
        break;
    }
    case SHR_OP_GATHER: {
        const shr_value *iv = &g->values[n->inputs[1]];
        int64_t cnt = iv->data->numel;
        int64_t *idx = calloc((size_t)(cnt ? cnt : 1), sizeof *idx);
        if (!idx) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < cnt; i++) idx[i] = (int64_t)shr_f32(iv->data)[i];
        const char *iname = ex_fresh(c, iv->name);
        /* The indices keep the buffer's shape: an int64 initializer of it. */
        const char *flat = ex_const_i64(c, iname, (int)cnt, idx);
        free(idx);
        if (iv->ndim != 1) {
            int64_t sh[SHR_MAX_DIMS];
            for (int d = 0; d < iv->ndim; d++) sh[d] = iv->shape[d];
            const char *shaped = ex_fresh(c, iname);
            ex_node(c, "Reshape", 2, (const char *[]){flat, ex_const_i64(c, "shape", iv->ndim, sh)}, shaped);
            flat = shaped;
        }
        int axis = a->axis < 0 ? a->axis + xv->ndim : a->axis;
        ex_attr_i(c, ex_node(c, "Gather", 2, (const char *[]){x, flat}, out), "axis", axis);
        break;
    }
    case SHR_OP_BATCH_CONST: { /* Expand(c with a leading 1, Concat(Shape(x)[0:1], c.shape)) */
        const shr_value *cv = &g->values[n->inputs[1]];
        int64_t sh[SHR_MAX_DIMS], zero = 0, one = 1;
        sh[0] = 1;
        for (int d = 0; d < cv->ndim; d++) sh[d + 1] = v[d] = cv->shape[d];
        const char *cst = ex_const_f32(c, cv->name, cv->ndim + 1, sh, shr_f32(cv->data));
        const char *shp = ex_fresh(c, out), *nb = ex_fresh(c, out), *tgt = ex_fresh(c, out);
        ex_node(c, "Shape", 1, &x, shp);
        ex_node(c, "Slice", 3, (const char *[]){shp, ex_const_i64(c, "zero", 1, &zero), ex_const_i64(c, "one", 1, &one)}, nb);
        const char *rest = cv->ndim ? ex_const_i64(c, "const_shape", cv->ndim, v) : NULL;
        if (rest) ex_attr_i(c, ex_node(c, "Concat", 2, (const char *[]){nb, rest}, tgt), "axis", 0);
        ex_node(c, "Expand", 2, (const char *[]){cst, rest ? tgt : nb}, out);
        break;
    }
    default: return ex_unsupported(c, "no ONNX form in opset 13");
    }
    return SHR_OK;
}

static shr_status emit(ex_ctx *c, const shr_node *n, const char **ins, const char *out);

shr_status ex_emit_node(ex_ctx *c, int k) {
    const shr_graph *g = c->g;
    const shr_node *n = &g->nodes[k];
    const char *out = g->values[n->output].name;
    const int n_in = n->n_inputs;
    if (n->op >= SHR_OP_QUANTIZE && n->op != SHR_OP_FAKE_QUANT) return ex_emit_qnode(c, n);
    const char **ins = calloc((size_t)n_in + 1, sizeof *ins);
    if (!ins) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    /* gather / batch_const write their constant input in their own form. */
    const int own = n->op == SHR_OP_GATHER || n->op == SHR_OP_BATCH_CONST || n->op == SHR_OP_FAKE_QUANT;
    for (int i = 0; i < n_in; i++) ins[i] = n->inputs[i] >= 0 && !(own && i >= 1) ? ex_in(c, n->inputs[i]) : "";
    shr_status st = emit(c, n, ins, out);
    free(ins);
    return st;
}

static shr_status emit(ex_ctx *c, const shr_node *n, const char **ins, const char *out) {
    const shr_graph *g = c->g;
    const shr_attrs *a = &n->attrs;
    const int n_in = n->n_inputs;
    const char *x = n_in > 0 ? ins[0] : "";
    const char *op = find(simple, sizeof simple / sizeof simple[0], n->op);
    if (n->op == SHR_OP_PRELU) {
        const shr_value *xv = &g->values[n->inputs[0]], *y = &g->values[n->output];
        for (int d = 0; d < y->ndim; d++)
            if (xv->shape[d] != y->shape[d]) return ex_unsupported(c, "PRelu whose slope widens the input");
    }
    if (op) {
        ex_node(c, op, n_in, ins, out);
        return SHR_OK;
    }
    if ((op = find(reduces, sizeof reduces / sizeof reduces[0], n->op))) return emit_reduce(c, n, x, out, op);
    Onnx__NodeProto *o;
    switch (n->op) {
    case SHR_OP_LINEAR: ex_attr_i(c, ex_node(c, "Gemm", n_in, ins, out), "transB", 1); return SHR_OK;
    case SHR_OP_CONV2D:
        o = ex_node(c, "Conv", n_in, ins, out);
        ex_window(c, o, a, 1);
        ex_attr_i(c, o, "group", a->groups ? a->groups : 1);
        return SHR_OK;
    case SHR_OP_MAXPOOL2D: ex_window(c, ex_node(c, "MaxPool", 1, &x, out), a, 0); return SHR_OK;
    case SHR_OP_AVGPOOL2D:
        o = ex_node(c, "AveragePool", 1, &x, out);
        ex_window(c, o, a, 0);
        ex_attr_i(c, o, "count_include_pad", a->count_include_pad);
        return SHR_OK;
    case SHR_OP_BATCHNORM:
        o = ex_node(c, "BatchNormalization", 5, ins, out);
        ex_attr_f(c, o, "epsilon", a->eps == 0.0f ? 1e-5f : a->eps);
        ex_attr_f(c, o, "momentum", 1.0f - (a->momentum == 0.0f ? 0.1f : a->momentum));
        return SHR_OK;
    case SHR_OP_CONCAT:
    case SHR_OP_SOFTMAX:
    case SHR_OP_LOG_SOFTMAX: {
        const int r = g->values[n->output].ndim;
        const char *name = n->op == SHR_OP_CONCAT ? "Concat" : n->op == SHR_OP_SOFTMAX ? "Softmax" : "LogSoftmax";
        ex_attr_i(c, ex_node(c, name, n_in, ins, out), "axis", a->axis < 0 ? a->axis + r : a->axis);
        return SHR_OK;
    }
    case SHR_OP_MATMUL:
        if (n_in < 3 || !ins[2][0]) {
            ex_node(c, "MatMul", 2, ins, out);
            return SHR_OK;
        } else {
            const char *mm = ex_fresh(c, out);
            ex_node(c, "MatMul", 2, ins, mm);
            ex_node(c, "Add", 2, (const char *[]){mm, ins[2]}, out);
            return SHR_OK;
        }
    case SHR_OP_FAKE_QUANT: return emit_fake_quant(c, n, out);
    case SHR_OP_FLATTEN:
    case SHR_OP_RESHAPE:
    case SHR_OP_TRANSPOSE:
    case SHR_OP_PAD:
    case SHR_OP_GATHER:
    case SHR_OP_BATCH_CONST: return emit_layout(c, n, x, out);
    default: return emit_param_unary(c, n, x, out);
    }
}
