/* int4 group-wise weight quantization for weight-only Linear layers, with 8-bit coded scales and
 * optional GPTQ rounding.
 *
 * Scales: a group's f32 scale costs 1 bit per weight at G = 32; here each row keeps one f32
 * "row scale" (its largest group scale) and each group an 8-bit code, scale = row * code / 255
 * (shr_q_scale_decode). Codes are rounded up, and the int4 values are then rounded with the
 * decoded scale, so coding the scale never clips a weight; it only widens the step slightly.
 *
 * GPTQ (Frantar et al. 2023): columns are quantized in order and each one's rounding error,
 * weighted by the inverse Hessian H^-1 of the layer's inputs (H = 2 X^T X + damping), is spread
 * over the columns not yet quantized, so the layer's output on the calibration inputs changes
 * least. A group's scale is chosen when its first column is reached, from the updated weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops/ops_quant.h"
#include "nn/tape.h"
#include "quant/quant_internal.h"

/* The scale a group of values needs (symmetric: max(max/7, -min/8); asymmetric: range/15). */
static double group_scale(const double *w, int len, int asym) {
    double lo = 0.0, hi = 0.0;
    for (int i = 0; i < len; i++) {
        lo = w[i] < lo ? w[i] : lo;
        hi = w[i] > hi ? w[i] : hi;
    }
    return asym ? (hi - lo) / 15.0 : fmax(hi / 7.0, -lo / 8.0);
}

/* Rounds one value with scale s and zero point z (asymmetric: z in 0..15; symmetric 0);
 * returns the stored value v in -8..7 and writes the dequantized weight. */
static int round_value(double w, float s, int z, int asym, double *deq) {
    if (!(s > 0.0f)) {
        *deq = 0.0;
        return asym ? z - 8 : 0;
    }
    double q = nearbyint(w / s) + (asym ? z : 0);
    double lo = asym ? 0.0 : -8.0, hi = asym ? 15.0 : 7.0;
    q = q < lo ? lo : q > hi ? hi : q;
    *deq = (q - (asym ? z : 0)) * s;
    return (int)q - (asym ? 8 : 0);
}

/* Upper Cholesky factor U (H = U^T U) in place; fails when H is not positive definite. */
static int cholesky_upper(double *H, int K) {
    for (int j = 0; j < K; j++) {
        double d = H[(size_t)j * K + j];
        for (int k = 0; k < j; k++) d -= H[(size_t)k * K + j] * H[(size_t)k * K + j];
        if (!(d > 0.0)) return 0;
        d = sqrt(d);
        H[(size_t)j * K + j] = d;
        for (int i = j + 1; i < K; i++) {
            double s = H[(size_t)j * K + i];
            for (int k = 0; k < j; k++) s -= H[(size_t)k * K + j] * H[(size_t)k * K + i];
            H[(size_t)j * K + i] = s / d;
        }
        for (int i = 0; i < j; i++) H[(size_t)j * K + i] = 0.0;
    }
    return 1;
}

/* Replaces H (K x K, symmetric) by the upper Cholesky factor of its inverse, as GPTQ uses it. */
static shr_status inverse_factor(double *H, int K) {
    double mean = 0.0;
    for (int i = 0; i < K; i++) mean += H[(size_t)i * K + i];
    mean /= K;
    for (int i = 0; i < K; i++) {
        if (H[(size_t)i * K + i] == 0.0) H[(size_t)i * K + i] = 1.0; /* an input that is always 0 */
        H[(size_t)i * K + i] += 0.01 * (mean > 0.0 ? mean : 1.0);
    }
    if (!cholesky_upper(H, K)) return shr_fail(SHR_ERR_INVALID_ARG, "gptq: the input Hessian is not positive definite");
    /* U^-1 (upper triangular), then H^-1 = U^-1 U^-T */
    double *inv = calloc((size_t)K * K, sizeof *inv);
    if (!inv) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int j = K - 1; j >= 0; j--) {
        inv[(size_t)j * K + j] = 1.0 / H[(size_t)j * K + j];
        for (int i = j - 1; i >= 0; i--) {
            double s = 0.0;
            for (int k = i + 1; k <= j; k++) s += H[(size_t)i * K + k] * inv[(size_t)k * K + j];
            inv[(size_t)i * K + j] = -s / H[(size_t)i * K + i];
        }
    }
    for (int i = 0; i < K; i++)
        for (int j = i; j < K; j++) {
            double s = 0.0;
            for (int k = j; k < K; k++) s += inv[(size_t)i * K + k] * inv[(size_t)j * K + k];
            H[(size_t)i * K + j] = H[(size_t)j * K + i] = s;
        }
    free(inv);
    if (!cholesky_upper(H, K)) return shr_fail(SHR_ERR_INVALID_ARG, "gptq: the inverse Hessian is not positive definite");
    return SHR_OK;
}

shr_status shr_q_int4(const float *W, int N, int K, int G, int asym, double *H, shr_q_int4_out *o) {
    int ng = (K + G - 1) / G;
    double *w = malloc((size_t)N * K * sizeof *w), *gs = malloc((size_t)N * ng * sizeof *gs);
    if (!w || !gs) {
        free(w);
        free(gs);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)N * K; i++) w[i] = W[i];
    shr_status st = H ? inverse_factor(H, K) : SHR_OK;
    /* Row scales need every group's scale: without GPTQ they come from W itself; with GPTQ the
     * scales of later groups depend on earlier errors, so the row scale is taken from W's
     * groups with a margin and the codes (rounded up) absorb the difference. */
    for (int n = 0; n < N && st == SHR_OK; n++) {
        double row = 0.0;
        for (int g = 0; g < ng; g++) {
            int k0 = g * G, len = K - k0 < G ? K - k0 : G;
            gs[(size_t)n * ng + g] = group_scale(w + (size_t)n * K + k0, len, asym);
            row = fmax(row, gs[(size_t)n * ng + g]);
        }
        o->row_scale[n] = (float)(H ? row * 1.25 : row);
    }
    for (int k = 0; k < K && st == SHR_OK; k++) {
        int g = k / G;
        for (int n = 0; n < N; n++) {
            double *wr = w + (size_t)n * K;
            size_t gi = (size_t)n * ng + g;
            if (k % G == 0) { /* the group's coded scale (and zero point) from the current weights */
                int len = K - k < G ? K - k : G;
                double s = H ? group_scale(wr + k, len, asym) : gs[gi], row = o->row_scale[n];
                double c = row > 0.0 ? ceil(255.0 * s / row - 1e-9) : 0.0;
                c = c > 255.0 ? 255.0 : c < 0.0 ? 0.0 : c;
                o->scale_code[gi] = (uint8_t)c;
                if (asym) {
                    float sd = shr_q_scale_decode(o->row_scale[n], (int)c);
                    double lo = 0.0;
                    for (int i = 0; i < len; i++) lo = wr[k + i] < lo ? wr[k + i] : lo;
                    double z = sd > 0.0f ? nearbyint(-lo / sd) : 8.0;
                    o->zero[gi] = (int8_t)((z < 0.0 ? 0.0 : z > 15.0 ? 15.0 : z) - 8);
                }
            }
            float s = shr_q_scale_decode(o->row_scale[n], o->scale_code[gi]);
            double deq;
            int v = round_value(wr[k], s, asym ? o->zero[gi] + 8 : 0, asym, &deq);
            shr_i4_set(o->codes, (int64_t)n * K + k, v);
            if (H) { /* spread this column's error over the columns not quantized yet */
                double e = (wr[k] - deq) / H[(size_t)k * K + k];
                for (int j = k + 1; j < K; j++) wr[j] -= e * H[(size_t)k * K + j];
            }
        }
    }
    free(w);
    free(gs);
    return st;
}

shr_status shr_q_hessians(const shr_graph *F, const shr_dataset *d, int samples, const int *nodes, int n,
                          double **H) {
    if (!d || d->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "--gptq needs calibration data");
    int64_t ns = samples < 1 || samples > d->n ? d->n : samples;
    int batch = ns < 64 ? (int)ns : 64;
    for (int i = 0; i < n; i++) H[i] = NULL;
    shr_tape *t = NULL;
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    shr_status st = x ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == SHR_OK; i++) {
        int64_t K = F->values[F->nodes[nodes[i]].inputs[1]].shape[1];
        if (!(H[i] = calloc((size_t)(K * K), sizeof **H))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    if (st == SHR_OK) st = shr_tape_create_ex((shr_graph *)F, batch, SHR_TAPE_NO_GRAD, &t);
    for (int64_t s0 = 0; st == SHR_OK && s0 < ns; s0 += batch) {
        int m = (int)(ns - s0 < batch ? ns - s0 : batch);
        shr_q_fill(d, &F->preproc, s0, m, x, NULL);
        st = shr_tape_forward(t, x, m, 0, NULL, NULL);
        for (int i = 0; i < n && st == SHR_OK; i++) { /* H += sum over the batch of x x^T (upper half) */
            const shr_tensor *a = shr_tape_act(t, F->nodes[nodes[i]].inputs[0]);
            int64_t K = a->shape[1];
            for (int b = 0; b < m; b++) {
                const float *r = shr_f32(a) + (int64_t)b * K;
                for (int64_t p = 0; p < K; p++) {
                    if (r[p] == 0.0f) continue;
                    double *hp = H[i] + p * K;
                    for (int64_t q = p; q < K; q++) hp[q] += (double)r[p] * r[q];
                }
            }
        }
    }
    for (int i = 0; i < n && st == SHR_OK; i++) { /* mirror the upper half */
        int64_t K = F->values[F->nodes[nodes[i]].inputs[1]].shape[1];
        for (int64_t p = 0; p < K; p++)
            for (int64_t q = p + 1; q < K; q++) H[i][q * K + p] = H[i][p * K + q];
    }
    shr_tape_free(t);
    shr_free(x);
    if (st != SHR_OK)
        for (int i = 0; i < n; i++) {
            free(H[i]);
            H[i] = NULL;
        }
    return st;
}
