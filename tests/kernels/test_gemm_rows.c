/* Implicit GEMM (shr_gemm_f32_rows: row k of B at B + boff[k]): against the plain-C reference
 * within test_gemm.c's tolerance, bit-identical to shr_gemm_f32_ex on the materialized B (the
 * same FMA sequence, which is what makes an implicit convolution equal its im2col form), the
 * same bits on 1 and 2 threads; shapes across the micro-tile edges and the K-block boundary,
 * offsets that overlap (shifted windows of one buffer, as a convolution's taps are) and that
 * jump around, with and without the epilogue. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t rng_state = 777u;
static uint32_t urand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
static float frand(void) { return (float)urand() * (2.0f / 16777216.0f) - 1.0f; }

/* One problem; returns 1 when every check passes. overlap: row k starts k * step floats in
 * (step < N: windows overlap); otherwise random starts. */
static int check(int M, int N, int K, int overlap, int with_ep) {
    long span = overlap ? (long)K * 3 + N + 8 : (long)K * 4 + N + 64;
    float *X = shr_alloc((size_t)span * 4), *A = shr_alloc((size_t)M * K * 4 + 4), *Bm = shr_alloc((size_t)K * N * 4 + 4);
    float *C1 = shr_alloc((size_t)M * N * 4 + 4), *C2 = shr_alloc((size_t)M * N * 4 + 4);
    float *C3 = shr_alloc((size_t)M * N * 4 + 4), *R = shr_alloc((size_t)M * N * 4 + 4), *bias = shr_alloc((size_t)M * 4 + 4);
    long *boff = shr_alloc((size_t)K * sizeof(long) + 8);
    int ok = X && A && Bm && C1 && C2 && C3 && R && bias && boff;
    if (ok) {
        for (long i = 0; i < span; i++) X[i] = frand();
        for (long i = 0; i < (long)M * K; i++) A[i] = frand();
        for (int i = 0; i < M; i++) bias[i] = frand();
        for (int k = 0; k < K; k++) boff[k] = overlap ? (long)k * 3 : (long)(urand() % (unsigned)(span - N));
        for (int k = 0; k < K; k++) memcpy(Bm + (long)k * N, X + boff[k], (size_t)N * 4);
        shr_gemm_epilogue ep = {bias, 1, -0.5f, 0.75f};
        const shr_gemm_epilogue *e = with_ep ? &ep : NULL;
        int saved = shr_get_threads();
        shr_set_threads(1);
        shr_gemm_f32_rows(M, N, K, A, K, X, boff, C1, N, e);
        shr_gemm_f32_ex(0, 0, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C2, N, e);
        shr_set_threads(2);
        shr_gemm_f32_rows(M, N, K, A, K, X, boff, C3, N, e);
        shr_set_threads(saved);
        shr_gemm_f32_rows_ref(M, N, K, A, K, X, boff, R, N, e);
        int same_ex = memcmp(C1, C2, (size_t)M * N * 4) == 0, same_thr = memcmp(C1, C3, (size_t)M * N * 4) == 0;
        int close = 1;
        for (int i = 0; i < M && close; i++)
            for (int j = 0; j < N; j++) {
                double mag = 0.0;
                for (int k = 0; k < K; k++) mag += fabs((double)A[(long)i * K + k] * X[boff[k] + j]);
                double bound = 1e-6 * (sqrt((double)K) + 2) * mag + 1e-30;
                if (fabs((double)C1[(long)i * N + j] - R[(long)i * N + j]) > bound) close = 0;
            }
        /* the AVX2 kernel alone is the materialized GEMM's twin only where it runs */
        if (!shr_cpu_has_avx2_fma()) same_ex = 1;
        CHECK_MSG(same_ex && same_thr && close, "M=%d N=%d K=%d overlap=%d ep=%d: same as ex %d, 1 vs 2 threads %d, "
                  "near ref %d", M, N, K, overlap, with_ep, same_ex, same_thr, close);
        ok = same_ex && same_thr && close;
    }
    shr_free(X), shr_free(A), shr_free(Bm), shr_free(C1), shr_free(C2), shr_free(C3), shr_free(R), shr_free(bias);
    shr_free(boff);
    return ok;
}

static void test_shapes(void) {
    int ok = 1;
    const int others[4] = {1, 7, 16, 67};
    for (int d = 1; d <= 67 && ok; d++)
        for (int o = 0; o < 4 && ok; o++) {
            int t = d * 4 + o;
            ok = check(d, others[o], 1 + t % 40, t % 2, t % 3 != 0) && check(others[o], d, 9 + t % 30, t % 2, t % 3 == 0) &&
                 check(others[(o + 1) % 4], others[o], d, (t + 1) % 2, t % 2);
        }
    CHECK(ok);
}

/* Convolution-like problems: many columns (threads split them), K past one K block. */
static void test_conv_like(void) {
    CHECK(check(16, 840, 144, 1, 1));
    CHECK(check(32, 224, 288, 1, 1));
    CHECK(check(6, 1000, 600, 0, 0));
    CHECK(check(13, 129, 257, 0, 1));
}

int main(void) {
    RUN(test_shapes);
    RUN(test_conv_like);
    return test_summary();
}
