/* Batch normalization over channel dim 1:
 *   x (N, C) or (N, C, L) or (N, C, H, W); gamma, beta (C) params; running_mean,
 *   running_var (C) buffers -> y same shape as x. Per channel, over the M = N*S
 *   values (S = product of the dims after C):
 *   training: y = gamma * (x - mean) / sqrt(var + eps) + beta with batch mean and
 *             biased var; running = (1 - momentum) * running + momentum * stat,
 *             using the unbiased var M/(M-1) * var for running_var (as PyTorch);
 *   eval:     the same with the running statistics.
 * Every loop is parallel over channels only, so sums keep a fixed order; element-wise
 * loops carry omp simd because -O2 alone leaves them scalar. The
 * training cache holds mean and 1/std per channel; x_hat is recomputed from x in
 * backward (x is still there), which costs the same passes and no extra memory. */
#include <math.h>
#include <stdlib.h>

#include "nn/ops/ops_util.h"

static const char *const OP = "batchnorm";
static const char *const PARAM_NAMES[5] = {"input", "gamma", "beta", "running_mean", "running_var"};

typedef struct bn_state {
    int C;
    int valid;     /* 1: written by a training-mode forward (0 after an eval forward) */
    float *mean;   /* (C) batch mean */
    float *inv_std; /* (C) 1 / sqrt(batch var + eps) */
} bn_state;

static void bn_free_state(void *p) {
    bn_state *s = p;
    if (!s) return;
    free(s->mean);
    free(s->inv_std);
    free(s);
}

static float bn_eps(const shr_node *n) { return n->attrs.eps == 0.0f ? 1e-5f : n->attrs.eps; }
static float bn_momentum(const shr_node *n) { return n->attrs.momentum == 0.0f ? 0.1f : n->attrs.momentum; }

/* Row reductions with 8 independent float lanes (the compiler vectorizes them and the
 * add chains are short), lanes combined in a fixed order in double. */
#define LANES 8

static double row_sum(const float *v, int64_t n) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += v[i + l];
    double s = 0.0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; i < n; i++) s += v[i];
    return s;
}

static double row_sumsq_dev(const float *v, int64_t n, float m) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = v[i + l] - m;
            acc[l] += d * d;
        }
    double s = 0.0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; i < n; i++) {
        double d = v[i] - m;
        s += d * d;
    }
    return s;
}

/* *sg += sum(g), *sgx += sum(g * (x - mean) * inv) over one row. */
static void row_grad_sums(const float *g, const float *x, int64_t n, float mean, float inv, double *sg,
                          double *sgx) {
    float a[LANES] = {0}, b[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            a[l] += g[i + l];
            b[l] += g[i + l] * ((x[i + l] - mean) * inv);
        }
    double sa = 0.0, sb = 0.0;
    for (int l = 0; l < LANES; l++) {
        sa += a[l];
        sb += b[l];
    }
    for (; i < n; i++) {
        sa += g[i];
        sb += (double)g[i] * ((x[i] - mean) * inv);
    }
    *sg += sa;
    *sgx += sb;
}

static shr_status bn_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (x->ndim < 2 || x->ndim > 4 || !shr_dims_ok(x->ndim, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input must be (N, C), (N, C, L) or (N, C, H, W), got %s",
                             shr_shape_text_of(x->ndim, x->shape).s);
    int64_t C = x->shape[1];
    for (int i = 1; i < 5; i++) {
        const shr_value *p = shr_node_in(g, n, i);
        if (p->ndim != 1 || p->shape[0] != C)
            return shr_node_fail(SHR_ERR_SHAPE, n, OP, "%s shape %s does not match channels %lld", PARAM_NAMES[i],
                                 shr_shape_text_of(p->ndim, p->shape).s, (long long)C);
    }
    float eps = bn_eps(n), mom = bn_momentum(n);
    if (!(eps > 0.0f) || isinf(eps))
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "eps %g must be positive", (double)eps);
    if (!(mom > 0.0f && mom <= 1.0f))
        return shr_node_fail(SHR_ERR_INVALID_ARG, n, OP, "momentum %g must be in (0, 1]", (double)mom);
    *ndim = x->ndim;
    shape[0] = -1;
    for (int d = 1; d < x->ndim; d++) shape[d] = x->shape[d];
    return SHR_OK;
}

/* N, C and S (elements per channel per sample) of the actual input. */
static void bn_dims(const shr_tensor *x, int64_t *N, int *C, int64_t *S) {
    *N = x->shape[0];
    *C = (int)x->shape[1];
    int64_t s = 1;
    for (int d = 2; d < x->ndim; d++) s *= x->shape[d];
    *S = s;
}

static shr_status bn_forward(shr_op_io *io) {
    const shr_tensor *xt = io->in[0];
    int64_t N, S;
    int C;
    bn_dims(xt, &N, &C, &S);
    const float *x = shr_f32(xt), *gamma = shr_f32(io->in[1]), *beta = shr_f32(io->in[2]);
    float *rmean = shr_f32(io->in[3]), *rvar = shr_f32(io->in[4]), *y = shr_f32(io->out);
    float eps = bn_eps(io->node), mom = bn_momentum(io->node);
    int64_t M = N * S;
    size_t CS = (size_t)C * (size_t)S;
    bn_state *st = io->state ? *io->state : NULL;

    if (!io->training) {
        if (st) st->valid = 0;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            float a = gamma[c] / sqrtf(rvar[c] + eps), m = rmean[c], bb = beta[c];
            for (int64_t i = 0; i < N; i++) {
                const float *xr = x + (size_t)i * CS + (size_t)c * S;
                float *yr = y + (size_t)i * CS + (size_t)c * S;
#pragma omp simd
                for (int64_t s = 0; s < S; s++) yr[s] = (xr[s] - m) * a + bb;
            }
        }
        return SHR_OK;
    }

    if (M == 0) return SHR_OK;
    if (M == 1)
        return shr_node_fail(SHR_ERR_SHAPE, io->node, OP,
                             "training needs more than one value per channel (batch of 1 without spatial dims)");
    if (io->state) {
        if (!st) {
            st = calloc(1, sizeof *st);
            if (!st) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating batchnorm state");
            *io->state = st;
        }
        if (st->C != C || !st->mean) {
            free(st->mean);
            free(st->inv_std);
            st->mean = malloc((size_t)C * sizeof(float));
            st->inv_std = malloc((size_t)C * sizeof(float));
            st->C = C;
            st->valid = 0;
            if (!st->mean || !st->inv_std) return shr_fail(SHR_ERR_NOMEM, "out of memory allocating batchnorm state");
        }
    }
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        /* Two passes (mean, then squared deviations) in double: stable for large means. */
        double sum = 0.0, sq = 0.0;
        for (int64_t i = 0; i < N; i++) sum += row_sum(x + (size_t)i * CS + (size_t)c * S, S);
        double mean = sum / (double)M;
        for (int64_t i = 0; i < N; i++) sq += row_sumsq_dev(x + (size_t)i * CS + (size_t)c * S, S, (float)mean);
        /* Deviations from the rounded mean: add back the (tiny) rounding offset. */
        double dm = mean - (double)(float)mean;
        double var = sq / (double)M - dm * dm;
        if (var < 0.0) var = 0.0;
        float inv = (float)(1.0 / sqrt(var + (double)eps)), mf = (float)mean;
        if (st) {
            st->mean[c] = mf;
            st->inv_std[c] = inv;
        }
        float a = gamma[c] * inv, bb = beta[c];
        for (int64_t i = 0; i < N; i++) {
            const float *xr = x + (size_t)i * CS + (size_t)c * S;
            float *yr = y + (size_t)i * CS + (size_t)c * S;
#pragma omp simd
            for (int64_t s = 0; s < S; s++) yr[s] = (xr[s] - mf) * a + bb;
        }
        rmean[c] = (1.0f - mom) * rmean[c] + mom * mf;
        rvar[c] = (1.0f - mom) * rvar[c] + mom * (float)(var * (double)M / (double)(M - 1));
    }
    if (st) st->valid = 1;
    return SHR_OK;
}

static shr_status bn_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    const shr_tensor *xt = io->in[0];
    int64_t N, S;
    int C;
    bn_dims(xt, &N, &C, &S);
    const float *x = shr_f32(xt), *gamma = shr_f32(io->in[1]), *dy = shr_f32(dout);
    const float *rmean = shr_f32(io->in[3]), *rvar = shr_f32(io->in[4]);
    float *dx = din[0] ? shr_f32(din[0]) : NULL;
    float *dgamma = din[1] ? shr_f32(din[1]) : NULL, *dbeta = din[2] ? shr_f32(din[2]) : NULL;
    float eps = bn_eps(io->node);
    int64_t M = N * S;
    size_t CS = (size_t)C * (size_t)S;
    const bn_state *st = io->state ? *io->state : NULL;
    int train = io->training;
    if (M == 0) return SHR_OK;
    if (train && (!st || !st->valid || st->C != C))
        return shr_node_fail(SHR_ERR_INTERNAL, io->node, OP, "training-mode backward without a training forward");

#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float mean = train ? st->mean[c] : rmean[c];
        float inv = train ? st->inv_std[c] : 1.0f / sqrtf(rvar[c] + eps);
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t i = 0; i < N; i++)
            row_grad_sums(dy + (size_t)i * CS + (size_t)c * S, x + (size_t)i * CS + (size_t)c * S, S, mean, inv, &sdy,
                          &sdyx);
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        float k = gamma[c] * inv;
        /* Training: the batch statistics depend on x too, which removes the mean of dy
         * and its projection on x_hat. Eval: plain affine map. */
        float mdy = train ? (float)(sdy / (double)M) : 0.0f, mdyx = train ? (float)(sdyx / (double)M) : 0.0f;
        for (int64_t i = 0; i < N; i++) {
            const float *xr = x + (size_t)i * CS + (size_t)c * S, *gr = dy + (size_t)i * CS + (size_t)c * S;
            float *dr = dx + (size_t)i * CS + (size_t)c * S;
#pragma omp simd
            for (int64_t s = 0; s < S; s++) dr[s] += k * (gr[s] - mdy - (xr[s] - mean) * inv * mdyx);
        }
    }
    return SHR_OK;
}

static int64_t bn_flops(const shr_graph *g, const shr_node *n) {
    /* Inference cost: one multiply-add per element. */
    const shr_value *x = shr_node_in(g, n, 0);
    int64_t e = 1;
    for (int d = 1; d < x->ndim; d++) e *= x->shape[d] > 0 ? x->shape[d] : 1;
    return 2 * e;
}

const shr_op_def shr_op_batchnorm = {
    .name = "batchnorm",
    .min_inputs = 5,
    .max_inputs = 5,
    .infer = bn_infer,
    .forward = bn_forward,
    .backward = bn_backward,
    .flops = bn_flops,
    .free_state = bn_free_state,
};
