/* Lowering of the layers with weights (conv2d, linear -> qconv2d, qlinear) and of add -> qadd.
 *
 * Weights are reordered to what the integer op reads: a conv weight (OC, C/G, KH, KW) becomes
 * (OC, KH, KW, C/G) to match channels-last patches; a Linear reading codes flattened from a
 * channels-last (C, H, W) map gets its columns in (H, W, C) order. Then symmetric codes per
 * output channel (or per tensor), the bias as int32 at x_scale * w_scale, and the output's
 * codes with a fused ReLU / ReLU6 as their clamp. A layer whose output only f32 ops read keeps
 * an f32 output (no requantization of, e.g., the logits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops/ops_quant.h"
#include "quant/lower.h"

/* The clamp a fused activation puts on output codes. */
static void act_clamp(shr_qparams *qp, shr_op act) {
    if (act != SHR_OP_RELU && act != SHR_OP_RELU6) return;
    if (qp->qmin < qp->zero_point) qp->qmin = qp->zero_point;
    if (act == SHR_OP_RELU6) {
        double top = qp->zero_point + floor(6.0 / qp->scale);
        if (top < qp->qmax) qp->qmax = (int)top;
    }
}

/* W of node n as the N x K f32 matrix the integer op multiplies (see top). */
static shr_status weight_matrix(lower_ctx *c, const shr_node *n, const qver *xq, float **out, int64_t *N,
                                int64_t *K) {
    const shr_value *wv = &c->F->values[n->inputs[1]];
    const float *w = shr_f32(wv->data);
    int64_t rows = wv->shape[0], per = wv->data->numel / (rows ? rows : 1);
    float *m = malloc((size_t)(rows * per + 1) * sizeof *m);
    if (!m) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (n->op == SHR_OP_CONV2D) {
        int64_t Cg = wv->shape[1], KH = wv->shape[2], KW = wv->shape[3];
        for (int64_t o = 0; o < rows; o++)
            for (int64_t ch = 0; ch < Cg; ch++)
                for (int64_t t = 0; t < KH * KW; t++) m[o * per + t * Cg + ch] = w[o * per + ch * KH * KW + t];
    } else if (xq->src4 >= 0) {
        const shr_value *x4 = &c->F->values[xq->src4];
        int64_t C = x4->shape[1], HW = x4->shape[2] * x4->shape[3];
        for (int64_t o = 0; o < rows; o++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t p = 0; p < HW; p++) m[o * per + p * C + ch] = w[o * per + ch * HW + p];
    } else {
        memcpy(m, w, (size_t)(rows * per) * sizeof *m);
    }
    *out = m;
    *N = rows;
    *K = per;
    return SHR_OK;
}

/* Q tensors of the layer: weight codes (the F weight's name), scales, bias codes. */
static shr_status layer_tensors(lower_ctx *c, const shr_node *n, int bits, const qver *xq, const float *wm, int64_t N,
                                int64_t K, int in[8], float *wsmin, float *wsmax) {
    const shr_quant_config *cfg = c->L->cfg;
    const shr_value *wv = &c->F->values[n->inputs[1]];
    const float *bias = n->n_inputs > 2 && n->inputs[2] >= 0 ? shr_f32(c->F->values[n->inputs[2]].data) : NULL;
    int wbits = bits > 8 ? 16 : cfg->weight_bits, pc = cfg->per_channel;
    int xmax = abs(xq->qp.qmin) > abs(xq->qp.qmax) ? abs(xq->qp.qmin) : abs(xq->qp.qmax);
    void *codes = malloc((size_t)(N * K) * (wbits > 8 ? 2 : 1) + 1);
    float *ws = malloc((size_t)N * sizeof *ws);
    int32_t *bq = malloc((size_t)N * sizeof *bq);
    shr_status st = codes && ws && bq ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_weights(wm, N, K, wbits, pc, xmax, bias, xq->qp.scale, codes, ws);
    if (st == SHR_OK) st = shr_q_bias(bias, N, xq->qp.scale, ws, pc, bq);
    int64_t wshape[4] = {N, K, 0, 0};
    int wnd = 2;
    if (n->op == SHR_OP_CONV2D) {
        wnd = 4;
        wshape[1] = wv->shape[2];
        wshape[2] = wv->shape[3];
        wshape[3] = wv->shape[1];
    }
    char name[256];
    in[0] = xq->v, in[1] = xq->scale_v, in[2] = xq->zp_v, in[5] = -1;
    if (st == SHR_OK)
        st = shr_q_add_tensor(c->Q, wv->name, SHR_VALUE_PARAM, wbits > 8 ? SHR_I16 : wbits == 4 ? SHR_I4 : SHR_I8, wnd,
                              wshape, NULL, &in[3]);
    if (st == SHR_OK) { /* 4-bit codes are stored packed */
        shr_tensor *t = c->Q->values[in[3]].data;
        if (wbits == 4)
            for (int64_t i = 0; i < N * K; i++) shr_i4_set(t->data, i, ((const int8_t *)codes)[i]);
        else
            memcpy(t->data, codes, t->nbytes);
    }
    int64_t ns = pc ? N : 1;
    shr_q_name(name, sizeof name, wv->name, ".scale");
    if (st == SHR_OK) st = shr_q_add_tensor(c->Q, name, SHR_VALUE_BUFFER, SHR_F32, 1, &ns, ws, &in[4]);
    if (st == SHR_OK && bias)
        st = shr_q_add_tensor(c->Q, c->F->values[n->inputs[2]].name, SHR_VALUE_PARAM, SHR_I32, 1, &N, bq, &in[5]);
    *wsmin = INFINITY;
    *wsmax = 0.0f;
    for (int64_t i = 0; st == SHR_OK && i < ns; i++) {
        if (ws[i] < *wsmin) *wsmin = ws[i];
        if (ws[i] > *wsmax) *wsmax = ws[i];
    }
    free(codes);
    free(ws);
    free(bq);
    return st;
}

/* Output codes of a layer / add: scale and zero-point buffers, clamp in attrs. */
static shr_status output_codes(lower_ctx *c, int yf, int bits, shr_op act, qver *yq, int in[8], shr_attrs *a) {
    SHR_TRY(shr_q_params_for(c, yf, bits, &yq->qp));
    act_clamp(&yq->qp, act);
    char name[256];
    const char *vn = c->F->values[yf].name;
    shr_q_name(name, sizeof name, vn, bits > 8 ? ".scale16" : ".scale8");
    SHR_TRY(shr_q_add_scalar_f32(c->Q, name, yq->qp.scale, &yq->scale_v));
    shr_q_name(name, sizeof name, vn, bits > 8 ? ".zp16" : ".zp8");
    SHR_TRY(shr_q_add_zero_point(c->Q, name, yq->qp.type, yq->qp.zero_point, &yq->zp_v));
    in[6] = yq->scale_v;
    in[7] = yq->zp_v;
    a->alpha = (float)yq->qp.qmin;
    a->eps = (float)yq->qp.qmax;
    return SHR_OK;
}

/* Decides fusion and the output form: the F value the op produces, its fused activation (if
 * any) and whether it writes codes. */
static void decide_output(lower_ctx *c, int k, int bits, int *yf, shr_op *act, int *codes) {
    int r = shr_q_fusable_act(c, k);
    int cand = r >= 0 ? c->F->nodes[r].output : c->F->nodes[k].output;
    /* a conv always writes codes: its f32 output would be channels-last, which f32 ops cannot
     * read; a dequantize puts the channels back */
    *codes = c->F->nodes[k].op == SHR_OP_CONV2D || shr_q_wants_codes(c, cand, bits);
    *yf = c->F->nodes[k].output;
    *act = SHR_OP_COUNT;
    if (*codes && r >= 0) { /* the activation becomes the output clamp; with an f32 output it stays a node */
        c->absorbed[r] = 1;
        *yf = cand;
        *act = c->F->nodes[r].op;
        if (c->rep) c->rep->relu_fused++;
    }
}

static void record(lower_ctx *c, const shr_node *n, int bits, const qver *xq, const qver *yq, int yf, int codes,
                   float wsmin, float wsmax) {
    int r = shr_q_report_add(c, n, bits);
    if (r < 0) return;
    shr_quant_layer *l = &c->rep->layers[r];
    l->x_scale = xq->qp.scale;
    l->x_zero_point = xq->qp.zero_point;
    l->y_scale = codes ? yq->qp.scale : 0.0f;
    l->y_zero_point = codes ? yq->qp.zero_point : 0;
    l->w_scale_min = wsmin;
    l->w_scale_max = wsmax;
    c->probes[r] = (shr_q_probe){yf, yq->v, codes ? yq->qp : (shr_qparams){0.0f, 0, 0, 0, SHR_F32},
                                 codes && c->F->values[yf].ndim == 4};
}

shr_status shr_q_emit_layer(lower_ctx *c, int k, int bits) {
    const shr_node *n = &c->F->nodes[k];
    qver *xq;
    SHR_TRY(shr_q_get_codes(c, n->inputs[0], bits, &xq));
    int yf, codes;
    shr_op act;
    decide_output(c, k, bits, &yf, &act, &codes);
    float *wm = NULL;
    int64_t N = 0, K = 0;
    SHR_TRY(weight_matrix(c, n, xq, &wm, &N, &K));
    int in[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    float wsmin, wsmax;
    qver yq = {-1, {0.0f, 0, 0, 0, SHR_F32}, -1, -1, 0, -1};
    shr_attrs a = shr_attrs_default();
    if (n->op == SHR_OP_CONV2D) {
        a = n->attrs;
        a.axis = 1;
        a.count_include_pad = 0;
        a.ndim = 0;
        memset(a.shape, 0, sizeof a.shape);
    }
    a.alpha = a.eps = 0.0f;
    a.momentum = c->L->cfg->fixed_requant ? 0.0f : SHR_QREQ_FLOAT; /* the requantization (ops_quant.h) */
    shr_status st = layer_tensors(c, n, bits, xq, wm, N, K, in, &wsmin, &wsmax);
    free(wm);
    if (st == SHR_OK && codes) st = output_codes(c, yf, bits, act, &yq, in, &a);
    if (st == SHR_OK)
        st = shr_graph_add_node(c->Q, n->name, n->op == SHR_OP_CONV2D ? SHR_OP_QCONV2D : SHR_OP_QLINEAR, &a, 8, in,
                                &yq.v);
    if (st != SHR_OK) return st;
    yq.nhwc = codes && c->F->values[yf].ndim == 4;
    *shr_q_ver(c, yf, codes ? shr_q_slot(bits) : SLOT_F32) = yq;
    record(c, n, bits, xq, &yq, yf, codes, wsmin, wsmax);
    return SHR_OK;
}

shr_status shr_q_emit_add(lower_ctx *c, int k, int bits) {
    const shr_node *n = &c->F->nodes[k];
    int yf, codes;
    shr_op act;
    decide_output(c, k, bits, &yf, &act, &codes);
    qver *a0, *b0;
    SHR_TRY(shr_q_get_codes(c, n->inputs[0], bits, &a0));
    SHR_TRY(shr_q_get_codes(c, n->inputs[1], bits, &b0));
    int in[8] = {a0->v, a0->scale_v, a0->zp_v, b0->v, b0->scale_v, b0->zp_v, -1, -1};
    qver yq = {-1, {0.0f, 0, 0, 0, SHR_F32}, -1, -1, 0, -1};
    shr_attrs a = shr_attrs_default();
    /* qadd always writes codes: one read as f32 only costs a dequantize */
    SHR_TRY(output_codes(c, yf, bits, act, &yq, in, &a));
    SHR_TRY(shr_graph_add_node(c->Q, n->name, SHR_OP_QADD, &a, 8, in, &yq.v));
    yq.nhwc = a0->nhwc;
    yq.src4 = -1;
    *shr_q_ver(c, yf, shr_q_slot(bits)) = yq;
    record(c, n, bits, a0, &yq, yf, 1, 0.0f, 0.0f);
    return SHR_OK;
}
