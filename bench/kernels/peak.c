/* The machine's limits, measured in the same run as the kernels: fp32 FMA throughput (ten
 * independent accumulator chains of 8-lane FMAs, enough to cover latency x issue rate) and
 * single-thread memory read bandwidth over 256 MiB (far beyond L3). */
#include <immintrin.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_common.h"
#include "bench_rows.h"
#include "core/cpu.h"
#include "shrink/tensor.h"

/* 10 independent chains x 8 lanes x 2 flops per iteration (named registers: an array may
 * be kept in memory); returns a value so nothing is optimized out. */
#define FMA10(m, c)                                                                                \
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c), \
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c), \
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c), \
    a9 = _mm256_fmadd_ps(a9, m, c)
__attribute__((target("avx2,fma"))) static float fma_loop(long iters) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f), a3 = _mm256_set1_ps(3.f);
    __m256 a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f), a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f);
    __m256 a8 = _mm256_set1_ps(8.f), a9 = _mm256_set1_ps(9.f);
    for (long it = 0; it < iters; it++) FMA10(m, c);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

volatile float bench_sink;

double bench_fma_peak_gflops(int threads) {
    if (!shr_cpu_has_avx2_fma()) return 0.0;
    const long iters = 20000000; /* 3.2 GFLOP per thread */
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bench_now(threads);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        { bench_sink = fma_loop(iters); }
        double g = 160.0 * iters * threads / (bench_now(threads) - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

__attribute__((target("avx2"))) static double read_pass(const float *p, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    return out[0];
}

double bench_mem_read_gbs(void) {
    if (!shr_cpu_has_avx2_fma()) return 0.0;
    size_t n = (size_t)64 << 20; /* 256 MiB of floats */
    float *p = shr_alloc(n * sizeof *p);
    if (!p) return 0.0;
    for (size_t i = 0; i < n; i++) p[i] = 1.0f;
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now(1);
        bench_sink = (float)read_pass(p, n);
        double g = (double)n * sizeof *p / (bench_now(1) - t0) * 1e-9;
        if (g > best) best = g;
    }
    shr_free(p);
    return best;
}
