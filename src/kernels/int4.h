/* Internal: int4 weight-only matrices and their kernels (a Linear layer's weight stored as
 * 4-bit integers with one scale, and optionally one zero point, per group of K values).
 *
 * Storage of W[N,K] (out x in, row-major like a Linear weight), group size G:
 *   q      N rows of ldq bytes. Row n holds element k in byte q[n*ldq + k/2]: even k in the
 *          low nibble, odd k in the high nibble, each a signed two's-complement value v in
 *          -8..7. This is exactly an SHR_I4 tensor of shape [N, 2*ldq] (shrink/tensor.h:
 *          element 2i low nibble, 2i+1 high nibble), so shr_i4_get(q + n*ldq, k) reads v.
 *          ldq >= shr_i4_row_bytes(K) = ceil(K/32)*16: rows are padded to whole 32-value
 *          blocks (the AVX2 kernels load 16 bytes at a time); padding nibbles are 0.
 *   scale  f32 [N, ngroups], ngroups = ceil(K/G): group g of row n covers k in
 *          [g*G, min(K, (g+1)*G)) (the last group is shorter when G does not divide K).
 *   zero   int8 [N, ngroups] in -8..7, or NULL for symmetric quantization (zero = 0).
 *   Dequantized weight: w[n][k] = (v - zero[n][g]) * scale[n][g].
 * Asymmetric quantization with q in 0..15 and zero point z in 0..15 is stored as v = q - 8 and
 * zero = z - 8 (same w). ONNX MatMulNBits (unsigned nibbles, low nibble first, default zero
 * point 8) is the same data with every byte of q XORed with 0x88 and zero + 8.
 * Scales are f32: at G >= 64 they add <= 1 bit per weight, and f32 keeps dequantization exact
 * to one rounding on every CPU (f16 would need F16C, which the dispatch does not check).
 *
 * GEMV and GEMM dequantize on the fly (only a W of <= 65536 weights is dequantized whole, into
 * scratch). Both are threaded with OpenMP over output rows / column bands; each output's
 * summation order depends only on K, G and the path (chosen from M and N*K), so results do not
 * depend on the thread count. docs/kernels-int4.md has the details and measurements. */
#ifndef SHR_KERNELS_INT4_H
#define SHR_KERNELS_INT4_H

#include <stddef.h>
#include <stdint.h>

#include "shrink/status.h"

typedef struct shr_i4_mat {
    int N, K;      /* rows (outputs), columns (inputs) */
    int group;     /* G: a power of two in 32..1024 */
    int ngroups;   /* ceil(K / G) */
    long ldq;      /* bytes per row of q, >= shr_i4_row_bytes(K) */
    uint8_t *q;    /* N * ldq bytes, packed as above */
    float *scale;  /* N * ngroups, [n][g] */
    int8_t *zero;  /* N * ngroups, [n][g], or NULL: symmetric */
    int owned;     /* 1: q/scale/zero were allocated by shr_i4_mat_create (freed by _free) */
} shr_i4_mat;

/* Bytes of one packed row of K values: ceil(K/32) * 16. */
static inline long shr_i4_row_bytes(int K) { return ((long)K + 31) / 32 * 16; }

/* Allocates a zero-filled N x K matrix with group G (asym: with zero points), ldq =
 * shr_i4_row_bytes(K). Fails on bad sizes or G, or out of memory. */
shr_status shr_i4_mat_create(shr_i4_mat **out, int N, int K, int group, int asym);
void shr_i4_mat_free(shr_i4_mat *m); /* NULL is a no-op; frees buffers only when owned */
/* Validates a matrix whose fields were filled from outside (e.g. a file): sizes, G, ldq,
 * zero points in -8..7, scales finite, padding nibbles of every row zero. */
shr_status shr_i4_mat_check(const shr_i4_mat *m);

/* Quantizes W[N,K] (row stride ldw floats) to a new matrix, round to nearest per group:
 *  symmetric (asym = 0): scale = max(max_w / 7, -min_w / 8), v = clamp(round(w / scale), -8, 7);
 *  asymmetric: lo = min(min_w, 0), hi = max(max_w, 0), scale = (hi - lo) / 15,
 *              z = clamp(round(-lo / scale), 0, 15), v = clamp(round(w / scale) + z, 0, 15) - 8.
 * Either way |w - dequantized w| <= scale / 2 (up to float rounding). A group of zeros gets
 * scale 0. Fails on non-finite weights. */
shr_status shr_i4_quantize(const float *W, long ldw, int N, int K, int group, int asym, shr_i4_mat **out);
/* W[n*ldw + k] = dequantized weight, n < N, k < K. */
void shr_i4_dequantize(const shr_i4_mat *m, float *W, long ldw);

/* y[n] = sum_k w[n][k] * x[k] (+ bias[n]), n < N (a Linear layer at batch 1). x has K floats;
 * bias may be NULL; no alignment needed. Fails only when out of memory (scratch for K > 4096). */
shr_status shr_i4_gemv(const shr_i4_mat *W, const float *x, const float *bias, float *y);
/* Y[m*ldy + n] = sum_k X[m*ldx + k] * w[n][k] (+ bias[n]): Y[M,N] = X[M,K] W^T + bias. */
shr_status shr_i4_gemm(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                       long ldy);

/* ---- the pieces the dispatch uses (also called by tests) ---- */

/* The GEMM's small-batch path (any M): the GEMV kernel for M vectors at once. */
shr_status shr_i4_gemv_many(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                            long ldy);

/* Plain C, single thread. Per group: acc = sum (v - zero) * x[k] in k order, y += scale * acc. */
void shr_i4_gemv_ref(const shr_i4_mat *W, const float *x, const float *bias, float *y);
void shr_i4_gemm_ref(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                     long ldy);

/* AVX2 GEMV: each x is first rearranged once into its own work area of
 * shr_i4_gemv_avx2_work(W) floats (any alignment) by _prep; then _rows computes
 * Y[m*ldy + n] for m < nv vectors (work areas consecutive) and rows n0 <= n < n1, decoding
 * each weight once for up to 4 vectors. */
size_t shr_i4_gemv_avx2_work(const shr_i4_mat *W);
void shr_i4_gemv_avx2_prep(const shr_i4_mat *W, const float *x, float *work);
void shr_i4_gemv_avx2_rows(const shr_i4_mat *W, int nv, int n0, int n1, const float *work, const float *bias,
                           float *Y, long ldy);

/* Dequantizes rows n0..n0+nb-1, columns k0..k0+kb-1 of W transposed: T[k*ldt + j] =
 * w[n0 + j][k0 + k] (the K x N panel layout that shr_gemm_f32 reads in place). k0 must be a
 * multiple of 32. */
void shr_i4_dequant_t_ref(const shr_i4_mat *W, int n0, int nb, int k0, int kb, float *T, long ldt);
void shr_i4_dequant_t_avx2(const shr_i4_mat *W, int n0, int nb, int k0, int kb, float *T, long ldt);

#endif
