/* Implicit convolution: whole planes through shr_convt_rows_f32 (pixel-lanes kernel for few
 * taps, channel-lanes kernel otherwise) = the reference; weight packing and the phase-plane
 * rows (AVX2 = reference, exactly); the channels-in-lanes AVX2 kernel and the
 * threaded dispatch against the plain-C reference, bit for bit (both are one FMA chain per
 * element), on channel counts across the 8/16-lane strips (1..40), pixel counts across the
 * 6-pixel tiles (1..67), taps 1..300 at overlapping offsets (as a convolution's are), with
 * and without bias, ReLU6-like clamps, NaN passing the clamp; 1 and 2 threads alike. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "shrink/tensor.h"
#include "shrink/threads.h"
#include "test.h"

static uint32_t rng_state = 99u;
static uint32_t urand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
static float frand(void) { return (float)urand() * (2.0f / 16777216.0f) - 1.0f; }

/* One problem; 1 when all variants agree with the reference bit for bit. */
static int check(int OC, int P, int K, int with_bias, int clamp, int nan_at) {
    long span = (long)K * 2 + (long)P * 3 + 8;
    float *x = shr_alloc((size_t)span * 4), *w = shr_alloc((size_t)OC * K * 4 + 4), *bias = shr_alloc((size_t)OC * 4 + 4);
    float *wp = shr_alloc(shr_convt_packed_floats(OC, K) * 4), *R = shr_alloc((size_t)OC * P * 4 + 4);
    float *Y1 = shr_alloc((size_t)OC * P * 4 + 4), *Y2 = shr_alloc((size_t)OC * P * 4 + 4);
    float *Y3 = shr_alloc((size_t)OC * P * 4 + 4);
    int *pix = shr_alloc((size_t)P * sizeof(int) + 4);
    long *boff = shr_alloc((size_t)K * sizeof(long) + 8);
    int ok = x && w && bias && wp && R && Y1 && Y2 && Y3 && pix && boff;
    if (ok) {
        for (long i = 0; i < span; i++) x[i] = frand();
        if (nan_at >= 0) x[nan_at % span] = NAN;
        for (long i = 0; i < (long)OC * K; i++) w[i] = frand();
        for (int o = 0; o < OC; o++) bias[o] = frand();
        for (int p = 0; p < P; p++) pix[p] = p * 3 - (int)(urand() % 3) + 2; /* rows of an output plane, skips */
        for (int k = 0; k < K; k++) boff[k] = (long)k * 2 - (long)(urand() % 2);
        if (boff[0] < 0) boff[0] = 0;
        shr_convt_pack_f32(OC, K, w, K, wp);
        float lo = clamp ? 0.0f : -INFINITY, hi = clamp ? 0.5f : INFINITY;
        const float *b = with_bias ? bias : NULL;
        shr_convt_f32_ref(OC, 0, P, K, wp, x, pix, boff, b, lo, hi, R, P);
        if (shr_cpu_has_avx2_fma()) shr_convt_f32_avx2(OC, 0, P, K, wp, x, pix, boff, b, lo, hi, Y1, P);
        else memcpy(Y1, R, (size_t)OC * P * 4);
        int saved = shr_get_threads();
        shr_set_threads(1);
        shr_convt_f32(OC, P, K, wp, x, pix, boff, b, lo, hi, Y2, P);
        shr_set_threads(2);
        shr_convt_f32(OC, P, K, wp, x, pix, boff, b, lo, hi, Y3, P);
        shr_set_threads(saved);
        size_t n = (size_t)OC * P * 4;
        int a = memcmp(R, Y1, n) == 0, d1 = memcmp(R, Y2, n) == 0, d2 = memcmp(R, Y3, n) == 0;
        CHECK_MSG(a && d1 && d2, "OC=%d P=%d K=%d bias=%d clamp=%d nan=%d: avx2 %d, 1 thread %d, 2 threads %d", OC, P,
                  K, with_bias, clamp, nan_at, a, d1, d2);
        ok = a && d1 && d2;
        /* the reference itself: one element against a double-precision sum */
        double s = with_bias ? bias[OC - 1] : 0.0, mag = fabs(s);
        for (int k = 0; k < K; k++) {
            double t = (double)w[(long)(OC - 1) * K + k] * x[pix[P - 1] + boff[k]];
            s += t, mag += fabs(t);
        }
        if (!clamp && nan_at < 0) {
            int near = fabs(R[(long)(OC - 1) * P + P - 1] - s) <= 1e-5 * mag + 1e-30;
            CHECK_MSG(near, "OC=%d P=%d K=%d: reference %g vs %g", OC, P, K, (double)R[(long)(OC - 1) * P + P - 1], s);
            ok = ok && near;
        }
    }
    shr_free(x), shr_free(w), shr_free(bias), shr_free(wp), shr_free(R), shr_free(Y1), shr_free(Y2), shr_free(Y3);
    shr_free(pix), shr_free(boff);
    return ok;
}

static void test_grid(void) {
    int ok = 1;
    for (int oc = 1; oc <= 40 && ok; oc++)
        for (int p = 1; p <= 67 && ok; p += 1 + (p > 20) * 5) ok = check(oc, p, 1 + (oc * 7 + p) % 40, (oc + p) % 2, p % 3 == 0, -1);
    CHECK(ok);
}

static void test_layer_like(void) {
    CHECK(check(16, 784, 144, 1, 0, -1));  /* 16 -> 16, 28x28, 3x3 */
    CHECK(check(64, 49, 576, 1, 1, -1));   /* 64 -> 64, 7x7 */
    CHECK(check(6, 784, 25, 1, 1, -1));    /* lenet5 conv1: 6 channels */
    CHECK(check(24, 300, 300, 0, 0, -1));  /* past one strip, long K */
}

static void test_nan(void) {
    CHECK(check(9, 13, 11, 1, 1, 7));
    CHECK(check(17, 20, 5, 0, 0, 3));
}

/* Weight packing and phase-plane rows: the AVX2 versions equal the references exactly. */
static void test_pack_and_rows(void) {
    if (!shr_cpu_has_avx2_fma()) return;
    int ok = 1;
    for (int oc = 1; oc <= 40 && ok; oc += 3)
        for (int k = 1; k <= 70 && ok; k += 7) {
            float *w = shr_alloc((size_t)oc * (k + 3) * 4), *a = shr_alloc(shr_convt_packed_floats(oc, k) * 4);
            float *b = shr_alloc(shr_convt_packed_floats(oc, k) * 4);
            for (long i = 0; i < (long)oc * (k + 3); i++) w[i] = frand();
            shr_convt_pack_f32_ref(oc, k, w, k + 3, a);
            shr_convt_pack_f32_avx2(oc, k, w, k + 3, b);
            ok = memcmp(a, b, shr_convt_packed_floats(oc, k) * 4) == 0;
            CHECK_MSG(ok, "pack OC=%d K=%d (ldw %d)", oc, k, k + 3);
            shr_free(w), shr_free(a), shr_free(b);
        }
    float src[300], r[80], v[80]; /* rows need up to 59 * 4 + 1 + 17 source floats */
    for (int i = 0; i < 300; i++) src[i] = frand();
    for (int S = 1; S <= 4 && ok; S++)
        for (int Wq = 1; Wq <= 60 && ok; Wq += 3)
            for (int q0 = 0; q0 <= 3 && q0 <= Wq && ok; q0++)
                for (int q1 = q0; q1 <= Wq && ok; q1 += 1 + (Wq > 20) * 3) {
                    int need = q1 > q0 ? (q1 - q0 - 1) * S + 1 : 0;
                    for (int avail = need; avail <= need + 17 && ok; avail += 17) {
                        memset(r, 0x7f, sizeof r), memset(v, 0x7f, sizeof v);
                        shr_convt_row_ref(r, src, q0, q1, Wq, S, avail);
                        shr_convt_row_avx2(v, src, q0, q1, Wq, S, avail);
                        ok = memcmp(r, v, sizeof r) == 0;
                        CHECK_MSG(ok, "row S=%d Wq=%d q0=%d q1=%d avail=%d", S, Wq, q0, q1, avail);
                    }
                }
    CHECK(ok);
}

/* Whole planes (shr_convt_rows_f32: the pixel-lanes kernel below 64 taps, the channel-lanes
 * one from 64) against the reference, bit for bit, on real convolution geometries (strides 1
 * and 2, padding, widths across the 16-pixel chunks), 1 and 2 threads. */
static int check_plane(int C, int H, int W, int OC, int KH, int S, int pad, int clamp) {
    shr_conv_geom g = {C, H, W, KH, KH, S, S, pad, pad, 1, 1, 0, 0};
    g.OH = (H + 2 * pad - KH) / S + 1;
    g.OW = (W + 2 * pad - KH) / S + 1;
    int K = C * KH * KH, P = g.OH * g.OW, Hq, Wq;
    shr_convt_dims(&g, &Hq, &Wq);
    size_t np = shr_convt_planes_floats(&g);
    float *x = shr_alloc((size_t)C * H * W * 4), *xp = shr_alloc(np * 4), *w = shr_alloc((size_t)OC * K * 4);
    float *wp = shr_alloc(shr_convt_packed_floats(OC, K) * 4), *bias = shr_alloc((size_t)OC * 4);
    float *R = shr_alloc((size_t)OC * P * 4), *Y1 = shr_alloc((size_t)OC * P * 4), *Y2 = shr_alloc((size_t)OC * P * 4);
    long *boff = shr_alloc((size_t)K * sizeof(long));
    int *pix = shr_alloc((size_t)P * sizeof(int));
    int ok = x && xp && w && wp && bias && R && Y1 && Y2 && boff && pix;
    if (ok) {
        for (long i = 0; i < (long)C * H * W; i++) x[i] = frand();
        for (long i = 0; i < (long)OC * K; i++) w[i] = frand();
        for (int o = 0; o < OC; o++) bias[o] = frand();
        shr_convt_planes_f32(&g, x, xp);
        shr_convt_offsets(&g, boff, pix);
        shr_convt_pack_f32(OC, K, w, K, wp);
        float lo = clamp ? 0.0f : -INFINITY, hi = clamp ? 0.5f : INFINITY;
        shr_convt_f32_ref(OC, 0, P, K, wp, xp, pix, boff, bias, lo, hi, R, P);
        int saved = shr_get_threads();
        shr_set_threads(1);
        shr_convt_rows_f32(OC, g.OH, g.OW, Wq, K, wp, xp, pix, boff, bias, lo, hi, Y1, P);
        shr_set_threads(2);
        shr_convt_rows_f32(OC, g.OH, g.OW, Wq, K, wp, xp, pix, boff, bias, lo, hi, Y2, P);
        shr_set_threads(saved);
        ok = memcmp(R, Y1, (size_t)OC * P * 4) == 0 && memcmp(R, Y2, (size_t)OC * P * 4) == 0;
        CHECK_MSG(ok, "plane C=%d %dx%d OC=%d k=%d s=%d p=%d clamp=%d", C, H, W, OC, KH, S, pad, clamp);
    }
    shr_free(x), shr_free(xp), shr_free(w), shr_free(wp), shr_free(bias), shr_free(R), shr_free(Y1), shr_free(Y2);
    shr_free(boff), shr_free(pix);
    return ok;
}

static void test_planes(void) {
    int ok = 1;
    for (int W = 1; W <= 40 && ok; W += 3)
        for (int oc = 1; oc <= 9 && ok; oc += 2)
            ok = check_plane(1 + W % 3, 5 + W % 4, W + 2, oc, 3, 1 + W % 2, 1, W % 2) &&
                 check_plane(2, 6, W + 4, oc, 5, 1, 2, 0) && check_plane(1, 4, W, oc, 1, 1, 0, 1);
    CHECK(ok);
    CHECK(check_plane(1, 28, 28, 32, 3, 1, 1, 1));  /* cnn block1: pixel lanes */
    CHECK(check_plane(16, 28, 28, 32, 3, 2, 1, 0)); /* resnet stride 2: channel lanes */
    CHECK(check_plane(6, 14, 14, 16, 5, 1, 0, 1));  /* lenet5 conv2 */
}

int main(void) {
    RUN(test_planes);
    RUN(test_pack_and_rows);
    RUN(test_grid);
    RUN(test_layer_like);
    RUN(test_nan);
    return test_summary();
}
