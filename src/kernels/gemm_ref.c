/* Plain-C reference GEMM: C[M,N] = alpha * op(A) op(B) + beta * C, row-major.
 * Sums each C element over k in increasing order (double-free, f32 accumulate). */
#include "kernels/kernels.h"

void shr_gemm_f32_ref(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = transB ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = (beta == 0.0f) ? alpha * acc : alpha * acc + beta * *c;
        }
    }
}
