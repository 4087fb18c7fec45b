/* int4 GEMV dispatch (also the GEMM's path for small batches): with AVX2, each x is
 * rearranged once, then rows are split over OpenMP threads in blocks of 4 and every weight is
 * decoded once per 4 vectors; each output's value does not depend on the split. Without
 * AVX2 the reference runs. */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/int4.h"
#include "shrink/tensor.h"

/* Scratch up to this many floats lives on the stack (16 KiB: one x of K <= 4064 at G = 32). */
#define STACK_WORK 4096
/* Below this many weights x vectors a second thread costs more than it saves. */
#define PAR_MIN 131072.0

shr_status shr_i4_gemv_many(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                            long ldy) {
    if (M <= 0 || W->N <= 0) return SHR_OK;
    if (!shr_cpu_has_avx2_fma()) {
        shr_i4_gemm_ref(M, X, ldx, W, bias, Y, ldy);
        return SHR_OK;
    }
    float stack[STACK_WORK];
    size_t per = shr_i4_gemv_avx2_work(W), nw = per * (size_t)M;
    float *work = nw <= STACK_WORK ? stack : shr_alloc(nw * sizeof(float));
    if (!work) return shr_fail(SHR_ERR_NOMEM, "int4 gemv: out of memory for %zu floats of scratch", nw);
    for (int m = 0; m < M; m++) shr_i4_gemv_avx2_prep(W, X + (long)m * ldx, work + (size_t)m * per);
    int N = W->N, nthr = 1;
#ifdef _OPENMP
    nthr = omp_in_parallel() ? 1 : omp_get_max_threads();
    int blocks = (N + 3) / 4;
    if (nthr > blocks) nthr = blocks;
    if ((double)N * W->K * M < PAR_MIN) nthr = 1;
    if (nthr > 1) {
#pragma omp parallel for schedule(static) num_threads(nthr)
        for (int p = 0; p < nthr; p++) {
            int lo = (int)((long)blocks * p / nthr) * 4, hi = (int)((long)blocks * (p + 1) / nthr) * 4;
            shr_i4_gemv_avx2_rows(W, M, lo, hi < N ? hi : N, work, bias, Y, ldy);
        }
    }
#endif
    if (nthr <= 1) shr_i4_gemv_avx2_rows(W, M, 0, N, work, bias, Y, ldy);
    if (work != stack) shr_free(work);
    return SHR_OK;
}

shr_status shr_i4_gemv(const shr_i4_mat *W, const float *x, const float *bias, float *y) {
    return shr_i4_gemv_many(1, x, 0, W, bias, y, 0);
}
