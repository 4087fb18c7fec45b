/* Quantization parameters from ranges, weight quantization (per channel / per tensor, 8 or 16
 * bit), bias quantization, and the error measures the report uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"

shr_qparams shr_qparams_from_range(float lo, float hi, int bits, int symmetric) {
    shr_qparams p;
    if (!(lo <= 0.0f)) lo = 0.0f; /* the real zero must be exact (padding, ReLU) */
    if (!(hi >= 0.0f)) hi = 0.0f;
    if (symmetric || bits > 8) {
        int qmax = (1 << (bits - 1)) - 1;
        float m = -lo > hi ? -lo : hi;
        p.type = bits > 8 ? SHR_I16 : SHR_I8;
        p.zero_point = 0;
        p.qmin = -qmax;
        p.qmax = qmax;
        p.scale = m / (float)qmax;
    } else {
        p.type = SHR_U8;
        p.qmin = 0;
        p.qmax = (1 << bits) - 1;
        p.scale = (hi - lo) / (float)p.qmax;
        float z = p.scale > 0.0f ? rintf(-lo / p.scale) : 0.0f;
        p.zero_point = z < 0.0f ? 0 : z > (float)p.qmax ? p.qmax : (int)z;
    }
    if (!(p.scale > 0.0f) || !isfinite(p.scale) || !isfinite(1.0f / p.scale)) p.scale = 1.0f; /* nothing observed */
    return p;
}

double shr_qparams_mse(const shr_qparams *p, const float *x, size_t n) {
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        float t = rintf(x[i] / p->scale) + (float)p->zero_point;
        t = t < (float)p->qmin ? (float)p->qmin : t > (float)p->qmax ? (float)p->qmax : t;
        double d = (double)x[i] - (double)p->scale * (t - (float)p->zero_point);
        e += d * d;
    }
    return n ? e / (double)n : 0.0;
}

double shr_sqnr_db(const float *ref, const float *x, size_t n) {
    double s = 0.0, e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)ref[i] - x[i];
        s += (double)ref[i] * ref[i];
        e += d * d;
    }
    if (e == 0.0) return INFINITY;
    if (s == 0.0) return -INFINITY;
    return 10.0 * log10(s / e);
}

/* Largest code magnitude of one channel at `bits`, and for 16-bit weights the cap that keeps
 * x_max * sum |w| + |bias| inside the int32 accumulator (qgemm.h's contract). */
static int channel_qmax(int bits, const float *w, int64_t K, int xmax, double bias_real, double x_scale) {
    int qmax = (1 << (bits - 1)) - 1;
    if (bits <= 8) return qmax;
    double mx = 0.0, sum = 0.0;
    for (int64_t k = 0; k < K; k++) {
        double a = fabs(w[k]);
        sum += a;
        if (a > mx) mx = a;
    }
    if (mx == 0.0) return qmax;
    const double budget = 2147483647.0 * 0.98; /* margin for rounding every code up */
    for (; qmax > 127; qmax = (int)(qmax * 0.9)) {
        double ws = mx / qmax, codes = sum / ws + (double)K * 0.5;
        double bias = x_scale > 0.0 ? fabs(bias_real) / (x_scale * ws) + 1.0 : 0.0;
        if ((double)xmax * codes + bias < budget) break;
    }
    return qmax;
}

shr_status shr_q_weights(const float *W, int64_t N, int64_t K, int bits, int per_channel, int xmax, const float *bias,
                         float x_scale, void *codes, float *scale) {
    double tmax = 0.0;
    int tq = (1 << (bits - 1)) - 1;
    if (!per_channel) { /* one scale: the largest magnitude, with the tightest channel cap */
        for (int64_t i = 0; i < N * K; i++) tmax = fabs(W[i]) > tmax ? fabs(W[i]) : tmax;
        for (int64_t n = 0; n < N; n++) {
            int q = channel_qmax(bits, W + n * K, K, xmax, bias ? bias[n] : 0.0, x_scale);
            if (q < tq) tq = q;
        }
    }
    for (int64_t n = 0; n < N; n++) {
        const float *w = W + n * K;
        int qmax = tq;
        double mx = tmax;
        if (per_channel) {
            qmax = channel_qmax(bits, w, K, xmax, bias ? bias[n] : 0.0, x_scale);
            mx = 0.0;
            for (int64_t k = 0; k < K; k++) mx = fabs(w[k]) > mx ? fabs(w[k]) : mx;
        }
        float s = mx > 0.0 ? (float)(mx / qmax) : 1.0f;
        if (!isfinite(s) || !(s > 0.0f) || !isfinite(1.0f / s)) s = 1.0f;
        if (per_channel || n == 0) scale[per_channel ? n : 0] = s;
        for (int64_t k = 0; k < K; k++) {
            if (!isfinite(w[k])) return shr_fail(SHR_ERR_INVALID_ARG, "weight row %lld holds a non-finite value", (long long)n);
            float q = rintf(w[k] / s);
            q = q < (float)-qmax ? (float)-qmax : q > (float)qmax ? (float)qmax : q;
            if (bits <= 8) ((int8_t *)codes)[n * K + k] = (int8_t)q;
            else ((int16_t *)codes)[n * K + k] = (int16_t)q;
        }
    }
    return SHR_OK;
}

shr_status shr_q_bias(const float *b, int64_t N, float x_scale, const float *w_scale, int per_channel, int32_t *out) {
    for (int64_t n = 0; n < N; n++) {
        double s = (double)x_scale * w_scale[per_channel ? n : 0];
        double q = b ? nearbyint((double)b[n] / s) : 0.0;
        if (!(fabs(q) < 1073741824.0))
            return shr_fail(SHR_ERR_INVALID_ARG, "bias %lld = %g does not fit int32 codes at scale %g", (long long)n,
                            b ? (double)b[n] : 0.0, s);
        out[n] = (int32_t)q;
    }
    return SHR_OK;
}
