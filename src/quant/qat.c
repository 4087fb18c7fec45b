/* Quantization-aware training: the float model learns to live with the rounding it will get.
 *
 * Activations: a fake_quant node (straight-through gradient) follows every value the integer
 * model will hold as codes — the input of the first layers and each conv / linear / add output
 * after its ReLU; its range starts from calibration and then follows the batches (EMA), or with
 * LSQ its scale is a trained param. Weights: each conv / linear weight is kept as an f32 master
 * copy; the graph holds the master fake-quantized per output channel, and after every optimizer
 * step the step taken on the quantized weight is applied to the master and the weight is
 * re-quantized (a straight-through estimator for weights, done outside the graph because
 * weights are not activations).
 * BatchNorm: kept training for the first bn_freeze_epoch epochs (weights fake-quantized before
 * folding), then folded with its running statistics frozen, and training goes on folded.
 * Conversion: fake_quant nodes come out, their scales and zero points become the codes'
 * parameters, and the lowering of static quantization builds the integer model — so QAT and
 * PTQ give the same kind of model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/train_hooks.h"
#include "quant/quant_internal.h"
#include "shrink/distill.h"

/* ---- where fake_quant goes ---- */

static int layer_op(shr_op op) { return op == SHR_OP_CONV2D || op == SHR_OP_LINEAR || op == SHR_OP_ADD; }

static int pass_op(shr_op op) {
    return op == SHR_OP_MAXPOOL2D || op == SHR_OP_AVGPOOL2D || op == SHR_OP_GLOBAL_AVGPOOL || op == SHR_OP_FLATTEN ||
           op == SHR_OP_DROPOUT || op == SHR_OP_RELU || op == SHR_OP_RELU6;
}

/* The only live reader of value v, or -1 (several, or v is the graph output). */
static int sole_reader(const shr_graph *g, const unsigned char *live, const int *uses, int v) {
    if (v == g->output || uses[v] != 1) return -1;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_inputs && live[k]; i++)
            if (g->nodes[k].inputs[i] == v) return k;
    return -1;
}

/* 1 when a live reader of v is an integer layer (through pass-through ops). */
static int feeds_layer(const shr_graph *g, const unsigned char *live, const int *prec, int v, int depth) {
    for (int k = 0; k < g->n_nodes && depth < 16; k++) {
        if (!live[k]) continue;
        const shr_node *n = &g->nodes[k];
        int reads = 0;
        for (int i = 0; i < n->n_inputs; i++) reads |= n->inputs[i] == v;
        if (!reads) continue;
        if (layer_op(n->op) && prec[k]) return 1;
        if (pass_op(n->op) && prec[k] && feeds_layer(g, live, prec, n->output, depth + 1)) return 1;
    }
    return 0;
}

/* Per value of g: 1 where a fake_quant goes — exactly where the lowering will hold codes with
 * parameters of their own: a value an integer layer reads that arrives in f32 (the model input, an
 * f32 layer's output), and an integer layer's output after its BatchNorm / ReLU (a conv's always:
 * it writes codes; a linear's or add's when an integer layer reads it). Codes flow through
 * pass-through ops unchanged. */
static shr_status fq_points(const shr_graph *g, const shr_quant_config *cfg, unsigned char **out) {
    unsigned char *live = NULL, *pt = calloc((size_t)g->n_values + 1, 1), *codes = calloc((size_t)g->n_values + 1, 1);
    int *uses = NULL, *prec = NULL;
    shr_status st = pt && codes ? shr_q_liveness(g, &live, &uses) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_node_widths(g, cfg, &prec);
    for (int k = 0; st == SHR_OK && k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if (!live[k]) continue;
        if (pass_op(n->op)) {
            codes[n->output] = prec[k] && codes[n->inputs[0]];
            continue;
        }
        if (!layer_op(n->op) || !prec[k]) continue;
        for (int i = 0; i < (n->op == SHR_OP_ADD ? 2 : 1); i++)
            if (!codes[n->inputs[i]]) pt[n->inputs[i]] = codes[n->inputs[i]] = 1;
        int v = n->output, r = sole_reader(g, live, uses, v);
        if (r >= 0 && g->nodes[r].op == SHR_OP_BATCHNORM) v = g->nodes[r].output, r = sole_reader(g, live, uses, v);
        if (r >= 0 && (g->nodes[r].op == SHR_OP_RELU || g->nodes[r].op == SHR_OP_RELU6)) v = g->nodes[r].output;
        if (n->op == SHR_OP_CONV2D || feeds_layer(g, live, prec, v, 0)) pt[v] = codes[v] = 1;
    }
    free(live);
    free(uses);
    free(prec);
    free(codes);
    if (st != SHR_OK) {
        free(pt);
        return st;
    }
    *out = pt;
    return SHR_OK;
}

/* ---- the training graph: a copy of F with fake_quant nodes ---- */

typedef struct fq_init {
    shr_observer *const *obs; /* per value of F: initial ranges */
    const shr_quant_config *cfg;
} fq_init;

static shr_status add_fq(shr_graph *G, const char *vname, int x, const shr_observer *o, const shr_quant_config *cfg,
                         int *out) {
    int bits = cfg->act_bits == 8 ? 8 : 7, sym = cfg->symmetric;
    int levels = sym ? 2 * ((1 << (bits - 1)) - 1) : (1 << bits) - 1;
    float lo = 0.0f, hi = 0.0f;
    if (o) shr_observer_choose(o, cfg->calib, cfg->percentile, levels, sym, &lo, &hi);
    shr_qparams qp = shr_qparams_from_range(lo, hi, bits, sym);
    char name[256];
    int s, z, r;
    int64_t one = 1, two = 2;
    float zp = (float)qp.zero_point, range[2] = {lo, hi};
    snprintf(name, sizeof name, "%.200s.fq_scale", vname);
    SHR_TRY(shr_q_add_tensor(G, name, cfg->lsq ? SHR_VALUE_PARAM : SHR_VALUE_BUFFER, SHR_F32, 1, &one, &qp.scale, &s));
    snprintf(name, sizeof name, "%.200s.fq_zp", vname);
    SHR_TRY(shr_q_add_tensor(G, name, SHR_VALUE_BUFFER, SHR_F32, 1, &one, &zp, &z));
    snprintf(name, sizeof name, "%.200s.fq_range", vname);
    SHR_TRY(shr_q_add_tensor(G, name, SHR_VALUE_BUFFER, SHR_F32, 1, &two, range, &r));
    shr_attrs a = shr_attrs_default();
    a.alpha = (float)qp.qmin;
    a.eps = (float)qp.qmax;
    a.momentum = 0.01f;
    a.count_include_pad = sym;
    int in[4] = {x, s, z, r};
    snprintf(name, sizeof name, "%.200s.fq", vname);
    return shr_graph_add_node(G, name, SHR_OP_FAKE_QUANT, &a, 3, in, out);
}

static shr_status build_fq_graph(const shr_graph *F, const fq_init *init, shr_graph **out) {
    unsigned char *pt = NULL;
    int *map = malloc((size_t)(F->n_values + 1) * sizeof *map);
    shr_graph *G = NULL;
    shr_status st = map ? fq_points(F, init->cfg, &pt) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) {
        for (int v = 0; v < F->n_values; v++) map[v] = -1;
        st = shr_q_graph_like(F, &G, &map[F->input]);
    }
    if (st == SHR_OK && pt[F->input])
        st = add_fq(G, F->values[F->input].name, map[F->input], init->obs[F->input], init->cfg, &map[F->input]);
    for (int k = 0; st == SHR_OK && k < F->n_nodes; k++) {
        const shr_node *n = &F->nodes[k];
        int small[16], *in = n->n_inputs <= 16 ? small : malloc((size_t)n->n_inputs * sizeof *in);
        if (!in) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (int i = 0; st == SHR_OK && i < n->n_inputs; i++) {
            int v = n->inputs[i];
            in[i] = v < 0 ? -1 : map[v];
            if (v >= 0 && in[i] < 0) { /* params and buffers, copied when first read */
                const shr_value *pv = &F->values[v];
                st = shr_q_add_tensor(G, pv->name, pv->kind, pv->data->dtype, pv->ndim, pv->shape, pv->data->data,
                                      &map[v]);
                in[i] = map[v];
            }
        }
        if (st == SHR_OK) st = shr_graph_add_node(G, n->name, n->op, &n->attrs, n->n_inputs, in, &map[n->output]);
        if (st == SHR_OK && pt[n->output])
            st = add_fq(G, n->name, map[n->output], init->obs[n->output], init->cfg, &map[n->output]);
        if (in != small) free(in);
    }
    if (st == SHR_OK) G->output = map[F->output];
    free(pt);
    free(map);
    if (st != SHR_OK) {
        shr_graph_free(G);
        return st;
    }
    *out = G;
    return SHR_OK;
}

/* ---- weight fake-quant through the training hooks ---- */

void shr_q_wfq_free(shr_q_wfq *w) {
    for (int i = 0; i < w->n; i++) free(w->master[i]);
    free(w->master);
    free(w->v);
    memset(w, 0, sizeof *w);
}

/* dst = per-row symmetric fake quantization of m (rows of the weight's first dimension). */
static void fq_rows(const float *m, float *dst, int64_t rows, int64_t per, int bits) {
    float qmax = (float)((1 << (bits - 1)) - 1);
    for (int64_t r = 0; r < rows; r++) {
        const float *mr = m + r * per;
        float mx = 0.0f;
        for (int64_t k = 0; k < per; k++) mx = fabsf(mr[k]) > mx ? fabsf(mr[k]) : mx;
        float s = mx > 0.0f ? mx / qmax : 1.0f;
        for (int64_t k = 0; k < per; k++) {
            float q = rintf(mr[k] / s);
            q = q < -qmax ? -qmax : q > qmax ? qmax : q;
            dst[r * per + k] = q * s;
        }
    }
}

shr_status shr_q_wfq_init(shr_q_wfq *w, shr_graph *g, const shr_quant_config *cfg) {
    memset(w, 0, sizeof *w);
    w->g = g;
    w->bits = cfg->weight_bits;
    w->v = malloc((size_t)(g->n_nodes + 1) * sizeof *w->v);
    w->master = calloc((size_t)(g->n_nodes + 1), sizeof *w->master);
    if (!w->v || !w->master) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    int *prec = NULL; /* layers the integer model keeps in f32 keep f32 weights */
    SHR_TRY(shr_q_node_widths(g, cfg, &prec));
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if ((n->op != SHR_OP_CONV2D && n->op != SHR_OP_LINEAR) || n->inputs[1] < 0 || !prec[k]) continue;
        shr_tensor *t = g->values[n->inputs[1]].data;
        if (g->values[n->inputs[1]].kind != SHR_VALUE_PARAM || t->dtype != SHR_F32) continue;
        float *m = malloc((size_t)t->numel * sizeof *m + 1);
        if (!m) {
            free(prec);
            return shr_fail(SHR_ERR_NOMEM, "out of memory");
        }
        memcpy(m, t->data, (size_t)t->numel * sizeof *m);
        w->v[w->n] = n->inputs[1];
        w->master[w->n++] = m;
        fq_rows(m, shr_f32(t), t->shape[0], t->numel / t->shape[0], w->bits);
    }
    free(prec);
    return SHR_OK;
}

/* The optimizer moved the quantized weight; move the master by the same step and requantize. */
shr_status shr_q_wfq_after_step(void *user, shr_graph *g, int64_t step) {
    (void)step;
    shr_q_wfq *w = user;
    for (int i = 0; i < w->n; i++) {
        shr_tensor *t = g->values[w->v[i]].data;
        int64_t rows = t->shape[0], per = t->numel / rows;
        float *cur = shr_f32(t), *m = w->master[i];
        float *prev = malloc((size_t)t->numel * sizeof *prev + 1);
        if (!prev) return shr_fail(SHR_ERR_NOMEM, "out of memory");
        fq_rows(m, prev, rows, per, w->bits);
        for (int64_t j = 0; j < t->numel; j++) m[j] += cur[j] - prev[j];
        free(prev);
        fq_rows(m, cur, rows, per, w->bits);
    }
    return SHR_OK;
}

/* ---- conversion: fake_quant out, their parameters kept ---- */

static shr_status strip_fq(const shr_graph *G, shr_graph **F, shr_qparams **fixed) {
    shr_graph *c;
    SHR_TRY(shr_graph_clone(&c, G));
    shr_qparams *fx = calloc((size_t)c->n_values + 1, sizeof *fx);
    if (!fx) {
        shr_graph_free(c);
        return shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < c->n_nodes; k++) {
        shr_node *n = &c->nodes[k];
        if (n->op != SHR_OP_FAKE_QUANT) continue;
        int x = n->inputs[0], y = n->output;
        shr_qparams *p = &fx[x];
        p->scale = shr_f32(c->values[n->inputs[1]].data)[0];
        p->zero_point = (int)shr_f32(c->values[n->inputs[2]].data)[0];
        p->qmin = (int)n->attrs.alpha;
        p->qmax = (int)n->attrs.eps;
        p->type = p->qmin < 0 ? SHR_I8 : SHR_U8;
        if (!(p->scale > 0.0f)) p->scale = 1e-8f;
        /* readers of the fake-quantized value read its input; the node becomes dead */
        for (int j = 0; j < c->n_nodes; j++)
            for (int i = 0; i < c->nodes[j].n_inputs; i++)
                if (c->nodes[j].inputs[i] == y) c->nodes[j].inputs[i] = x;
        if (c->output == y) c->output = x;
    }
    *F = c;
    *fixed = fx;
    return SHR_OK;
}

/* ---- the driver ---- */

shr_status shr_q_fq_graph(const shr_graph *F, const shr_dataset *calib, const shr_quant_config *qc, shr_graph **G) {
    shr_observer **obs = NULL;
    shr_status st = shr_q_calibrate(F, calib, qc->calib_samples, qc->calib_batch,
                                    qc->calib != SHR_CALIB_MINMAX && qc->calib != SHR_CALIB_EMA, &obs);
    fq_init init = {obs, qc};
    if (st == SHR_OK) st = build_fq_graph(F, &init, G);
    if (obs) shr_q_observers_free(obs, F->n_values);
    return st;
}

shr_status shr_q_fq_convert(const shr_graph *G, const shr_dataset *calib, const shr_quant_config *qc, shr_graph **Q,
                            shr_quant_report *rep) {
    shr_graph *S = NULL;
    shr_qparams *fixed = NULL;
    shr_quant_report *local = rep ? NULL : calloc(1, sizeof *local);
    shr_status st = rep || local ? strip_fq(G, &S, &fixed) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_static(S, calib, qc, fixed, Q, rep ? rep : local);
    free(local);
    free(fixed);
    shr_graph_free(S);
    return st;
}

/* Copies every param and buffer of `from` into the value of the same name in `to` (the float
 * model after a training phase: masters, BatchNorm statistics). */
static void copy_trained(shr_graph *to, const shr_graph *from) {
    for (int v = 0; v < to->n_values; v++) {
        shr_value *t = &to->values[v];
        if (t->kind != SHR_VALUE_PARAM && t->kind != SHR_VALUE_BUFFER) continue;
        int f = shr_graph_find_value(from, t->name);
        if (f >= 0 && from->values[f].data && from->values[f].data->nbytes == t->data->nbytes)
            memcpy(t->data->data, from->values[f].data->data, t->data->nbytes);
    }
}

/* Trains a fake-quantized copy of F; *G_out gets it with the weights on their grid — or, with
 * masters, the f32 masters back (to continue from after a phase with BatchNorm). */
static shr_status train_phase(shr_graph *F, const shr_dataset *train, const shr_dataset *calib,
                              const shr_quant_config *qc, const shr_train_config *tc, int epochs,
                              const shr_graph *teacher, int masters, shr_graph **G_out) {
    shr_graph *G = NULL;
    shr_q_wfq w;
    memset(&w, 0, sizeof w);
    shr_status st = shr_q_fq_graph(F, calib, qc, &G);
    if (st == SHR_OK) st = shr_q_wfq_init(&w, G, qc);
    shr_train_hooks hooks = {&w, NULL, NULL, NULL, shr_q_wfq_after_step};
    shr_train_config cfg = *tc;
    cfg.epochs = epochs;
    cfg.hooks = &hooks;
    shr_distiller *dist = NULL;
    shr_train_hooks dh;
    if (st == SHR_OK && teacher) {
        shr_distill_config dc = shr_distill_default();
        st = shr_distiller_create(teacher, G, &dc, cfg.batch, train, &cfg.augment, &dist);
        if (st == SHR_OK) st = shr_distill_hooks(dist, &hooks, &dh);
        cfg.hooks = &dh;
    }
    shr_train_result tr;
    if (st == SHR_OK && epochs > 0) st = shr_train(G, train, NULL, &cfg, &tr);
    shr_distiller_free(dist);
    for (int i = 0; st == SHR_OK && masters && i < w.n; i++) {
        shr_tensor *t = G->values[w.v[i]].data;
        memcpy(t->data, w.master[i], t->nbytes);
    }
    shr_q_wfq_free(&w);
    if (st != SHR_OK) {
        shr_graph_free(G);
        return st;
    }
    *G_out = G;
    return SHR_OK;
}

shr_status shr_qat_train(const shr_graph *g, const shr_dataset *train, const shr_quant_config *qc,
                         const shr_train_config *tc, const shr_graph *teacher, shr_graph **out,
                         shr_quant_report *report) {
    shr_quant_report local;
    shr_quant_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    SHR_TRY(shr_q_check_config(qc));
    if (qc->bits != 8) return shr_fail(SHR_ERR_INVALID_ARG, "quantization-aware training makes 8-bit activations");
    int freeze = qc->bn_freeze_epoch < tc->epochs ? qc->bn_freeze_epoch : tc->epochs;
    shr_graph *F = NULL, *G = NULL, *S = NULL;
    shr_status st = SHR_OK;
    if (freeze > 0) { /* BatchNorm still training: fake-quantize the unfolded model first */
        st = shr_graph_clone(&S, g);
        if (st == SHR_OK) st = train_phase(S, train, train, qc, tc, freeze, teacher, 1, &G);
        if (st == SHR_OK) copy_trained(S, G); /* the trained masters and BatchNorm statistics */
        shr_graph_free(G);
        G = NULL;
    }
    int folded = 0;
    if (st == SHR_OK) st = shr_q_folded(S ? S : g, &F, &folded);
    shr_graph_free(S);
    S = NULL;
    if (st == SHR_OK) st = train_phase(F, train, train, qc, tc, tc->epochs - freeze, teacher, 0, &G);
    if (st == SHR_OK) st = shr_q_fq_convert(G, train, qc, out, rep);
    if (st == SHR_OK) rep->bn_folded += folded;
    shr_graph_free(G);
    shr_graph_free(F);
    return st;
}
