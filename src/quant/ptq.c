/* shr_quantize: the driver of post-training quantization (static; dynamic and weight-only in
 * wonly.c). Static: fold BatchNorm, pick each node's width (int8 / int16 / f32 from the config's
 * bits, --exclude, --keep-int16), calibrate activation ranges on sample data, lower to integer
 * ops, measure per-layer SQNR. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"

static const char *const mode_names[] = {"static", "dynamic", "weight-only", "qat", "sparse"};

shr_status shr_quant_mode_parse(const char *name, shr_quant_mode *out) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (shr_quant_mode)i;
            return SHR_OK;
        }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown quantization mode '%s' (static, dynamic, weight-only, qat, sparse)",
                    name);
}

const char *shr_quant_mode_name(shr_quant_mode m) { return (unsigned)m < 5 ? mode_names[m] : "?"; }

shr_quant_config shr_quant_default(void) {
    shr_quant_config c;
    memset(&c, 0, sizeof c);
    c.mode = SHR_QUANT_STATIC;
    c.bits = 8;
    c.per_channel = 1;
    c.act_bits = 7; /* 7-bit codes: qgemm's int16-product path (FBGEMM's reduce_range) */
    c.weight_bits = 8;
    c.calib = SHR_CALIB_MINMAX;
    c.percentile = 99.99;
    c.calib_samples = 1000;
    c.calib_batch = 100;
    c.group_size = 32;
    return c;
}

static int listed(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

static shr_status check_names(const shr_graph *g, const char *const *names, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (shr_graph_find_node(g, names[i]) < 0)
            return shr_fail(SHR_ERR_INVALID_ARG, "%s: the model has no layer named '%s'", what, names[i]);
    return SHR_OK;
}

shr_status shr_q_check_config(const shr_quant_config *cfg) {
    if (cfg->mode == SHR_QUANT_STATIC && cfg->bits != 8 && cfg->bits != 16)
        return shr_fail(SHR_ERR_INVALID_ARG, "static quantization takes --bits 8 or 16, not %d", cfg->bits);
    if (cfg->act_bits != 7 && cfg->act_bits != 8) return shr_fail(SHR_ERR_INVALID_ARG, "activation bits must be 7 or 8");
    if (cfg->weight_bits < 4 || cfg->weight_bits > 8) return shr_fail(SHR_ERR_INVALID_ARG, "weight bits must be 4..8");
    if (cfg->bn_freeze_epoch < 0) return shr_fail(SHR_ERR_INVALID_ARG, "the BatchNorm freeze epoch must be >= 0");
    if (cfg->calib == SHR_CALIB_PERCENTILE && !(cfg->percentile > 50.0 && cfg->percentile <= 100.0))
        return shr_fail(SHR_ERR_INVALID_ARG, "percentile %g must be in (50, 100]", cfg->percentile);
    if ((unsigned)cfg->calib > SHR_CALIB_MSE) return shr_fail(SHR_ERR_INVALID_ARG, "unknown calibration method");
    if (cfg->share_bits < 0 || cfg->share_bits > 8) return shr_fail(SHR_ERR_INVALID_ARG, "--share-bits must be 1..8");
    return SHR_OK;
}

/* A convolution of one input channel per group into fewer output channels than one integer
 * GEMM panel (16), like LeNet-5's first layer, stays f32: its patch rows are a few bytes each and
 * the integer path would spend more time building them than multiplying (f32 builds column runs
 * instead). Measured on lenet5: 1.00 ms at batch 64 with conv1 in f32 vs 2.13 ms in int8; after
 * the VNNI small-K kernels and the implicit f32 convolution still 0.65 vs 0.82 ms (b1 0.0146 vs
 * 0.0175 ms; `shrink bench --batch 1,64 --threads 1 --clock cpu`). */
static int thin_conv(const shr_graph *F, const shr_node *n) {
    if (n->n_inputs < 2 || n->inputs[1] < 0 || F->values[n->inputs[1]].ndim != 4) return 0;
    const int64_t *w = F->values[n->inputs[1]].shape;
    int G = n->attrs.groups ? n->attrs.groups : 1;
    return w[1] == 1 && w[0] < 16 && G == 1;
}

/* Width of every node of F (see shr_q_lowering.prec). */
shr_status shr_q_node_widths(const shr_graph *F, const shr_quant_config *cfg, int **out) {
    int *prec = calloc((size_t)F->n_nodes + 1, sizeof *prec);
    if (!prec) return shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int k = 0; k < F->n_nodes; k++) {
        const shr_node *n = &F->nodes[k];
        if (listed(cfg->exclude, cfg->n_exclude, n->name)) continue;
        if (n->op == SHR_OP_CONV2D && thin_conv(F, n) && !listed(cfg->keep16, cfg->n_keep16, n->name)) continue;
        switch (n->op) {
        case SHR_OP_CONV2D:
        case SHR_OP_LINEAR:
        case SHR_OP_ADD: prec[k] = listed(cfg->keep16, cfg->n_keep16, n->name) ? 16 : cfg->bits; break;
        case SHR_OP_MAXPOOL2D:
        case SHR_OP_AVGPOOL2D:
        case SHR_OP_GLOBAL_AVGPOOL:
        case SHR_OP_FLATTEN:
        case SHR_OP_RELU:
        case SHR_OP_RELU6:
        case SHR_OP_DROPOUT: prec[k] = cfg->bits; break;
        default: break;
        }
    }
    *out = prec;
    return SHR_OK;
}

shr_status shr_q_static(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg,
                        const shr_qparams *fixed, shr_graph **out, shr_quant_report *rep) {
    shr_graph *F = NULL, *Q = NULL;
    shr_observer **obs = NULL;
    int *prec = NULL, folded = 0;
    shr_q_probe *probes = calloc(SHR_QUANT_MAX_LAYERS, sizeof *probes);
    shr_status st = probes ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    if (st == SHR_OK) st = shr_q_folded(g, &F, &folded);
    if (st == SHR_OK) st = shr_q_node_widths(F, cfg, &prec);
    int hist = cfg->calib == SHR_CALIB_PERCENTILE || cfg->calib == SHR_CALIB_ENTROPY || cfg->calib == SHR_CALIB_MSE;
    if (st == SHR_OK) st = shr_q_calibrate(F, calib, cfg->calib_samples, cfg->calib_batch, hist, &obs);
    if (st == SHR_OK) {
        rep->bn_folded = folded;
        shr_q_lowering L = {cfg, prec, obs, fixed};
        st = shr_q_lower(F, &L, &Q, rep, probes);
    }
    if (st == SHR_OK) st = shr_q_measure_sqnr(F, Q, calib, 256, probes, rep);
    if (obs) shr_q_observers_free(obs, F->n_values);
    free(prec);
    free(probes);
    shr_graph_free(F);
    if (st != SHR_OK) {
        shr_graph_free(Q);
        return st;
    }
    *out = Q;
    return SHR_OK;
}

/* Sparse mode: Linear layers keep only their non-zeros as (shared) codes (wonly.c); then, given
 * calibration data, the convolutions (with the pooling and activations around them) are lowered
 * as static int8. A pruned weight is code 0, and the .shrk SPARSE section stores the int8 weights
 * of a pruned conv as a bitmask and its non-zero bytes, so conv zeros cost one bit each. The
 * report lists the conv layers (SQNR against the model with sparse Linear layers, whose convs
 * are the original f32 ones), then the Linear ones. */
static shr_status q_sparse(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg,
                           shr_graph **out, shr_quant_report *rep) {
    shr_graph *S = NULL;
    SHR_TRY(shr_q_weights_only(g, calib, cfg, &S, rep));
    int convs = 0;
    for (int k = 0; k < S->n_nodes; k++)
        convs += S->nodes[k].op == SHR_OP_CONV2D && !listed(cfg->exclude, cfg->n_exclude, S->nodes[k].name);
    if (!convs || !calib) {
        *out = S;
        return SHR_OK;
    }
    shr_quant_config sc = *cfg;
    sc.mode = SHR_QUANT_STATIC;
    sc.bits = 8;
    shr_quant_report *cr = calloc(1, sizeof *cr);
    shr_status st = cr ? shr_q_static(S, calib, &sc, NULL, out, cr) : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_graph_free(S);
    if (st == SHR_OK) {
        for (int i = 0; i < rep->n_layers && cr->n_layers < SHR_QUANT_MAX_LAYERS; i++)
            cr->layers[cr->n_layers++] = rep->layers[i];
        cr->bn_folded = rep->bn_folded;
        *rep = *cr;
    }
    free(cr);
    return st;
}

shr_status shr_quantize(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg, shr_graph **out,
                        shr_quant_report *report) {
    shr_quant_report local;
    shr_quant_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    SHR_TRY(shr_q_check_config(cfg));
    SHR_TRY(check_names(g, cfg->exclude, cfg->n_exclude, "--exclude"));
    SHR_TRY(check_names(g, cfg->keep16, cfg->n_keep16, "--keep-int16"));
    switch (cfg->mode) {
    case SHR_QUANT_STATIC: return shr_q_static(g, calib, cfg, NULL, out, rep);
    case SHR_QUANT_DYNAMIC:
    case SHR_QUANT_WEIGHT_ONLY: return shr_q_weights_only(g, calib, cfg, out, rep);
    case SHR_QUANT_SPARSE: return q_sparse(g, calib, cfg, out, rep);
    default: return shr_fail(SHR_ERR_INVALID_ARG, "quantization-aware training runs through shr_qat_train");
    }
}
