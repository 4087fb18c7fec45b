#include <string.h>

#include "core/error.h"
#include "nn/op.h"
#include "nn/ops/ops_onnx.h"
#include "nn/ops/ops_quant.h"


static const char *const op_names[SHR_OP_COUNT] = {
    [SHR_OP_LINEAR] = "linear",       [SHR_OP_CONV2D] = "conv2d",         [SHR_OP_BATCHNORM] = "batchnorm",
    [SHR_OP_RELU] = "relu",           [SHR_OP_RELU6] = "relu6",           [SHR_OP_LEAKY_RELU] = "leaky_relu",
    [SHR_OP_GELU] = "gelu",           [SHR_OP_SIGMOID] = "sigmoid",       [SHR_OP_TANH] = "tanh",
    [SHR_OP_MAXPOOL2D] = "maxpool2d", [SHR_OP_AVGPOOL2D] = "avgpool2d",   [SHR_OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [SHR_OP_FLATTEN] = "flatten",     [SHR_OP_RESHAPE] = "reshape",       [SHR_OP_DROPOUT] = "dropout",
    [SHR_OP_ADD] = "add",             [SHR_OP_CONCAT] = "concat",         [SHR_OP_SOFTMAX] = "softmax",
    [SHR_OP_LOG_SOFTMAX] = "log_softmax",
    [SHR_OP_ABS] = "abs",
    [SHR_OP_NEG] = "neg",
    [SHR_OP_EXP] = "exp",
    [SHR_OP_LOG] = "log",
    [SHR_OP_SQRT] = "sqrt",
    [SHR_OP_RECIPROCAL] = "reciprocal",
    [SHR_OP_SIN] = "sin",
    [SHR_OP_COS] = "cos",
    [SHR_OP_TAN] = "tan",
    [SHR_OP_ASIN] = "asin",
    [SHR_OP_ACOS] = "acos",
    [SHR_OP_ATAN] = "atan",
    [SHR_OP_SINH] = "sinh",
    [SHR_OP_COSH] = "cosh",
    [SHR_OP_ASINH] = "asinh",
    [SHR_OP_ACOSH] = "acosh",
    [SHR_OP_ATANH] = "atanh",
    [SHR_OP_ERF] = "erf",
    [SHR_OP_CEIL] = "ceil",
    [SHR_OP_FLOOR] = "floor",
    [SHR_OP_ROUND] = "round",
    [SHR_OP_SIGN] = "sign",
    [SHR_OP_SOFTPLUS] = "softplus",
    [SHR_OP_SOFTSIGN] = "softsign",
    [SHR_OP_HARD_SWISH] = "hard_swish",
    [SHR_OP_ELU] = "elu",
    [SHR_OP_CELU] = "celu",
    [SHR_OP_SELU] = "selu",
    [SHR_OP_HARD_SIGMOID] = "hard_sigmoid",
    [SHR_OP_THRESHOLDED_RELU] = "thresholded_relu",
    [SHR_OP_SHRINK] = "shrink",
    [SHR_OP_CLIP] = "clip",
    [SHR_OP_ADD_BCAST] = "add_bcast",
    [SHR_OP_SUB] = "sub",
    [SHR_OP_MUL] = "mul",
    [SHR_OP_DIV] = "div",
    [SHR_OP_POW] = "pow",
    [SHR_OP_MAX] = "max",
    [SHR_OP_MIN] = "min",
    [SHR_OP_PRELU] = "prelu",
    [SHR_OP_REDUCE_SUM] = "reduce_sum",
    [SHR_OP_REDUCE_MEAN] = "reduce_mean",
    [SHR_OP_REDUCE_MAX] = "reduce_max",
    [SHR_OP_REDUCE_MIN] = "reduce_min",
    [SHR_OP_REDUCE_PROD] = "reduce_prod",
    [SHR_OP_REDUCE_L1] = "reduce_l1",
    [SHR_OP_REDUCE_L2] = "reduce_l2",
    [SHR_OP_REDUCE_SUM_SQUARE] = "reduce_sum_square",
    [SHR_OP_REDUCE_LOG_SUM] = "reduce_log_sum",
    [SHR_OP_REDUCE_LOG_SUM_EXP] = "reduce_log_sum_exp",
    [SHR_OP_TRANSPOSE] = "transpose",
    [SHR_OP_PAD] = "pad",
    [SHR_OP_GATHER] = "gather",
    [SHR_OP_MATMUL] = "matmul",
    [SHR_OP_BATCH_CONST] = "batch_const",
    [SHR_OP_QUANTIZE] = "quantize",
    [SHR_OP_DEQUANTIZE] = "dequantize",
    [SHR_OP_QLINEAR] = "qlinear",
    [SHR_OP_QCONV2D] = "qconv2d",
    [SHR_OP_QADD] = "qadd",
    [SHR_OP_QMAXPOOL2D] = "qmaxpool2d",
    [SHR_OP_QAVGPOOL2D] = "qavgpool2d",
    [SHR_OP_QFLATTEN] = "qflatten",
    [SHR_OP_QCLAMP] = "qclamp",
    [SHR_OP_WLINEAR] = "wlinear",
    [SHR_OP_DLINEAR] = "dlinear",
    [SHR_OP_FAKE_QUANT] = "fake_quant",
    [SHR_OP_SPLINEAR] = "splinear",
};

const char *shr_op_name(shr_op op) { return ((unsigned)op < SHR_OP_COUNT) ? op_names[op] : "?"; }

shr_status shr_op_parse(const char *name, shr_op *out) {
    for (int i = 0; i < SHR_OP_COUNT; i++)
        if (strcmp(name, op_names[i]) == 0) {
            *out = (shr_op)i;
            return SHR_OK;
        }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown op '%s'", name);
}

const shr_op_def *shr_op_def_get(shr_op op) {
    switch (op) {
    case SHR_OP_LINEAR: return &shr_op_linear;
    case SHR_OP_CONV2D: return &shr_op_conv2d;
    case SHR_OP_BATCHNORM: return &shr_op_batchnorm;
    case SHR_OP_RELU: return &shr_op_relu;
    case SHR_OP_RELU6: return &shr_op_relu6;
    case SHR_OP_LEAKY_RELU: return &shr_op_leaky_relu;
    case SHR_OP_GELU: return &shr_op_gelu;
    case SHR_OP_SIGMOID: return &shr_op_sigmoid;
    case SHR_OP_TANH: return &shr_op_tanh;
    case SHR_OP_MAXPOOL2D: return &shr_op_maxpool2d;
    case SHR_OP_AVGPOOL2D: return &shr_op_avgpool2d;
    case SHR_OP_GLOBAL_AVGPOOL: return &shr_op_global_avgpool;
    case SHR_OP_FLATTEN: return &shr_op_flatten;
    case SHR_OP_RESHAPE: return &shr_op_reshape;
    case SHR_OP_DROPOUT: return &shr_op_dropout;
    case SHR_OP_ADD: return &shr_op_add;
    case SHR_OP_CONCAT: return &shr_op_concat;
    case SHR_OP_SOFTMAX: return &shr_op_softmax;
    case SHR_OP_LOG_SOFTMAX: return &shr_op_log_softmax;
    case SHR_OP_ABS: return &shr_op_abs;
    case SHR_OP_NEG: return &shr_op_neg;
    case SHR_OP_EXP: return &shr_op_exp;
    case SHR_OP_LOG: return &shr_op_log;
    case SHR_OP_SQRT: return &shr_op_sqrt;
    case SHR_OP_RECIPROCAL: return &shr_op_reciprocal;
    case SHR_OP_SIN: return &shr_op_sin;
    case SHR_OP_COS: return &shr_op_cos;
    case SHR_OP_TAN: return &shr_op_tan;
    case SHR_OP_ASIN: return &shr_op_asin;
    case SHR_OP_ACOS: return &shr_op_acos;
    case SHR_OP_ATAN: return &shr_op_atan;
    case SHR_OP_SINH: return &shr_op_sinh;
    case SHR_OP_COSH: return &shr_op_cosh;
    case SHR_OP_ASINH: return &shr_op_asinh;
    case SHR_OP_ACOSH: return &shr_op_acosh;
    case SHR_OP_ATANH: return &shr_op_atanh;
    case SHR_OP_ERF: return &shr_op_erf;
    case SHR_OP_CEIL: return &shr_op_ceil;
    case SHR_OP_FLOOR: return &shr_op_floor;
    case SHR_OP_ROUND: return &shr_op_round;
    case SHR_OP_SIGN: return &shr_op_sign;
    case SHR_OP_SOFTPLUS: return &shr_op_softplus;
    case SHR_OP_SOFTSIGN: return &shr_op_softsign;
    case SHR_OP_HARD_SWISH: return &shr_op_hard_swish;
    case SHR_OP_ELU: return &shr_op_elu;
    case SHR_OP_CELU: return &shr_op_celu;
    case SHR_OP_SELU: return &shr_op_selu;
    case SHR_OP_HARD_SIGMOID: return &shr_op_hard_sigmoid;
    case SHR_OP_THRESHOLDED_RELU: return &shr_op_thresholded_relu;
    case SHR_OP_SHRINK: return &shr_op_shrink;
    case SHR_OP_CLIP: return &shr_op_clip;
    case SHR_OP_ADD_BCAST: return &shr_op_add_bcast;
    case SHR_OP_SUB: return &shr_op_sub;
    case SHR_OP_MUL: return &shr_op_mul;
    case SHR_OP_DIV: return &shr_op_div;
    case SHR_OP_POW: return &shr_op_pow;
    case SHR_OP_MAX: return &shr_op_max;
    case SHR_OP_MIN: return &shr_op_min;
    case SHR_OP_PRELU: return &shr_op_prelu;
    case SHR_OP_REDUCE_SUM: return &shr_op_reduce_sum;
    case SHR_OP_REDUCE_MEAN: return &shr_op_reduce_mean;
    case SHR_OP_REDUCE_MAX: return &shr_op_reduce_max;
    case SHR_OP_REDUCE_MIN: return &shr_op_reduce_min;
    case SHR_OP_REDUCE_PROD: return &shr_op_reduce_prod;
    case SHR_OP_REDUCE_L1: return &shr_op_reduce_l1;
    case SHR_OP_REDUCE_L2: return &shr_op_reduce_l2;
    case SHR_OP_REDUCE_SUM_SQUARE: return &shr_op_reduce_sum_square;
    case SHR_OP_REDUCE_LOG_SUM: return &shr_op_reduce_log_sum;
    case SHR_OP_REDUCE_LOG_SUM_EXP: return &shr_op_reduce_log_sum_exp;
    case SHR_OP_TRANSPOSE: return &shr_op_transpose;
    case SHR_OP_PAD: return &shr_op_pad;
    case SHR_OP_GATHER: return &shr_op_gather;
    case SHR_OP_MATMUL: return &shr_op_matmul;
    case SHR_OP_BATCH_CONST: return &shr_op_batch_const;
    case SHR_OP_QUANTIZE: return &shr_op_quantize;
    case SHR_OP_DEQUANTIZE: return &shr_op_dequantize;
    case SHR_OP_QLINEAR: return &shr_op_qlinear;
    case SHR_OP_QCONV2D: return &shr_op_qconv2d;
    case SHR_OP_QADD: return &shr_op_qadd;
    case SHR_OP_QMAXPOOL2D: return &shr_op_qmaxpool2d;
    case SHR_OP_QAVGPOOL2D: return &shr_op_qavgpool2d;
    case SHR_OP_QFLATTEN: return &shr_op_qflatten;
    case SHR_OP_QCLAMP: return &shr_op_qclamp;
    case SHR_OP_WLINEAR: return &shr_op_wlinear;
    case SHR_OP_DLINEAR: return &shr_op_dlinear;
    case SHR_OP_FAKE_QUANT: return &shr_op_fake_quant;
    case SHR_OP_SPLINEAR: return &shr_op_splinear;
    default: return NULL;
    }
}
