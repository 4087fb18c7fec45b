/* Linear and conv2d ops: forward against naive loops (in double), every gradient
 * (input, weight, bias) against central differences of L = sum(out * R), with din
 * pre-filled to check that backward accumulates; bad shapes must fail in
 * shr_graph_add_node with SHR_ERR_SHAPE and a message naming the node. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_case.h"
#include "shrink/threads.h"

/* ---- linear ---- */

static shr_graph *linear_graph(int in, int out, int bias, int *node) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, w, b = -1;
    int64_t sin[1] = {in}, ws[2] = {out, in}, bs[1] = {out};
    CHECK_OK(shr_graph_add_input(g, "x", 1, sin, &x));
    CHECK_OK(shr_graph_add_tensor(g, "fc.w", SHR_VALUE_PARAM, 2, ws, &w));
    if (bias) CHECK_OK(shr_graph_add_tensor(g, "fc.b", SHR_VALUE_PARAM, 1, bs, &b));
    int ins[3] = {x, w, b}, y;
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, bias ? 3 : 2, ins, &y));
    *node = g->n_nodes - 1;
    return g;
}

static void linear_case(shr_rng *r, int N, int in, int out, int bias) {
    int node;
    shr_graph *g = linear_graph(in, out, bias, &node);
    const shr_value *y = &g->values[g->nodes[node].output];
    CHECK(y->ndim == 2 && y->shape[0] == -1 && y->shape[1] == out);
    CHECK(shr_node_flops(g, node) == 2 * (int64_t)in * out);
    op_case c;
    case_init_normal(&c, g, node, N, r);
    CHECK_OK(run_fwd(&c));
    double *ref = malloc((size_t)N * out * sizeof *ref);
    const float *x = shr_f32(c.in[0]), *w = shr_f32(c.in[1]);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < out; o++) {
            double s = bias ? shr_f32(c.in[2])[o] : 0.0;
            for (int k = 0; k < in; k++) s += (double)x[i * in + k] * w[o * in + k];
            ref[i * out + o] = s;
        }
    CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, (int64_t)N * out) < 1e-5, "linear N=%d in=%d out=%d forward", N, in,
              out);
    free(ref);
    char label[64];
    snprintf(label, sizeof label, "linear N=%d in=%d out=%d bias=%d", N, in, out, bias);
    grad_check_all(&c, r, 0, 1e-2f, 1e-3, label);
    case_free(&c);
}

static void test_linear(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    linear_case(&r, 1, 1, 1, 1);
    linear_case(&r, 3, 7, 5, 1);
    linear_case(&r, 2, 5, 3, 0);
    linear_case(&r, 5, 37, 19, 1);
}

static void test_linear_bad_shapes(void) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, w, wbad, bbad;
    int64_t sin[3] = {2, 3, 4}, ws[2] = {5, 24}, wb[2] = {5, 7}, bs[1] = {4};
    CHECK_OK(shr_graph_add_input(g, "x", 3, sin, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, ws, &w));
    CHECK_OK(shr_graph_add_tensor(g, "wbad", SHR_VALUE_PARAM, 2, wb, &wbad));
    CHECK_OK(shr_graph_add_tensor(g, "bbad", SHR_VALUE_PARAM, 1, bs, &bbad));
    int ins[3] = {x, w, -1};
    CHECK_STATUS(shr_graph_add_node(g, "fc_rank", SHR_OP_LINEAR, NULL, 2, ins, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "fc_rank") != NULL);
    /* Flatten-free 2-D input from a 1-D sample shape goes through a second graph. */
    shr_graph_free(g);
    CHECK_OK(shr_graph_create(&g));
    int64_t s1[1] = {24};
    CHECK_OK(shr_graph_add_input(g, "x", 1, s1, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, ws, &w));
    CHECK_OK(shr_graph_add_tensor(g, "wbad", SHR_VALUE_PARAM, 2, wb, &wbad));
    CHECK_OK(shr_graph_add_tensor(g, "bbad", SHR_VALUE_PARAM, 1, bs, &bbad));
    int bad_w[2] = {x, wbad}, bad_b[3] = {x, w, bbad}, good[3] = {x, w, -1};
    CHECK_STATUS(shr_graph_add_node(g, "fc_w", SHR_OP_LINEAR, NULL, 2, bad_w, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "fc_w") != NULL && strstr(shr_last_error(), "[5, 7]") != NULL);
    CHECK_STATUS(shr_graph_add_node(g, "fc_b", SHR_OP_LINEAR, NULL, 3, bad_b, NULL), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "bias") != NULL);
    CHECK_OK(shr_graph_add_node(g, "fc_ok", SHR_OP_LINEAR, NULL, 3, good, NULL));
    shr_graph_free(g);
}

/* ---- conv2d ---- */

typedef struct conv_spec {
    int N, C, H, W, OC, KH, KW, SH, SW, pad[4], DH, DW, G, bias;
} conv_spec;

static int conv_out(int H, int PT, int PB, int D, int K, int S) { return (H + PT + PB - D * (K - 1) - 1) / S + 1; }

static shr_graph *conv_graph(const conv_spec *s, int *node, shr_status *st) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, w, b = -1;
    int64_t sin[3] = {s->C, s->H, s->W}, ws[4] = {s->OC, s->C / s->G, s->KH, s->KW}, bs[1] = {s->OC};
    CHECK_OK(shr_graph_add_input(g, "x", 3, sin, &x));
    CHECK_OK(shr_graph_add_tensor(g, "conv.w", SHR_VALUE_PARAM, 4, ws, &w));
    if (s->bias) CHECK_OK(shr_graph_add_tensor(g, "conv.b", SHR_VALUE_PARAM, 1, bs, &b));
    shr_attrs a = window_attrs(s->KH, s->KW, s->SH, s->SW, s->pad);
    a.dilation[0] = s->DH;
    a.dilation[1] = s->DW;
    a.groups = s->G;
    int ins[3] = {x, w, b};
    *st = shr_graph_add_node(g, "conv", SHR_OP_CONV2D, &a, s->bias ? 3 : 2, ins, NULL);
    *node = g->n_nodes - 1;
    return g;
}

/* Direct 7-loop convolution in double: y (N, OC, OH, OW). */
static void conv_naive(const conv_spec *s, const float *x, const float *w, const float *b, int OH, int OW,
                       double *y) {
    int Cg = s->C / s->G, OCg = s->OC / s->G;
    for (int n = 0; n < s->N; n++)
        for (int oc = 0; oc < s->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = b ? b[oc] : 0.0;
                    for (int ci = 0; ci < Cg; ci++) {
                        int c = (oc / OCg) * Cg + ci;
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * s->SH - s->pad[0] + kh * s->DH, iw = ow * s->SW - s->pad[1] + kw * s->DW;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += (double)x[((n * s->C + c) * s->H + ih) * s->W + iw] *
                                       w[((oc * Cg + ci) * s->KH + kh) * s->KW + kw];
                            }
                    }
                    y[((n * s->OC + oc) * OH + oh) * OW + ow] = acc;
                }
}

static void conv_label(const conv_spec *s, char *buf, size_t n) {
    snprintf(buf, n, "conv N=%d C=%d %dx%d OC=%d k=%dx%d s=%dx%d p=%d,%d,%d,%d d=%dx%d g=%d b=%d", s->N, s->C, s->H,
             s->W, s->OC, s->KH, s->KW, s->SH, s->SW, s->pad[0], s->pad[1], s->pad[2], s->pad[3], s->DH, s->DW, s->G,
             s->bias);
}

static void conv_case(shr_rng *r, const conv_spec *s, int check_grads) {
    char label[160];
    conv_label(s, label, sizeof label);
    int node;
    shr_status st;
    shr_graph *g = conv_graph(s, &node, &st);
    CHECK_MSG(st == SHR_OK, "%s: add_node failed: %s", label, shr_last_error());
    if (st != SHR_OK) {
        shr_graph_free(g);
        return;
    }
    int OH = conv_out(s->H, s->pad[0], s->pad[2], s->DH, s->KH, s->SH);
    int OW = conv_out(s->W, s->pad[1], s->pad[3], s->DW, s->KW, s->SW);
    const shr_value *y = &g->values[g->nodes[node].output];
    CHECK_MSG(y->ndim == 4 && y->shape[0] == -1 && y->shape[1] == s->OC && y->shape[2] == OH && y->shape[3] == OW,
              "%s: inferred shape", label);
    CHECK(shr_node_flops(g, node) == 2LL * s->OC * OH * OW * (s->C / s->G) * s->KH * s->KW);
    op_case c;
    case_init_normal(&c, g, node, s->N, r);
    CHECK_OK(run_fwd(&c));
    int64_t ny = (int64_t)s->N * s->OC * OH * OW;
    double *ref = malloc((size_t)ny * sizeof *ref);
    conv_naive(s, shr_f32(c.in[0]), shr_f32(c.in[1]), s->bias ? shr_f32(c.in[2]) : NULL, OH, OW, ref);
    CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, ny) < 1e-5, "%s: forward", label);
    free(ref);
    if (check_grads) grad_check_all(&c, r, 0, 1e-2f, 2e-3, label);
    case_free(&c);
}

static conv_spec spec(int N, int C, int H, int W, int OC, int K, int S, int P, int D, int G, int bias) {
    conv_spec s = {N, C, H, W, OC, K, K, S, S, {P, P, P, P}, D, D, G, bias};
    return s;
}

static void test_conv_fixed(void) {
    shr_rng r;
    shr_rng_seed(&r, 21);
    conv_spec cases[] = {
        spec(2, 3, 7, 5, 4, 3, 1, 1, 1, 1, 1),  /* plain 3x3 same */
        spec(1, 3, 7, 5, 2, 1, 1, 0, 1, 1, 1),  /* 1x1: x is the column matrix */
        spec(3, 6, 5, 4, 6, 1, 1, 0, 1, 3, 0),  /* grouped 1x1 */
        spec(2, 3, 7, 5, 6, 3, 2, 2, 2, 3, 1),  /* grouped, stride, dilation */
        spec(3, 3, 7, 5, 3, 3, 2, 1, 1, 3, 1),  /* depthwise stride 2 */
        spec(2, 4, 6, 7, 4, 3, 1, 2, 2, 4, 0),  /* depthwise dilation 2, pad 2 */
        spec(2, 1, 8, 8, 4, 3, 1, 1, 1, 1, 1),  /* 1 -> several channels (first layer) */
        spec(1, 2, 3, 3, 2, 3, 1, 0, 1, 1, 1),  /* output 1x1 */
        spec(2, 1, 5, 5, 1, 2, 1, 0, 1, 1, 1),  /* 1 channel: depthwise path with G == C == OC == 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_case(&r, &cases[i], 1);
    /* Asymmetric kernel / stride / dilation / padding. */
    conv_spec a = {2, 3, 7, 6, 2, 3, 2, 2, 1, {0, 1, 2, 0}, 1, 2, 1, 1};
    conv_case(&r, &a, 1);
    conv_spec b = {2, 3, 6, 7, 3, 2, 3, 1, 2, {1, 0, 0, 2}, 2, 1, 3, 1};
    conv_case(&r, &b, 1);
    /* Benchmark-like layer shapes (forward only: the gradient check would be slow). */
    conv_case(&r, &(conv_spec){4, 1, 28, 28, 32, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 1}, 0);
    conv_case(&r, &(conv_spec){3, 32, 14, 14, 64, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 1}, 0);
    conv_case(&r, &(conv_spec){3, 16, 9, 9, 16, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 16, 1}, 0);
}

static void test_conv_random(void) {
    shr_rng r;
    shr_rng_seed(&r, 31);
    const int chans[] = {1, 2, 3, 4, 6};
    int done = 0;
    while (done < 30) {
        conv_spec s;
        s.N = 1 + (int)shr_rng_below(&r, 3);
        s.C = chans[shr_rng_below(&r, 5)];
        int gsel = (int)shr_rng_below(&r, 3);
        s.G = gsel == 0 ? 1 : gsel == 1 ? (s.C % 3 == 0 ? 3 : 1) : s.C;
        s.OC = s.G * (gsel == 2 && shr_rng_below(&r, 2) ? 1 : 1 + (int)shr_rng_below(&r, 2));
        s.H = 3 + (int)shr_rng_below(&r, 6);
        s.W = 3 + (int)shr_rng_below(&r, 6);
        s.KH = 1 + (int)shr_rng_below(&r, 3);
        s.KW = 1 + (int)shr_rng_below(&r, 3);
        s.SH = 1 + (int)shr_rng_below(&r, 2);
        s.SW = 1 + (int)shr_rng_below(&r, 2);
        s.DH = 1 + (int)shr_rng_below(&r, 2);
        s.DW = 1 + (int)shr_rng_below(&r, 2);
        for (int i = 0; i < 4; i++) s.pad[i] = (int)shr_rng_below(&r, 3);
        s.bias = (int)shr_rng_below(&r, 2);
        if (s.H + s.pad[0] + s.pad[2] - s.DH * (s.KH - 1) - 1 < 0 || s.W + s.pad[1] + s.pad[3] - s.DW * (s.KW - 1) - 1 < 0)
            continue;
        conv_case(&r, &s, 1);
        done++;
    }
}

/* Equal strides run the forward as an implicit convolution over padded (phase) planes
 * (shr_convt_f32): strides 1-3, dilation, asymmetric padding, groups, first layers (one
 * channel), 1x1 stride 2, against the naive loops; small ones with their gradients too. */
static void test_conv_implicit(void) {
    shr_rng r;
    shr_rng_seed(&r, 61);
    /* N, C, H, W, OC, KH, KW, SH, SW, pads (t, l, b, r), DH, DW, G, bias */
    conv_spec fixed[] = {
        {2, 3, 9, 10, 4, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 1},   /* 3x3 same, OW 10 */
        {1, 2, 10, 12, 3, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 1, 1, 1},  /* stride 2: four phase planes */
        {1, 2, 9, 27, 2, 3, 3, 3, 3, {0, 2, 1, 0}, 1, 1, 1, 1},   /* stride 3, asymmetric pads */
        {1, 4, 8, 11, 4, 3, 2, 1, 1, {2, 0, 0, 2}, 2, 3, 2, 1},   /* dilation 2x3, groups 2 */
        {1, 2, 12, 20, 2, 2, 3, 2, 2, {0, 0, 0, 0}, 2, 2, 1, 0},  /* stride 2 + dilation 2: even phases only */
        {2, 3, 14, 14, 5, 1, 1, 2, 2, {0, 0, 0, 0}, 1, 1, 1, 1},  /* 1x1 stride 2 (projection): one phase */
        {1, 20, 7, 7, 18, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 1},  /* 7x7 plane, channels past one strip */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) conv_case(&r, &fixed[i], 1);
    conv_case(&r, &(conv_spec){3, 1, 28, 28, 6, 5, 5, 1, 1, {2, 2, 2, 2}, 1, 1, 1, 1}, 0);   /* lenet5 conv1 */
    conv_case(&r, &(conv_spec){2, 16, 28, 28, 32, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 1, 1, 1}, 0); /* resnet stride 2 */
    conv_case(&r, &(conv_spec){2, 8, 33, 40, 12, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 1, 0}, 0);  /* odd widths */
    for (int done = 0; done < 12; done++) { /* random shapes wide enough for the implicit path */
        conv_spec s;
        s.N = 1 + (int)shr_rng_below(&r, 2);
        s.G = 1 + (int)shr_rng_below(&r, 2);
        s.C = s.G * (1 + (int)shr_rng_below(&r, 3));
        s.OC = s.G * (1 + (int)shr_rng_below(&r, 3));
        s.SH = s.SW = 1 + (int)shr_rng_below(&r, 3);
        s.KH = 1 + (int)shr_rng_below(&r, 4);
        s.KW = 2 + (int)shr_rng_below(&r, 3);
        s.DH = 1 + (int)shr_rng_below(&r, 2);
        s.DW = 1 + (int)shr_rng_below(&r, 2);
        for (int i = 0; i < 4; i++) s.pad[i] = (int)shr_rng_below(&r, 3);
        s.H = 6 + (int)shr_rng_below(&r, 10);
        s.W = 8 * s.SW + (int)shr_rng_below(&r, 30);
        s.bias = (int)shr_rng_below(&r, 2);
        conv_case(&r, &s, 0);
    }
}

/* A case for spec s: inputs and R (= dL/dout) ~ N(0, 1), drawn from r. Returns R. */
static shr_tensor *conv_setup(op_case *c, const conv_spec *s, shr_rng *r) {
    int node;
    shr_status st;
    shr_graph *g = conv_graph(s, &node, &st);
    CHECK_OK(st);
    case_init_normal(c, g, node, s->N, r);
    shr_tensor *R = act_tensor(g, g->nodes[node].output, s->N);
    fill_normal(R, r, 1.0f, 0.0f);
    return R;
}

/* One node run with batches 1, 3, 2 on the same state (scratch grows and is reused). */
static void test_conv_state_reuse(void) {
    shr_rng r;
    shr_rng_seed(&r, 41);
    conv_spec s = spec(1, 3, 6, 6, 4, 3, 1, 1, 1, 1, 1);
    int node;
    shr_status st;
    shr_graph *g = conv_graph(&s, &node, &st);
    CHECK_OK(st);
    void *state = NULL;
    const int batches[3] = {1, 3, 2};
    for (int k = 0; k < 3; k++) {
        op_case c;
        case_init_normal(&c, g, node, batches[k], &r);
        c.state = state;
        CHECK_OK(run_fwd(&c));
        s.N = batches[k];
        double *ref = malloc((size_t)c.out->numel * sizeof *ref);
        conv_naive(&s, shr_f32(c.in[0]), shr_f32(c.in[1]), shr_f32(c.in[2]), 6, 6, ref);
        CHECK_MSG(max_rel_diff(shr_f32(c.out), ref, c.out->numel) < 1e-5, "batch %d", batches[k]);
        free(ref);
        state = c.state; /* kept for the next batch */
        c.state = NULL;
        case_free_io(&c);
    }
    shr_op_def_get(SHR_OP_CONV2D)->free_state(state);
    shr_graph_free(g);
}

/* Same thread count => bit-identical forward and gradients; other counts agree closely. */
static void test_conv_determinism(void) {
    shr_rng r;
    shr_rng_seed(&r, 51);
    conv_spec s = spec(5, 3, 9, 8, 6, 3, 1, 1, 1, 1, 1);
    op_case c;
    shr_tensor *R = conv_setup(&c, &s, &r);
    int saved = shr_get_threads();
    const int threads[3] = {2, 2, 1};
    shr_tensor *grads[3][3] = {{NULL}};
    for (int k = 0; k < 3; k++) {
        shr_set_threads(threads[k]);
        CHECK_OK(run_fwd(&c));
        for (int i = 0; i < 3; i++) CHECK_OK(shr_tensor_create(&grads[k][i], SHR_F32, c.in[i]->ndim, c.in[i]->shape));
        CHECK_OK(run_bwd(&c, R, grads[k]));
    }
    shr_set_threads(saved);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(memcmp(shr_f32(grads[0][i]), shr_f32(grads[1][i]), grads[0][i]->nbytes) == 0,
                  "input %d: gradients differ between two runs with 2 threads", i);
        double num = 0.0, den = 0.0;
        for (int64_t j = 0; j < grads[0][i]->numel; j++) {
            double d = shr_f32(grads[0][i])[j] - shr_f32(grads[2][i])[j];
            num += d * d;
            den += (double)shr_f32(grads[2][i])[j] * shr_f32(grads[2][i])[j];
        }
        CHECK_MSG(sqrt(num) <= 1e-5 * sqrt(den) + 1e-7, "input %d: 1 vs 2 threads differ", i);
        for (int k = 0; k < 3; k++) shr_tensor_free(grads[k][i]);
    }
    shr_tensor_free(R);
    case_free(&c);
}

/* Without a state slot (io->state == NULL) and with only some gradients requested,
 * every path gives the same numbers as the full run. */
static void test_conv_partial_io(void) {
    shr_rng r;
    shr_rng_seed(&r, 52);
    const conv_spec specs[3] = {spec(3, 4, 9, 7, 6, 3, 1, 1, 1, 2, 1), spec(3, 4, 6, 6, 4, 3, 2, 1, 1, 4, 1),
                                spec(2, 4, 20, 20, 3, 1, 1, 0, 1, 1, 1)};
    for (int k = 0; k < 3; k++) {
        op_case c;
        shr_tensor *y0, *R = conv_setup(&c, &specs[k], &r);
        CHECK_OK(run_fwd(&c));
        CHECK_OK(shr_tensor_clone(&y0, c.out));
        shr_op_io io = {c.g, &c.g->nodes[c.node], 1, c.in, c.out, NULL, NULL, 0, 0.0f, 0.0f};
        memset(shr_f32(c.out), 0, c.out->nbytes);
        CHECK_OK(shr_op_conv2d.forward(&io));
        CHECK_MSG(memcmp(shr_f32(c.out), shr_f32(y0), y0->nbytes) == 0, "spec %d: forward without state", k);
        shr_tensor *full[3], *part[3];
        for (int i = 0; i < 3; i++) {
            CHECK_OK(shr_tensor_create(&full[i], SHR_F32, c.in[i]->ndim, c.in[i]->shape));
            CHECK_OK(shr_tensor_create(&part[i], SHR_F32, c.in[i]->ndim, c.in[i]->shape));
        }
        CHECK_OK(run_bwd(&c, R, full));
        for (int i = 0; i < 3; i++) {
            shr_tensor *one[3] = {NULL, NULL, NULL};
            one[i] = part[i];
            CHECK_OK(shr_op_conv2d.backward(&io, R, one)); /* also without state */
            CHECK_MSG(memcmp(shr_f32(part[i]), shr_f32(full[i]), full[i]->nbytes) == 0,
                      "spec %d: gradient %d alone differs", k, i);
        }
        for (int i = 0; i < 3; i++) {
            shr_tensor_free(full[i]);
            shr_tensor_free(part[i]);
        }
        shr_tensor_free(y0);
        shr_tensor_free(R);
        case_free(&c);
    }
}

static shr_status conv_try(const char *name, int C, int H, int W, int OC, int WC, int KH, int KW, int kernel,
                           int stride, int pad, int G, int blen, int rank4) {
    shr_graph *g;
    CHECK_OK(shr_graph_create(&g));
    int x, w, b = -1;
    int64_t sin[3] = {C, H, W}, ws[4] = {OC, WC, KH, KW}, bs[1] = {blen};
    CHECK_OK(shr_graph_add_input(g, "x", rank4 ? 3 : 1, sin, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 4, ws, &w));
    if (blen) CHECK_OK(shr_graph_add_tensor(g, "b", SHR_VALUE_PARAM, 1, bs, &b));
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = kernel;
    a.stride[0] = a.stride[1] = stride;
    for (int i = 0; i < 4; i++) a.pad[i] = pad;
    a.groups = G;
    int ins[3] = {x, w, b};
    shr_status st = shr_graph_add_node(g, name, SHR_OP_CONV2D, &a, blen ? 3 : 2, ins, NULL);
    if (st != SHR_OK)
        CHECK_MSG(strstr(shr_last_error(), name) != NULL, "message '%s' does not name the node", shr_last_error());
    shr_graph_free(g);
    return st;
}

static void test_conv_bad_shapes(void) {
    CHECK_OK(conv_try("ok", 3, 8, 8, 4, 3, 3, 3, 3, 1, 1, 1, 4, 1));
    CHECK_STATUS(conv_try("conv1", 1, 28, 28, 32, 3, 3, 3, 3, 1, 1, 1, 0, 1), SHR_ERR_SHAPE);
    CHECK(strstr(shr_last_error(), "weight shape [32, 3, 3, 3] does not match input channels 1") != NULL);
    CHECK_STATUS(conv_try("kmis", 3, 8, 8, 4, 3, 3, 3, 5, 1, 1, 1, 0, 1), SHR_ERR_SHAPE);  /* kernel attr vs W */
    CHECK_STATUS(conv_try("kzero", 3, 8, 8, 4, 3, 3, 3, 0, 1, 1, 1, 0, 1), SHR_ERR_SHAPE);
    CHECK_STATUS(conv_try("grp", 4, 8, 8, 6, 1, 3, 3, 3, 1, 1, 4, 0, 1), SHR_ERR_SHAPE);   /* 6 % 4 */
    CHECK_STATUS(conv_try("grpc", 6, 8, 8, 6, 3, 3, 3, 3, 1, 1, 3, 0, 1), SHR_ERR_SHAPE);  /* W has 3, wants 2 */
    CHECK_STATUS(conv_try("bias", 3, 8, 8, 4, 3, 3, 3, 3, 1, 1, 1, 5, 1), SHR_ERR_SHAPE);
    CHECK_STATUS(conv_try("small", 3, 2, 2, 4, 3, 3, 3, 3, 1, 0, 1, 0, 1), SHR_ERR_SHAPE); /* empty output */
    CHECK_STATUS(conv_try("stride", 3, 8, 8, 4, 3, 3, 3, 3, -1, 1, 1, 0, 1), SHR_ERR_SHAPE);
    CHECK_STATUS(conv_try("pad", 3, 8, 8, 4, 3, 3, 3, 3, 1, -1, 1, 0, 1), SHR_ERR_SHAPE);
    CHECK_STATUS(conv_try("rank", 3, 8, 8, 4, 3, 3, 3, 3, 1, 1, 1, 0, 0), SHR_ERR_SHAPE);
}

/* The registry resolves the defs (this strong reference also links them in: the
 * registry refers to them only weakly) and each knows its input counts. */
static void test_registered(void) {
    const op_reg ops[] = {{SHR_OP_LINEAR, &shr_op_linear}, {SHR_OP_CONV2D, &shr_op_conv2d}};
    check_registered(ops, sizeof ops / sizeof ops[0]);
    CHECK(shr_op_linear.min_inputs == 2 && shr_op_linear.max_inputs == 3);
    CHECK(shr_op_conv2d.min_inputs == 2 && shr_op_conv2d.max_inputs == 3);
    CHECK(strcmp(shr_op_conv2d.name, "conv2d") == 0 && strcmp(shr_op_linear.name, "linear") == 0);
}

int main(void) {
    RUN(test_registered);
    RUN(test_linear);
    RUN(test_linear_bad_shapes);
    RUN(test_conv_fixed);
    RUN(test_conv_random);
    RUN(test_conv_implicit);
    RUN(test_conv_state_reuse);
    RUN(test_conv_determinism);
    RUN(test_conv_partial_io);
    RUN(test_conv_bad_shapes);
    return test_summary();
}
