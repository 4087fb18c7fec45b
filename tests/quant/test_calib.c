/* Calibration methods on known distributions, quantization parameters and round trips. */
#include <math.h>
#include <stdlib.h>

#include "shrink/quant.h"
#include "shrink/rng.h"
#include "test.h"

#define N 100000

static float gauss(shr_rng *r) {
    double u = (shr_rng_uniform(r) + 1e-12), v = shr_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Error of quantizing the inliers only (every index not a multiple of 997). */
static double inlier_mse(const shr_qparams *p, const float *x, int n) {
    double e = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i % 997 == 0) continue;
        e += shr_qparams_mse(p, x + i, 1);
        m++;
    }
    return e / m;
}

/* N(0, 1) with a few huge outliers: percentile and entropy clip them and quantize the bulk
 * far better than minmax, whose step the outliers blow up. */
static void test_outliers_clipped(void) {
    shr_rng r;
    shr_rng_seed(&r, 7);
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) x[i] = gauss(&r);
    for (int i = 0; i < 10; i++) x[i * 997] = 60.0f;
    float lo, hi;
    CHECK_OK(shr_calib_array(x, N, SHR_CALIB_MINMAX, 0, 254, 1, &lo, &hi));
    CHECK(hi >= 60.0f && lo <= -60.0f);
    shr_qparams p = shr_qparams_from_range(lo, hi, 8, 1);
    double mm = inlier_mse(&p, x, N);
    const shr_calib_method ms[2] = {SHR_CALIB_PERCENTILE, SHR_CALIB_ENTROPY};
    for (int m = 0; m < 2; m++) {
        CHECK_OK(shr_calib_array(x, N, ms[m], 99.99, 254, 1, &lo, &hi));
        CHECK_MSG(hi > 2.5f && hi < 10.0f, "%s: threshold %g should clip the outliers", shr_calib_name(ms[m]), hi);
        CHECK(lo == -hi);
        p = shr_qparams_from_range(lo, hi, 8, 1);
        double e = inlier_mse(&p, x, N);
        CHECK_MSG(e < 0.05 * mm, "%s: inlier mse %g vs minmax %g", shr_calib_name(ms[m]), e, mm);
    }
    /* MSE weighs the outliers' clipping error too: ten at 60 are worth keeping, one at 20 is not */
    CHECK_OK(shr_calib_array(x, N, SHR_CALIB_MSE, 0, 254, 1, &lo, &hi));
    CHECK(hi > 30.0f);
    for (int i = 0; i < 10; i++) x[i * 997] = gauss(&r);
    x[0] = 20.0f;
    CHECK_OK(shr_calib_array(x, N, SHR_CALIB_MSE, 0, 254, 1, &lo, &hi));
    CHECK_MSG(hi < 16.0f, "mse kept a lone outlier: %g", hi); /* the optimum is about 13 */
    free(x);
}

/* Laplace(0, 1) (heavy tails, no outliers): the MSE search beats the full range, and every
 * method keeps the bulk (the 99th percentile is 3.9). */
static void test_heavy_tails(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) {
        double u = shr_rng_uniform(&r) - 0.5;
        x[i] = (float)(u < 0 ? log(1 + 2 * u + 1e-12) : -log(1 - 2 * u + 1e-12));
    }
    float lo, hi;
    CHECK_OK(shr_calib_array(x, N, SHR_CALIB_MINMAX, 0, 255, 0, &lo, &hi));
    shr_qparams pm = shr_qparams_from_range(lo, hi, 8, 0);
    CHECK_OK(shr_calib_array(x, N, SHR_CALIB_MSE, 0, 255, 0, &lo, &hi));
    shr_qparams pe = shr_qparams_from_range(lo, hi, 8, 0);
    double em = shr_qparams_mse(&pm, x, N), ee = shr_qparams_mse(&pe, x, N);
    CHECK_MSG(ee < 0.9 * em, "mse %g vs minmax %g", ee, em);
    CHECK(hi > 3.9f && lo < -3.9f);
    /* the asymmetric zero point puts the real zero exactly on a code */
    CHECK(pe.type == SHR_U8 && pe.zero_point > 0 && pe.zero_point < 255);
    float z = pe.scale * (float)(pe.zero_point - pe.zero_point);
    CHECK(z == 0.0f);
    free(x);
}

/* ReLU-like data (half exact zeros, exponential tail): one-sided ranges start at 0, and the
 * entropy method is not fooled by the spike at zero. */
static void test_one_sided(void) {
    shr_rng r;
    shr_rng_seed(&r, 3);
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) x[i] = i % 2 ? 0.0f : (float)-log(shr_rng_uniform(&r) + 1e-12);
    for (shr_calib_method m = SHR_CALIB_MINMAX; m <= SHR_CALIB_MSE; m++) {
        float lo, hi;
        CHECK_OK(shr_calib_array(x, N, m, 99.9, 255, 0, &lo, &hi));
        CHECK_MSG(lo == 0.0f, "%s: lo %g", shr_calib_name(m), lo);
        CHECK_MSG(hi > 3.0f, "%s: hi %g clips the bulk", shr_calib_name(m), hi);
    }
    free(x);
}

/* Uniform data has no outliers: no method may clip much. */
static void test_uniform_not_clipped(void) {
    shr_rng r;
    shr_rng_seed(&r, 5);
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) x[i] = (float)shr_rng_uniform(&r) * 4.0f - 1.0f;
    for (shr_calib_method m = SHR_CALIB_MINMAX; m <= SHR_CALIB_MSE; m++) {
        float lo, hi;
        CHECK_OK(shr_calib_array(x, N, m, 99.99, 255, 0, &lo, &hi));
        CHECK_MSG(hi > 2.85f && hi <= 3.0f && lo < -0.9f && lo >= -1.01f, "%s: [%g, %g]", shr_calib_name(m), lo, hi);
    }
    free(x);
}

/* EMA: the moving average of per-batch ranges ignores one wild batch; minmax does not. */
static void test_ema(void) {
    shr_observer *o;
    CHECK_OK(shr_observer_create(&o));
    float b[100];
    for (int t = 0; t < 50; t++) {
        for (int i = 0; i < 100; i++) b[i] = (float)i / 99.0f * (t == 10 ? 100.0f : 1.0f);
        shr_observer_range(o, b, 100);
    }
    float lo, hi;
    shr_observer_choose(o, SHR_CALIB_EMA, 0, 255, 0, &lo, &hi);
    CHECK_MSG(hi > 1.0f && hi < 100.0f * 0.7f, "ema hi %g", hi);
    shr_observer_choose(o, SHR_CALIB_MINMAX, 0, 255, 0, &lo, &hi);
    CHECK(hi == 100.0f && lo == 0.0f);
    shr_observer_free(o);
}

/* quantize -> dequantize is within half a step inside the range, for each scheme. */
static void test_roundtrip_bounds(void) {
    const int bits[4] = {8, 8, 7, 12};
    const int sym[4] = {0, 1, 0, 1};
    for (int s = 0; s < 4; s++) {
        shr_qparams p = shr_qparams_from_range(-1.5f, 3.0f, bits[s], sym[s]);
        CHECK(p.qmin <= p.zero_point && p.zero_point <= p.qmax);
        CHECK(bits[s] > 8 ? p.type == SHR_I16 : sym[s] ? p.type == SHR_I8 : p.type == SHR_U8);
        double worst = 0;
        for (int i = 0; i <= 1000; i++) {
            float x = -1.5f + 4.5f * (float)i / 1000.0f;
            float q = rintf(x / p.scale) + (float)p.zero_point;
            q = fminf(fmaxf(q, (float)p.qmin), (float)p.qmax);
            double e = fabs((double)x - p.scale * (q - p.zero_point));
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst <= 0.5001 * p.scale, "scheme %d: error %g > half step %g", s, worst, 0.5 * p.scale);
    }
    /* an empty range still gives a usable scale */
    shr_qparams z = shr_qparams_from_range(0.0f, 0.0f, 8, 0);
    CHECK(z.scale > 0.0f && z.zero_point == 0);
    float ref[3] = {1, 2, 3}, same[3] = {1, 2, 3}, off[3] = {1.1f, 2, 3};
    CHECK(isinf(shr_sqnr_db(ref, same, 3)));
    CHECK_NEAR(shr_sqnr_db(ref, off, 3), 10 * log10(14.0 / 0.01), 1e-4);
}

static void test_names(void) {
    shr_calib_method m;
    CHECK_OK(shr_calib_parse("entropy", &m));
    CHECK(m == SHR_CALIB_ENTROPY);
    CHECK_STATUS(shr_calib_parse("kl", &m), SHR_ERR_INVALID_ARG);
    shr_quant_mode q;
    CHECK_OK(shr_quant_mode_parse("weight-only", &q));
    CHECK(q == SHR_QUANT_WEIGHT_ONLY);
    CHECK_STATUS(shr_quant_mode_parse("int8", &q), SHR_ERR_INVALID_ARG);
}

int main(void) {
    RUN(test_outliers_clipped);
    RUN(test_heavy_tails);
    RUN(test_one_sided);
    RUN(test_uniform_not_clipped);
    RUN(test_ema);
    RUN(test_roundtrip_bounds);
    RUN(test_names);
    return test_summary();
}
