/* Lowering a float graph F (BatchNorm already folded) to an integer graph Q.
 *
 * Every value of F may get up to three versions in Q: f32, 8-bit codes, 16-bit codes. Nodes of F
 * are emitted in order; each asks for its inputs in the form it runs on, and a missing version is
 * made on demand from an existing one (quantize from f32, dequantize to f32; a change of width
 * goes through f32). So integer regions, f32 islands (excluded layers, ops without an integer
 * form) and mixed widths need no special cases. Rank-4 codes are channels-last: the first
 * quantize transposes, the last dequantize transposes back, and a Linear reading codes flattened
 * from channels-last gets its weight columns permuted instead.
 *
 * conv2d / linear (+ a ReLU / ReLU6 that only they read) -> qconv2d / qlinear (lower_layer.c);
 * add (+ ReLU) -> qadd; maxpool / avgpool / global avgpool / flatten / relu on codes -> their
 * integer forms; dropout is the identity; anything else runs in f32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops/ops_quant.h"
#include "quant/lower.h"

void shr_q_name(char *buf, size_t size, const char *a, const char *b) { snprintf(buf, size, "%.200s%s", a, b); }

shr_status shr_q_params_for(lower_ctx *c, int fv, int bits, shr_qparams *out) {
    const shr_quant_config *cfg = c->L->cfg;
    if (c->L->fixed && c->L->fixed[fv].scale > 0.0f && shr_q_slot(bits) == SLOT_Q8) {
        *out = c->L->fixed[fv];
        return SHR_OK;
    }
    shr_observer *o = c->L->obs ? c->L->obs[fv] : NULL;
    if (!o) return shr_fail(SHR_ERR_INTERNAL, "no calibration data for '%s'", c->F->values[fv].name);
    int sym = cfg->symmetric || bits > 8;
    int b = bits > 8 ? SHR_Q16_ACT_BITS : cfg->act_bits == 7 ? 7 : 8;
    int levels = sym ? 2 * ((1 << (b - 1)) - 1) : (1 << b) - 1;
    float lo, hi;
    shr_observer_choose(o, cfg->calib, cfg->percentile, levels, sym, &lo, &hi);
    *out = shr_qparams_from_range(lo, hi, b, sym);
    return SHR_OK;
}

shr_status shr_q_copy_value(lower_ctx *c, int fv, int *out) {
    if (c->pv[fv] >= 0) {
        *out = c->pv[fv];
        return SHR_OK;
    }
    const shr_value *v = &c->F->values[fv];
    SHR_TRY(shr_q_add_tensor(c->Q, v->name, v->kind, v->data->dtype, v->ndim, v->shape, v->data->data, out));
    c->pv[fv] = *out;
    return SHR_OK;
}

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

shr_status shr_q_get_f32(lower_ctx *c, int fv, int *out) {
    qver *f = shr_q_ver(c, fv, SLOT_F32);
    if (f->v >= 0) {
        *out = f->v;
        return SHR_OK;
    }
    qver *q = shr_q_ver(c, fv, SLOT_Q8)->v >= 0 ? shr_q_ver(c, fv, SLOT_Q8) : shr_q_ver(c, fv, SLOT_Q16);
    if (q->v < 0) return shr_fail(SHR_ERR_INTERNAL, "lowering: value '%s' has no version", c->F->values[fv].name);
    char name[256];
    int v;
    if (q->src4 >= 0) { /* flattened channels-last codes: flatten the f32 form of the 4-D source instead */
        int x4;
        SHR_TRY(shr_q_get_f32(c, q->src4, &x4));
        shr_q_name(name, sizeof name, c->F->values[fv].name, ".f32");
        SHR_TRY(shr_graph_add_node(c->Q, name, SHR_OP_FLATTEN, NULL, 1, &x4, &v));
    } else {
        shr_attrs a = shr_attrs_default();
        if (q->nhwc) {
            a.ndim = 4;
            memcpy(a.shape, TO_NCHW, sizeof TO_NCHW);
        }
        int in[3] = {q->v, q->scale_v, q->zp_v};
        shr_q_name(name, sizeof name, c->F->values[fv].name, ".dequant");
        SHR_TRY(shr_graph_add_node(c->Q, name, SHR_OP_DEQUANTIZE, &a, 3, in, &v));
        if (c->rep) c->rep->dequantize_ops++;
    }
    f->v = v;
    *out = v;
    return SHR_OK;
}

shr_status shr_q_get_codes(lower_ctx *c, int fv, int bits, qver **out) {
    qver *q = shr_q_ver(c, fv, shr_q_slot(bits));
    *out = q;
    if (q->v >= 0) return SHR_OK;
    int f;
    SHR_TRY(shr_q_get_f32(c, fv, &f));
    shr_qparams qp;
    SHR_TRY(shr_q_params_for(c, fv, bits, &qp));
    const char *vn = c->F->values[fv].name;
    char name[256];
    shr_q_name(name, sizeof name, vn, bits > 8 ? ".scale16" : ".scale8");
    SHR_TRY(shr_q_add_scalar_f32(c->Q, name, qp.scale, &q->scale_v));
    shr_q_name(name, sizeof name, vn, bits > 8 ? ".zp16" : ".zp8");
    SHR_TRY(shr_q_add_zero_point(c->Q, name, qp.type, qp.zero_point, &q->zp_v));
    shr_attrs a = shr_attrs_default();
    a.alpha = (float)qp.qmin;
    a.eps = (float)qp.qmax;
    q->nhwc = c->F->values[fv].ndim == 4;
    if (q->nhwc) {
        a.ndim = 4;
        memcpy(a.shape, TO_NHWC, sizeof TO_NHWC);
    }
    int in[3] = {f, q->scale_v, q->zp_v};
    shr_q_name(name, sizeof name, vn, bits > 8 ? ".quant16" : ".quant8");
    SHR_TRY(shr_graph_add_node(c->Q, name, SHR_OP_QUANTIZE, &a, 3, in, &q->v));
    q->qp = qp;
    q->src4 = -1;
    if (c->rep) c->rep->quantize_ops++;
    return SHR_OK;
}

int shr_q_fusable_act(lower_ctx *c, int k) {
    const shr_graph *F = c->F;
    int v = F->nodes[k].output;
    if (v == F->output || c->uses[v] != 1) return -1;
    for (int j = k + 1; j < F->n_nodes; j++) {
        if (!c->live[j]) continue;
        const shr_node *n = &F->nodes[j];
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] == v) return (n->op == SHR_OP_RELU || n->op == SHR_OP_RELU6) && i == 0 ? j : -1;
    }
    return -1;
}

static int is_pass(shr_op op) {
    return op == SHR_OP_MAXPOOL2D || op == SHR_OP_AVGPOOL2D || op == SHR_OP_GLOBAL_AVGPOOL || op == SHR_OP_FLATTEN ||
           op == SHR_OP_RELU || op == SHR_OP_RELU6 || op == SHR_OP_DROPOUT;
}

int shr_q_wants_codes(lower_ctx *c, int fv, int bits) {
    const shr_graph *F = c->F;
    for (int j = 0; j < F->n_nodes; j++) {
        if (!c->live[j]) continue;
        const shr_node *n = &F->nodes[j];
        int reads = 0;
        for (int i = 0; i < n->n_inputs; i++) reads |= n->inputs[i] == fv;
        if (!reads) continue;
        int p = c->L->prec[j];
        if ((n->op == SHR_OP_CONV2D || n->op == SHR_OP_LINEAR || n->op == SHR_OP_ADD) && p == bits) return 1;
        if (is_pass(n->op) && p != 0) return 1;
    }
    return 0;
}

int shr_q_report_add(lower_ctx *c, const shr_node *n, int bits) {
    if (!c->rep || c->rep->n_layers >= SHR_QUANT_MAX_LAYERS) return -1;
    int i = c->rep->n_layers++;
    shr_quant_layer *l = &c->rep->layers[i];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", n->name);
    l->op = n->op;
    l->bits = bits;
    l->sqnr_db = NAN;
    c->probes[i] = (shr_q_probe){-1, -1, {0.0f, 0, 0, 0, SHR_F32}, 0};
    return i;
}

/* A node that runs in f32 exactly as in F. */
static shr_status emit_float(lower_ctx *c, int k) {
    const shr_node *n = &c->F->nodes[k];
    int small[16], *in = n->n_inputs <= 16 ? small : malloc((size_t)n->n_inputs * sizeof *in);
    if (!in) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_status st = SHR_OK;
    for (int i = 0; i < n->n_inputs && st == SHR_OK; i++) {
        int v = n->inputs[i];
        shr_value_kind kind = v >= 0 ? c->F->values[v].kind : SHR_VALUE_INPUT;
        if (v < 0) in[i] = -1;
        else if (kind == SHR_VALUE_PARAM || kind == SHR_VALUE_BUFFER) st = shr_q_copy_value(c, v, &in[i]);
        else st = shr_q_get_f32(c, v, &in[i]);
    }
    int out = -1;
    if (st == SHR_OK) st = shr_graph_add_node(c->Q, n->name, n->op, &n->attrs, n->n_inputs, in, &out);
    if (in != small) free(in);
    if (st == SHR_OK) shr_q_ver(c, n->output, SLOT_F32)->v = out;
    return st;
}

/* maxpool / avgpool / global avgpool / flatten / relu / dropout on codes; 0 in *done when the
 * input has no codes (or they do not fit) and the node must run in f32. */
static shr_status emit_pass(lower_ctx *c, int k, int *done) {
    const shr_node *n = &c->F->nodes[k];
    int xf = n->inputs[0];
    *done = 0;
    if (n->op == SHR_OP_DROPOUT) { /* eval-mode identity: every version is shared */
        for (int s = 0; s < NSLOT; s++) *shr_q_ver(c, n->output, s) = *shr_q_ver(c, xf, s);
        *done = 1;
        return SHR_OK;
    }
    qver *q = shr_q_ver(c, xf, SLOT_Q16)->v >= 0 ? shr_q_ver(c, xf, SLOT_Q16) : shr_q_ver(c, xf, SLOT_Q8);
    if (q->v < 0 || c->L->prec[k] == 0) return SHR_OK;
    int rank4 = c->F->values[xf].ndim == 4;
    shr_attrs a = n->attrs;
    qver out = *q;
    shr_op op;
    int in[3] = {q->v, q->scale_v, q->zp_v}, nin = 1;
    switch (n->op) {
    case SHR_OP_MAXPOOL2D: op = SHR_OP_QMAXPOOL2D; break;
    case SHR_OP_AVGPOOL2D: op = SHR_OP_QAVGPOOL2D, nin = 3; break;
    case SHR_OP_GLOBAL_AVGPOOL:
        op = SHR_OP_QAVGPOOL2D, nin = 3;
        a = shr_attrs_default();
        a.kernel[0] = (int)c->F->values[xf].shape[2];
        a.kernel[1] = (int)c->F->values[xf].shape[3];
        break;
    case SHR_OP_FLATTEN:
        op = SHR_OP_QFLATTEN;
        if (rank4 && q->nhwc) out.src4 = xf;
        break;
    default: /* ReLU / ReLU6 as a clamp of the codes */
        op = SHR_OP_QCLAMP;
        if (out.qp.qmin < out.qp.zero_point) out.qp.qmin = out.qp.zero_point;
        if (n->op == SHR_OP_RELU6) {
            double top = out.qp.zero_point + floor(6.0 / out.qp.scale);
            if (top < out.qp.qmax) out.qp.qmax = (int)top;
        }
        a = shr_attrs_default();
        a.alpha = (float)out.qp.qmin;
        a.eps = (float)out.qp.qmax;
        break;
    }
    if ((op == SHR_OP_QMAXPOOL2D || op == SHR_OP_QAVGPOOL2D) && !(rank4 && q->nhwc)) return SHR_OK;
    if (op == SHR_OP_QAVGPOOL2D) a.momentum = c->L->cfg->fixed_requant ? 0.0f : SHR_QREQ_FLOAT;
    SHR_TRY(shr_graph_add_node(c->Q, n->name, op, &a, nin, in, &out.v));
    out.nhwc = op == SHR_OP_QFLATTEN ? out.src4 >= 0 || (q->nhwc && !rank4) : q->nhwc;
    *shr_q_ver(c, n->output, shr_q_slot(q->qp.type == SHR_I16 ? 16 : 8)) = out;
    *done = 1;
    return SHR_OK;
}

static shr_status lower_nodes(lower_ctx *c) {
    const shr_graph *F = c->F;
    for (int k = 0; k < F->n_nodes; k++) {
        if (!c->live[k] || c->absorbed[k]) continue;
        const shr_node *n = &F->nodes[k];
        int p = c->L->prec[k], done = 0;
        if ((n->op == SHR_OP_CONV2D || n->op == SHR_OP_LINEAR) && p != 0 && n->n_inputs >= 2 && n->inputs[1] >= 0 &&
            F->values[n->inputs[1]].kind == SHR_VALUE_PARAM) {
            SHR_TRY(shr_q_emit_layer(c, k, p));
            continue;
        }
        if (n->op == SHR_OP_ADD && p != 0 && n->n_inputs == 2) {
            SHR_TRY(shr_q_emit_add(c, k, p));
            continue;
        }
        if (is_pass(n->op)) SHR_TRY(emit_pass(c, k, &done));
        if (!done) {
            if (n->op == SHR_OP_CONV2D || n->op == SHR_OP_LINEAR) {
                int r = shr_q_report_add(c, n, 32);
                if (r >= 0) c->probes[r].f_value = n->output;
            }
            SHR_TRY(emit_float(c, k));
        }
    }
    int out;
    SHR_TRY(shr_q_get_f32(c, F->output, &out));
    c->Q->output = out;
    /* f32 probes: the value now holding each kept-f32 layer's output */
    for (int i = 0; c->rep && i < c->rep->n_layers; i++)
        if (c->probes[i].q_value < 0 && c->probes[i].f_value >= 0)
            c->probes[i].q_value = shr_q_ver(c, c->probes[i].f_value, SLOT_F32)->v;
    return SHR_OK;
}

shr_status shr_q_lower(const shr_graph *F, const shr_q_lowering *L, shr_graph **Q, shr_quant_report *rep,
                       shr_q_probe *probes) {
    lower_ctx c;
    memset(&c, 0, sizeof c);
    c.F = F;
    c.L = L;
    c.rep = rep;
    c.probes = probes;
    c.ver = malloc((size_t)(F->n_values + 1) * NSLOT * sizeof *c.ver);
    c.pv = malloc((size_t)(F->n_values + 1) * sizeof *c.pv);
    c.absorbed = calloc((size_t)F->n_nodes + 1, 1);
    shr_status st = c.ver && c.pv && c.absorbed ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_liveness(F, &c.live, &c.uses);
    int input = -1;
    if (st == SHR_OK) st = shr_q_graph_like(F, &c.Q, &input);
    if (st == SHR_OK) {
        for (int v = 0; v < F->n_values; v++) {
            c.pv[v] = -1;
            for (int s = 0; s < NSLOT; s++) c.ver[(size_t)v * NSLOT + s] = (qver){-1, {0.0f, 0, 0, 0, SHR_F32}, -1, -1, 0, -1};
        }
        shr_q_ver(&c, F->input, SLOT_F32)->v = c.Q->input;
        st = lower_nodes(&c);
    }
    if (st == SHR_OK) st = shr_graph_validate(c.Q);
    free(c.ver);
    free(c.pv);
    free(c.absorbed);
    free(c.live);
    free(c.uses);
    if (st != SHR_OK) {
        shr_graph_free(c.Q);
        return st;
    }
    *Q = c.Q;
    return SHR_OK;
}
