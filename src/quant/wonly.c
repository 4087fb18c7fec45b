/* Dynamic-range, weight-only and sparse quantization: every Linear layer (not excluded) gets
 * integer weights — int8 per output channel (symmetric), or for weight-only int4 one scale (and
 * optionally a zero point) per group of inputs — and runs as dlinear / wlinear; in sparse mode,
 * and in weight-only mode for a layer at least half zeros, only the non-zeros are kept as codes
 * with gap-coded positions (splinear). The rest of the model (BatchNorm folded) stays f32;
 * convolutions keep f32 weights in these modes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops/ops_quant.h"
#include "quant/quant_internal.h"
#include "quant/sparse_code.h"

typedef struct wctx {
    const shr_graph *F;
    shr_graph *Q;
    int *map; /* F value -> Q value (-1) */
} wctx;

static shr_status map_value(wctx *c, int fv, int *out) {
    if (fv < 0) {
        *out = -1;
        return SHR_OK;
    }
    if (c->map[fv] < 0) { /* params / buffers are copied when first read */
        const shr_value *v = &c->F->values[fv];
        if (v->kind != SHR_VALUE_PARAM && v->kind != SHR_VALUE_BUFFER)
            return shr_fail(SHR_ERR_INTERNAL, "value '%s' read before it is made", v->name);
        SHR_TRY(shr_q_add_tensor(c->Q, v->name, v->kind, v->data->dtype, v->ndim, v->shape, v->data->data,
                                 &c->map[fv]));
    }
    *out = c->map[fv];
    return SHR_OK;
}

/* int4 group codes as an I4 tensor (N, K), 8-bit scale codes, row scales, zero points; H (the
 * layer's input Hessian, consumed) turns on GPTQ. */
static shr_status add_i4(shr_graph *Q, const shr_value *wv, const shr_quant_config *cfg, double *H, int in[6],
                         shr_quant_layer *l) {
    int N = (int)wv->shape[0], K = (int)wv->shape[1], G = cfg->group_size, ng = (K + G - 1) / G;
    int64_t shape[2] = {N, K}, sshape[2] = {N, ng}, ns = N;
    shr_q_int4_out o = {NULL, NULL, NULL, NULL};
    shr_status st = shr_q_add_tensor(Q, wv->name, SHR_VALUE_PARAM, SHR_I4, 2, shape, NULL, &in[1]);
    if (st == SHR_OK) o.codes = Q->values[in[1]].data->data;
    o.scale_code = malloc((size_t)N * ng + 1);
    o.row_scale = malloc((size_t)N * sizeof *o.row_scale + 1);
    o.zero = malloc((size_t)N * ng + 1);
    if (st == SHR_OK && (!o.scale_code || !o.row_scale || !o.zero)) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_int4(shr_f32(wv->data), N, K, G, cfg->int4_asym, H, &o);
    char name[256];
    snprintf(name, sizeof name, "%.200s.scale", wv->name);
    if (st == SHR_OK) st = shr_q_add_tensor(Q, name, SHR_VALUE_BUFFER, SHR_U8, 2, sshape, o.scale_code, &in[2]);
    snprintf(name, sizeof name, "%.200s.row_scale", wv->name);
    if (st == SHR_OK) st = shr_q_add_tensor(Q, name, SHR_VALUE_BUFFER, SHR_F32, 1, &ns, o.row_scale, &in[5]);
    in[3] = -1;
    snprintf(name, sizeof name, "%.200s.zero", wv->name);
    if (st == SHR_OK && cfg->int4_asym) st = shr_q_add_tensor(Q, name, SHR_VALUE_BUFFER, SHR_I8, 2, sshape, o.zero, &in[3]);
    l->w_scale_min = INFINITY;
    for (int n = 0; st == SHR_OK && n < N; n++)
        for (int g = 0; g < ng; g++) {
            float sc = shr_q_scale_decode(o.row_scale[n], o.scale_code[(size_t)n * ng + g]);
            l->w_scale_min = sc < l->w_scale_min ? sc : l->w_scale_min;
            l->w_scale_max = sc > l->w_scale_max ? sc : l->w_scale_max;
        }
    free(o.scale_code);
    free(o.row_scale);
    free(o.zero);
    return st;
}

static shr_status emit_linear(wctx *c, const shr_node *n, const shr_quant_config *cfg, double *H, shr_quant_layer *l,
                              int *out) {
    const shr_value *wv = &c->F->values[n->inputs[1]];
    int64_t N = wv->shape[0], K = wv->shape[1];
    int in[6];
    SHR_TRY(map_value(c, n->inputs[0], &in[0]));
    int bias = -1;
    if (n->n_inputs > 2) SHR_TRY(map_value(c, n->inputs[2], &bias));
    shr_attrs a = shr_attrs_default();
    char name[256];
    int64_t nz = shr_tensor_count_nonzero(wv->data);
    if (cfg->mode == SHR_QUANT_SPARSE || (cfg->mode == SHR_QUANT_WEIGHT_ONLY && 2 * nz <= N * K)) {
        uint8_t *blob = NULL;
        size_t size = 0;
        int vb = cfg->share_bits ? cfg->share_bits : 8;
        SHR_TRY(shr_spq_encode(shr_f32(wv->data), (int)N, (int)K, vb, cfg->share_bits > 0, cfg->huffman, &blob, &size));
        int64_t bs = (int64_t)size;
        shr_spq_info info;
        shr_status st = shr_spq_header(blob, size, &info);
        if (st == SHR_OK) st = shr_q_add_tensor(c->Q, wv->name, SHR_VALUE_PARAM, SHR_U8, 1, &bs, blob, &in[1]);
        free(blob);
        SHR_TRY(st);
        l->bits = vb;
        l->bytes_dense = N * K * 4;
        l->bytes_csr = (int64_t)info.csr_bytes;
        l->bytes_shared = (int64_t)info.fixed_bytes;
        l->bytes_coded = (int64_t)info.bytes;
        in[2] = bias;
        return shr_graph_add_node(c->Q, n->name, SHR_OP_SPLINEAR, &a, 3, in, out);
    }
    if (cfg->mode == SHR_QUANT_WEIGHT_ONLY && cfg->bits == 4) {
        SHR_TRY(add_i4(c->Q, wv, cfg, H, in, l));
        in[4] = bias;
        a.groups = cfg->group_size;
        return shr_graph_add_node(c->Q, n->name, SHR_OP_WLINEAR, &a, 6, in, out);
    }
    int8_t *codes = malloc((size_t)(N * K) + 1);
    float *ws = malloc((size_t)N * sizeof *ws);
    shr_status st = codes && ws ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_weights(shr_f32(wv->data), N, K, 8, cfg->per_channel, 0, NULL, 0.0f, codes, ws);
    int64_t ns = cfg->per_channel ? N : 1;
    if (st == SHR_OK) st = shr_q_add_tensor(c->Q, wv->name, SHR_VALUE_PARAM, SHR_I8, 2, wv->shape, codes, &in[1]);
    snprintf(name, sizeof name, "%.200s.scale", wv->name);
    if (st == SHR_OK) st = shr_q_add_tensor(c->Q, name, SHR_VALUE_BUFFER, SHR_F32, 1, &ns, ws, &in[2]);
    l->w_scale_min = INFINITY;
    for (int64_t i = 0; st == SHR_OK && i < ns; i++) {
        l->w_scale_min = ws[i] < l->w_scale_min ? ws[i] : l->w_scale_min;
        l->w_scale_max = ws[i] > l->w_scale_max ? ws[i] : l->w_scale_max;
    }
    free(codes);
    free(ws);
    SHR_TRY(st);
    if (cfg->mode == SHR_QUANT_DYNAMIC) {
        in[3] = bias;
        a.kernel[0] = cfg->act_bits == 8 ? 8 : 7;
        return shr_graph_add_node(c->Q, n->name, SHR_OP_DLINEAR, &a, 4, in, out);
    }
    in[3] = -1;
    in[4] = bias;
    return shr_graph_add_node(c->Q, n->name, SHR_OP_WLINEAR, &a, 5, in, out);
}

static int excluded(const shr_quant_config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_exclude; i++)
        if (strcmp(cfg->exclude[i], name) == 0) return 1;
    return 0;
}

static int target(const shr_graph *F, const shr_quant_config *cfg, const shr_node *n) {
    return n->op == SHR_OP_LINEAR && n->inputs[1] >= 0 && F->values[n->inputs[1]].kind == SHR_VALUE_PARAM &&
           !excluded(cfg, n->name);
}

static shr_status rewrite(wctx *c, const shr_quant_config *cfg, const unsigned char *live, double **H,
                          shr_quant_report *rep, shr_q_probe *probes) {
    const shr_graph *F = c->F;
    int t = 0;
    for (int k = 0; k < F->n_nodes; k++) {
        if (!live[k]) continue;
        const shr_node *n = &F->nodes[k];
        int out;
        if (target(F, cfg, n) && rep->n_layers < SHR_QUANT_MAX_LAYERS) {
            shr_quant_layer *l = &rep->layers[rep->n_layers];
            memset(l, 0, sizeof *l);
            snprintf(l->name, sizeof l->name, "%s", n->name);
            l->op = n->op;
            l->bits = cfg->bits;
            l->sqnr_db = NAN;
            SHR_TRY(emit_linear(c, n, cfg, H ? H[t] : NULL, l, &out));
            t++;
            probes[rep->n_layers++] = (shr_q_probe){n->output, out, {0.0f, 0, 0, 0, SHR_F32}, 0};
        } else {
            int small[16], *in = n->n_inputs <= 16 ? small : malloc((size_t)n->n_inputs * sizeof *in);
            if (!in) return shr_fail(SHR_ERR_NOMEM, "out of memory");
            shr_status st = SHR_OK;
            for (int i = 0; i < n->n_inputs && st == SHR_OK; i++) st = map_value(c, n->inputs[i], &in[i]);
            if (st == SHR_OK) st = shr_graph_add_node(c->Q, n->name, n->op, &n->attrs, n->n_inputs, in, &out);
            if (in != small) free(in);
            SHR_TRY(st);
        }
        c->map[n->output] = out;
    }
    c->Q->output = c->map[F->output];
    return SHR_OK;
}

shr_status shr_q_weights_only(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg,
                              shr_graph **out, shr_quant_report *rep) {
    if (cfg->mode == SHR_QUANT_DYNAMIC && cfg->bits != 8)
        return shr_fail(SHR_ERR_INVALID_ARG, "dynamic quantization takes --bits 8, not %d", cfg->bits);
    if (cfg->mode == SHR_QUANT_WEIGHT_ONLY && cfg->bits != 8 && cfg->bits != 4)
        return shr_fail(SHR_ERR_INVALID_ARG, "weight-only quantization takes --bits 8 or 4, not %d", cfg->bits);
    if (cfg->bits == 4 && cfg->group_size != 32 && cfg->group_size != 64 && cfg->group_size != 128)
        return shr_fail(SHR_ERR_INVALID_ARG, "--group-size must be 32, 64 or 128");
    wctx c = {NULL, NULL, NULL};
    unsigned char *live = NULL;
    int *uses = NULL, folded = 0;
    shr_q_probe *probes = calloc(SHR_QUANT_MAX_LAYERS, sizeof *probes);
    shr_status st = probes ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_graph *F = NULL;
    if (st == SHR_OK) st = shr_q_folded(g, &F, &folded);
    c.F = F;
    if (st == SHR_OK) st = shr_q_liveness(F, &live, &uses);
    if (st == SHR_OK && !(c.map = malloc((size_t)(F->n_values + 1) * sizeof *c.map)))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) {
        for (int v = 0; v < F->n_values; v++) c.map[v] = -1;
        st = shr_q_graph_like(F, &c.Q, &c.map[F->input]);
        rep->bn_folded = folded;
    }
    int *nodes = NULL, n_t = 0;
    double **H = NULL;
    if (st == SHR_OK && (cfg->gptq || cfg->share_bits)) {
        nodes = malloc((size_t)(F->n_nodes + 1) * sizeof *nodes);
        if (!nodes) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        for (int k = 0; st == SHR_OK && k < F->n_nodes; k++)
            if (live[k] && target(F, cfg, &F->nodes[k]) && n_t < SHR_QUANT_MAX_LAYERS) nodes[n_t++] = k;
    }
    /* GPTQ: every target layer's input Hessian from the float model on the calibration set */
    if (st == SHR_OK && cfg->gptq) {
        if (!(H = calloc((size_t)(F->n_nodes + 1), sizeof *H))) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
        if (st == SHR_OK) st = shr_q_hessians(F, calib, cfg->calib_samples, nodes, n_t, H);
    }
    /* weight sharing, fine-tuned on the calibration (training) set when asked, on a copy: the SQNR
     * is measured against the model as it came */
    shr_graph *shared = NULL;
    if (st == SHR_OK && cfg->share_bits && cfg->mode == SHR_QUANT_SPARSE) {
        st = shr_graph_clone(&shared, F);
        if (st == SHR_OK) st = shr_q_share_finetune(shared, calib, cfg, nodes, n_t);
        c.F = shared;
    }
    if (st == SHR_OK) st = rewrite(&c, cfg, live, H, rep, probes);
    for (int i = 0; H && i < n_t; i++) free(H[i]);
    free(H);
    free(nodes);
    if (st == SHR_OK) st = shr_graph_validate(c.Q);
    if (st == SHR_OK && calib) st = shr_q_measure_sqnr(F, c.Q, calib, 256, probes, rep);
    free(live);
    free(uses);
    free(c.map);
    free(probes);
    shr_graph_free(F);
    shr_graph_free(shared);
    if (st != SHR_OK) {
        shr_graph_free(c.Q);
        return st;
    }
    *out = c.Q;
    return SHR_OK;
}
