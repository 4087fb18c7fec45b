/* int8 weight-only GEMV: reference, dispatch and threads (over row blocks of 4). */
#ifdef _OPENMP
#include <omp.h>
#endif

#include <stddef.h>

#include "core/cpu.h"
#include "quant/w8.h"

#define W8_PAR_MIN (1L << 16) /* weights below which a second thread costs more than it saves */

void shr_w8_gemv_ref(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                     const float *bias, float *y) {
    for (int n = 0; n < N; n++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s += (float)W[(long)n * ldw + k] * x[k];
        y[n] = s * scale[per_channel ? n : 0] + (bias ? bias[n] : 0.0f);
    }
}

void shr_w8_gemv(int N, int K, const int8_t *W, long ldw, const float *scale, int per_channel, const float *x,
                 const float *bias, float *y) {
    if (N <= 0) return;
    void (*fn)(int, int, const int8_t *, long, const float *, int, const float *, const float *, float *) =
        shr_cpu_has_avx2_fma() ? shr_w8_gemv_avx2 : shr_w8_gemv_ref;
    int nthr = 1, blocks = (N + 3) / 4;
#ifdef _OPENMP
    nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
    if (nthr > blocks) nthr = blocks;
    if (nthr <= 1 || (long)N * K < W8_PAR_MIN) {
        fn(N, K, W, ldw, scale, per_channel, x, bias, y);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(nthr)
    for (int p = 0; p < nthr; p++) {
        int lo = (int)((long)blocks * p / nthr) * 4, hi = (int)((long)blocks * (p + 1) / nthr) * 4;
        if (hi > N) hi = N;
        if (hi > lo)
            fn(hi - lo, K, W + (long)lo * ldw, ldw, per_channel ? scale + lo : scale, per_channel, x,
               bias ? bias + lo : NULL, y + lo);
    }
}

void shr_w8_dequant_rows(const int8_t *W, long ldw, const float *scale, int per_channel, int n0, int nb, int K,
                         float *T, long ldt) {
    for (int j = 0; j < nb; j++) {
        float s = scale[per_channel ? n0 + j : 0];
        const int8_t *w = W + (long)(n0 + j) * ldw;
        for (int k = 0; k < K; k++) T[(long)j * ldt + k] = s * (float)w[k];
    }
}
