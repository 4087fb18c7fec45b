#include <string.h>

#include "core/error.h"
#include "nn/op.h"
#include "nn/ops/ops_quant.h"


static const char *const op_names[SHR_OP_COUNT] = {
    [SHR_OP_LINEAR] = "linear",       [SHR_OP_CONV2D] = "conv2d",         [SHR_OP_BATCHNORM] = "batchnorm",
    [SHR_OP_RELU] = "relu",           [SHR_OP_RELU6] = "relu6",           [SHR_OP_LEAKY_RELU] = "leaky_relu",
    [SHR_OP_GELU] = "gelu",           [SHR_OP_SIGMOID] = "sigmoid",       [SHR_OP_TANH] = "tanh",
    [SHR_OP_MAXPOOL2D] = "maxpool2d", [SHR_OP_AVGPOOL2D] = "avgpool2d",   [SHR_OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [SHR_OP_FLATTEN] = "flatten",     [SHR_OP_RESHAPE] = "reshape",       [SHR_OP_DROPOUT] = "dropout",
    [SHR_OP_ADD] = "add",             [SHR_OP_CONCAT] = "concat",         [SHR_OP_SOFTMAX] = "softmax",
    [SHR_OP_LOG_SOFTMAX] = "log_softmax",
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
    default: return NULL;
    }
}
