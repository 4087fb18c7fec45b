/* Requantization and quantization helpers: gemmlowp's SRDHM and RoundingDivideByPOT against
 * independent floor-division formulas (ties, negatives, INT32 extremes), the saturating left
 * shift, clamping, multiplier/shift from a float scale, round-half-to-even quantization; and
 * the AVX2 u8/s8 epilogue bit-exact against the scalar shr_requant over accumulators across
 * the whole int32 range (a K = 1 GEMM with w = 1: acc = x + bias). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/qgemm.h"
#include "shrink/tensor.h"
#include "test.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd64(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}
static int32_t rnd32(void) { return (int32_t)(uint32_t)rnd64(); }

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
    int64_t q = a / b;
    return q * b > a ? q - 1 : q;
}

/* SRDHM = a*b / 2^31 rounded half up (toward +inf), except INT32_MIN^2 saturating. */
static int32_t srdhm_oracle(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)floor_div((int64_t)a * b + (1LL << 30), 1LL << 31);
}
/* x / 2^e rounded half away from zero. */
static int32_t rdbpot_oracle(int32_t x, int e) {
    int64_t half = e ? 1LL << (e - 1) : 0, v = x;
    return (int32_t)(v >= 0 ? (v + half) >> e : -((-v + half) >> e));
}

static void test_srdhm_rdbpot(void) {
    static const int32_t edge[] = {0, 1, -1, 2, -2, 3, -3, 1 << 30, -(1 << 30), INT32_MAX, INT32_MIN, INT32_MIN + 1,
                                   (1 << 30) + 1, 46341, -46341, 12345};
    int n = sizeof edge / sizeof *edge, bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) bad += shr_srdhm(edge[i], edge[j]) != srdhm_oracle(edge[i], edge[j]);
    for (int t = 0; t < 200000; t++) {
        int32_t a = rnd32(), b = rnd32();
        bad += shr_srdhm(a, b) != srdhm_oracle(a, b);
    }
    CHECK(bad == 0);
    CHECK(shr_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX);
    CHECK(shr_srdhm(3, 1 << 30) == 2);   /* 1.5 -> 2 */
    CHECK(shr_srdhm(-3, 1 << 30) == -1); /* -1.5 -> -1: gemmlowp's nudge rounds half up */
    CHECK(shr_srdhm(-1, 1 << 30) == 0);  /* -0.5 -> 0 */
    bad = 0;
    for (int e = 0; e <= 31; e++) {
        for (int i = 0; i < n; i++) bad += shr_rdbpot(edge[i], e) != rdbpot_oracle(edge[i], e);
        for (int t = 0; t < 5000; t++) {
            int32_t x = t < 100 ? (t - 50) : rnd32();
            bad += shr_rdbpot(x, e) != rdbpot_oracle(x, e);
        }
    }
    CHECK(bad == 0);
    CHECK(shr_rdbpot(3, 1) == 2);   /* 1.5 -> 2 */
    CHECK(shr_rdbpot(-3, 1) == -2); /* -1.5 -> -2: away from zero */
    CHECK(shr_rdbpot(-1, 1) == -1);
    CHECK(shr_rdbpot(-5, 2) == -1); /* -1.25 */
    CHECK(shr_rdbpot(6, 2) == 2);   /* 1.5 */
}

static void test_mbqm_and_clamp(void) {
    /* saturating left shift, then SRDHM */
    CHECK(shr_mbqm(1 << 30, 1 << 30, 2) == 1 << 30);   /* sat(2^32) = INT32_MAX; * 0.5 rounds up */
    CHECK(shr_mbqm(-(1 << 30), 1 << 30, 2) == -(1 << 30));
    CHECK(shr_mbqm(100, 1 << 30, 3) == 400);           /* 100 * 8 * 0.5 */
    CHECK(shr_mbqm(7, 1 << 30, -1) == 2);              /* 7 * 0.5 = 3.5 -> 4 (srdhm), / 2 -> 2 */
    CHECK(shr_mbqm(-7, 1 << 30, -1) == -2);            /* -3.5 -> -3, -1.5 -> -2 */
    CHECK(shr_mbqm(12345, 0, 0) == 0);
    CHECK(shr_requant(INT32_MAX, INT32_MAX, 30, 255, 0, 255) == 255); /* no overflow adding zp */
    CHECK(shr_requant(INT32_MIN, INT32_MAX, 30, -128, -128, 127) == -128);
    CHECK(shr_requant(10, 1 << 30, 0, 3, 0, 6) == 6);  /* 5 + 3 = 8 clamped */
    CHECK(shr_requant(-10, 1 << 30, 0, 3, 0, 6) == 0); /* ReLU as qmin = zp would give 3 */
    CHECK(shr_requant(-10, 1 << 30, 0, 3, 3, 6) == 3);
    /* against real arithmetic: within one unit (two roundings) */
    int bad = 0;
    for (int t = 0; t < 100000; t++) {
        double scale = exp(-20.0 + 24.0 * (double)(rnd64() % 100000) / 100000.0); /* 2e-9 .. 55 */
        int32_t m, s;
        if (shr_quant_multiplier(scale, &m, &s) != SHR_OK) {
            bad++;
            continue;
        }
        int32_t x = rnd32() >> (rnd64() % 31);
        double want = (double)x * (double)m * ldexp(1.0, s - 31);
        if (s > 0 && fabs((double)x) * ldexp(1.0, s) >= 2147483648.0) continue; /* saturates */
        if (fabs(want) < 2e9) bad += fabs(shr_mbqm(x, m, s) - want) > 1.0;
    }
    CHECK(bad == 0);
}

static void test_quant_multiplier(void) {
    int32_t m = -1, s = -99;
    CHECK_OK(shr_quant_multiplier(0.5, &m, &s));
    CHECK(m == 1 << 30 && s == 0);
    CHECK_OK(shr_quant_multiplier(1.0, &m, &s));
    CHECK(m == 1 << 30 && s == 1);
    CHECK_OK(shr_quant_multiplier(0.75 / 1024.0, &m, &s));
    CHECK(m == 3 << 29 && s == -10);
    CHECK_OK(shr_quant_multiplier(1.0 / 3.0, &m, &s));
    CHECK(m == 1431655765 && s == -1); /* round(2/3 * 2^31) */
    CHECK_OK(shr_quant_multiplier(0.99999999999, &m, &s)); /* rounds up to 2^31: renormalized */
    CHECK(m == 1 << 30 && s == 1);
    CHECK_OK(shr_quant_multiplier(1e-12, &m, &s));
    CHECK(m == 0 && s == 0);
    CHECK_STATUS(shr_quant_multiplier(0.0, &m, &s), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_quant_multiplier(-1.0, &m, &s), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_quant_multiplier(NAN, &m, &s), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_quant_multiplier(INFINITY, &m, &s), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_quant_multiplier(1073741824.0, &m, &s), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_quant_multiplier(1073741823.9999999, &m, &s), SHR_ERR_INVALID_ARG);
}

static void test_quantize(void) {
    const float s = 0.25f;
    float x[] = {0.125f, 0.375f, 0.625f, -0.125f, -0.375f, -0.625f, 100.0f, -100.0f, NAN, INFINITY, -INFINITY, 0.0f};
    /* x / s = 0.5, 1.5, 2.5, -0.5, -1.5, -2.5 -> 0, 2, 2, 0, -2, -2 (half to even) */
    uint8_t qu[12];
    int8_t qs[12];
    shr_quantize_u8(x, 12, s, 10, qu);
    const uint8_t wu[12] = {10, 12, 12, 10, 8, 8, 255, 0, 10, 255, 0, 10};
    CHECK(memcmp(qu, wu, 12) == 0);
    shr_quantize_s8(x, 12, s, -3, qs);
    const int8_t ws[12] = {-3, -1, -1, -3, -5, -5, 127, -128, -3, 127, -128, -3};
    CHECK(memcmp(qs, ws, 12) == 0);
    float back[12];
    shr_dequantize_u8(qu, 12, s, 10, back);
    CHECK(back[1] == 0.5f && back[4] == -0.5f && back[6] == 61.25f);
    shr_dequantize_s8(qs, 12, s, -3, back);
    CHECK(back[0] == 0.0f && back[7] == -31.25f);
}

/* AVX2 (or reference) u8/s8 epilogue vs scalar shr_requant over accumulators spread across
 * int32, with per-channel multipliers and shifts including 0, 2^30 (ties), INT32_MAX and the
 * extreme shifts. */
static void test_epilogue_bit_exact(void) {
    enum { N = 64, M = 256 };
    int8_t w[N];
    int32_t bias[N], mult[N], shift[N];
    /* Channels 0-7: fixed multipliers/shifts at the extremes; 8-15: small accumulators
     * (-200..55, never clamped) with 0.5 multipliers, so exact ties of both roundings occur on
     * negative and positive values in even and odd lanes; the rest random. */
    static const int32_t fixed_m[] = {0, 1 << 30, 1 << 30, 1 << 30, INT32_MAX, 1 << 30, 1234567890, 1 << 30,
                                      1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, INT32_MAX, 3 << 29, 1 << 30};
    static const int32_t fixed_s[] = {0, 0, -1, -2, 30, -31, 5, 30, 0, 0, -1, -1, -2, -3, -4, 1};
    for (int n = 0; n < N; n++) {
        w[n] = 1;
        int64_t b = n % 4 == 0 ? rnd32() >> (rnd64() % 31) : rnd32();
        if (n == 1) b = INT32_MAX - 255;
        if (n == 2) b = -INT32_MAX + 255;
        if (n >= 8 && n < 16) b = -200;
        bias[n] = (int32_t)(b > INT32_MAX - 255 ? INT32_MAX - 255 : b < -INT32_MAX + 255 ? -INT32_MAX + 255 : b);
        if (n < 16) {
            mult[n] = fixed_m[n], shift[n] = fixed_s[n];
        } else {
            mult[n] = (int32_t)(rnd64() % 2147483648ull);
            shift[n] = (int32_t)(rnd64() % 62) - 31;
        }
    }
    uint8_t x[M];
    for (int m = 0; m < M; m++) x[m] = (uint8_t)m;
    shr_qact act = {SHR_U8, 0, 8, 0};
    shr_qgemm_packed *p = NULL;
    CHECK_OK(shr_qgemm_pack_s8(&p, SHR_QPATH_EXACT, N, 1, w, 1, &act, bias));
    shr_status (*fn)(const shr_qgemm_packed *, int, const void *, long, const shr_qout *) =
        shr_cpu_has_avx2_fma() ? shr_qgemm_avx2 : shr_qgemm_ref;
    /* float requantization: scales 0.5 / 0.25 / 1.5 make exact ties on the small channels */
    float rq[N];
    for (int n = 0; n < N; n++)
        rq[n] = n >= 8 && n < 16 ? (n % 3 == 0 ? 0.5f : n % 3 == 1 ? 0.25f : 1.5f)
                                 : (float)ldexp((double)(rnd64() % 1000 + 1), -(int)(rnd64() % 40));
    static const shr_qout_kind kinds[4] = {SHR_QOUT_U8, SHR_QOUT_S8, SHR_QOUT_U8F, SHR_QOUT_S8F};
    for (int t = 0; t < 4 && p; t++) {
        int u8 = t % 2 == 0, fixed = t < 2;
        uint8_t y[M * N];
        shr_qout o = {.kind = kinds[t], .y = y, .ldy = N, .per_channel = 1, .multiplier = mult, .shift = shift,
                      .rq_scale = rq};
        o.zero_point = u8 ? 131 - 31 * t : -7 + 6 * t;
        o.qmin = u8 ? 0 : -128;
        o.qmax = u8 ? 255 : 127;
        CHECK_OK(fn(p, M, x, 1, &o));
        int bad = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                int32_t acc = x[m] + bias[n], want;
                if (fixed) {
                    want = shr_requant(acc, mult[n], shift[n], o.zero_point, o.qmin, o.qmax);
                } else { /* one float rounding of the product, then half to even */
                    double r = nearbyint((double)((float)acc * rq[n])) + o.zero_point;
                    want = r < o.qmin ? o.qmin : r > o.qmax ? o.qmax : (int32_t)r;
                }
                int got = u8 ? y[m * N + n] : (int8_t)y[m * N + n];
                if (got != want && bad++ < 5)
                    fprintf(stderr, "requant kind %d acc %d: got %d want %d\n", t, acc, got, want);
            }
        CHECK(bad == 0);
    }
    shr_qgemm_packed_free(p);
}

int main(void) {
    RUN(test_srdhm_rdbpot);
    RUN(test_mbqm_and_clamp);
    RUN(test_quant_multiplier);
    RUN(test_quantize);
    RUN(test_epilogue_bit_exact);
    return test_summary();
}
