/* fp32 GEMV dispatch: AVX2 when available; rows split over OpenMP threads in blocks of 4
 * rows (each row's result does not depend on the split). */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "kernels/kernels.h"

/* Below this many weights a second thread costs more than it saves (~L2-resident rows). */
#define GEMV_PAR_MIN 65536L

void shr_gemv_f32(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y) {
    if (N <= 0) return;
    void (*fn)(int, int, const float *, long, const float *, const float *, float *) =
        shr_cpu_has_avx2_fma() ? shr_gemv_f32_avx2 : shr_gemv_f32_ref;
#ifdef _OPENMP
    int nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    int blocks = (N + 3) / 4;
    if (nthr > blocks) nthr = blocks;
    if (nthr > 1 && (long)N * K >= GEMV_PAR_MIN) {
#pragma omp parallel for schedule(static) num_threads(nthr)
        for (int p = 0; p < nthr; p++) {
            int lo = (int)((long)blocks * p / nthr) * 4, hi = (int)((long)blocks * (p + 1) / nthr) * 4;
            if (hi > N) hi = N;
            fn(hi - lo, K, W + (long)lo * ldw, ldw, x, bias ? bias + lo : NULL, y + lo);
        }
        return;
    }
#endif
    fn(N, K, W, ldw, x, bias, y);
}
