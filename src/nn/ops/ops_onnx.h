/* Internal: the op definitions added for ONNX interoperability (element-wise
 * math, broadcasting binary ops, reductions, transpose, pad, gather, matmul,
 * batch_const). nn/op.h lists the original ones; the registry and the tests
 * reach these through this header. */
#ifndef SHR_NN_OPS_ONNX_H
#define SHR_NN_OPS_ONNX_H

#include <limits.h>

#include "core/checked.h"
#include "nn/op.h"

/* unary.c */
extern const shr_op_def shr_op_abs, shr_op_neg, shr_op_exp, shr_op_log, shr_op_sqrt, shr_op_reciprocal, shr_op_sin,
    shr_op_cos, shr_op_tan, shr_op_asin, shr_op_acos, shr_op_atan, shr_op_sinh, shr_op_cosh, shr_op_asinh,
    shr_op_acosh, shr_op_atanh, shr_op_erf, shr_op_ceil, shr_op_floor, shr_op_round, shr_op_sign, shr_op_softplus,
    shr_op_softsign, shr_op_hard_swish, shr_op_elu, shr_op_celu, shr_op_selu, shr_op_hard_sigmoid,
    shr_op_thresholded_relu, shr_op_shrink, shr_op_clip;
/* binary.c */
extern const shr_op_def shr_op_add_bcast, shr_op_sub, shr_op_mul, shr_op_div, shr_op_pow, shr_op_max, shr_op_min,
    shr_op_prelu;
/* reduce.c */
extern const shr_op_def shr_op_reduce_sum, shr_op_reduce_mean, shr_op_reduce_max, shr_op_reduce_min,
    shr_op_reduce_prod, shr_op_reduce_l1, shr_op_reduce_l2, shr_op_reduce_sum_square, shr_op_reduce_log_sum,
    shr_op_reduce_log_sum_exp;
/* transpose.c, pad.c, gather.c, matmul.c, batch_const.c */
extern const shr_op_def shr_op_transpose, shr_op_pad, shr_op_gather, shr_op_matmul, shr_op_batch_const;

/* 1 when dims 1.. are all >= 1 and their product (elements per sample) is at
 * most INT_MAX, the most the runtime's int-indexed kernels take. */
static inline int shr_sample_fits(int ndim, const int64_t *shape) {
    int64_t p = 1;
    for (int d = 1; d < ndim; d++)
        if (shape[d] < 1 || shr_mul_overflow_i64(p, shape[d], &p) || p > INT_MAX) return 0;
    return 1;
}

/* 1 for the model input and activations (values that carry the batch in dim 0). */
static inline int shr_value_is_data(const shr_value *v) {
    return v->kind == SHR_VALUE_INPUT || v->kind == SHR_VALUE_ACT;
}

#endif
