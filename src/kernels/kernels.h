/* Internal: compute kernels. Each family has a plain-C reference (*_ref) and,
 * where it matters, an AVX2+FMA version (*_avx2) compiled with -mavx2 -mfma in its
 * own file; the unsuffixed function dispatches at run time (core/cpu.h).
 * All matrices are row-major with explicit leading dimensions. */
#ifndef SHR_KERNELS_H
#define SHR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
 * op(A) = A (M x K, lda >= K) or A^T when transA (A is K x M, lda >= M); same for B.
 * beta == 0 means C is overwritten (NaNs in C ignored). Multi-threaded with
 * OpenMP over output tiles unless called inside a parallel region; the result
 * does not depend on the thread count (each C element is summed in one fixed order). */
void shr_gemm_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
void shr_gemm_f32_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
void shr_gemm_f32_avx2(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);

/* Fused epilogue, applied to each C element after alpha * acc + beta * C:
 *   c = clamp(c + bias, lo, hi)
 * bias is per row of C (bias_per_row = 1: the conv layout W * col) or per column (0: the
 * Linear layout X * W^T), NULL for none. ReLU is [0, INFINITY], ReLU6 [0, 6], none
 * [-INFINITY, INFINITY]. NaN passes through the clamp unchanged. */
typedef struct shr_gemm_epilogue {
    const float *bias;
    int bias_per_row;
    float lo, hi;
} shr_gemm_epilogue;
/* shr_gemm_f32 with an epilogue (ep == NULL: none). Same determinism guarantees. */
void shr_gemm_f32_ex(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep);
void shr_gemm_f32_ex_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep);
void shr_gemm_f32_ex_avx2(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep);

/* Narrow outputs in the Linear layout (no transposes of C): C = alpha * A[M,K] B[N,K]^T then
 * the epilogue (beta 0); shr_gemm_f32_ex uses it for small N. Bt (or NULL): the first 8 rows
 * of B packed by shr_gemm_f32_pack8_avx2 (K * 8 floats, 32-byte aligned; needs N >= 8), run
 * with the outputs in the lanes; the other columns as dot products without packing. */
void shr_gemm_f32_dot_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                           float *C, int ldc, const shr_gemm_epilogue *ep, const float *Bt);
void shr_gemm_f32_pack8_avx2(int K, const float *B, int ldb, float *Bt);

/* y[n] = sum_k W[n*ldw + k] * x[k] (+ bias[n] if bias != NULL), n < N: a Linear layer at
 * batch 1 (W is out x in, row-major). Memory-bound; threads split the rows. Float results
 * agree with the reference within rounding (different summation order). */
void shr_gemv_f32(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y);
void shr_gemv_f32_ref(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y);
void shr_gemv_f32_avx2(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y);

/* Convolution geometry shared by im2col / col2im. */
typedef struct shr_conv_geom {
    int C, H, W;       /* input channels (of this group), height, width */
    int KH, KW;
    int SH, SW;        /* stride */
    int PT, PL;        /* top / left padding (bottom/right implied by OH/OW) */
    int DH, DW;        /* dilation */
    int OH, OW;        /* output size */
} shr_conv_geom;

/* col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*SH - PT + kh*DH][ow*SW - PL + kw*DW] (0 outside).
 * x is (C, H, W) contiguous; col is (C*KH*KW, OH*OW) with leading dimension ldcol >= OH*OW. */
void shr_im2col_f32(const shr_conv_geom *g, const float *x, float *col, int ldcol);
/* The adjoint: x[...] += col[...] (accumulates). */
void shr_col2im_f32(const shr_conv_geom *g, const float *col, int ldcol, float *x);
/* Depthwise convolution of one (image, channel) plane: y (OH, OW) = clamp(bias + sum over
 * the KH x KW taps w[kh*KW + kw] * x (H, W) at the geometry g (g->C is ignored), lo, hi).
 * Floats within rounding of the reference (FMA vs separate multiply-add). */
void shr_dwconv_plane_f32(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                          float *y);
void shr_dwconv_plane_f32_ref(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                              float *y);
void shr_dwconv_plane_f32_avx2(const shr_conv_geom *g, const float *x, const float *w, float bias, float lo, float hi,
                               float *y);

/* Plain references of the two, and the vectorized builds (bit-identical results). */
void shr_im2col_f32_avx2(const shr_conv_geom *g, const float *x, float *col, int ldcol);
void shr_col2im_f32_avx2(const shr_conv_geom *g, const float *col, int ldcol, float *x);
void shr_im2col_f32_ref(const shr_conv_geom *g, const float *x, float *col, int ldcol);
void shr_col2im_f32_ref(const shr_conv_geom *g, const float *col, int ldcol, float *x);

/* Implicit convolution with the output channels in the vector lanes (convt*.c):
 *   y[o * ldy + p] = clamp(bias[o] + sum_k w[o][k] * x[pix[p] + boff[k]], lo, hi)
 * for o < OC and output pixels p0 <= p < p1 (shr_convt_f32: all P, threads over pixels).
 * x: the zero-padded (phase) input planes; pix[p]: offset of output pixel p's window; boff[k]:
 * offset of tap k (channel, kh, kw). wp: the weights w (OC x K, row stride ldw) packed by
 * shr_convt_pack_f32 (shr_convt_packed_floats(OC, K) floats, 32-byte aligned). Each element
 * is one FMA chain over k ascending (fmaf in the reference): bit-identical everywhere.
 * bias may be NULL; NaN passes the clamp. */
/* The input side for a geometry g with SH == SW = S <= 4 (g->C = channels of one group):
 * each channel's zero-padded plane split into S x S phase planes of Hq x Wq
 * (shr_convt_dims; rows h = S*hq + ph - PT, columns w = S*wq + pw - PL of x; only the phases
 * some tap reads are written), shr_convt_planes_floats(g) floats; boff (C*KH*KW) and pix
 * (OH*OW) the matching tap and output-pixel offsets. */
void shr_convt_dims(const shr_conv_geom *g, int *Hq, int *Wq);
/* Whether the implicit kernel beats im2col + GEMM for K taps and OC filters (measured). */
int shr_convt_worth(int K, int OC);
size_t shr_convt_planes_floats(const shr_conv_geom *g);
void shr_convt_planes_f32(const shr_conv_geom *g, const float *x, float *xp);
/* One row of a phase plane: dst[0, q0) = 0, dst[q] = src[(q - q0) * S] for q0 <= q < q1,
 * dst[q1, Wq) = 0; src has `avail` readable floats (>= (q1 - q0 - 1) * S + 1 when q1 > q0). */
void shr_convt_row_ref(float *dst, const float *src, int q0, int q1, int Wq, int S, int avail);
void shr_convt_row_avx2(float *dst, const float *src, int q0, int q1, int Wq, int S, int avail);
void shr_convt_offsets(const shr_conv_geom *g, long *boff, int *pix);
size_t shr_convt_packed_floats(int OC, int K);
void shr_convt_pack_f32(int OC, int K, const float *w, long ldw, float *wp);
void shr_convt_pack_f32_ref(int OC, int K, const float *w, long ldw, float *wp);
void shr_convt_pack_f32_avx2(int OC, int K, const float *w, long ldw, float *wp);
void shr_convt_f32(int OC, int P, int K, const float *wp, const float *x, const int *pix, const long *boff,
                   const float *bias, float lo, float hi, float *y, long ldy);
/* The same for a whole output plane (pix[p] = oh * Wq + ow, p = oh * OW + ow, as
 * shr_convt_offsets gives it): with few taps (< 64) the pixel-lanes kernel (4 channels x 16
 * pixels of a row, vectors stored straight into y; threads over rows), else shr_convt_f32.
 * Same bits either way. */
void shr_convt_rows_f32(int OC, int OH, int OW, int Wq, int K, const float *wp, const float *x, const int *pix,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy);
void shr_convp_f32_avx2(int OC, int oh0, int oh1, int OW, int Wq, int K, const float *wp, const float *x,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy);
void shr_convt_f32_ref(int OC, int p0, int p1, int K, const float *wp, const float *x, const int *pix,
                       const long *boff, const float *bias, float lo, float hi, float *y, long ldy);
void shr_convt_f32_avx2(int OC, int p0, int p1, int K, const float *wp, const float *x, const int *pix,
                        const long *boff, const float *bias, float lo, float hi, float *y, long ldy);

#endif
