/* Plain-C reference GEMM: C[M,N] = alpha * op(A) op(B) + beta * C, row-major, then the
 * optional epilogue (bias, clamp). Sums each C element over k in increasing order (f32). */
#include "kernels/kernels.h"

void shr_gemm_f32_ex_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, const shr_gemm_epilogue *ep) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = transB ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            float v = (beta == 0.0f) ? alpha * acc : alpha * acc + beta * *c;
            if (ep) {
                if (ep->bias) v += ep->bias[ep->bias_per_row ? i : j];
                v = v < ep->lo ? ep->lo : v; /* comparisons keep NaN */
                v = v > ep->hi ? ep->hi : v;
            }
            *c = v;
        }
    }
}

void shr_gemm_f32_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    shr_gemm_f32_ex_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}
