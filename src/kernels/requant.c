/* Requantization (gemmlowp / TFLite fixed-point arithmetic) and f32 <-> u8/s8 quantization.
 * These scalar functions are the reference the AVX2 epilogue (qgemm_avx2.c) is tested
 * against bit for bit; they are written from the gemmlowp definitions, in int64. */
#include <math.h>

#include "core/error.h"
#include "kernels/qgemm.h"

shr_status shr_quant_multiplier(double scale, int32_t *multiplier, int32_t *shift) {
    if (!(scale > 0.0) || !(scale < 1073741824.0)) /* also rejects NaN and infinity */
        return shr_fail(SHR_ERR_INVALID_ARG, "requantization scale %g is not in (0, 2^30)", scale);
    int e;
    double q = frexp(scale, &e); /* scale = q * 2^e, q in [0.5, 1) */
    int64_t m = llround(q * 2147483648.0);
    if (m == 2147483648LL) { /* q rounded up to 1.0 */
        m /= 2;
        e++;
    }
    if (e > 30) return shr_fail(SHR_ERR_INVALID_ARG, "requantization scale %g rounds to 2^31 or more", scale);
    if (e < -31) { /* below what a right shift of 31 can express: the product rounds to 0 */
        *multiplier = 0;
        *shift = 0;
        return SHR_OK;
    }
    *multiplier = (int32_t)m;
    *shift = e;
    return SHR_OK;
}

int32_t shr_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : 1 - (1LL << 30);
    return (int32_t)((ab + nudge) / (1LL << 31)); /* C division truncates toward zero */
}

int32_t shr_rdbpot(int32_t x, int e) {
    int32_t mask = (int32_t)((1LL << e) - 1);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0); /* >> of a negative int: arithmetic in GCC/Clang */
}

int32_t shr_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    if (shift > 0) {
        int64_t v = (int64_t)x * (1LL << shift);
        x = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
        return shr_srdhm(x, multiplier);
    }
    return shr_rdbpot(shr_srdhm(x, multiplier), -shift);
}

int32_t shr_requant(int32_t acc, int32_t multiplier, int32_t shift, int zero_point, int qmin, int qmax) {
    int64_t v = (int64_t)zero_point + shr_mbqm(acc, multiplier, shift);
    return (int32_t)(v < qmin ? qmin : v > qmax ? qmax : v);
}

/* round(x / scale) + zp clamped to [lo, hi]; ties to even (nearbyintf in the default mode). */
static inline int quantize_one(float x, float scale, int zero_point, int lo, int hi) {
    float v = nearbyintf(x / scale);
    if (v != v) return zero_point;
    float r = v + (float)zero_point; /* exact: |v| is either small or clamped anyway */
    if (r < (float)lo) return lo;
    if (r > (float)hi) return hi;
    return (int)r;
}

void shr_quantize_u8(const float *x, size_t n, float scale, int zero_point, uint8_t *q) {
    for (size_t i = 0; i < n; i++) q[i] = (uint8_t)quantize_one(x[i], scale, zero_point, 0, 255);
}

void shr_quantize_s8(const float *x, size_t n, float scale, int zero_point, int8_t *q) {
    for (size_t i = 0; i < n; i++) q[i] = (int8_t)quantize_one(x[i], scale, zero_point, -128, 127);
}

void shr_dequantize_u8(const uint8_t *q, size_t n, float scale, int zero_point, float *x) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)((int)q[i] - zero_point);
}

void shr_dequantize_s8(const int8_t *q, size_t n, float scale, int zero_point, float *x) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)((int)q[i] - zero_point);
}
