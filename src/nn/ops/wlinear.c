/* Linear layers with integer weights and f32 activations.
 *   wlinear (weight-only) [x (N, in), W (out, in) i8 | i4, scale, zero, bias]:
 *     i8: per-channel scale (out) or one (1), no zero point; y = x (scale * W)^T + bias.
 *     i4: groups of attrs.groups = G inputs (a power of two, 32..1024), scale (out, ceil(in/G)),
 *         optional zero points (out, groups) i8 in -8..7: w = (v - zero) * scale (kernels/int4.h).
 *         The scales are f32, or u8 codes with a sixth input, f32 row scales (out):
 *         scale = row * code / 255 (a quarter of the bytes; quant/int4q.c).
 *     Batch 1 runs a GEMV that reads the integer weights directly; larger batches dequantize
 *     panels of 64 rows into scratch and run the f32 GEMM on them.
 *   dlinear (dynamic range) [x (N, in), W (out, in) i8, w_scale (out)|(1), bias f32]:
 *     each forward quantizes the whole batch to u8 with the batch's own min / max (0 included),
 *     7-bit codes (0..127) by default (attrs.kernel[0] = 8: 8-bit) so the integer GEMM can use
 *     its int16-product path, then y = acc * x_scale * w_scale + bias in f32.
 * Both honor a fused ReLU / ReLU6 clamp from the plan. */
#include <stdlib.h>

#include "kernels/int4.h"
#include "kernels/kernels.h"
#include "kernels/qgemm.h"
#include "nn/ops/ops_quant.h"
#include "quant/w8.h"

static const char *const WOP = "wlinear", *const DOP = "dlinear";

static int stored(const shr_value *v) { return v && (v->kind == SHR_VALUE_PARAM || v->kind == SHR_VALUE_BUFFER) && v->data; }

static shr_status check_f32(const shr_node *n, const char *op, const shr_value *v, int64_t a, int64_t b, int ndim,
                            int positive) {
    if (!stored(v) || v->data->dtype != SHR_F32 || v->ndim != ndim || v->shape[0] != a || (ndim == 2 && v->shape[1] != b))
        return shr_node_fail(SHR_ERR_FORMAT, n, op, "'%s' must be f32 of shape [%lld%s%lld]", v ? v->name : "?",
                             (long long)a, ndim == 2 ? ", " : "", ndim == 2 ? (long long)b : 0LL);
    for (int64_t i = 0; i < v->data->numel; i++) {
        float s = shr_f32(v->data)[i];
        if (!isfinite(s) || (positive && !(s >= 0.0f)))
            return shr_node_fail(SHR_ERR_FORMAT, n, op, "'%s' holds %g", v->name, (double)s);
    }
    return SHR_OK;
}

static shr_status infer_common(const shr_graph *g, const shr_node *n, const char *op, int i_bias, int *ndim,
                               int64_t *shape) {
    const shr_value *x = shr_node_in(g, n, 0), *w = shr_node_in(g, n, 1), *b = shr_node_in(g, n, i_bias);
    if (shr_value_dtype(g, n->inputs[0]) != SHR_F32 || x->ndim != 2 || !shr_dims_ok(2, x->shape, 1))
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "input '%s' must be f32 (N, features)", x->name);
    if (w->kind != SHR_VALUE_PARAM || !w->data || w->ndim != 2 || !shr_dims_ok(2, w->shape, 0) ||
        w->shape[1] != x->shape[1])
        return shr_node_fail(SHR_ERR_SHAPE, n, op, "weight must be a param (out, %lld)", (long long)x->shape[1]);
    if (b) SHR_TRY(check_f32(n, op, b, w->shape[0], 0, 1, 0));
    *ndim = 2;
    shape[0] = -1;
    shape[1] = w->shape[0];
    return SHR_OK;
}

static int pow2_group(int G) { return G >= 32 && G <= 1024 && (G & (G - 1)) == 0; }

static shr_status wlinear_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    SHR_TRY(infer_common(g, n, WOP, 4, ndim, shape));
    const shr_value *w = shr_node_in(g, n, 1), *s = shr_node_in(g, n, 2), *z = shr_node_in(g, n, 3);
    int64_t out = w->shape[0], in = w->shape[1];
    if (w->data->dtype == SHR_I8) {
        if (z || shr_node_in(g, n, 5)) return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "int8 weights take no zero point");
        return check_f32(n, WOP, s, s && s->ndim == 1 && s->shape[0] == 1 ? 1 : out, 0, 1, 1);
    }
    if (w->data->dtype != SHR_I4) return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "weight must be i8 or i4");
    int G = n->attrs.groups;
    if (!pow2_group(G) || in > (1 << 24) || out > (1 << 24))
        return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "group size %d must be a power of two in 32..1024", G);
    int64_t ng = (in + G - 1) / G;
    if (s && stored(s) && s->data->dtype == SHR_U8) { /* coded scales and their row scales */
        if (s->ndim != 2 || s->shape[0] != out || s->shape[1] != ng)
            return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "scale codes must be u8 of shape [%lld, %lld]",
                                 (long long)out, (long long)ng);
        SHR_TRY(check_f32(n, WOP, shr_node_in(g, n, 5), out, 0, 1, 1));
    } else {
        if (shr_node_in(g, n, 5)) return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "row scales go with u8 scale codes");
        SHR_TRY(check_f32(n, WOP, s, out, ng, 2, 1));
    }
    if (z) {
        if (!stored(z) || z->data->dtype != SHR_I8 || z->ndim != 2 || z->shape[0] != out || z->shape[1] != ng)
            return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "zero points must be i8 of shape [%lld, %lld]",
                                 (long long)out, (long long)ng);
        for (int64_t i = 0; i < z->data->numel; i++) {
            int v = ((const int8_t *)z->data->data)[i];
            if (v < -8 || v > 7) return shr_node_fail(SHR_ERR_FORMAT, n, WOP, "zero point %d outside -8..7", v);
        }
    }
    return SHR_OK;
}

static void free_i4(void *p) { shr_i4_mat_free(p); }

/* The int4 matrix in the kernel's padded row layout, built once. */
static shr_status i4_state(shr_op_io *io, shr_i4_mat **out) {
    const shr_tensor *w = io->in[1], *s = io->in[2], *z = io->in[3];
    int N = (int)w->shape[0], K = (int)w->shape[1];
    shr_i4_mat *m;
    SHR_TRY(shr_i4_mat_create(&m, N, K, io->node->attrs.groups, z != NULL));
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) shr_i4_set(m->q + (long)n * m->ldq, k, shr_i4_get(w->data, (int64_t)n * K + k));
    if (s->dtype == SHR_U8) {
        const float *row = shr_f32(io->in[5]);
        for (int r = 0; r < N; r++)
            for (int g = 0; g < m->ngroups; g++) {
                size_t gi = (size_t)r * m->ngroups + g;
                m->scale[gi] = shr_q_scale_decode(row[r], ((const uint8_t *)s->data)[gi]);
            }
    } else {
        memcpy(m->scale, s->data, (size_t)N * m->ngroups * sizeof(float));
    }
    if (z) memcpy(m->zero, z->data, (size_t)N * m->ngroups);
    *out = m;
    return SHR_OK;
}

#define PANEL 64

static shr_status wlinear_forward(shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[1], *s = io->in[2];
    const shr_tensor *b = io->node->n_inputs > 4 ? io->in[4] : NULL;
    int M = (int)x->shape[0], K = (int)x->shape[1], N = (int)w->shape[0];
    const float *bias = b ? shr_f32(b) : NULL;
    float *y = shr_f32(io->out);
    float lo = io->act_fused ? io->act_lo : -INFINITY, hi = io->act_fused ? io->act_hi : INFINITY;
    if (w->dtype == SHR_I4) {
        shr_i4_mat *m = io->state ? *io->state : NULL;
        if (!m) {
            SHR_TRY(i4_state(io, &m));
            if (io->state) *io->state = m;
        }
        shr_status st = M == 1 ? shr_i4_gemv(m, shr_f32(x), bias, y) : shr_i4_gemm(M, shr_f32(x), K, m, bias, y, N);
        if (!io->state) shr_i4_mat_free(m);
        if (st == SHR_OK && io->act_fused) shr_clamp_f32(y, (int64_t)M * N, lo, hi);
        return st;
    }
    int pc = s->numel > 1;
    if (M == 1) {
        shr_w8_gemv(N, K, w->data, K, shr_f32(s), pc, shr_f32(x), bias, y);
        if (io->act_fused) shr_clamp_f32(y, N, lo, hi);
        return SHR_OK;
    }
    float *panel = shr_alloc((size_t)PANEL * K * sizeof(float));
    if (!panel) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int n0 = 0; n0 < N; n0 += PANEL) {
        int nb = N - n0 < PANEL ? N - n0 : PANEL;
        shr_w8_dequant_rows(w->data, K, shr_f32(s), pc, n0, nb, K, panel, K);
        shr_gemm_epilogue ep = {bias ? bias + n0 : NULL, 0, lo, hi};
        shr_gemm_f32_ex(0, 1, M, nb, K, 1.0f, shr_f32(x), K, panel, K, 0.0f, y + n0, N, &ep);
    }
    shr_free(panel);
    return SHR_OK;
}

static void wlinear_free_state(void *p) { free_i4(p); }

/* ---- dynamic range ---- */

static shr_status dlinear_infer(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape) {
    SHR_TRY(infer_common(g, n, DOP, 3, ndim, shape));
    const shr_value *w = shr_node_in(g, n, 1), *s = shr_node_in(g, n, 2);
    if (w->data->dtype != SHR_I8) return shr_node_fail(SHR_ERR_FORMAT, n, DOP, "weight must be i8");
    if (n->attrs.kernel[0] != 0 && n->attrs.kernel[0] != 7 && n->attrs.kernel[0] != 8)
        return shr_node_fail(SHR_ERR_FORMAT, n, DOP, "activation bits (kernel[0]) must be 7 or 8");
    SHR_TRY(check_f32(n, DOP, s, s && s->ndim == 1 && s->shape[0] == 1 ? 1 : w->shape[0], 0, 1, 1));
    for (int64_t i = 0; i < s->data->numel; i++)
        if (!(shr_f32(s->data)[i] > 0.0f)) return shr_node_fail(SHR_ERR_FORMAT, n, DOP, "weight scales must be > 0");
    /* the int32 accumulator: 255 * sum |w| per row */
    for (int64_t o = 0; o < w->shape[0]; o++) {
        int64_t a = 0;
        for (int64_t k = 0; k < w->shape[1]; k++) a += abs(((const int8_t *)w->data->data)[o * w->shape[1] + k]);
        if (a * 256 >= ((int64_t)1 << 31)) return shr_node_fail(SHR_ERR_FORMAT, n, DOP, "row %lld too long", (long long)o);
    }
    return SHR_OK;
}

typedef struct dlin_state {
    shr_qgemm_packed *packed;
    uint8_t *q;
    size_t q_cap;
} dlin_state;

static void dlinear_free_state(void *p) {
    dlin_state *d = p;
    if (!d) return;
    shr_qgemm_packed_free(d->packed);
    shr_free(d->q);
    free(d);
}

static shr_status dlinear_run(dlin_state *d, shr_op_io *io) {
    const shr_tensor *x = io->in[0], *w = io->in[1], *s = io->in[2];
    const shr_tensor *b = io->node->n_inputs > 3 ? io->in[3] : NULL;
    int M = (int)x->shape[0], K = (int)x->shape[1], N = (int)w->shape[0];
    int bits = io->node->attrs.kernel[0] == 8 ? 8 : 7, qmax = (1 << bits) - 1;
    if (!d->packed) {
        shr_qact act = {SHR_U8, 0, bits, 0};
        SHR_TRY(shr_qgemm_pack_s8(&d->packed, SHR_QPATH_AUTO, N, K, w->data, K, &act, NULL));
    }
    if ((size_t)x->numel > d->q_cap) {
        shr_free(d->q);
        d->q_cap = 0;
        if (!(d->q = shr_alloc((size_t)x->numel))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        d->q_cap = (size_t)x->numel;
    }
    const float *xp = shr_f32(x);
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < x->numel; i++) {
        mn = xp[i] < mn ? xp[i] : mn;
        mx = xp[i] > mx ? xp[i] : mx;
    }
    float scale = (mx - mn) / (float)qmax;
    if (!(scale > 0.0f) || !isfinite(scale)) scale = 1.0f;
    int zp = shr_q_quantize1(-mn, scale, 0, 0, qmax);
    for (int64_t i = 0; i < x->numel; i++) d->q[i] = (uint8_t)shr_q_quantize1(xp[i], scale, zp, 0, qmax);
    SHR_TRY(shr_qgemm_set_zero_point(d->packed, zp));
    shr_qout o;
    memset(&o, 0, sizeof o);
    o.kind = SHR_QOUT_F32;
    o.y = io->out->data;
    o.ldy = N;
    o.per_channel = s->numel > 1;
    o.x_scale = scale;
    o.w_scale = shr_f32(s);
    o.bias = b ? shr_f32(b) : NULL;
    o.relu = io->act_fused && io->act_lo == 0.0f;
    SHR_TRY(shr_qgemm(d->packed, M, d->q, K, &o));
    if (io->act_fused && (io->act_lo != 0.0f || io->act_hi != INFINITY))
        shr_clamp_f32(shr_f32(io->out), (int64_t)M * N, io->act_lo, io->act_hi);
    return SHR_OK;
}

static shr_status dlinear_forward(shr_op_io *io) {
    dlin_state *d = io->state ? *io->state : NULL;
    if (!d) {
        if (!(d = calloc(1, sizeof *d))) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (io->state) *io->state = d;
    }
    shr_status st = dlinear_run(d, io);
    if (!io->state) dlinear_free_state(d);
    return st;
}

static int64_t wlin_flops(const shr_graph *g, const shr_node *n) {
    const shr_value *w = shr_node_in(g, n, 1);
    return 2 * w->shape[0] * w->shape[1];
}

const shr_op_def shr_op_wlinear = {
    .name = "wlinear",
    .min_inputs = 3,
    .max_inputs = 6,
    .infer = wlinear_infer,
    .forward = wlinear_forward,
    .flops = wlin_flops,
    .free_state = wlinear_free_state,
};

const shr_op_def shr_op_dlinear = {
    .name = "dlinear",
    .min_inputs = 3,
    .max_inputs = 4,
    .infer = dlinear_infer,
    .forward = dlinear_forward,
    .flops = wlin_flops,
    .free_state = dlinear_free_state,
};
