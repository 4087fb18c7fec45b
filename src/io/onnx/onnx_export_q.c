/* QDQ export of shrink's integer ops (quantize --mode static / qat output).
 *
 * Each code tensor of shrink becomes an 8-bit ONNX tensor (u8 / i8, the output of a
 * QuantizeLinear) under the value's own name; every reader dequantizes it (one shared
 * DequantizeLinear per tensor), runs the float op, and a QuantizeLinear writes the next codes.
 * That is the QDQ form ONNX Runtime fuses into its integer kernels and shrink's importer reads
 * back as fake_quant.
 *   qconv2d / qlinear: int8 weight codes -> DequantizeLinear (per-channel scales: axis 0),
 *     int32 bias -> DequantizeLinear with scale x_scale * w_scale, then Conv / Gemm.
 *   qadd: Add of the two dequantized inputs. qmaxpool2d / qavgpool2d / qflatten / qclamp:
 *     the float op between a DequantizeLinear and a QuantizeLinear at the same scale.
 * A clamp narrower than the code type (a fused ReLU / ReLU6, 7-bit codes) is a Clip before the
 * QuantizeLinear. ONNX keeps NCHW everywhere: shrink's channels-last codes only change how the
 * weights are stored, so conv weights go back to (OC, C/G, KH, KW) and a Linear reading codes
 * flattened from channels-last gets its columns back in (C, H, W) order. int16 codes have no
 * QuantizeLinear before opset 21 and are refused, as are the weight-only / dynamic / sparse
 * linears. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_export.h"
#include "nn/ops/ops_quant.h"

enum { T_U8 = 2, T_I8 = 3, T_I32 = 6 };

static const float *fdata(const ex_ctx *c, int v) { return shr_f32(c->g->values[v].data); }

/* The ONNX element type of codes of shrink dtype t, or 0. */
static int code_type(shr_dtype t) { return t == SHR_U8 ? T_U8 : t == SHR_I8 ? T_I8 : 0; }

/* The scale and zero point buffers (v_s, v_z) as ONNX scalars; 0 when the codes are not 8-bit. */
static int qparams(ex_ctx *c, int v_s, int v_z, const char **s, const char **z, float *scale, int *zp) {
    const shr_tensor *zt = c->g->values[v_z].data;
    int type = code_type(zt->dtype);
    if (!type) return 0;
    *scale = fdata(c, v_s)[0];
    *zp = shr_q_get(zt->data, zt->dtype, 0);
    if (!c->scalar[v_s]) c->scalar[v_s] = ex_const_f32(c, c->g->values[v_s].name, 0, NULL, scale);
    if (!c->scalar[v_z]) {
        uint8_t u = (uint8_t)*zp;
        int8_t i = (int8_t)*zp;
        c->scalar[v_z] = ex_const_scalar(c, c->g->values[v_z].name, type, type == T_U8 ? (void *)&u : (void *)&i, 1);
    }
    *s = c->scalar[v_s];
    *z = c->scalar[v_z];
    return type;
}

/* The f32 form of codes value v (scale / zero point buffers vs, vz): one DequantizeLinear
 * shared by all readers, written to `name` when given (a dequantize node's output). */
static shr_status dq_codes(ex_ctx *c, int v, int vs, int vz, const char *name, const char **out) {
    if (c->dq[v] && !name) {
        *out = c->dq[v];
        return SHR_OK;
    }
    const char *s, *z;
    float scale;
    int zp;
    if (c->g->values[v].kind != SHR_VALUE_ACT) return ex_unsupported(c, "codes must be an activation");
    if (!qparams(c, vs, vz, &s, &z, &scale, &zp))
        return ex_unsupported(c, "int16 codes need QuantizeLinear from opset 21 (shrink writes opset 13)");
    const char *codes = c->g->values[v].name;
    *out = name ? name : ex_fresh(c, codes);
    if (!c->dq[v]) c->dq[v] = *out;
    ex_node(c, "DequantizeLinear", 3, (const char *[]){codes, s, z}, *out);
    return SHR_OK;
}

/* Input i of node n, codes with their scale / zero point at inputs i + 1, i + 2. */
static shr_status dq_act(ex_ctx *c, const shr_node *n, int i, const char **out) {
    return dq_codes(c, n->inputs[i], n->inputs[i + 1], n->inputs[i + 2], NULL, out);
}

/* Codes of the node's output from the float tensor f: [Clip to the node's clamp,] QuantizeLinear. */
static shr_status requant(ex_ctx *c, const shr_node *n, const char *f, int v_s, int v_z) {
    const char *s, *z;
    float scale;
    int zp;
    const int type = qparams(c, v_s, v_z, &s, &z, &scale, &zp);
    if (!type) return ex_unsupported(c, "int16 codes need QuantizeLinear from opset 21 (shrink writes opset 13)");
    const float lo = n->attrs.alpha, hi = n->attrs.eps, tlo = type == T_U8 ? 0.0f : -128.0f, thi = tlo + 255.0f;
    if (lo > tlo || hi < thi) { /* clip in real units halfway past the edge codes: rounds onto them */
        float rlo = scale * (lo - (float)zp), rhi = scale * (hi - (float)zp);
        const char *clipped = ex_fresh(c, c->g->values[n->output].name);
        ex_node(c, "Clip", 3, (const char *[]){f, ex_const_f32(c, "q_min", 0, NULL, &rlo), ex_const_f32(c, "q_max", 0, NULL, &rhi)},
                clipped);
        f = clipped;
    }
    ex_node(c, "QuantizeLinear", 3, (const char *[]){f, s, z}, c->g->values[n->output].name);
    return SHR_OK;
}

/* The rank-4 (N, H, W, C) codes a 2-D codes value was flattened from (through qflatten and
 * qclamp, as the lowering tracks it), or -1. */
static int flattened_from(const ex_ctx *c, int v) {
    const shr_graph *g = c->g;
    for (int guard = 0; guard < g->n_nodes && v >= 0; guard++) {
        const shr_value *val = &g->values[v];
        if (val->ndim == 4) return v;
        if (val->kind != SHR_VALUE_ACT || val->producer < 0) return -1;
        const shr_node *p = &g->nodes[val->producer];
        if (p->op != SHR_OP_QFLATTEN && p->op != SHR_OP_QCLAMP) return -1;
        v = p->inputs[0];
    }
    return -1;
}

/* Weight codes in ONNX layout as an int8 initializer (the weight's own name), its scales and
 * zero points, and the DequantizeLinear; *wf names the f32 weight. */
static shr_status dq_weight(ex_ctx *c, const shr_node *n, float **wscale, int64_t *nscale, const char **wf) {
    const shr_value *w = &c->g->values[n->inputs[3]], *ws = &c->g->values[n->inputs[4]];
    const shr_tensor *wt = w->data;
    if (wt->dtype != SHR_I8 && wt->dtype != SHR_I4) return ex_unsupported(c, "int16 weights need opset 21");
    const int64_t N = w->shape[0], K = wt->numel / (N ? N : 1);
    int64_t shape[4] = {N, K, 1, 1}, nd = 2;
    int64_t perm_src = -1, H = 1, W = 1, C = K;
    if (n->op == SHR_OP_QCONV2D) { /* stored (OC, KH, KW, C/G) */
        nd = 4, H = w->shape[1], W = w->shape[2], C = w->shape[3];
        shape[1] = C, shape[2] = H, shape[3] = W;
    } else if ((perm_src = flattened_from(c, n->inputs[0])) >= 0) { /* columns (H, W, C) */
        const shr_value *x4 = &c->g->values[perm_src];
        H = x4->shape[1], W = x4->shape[2], C = x4->shape[3];
        if (H * W * C != K) return ex_unsupported(c, "flattened input does not match the weight");
    }
    const int reorder = n->op == SHR_OP_QCONV2D || perm_src >= 0;
    int8_t *codes = malloc((size_t)(N * K) + 1);
    int8_t *zeros = calloc((size_t)N + 1, 1);
    if (!codes || !zeros) {
        free(codes);
        free(zeros);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int64_t o = 0; o < N; o++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t p = 0; p < H * W; p++) { /* ONNX (ch, p) <- shrink (p, ch) when reordered */
                int64_t dst = o * K + ch * H * W + p, src = reorder ? o * K + p * C + ch : dst;
                codes[dst] = (int8_t)shr_q_get(wt->data, wt->dtype, (size_t)src);
            }
    const char *wname = ex_const_raw(c, w->name, 1, T_I8, (int)nd, shape, codes, (size_t)(N * K));
    free(codes);
    *nscale = ws->data->numel;
    *wscale = (float *)fdata(c, n->inputs[4]);
    const int pc = *nscale > 1;
    const char *s = pc ? ex_const_f32(c, ws->name, 1, &N, *wscale) : ex_const_f32(c, ws->name, 0, NULL, *wscale);
    const char *z = ex_const_raw(c, "w_zero_point", 0, T_I8, pc, &N, zeros, pc ? (size_t)N : 1);
    free(zeros);
    *wf = ex_fresh(c, w->name);
    Onnx__NodeProto *o = ex_node(c, "DequantizeLinear", 3, (const char *[]){wname, s, z}, *wf);
    if (pc) ex_attr_i(c, o, "axis", 0);
    return SHR_OK;
}

/* The int32 bias dequantized at x_scale * w_scale (per channel like the weight). */
static shr_status dq_bias(ex_ctx *c, const shr_node *n, float xs, const float *ws, int64_t nws, const char **bf) {
    const shr_value *b = &c->g->values[n->inputs[5]];
    const int64_t N = b->shape[0];
    float *s = malloc((size_t)nws * sizeof *s);
    int32_t *z = calloc((size_t)nws, sizeof *z);
    if (!s || !z) {
        free(s);
        free(z);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < nws; i++) s[i] = xs * ws[i];
    const int pc = nws > 1;
    const char *bn = ex_const_raw(c, b->name, 1, T_I32, 1, &N, b->data->data, (size_t)N * 4);
    const char *sn = pc ? ex_const_f32(c, "bias_scale", 1, &N, s) : ex_const_f32(c, "bias_scale", 0, NULL, s);
    const char *zn = ex_const_raw(c, "bias_zero_point", 0, T_I32, pc, &N, z, (size_t)(pc ? N : 1) * 4);
    free(s);
    free(z);
    *bf = ex_fresh(c, b->name);
    Onnx__NodeProto *o = ex_node(c, "DequantizeLinear", 3, (const char *[]){bn, sn, zn}, *bf);
    if (pc) ex_attr_i(c, o, "axis", 0);
    return SHR_OK;
}

static shr_status emit_layer(ex_ctx *c, const shr_node *n) {
    const char *x, *wf = "", *bf = "";
    float *ws = NULL;
    int64_t nws = 0;
    const int has_y = n->n_inputs > 7 && n->inputs[6] >= 0 && n->inputs[7] >= 0;
    if (n->op == SHR_OP_QCONV2D && !has_y) return ex_unsupported(c, "a qconv2d with f32 (channels-last) output");
    SHR_TRY(dq_act(c, n, 0, &x));
    SHR_TRY(dq_weight(c, n, &ws, &nws, &wf));
    if (n->n_inputs > 5 && n->inputs[5] >= 0) SHR_TRY(dq_bias(c, n, fdata(c, n->inputs[1])[0], ws, nws, &bf));
    const char *out = c->g->values[n->output].name, *y = has_y ? ex_fresh(c, out) : out;
    const char *ins[3] = {x, wf, bf};
    const int nin = bf[0] ? 3 : 2;
    if (n->op == SHR_OP_QCONV2D) {
        Onnx__NodeProto *o = ex_node(c, "Conv", nin, ins, y);
        ex_window(c, o, &n->attrs, 1);
        ex_attr_i(c, o, "group", n->attrs.groups ? n->attrs.groups : 1);
    } else {
        ex_attr_i(c, ex_node(c, "Gemm", nin, ins, y), "transB", 1);
    }
    return has_y ? requant(c, n, y, n->inputs[6], n->inputs[7]) : SHR_OK;
}

static shr_status code_params(ex_ctx *c, int v, int *vs, int *vz);

/* dequantize -> f32 op -> quantize at the input's scale (pools, flatten, clamp). */
static shr_status emit_same_scale(ex_ctx *c, const shr_node *n) {
    const char *x;
    int vs = -1, vz = -1;
    if (n->op == SHR_OP_QAVGPOOL2D) vs = n->inputs[1], vz = n->inputs[2];
    else SHR_TRY(code_params(c, n->inputs[0], &vs, &vz)); /* the producer's scale */
    SHR_TRY(dq_codes(c, n->inputs[0], vs, vz, NULL, &x));
    const char *y = n->op == SHR_OP_QCLAMP ? x : ex_fresh(c, c->g->values[n->output].name);
    Onnx__NodeProto *o;
    switch (n->op) {
    case SHR_OP_QMAXPOOL2D: ex_window(c, ex_node(c, "MaxPool", 1, &x, y), &n->attrs, 0); break;
    case SHR_OP_QAVGPOOL2D:
        o = ex_node(c, "AveragePool", 1, &x, y);
        ex_window(c, o, &n->attrs, 0);
        ex_attr_i(c, o, "count_include_pad", n->attrs.count_include_pad != 0);
        break;
    case SHR_OP_QFLATTEN: ex_attr_i(c, ex_node(c, "Flatten", 1, &x, y), "axis", 1); break;
    default: break; /* qclamp: requant's Clip is the clamp */
    }
    shr_node q = *n; /* pools and flatten keep the codes' clamp: the type range */
    if (n->op != SHR_OP_QCLAMP) q.attrs.alpha = -1e9f, q.attrs.eps = 1e9f;
    return requant(c, &q, y, vs, vz);
}

/* The scale / zero point buffers that describe codes value v: those its producer wrote them with. */
static shr_status code_params(ex_ctx *c, int v, int *vs, int *vz) {
    const shr_graph *g = c->g;
    for (int guard = 0; guard <= g->n_nodes; guard++) {
        const shr_value *val = &g->values[v];
        if (val->kind != SHR_VALUE_ACT || val->producer < 0) break;
        const shr_node *p = &g->nodes[val->producer];
        switch (p->op) {
        case SHR_OP_QUANTIZE: *vs = p->inputs[1], *vz = p->inputs[2]; return SHR_OK;
        case SHR_OP_QLINEAR:
        case SHR_OP_QCONV2D:
        case SHR_OP_QADD:
            if (p->n_inputs < 8 || p->inputs[6] < 0) break;
            *vs = p->inputs[6], *vz = p->inputs[7];
            return SHR_OK;
        case SHR_OP_QAVGPOOL2D: *vs = p->inputs[1], *vz = p->inputs[2]; return SHR_OK;
        case SHR_OP_QMAXPOOL2D:
        case SHR_OP_QFLATTEN:
        case SHR_OP_QCLAMP: v = p->inputs[0]; continue;
        default: break;
        }
        break;
    }
    return ex_unsupported(c, "cannot tell the scale of its input codes");
}

shr_status ex_emit_qnode(ex_ctx *c, const shr_node *n) {
    const shr_graph *g = c->g;
    const char *x, *b;
    switch (n->op) {
    case SHR_OP_QUANTIZE:
    case SHR_OP_DEQUANTIZE: {
        /* ONNX keeps NCHW: the only allowed permutation is the channels-last one of rank 4 */
        const int rank4 = g->values[n->inputs[0]].ndim == 4;
        if (n->attrs.ndim != (rank4 ? 4 : 0)) return ex_unsupported(c, "codes of rank 4 must be channels-last");
        if (n->op == SHR_OP_QUANTIZE) return requant(c, n, ex_in(c, n->inputs[0]), n->inputs[1], n->inputs[2]);
        return dq_codes(c, n->inputs[0], n->inputs[1], n->inputs[2], g->values[n->output].name, &x);
    }
    case SHR_OP_QLINEAR:
    case SHR_OP_QCONV2D: return emit_layer(c, n);
    case SHR_OP_QADD: {
        SHR_TRY(dq_act(c, n, 0, &x));
        SHR_TRY(dq_act(c, n, 3, &b));
        const char *y = ex_fresh(c, g->values[n->output].name);
        ex_node(c, "Add", 2, (const char *[]){x, b}, y);
        return requant(c, n, y, n->inputs[6], n->inputs[7]);
    }
    case SHR_OP_QMAXPOOL2D:
    case SHR_OP_QAVGPOOL2D:
    case SHR_OP_QFLATTEN:
    case SHR_OP_QCLAMP: return emit_same_scale(c, n);
    default: return ex_unsupported(c, "weight-only, dynamic and sparse quantized layers have no QDQ export yet");
    }
}
