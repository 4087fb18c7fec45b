/* The quantization ops' own kernels against their plain-C twins on awkward shapes: the int8
 * weight-only GEMV (src/quant/w8*.c) and the channels-last max-pooling rows (qpool*). */
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "nn/ops/qpool_rows.h"
#include "quant/w8.h"
#include "shrink/rng.h"
#include "test.h"

static void test_w8_gemv(void) {
    if (!shr_cpu_has_avx2_fma()) {
        fprintf(stderr, "  (no AVX2: reference only)\n");
    }
    shr_rng r;
    shr_rng_seed(&r, 1);
    int bad = 0;
    for (int N = 1; N <= 13; N += 3)
        for (int K = 1; K <= 67; K += 11) {
            long ldw = K + (K % 3); /* padded rows */
            int8_t *W = malloc((size_t)(N * ldw + 1));
            float x[80], s[16], b[16], y0[16], y1[16];
            for (int i = 0; i < N * ldw; i++) W[i] = (int8_t)((int)shr_rng_below(&r, 255) - 127);
            for (int k = 0; k < K; k++) x[k] = shr_rng_normal(&r);
            for (int n = 0; n < N; n++) s[n] = 0.01f + shr_rng_uniform(&r), b[n] = shr_rng_normal(&r);
            for (int pc = 0; pc < 2; pc++) {
                shr_w8_gemv_ref(N, K, W, ldw, s, pc, x, pc ? b : NULL, y0);
                if (shr_cpu_has_avx2_fma()) shr_w8_gemv_avx2(N, K, W, ldw, s, pc, x, pc ? b : NULL, y1);
                else memcpy(y1, y0, sizeof y0);
                for (int n = 0; n < N; n++) {
                    double want = pc ? b[n] : 0.0, mag = fabs(want);
                    for (int k = 0; k < K; k++) {
                        want += (double)s[pc ? n : 0] * W[n * ldw + k] * x[k];
                        mag += fabs((double)s[pc ? n : 0] * W[n * ldw + k] * x[k]);
                    }
                    bad += fabs(y0[n] - want) > 1e-5 * mag + 1e-6 || fabs(y1[n] - want) > 1e-5 * mag + 1e-6;
                }
            }
            free(W);
        }
    CHECK_MSG(bad == 0, "%d outputs off", bad);
}

static void test_qmax_rows(void) {
    shr_rng r;
    shr_rng_seed(&r, 2);
    int bad = 0;
    const int Cs[5] = {1, 6, 31, 32, 67};
    for (int ci = 0; ci < 5; ci++)
        for (int t = 0; t < 3; t++) {
            qpool_cfg c = {9, 7, Cs[ci], 3, 2, 2, 1, 1, 1, 0, 0};
            c.OH = (c.H + 2 * c.PT - c.KH) / c.SH + 1;
            c.OW = (c.W + c.PL - c.KW) / c.SW + 1;
            size_t esz = t == 2 ? 2 : 1, n = (size_t)c.H * c.W * c.C;
            unsigned char *x = malloc(n * esz), *y0 = malloc((size_t)c.OW * c.C * esz), *y1 = malloc((size_t)c.OW * c.C * esz);
            for (size_t i = 0; i < n * esz; i++) x[i] = (unsigned char)shr_rng_below(&r, 256);
            for (int oh = 0; oh < c.OH; oh++) {
                void (*ref)(const qpool_cfg *, const void *, void *, int) =
                    t == 0 ? shr_qmax_row_u8_ref : t == 1 ? shr_qmax_row_i8_ref : shr_qmax_row_i16_ref;
                void (*avx)(const qpool_cfg *, const void *, void *, int) =
                    t == 0 ? shr_qmax_row_u8_avx2 : t == 1 ? shr_qmax_row_i8_avx2 : shr_qmax_row_i16_avx2;
                ref(&c, x, y0, oh);
                if (shr_cpu_has_avx2_fma()) avx(&c, x, y1, oh);
                else memcpy(y1, y0, (size_t)c.OW * c.C * esz);
                bad += memcmp(y0, y1, (size_t)c.OW * c.C * esz) != 0;
            }
            free(x), free(y0), free(y1);
        }
    CHECK_MSG(bad == 0, "%d rows differ", bad);
}

int main(void) {
    RUN(test_w8_gemv);
    RUN(test_qmax_rows);
    return test_summary();
}
