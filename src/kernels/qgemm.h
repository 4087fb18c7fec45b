/* Internal: integer GEMM for quantized Linear / Conv layers, and requantization helpers.
 *
 *   Y[M,N] = X[M,K] * W[N,K]^T
 *
 * X: activations, row-major (M = batch, or batch * output pixels for a conv through im2col),
 *    row stride ldx >= K elements; u8 or s8 codes with a zero point zx (s16 for the 16-bit path).
 * W: weights, row-major out x in (a Linear's weight, or a conv's out x in*kh*kw), symmetric s8
 *    (s16), zero point 0; per-tensor or per-channel scales only matter to the output stage.
 *
 * The weights are packed once (shr_qgemm_pack_s8 / _s16) into the kernel's panel layout, with
 * the zero-point term folded into an int32 bias:
 *    acc[m,n] = sum_k (x[m,k] - zx) * w[n,k] + bias[n]       (exact in int32; see contract)
 * then written as raw s32, requantized to u8/s8 (gemmlowp fixed point, or a float multiplier),
 * or converted to f32. Batch 1 (M = 1) streams the packed weights once.
 *
 * Paths (chosen at pack time; all compute the same exact integers, so they agree bit for bit
 * with each other and with the reference whenever the contract holds; docs/kernels-int8.md):
 *   EXACT    any u8/s8 activations x any s8 weights. Operands widened to int16, vpmaddwd
 *            (int16 pairs -> int32): no int16 intermediate, nothing can saturate.
 *   REDUCED  vpmaddubsw (u8 x s8 pairs -> int16) + vpmaddwd: needs 2 * umax * max|w| <= 32767,
 *            i.e. 7-bit activations (FBGEMM's reduce_range: u7 x s8 -> 2*127*128 = 32512) or
 *            weights within |w| <= 64 with 8-bit activations.
 *   I16ACC   vpmaddubsw results summed in int16 (vpaddw) over S k-quads before one widening:
 *            needs S = floor(32767 / (2 * umax * max|w|)) >= 2 (4-bit weights: S = 8 for u8
 *            activations, 16 for u7).
 *   S16      int16 x int16 -> int32 (vpmaddwd) for 16-bit fixed point.
 * umax is the largest kernel operand: activations are shifted to unsigned codes u = x + off
 * (off = 0 for u8, 128 for s8, 64 for 7-bit s8), so umax = 255 (8-bit) or 127 (7-bit).
 *
 * Contract, checked at pack time (weights) and at run time (activations, while packing or
 * scanning X): the declared activation range holds, and for every channel n the int32
 * accumulator cannot overflow: umax * sum_k |w[n,k]| < 2^31, the folded bias fits, and the true
 * result max|x - zx| * sum_k |w[n,k]| + |bias[n]| < 2^31. Out-of-contract input is an error,
 * never a silently wrong result. */
#ifndef SHR_KERNELS_QGEMM_H
#define SHR_KERNELS_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "shrink/status.h"
#include "shrink/tensor.h"

typedef enum shr_qpath {
    SHR_QPATH_AUTO = 0, /* fastest the data allows: I16ACC, else REDUCED, else EXACT */
    SHR_QPATH_EXACT,
    SHR_QPATH_REDUCED,
    SHR_QPATH_I16ACC,
    SHR_QPATH_S16
} shr_qpath;

/* "auto", "exact", "reduced", "i16acc", "s16". */
const char *shr_qpath_name(shr_qpath p);

/* The activations' contract. */
typedef struct shr_qact {
    shr_dtype type; /* SHR_U8 or SHR_I8 (8-bit weights), SHR_I16 (s16 weights) */
    int zero_point; /* U8: 0..255, I8: -128..127, I16: 0 */
    int bits;       /* U8/I8: 8, or 7 (U8 values 0..127, I8 values -64..63); I16: ignored */
    int max_abs;    /* I16 only: every |x| <= max_abs (1..32768) */
} shr_qact;

typedef struct shr_qgemm_packed shr_qgemm_packed;

/* Packs W (N x K s8, row stride ldw >= K) for `path`, folding -zx * sum_k w[n,k] + bias[n]
 * (bias: N int32 or NULL) into the int32 bias. Fails with SHR_ERR_INVALID_ARG when the
 * weights or the activation contract do not allow the path (e.g. I16ACC with |w| > 32 for
 * 8-bit activations, REDUCED with 8-bit activations and |w| > 64) or the accumulator could
 * overflow; SHR_ERR_NOMEM when out of memory. */
shr_status shr_qgemm_pack_s8(shr_qgemm_packed **out, shr_qpath path, int N, int K, const int8_t *W, long ldw,
                             const shr_qact *act, const int32_t *bias);
/* The 16-bit path: W (N x K s16, |w| <= 32767), activations SHR_I16 with max_abs. */
shr_status shr_qgemm_pack_s16(shr_qgemm_packed **out, int N, int K, const int16_t *W, long ldw, const shr_qact *act,
                              const int32_t *bias);
void shr_qgemm_packed_free(shr_qgemm_packed *p); /* NULL is a no-op */

typedef struct shr_qgemm_info {
    shr_qpath path;  /* the path chosen (never AUTO) */
    int N, K;
    int max_abs_w;   /* largest |w| */
    int i16_steps;   /* I16ACC: k-quads summed in int16 before widening (S); else 0 */
    size_t bytes;    /* memory held by the packed weights */
} shr_qgemm_info;
void shr_qgemm_get_info(const shr_qgemm_packed *p, shr_qgemm_info *info);

/* Re-folds the bias for a new activation zero point (dynamic quantization: O(N)); fails if the
 * overflow contract would break. */
shr_status shr_qgemm_set_zero_point(shr_qgemm_packed *p, int zero_point);

/* Output stage. */
typedef enum shr_qout_kind {
    SHR_QOUT_S32, /* int32_t: acc */
    SHR_QOUT_U8,  /* uint8_t: clamp(zy + MBQM(acc, multiplier[n], shift[n]), qmin, qmax) */
    SHR_QOUT_S8,  /* int8_t: same */
    SHR_QOUT_F32, /* float: fmaf((float)acc, x_scale * w_scale[n], bias[n]), then max(., 0) if relu */
    SHR_QOUT_U8F, /* uint8_t: zy + nearbyintf(clamp((float)acc * rq_scale[n], qmin - zy, qmax - zy)): a float */
    SHR_QOUT_S8F  /*   multiplier as FBGEMM requantizes (half to even); a third of the fixed-point cost */
} shr_qout_kind;

typedef struct shr_qout {
    shr_qout_kind kind;
    void *y;     /* M x N, row stride ldy >= N elements */
    long ldy;
    int per_channel;           /* multiplier/shift or w_scale: N entries (1) or one (0) */
    /* U8 / S8 / U8F / S8F (a ReLU / ReLU6 fuses as qmin / qmax): */
    const int32_t *multiplier; /* U8/S8: Q31, 0..2^31-1 (shr_quant_multiplier) */
    const int32_t *shift;      /* U8/S8: -31..30: > 0 left, < 0 right (TFLite convention) */
    const float *rq_scale;     /* U8F/S8F: x_scale * w_scale / y_scale, finite */
    int zero_point, qmin, qmax;
    /* F32: */
    float x_scale;
    const float *w_scale;
    const float *bias;         /* N floats or NULL */
    int relu;
} shr_qout;

/* Runs the product; multi-threaded (OpenMP) over output bands unless inside a parallel region.
 * Integer results do not depend on the thread count, the path or the CPU. SHR_ERR_INVALID_ARG
 * (message names the row and column) when an activation breaks the declared contract; the
 * output is then unspecified. */
shr_status shr_qgemm(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *out);
/* Single-threaded plain-C reference and AVX2 versions (the AVX2 one requires
 * shr_cpu_has_avx2_fma()); same semantics, same results. */
shr_status shr_qgemm_ref(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *out);
shr_status shr_qgemm_avx2(const shr_qgemm_packed *p, int M, const void *X, long ldx, const shr_qout *out);

/* Rows of X given as taps: implicit im2row for a channels-last convolution. Row m is the
 * concatenation of ntaps runs of `run` u8 codes at rows[m] + tapoff[t] (t = 0..ntaps-1), i.e. the
 * patch of output pixel m read straight from a (padded) input; every code read lies in
 * [lo, hi), which is what the activation contract is checked on. */
typedef struct shr_qtaps {
    const uint8_t *const *rows;
    const long *tapoff;
    int ntaps, run;
    const uint8_t *lo, *hi;
} shr_qtaps;
/* 1 when p takes X as taps of `run` codes: the AVX-512 VNNI kernel is available, the codes are u8
 * read as they are (REDUCED / I16ACC / EXACT paths), run % 4 == 0 and K == ntaps * run. */
int shr_qgemm_taps_ok(const shr_qgemm_packed *p, int ntaps, int run);
/* Y[M, N] for rows given as taps, codes out only (U8, S8, U8F, S8F), single-threaded: the same integers as
 * shr_qgemm on the rows written out (tests/kernels/test_qgemm.c). */
shr_status shr_qgemm_taps(const shr_qgemm_packed *p, int M, const shr_qtaps *x, const shr_qout *o);

/* ---- requantization and quantization helpers (requant.c) ---- */

/* scale ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) (0 when scale < 2^-32,
 * shift 0). scale must be finite, > 0 and < 2^30. */
shr_status shr_quant_multiplier(double scale, int32_t *multiplier, int32_t *shift);

/* gemmlowp's SaturatingRoundingDoublingHighMul(a, b): (a*b + 2^30 (or 1 - 2^30 if a*b < 0)) / 2^31
 * truncated toward zero, INT32_MAX for a == b == INT32_MIN. */
int32_t shr_srdhm(int32_t a, int32_t b);
/* gemmlowp's RoundingDivideByPOT(x, e): x / 2^e rounded to nearest, ties away from zero; e 0..31. */
int32_t shr_rdbpot(int32_t x, int e);
/* TFLite's MultiplyByQuantizedMultiplier, with a saturating left shift: shift > 0:
 * srdhm(sat(x * 2^shift), m); shift <= 0: rdbpot(srdhm(x, m), -shift). */
int32_t shr_mbqm(int32_t x, int32_t multiplier, int32_t shift);
/* clamp(zero_point + shr_mbqm(acc, multiplier, shift), qmin, qmax). */
int32_t shr_requant(int32_t acc, int32_t multiplier, int32_t shift, int zero_point, int qmin, int qmax);

/* q = clamp(round(x / scale) + zero_point, type range); round half to even (as ONNX
 * QuantizeLinear and PyTorch); NaN maps to zero_point. scale > 0. */
void shr_quantize_u8(const float *x, size_t n, float scale, int zero_point, uint8_t *q);
void shr_quantize_s8(const float *x, size_t n, float scale, int zero_point, int8_t *q);
/* x = scale * (q - zero_point). */
void shr_dequantize_u8(const uint8_t *q, size_t n, float scale, int zero_point, float *x);
void shr_dequantize_s8(const int8_t *q, size_t n, float scale, int zero_point, float *x);

#endif
