/* Internal: the quantization ops (docs/quant.md) and the checks they share.
 *
 * Codes: an activation of dtype u8 / i8 / i16 holds integers q with real value
 * scale * (q - zero_point). Its scale is an f32 param/buffer of one element (finite, > 0),
 * its zero point a buffer of one element whose dtype is the codes' dtype (i16: zero).
 * Ops that write codes clamp them to [attrs.alpha, attrs.eps] (integer-valued, inside the
 * dtype's range). Rank-4 codes are channels-last: (N, H, W, C). */
#ifndef SHR_NN_OPS_QUANT_H
#define SHR_NN_OPS_QUANT_H

#include <math.h>

#include "nn/exec.h"
#include "nn/ops/ops_util.h"

extern const shr_op_def shr_op_quantize, shr_op_dequantize, shr_op_qlinear, shr_op_qconv2d, shr_op_qadd,
    shr_op_qmaxpool2d, shr_op_qavgpool2d, shr_op_qflatten, shr_op_qclamp, shr_op_wlinear, shr_op_dlinear,
    shr_op_fake_quant, shr_op_splinear;

/* 1 for the dtypes codes may have. */
static inline int shr_q_is_code(shr_dtype t) { return t == SHR_U8 || t == SHR_I8 || t == SHR_I16; }

/* The range of a code dtype. */
static inline void shr_q_type_range(shr_dtype t, int *lo, int *hi) {
    *lo = t == SHR_U8 ? 0 : t == SHR_I8 ? -128 : -32768;
    *hi = t == SHR_U8 ? 255 : t == SHR_I8 ? 127 : 32767;
}

/* Quantization parameters of one codes tensor, read from the graph. */
typedef struct shr_qparam {
    float scale;
    int zero_point;
    shr_dtype type;
} shr_qparam;

/* Checks inputs i_scale / i_zp of node n (a scale and a zero point as above) and reads them.
 * The message names the node. */
shr_status shr_q_read_param(const shr_graph *g, const shr_node *n, const char *op, int i_scale, int i_zp,
                            shr_qparam *out);
/* Checks that input i is codes (an activation of a code dtype) of the zero point's dtype. */
shr_status shr_q_check_codes(const shr_graph *g, const shr_node *n, const char *op, int i, const shr_qparam *qp);
/* Checks the output clamp [attrs.alpha, attrs.eps] for codes of type t and returns it. */
shr_status shr_q_check_clamp(const shr_node *n, const char *op, shr_dtype t, int *qmin, int *qmax);
/* The clamp the producer of codes value v wrote them with (through pass-through ops); the
 * dtype's range when unknown. */
void shr_q_code_range(const shr_graph *g, int v, int *lo, int *hi);

/* Reads scale / zero point at run time from the op's inputs (validated at load). */
static inline shr_qparam shr_q_param_io(const shr_op_io *io, int i_scale, int i_zp) {
    shr_qparam p;
    p.scale = shr_f32(io->in[i_scale])[0];
    p.type = io->in[i_zp]->dtype;
    p.zero_point = p.type == SHR_U8 ? ((const uint8_t *)io->in[i_zp]->data)[0]
                   : p.type == SHR_I8 ? ((const int8_t *)io->in[i_zp]->data)[0]
                                      : ((const int16_t *)io->in[i_zp]->data)[0];
    return p;
}

/* Element i of codes (or int4 / int8 / int16 weights) of type t as int. */
static inline int shr_q_get(const void *p, shr_dtype t, size_t i) {
    return t == SHR_U8 ? ((const uint8_t *)p)[i]
           : t == SHR_I8 ? ((const int8_t *)p)[i]
           : t == SHR_I4 ? shr_i4_get((const uint8_t *)p, (int64_t)i)
                         : ((const int16_t *)p)[i];
}
static inline void shr_q_put(void *p, shr_dtype t, size_t i, int v) {
    if (t == SHR_U8) ((uint8_t *)p)[i] = (uint8_t)v;
    else if (t == SHR_I8) ((int8_t *)p)[i] = (int8_t)v;
    else ((int16_t *)p)[i] = (int16_t)v;
}

/* Requantization of qlinear / qconv2d (8-bit codes out) and qavgpool2d, per node:
 * attrs.momentum == SHR_QREQ_FLOAT: a float32 multiplier, clamped, rounded half to even (ONNX
 * Runtime's and FBGEMM's arithmetic; quantize --requant float, the default); any other value:
 * gemmlowp integer-only fixed point (--requant fixed, and every file written before the mode
 * existed). qadd and i16 codes always use the fixed point. */
#define SHR_QREQ_FLOAT (-1.0f)
static inline int shr_q_float_requant(const shr_node *n) { return n->attrs.momentum == SHR_QREQ_FLOAT; }
/* The float requantization of one accumulator (qgemm's U8F / S8F output stage, scalar):
 * zp + round_half_even(clamp((float)acc * rq, qmin - zp, qmax - zp)). */
static inline int shr_q_requant_f(int32_t acc, float rq, int zp, int qmin, int qmax) {
    float lo = (float)(qmin - zp), hi = (float)(qmax - zp), v = (float)acc * rq;
    v = v < lo ? lo : v > hi ? hi : v;
    return (int)nearbyintf(v) + zp;
}

/* An 8-bit coded int4 group scale: row * code / 255 (wlinear; quant/int4q.c rounds with it). */
static inline float shr_q_scale_decode(float row, int code) { return row * (float)code / 255.0f; }

/* q = clamp(round_half_even(x / scale) + zp, lo, hi); NaN -> zp. The division (not a
 * multiply by 1/scale) is what ONNX QuantizeLinear specifies. */
static inline int shr_q_quantize1(float x, float scale, int zp, int lo, int hi) {
    float t = x / scale;
    if (!(t == t)) return zp;
    if (t > 65536.0f) t = 65536.0f;
    if (t < -65536.0f) t = -65536.0f;
    int q = (int)rintf(t) + zp;
    return q < lo ? lo : q > hi ? hi : q;
}

#endif
