/* Plain-C references of the int4 weight-only GEMV and GEMM (int4.h): single thread, one
 * float accumulator per group summed in k order, scaled once per group. */
#include "kernels/int4.h"
#include "shrink/tensor.h"

void shr_i4_gemv_ref(const shr_i4_mat *W, const float *x, const float *bias, float *y) {
    for (int n = 0; n < W->N; n++) {
        const uint8_t *q = W->q + (long)n * W->ldq;
        const float *s = W->scale + (long)n * W->ngroups;
        const int8_t *z = W->zero ? W->zero + (long)n * W->ngroups : NULL;
        float acc = 0.0f;
        for (int g = 0; g < W->ngroups; g++) {
            int k0 = g * W->group, k1 = W->K - k0 < W->group ? W->K : k0 + W->group;
            int zg = z ? z[g] : 0;
            float a = 0.0f;
            for (int k = k0; k < k1; k++) a += (float)(shr_i4_get(q, k) - zg) * x[k];
            acc += s[g] * a;
        }
        y[n] = bias ? acc + bias[n] : acc;
    }
}

void shr_i4_gemm_ref(int M, const float *X, long ldx, const shr_i4_mat *W, const float *bias, float *Y,
                     long ldy) {
    for (int m = 0; m < M; m++) shr_i4_gemv_ref(W, X + (long)m * ldx, bias, Y + (long)m * ldy);
}

void shr_i4_dequant_t_ref(const shr_i4_mat *W, int n0, int nb, int k0, int kb, float *T, long ldt) {
    for (int j = 0; j < nb; j++) {
        const uint8_t *q = W->q + (long)(n0 + j) * W->ldq;
        for (int k = k0; k < k0 + kb; k++) {
            long gi = (long)(n0 + j) * W->ngroups + k / W->group;
            int z = W->zero ? W->zero[gi] : 0;
            T[(long)(k - k0) * ldt + j] = (float)(shr_i4_get(q, k) - z) * W->scale[gi];
        }
    }
}
