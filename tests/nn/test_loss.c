/* Losses: values against closed forms, gradients against central finite
 * differences on random odd-shaped batches, label smoothing, KL limits. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "shrink/rng.h"
#include "shrink/status.h"
#include "shrink/train.h"
#include "test.h"

enum { CE, MSE, KL };

typedef struct loss_case {
    int kind;
    const int32_t *labels;  /* CE */
    const float *other;     /* MSE target / KL teacher */
    int N, K;
    float ls, T;
} loss_case;

static float eval_loss(const loss_case *c, const float *x, float *grad) {
    float l = NAN;
    shr_status st = SHR_ERR_INTERNAL;
    if (c->kind == CE) st = shr_loss_cross_entropy(x, c->labels, c->N, c->K, c->ls, &l, grad);
    if (c->kind == MSE) st = shr_loss_mse(x, c->other, c->N, c->K, &l, grad);
    if (c->kind == KL) st = shr_loss_kl_div(x, c->other, c->N, c->K, c->T, &l, grad);
    CHECK_OK(st);
    return l;
}

/* Central differences with step h on every element of x (N*K <= 256);
 * tol is absolute (gradients here are well below 1). */
static void check_grad_fd(const loss_case *c, float *x, float h, double tol) {
    const int n = c->N * c->K;
    float grad[256];
    eval_loss(c, x, grad);
    double max_g = 0.0;
    for (int i = 0; i < n; i++) {
        const float keep = x[i];
        x[i] = keep + h;
        const double lp = eval_loss(c, x, NULL);
        x[i] = keep - h;
        const double lm = eval_loss(c, x, NULL);
        x[i] = keep;
        /* divide by the step actually taken after float rounding */
        const double fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
        CHECK_MSG(fabs(fd - grad[i]) <= tol, "kind %d elem %d: fd %.7g analytic %.7g", c->kind, i, fd, grad[i]);
        max_g = fmax(max_g, fabs(grad[i]));
    }
    /* the comparison means something only if the gradient is not ~0 */
    CHECK(max_g > 20 * tol);
}

static void fill_normal(shr_rng *r, float *x, int n, float scale) {
    for (int i = 0; i < n; i++) x[i] = scale * shr_rng_normal(r);
}

/* Logits and targets (or student and teacher): a, then b, ~ scale * N(0, 1) from seed. */
static void fill_pair(uint64_t seed, float *a, float *b, int n, float scale) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    fill_normal(&r, a, n, scale);
    fill_normal(&r, b, n, scale);
}

static void test_ce_closed_form(void) {
    /* row 0: logits 1,2,3 label 2 -> log(e + e^2 + e^3) - 3
     * row 1: equal logits -> log(3) whatever the label */
    const float x[6] = {1, 2, 3, 0.5f, 0.5f, 0.5f};
    const int32_t y[2] = {2, 0};
    float loss, grad[6];
    CHECK_OK(shr_loss_cross_entropy(x, y, 2, 3, 0.0f, &loss, grad));
    const double r0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0, r1 = log(3.0);
    CHECK_NEAR(loss, (r0 + r1) / 2, 1e-6);
    /* gradient of the mean: (softmax - onehot) / N */
    const double z = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_NEAR(grad[0], exp(1.0) / z / 2, 1e-7);
    CHECK_NEAR(grad[2], (exp(3.0) / z - 1.0) / 2, 1e-7);
    CHECK_NEAR(grad[3], (1.0 / 3 - 1.0) / 2, 1e-7);
    CHECK_NEAR(grad[4], (1.0 / 3) / 2, 1e-7);
    /* loss may be requested without a gradient and vice versa */
    float l2;
    CHECK_OK(shr_loss_cross_entropy(x, y, 2, 3, 0.0f, &l2, NULL));
    CHECK(l2 == loss);
    float g2[6];
    CHECK_OK(shr_loss_cross_entropy(x, y, 2, 3, 0.0f, NULL, g2));
    CHECK(memcmp(g2, grad, sizeof grad) == 0);
}

static void test_ce_stable(void) {
    /* huge logits: a naive exp() overflows */
    const float x[4] = {1000.0f, 0.0f, 0.0f, 1000.0f};
    const int32_t y[2] = {0, 0};
    float loss, grad[4];
    CHECK_OK(shr_loss_cross_entropy(x, y, 2, 2, 0.0f, &loss, grad));
    CHECK(isfinite(loss));
    CHECK_NEAR(loss, (0.0 + 1000.0) / 2, 1e-6);
    CHECK_NEAR(grad[0], 0.0, 1e-9);
    CHECK_NEAR(grad[2], -0.5, 1e-9);
    CHECK_NEAR(grad[3], 0.5, 1e-9);
}

static void test_ce_label_smoothing(void) {
    /* PyTorch form: (1 - ls) * nll + ls * mean_k(-log p_k) */
    const float x[3] = {0.2f, -1.0f, 2.5f};
    const int32_t y[1] = {1};
    const double ls = 0.2;
    double z = 0;
    for (int k = 0; k < 3; k++) z += exp((double)x[k]);
    double nll = -(x[1] - log(z)), mean_nlp = 0;
    for (int k = 0; k < 3; k++) mean_nlp += -((double)x[k] - log(z)) / 3;
    float loss, grad[3];
    CHECK_OK(shr_loss_cross_entropy(x, y, 1, 3, (float)ls, &loss, grad));
    CHECK_NEAR(loss, (1 - ls) * nll + ls * mean_nlp, 1e-6);
    /* gradient p - target with target = (1 - ls) onehot + ls / K */
    for (int k = 0; k < 3; k++) {
        double t = (k == 1 ? 1 - ls : 0.0) + ls / 3;
        CHECK_NEAR(grad[k], exp((double)x[k]) / z - t, 1e-7);
    }
    /* smoothing raises the loss of a confident correct prediction */
    const float c[3] = {10, 0, 0};
    const int32_t y0[1] = {0};
    float l0, l1;
    CHECK_OK(shr_loss_cross_entropy(c, y0, 1, 3, 0.0f, &l0, NULL));
    CHECK_OK(shr_loss_cross_entropy(c, y0, 1, 3, 0.1f, &l1, NULL));
    CHECK(l1 > l0 + 0.5f);
}

static void test_ce_errors(void) {
    const float x[6] = {0};
    const int32_t bad_hi[2] = {0, 3}, bad_lo[2] = {-1, 0}, ok[2] = {0, 2};
    float loss = 7.0f, grad[6];
    CHECK_STATUS(shr_loss_cross_entropy(x, bad_hi, 2, 3, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "label 3") != NULL);
    CHECK_STATUS(shr_loss_cross_entropy(x, bad_lo, 2, 3, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK(loss == 7.0f); /* untouched on failure */
    CHECK_STATUS(shr_loss_cross_entropy(x, ok, 2, 3, 1.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(x, ok, 2, 3, -0.1f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(x, ok, 2, 3, NAN, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(x, ok, 0, 3, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(x, ok, 2, 0, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(NULL, ok, 2, 3, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_cross_entropy(x, NULL, 2, 3, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
}

static void test_ce_grad_fd(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    enum { N = 5, K = 7 };
    float x[N * K];
    int32_t y[N];
    fill_normal(&r, x, N * K, 1.5f);
    for (int n = 0; n < N; n++) y[n] = (int32_t)shr_rng_below(&r, K);
    loss_case c = {CE, y, NULL, N, K, 0.0f, 0.0f};
    check_grad_fd(&c, x, 1e-2f, 2e-4);
    c.ls = 0.15f;
    check_grad_fd(&c, x, 1e-2f, 2e-4);
}

static void test_mse(void) {
    /* (1-0)^2 + (2-4)^2 + (-1-(-1))^2 + (0.5-2)^2 = 1 + 4 + 0 + 2.25, mean over 4 */
    const float p[4] = {1, 2, -1, 0.5f}, t[4] = {0, 4, -1, 2};
    float loss, grad[4];
    CHECK_OK(shr_loss_mse(p, t, 2, 2, &loss, grad));
    CHECK_NEAR(loss, 7.25 / 4, 1e-7);
    CHECK_NEAR(grad[0], 2.0 * 1 / 4, 1e-7);
    CHECK_NEAR(grad[1], 2.0 * -2 / 4, 1e-7);
    CHECK_NEAR(grad[2], 0.0, 1e-9);
    CHECK_NEAR(grad[3], 2.0 * -1.5 / 4, 1e-7);
    CHECK_STATUS(shr_loss_mse(p, NULL, 2, 2, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_mse(p, t, -1, 2, &loss, grad), SHR_ERR_INVALID_ARG);

    enum { N = 3, K = 5 };
    float x[N * K], tg[N * K];
    fill_pair(12, x, tg, N * K, 1.0f);
    loss_case c = {MSE, NULL, tg, N, K, 0.0f, 0.0f};
    check_grad_fd(&c, x, 1e-2f, 1e-4);
}

static void test_kl_closed_form(void) {
    /* K = 2, T = 2: p = softmax(x / 2) computed here by hand */
    const float s[2] = {1.0f, -1.0f}, t[2] = {0.0f, 2.0f};
    const double T = 2.0;
    double ps0 = 1.0 / (1.0 + exp((-1.0 - 1.0) / T)), pt0 = 1.0 / (1.0 + exp((2.0 - 0.0) / T));
    double ps1 = 1 - ps0, pt1 = 1 - pt0;
    double want = pt0 * log(pt0 / ps0) + pt1 * log(pt1 / ps1);
    float loss, grad[2];
    CHECK_OK(shr_loss_kl_div(s, t, 1, 2, (float)T, &loss, grad));
    CHECK_NEAR(loss, want, 1e-6);
    CHECK_NEAR(grad[0], (ps0 - pt0) / T, 1e-7);
    CHECK_NEAR(grad[1], (ps1 - pt1) / T, 1e-7);

    /* a teacher probability that underflows to 0 contributes nothing:
     * loss = 1 * log(1 / p_s0) with p_s0 = softmax(0, 3)[0] */
    const float s2[2] = {0.0f, 3.0f}, t2[2] = {0.0f, -1e4f};
    CHECK_OK(shr_loss_kl_div(s2, t2, 1, 2, 1.0f, &loss, grad));
    CHECK(isfinite(loss));
    CHECK_NEAR(loss, log(1.0 + exp(3.0)), 1e-6);
    CHECK_NEAR(grad[0], 1.0 / (1.0 + exp(3.0)) - 1.0, 1e-7);
    /* ... and so does a masked-out (-inf) teacher logit, where p log p is 0 * -inf */
    const float t3[2] = {0.0f, -INFINITY};
    CHECK_OK(shr_loss_kl_div(s2, t3, 1, 2, 1.0f, &loss, grad));
    CHECK_NEAR(loss, log(1.0 + exp(3.0)), 1e-6);
    CHECK_NEAR(grad[1], 1.0 / (1.0 + exp(-3.0)), 1e-7);

    CHECK_STATUS(shr_loss_kl_div(s, t, 1, 2, 0.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_kl_div(s, t, 1, 2, -1.0f, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_kl_div(s, t, 1, 2, INFINITY, &loss, grad), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_loss_kl_div(s, NULL, 1, 2, 1.0f, &loss, grad), SHR_ERR_INVALID_ARG);
}

static void test_kl_identical(void) {
    shr_rng r;
    shr_rng_seed(&r, 13);
    enum { N = 5, K = 9 };
    float x[N * K], grad[N * K];
    fill_normal(&r, x, N * K, 3.0f);
    const float temps[3] = {0.5f, 1.0f, 4.0f};
    for (int i = 0; i < 3; i++) {
        float loss = 1.0f;
        CHECK_OK(shr_loss_kl_div(x, x, N, K, temps[i], &loss, grad));
        CHECK(fabsf(loss) < 1e-7f);
        double mx = 0;
        for (int j = 0; j < N * K; j++) mx = fmax(mx, fabs(grad[j]));
        CHECK(mx < 1e-8);
    }
}

static void test_kl_grad_fd(void) {
    enum { N = 3, K = 7 };
    float s[N * K], t[N * K];
    fill_pair(14, s, t, N * K, 2.0f);
    loss_case c = {KL, NULL, t, N, K, 0.0f, 1.0f};
    check_grad_fd(&c, s, 1e-2f, 2e-4);
    c.T = 2.5f;
    check_grad_fd(&c, s, 2e-2f, 1e-4);
}

static void test_kl_large_t(void) {
    /* For T -> inf, T^2 KL -> (1/(2K)) mean_n sum_k ((s - mean s) - (t - mean t))^2. */
    enum { N = 7, K = 11 };
    float s[N * K], t[N * K];
    fill_pair(15, s, t, N * K, 3.0f);
    double want = 0;
    for (int n = 0; n < N; n++) {
        double ms = 0, mt = 0;
        for (int k = 0; k < K; k++) {
            ms += s[n * K + k] / (double)K;
            mt += t[n * K + k] / (double)K;
        }
        for (int k = 0; k < K; k++) {
            double d = (s[n * K + k] - ms) - (t[n * K + k] - mt);
            want += d * d / (2.0 * K) / N;
        }
    }
    const float T = 100.0f;
    float loss;
    CHECK_OK(shr_loss_kl_div(s, t, N, K, T, &loss, NULL));
    const double got = (double)T * T * loss;
    CHECK_MSG(fabs(got - want) <= 0.03 * want, "T^2 KL %.6g, limit %.6g", got, want);
    /* at T = 1 these logits are far from the limit, so the check above is not vacuous */
    CHECK_OK(shr_loss_kl_div(s, t, N, K, 1.0f, &loss, NULL));
    CHECK(fabs(loss - want) > 0.1 * want);
}

int main(void) {
    RUN(test_ce_closed_form);
    RUN(test_ce_stable);
    RUN(test_ce_label_smoothing);
    RUN(test_ce_errors);
    RUN(test_ce_grad_fd);
    RUN(test_mse);
    RUN(test_kl_closed_form);
    RUN(test_kl_identical);
    RUN(test_kl_grad_fd);
    RUN(test_kl_large_t);
    return test_summary();
}
