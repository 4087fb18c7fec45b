/* Internal: an integer GEMM layer (qlinear, qconv2d): packed weights and requantization
 * constants for one node, built on its first forward. */
#ifndef SHR_NN_OPS_QLAYER_H
#define SHR_NN_OPS_QLAYER_H

#include "kernels/qgemm.h"
#include "nn/op.h"

typedef struct shr_qlayer {
    shr_qgemm_packed *packed; /* W (N x K) with the bias and x's zero point folded in */
    int N, K;
    shr_dtype xt, yt;         /* input codes; output codes or SHR_F32 */
    int per_channel;          /* one weight scale per output channel (else one for all) */
    float x_scale;
    float *wscale;            /* per channel (or 1) */
    int32_t *mult, *shift;    /* codes out: x_scale * w_scale / y_scale as Q31 multiplier and shift */
    float *rq;                /* 8-bit codes out with float requantization (shr_q_float_requant): the same
                                 ratio in float32, (x_scale * w_scale) / y_scale as ONNX Runtime; else NULL */
    int zy, qmin, qmax;
    int32_t *s32;             /* i16 out without caller scratch: accumulators */
    size_t s32_cap;
} shr_qlayer;

/* Load-time checks of inputs 1..7 of a qlinear / qconv2d node whose weight has `out` rows of
 * `per_out` elements: quantization params, dtypes, bias, and the int32 accumulator bound. */
shr_status shr_qlayer_check(const shr_graph *g, const shr_node *n, const char *op, int64_t out, int64_t per_out);
/* Packs output channels c0 .. c0+N-1 of the node's weight (rows of K; i8, i4 or i16), with their
 * scales and bias, for the node in io. */
shr_status shr_qlayer_init(shr_qlayer **out, const shr_op_io *io, int c0, int N, int K);
void shr_qlayer_free(shr_qlayer *L);
/* Y[M, N] (row stride ldy) from M rows of codes X (row stride ldx): codes of the node's output
 * type, or f32 (then clamped to [lo, hi] when fused). s32: M * N scratch ints for i16 outputs
 * (NULL: the layer's own buffer, not for concurrent calls). */
shr_status shr_qlayer_run(shr_qlayer *L, int M, const void *X, long ldx, void *Y, long ldy, int fused, float lo,
                          float hi, int32_t *s32);

/* Convolution rows read in place (kernels/qgemm.h, shr_qtaps): available when the output is codes
 * (u8 / i8) and shr_qgemm_taps_ok; single-threaded. */
int shr_qlayer_taps_ok(const shr_qlayer *L, int ntaps, int run);
shr_status shr_qlayer_run_taps(shr_qlayer *L, int M, const shr_qtaps *x, void *Y, long ldy);

#endif
