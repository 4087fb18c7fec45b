/* Internal: the pieces of quantization shared between src/quant/ files. */
#ifndef SHR_QUANT_INTERNAL_H
#define SHR_QUANT_INTERNAL_H

#include <stdint.h>

#include "shrink/quant.h"

/* 16-bit fixed point: activation codes use 12 bits plus sign (|q| <= 2047), so that 16-bit
 * weights (capped per channel, qparams.c) keep the int32 accumulator of a long dot product
 * from overflowing: x_max * sum |w| < 2^31. */
#define SHR_Q16_ACT_BITS 12

/* ---- qparams.c ---- */
/* W (N x K f32) -> codes (N x K, int8 for bits <= 8, else int16) with symmetric scales (N per
 * channel, else 1). 16-bit codes are capped per channel so that xmax * sum|codes| + |bias codes|
 * fits int32 (bias real values and x_scale: for that bound; bias may be NULL). */
shr_status shr_q_weights(const float *W, int64_t N, int64_t K, int bits, int per_channel, int xmax, const float *bias,
                         float x_scale, void *codes, float *scale);
/* Bias codes round(b / (x_scale * w_scale)), b may be NULL (zeros). */
shr_status shr_q_bias(const float *b, int64_t N, float x_scale, const float *w_scale, int per_channel, int32_t *out);

/* ---- int4q.c ---- */
typedef struct shr_q_int4_out {
    uint8_t *codes;      /* N x K int4 values, packed as an SHR_I4 tensor */
    uint8_t *scale_code; /* N x ngroups: scale = shr_q_scale_decode(row_scale[n], code) */
    float *row_scale;    /* N */
    int8_t *zero;        /* N x ngroups zero points in -8..7 (asym), else unused */
} shr_q_int4_out;
/* Group-wise int4 of W (N x K) with coded scales; H (K x K, the layer inputs' X^T X, destroyed)
 * switches on GPTQ rounding, NULL plain rounding to nearest. */
shr_status shr_q_int4(const float *W, int N, int K, int G, int asym, double *H, shr_q_int4_out *o);
/* For GPTQ: H[i] = sum of x x^T (K x K, malloc'ed) over the first `samples` samples of d, x the
 * input of Linear node nodes[i] of F. */
shr_status shr_q_hessians(const shr_graph *F, const shr_dataset *d, int samples, const int *nodes, int n,
                          double **H);

/* ---- calibrate.c ---- */
/* One observer per value of F (inputs and activations; NULL for others) after running the
 * first `samples` samples of d through F in eval mode: the range pass, then, when hist, the
 * histogram pass. */
shr_status shr_q_calibrate(const shr_graph *F, const shr_dataset *d, int samples, int batch, int hist,
                           shr_observer ***out);
void shr_q_observers_free(shr_observer **obs, int n);
/* n preprocessed samples from `start` (with their labels into y, may be NULL). */
void shr_q_fill(const shr_dataset *d, const shr_preproc *pp, int64_t start, int n, float *x, int32_t *y);

/* ---- graph helpers (qgraph.c) ---- */
/* A PARAM / BUFFER of any dtype holding a copy of data (numel elements). */
shr_status shr_q_add_tensor(shr_graph *g, const char *name, shr_value_kind kind, shr_dtype dt, int ndim,
                            const int64_t *shape, const void *data, int *out);
/* One-element scale (f32) and zero point (type) buffers. */
shr_status shr_q_add_scalar_f32(shr_graph *g, const char *name, float v, int *out);
shr_status shr_q_add_zero_point(shr_graph *g, const char *name, shr_dtype t, int zp, int *out);
/* Nodes of F that the output needs (1) and how many needed nodes read each value. */
shr_status shr_q_liveness(const shr_graph *F, unsigned char **live_nodes, int **uses);
/* An empty graph with F's input (same name and shape), preprocessing, arch and lineage. */
shr_status shr_q_graph_like(const shr_graph *F, shr_graph **out, int *input);
/* The clone of g with BatchNorms folded into the preceding conv / linear. */
shr_status shr_q_folded(const shr_graph *g, shr_graph **out, int *n_folded);

/* ---- lower.c: float graph -> integer graph ---- */

/* What each node of F becomes. */
typedef struct shr_q_lowering {
    const shr_quant_config *cfg;
    const int *prec;            /* per node of F: 0 stays f32, 8 or 16 (conv, linear, add; pass-through
                                   ops follow their input, 0 keeps them f32) */
    shr_observer *const *obs;   /* per value of F: ranges of activations */
    const shr_qparams *fixed;   /* per value of F or NULL: parameters learned in QAT (scale > 0) */
} shr_q_lowering;

/* Where a reported layer's output lives in both graphs (for SQNR). */
typedef struct shr_q_probe {
    int f_value;    /* in F */
    int q_value;    /* in Q: codes or f32 */
    shr_qparams qp; /* codes' parameters (scale 0: f32) */
    int nhwc;       /* rank-4 codes are channels-last */
} shr_q_probe;

shr_status shr_q_lower(const shr_graph *F, const shr_q_lowering *L, shr_graph **Q, shr_quant_report *rep,
                       shr_q_probe *probes);

/* ---- ptq.c, wonly.c ---- */
shr_status shr_q_check_config(const shr_quant_config *cfg);
/* Width of every node of F from cfg (bits, --exclude, --keep-int16): shr_q_lowering.prec. */
shr_status shr_q_node_widths(const shr_graph *F, const shr_quant_config *cfg, int **out);
/* Static quantization of g; fixed (per value of g's BN-folded clone, or NULL): QAT parameters. */
shr_status shr_q_static(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg,
                        const shr_qparams *fixed, shr_graph **out, shr_quant_report *rep);
/* Dynamic and weight-only modes: Linear layers rewritten, everything else as it was. */
shr_status shr_q_weights_only(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg,
                              shr_graph **out, shr_quant_report *rep);

/* ---- qat.c ---- */
/* F with fake_quant nodes after the values the integer model holds as codes, their ranges
 * calibrated on calib (frozen; LSQ: the scale a param). */
shr_status shr_q_fq_graph(const shr_graph *F, const shr_dataset *calib, const shr_quant_config *qc, shr_graph **G);
/* The integer model of a fake-quantized graph: the fake_quant parameters become the codes'. */
shr_status shr_q_fq_convert(const shr_graph *G, const shr_dataset *calib, const shr_quant_config *qc, shr_graph **Q,
                            shr_quant_report *rep);
/* Weight fake-quant: the conv / linear weights of g that the integer model quantizes become
 * per-channel fake-quantized (cfg->weight_bits) copies of f32 masters; after each optimizer step
 * (a training hook) the masters take the step and the weights are quantized again. */
typedef struct shr_q_wfq {
    shr_graph *g;
    int n, bits;
    int *v;         /* weight values */
    float **master; /* f32 masters */
} shr_q_wfq;
shr_status shr_q_wfq_init(shr_q_wfq *w, shr_graph *g, const shr_quant_config *cfg);
shr_status shr_q_wfq_after_step(void *user, shr_graph *g, int64_t step);
void shr_q_wfq_free(shr_q_wfq *w);

/* ---- share.c ---- */
/* Weight sharing of the Linear nodes nodes[0..n) of F (in place): 2^share_bits - 1 values per
 * layer, then cfg->epochs of fine-tuning on train with zeros and clusters held. */
shr_status shr_q_share_finetune(shr_graph *F, const shr_dataset *train, const shr_quant_config *cfg,
                                const int *nodes, int n);

/* ---- sqnr.c ---- */
/* Runs F and Q on up to `samples` samples of d and fills rep->layers[i].sqnr_db from probes[i];
 * records them in Q as "<layer>.sqnr_db" buffers. */
shr_status shr_q_measure_sqnr(const shr_graph *F, shr_graph *Q, const shr_dataset *d, int samples,
                              const shr_q_probe *probes, shr_quant_report *rep);

#endif
