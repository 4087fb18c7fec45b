/* GEMM throughput: GFLOP/s (2*M*N*K / time, median of repeats) of the reference (small
 * shapes only), the AVX2 kernel on 1 thread and shr_gemm_f32 on 1 and 2 threads, at square
 * sizes and at the shapes shrink's training uses. A benchmark, not a test.
 * Usage: bench_gemm [repeats]   (default 15) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"

typedef struct shape {
    const char *what;
    int tA, tB, M, N, K;
} shape;

static const shape shapes[] = {
    {"square", 0, 0, 512, 512, 512},
    {"square", 0, 0, 1024, 1024, 1024},
    {"fc fwd X W^T", 0, 1, 64, 300, 784},
    {"fc fwd X W", 0, 0, 64, 300, 784},
    {"fc bwd dY W", 0, 0, 64, 784, 300},
    {"fc bwd dY W^T", 0, 1, 64, 784, 300},
    {"fc dW dY^T X", 1, 0, 300, 784, 64},
    {"fc dW X^T dY", 1, 0, 784, 300, 64},
    {"conv1 W col", 0, 0, 32, 784, 9},
    {"conv2 W col", 0, 0, 64, 196, 288},
    {"conv3 W col", 0, 0, 64, 49, 576},
    {"conv2 dW dY col^T", 0, 1, 64, 288, 196},
    {"conv2 dcol W^T dY", 1, 0, 288, 196, 64},
    {"fc2 fwd", 0, 1, 64, 10, 300},
    {"batch-1 fwd", 0, 1, 1, 300, 784},
};

typedef enum { IMPL_REF, IMPL_AVX2, IMPL_DISPATCH } impl;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void call(impl which, const shape *s, const float *A, const float *B, float *C) {
    int lda = s->tA ? s->M : s->K, ldb = s->tB ? s->K : s->N;
    if (which == IMPL_REF)
        shr_gemm_f32_ref(s->tA, s->tB, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    else if (which == IMPL_AVX2)
        shr_gemm_f32_avx2(s->tA, s->tB, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    else
        shr_gemm_f32(s->tA, s->tB, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
}

/* Median GFLOP/s; each timed sample runs enough calls to last about 2 ms. */
static double measure(impl which, const shape *s, const float *A, const float *B, float *C, int repeats) {
    double flops = 2.0 * s->M * s->N * s->K;
    call(which, s, A, B, C); /* warm caches and buffers */
    int inner = 1;
    double t0 = now();
    call(which, s, A, B, C);
    double once = now() - t0;
    if (once < 2e-3) inner = (int)(2e-3 / (once > 1e-7 ? once : 1e-7)) + 1;
    double *g = malloc((size_t)repeats * sizeof *g);
    if (!g) return 0.0;
    for (int r = 0; r < repeats; r++) {
        t0 = now();
        for (int i = 0; i < inner; i++) call(which, s, A, B, C);
        g[r] = flops * inner / (now() - t0) * 1e-9;
    }
    qsort(g, (size_t)repeats, sizeof *g, cmp_double);
    double med = g[repeats / 2];
    free(g);
    return med;
}

/* About half a second of work on both cores first, so clocks have ramped up before the
 * first measurement. */
static void warm_up(void) {
    const shape s = {"warm-up", 0, 0, 256, 256, 256};
    size_t n = 256 * 256;
    float *A = shr_alloc(n * sizeof *A), *B = shr_alloc(n * sizeof *B), *C = shr_alloc(n * sizeof *C);
    if (A && B && C) {
        shr_set_threads(2);
        double t0 = now();
        while (now() - t0 < 0.5) call(IMPL_DISPATCH, &s, A, B, C);
    }
    shr_free(A);
    shr_free(B);
    shr_free(C);
}

int main(int argc, char **argv) {
    int repeats = argc > 1 ? atoi(argv[1]) : 15;
    if (repeats < 1) repeats = 1;
    int have_avx2 = shr_cpu_has_avx2_fma();
    warm_up();
    printf("kernels: %s, repeats: %d (median GFLOP/s)\n", shr_cpu_features(), repeats);
    printf("%-20s %2s %2s %5s %5s %5s %8s %8s %8s %8s\n", "shape", "tA", "tB", "M", "N", "K", "ref", "avx2-1t",
           "disp-1t", "disp-2t");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = shr_alloc(na * sizeof *A), *B = shr_alloc(nb * sizeof *B), *C = shr_alloc(nc * sizeof *C);
        if (!A || !B || !C) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        for (size_t j = 0; j < na; j++) A[j] = (float)((j * 7 + 3) % 13) * 0.1f - 0.6f;
        for (size_t j = 0; j < nb; j++) B[j] = (float)((j * 5 + 1) % 11) * 0.1f - 0.5f;
        double work = (double)s->M * s->N * s->K;
        char ref[16] = "-", avx[16] = "-", d1[16], d2[16];
        if (work <= 4e7) snprintf(ref, sizeof ref, "%.2f", measure(IMPL_REF, s, A, B, C, repeats));
        if (have_avx2) snprintf(avx, sizeof avx, "%.2f", measure(IMPL_AVX2, s, A, B, C, repeats));
        shr_set_threads(1);
        snprintf(d1, sizeof d1, "%.2f", measure(IMPL_DISPATCH, s, A, B, C, repeats));
        shr_set_threads(2);
        snprintf(d2, sizeof d2, "%.2f", measure(IMPL_DISPATCH, s, A, B, C, repeats));
        printf("%-20s %2d %2d %5d %5d %5d %8s %8s %8s %8s\n", s->what, s->tA, s->tB, s->M, s->N, s->K, ref, avx,
               d1, d2);
        fflush(stdout);
        shr_free(A);
        shr_free(B);
        shr_free(C);
    }
    return 0;
}
