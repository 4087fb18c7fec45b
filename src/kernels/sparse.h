/* Internal: sparse weights for Linear (and conv-as-GEMM) layers and the kernels that run them.
 *
 * A weight W[N,K] (out x in; a conv weight as out x in*kh*kw) with pruned zeros is converted
 * once into one of the formats below, then multiplied as
 *     Y[M,N] = clamp(X[M,K] W^T + bias, lo, hi)        (M = 1: y[N] = W x, the batch-1 case)
 * Values are f32 or int8 (symmetric, one scale per output row: w[n,k] = q[n,k] * scale[n]).
 * int8 weights run either with f32 activations (weight-only: the scale is applied to the row's
 * f32 sum) or with int8 activations (s8/u8 with a zero point; exact s32 sums, f32 output).
 *
 * Block formats store, for each block row (br consecutive output rows), the blocks that hold a
 * nonzero: the first column of each block and its br x bc values (row-major inside the block).
 * Blocks start at multiples of their width; a block that sticks out past N or K holds zeros
 * there. CSR is the 1x1 block format. N:M keeps n values in every group of m = 4 consecutive k
 * with a 2-bit position for each kept value.
 *
 * Trust: the kernels assume a valid matrix. Everything built by shr_spmat_from_dense* is;
 * arrays filled from a file must pass shr_spmat_validate first. */
#ifndef SHR_KERNELS_SPARSE_H
#define SHR_KERNELS_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "shrink/status.h"

typedef enum shr_sp_format {
    SHR_SP_DENSE = 0, /* all N x K values, row-major (the baseline; f32 only) */
    SHR_SP_CSR,       /* 1x1 blocks: one column index per nonzero */
    SHR_SP_1X4,       /* 4 consecutive k of one row, first k a multiple of 4 */
    SHR_SP_4X1,       /* 4 consecutive output rows at one k, first row a multiple of 4 */
    SHR_SP_8X1,       /* 8 consecutive output rows at one k */
    SHR_SP_NM24,      /* 2 of every 4 consecutive k kept (2:4) */
    SHR_SP_NM14,      /* 1 of every 4 consecutive k kept (1:4) */
    SHR_SP_NFORMATS
} shr_sp_format;

typedef enum shr_sp_dtype { SHR_SP_F32 = 0, SHR_SP_I8 = 1 } shr_sp_dtype;

typedef struct shr_spmat {
    shr_sp_format format;
    shr_sp_dtype dtype;
    int N, K;
    int br, bc;       /* block shape: 1x1 (CSR), 1x4, 4x1, 8x1; N:M: 1 x 4; dense: 1 x K */
    int nm_keep;      /* N:M: values kept per group of 4 (2 or 1); else 0 */
    int nbrow;        /* block rows: ceil(N / br) */
    int64_t nblocks;  /* blocks stored (CSR: nonzeros; dense: N; N:M: N * groups) */
    int32_t *rowptr;  /* [nbrow + 1] block offsets, rowptr[0] = 0 (block formats only) */
    uint16_t *col16;  /* [nblocks] first column of each block when K <= 65536 ... */
    int32_t *col32;   /* ... else this one (exactly one of the two is set for block formats) */
    void *values;     /* float or int8: blocks [nblocks][br][bc]; N:M [N][groups * keep]; dense [N][K] */
    uint8_t *pos;     /* N:M: per row pos_stride bytes of 2-bit positions, 4 per byte, low bits first */
    int64_t pos_stride;
    float *scale;     /* int8: [N] row scales, finite and >= 0 */
} shr_spmat;

/* Allocates the arrays of a matrix with the given shape and stored block count (ignored for
 * dense and N:M, whose size follows from N and K), every size overflow-checked and at most
 * SHR_MAX_PARAMS stored values (SHR_ERR_LIMIT), contents zero.
 * For a reader: allocate, fill the arrays from the file, then shr_spmat_validate. */
shr_status shr_spmat_alloc(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, int64_t nblocks);
/* Frees the arrays and zeroes *A; NULL and zeroed structs are fine. */
void shr_spmat_free(shr_spmat *A);

/* Converts a pruned dense W[N,K] (row stride ldw). dtype I8 quantizes each row symmetrically
 * (scale = max|w| / 127, q = round(w / scale)). N:M fails (SHR_ERR_INVALID_ARG, naming the row
 * and group) when a group holds more nonzeros than the format keeps. */
shr_status shr_spmat_from_dense(shr_spmat *A, shr_sp_format format, shr_sp_dtype dtype, int N, int K, const float *W,
                                long ldw);
/* Same from weights already quantized: Q[N,K] int8 and scale[N] (kept as given). */
shr_status shr_spmat_from_dense_q(shr_spmat *A, shr_sp_format format, int N, int K, const int8_t *Q, long ldq,
                                  const float *scale);
/* Back to dense W[N,K] (int8 dequantized: q * scale[n]); every element written. */
shr_status shr_spmat_to_dense(const shr_spmat *A, float *W, long ldw);
/* int8 matrices only: the quantized values Q[N,K]. */
shr_status shr_spmat_to_dense_q(const shr_spmat *A, int8_t *Q, long ldq);

/* Bytes of all arrays (what the layer costs in memory and in a file). */
size_t shr_spmat_bytes(const shr_spmat *A);
/* Nonzero weights stored (zeros padding blocks or N:M groups not counted). */
int64_t shr_spmat_nnz(const shr_spmat *A);
/* "dense", "csr", "1x4", "4x1", "8x1", "2:4", "1:4". */
const char *shr_sp_format_name(shr_sp_format format);

/* Checks a matrix whose arrays came from outside: shape and format fields consistent, sizes
 * without overflow, row pointers from 0, monotonic and ending at nblocks, column indices in
 * range, aligned to the block width and strictly ascending within a block row, padding of
 * blocks past N or K zero, N:M positions inside the row and ascending within a group (a
 * repeat only for a zero value), int8 scales finite and >= 0. SHR_ERR_FORMAT with a message
 * naming the first fault. */
shr_status shr_spmat_validate(const shr_spmat *A);

/* Y[M,N] = clamp(X[M,K] W^T + bias, lo, hi) with f32 activations (X row stride ldx >= K, Y row
 * stride ldy >= N); f32 or int8 (weight-only) values. ep may be NULL (no bias, no clamp); its
 * bias is per output column n (bias_per_row must be 0). OpenMP over output rows / tiles; the
 * result does not depend on the thread count. Floats agree with a plain dot product within
 * rounding (the summation order differs). May allocate a workspace (SHR_ERR_NOMEM). */
shr_status shr_spmm_f32(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep, float *Y,
                        long ldy);

/* int8 activations (per-tensor): x_real = x_scale * (x - x_zero), x int8 (x_signed) or uint8.
 * Each output is the exact s32 sum acc = sum_k q[n,k] * (x[m,k] - x_zero), then
 *     y = clamp((float)acc * (x_scale * scale[n]) + bias[n], lo, hi)
 * (the product x_scale * scale[n] rounded to f32 first; a multiply and an add, no FMA), so
 * results are bit-identical across kernels and thread counts. Needs an int8 matrix and
 * K <= 65536 (keeps the s32 sum from overflowing). */
typedef struct shr_sp_qinput {
    int x_signed;   /* 1: int8 activations, 0: uint8 */
    int x_zero;     /* zero point, in the activation type's range */
    float x_scale;  /* > 0 */
} shr_sp_qinput;
shr_status shr_spmm_q8(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                       const shr_gemm_epilogue *ep, float *Y, long ldy);

/* The convolution layout of both: Y[N,M] = clamp(W[N,K] X[K,M] + bias, lo, hi) with X K-major
 * (row k holds input k for the M output positions: im2col's columns, ldx >= M) and Y N-major
 * (one row per output channel, ldy >= M). The bias is per output channel = per row of Y, so
 * ep->bias_per_row must be 1 (as for the GEMM in this layout). Same kernels and guarantees. */
shr_status shr_spmm_f32_kn(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep,
                           float *Y, long ldy);
shr_status shr_spmm_q8_kn(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                          const shr_gemm_epilogue *ep, float *Y, long ldy);

/* The plain-C references of the two (single-threaded; same contracts; for the convolution
 * layout, shr_force_reference_kernels(1) makes the calls above use the same code). */
shr_status shr_spmm_f32_ref(const shr_spmat *A, int M, const float *X, long ldx, const shr_gemm_epilogue *ep,
                            float *Y, long ldy);
shr_status shr_spmm_q8_ref(const shr_spmat *A, int M, const void *X, long ldx, const shr_sp_qinput *q,
                           const shr_gemm_epilogue *ep, float *Y, long ldy);

/* Format choice for one layer: converts the pruned W[N,K] to every candidate format (dense;
 * CSR, 1x4, 4x1, 8x1; 2:4 and 1:4 when W fits them), times each at batch M with the kernel it
 * would run with (q8 = 1: int8 activations, needs dtype I8), and keeps the fastest; formats
 * within 5% of the fastest count as a tie and the smaller one wins. Dense is f32; for dtype I8
 * (there is no dense int8 kernel here) it is timed and reported as the f32 baseline but only the
 * int8 sparse formats can be chosen: compare with the dense int8 kernel yourself. Timing:
 * 5 interleaved rounds, median; about `budget_ms` milliseconds in all (<= 0: 60), more when
 * single calls are slower than that allows (each candidate runs at least 7 times). */
typedef struct shr_sp_candidate {
    shr_sp_format format;
    shr_sp_dtype dtype;
    int available;   /* 0: W does not fit this format (N:M) */
    double seconds;  /* median time of one call */
    size_t bytes;    /* shr_spmat_bytes of this format */
} shr_sp_candidate;
shr_status shr_spmat_choose(shr_spmat *A, shr_sp_dtype dtype, int q8, int N, int K, const float *W, long ldw, int M,
                            double budget_ms, shr_sp_candidate report[SHR_SP_NFORMATS]);

#endif
