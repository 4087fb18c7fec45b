/* qlinear and qconv2d against reference integer arithmetic written here from the definitions:
 * the requantized codes must match bit for bit, and lie within one output step of the
 * real-valued result. Every case runs in both requantization modes: fixed point (shr_requant
 * of the exact int32 accumulator) and float (the node marked SHR_QREQ_FLOAT: the plain-C float32
 * requantization of ONNX Runtime written below). */
#include <math.h>

#include "kernels/qgemm.h"
#include "nn/ops/ops_quant.h"
#include "qtest_util.h"

static int g_float_rq; /* the pass: 0 fixed point, 1 float requantization */

/* ONNX Runtime's QLinearConv / QLinearMatMul output stage (MlasRequantizeOutput), from its
 * definition: scale = x_scale * w_scale / y_scale in float32, (float)acc * scale clamped to
 * [qmin - zp, qmax - zp], rounded half to even, plus zp. */
static int ort_requant(int32_t acc, float x_scale, float w_scale, float y_scale, int zp, int qmin, int qmax) {
    float scale = x_scale * w_scale;
    scale = scale / y_scale;
    float v = (float)acc * scale, lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (int)rintf(v) + zp;
}

typedef struct layer {
    shr_dtype wt, yt;  /* weight codes; output codes or SHR_F32 */
    int per_channel, bias;
    float y_scale;
    int y_zp, y_qmin, y_qmax;
    int wmax;          /* weight codes in [-wmax, wmax] */
} layer;

/* Adds W (out x per, codes), scales and bias; fills the arrays the reference uses. */
static void add_weights(shr_graph *g, const layer *L, int ndim, const int64_t *wshape, int64_t out, int64_t per,
                        shr_rng *r, int *w, float *ws, int32_t *b, int in[8]) {
    int64_t n = out * per;
    void *codes = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) {
        w[i] = (int)shr_rng_below(r, (uint64_t)(2 * L->wmax + 1)) - L->wmax;
        if (L->wt == SHR_I8) ((int8_t *)codes)[i] = (int8_t)w[i];
        else ((int16_t *)codes)[i] = (int16_t)w[i];
    }
    CHECK_OK(shr_q_add_tensor(g, "w", SHR_VALUE_PARAM, L->wt, ndim, wshape, codes, &in[3]));
    int64_t ns = L->per_channel ? out : 1;
    for (int64_t o = 0; o < ns; o++) ws[o] = 0.002f + 0.004f * shr_rng_uniform(r);
    CHECK_OK(shr_q_add_tensor(g, "w.scale", SHR_VALUE_BUFFER, SHR_F32, 1, &ns, ws, &in[4]));
    in[5] = -1;
    for (int64_t o = 0; o < out; o++) b[o] = L->bias ? (int32_t)shr_rng_below(r, 20001) - 10000 : 0;
    if (L->bias) CHECK_OK(shr_q_add_tensor(g, "b", SHR_VALUE_PARAM, SHR_I32, 1, &out, b, &in[5]));
    in[6] = in[7] = -1;
    if (L->yt != SHR_F32) {
        CHECK_OK(shr_q_add_scalar_f32(g, "y.scale", L->y_scale, &in[6]));
        CHECK_OK(shr_q_add_zero_point(g, "y.zp", L->yt, L->y_zp, &in[7]));
    }
    free(codes);
}

/* Output check for one element: bit-exact requantization, within one step of the real value. */
static int check_out(const layer *L, const qin *xi, float ws, int32_t acc, int got_q, float got_f, int *bad_exact,
                     int *bad_step) {
    if (L->yt == SHR_F32) {
        double want = (double)acc * xi->scale * ws;
        if (fabs(got_f - want) > 1e-5 * fmax(1.0, fabs(want))) (*bad_exact)++;
        return 0;
    }
    int32_t m, s;
    CHECK_OK(shr_quant_multiplier((double)xi->scale * ws / L->y_scale, &m, &s));
    int want = g_float_rq && L->yt != SHR_I16 ? ort_requant(acc, xi->scale, ws, L->y_scale, L->y_zp, L->y_qmin, L->y_qmax)
                                              : shr_requant(acc, m, s, L->y_zp, L->y_qmin, L->y_qmax);
    if (got_q != want) (*bad_exact)++;
    double real = nearbyint((double)acc * xi->scale * ws / L->y_scale) + L->y_zp;
    real = fmin(fmax(real, L->y_qmin), L->y_qmax);
    if (fabs(got_q - real) > 1.0) (*bad_step)++;
    return 0;
}

static void run_linear(const qin *xi, const layer *L, int batch, int K, int out) {
    shr_rng r;
    shr_rng_seed(&r, (uint64_t)(K * 131 + out));
    int codes, s_v, z_v, in[8];
    int64_t s[1] = {K}, wshape[2] = {out, K};
    shr_graph *g = qg_begin(1, s, xi, &codes, &s_v, &z_v);
    int *w = malloc((size_t)out * K * sizeof *w), *q = malloc((size_t)batch * K * sizeof *q);
    float *ws = malloc((size_t)out * sizeof *ws);
    int32_t *b = malloc((size_t)out * sizeof *b);
    add_weights(g, L, 2, wshape, out, K, &r, w, ws, b, in);
    in[0] = codes, in[1] = s_v, in[2] = z_v;
    shr_attrs a = shr_attrs_default();
    a.alpha = (float)L->y_qmin;
    a.eps = (float)L->y_qmax;
    if (g_float_rq) a.momentum = SHR_QREQ_FLOAT;
    int y;
    CHECK_OK(shr_graph_add_node(g, "lin", SHR_OP_QLINEAR, &a, 8, in, &y));
    if (L->yt != SHR_F32) qg_end(g, y, in[6], in[7]);
    float *x = qg_input(g, xi, batch, &r, q);
    int *yq = calloc((size_t)batch * out, sizeof *yq);
    float *yf = calloc((size_t)batch * out, sizeof *yf);
    qg_run(g, x, batch, y, yq, yf);
    int bad_exact = 0, bad_step = 0;
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < out; o++) {
            int32_t acc = b[o];
            for (int k = 0; k < K; k++) acc += (q[n * K + k] - xi->zp) * w[o * K + k];
            check_out(L, xi, ws[L->per_channel ? o : 0], acc, yq[n * out + o], yf[n * out + o], &bad_exact, &bad_step);
        }
    CHECK_MSG(bad_exact == 0 && bad_step == 0, "linear K=%d out=%d: %d not exact, %d beyond one step", K, out,
              bad_exact, bad_step);
    free(w), free(q), free(ws), free(b), free(x), free(yq), free(yf);
    shr_graph_free(g);
}

static void test_qlinear(void) {
    const qin u8 = {SHR_U8, 0.0625f, 37, 0, 255}, u7 = {SHR_U8, 0.0625f, 0, 0, 127}, s8 = {SHR_I8, 0.125f, 0, -127, 127};
    const qin s16 = {SHR_I16, 0.0078125f, 0, -2047, 2047};
    layer l8 = {SHR_I8, SHR_U8, 1, 1, 0.5f, 12, 0, 255, 127};
    run_linear(&u8, &l8, 3, 67, 19);  /* exact (8-bit) path, odd sizes */
    run_linear(&u7, &l8, 7, 64, 33);  /* 7-bit codes: the int16-product path */
    layer relu = l8;
    relu.y_zp = 0, relu.y_qmin = 0; /* a fused ReLU */
    run_linear(&s8, &relu, 1, 300, 16);
    layer pt = l8;
    pt.per_channel = 0, pt.bias = 0, pt.yt = SHR_I8, pt.y_zp = -3, pt.y_qmin = -128, pt.y_qmax = 127;
    run_linear(&u8, &pt, 6, 5, 3);
    layer f32 = l8;
    f32.yt = SHR_F32;
    run_linear(&u8, &f32, 4, 100, 10);
    layer l16 = {SHR_I16, SHR_I16, 1, 1, 0.01f, 0, -2047, 2047, 3000};
    run_linear(&s16, &l16, 2, 50, 17);
}

/* ---- conv ---- */

typedef struct geo {
    int C, H, W, OC, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, G;
} geo;

static void run_conv(const qin *xi, const layer *L, const geo *c, int batch) {
    shr_rng r;
    shr_rng_seed(&r, (uint64_t)(c->C * 7 + c->OC * 3 + c->G));
    int codes, s_v, z_v, in[8], Cg = c->C / c->G, OCg = c->OC / c->G;
    int64_t s[3] = {c->C, c->H, c->W}, wshape[4] = {c->OC, c->KH, c->KW, Cg};
    shr_graph *g = qg_begin(3, s, xi, &codes, &s_v, &z_v);
    int per = c->KH * c->KW * Cg;
    int *w = malloc((size_t)c->OC * per * sizeof *w), *q = malloc((size_t)batch * c->C * c->H * c->W * sizeof *q);
    float *ws = malloc((size_t)c->OC * sizeof *ws);
    int32_t *b = malloc((size_t)c->OC * sizeof *b);
    add_weights(g, L, 4, wshape, c->OC, per, &r, w, ws, b, in);
    in[0] = codes, in[1] = s_v, in[2] = z_v;
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = c->KH, a.kernel[1] = c->KW, a.stride[0] = c->SH, a.stride[1] = c->SW;
    a.pad[0] = c->PT, a.pad[1] = c->PL, a.pad[2] = c->PB, a.pad[3] = c->PR;
    a.dilation[0] = c->DH, a.dilation[1] = c->DW, a.groups = c->G;
    a.alpha = (float)L->y_qmin;
    a.eps = (float)L->y_qmax;
    if (g_float_rq) a.momentum = SHR_QREQ_FLOAT;
    int y;
    CHECK_OK(shr_graph_add_node(g, "conv", SHR_OP_QCONV2D, &a, 8, in, &y));
    if (L->yt != SHR_F32) qg_end(g, y, in[6], in[7]);
    else g->output = y; /* f32 channels-last output: fine as a graph output for this test */
    const shr_value *yv = &g->values[y];
    int OH = (int)yv->shape[1], OW = (int)yv->shape[2];
    float *x = qg_input(g, xi, batch, &r, q);
    size_t ny = (size_t)batch * OH * OW * c->OC;
    int *yq = calloc(ny, sizeof *yq);
    float *yf = calloc(ny, sizeof *yf);
    qg_run(g, x, batch, y, yq, yf);
    int bad_exact = 0, bad_step = 0;
    for (int n = 0; n < batch; n++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                for (int o = 0; o < c->OC; o++) {
                    int gi = o / OCg;
                    int32_t acc = b[o];
                    for (int kh = 0; kh < c->KH; kh++)
                        for (int kw = 0; kw < c->KW; kw++) {
                            int ih = oh * c->SH - c->PT + kh * c->DH, iw = ow * c->SW - c->PL + kw * c->DW;
                            if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                            for (int ci = 0; ci < Cg; ci++)
                                acc += (q[((n * c->H + ih) * c->W + iw) * c->C + gi * Cg + ci] - xi->zp) *
                                       w[((o * c->KH + kh) * c->KW + kw) * Cg + ci];
                        }
                    size_t at = (((size_t)n * OH + oh) * OW + ow) * c->OC + o;
                    check_out(L, xi, ws[L->per_channel ? o : 0], acc, yq[at], yf[at], &bad_exact, &bad_step);
                }
    CHECK_MSG(bad_exact == 0 && bad_step == 0, "conv C=%d OC=%d G=%d k=%dx%d: %d not exact, %d beyond one step",
              c->C, c->OC, c->G, c->KH, c->KW, bad_exact, bad_step);
    free(w), free(q), free(ws), free(b), free(x), free(yq), free(yf);
    shr_graph_free(g);
}

static void test_qconv(void) {
    const qin u8 = {SHR_U8, 0.0625f, 21, 0, 255}, u7 = {SHR_U8, 0.0625f, 0, 0, 127};
    const qin s16 = {SHR_I16, 0.0078125f, 0, -2047, 2047};
    layer l8 = {SHR_I8, SHR_U8, 1, 1, 0.75f, 5, 5, 255, 127};
    geo basic = {3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    run_conv(&u8, &l8, &basic, 2);
    geo strided = {4, 11, 8, 6, 3, 2, 2, 3, 1, 0, 2, 1, 1, 1, 2}; /* uneven stride / pad, 2 groups */
    run_conv(&u7, &l8, &strided, 3);
    geo dil = {5, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1};
    run_conv(&u8, &l8, &dil, 1);
    geo dw = {8, 6, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8}; /* depthwise */
    run_conv(&u8, &l8, &dw, 2);
    geo pw = {16, 5, 5, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}; /* pointwise: x is the patch matrix */
    run_conv(&u7, &l8, &pw, 3);
    layer f32 = l8;
    f32.yt = SHR_F32;
    run_conv(&u8, &f32, &basic, 1);
    run_conv(&u8, &f32, &dw, 1);
    layer l16 = {SHR_I16, SHR_I16, 1, 1, 0.02f, 0, -2047, 2047, 2000};
    run_conv(&s16, &l16, &basic, 2);
    run_conv(&s16, &l16, &dw, 1);
    /* many rows: several chunks, and threads taking whole chunks */
    geo big = {8, 40, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    run_conv(&u8, &l8, &big, 3);
    /* patches read in place (with AVX-512 VNNI): C % 4 == 0 taps with stride and uneven padding,
     * and whole kernel rows of KW * C = 5 codes (one channel, as a first layer) */
    geo taps = {4, 11, 8, 6, 3, 3, 2, 2, 1, 0, 2, 1, 1, 1, 1};
    run_conv(&u7, &l8, &taps, 3);
    geo wide = {1, 12, 10, 20, 5, 5, 2, 1, 2, 2, 1, 2, 1, 1, 1};
    run_conv(&u7, &l8, &wide, 3);
    run_conv(&u8, &l8, &wide, 2);
}

/* A weight whose sum could overflow the int32 accumulator is refused when the graph is checked. */
static void test_accumulator_bound(void) {
    const qin s16 = {SHR_I16, 0.0078125f, 0, -32767, 32767};
    int codes, s_v, z_v, in[8] = {0};
    int64_t s[1] = {4096}, wshape[2] = {2, 4096}, one = 1;
    shr_graph *g = qg_begin(1, s, &s16, &codes, &s_v, &z_v);
    int16_t *w = malloc(2 * 4096 * sizeof *w);
    for (int i = 0; i < 2 * 4096; i++) w[i] = 30000;
    CHECK_OK(shr_q_add_tensor(g, "w", SHR_VALUE_PARAM, SHR_I16, 2, wshape, w, &in[3]));
    float sc = 0.01f;
    CHECK_OK(shr_q_add_tensor(g, "ws", SHR_VALUE_BUFFER, SHR_F32, 1, &one, &sc, &in[4]));
    in[0] = codes, in[1] = s_v, in[2] = z_v, in[5] = in[6] = in[7] = -1;
    int y;
    CHECK_STATUS(shr_graph_add_node(g, "lin", SHR_OP_QLINEAR, NULL, 8, in, &y), SHR_ERR_FORMAT);
    free(w);
    shr_graph_free(g);
}

/* The two modes differ where it shows: requantization ratio 1/2 makes every odd accumulator a
 * tie, which the fixed point rounds away from zero and the float stage to even. A qlinear
 * (K = 1, weight 1) and a depthwise 1x1 qconv2d with y = x / 2 follow their own mode's
 * reference and disagree with each other on those ties. */
static void test_modes_differ(void) {
    const qin u8 = {SHR_U8, 0.5f, 0, 0, 255};
    int nd[2] = {0, 0};
    for (int conv = 0; conv < 2; conv++) {
        int got[2][64], qin_codes[64];
        for (int mode = 0; mode < 2; mode++) {
            shr_rng r;
            shr_rng_seed(&r, 99);
            int codes, s_v, z_v, in[8], one8 = 1, y;
            int64_t s1[1] = {1}, s3[3] = {1, 8, 8}, wl[2] = {1, 1}, wc[4] = {1, 1, 1, 1}, one = 1;
            shr_graph *g = conv ? qg_begin(3, s3, &u8, &codes, &s_v, &z_v) : qg_begin(1, s1, &u8, &codes, &s_v, &z_v);
            int8_t w = (int8_t)one8;
            float ws = 1.0f;
            CHECK_OK(shr_q_add_tensor(g, "w", SHR_VALUE_PARAM, SHR_I8, conv ? 4 : 2, conv ? wc : wl, &w, &in[3]));
            CHECK_OK(shr_q_add_tensor(g, "ws", SHR_VALUE_BUFFER, SHR_F32, 1, &one, &ws, &in[4]));
            CHECK_OK(shr_q_add_scalar_f32(g, "y.scale", 1.0f, &in[6]));
            CHECK_OK(shr_q_add_zero_point(g, "y.zp", SHR_U8, 0, &in[7]));
            in[0] = codes, in[1] = s_v, in[2] = z_v, in[5] = -1;
            shr_attrs a = shr_attrs_default();
            if (conv) a.kernel[0] = a.kernel[1] = 1;
            a.alpha = 0.0f, a.eps = 255.0f;
            if (mode) a.momentum = SHR_QREQ_FLOAT;
            CHECK_OK(shr_graph_add_node(g, "l", conv ? SHR_OP_QCONV2D : SHR_OP_QLINEAR, &a, 8, in, &y));
            qg_end(g, y, in[6], in[7]);
            float *x = qg_input(g, &u8, conv ? 1 : 64, &r, qin_codes); /* 64 codes: 64 x 1, or 1 x 8 x 8 */
            float yf[64];
            qg_run(g, x, conv ? 1 : 64, y, got[mode], yf);
            free(x);
            shr_graph_free(g);
        }
        for (int i = 0; i < 64; i++) {
            int q = qin_codes[i];
            CHECK(got[0][i] == (q + 1) / 2);                          /* q / 2, ties away from zero */
            CHECK(got[1][i] == (q % 4 == 1 ? q / 2 : (q + 1) / 2));  /* ties to even */
            nd[conv] += got[0][i] != got[1][i];
        }
    }
    CHECK_MSG(nd[0] > 0 && nd[1] > 0, "the modes never differed: %d, %d", nd[0], nd[1]);
}

int main(void) {
    RUN(test_modes_differ);
    RUN(test_qlinear);
    RUN(test_qconv);
    g_float_rq = 1;
    RUN(test_qlinear);
    RUN(test_qconv);
    RUN(test_accumulator_bound);
    return test_summary();
}
