/* Internal: int8 weight-only kernels for Linear layers with f32 activations.
 *   W[N,K] int8 row-major (row stride ldw), one f32 scale per row (scale[n]) or for all
 *   (per_channel = 0: scale[0]). Dequantized weight: scale[n] * W[n,k].
 * shr_w8_gemv: y[n] = scale[n] * (sum_k W[n,k] x[k]) + bias[n] (bias may be NULL) — a Linear at
 * batch 1; memory-bound on large layers, where reading 1 byte per weight instead of 4 is the win.
 * Each row's sum order depends only on K (the AVX2 version: 8 lanes then a fixed tree), so the
 * result does not depend on the thread count; the reference sums in k order. */
#ifndef SHR_QUANT_W8_H
#define SHR_QUANT_W8_H

#include <stdint.h>

void shr_w8_gemv(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                 const float *bias, float *y);
void shr_w8_gemv_ref(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                     const float *bias, float *y);
void shr_w8_gemv_avx2(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                      const float *bias, float *y);
/* T[j*ldt + k] = scale * W[(n0 + j)*ldw + k], j < nb, k < K: a row panel in f32 for the GEMM. */
void shr_w8_dequant_rows(const int8_t *W, long ldw, const float *scale, int per_channel, int n0, int nb, int K,
                         float *T, long ldt);

#endif
