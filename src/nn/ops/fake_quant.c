/* fake_quant: quantize-dequantize in f32 for quantization-aware training.
 *   [x, scale (1) param or buffer, zero_point (1) f32 buffer, range (2) f32 buffer optional]
 *   y = s * (clamp(round_half_even(x / s) + z, qmin, qmax) - z),  qmin / qmax = attrs.alpha / eps.
 * Training with a range buffer (an observer): the batch's min / max (0 included) move the range
 * by an exponential moving average (attrs.momentum; the first batch sets it), and when the scale
 * is a buffer, scale and zero point follow the range (asymmetric; attrs.count_include_pad = 1:
 * symmetric, zero point 0) before the batch is fake-quantized.
 * Backward, straight-through: dx = dy where the code was not clamped, 0 where it was. When the
 * scale is a param (LSQ, Esser et al. 2020) it also gets
 *   ds = g * sum dy * (q - x/s) inside, (qmin - z) below, (qmax - z) above,  g = 1/sqrt(n * qmax)
 * with q = round(x/s) and n the elements per sample. */
#include "nn/ops/ops_quant.h"

static const char *const OP = "fake_quant";

static shr_status fq_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *s = shr_node_in(g, n, 1), *z = shr_node_in(g, n, 2);
    const shr_value *r = shr_node_in(g, n, 3);
    if (shr_value_dtype(g, n->inputs[0]) != SHR_F32 || !shr_dims_ok(x->ndim, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, OP, "input '%s' must be an f32 activation", x->name);
    const shr_value *st[3] = {s, z, r};
    for (int i = 0; i < 3; i++) {
        const shr_value *v = st[i];
        int64_t want = i == 2 ? 2 : 1;
        if (!v && i == 2) continue;
        if (!v || !v->data || v->data->dtype != SHR_F32 || v->data->numel != want ||
            (v->kind != SHR_VALUE_BUFFER && !(i == 0 && v->kind == SHR_VALUE_PARAM)))
            return shr_node_fail(SHR_ERR_FORMAT, n, OP, "input %d must be an f32 %s of %lld element(s)", i + 1,
                                 i == 0 ? "param or buffer" : "buffer", (long long)want);
    }
    float sc = shr_f32(s->data)[0], zp = shr_f32(z->data)[0], lo = n->attrs.alpha, hi = n->attrs.eps;
    if (!(sc > 0.0f) || !isfinite(sc) || !(lo <= hi) || lo != floorf(lo) || hi != floorf(hi) || lo < -32768.0f ||
        hi > 65535.0f || zp != floorf(zp) || zp < lo || zp > hi)
        return shr_node_fail(SHR_ERR_FORMAT, n, OP, "scale %g, zero point %g or clamp [%g, %g] invalid", (double)sc,
                             (double)zp, (double)lo, (double)hi);
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    return SHR_OK;
}

/* Scale and zero point from a range [lo, hi] (0 included). */
static void params_from_range(float lo, float hi, float qmin, float qmax, int symmetric, float *s, float *z) {
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    if (symmetric) {
        float m = -lo > hi ? -lo : hi;
        *s = m / qmax;
        *z = 0.0f;
    } else {
        *s = (hi - lo) / (qmax - qmin);
        *z = qmin - rintf(lo / (*s > 0.0f ? *s : 1.0f));
        *z = *z < qmin ? qmin : *z > qmax ? qmax : *z;
    }
    if (!(*s > 0.0f) || !isfinite(*s)) *s = 1.0f; /* an all-zero range */
}

static void observe(shr_op_io *io) {
    const shr_tensor *x = io->in[0];
    float *range = shr_f32(io->in[3]);
    const float *xp = shr_f32(x);
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < x->numel; i++) {
        if (xp[i] < mn) mn = xp[i];
        if (xp[i] > mx) mx = xp[i];
    }
    float m = io->node->attrs.momentum > 0.0f ? io->node->attrs.momentum : 0.01f;
    if (range[0] == 0.0f && range[1] == 0.0f) {
        range[0] = mn;
        range[1] = mx;
    } else {
        range[0] += m * (mn - range[0]);
        range[1] += m * (mx - range[1]);
    }
    if (io->g->values[io->node->inputs[1]].kind == SHR_VALUE_BUFFER)
        params_from_range(range[0], range[1], io->node->attrs.alpha, io->node->attrs.eps,
                          io->node->attrs.count_include_pad, shr_f32(io->in[1]), shr_f32(io->in[2]));
}

static shr_status fq_forward(shr_op_io *io) {
    if (io->training && io->node->n_inputs > 3 && io->in[3]) observe(io);
    const shr_tensor *x = io->in[0];
    float s = shr_f32(io->in[1])[0], z = shr_f32(io->in[2])[0];
    if (!(s > 0.0f)) s = 1e-12f; /* a learned scale pushed to or past zero */
    int lo = (int)io->node->attrs.alpha, hi = (int)io->node->attrs.eps, zi = (int)z;
    const float *xp = shr_f32(x);
    float *y = shr_f32(io->out);
    for (int64_t i = 0; i < x->numel; i++) y[i] = s * (float)(shr_q_quantize1(xp[i], s, zi, lo, hi) - zi);
    return SHR_OK;
}

static shr_status fq_backward(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din) {
    const shr_tensor *x = io->in[0];
    float s = shr_f32(io->in[1])[0], z = shr_f32(io->in[2])[0];
    if (!(s > 0.0f)) s = 1e-12f;
    float lo = io->node->attrs.alpha, hi = io->node->attrs.eps;
    const float *xp = shr_f32(x), *dy = shr_f32(dout);
    float *dx = din[0] ? shr_f32(din[0]) : NULL;
    int lsq = din[1] && io->g->values[io->node->inputs[1]].kind == SHR_VALUE_PARAM;
    double ds = 0.0;
    for (int64_t i = 0; i < x->numel; i++) {
        float t = xp[i] / s, q = rintf(t) + z;
        if (q < lo) {
            ds += (double)dy[i] * (lo - z);
        } else if (q > hi) {
            ds += (double)dy[i] * (hi - z);
        } else {
            if (dx) dx[i] += dy[i];
            ds += (double)dy[i] * (rintf(t) - t);
        }
    }
    if (lsq) {
        int64_t per = x->shape[0] > 0 ? x->numel / x->shape[0] : 1;
        double g = 1.0 / sqrt((double)per * (hi > 1.0f ? hi - z : 1.0));
        shr_f32(din[1])[0] += (float)(ds * g);
    }
    return SHR_OK;
}

const shr_op_def shr_op_fake_quant = {
    .name = "fake_quant",
    .min_inputs = 3,
    .max_inputs = 4,
    .infer = fq_infer,
    .forward = fq_forward,
    .backward = fq_backward,
};
