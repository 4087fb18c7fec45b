/* GEMM fused epilogue (bias per row / per column, ReLU / ReLU6 / no clamp) and the narrow-
 * output path: AVX2 kernel and dispatch against the reference on shapes 1..67 with padded
 * leading dimensions and misaligned pointers; the epilogue sees NaN unchanged; the narrow
 * path (N <= 12, computed transposed) is bit-identical to the direct AVX2 kernel and to
 * itself across thread counts. Tolerance as in test_gemm.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t rng_state = 4242u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

typedef void (*gemm_ex)(int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int,
                        const shr_gemm_epilogue *);

static const float CLAMPS[3][2] = {{-INFINITY, INFINITY}, {0.0f, INFINITY}, {0.0f, 0.5f}};

/* One problem; returns 1 when `fn` agrees with the reference. */
static int check(gemm_ex fn, int tA, int tB, int M, int N, int K, int pad, int off, int bias_kind, int clamp,
                 float beta) {
    int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(tA ? K : M) * lda + off, nb = (size_t)(tB ? N : K) * ldb + off, nc = (size_t)M * ldc + off;
    float *A = shr_alloc(na * 4), *B = shr_alloc(nb * 4), *C = shr_alloc(nc * 4), *R = shr_alloc(nc * 4);
    float *bias = shr_alloc((size_t)(M > N ? M : N) * 4);
    int ok = A && B && C && R && bias;
    if (ok) {
        for (size_t i = 0; i < na; i++) A[i] = frand();
        for (size_t i = 0; i < nb; i++) B[i] = frand();
        for (size_t i = 0; i < nc; i++) C[i] = R[i] = frand();
        for (int i = 0; i < (M > N ? M : N); i++) bias[i] = frand();
        shr_gemm_epilogue ep = {bias_kind ? bias : NULL, bias_kind == 2, CLAMPS[clamp][0], CLAMPS[clamp][1]};
        shr_gemm_f32_ex_ref(tA, tB, M, N, K, 0.75f, A + off, lda, B + off, ldb, beta, R + off, ldc, &ep);
        fn(tA, tB, M, N, K, 0.75f, A + off, lda, B + off, ldb, beta, C + off, ldc, &ep);
        for (int i = 0; i < M && ok; i++)
            for (int j = 0; j < ldc && ok; j++) {
                size_t ij = off + (size_t)i * ldc + j;
                if (j >= N) {
                    ok = C[ij] == R[ij]; /* padding untouched (both hold the same fill) */
                    continue;
                }
                double bound = 2.0 + fabs(beta) * 1.0 + (bias_kind ? 1.0 : 0.0);
                for (int k = 0; k < K; k++) {
                    double a = tA ? A[off + (size_t)k * lda + i] : A[off + (size_t)i * lda + k];
                    double b = tB ? B[off + (size_t)j * ldb + k] : B[off + (size_t)k * ldb + j];
                    bound += fabs(a * b);
                }
                ok = fabs((double)C[ij] - R[ij]) <= 1e-6 * (sqrt((double)K) + 2) * bound;
            }
        if (!ok)
            fprintf(stderr, "epilogue mismatch tA=%d tB=%d M=%d N=%d K=%d bias=%d clamp=%d beta=%g\n", tA, tB, M, N, K,
                    bias_kind, clamp, (double)beta);
    }
    shr_free(A), shr_free(B), shr_free(C), shr_free(R), shr_free(bias);
    return ok;
}

static void test_grid(void) {
    gemm_ex fns[2] = {shr_gemm_f32_ex, shr_cpu_has_avx2_fma() ? shr_gemm_f32_ex_avx2 : shr_gemm_f32_ex_ref};
    int ok = 1, t = 0;
    const int others[4] = {1, 7, 16, 67};
    for (int f = 0; f < 2; f++)
        for (int d = 1; d <= 67 && ok; d++)
            for (int o = 0; o < 4 && ok; o++, t++) {
                int tA = t & 1, tB = (t >> 1) & 1, bias_kind = t % 3, clamp = (t / 3) % 3, pad = t % 3, off = t % 4;
                float beta = (t % 5 == 0) ? 0.5f : 0.0f;
                ok = check(fns[f], tA, tB, d, others[o], 33, pad, off, bias_kind, clamp, beta) &&
                     check(fns[f], tA, tB, others[o], d, 300, pad, off, bias_kind, clamp, beta) &&
                     check(fns[f], tA, tB, others[(o + 1) % 4], others[o], d, pad, off, bias_kind, clamp, beta);
            }
    CHECK(ok);
    /* K == 0: C = beta * C + bias, clamped. */
    CHECK(check(shr_gemm_f32_ex, 0, 0, 5, 9, 0, 1, 1, 1, 1, 0.5f));
}

static void test_nan_passes_clamp(void) {
    float A[4] = {NAN, 1, 1, 1}, B[4] = {1, 1, 1, 1}, C[4], bias[2] = {0, 0};
    shr_gemm_epilogue ep = {bias, 0, 0.0f, 6.0f};
    shr_gemm_f32_ex(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, &ep);
    CHECK(isnan(C[0]) && isnan(C[1]));
    CHECK(C[2] == 2.0f && C[3] == 2.0f);
}

/* Narrow outputs (N <= 12): with B not transposed the dispatch computes the transposed
 * problem — the same arithmetic, bit-identical to the direct single-threaded kernel; in the
 * Linear layout (B transposed) it runs dot products — not bit-identical to the packed kernel
 * (the tolerance grid covers it) but independent of the thread count. Both: 1 and 2 threads
 * give the same bits. */
static void test_narrow_bit_identical(void) {
    if (!shr_cpu_has_avx2_fma()) return;
    const int Ms[3] = {64, 200, 1000}, Ns[3] = {1, 10, 12}, Ks[3] = {9, 300, 1152};
    int ok = 1;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int M = Ms[a], N = Ns[b], K = Ks[(a + b) % 3];
            float *X = shr_alloc((size_t)M * K * 4), *W = shr_alloc((size_t)N * K * 4), *bias = shr_alloc(64);
            float *C0 = shr_alloc((size_t)M * N * 4), *C1 = shr_alloc((size_t)M * N * 4), *C2 = shr_alloc((size_t)M * N * 4);
            if (!X || !W || !bias || !C0 || !C1 || !C2) ok = 0;
            if (ok) {
                for (long i = 0; i < (long)M * K; i++) X[i] = frand();
                for (long i = 0; i < (long)N * K; i++) W[i] = frand();
                for (int i = 0; i < N; i++) bias[i] = frand();
                shr_gemm_epilogue ep = {bias, 0, 0.0f, INFINITY};
                /* B not transposed: W read as (K x N), row stride N */
                shr_gemm_f32_ex_avx2(0, 0, M, N, K, 1.0f, X, K, W, N, 0.0f, C0, N, &ep);
                shr_set_threads(1);
                shr_gemm_f32_ex(0, 0, M, N, K, 1.0f, X, K, W, N, 0.0f, C1, N, &ep);
                shr_set_threads(2);
                shr_gemm_f32_ex(0, 0, M, N, K, 1.0f, X, K, W, N, 0.0f, C2, N, &ep);
                ok = ok && !memcmp(C0, C1, (size_t)M * N * 4) && !memcmp(C0, C2, (size_t)M * N * 4);
                /* Linear layout: dot products, same bits for any thread count */
                shr_set_threads(1);
                shr_gemm_f32_ex(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C1, N, &ep);
                shr_set_threads(2);
                shr_gemm_f32_ex(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, C2, N, &ep);
                ok = ok && !memcmp(C1, C2, (size_t)M * N * 4);
            }
            shr_free(X), shr_free(W), shr_free(bias), shr_free(C0), shr_free(C1), shr_free(C2);
        }
    CHECK(ok);
}

int main(void) {
    RUN(test_grid);
    RUN(test_nan_passes_clamp);
    RUN(test_narrow_bit_identical);
    return test_summary();
}
