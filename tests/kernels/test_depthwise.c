/* Depthwise plane kernel: AVX2 and dispatch against the reference over kernel sizes 1..5,
 * strides 1..3, paddings 0..2, dilations 1..2, planes 1..67 wide/high, clamps; padded
 * output guard untouched. Tolerance: 1e-6 * (sqrt(taps) + 2) * (|bias| + sum |w x|). */
#include <math.h>
#include <stdint.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "test.h"

static uint32_t rng_state = 99u;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

typedef void (*dw_fn)(const shr_conv_geom *, const float *, const float *, float, float, float, float *);

static int check(dw_fn fn, int H, int W, int K, int S, int P, int D, int relu) {
    shr_conv_geom g = {1, H, W, K, K, S, S, P, P, D, D, 0, 0};
    g.OH = (H + 2 * P - D * (K - 1) - 1) / S + 1;
    g.OW = (W + 2 * P - D * (K - 1) - 1) / S + 1;
    if (g.OH < 1 || g.OW < 1) return 1;
    size_t ny = (size_t)g.OH * g.OW;
    float *x = shr_alloc((size_t)H * W * 4 + 4), *w = shr_alloc((size_t)K * K * 4);
    float *y = shr_alloc((ny + 8) * 4), *r = shr_alloc(ny * 4);
    int ok = x && w && y && r;
    if (ok) {
        for (int i = 0; i < H * W; i++) x[i + 1] = frand(); /* x + 1: misaligned */
        for (int i = 0; i < K * K; i++) w[i] = frand();
        for (size_t i = 0; i < ny + 8; i++) y[i] = 777.0f;
        float bias = frand(), lo = relu ? 0.0f : -INFINITY, hi = relu == 2 ? 0.25f : INFINITY;
        shr_dwconv_plane_f32_ref(&g, x + 1, w, bias, lo, hi, r);
        fn(&g, x + 1, w, bias, lo, hi, y);
        for (size_t i = 0; i < ny && ok; i++) {
            int oh = (int)(i / g.OW), ow = (int)(i % g.OW);
            double bound = fabs(bias);
            for (int kh = 0; kh < K; kh++)
                for (int kw = 0; kw < K; kw++) {
                    int ih = oh * S - P + kh * D, iw = ow * S - P + kw * D;
                    if (ih >= 0 && ih < H && iw >= 0 && iw < W) bound += fabs(w[kh * K + kw] * x[1 + ih * W + iw]);
                }
            ok = fabs((double)y[i] - r[i]) <= 1e-6 * (K + 2) * bound + 1e-30;
        }
        for (size_t i = ny; i < ny + 8; i++) ok &= y[i] == 777.0f;
        if (!ok) fprintf(stderr, "dw mismatch H=%d W=%d K=%d S=%d P=%d D=%d relu=%d\n", H, W, K, S, P, D, relu);
    }
    shr_free(x), shr_free(w), shr_free(y), shr_free(r);
    return ok;
}

static void test_grid(void) {
    dw_fn fns[2] = {shr_dwconv_plane_f32, shr_cpu_has_avx2_fma() ? shr_dwconv_plane_f32_avx2 : shr_dwconv_plane_f32_ref};
    int ok = 1, t = 0;
    for (int f = 0; f < 2; f++)
        for (int K = 1; K <= 5 && ok; K++)
            for (int S = 1; S <= 3 && ok; S++)
                for (int P = 0; P <= 2 && ok; P++)
                    for (int D = 1; D <= 2 && ok; D++)
                        for (int n = 1; n <= 67 && ok; n += 3, t++)
                            ok = check(fns[f], 1 + (n * 5) % 40, n, K, S, P, D, t % 3) &&
                                 check(fns[f], n, 1 + (n * 7) % 67, K, S, P, D, (t + 1) % 3);
    CHECK(ok);
    CHECK(check(fns[0], 28, 28, 3, 1, 1, 1, 1)); /* the zoo's shapes */
    CHECK(check(fns[0], 28, 28, 3, 2, 1, 1, 2));
    CHECK(check(fns[0], 14, 14, 3, 2, 1, 1, 0));
}

int main(void) {
    RUN(test_grid);
    return test_summary();
}
