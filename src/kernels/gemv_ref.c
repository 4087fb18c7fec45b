/* Plain-C reference of the fp32 GEMV (kernels.h). */
#include "kernels/kernels.h"

void shr_gemv_f32_ref(int N, int K, const float *W, long ldw, const float *x, const float *bias, float *y) {
    for (int n = 0; n < N; n++) {
        const float *w = W + (long)n * ldw;
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += w[k] * x[k];
        y[n] = bias ? acc + bias[n] : acc;
    }
}
