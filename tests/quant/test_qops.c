/* The other quantized ops against references: quantize / dequantize (with the channels-last
 * move), integer max / average pooling, add, clamp, flatten, the weight-only and dynamic
 * Linear, and fake_quant's forward and straight-through gradients. */
#include <math.h>

#include "kernels/int4.h"
#include "kernels/qgemm.h"
#include "nn/op.h"
#include "nn/ops/ops_quant.h"
#include "qtest_util.h"

static void test_quantize_roundtrip(void) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, s, z, q, y;
    int64_t shape[3] = {3, 4, 5};
    CHECK_OK(shr_graph_add_input(g, "x", 3, shape, &x));
    CHECK_OK(shr_q_add_scalar_f32(g, "s", 0.013f, &s));
    CHECK_OK(shr_q_add_zero_point(g, "z", SHR_U8, 77, &z));
    shr_attrs a = shr_attrs_default();
    a.alpha = 0, a.eps = 255, a.ndim = 4;
    a.shape[0] = 0, a.shape[1] = 2, a.shape[2] = 3, a.shape[3] = 1;
    int in[3] = {x, s, z};
    CHECK_OK(shr_graph_add_node(g, "q", SHR_OP_QUANTIZE, &a, 3, in, &q));
    CHECK(g->values[q].shape[1] == 4 && g->values[q].shape[3] == 3);
    y = qg_end(g, q, s, z);
    shr_rng r;
    shr_rng_seed(&r, 1);
    float xv[2 * 60], deq[2 * 60];
    int codes[2 * 60];
    for (int i = 0; i < 120; i++) xv[i] = -1.5f + 5.0f * shr_rng_uniform(&r);
    xv[7] = NAN;
    qg_run(g, xv, 2, q, codes, NULL);
    qg_run(g, xv, 2, y, NULL, deq);
    int bad = 0;
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 20; p++) {
                int i = (b * 3 + c) * 20 + p, j = (b * 20 + p) * 3 + c; /* NCHW and NHWC indices */
                float v = xv[i];
                int want = isnan(v) ? 77 : (int)fminf(fmaxf(rintf(v / 0.013f) + 77, 0), 255);
                bad += codes[j] != want;
                bad += deq[i] != 0.013f * (float)(want - 77);
                if (!isnan(v) && v > -1.0f && v < 2.3f) bad += fabsf(deq[i] - v) > 0.0065f + 1e-6f;
            }
    CHECK_MSG(bad == 0, "%d mismatches", bad);
    shr_graph_free(g);
}

/* One pass-through op on random u8 codes of shape (N, C, H, W) (channels-last inside). */
static void run_pool_mode(shr_op op, int kh, int kw, int sh, int pad, int inc, int C, shr_dtype t, int freq) {
    const qin u8 = {t, 0.0625f, t == SHR_U8 ? 30 : 0, t == SHR_U8 ? 0 : t == SHR_I8 ? -128 : -3000,
                    t == SHR_U8 ? 255 : t == SHR_I8 ? 127 : 3000};
    int H = 9, W = 7, N = 2, codes, s_v, z_v, y, zp = u8.zp;
    int64_t s[3] = {C, H, W};
    shr_graph *g = qg_begin(3, s, &u8, &codes, &s_v, &z_v);
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = kh, a.kernel[1] = kw, a.stride[0] = a.stride[1] = sh;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = pad;
    a.count_include_pad = inc;
    if (freq) a.momentum = SHR_QREQ_FLOAT;
    int in[3] = {codes, s_v, z_v};
    CHECK_OK(shr_graph_add_node(g, "pool", op, &a, op == SHR_OP_QAVGPOOL2D ? 3 : 1, in, &y));
    qg_end(g, y, s_v, z_v);
    shr_rng r;
    shr_rng_seed(&r, 9);
    int *q = malloc(sizeof(int) * N * C * H * W);
    float *x = qg_input(g, &u8, N, &r, q);
    int OH = (int)g->values[y].shape[1], OW = (int)g->values[y].shape[2];
    int *out = calloc((size_t)N * OH * OW * C, sizeof *out), bad = 0;
    qg_run(g, x, N, y, out, NULL);
    for (int n = 0; n < N; n++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                for (int c = 0; c < C; c++) {
                    int best = -40000, sum = 0, cnt = 0;
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++) {
                            int ih = oh * sh - pad + i, iw = ow * sh - pad + j;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            int v = q[((n * H + ih) * W + iw) * C + c];
                            best = v > best ? v : best;
                            sum += v - zp;
                            cnt++;
                        }
                    double d = inc ? kh * kw : cnt, avg = zp + sum / d;
                    int got = out[((n * OH + oh) * OW + ow) * C + c];
                    if (op == SHR_OP_QMAXPOOL2D) {
                        bad += got != best;
                        continue;
                    }
                    bad += fabs(got - avg) > 0.5 + 1e-9;
                    /* exact: ties away from zero (fixed point), or ONNX Runtime's
                     * QLinearGlobalAveragePool in float32 with ties to even (8-bit codes) */
                    int want = zp + (int)round(sum / d);
                    if (freq && t != SHR_I16) {
                        float sc = u8.scale / (u8.scale * (float)d);
                        want = zp + (int)rintf((float)sum * sc);
                    }
                    bad += got != want;
                }
    CHECK_MSG(bad == 0, "%s %dx%d: %d mismatches", shr_op_name(op), kh, kw, bad);
    free(q), free(x), free(out);
    shr_graph_free(g);
}

static void run_pool(shr_op op, int kh, int kw, int sh, int pad, int inc, int C, shr_dtype t) {
    run_pool_mode(op, kh, kw, sh, pad, inc, C, t, 0);
    if (op == SHR_OP_QAVGPOOL2D) run_pool_mode(op, kh, kw, sh, pad, inc, C, t, 1);
}

static void test_pools(void) {
    run_pool(SHR_OP_QMAXPOOL2D, 2, 2, 2, 0, 0, 5, SHR_U8);
    run_pool(SHR_OP_QMAXPOOL2D, 3, 3, 2, 1, 0, 37, SHR_U8); /* 32 vector lanes and a tail */
    run_pool(SHR_OP_QMAXPOOL2D, 2, 2, 2, 0, 0, 70, SHR_I8);
    run_pool(SHR_OP_QMAXPOOL2D, 3, 2, 1, 1, 0, 21, SHR_I16);
    run_pool(SHR_OP_QAVGPOOL2D, 3, 3, 1, 1, 0, 5, SHR_U8);
    run_pool(SHR_OP_QAVGPOOL2D, 3, 3, 2, 1, 1, 5, SHR_I8);
    run_pool(SHR_OP_QAVGPOOL2D, 9, 7, 1, 0, 0, 33, SHR_U8); /* global */
    run_pool(SHR_OP_QAVGPOOL2D, 2, 2, 2, 0, 0, 9, SHR_U8);  /* divisor 4: ties, which the modes round apart */
    run_pool(SHR_OP_QAVGPOOL2D, 2, 2, 2, 0, 0, 9, SHR_I16);
}

/* qadd: within one output step of the real sum; a fused ReLU clamps at the zero point. */
static void test_qadd(void) {
    const qin u8 = {SHR_U8, 0.0625f, 100, 0, 255};
    int64_t s[1] = {300};
    int codes, s_v, z_v, sb, zb, sy, zy, ca, y;
    shr_graph *g = qg_begin(1, s, &u8, &codes, &s_v, &z_v);
    /* b: the same input quantized again with another scale / zero point */
    CHECK_OK(shr_q_add_scalar_f32(g, "b.s", 0.03f, &sb));
    CHECK_OK(shr_q_add_zero_point(g, "b.z", SHR_U8, 60, &zb));
    shr_attrs a = shr_attrs_default();
    a.alpha = 0, a.eps = 255;
    int qb_in[3] = {g->input, sb, zb};
    CHECK_OK(shr_graph_add_node(g, "qb", SHR_OP_QUANTIZE, &a, 3, qb_in, &ca));
    CHECK_OK(shr_q_add_scalar_f32(g, "y.s", 0.07f, &sy));
    CHECK_OK(shr_q_add_zero_point(g, "y.z", SHR_U8, 90, &zy));
    a.alpha = 90; /* ReLU */
    int in[8] = {codes, s_v, z_v, ca, sb, zb, sy, zy};
    CHECK_OK(shr_graph_add_node(g, "add", SHR_OP_QADD, &a, 8, in, &y));
    qg_end(g, y, sy, zy);
    shr_rng r;
    shr_rng_seed(&r, 4);
    int q[600], qb[600], out[600], bad = 0;
    float *x = qg_input(g, &u8, 2, &r, q);
    qg_run(g, x, 2, ca, qb, NULL);
    qg_run(g, x, 2, y, out, NULL);
    for (int i = 0; i < 600; i++) {
        double real = 0.0625 * (q[i] - 100) + 0.03 * (qb[i] - 60);
        double want = fmin(fmax(nearbyint(real / 0.07) + 90, 90), 255);
        bad += fabs(out[i] - want) > 1.0;
    }
    CHECK_MSG(bad == 0, "%d outputs beyond one step", bad);
    free(x);
    shr_graph_free(g);
}

static void test_clamp_flatten(void) {
    const qin s8 = {SHR_I8, 0.125f, 0, -128, 127};
    int64_t s[3] = {2, 3, 3};
    int codes, s_v, z_v, c1, f;
    shr_graph *g = qg_begin(3, s, &s8, &codes, &s_v, &z_v);
    shr_attrs a = shr_attrs_default();
    a.alpha = 0, a.eps = 48; /* ReLU6 at scale 1/8 */
    CHECK_OK(shr_graph_add_node(g, "relu6", SHR_OP_QCLAMP, &a, 1, &codes, &c1));
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_QFLATTEN, NULL, 1, &c1, &f));
    CHECK(g->values[f].ndim == 2 && g->values[f].shape[1] == 18);
    qg_end(g, f, s_v, z_v);
    shr_rng r;
    shr_rng_seed(&r, 2);
    int q[36], out[36], bad = 0;
    float *x = qg_input(g, &s8, 2, &r, q);
    qg_run(g, x, 2, f, out, NULL);
    for (int i = 0; i < 36; i++) bad += out[i] != (q[i] < 0 ? 0 : q[i] > 48 ? 48 : q[i]);
    CHECK(bad == 0);
    /* a clamp outside the codes' range is refused */
    a.eps = 200;
    CHECK_STATUS(shr_graph_add_node(g, "bad", SHR_OP_QCLAMP, &a, 1, &codes, &c1), SHR_ERR_FORMAT);
    free(x);
    shr_graph_free(g);
}

/* wlinear (int8 per channel, int4 per group with zero points) and dlinear against f32 math
 * on the dequantized weights, at batch 1 (GEMV) and 5 (GEMM). */
static void run_wlinear(int bits, int dynamic, int batch) {
    const int K = 150, N = 70;
    shr_rng r;
    shr_rng_seed(&r, (uint64_t)(bits * 10 + dynamic));
    float *W = malloc(sizeof(float) * N * K), *deq = malloc(sizeof(float) * N * K), bias[70];
    for (int i = 0; i < N * K; i++) W[i] = shr_rng_normal(&r) * 0.1f;
    for (int i = 0; i < N; i++) bias[i] = shr_rng_normal(&r);
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, in[5], y;
    int64_t ks[1] = {K}, ws[2] = {N, K}, ns[1] = {N};
    CHECK_OK(shr_graph_add_input(g, "x", 1, ks, &x));
    in[0] = x;
    shr_attrs a = shr_attrs_default();
    if (bits == 4) {
        shr_i4_mat *m;
        CHECK_OK(shr_i4_quantize(W, K, N, K, 32, 1, &m));
        shr_i4_dequantize(m, deq, K);
        CHECK_OK(shr_q_add_tensor(g, "w", SHR_VALUE_PARAM, SHR_I4, 2, ws, NULL, &in[1]));
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++)
                shr_i4_set(g->values[in[1]].data->data, (int64_t)n * K + k, shr_i4_get(m->q + n * m->ldq, k));
        int64_t ss[2] = {N, m->ngroups};
        CHECK_OK(shr_q_add_tensor(g, "s", SHR_VALUE_BUFFER, SHR_F32, 2, ss, m->scale, &in[2]));
        CHECK_OK(shr_q_add_tensor(g, "z", SHR_VALUE_BUFFER, SHR_I8, 2, ss, m->zero, &in[3]));
        shr_i4_mat_free(m);
        a.groups = 32;
    } else {
        int8_t *codes = malloc((size_t)N * K);
        float sc[70];
        CHECK_OK(shr_q_weights(W, N, K, 8, 1, 0, NULL, 0, codes, sc));
        for (int i = 0; i < N * K; i++) deq[i] = sc[i / K] * codes[i];
        CHECK_OK(shr_q_add_tensor(g, "w", SHR_VALUE_PARAM, SHR_I8, 2, ws, codes, &in[1]));
        CHECK_OK(shr_q_add_tensor(g, "s", SHR_VALUE_BUFFER, SHR_F32, 1, ns, sc, &in[2]));
        in[3] = -1;
        free(codes);
    }
    int b;
    CHECK_OK(shr_q_add_tensor(g, "b", SHR_VALUE_PARAM, SHR_F32, 1, ns, bias, &b));
    if (dynamic) {
        in[3] = b;
        CHECK_OK(shr_graph_add_node(g, "lin", SHR_OP_DLINEAR, &a, 4, in, &y));
    } else {
        in[4] = b;
        CHECK_OK(shr_graph_add_node(g, "lin", SHR_OP_WLINEAR, &a, 5, in, &y));
    }
    float *xv = malloc(sizeof(float) * batch * K), *out = malloc(sizeof(float) * batch * N);
    for (int i = 0; i < batch * K; i++) xv[i] = shr_rng_uniform(&r) * 2.0f - 0.5f;
    qg_run(g, xv, batch, y, NULL, out);
    double worst = 0;
    for (int i = 0; i < batch; i++)
        for (int n = 0; n < N; n++) {
            double want = bias[n];
            for (int k = 0; k < K; k++) want += (double)deq[n * K + k] * xv[i * K + k];
            worst = fmax(worst, fabs(out[i * N + n] - want));
        }
    /* dynamic: x quantized with 7-bit codes over its range [-0.5, 1.5]: |error| per product <=
     * step/2 * |w|, summed over K */
    double tol = dynamic ? 0.5 * (2.0 / 127) * 0.35 * K / 4 : 1e-4;
    CHECK_MSG(worst <= tol, "bits %d dynamic %d batch %d: error %g > %g", bits, dynamic, batch, worst, tol);
    free(W), free(deq), free(xv), free(out);
    shr_graph_free(g);
}

static void test_wlinear(void) {
    for (int b = 1; b <= 5; b += 4) {
        run_wlinear(8, 0, b);
        run_wlinear(4, 0, b);
        run_wlinear(8, 1, b);
    }
}

/* fake_quant: forward = quantize then dequantize; backward passes dy where the code was not
 * clamped; the LSQ scale gradient follows its formula, and where codes are clamped it equals
 * the finite difference (there y = s * (qmax - z) is smooth in s). */
static void test_fake_quant(void) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, s, z, y;
    int64_t n4[1] = {4};
    CHECK_OK(shr_graph_add_input(g, "x", 1, n4, &x));
    int64_t one = 1;
    float sv = 0.1f, zv = 10.0f;
    CHECK_OK(shr_q_add_tensor(g, "s", SHR_VALUE_PARAM, SHR_F32, 1, &one, &sv, &s));
    CHECK_OK(shr_q_add_tensor(g, "z", SHR_VALUE_BUFFER, SHR_F32, 1, &one, &zv, &z));
    shr_attrs a = shr_attrs_default();
    a.alpha = 0, a.eps = 40;
    int in[3] = {x, s, z};
    CHECK_OK(shr_graph_add_node(g, "fq", SHR_OP_FAKE_QUANT, &a, 3, in, &y));
    shr_tape *t = NULL;
    CHECK_OK(shr_tape_create_ex(g, 2, SHR_TAPE_INPUT_GRAD, &t));
    if (!t) return;
    float xv[8] = {0.123f, -2.0f, 5.0f, 1.01f, -0.95f, 2.96f, 0.0f, 3.04f};
    const shr_tensor *out;
    CHECK_OK(shr_tape_forward(t, xv, 2, 1, NULL, &out));
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        float q = fminf(fmaxf(rintf(xv[i] / 0.1f) + 10.0f, 0.0f), 40.0f);
        bad += shr_f32(out)[i] != 0.1f * (q - 10.0f);
    }
    CHECK(bad == 0);
    float dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    shr_tape_zero_grad(t);
    CHECK_OK(shr_tape_backward(t, dy));
    const shr_tensor *dx = shr_tape_act_grad(t, x);
    double ds = 0, ds_clamped = 0;
    for (int i = 0; i < 8; i++) {
        float u = xv[i] / 0.1f, q = rintf(u) + 10.0f;
        int clamped = q < 0.0f || q > 40.0f;
        if (dx) bad += shr_f32(dx)[i] != (clamped ? 0.0f : dy[i]);
        double gi = q < 0.0f ? -10.0 : q > 40.0f ? 30.0 : rintf(u) - u;
        ds += dy[i] * gi;
        if (clamped) ds_clamped += dy[i] * gi;
    }
    CHECK(dx != NULL && bad == 0);
    const shr_tensor *gs = t->param_grad[s];
    double gscale = 1.0 / sqrt(4.0 * 30.0);
    CHECK(gs != NULL);
    if (gs) CHECK_NEAR(shr_f32(gs)[0], ds * gscale, 1e-5);
    /* finite difference of sum(dy * y) over the clamped elements (-2.0, 5.0, -0.95: below or above) */
    double h = 1e-3, fd = 0;
    for (int i = 0; i < 8; i++) {
        float q = rintf(xv[i] / 0.1f) + 10.0f;
        if (q >= 0.0f && q <= 40.0f) continue;
        double lim = q < 0.0f ? -10.0 : 30.0;
        fd += dy[i] * (((0.1 + h) * lim) - ((0.1 - h) * lim)) / (2 * h);
    }
    CHECK_NEAR(fd, ds_clamped, 1e-6);
    shr_tape_free(t);
    shr_graph_free(g);
}

/* fake_quant as an observer: in training the range follows the batches (EMA) and a buffer
 * scale / zero point follow the range. */
static void test_fake_quant_observer(void) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, s, z, rg, y;
    int64_t n3[1] = {3}, one = 1, two = 2;
    CHECK_OK(shr_graph_add_input(g, "x", 1, n3, &x));
    float sv = 1.0f, zv = 0.0f, rv[2] = {0, 0};
    CHECK_OK(shr_q_add_tensor(g, "s", SHR_VALUE_BUFFER, SHR_F32, 1, &one, &sv, &s));
    CHECK_OK(shr_q_add_tensor(g, "z", SHR_VALUE_BUFFER, SHR_F32, 1, &one, &zv, &z));
    CHECK_OK(shr_q_add_tensor(g, "r", SHR_VALUE_BUFFER, SHR_F32, 1, &two, rv, &rg));
    shr_attrs a = shr_attrs_default();
    a.alpha = 0, a.eps = 255, a.momentum = 0.5f;
    int in[4] = {x, s, z, rg};
    CHECK_OK(shr_graph_add_node(g, "fq", SHR_OP_FAKE_QUANT, &a, 4, in, &y));
    shr_tape *t = NULL;
    CHECK_OK(shr_tape_create(g, 1, &t));
    if (!t) return;
    float b1[3] = {-1.0f, 0.5f, 3.0f}, b2[3] = {-3.0f, 0.0f, 1.0f};
    CHECK_OK(shr_tape_forward(t, b1, 1, 1, NULL, NULL));
    const float *r = shr_f32(g->values[rg].data);
    CHECK(r[0] == -1.0f && r[1] == 3.0f);
    CHECK_NEAR(shr_f32(g->values[s].data)[0], 4.0 / 255, 1e-7);
    CHECK(shr_f32(g->values[z].data)[0] == 64.0f);
    CHECK_OK(shr_tape_forward(t, b2, 1, 1, NULL, NULL));
    CHECK(r[0] == -2.0f && r[1] == 2.0f);
    CHECK_OK(shr_tape_forward(t, b1, 1, 0, NULL, NULL)); /* eval: no update */
    CHECK(r[0] == -2.0f && r[1] == 2.0f);
    shr_tape_free(t);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_quantize_roundtrip);
    RUN(test_pools);
    RUN(test_qadd);
    RUN(test_clamp_flatten);
    RUN(test_wlinear);
    RUN(test_fake_quant);
    RUN(test_fake_quant_observer);
    return test_summary();
}
