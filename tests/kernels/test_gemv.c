/* fp32 GEMV: AVX2 kernel and threaded dispatch against the reference for N, K in 1..67 (and
 * a few larger), padded row strides, misaligned pointers, with and without bias; the result
 * must not depend on the thread count. Tolerance as in test_gemm.c: 1e-6 (sqrt(K) + 2)
 * times sum_k |w x| (both sides round K products in different orders). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t rng_state = 777u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

typedef void (*gemv_fn)(int, int, const float *, long, const float *, const float *, float *);

static int check_one(gemv_fn fn, int N, int K, int pad, int off, int with_bias) {
    long ldw = K + pad;
    size_t nw = (size_t)N * ldw + off + 8;
    float *bw = shr_alloc(nw * sizeof(float)), *bx = shr_alloc((size_t)(K + off + 8) * sizeof(float));
    float *by = shr_alloc((size_t)(N + off + 8) * sizeof(float)), *yr = shr_alloc((size_t)N * sizeof(float));
    float *bias = shr_alloc((size_t)N * sizeof(float));
    int bad = !bw || !bx || !by || !yr || !bias;
    if (!bad) {
        float *W = bw + off, *x = bx + off, *y = by + off;
        for (size_t i = 0; i + off < nw; i++) W[i] = frand();
        for (int i = 0; i < K; i++) x[i] = frand();
        for (int i = 0; i < N; i++) bias[i] = frand();
        for (int i = 0; i < N + 8; i++) y[i] = 12345.0f;
        shr_gemv_f32_ref(N, K, W, ldw, x, with_bias ? bias : NULL, yr);
        fn(N, K, W, ldw, x, with_bias ? bias : NULL, y);
        for (int n = 0; n < N && !bad; n++) {
            double bound = with_bias ? fabs(bias[n]) : 0.0;
            for (int k = 0; k < K; k++) bound += fabs((double)W[(long)n * ldw + k] * x[k]);
            if (fabs((double)y[n] - yr[n]) > 1e-6 * (sqrt((double)K) + 2) * bound + 1e-30) bad = 1;
        }
        for (int i = N; i < N + 8; i++) bad |= y[i] != 12345.0f; /* nothing written past N */
    }
    shr_free(bw), shr_free(bx), shr_free(by), shr_free(yr), shr_free(bias);
    if (bad) fprintf(stderr, "gemv mismatch N=%d K=%d pad=%d off=%d bias=%d\n", N, K, pad, off, with_bias);
    return !bad;
}

static void test_grid(void) {
    gemv_fn fns[2] = {shr_gemv_f32, shr_cpu_has_avx2_fma() ? shr_gemv_f32_avx2 : shr_gemv_f32_ref};
    int ok = 1;
    for (int f = 0; f < 2; f++)
        for (int N = 1; N <= 67 && ok; N++)
            for (int K = 1; K <= 67 && ok; K++) ok = check_one(fns[f], N, K, (N + K) % 3, (N * 7 + K) % 5, (N + K) & 1);
    CHECK(ok);
    const int big[][2] = {{1024, 1024}, {300, 784}, {10, 300}, {4099, 33}, {7, 5000}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) CHECK(check_one(shr_gemv_f32, big[i][0], big[i][1], 5, 3, 1));
}

/* Rows are split across threads in whole blocks: 1 and 2 threads agree bit for bit. */
static void test_threads_bit_identical(void) {
    int N = 1000, K = 700;
    float *W = shr_alloc((size_t)N * K * sizeof(float)), *x = shr_alloc((size_t)K * sizeof(float));
    float *y1 = shr_alloc((size_t)N * sizeof(float)), *y2 = shr_alloc((size_t)N * sizeof(float));
    CHECK(W && x && y1 && y2);
    if (W && x && y1 && y2) {
        for (long i = 0; i < (long)N * K; i++) W[i] = frand();
        for (int i = 0; i < K; i++) x[i] = frand();
        shr_set_threads(1);
        shr_gemv_f32(N, K, W, K, x, NULL, y1);
        shr_set_threads(2);
        shr_gemv_f32(N, K, W, K, x, NULL, y2);
        CHECK(memcmp(y1, y2, (size_t)N * sizeof(float)) == 0);
    }
    shr_free(W), shr_free(x), shr_free(y1), shr_free(y2);
}

int main(void) {
    RUN(test_grid);
    RUN(test_threads_bit_identical);
    return test_summary();
}
