/* Losses over a batch of rows: logits / predictions are (N, K) row-major.
 * Each returns the mean over the batch and, if grad != NULL, overwrites grad
 * (N, K) with the gradient of that mean. Row math is in double (float
 * log-sum-exp loses digits at large K), and rows are summed in order so the
 * result is deterministic. */
#include <math.h>
#include <stddef.h>

#include "core/error.h"
#include "shrink/train.h"

static shr_status check_dims(const char *who, const void *a, const void *b, int N, int K) {
    if (!a || !b) return shr_fail(SHR_ERR_INVALID_ARG, "%s: NULL input", who);
    if (N <= 0 || K <= 0) return shr_fail(SHR_ERR_INVALID_ARG, "%s: need N > 0 and K > 0, got N=%d K=%d", who, N, K);
    return SHR_OK;
}

/* log(sum_k exp(x_k * inv_t)) of one row, with the max subtracted first so
 * large logits cannot overflow exp(). */
static double row_logsumexp(const float *x, int K, double inv_t) {
    double m = (double)x[0] * inv_t;
    for (int k = 1; k < K; k++) m = fmax(m, (double)x[k] * inv_t);
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)x[k] * inv_t - m);
    return m + log(s);
}

shr_status shr_loss_cross_entropy(const float *logits, const int32_t *labels, int N, int K, float label_smoothing,
                                  float *loss, float *grad) {
    SHR_TRY(check_dims("cross-entropy", logits, labels, N, K));
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return shr_fail(SHR_ERR_INVALID_ARG, "cross-entropy: label_smoothing must be in [0, 1), got %g",
                        (double)label_smoothing);
    for (int n = 0; n < N; n++) {
        if (labels[n] < 0 || labels[n] >= K)
            return shr_fail(SHR_ERR_INVALID_ARG, "cross-entropy: label %d of sample %d is outside 0..%d",
                            (int)labels[n], n, K - 1);
    }
    /* target_k = (1 - ls) [k == y] + ls / K;  loss_n = -sum_k target_k log p_k;
     * d loss_n / d x_k = p_k - target_k. */
    const double ls = label_smoothing, off = ls / K, on = 1.0 - ls + off;
    const double inv_n = 1.0 / N;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * K;
        const double lse = row_logsumexp(x, K, 1.0);
        double row = 0.0;
        for (int k = 0; k < K; k++) {
            double lp = (double)x[k] - lse, t = k == labels[n] ? on : off;
            row -= t * lp;
            if (grad) grad[(size_t)n * K + k] = (float)((exp(lp) - t) * inv_n);
        }
        total += row;
    }
    if (loss) *loss = (float)(total * inv_n);
    return SHR_OK;
}

shr_status shr_loss_mse(const float *pred, const float *target, int N, int K, float *loss, float *grad) {
    SHR_TRY(check_dims("mse", pred, target, N, K));
    const size_t total_n = (size_t)N * (size_t)K;
    const double inv = 1.0 / (double)total_n;
    double total = 0.0;
    for (size_t i = 0; i < total_n; i++) {
        double d = (double)pred[i] - (double)target[i];
        total += d * d;
        if (grad) grad[i] = (float)(2.0 * d * inv);
    }
    if (loss) *loss = (float)(total * inv);
    return SHR_OK;
}

shr_status shr_loss_kl_div(const float *student, const float *teacher, int N, int K, float T, float *loss,
                           float *grad) {
    SHR_TRY(check_dims("kl-div", student, teacher, N, K));
    if (!(T > 0.0f) || !isfinite(T))
        return shr_fail(SHR_ERR_INVALID_ARG, "kl-div: temperature must be a finite value > 0, got %g", (double)T);
    /* loss_n = sum_k p_t (log p_t - log p_s), p = softmax(logits / T);
     * d loss_n / d s_k = (p_s,k - p_t,k) / T. Terms whose p_t underflows to 0
     * contribute 0 (the limit of p log p). */
    const double inv_t = 1.0 / (double)T, inv_n = 1.0 / N;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *s = student + (size_t)n * K, *t = teacher + (size_t)n * K;
        const double lse_s = row_logsumexp(s, K, inv_t), lse_t = row_logsumexp(t, K, inv_t);
        double row = 0.0;
        for (int k = 0; k < K; k++) {
            double lps = (double)s[k] * inv_t - lse_s, lpt = (double)t[k] * inv_t - lse_t, pt = exp(lpt);
            if (pt > 0.0) row += pt * (lpt - lps);
            if (grad) grad[(size_t)n * K + k] = (float)((exp(lps) - pt) * inv_t * inv_n);
        }
        total += row;
    }
    if (loss) *loss = (float)(total * inv_n);
    return SHR_OK;
}
