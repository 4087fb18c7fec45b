/* Inverted dropout with drop probability p = attrs.alpha in [0, 1).
 *
 * Layout: x, y of identical shape, treated as flat arrays of numel f32 values.
 * Training: keep[i] ~ Bernoulli(1 - p) drawn from io->rng in element order;
 * y = x * keep / (1 - p), and the mask stays in *state for backward.
 * Like PyTorch, this multiplies by the mask, so a dropped NaN/inf stays NaN.
 * Eval (or p == 0): y = x, gradient passes through.
 * The mask comes from one sequential rng stream, so it is the same for any
 * thread count; only the (independent) multiplies run in parallel.
 * FLOPs: 0 (element-wise, not counted). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/op.h"

#define PAR_MIN ((int64_t)1 << 15)

typedef struct dropout_state {
    int64_t n;
    float scale;      /* 1 / (1 - p) */
    uint8_t keep[];   /* 1: element kept */
} dropout_state;

static const char *node_name(const shr_node *n) { return n->name ? n->name : "?"; }

static shr_status dropout_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0);
    if (n->n_inputs != 1 || !x)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (dropout): expects exactly one input", node_name(n));
    float p = n->attrs.alpha;
    if (!(p >= 0.0f && p < 1.0f))
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (dropout): drop probability %g is outside [0, 1)",
                        node_name(n), (double)p);
    *ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    return SHR_OK;
}

static int active(const shr_op_io *io) { return io->training && io->node->attrs.alpha > 0.0f; }

/* Reuses the previous step's mask buffer when the size is unchanged. */
static shr_status get_state(shr_op_io *io, int64_t n, dropout_state **out) {
    dropout_state *s = *io->state;
    if (!s || s->n != n) {
        free(s);
        *io->state = NULL;
        s = malloc(sizeof *s + (size_t)n);
        if (!s)
            return shr_fail(SHR_ERR_NOMEM, "node '%s' (dropout): out of memory for a %lld-element mask",
                            node_name(io->node), (long long)n);
        s->n = n;
        *io->state = s;
    }
    *out = s;
    return SHR_OK;
}

/* Each 64-bit draw gives two 32-bit uniforms; drop when u < p * 2^32. */
static void draw_mask(shr_rng *rng, float p, uint8_t *keep, int64_t n) {
    uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t r = shr_rng_next(rng);
        keep[i] = (r & 0xFFFFFFFFu) >= thr;
        keep[i + 1] = (r >> 32) >= thr;
    }
    if (i < n) keep[i] = (shr_rng_next(rng) & 0xFFFFFFFFu) >= thr;
}

static shr_status dropout_fwd(shr_op_io *io) {
    const shr_tensor *in = io->in[0];
    if (!in || !io->out || in->numel != io->out->numel)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (dropout): input and output sizes differ", node_name(io->node));
    const float *x = shr_f32(in);
    float *y = shr_f32(io->out);
    int64_t n = in->numel;
    if (!active(io)) {
        if (y != x) memcpy(y, x, (size_t)n * sizeof(float));
        return SHR_OK;
    }
    if (!io->rng)
        return shr_fail(SHR_ERR_INVALID_ARG, "node '%s' (dropout): training mode needs a random generator",
                        node_name(io->node));
    dropout_state *s = NULL;
    SHR_TRY(get_state(io, n, &s));
    float p = io->node->attrs.alpha;
    s->scale = 1.0f / (1.0f - p);
    draw_mask(io->rng, p, s->keep, n);
    const uint8_t *keep = s->keep;
    const float scale = s->scale;
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * ((float)keep[i] * scale);
    return SHR_OK;
}

static shr_status dropout_bwd(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    if (!din[0]) return SHR_OK;
    int64_t n = din[0]->numel;
    if (!dout || dout->numel != n)
        return shr_fail(SHR_ERR_SHAPE, "node '%s' (dropout): gradient sizes differ", node_name(io->node));
    const float *gy = shr_f32(dout);
    float *gx = shr_f32(din[0]);
    if (!active(io)) {
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
        for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
        return SHR_OK;
    }
    const dropout_state *s = *io->state;
    if (!s || s->n != n)
        return shr_fail(SHR_ERR_INTERNAL, "node '%s' (dropout): backward without a training forward",
                        node_name(io->node));
    const uint8_t *keep = s->keep;
    const float scale = s->scale;
#pragma omp parallel for simd schedule(static) if (parallel: n >= PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * ((float)keep[i] * scale);
    return SHR_OK;
}

static int64_t no_flops(const shr_graph *g, const shr_node *n) { return 0; }

/* The state is one malloc block, so the default free() releases it. */
const shr_op_def shr_op_dropout = {"dropout", 1, 1, dropout_infer, dropout_fwd, dropout_bwd, no_flops, NULL};
