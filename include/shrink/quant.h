/* Quantization: integer models that are smaller and run on integer kernels (docs/quant.md).
 *
 * Modes:
 *   static       weights and activations as integer codes (int8, or int16 fixed point); BatchNorm
 *                folded, conv/linear + ReLU fused, activation ranges calibrated on sample data;
 *                the runtime executes conv / linear / pool / add / relu / flatten in integers
 *                between one quantize at the input and one dequantize at the output.
 *   dynamic      Linear weights int8; activations quantized per batch at run time.
 *   weight-only  Linear weights int8 per channel or int4 per group; activations stay f32.
 *   qat          fake-quant training from the float model (shr_qat_train), then converted like static.
 *   sparse       (pruned models; Deep Compression) Linear weights keep only their non-zeros, as int8
 *                or k-means shared codes with gap-coded positions, optionally Huffman-coded;
 *                weight-only does the same automatically for Linear layers that are mostly zeros.
 * A quantized model is an ordinary graph (new ops and integer params, graph.h) that saves, loads,
 * evaluates and benchmarks like any other. */
#ifndef SHRINK_QUANT_H
#define SHRINK_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include "shrink/data.h"
#include "shrink/graph.h"
#include "shrink/status.h"
#include "shrink/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- calibration: choosing a clipping range from observed values ---- */

typedef enum shr_calib_method {
    SHR_CALIB_MINMAX = 0, /* the full observed range */
    SHR_CALIB_EMA,        /* moving average of per-batch min / max (factor 0.01) */
    SHR_CALIB_PERCENTILE, /* the given percentile of the values (two-sided) */
    SHR_CALIB_ENTROPY,    /* the threshold minimizing KL(observed || quantized) histograms (TensorRT) */
    SHR_CALIB_MSE         /* the range minimizing the expected quantization MSE */
} shr_calib_method;

shr_status shr_calib_parse(const char *name, shr_calib_method *out);
const char *shr_calib_name(shr_calib_method m);

/* Statistics of one tensor over calibration batches, in two passes: the range pass (min, max,
 * moving-average min / max), then, for methods that need one, a histogram over that range. */
typedef struct shr_observer shr_observer;
shr_status shr_observer_create(shr_observer **out);
void shr_observer_free(shr_observer *o); /* NULL is a no-op */
/* Pass 1, once per batch. Non-finite values are ignored. */
void shr_observer_range(shr_observer *o, const float *x, size_t n);
/* Pass 2, once per batch (after all range batches). */
void shr_observer_hist(shr_observer *o, const float *x, size_t n);
/* The clipping range [*lo, *hi] (lo <= 0 <= hi) for `levels` quantization steps (255 for 8-bit
 * codes): two-sided when symmetric, else for asymmetric codes. percentile in (50, 100]. Methods
 * that need a histogram fall back to min / max when pass 2 saw nothing. */
void shr_observer_choose(const shr_observer *o, shr_calib_method m, double percentile, int levels, int symmetric,
                         float *lo, float *hi);
/* Both passes over one array and the choice (tests, weight ranges). */
shr_status shr_calib_array(const float *x, size_t n, shr_calib_method m, double percentile, int levels,
                           int symmetric, float *lo, float *hi);

/* ---- quantization parameters ---- */

/* Codes for a real range [lo, hi] (0 is included first): u8 asymmetric (scale = (hi - lo) /
 * (qmax - qmin), zero point = round(qmin - lo / scale)) or signed symmetric (zero point 0,
 * scale = max(|lo|, hi) / qmax), with qmax = 2^(bits-1) - 1 signed or 2^bits - 1 unsigned. */
typedef struct shr_qparams {
    float scale;
    int zero_point;
    int qmin, qmax; /* the codes used */
    shr_dtype type; /* SHR_U8, SHR_I8 or SHR_I16 */
} shr_qparams;
shr_qparams shr_qparams_from_range(float lo, float hi, int bits, int symmetric);
/* Mean squared error of quantizing x with p (real units). */
double shr_qparams_mse(const shr_qparams *p, const float *x, size_t n);
/* Signal-to-quantization-noise ratio 10 log10(sum ref^2 / sum (ref - x)^2) in dB (inf if exact). */
double shr_sqnr_db(const float *ref, const float *x, size_t n);

/* ---- whole-model quantization ---- */

typedef enum shr_quant_mode {
    SHR_QUANT_STATIC = 0,
    SHR_QUANT_DYNAMIC,
    SHR_QUANT_WEIGHT_ONLY,
    SHR_QUANT_QAT,
    SHR_QUANT_SPARSE /* Linear layers: only the non-zeros, as codes (int8 or shared), gap-coded positions */
} shr_quant_mode;
shr_status shr_quant_mode_parse(const char *name, shr_quant_mode *out);
const char *shr_quant_mode_name(shr_quant_mode m);

#define SHR_QUANT_MAX_LAYERS 256

typedef struct shr_quant_config {
    shr_quant_mode mode;
    int bits;            /* static: 8 or 16; weight-only: 8 or 4; dynamic: 8 */
    int per_channel;     /* weights: one scale per output channel (1, default) or per tensor (0) */
    int symmetric;       /* 8-bit activations: signed symmetric codes (1) or u8 asymmetric (0, default) */
    int act_bits;        /* 8-bit mode: 7 (default: codes 0..127 use qgemm's faster int16-product path) or 8 */
    int fixed_requant;   /* static / qat int8 layers: requantize with gemmlowp's integer-only fixed point (1), or a
                            float32 multiplier as ONNX Runtime does (0, default; docs/quant.md) */
    int weight_bits;     /* 8-bit mode: 8 (default) or 4 (codes -7..7 in int8 storage: qgemm's int16-accumulation path) */
    shr_calib_method calib;
    double percentile;   /* SHR_CALIB_PERCENTILE, e.g. 99.99 */
    int calib_samples;   /* samples of the calibration set used (default 1000) */
    int calib_batch;     /* default 100 */
    int group_size;      /* weight-only int4: 32, 64 or 128 (default 32) */
    int int4_asym;       /* weight-only int4: zero points per group */
    int gptq;            /* weight-only int4: error-compensating rounding (needs calibration data) */
    int share_bits;      /* sparse: 0 = int8 codes, else k-means weight sharing to 2^b - 1 values (1..8) */
    int huffman;         /* sparse: entropy-code the stored codes and gaps */
    int epochs;          /* sparse with sharing: epochs of fine-tuning the shared values (default 0) */
    float lr;            /* ... their Adam learning rate (0: 1e-4) */
    uint64_t seed;       /* ... their batch order */
    int lsq;             /* qat: learned activation scales (LSQ) instead of moving-average ranges */
    int bn_freeze_epoch; /* qat: epochs BatchNorm keeps training before it is folded and frozen (default 0) */
    /* Mixed precision: node names kept f32, or at int16, in a static int8 model. */
    const char *const *exclude;
    int n_exclude;
    const char *const *keep16;
    int n_keep16;
} shr_quant_config;

shr_quant_config shr_quant_default(void);

/* One quantized layer in the report. */
typedef struct shr_quant_layer {
    char name[128];
    shr_op op;           /* the float op (conv2d, linear, add, ...) */
    int bits;            /* weights / codes: 4, 8, 16; 32 = kept f32 */
    float x_scale, y_scale; /* 0 when not applicable (f32 in / out) */
    int x_zero_point, y_zero_point;
    float w_scale_min, w_scale_max;
    double sqnr_db;      /* output vs the float model's on calibration samples (NaN: not measured) */
    /* sparse: bytes of the weight at each stage (dense f32, non-zeros as f32 CSR, codes and gaps
     * at fixed width with the codebook, entropy-coded as stored); 0 otherwise */
    int64_t bytes_dense, bytes_csr, bytes_shared, bytes_coded;
} shr_quant_layer;

typedef struct shr_quant_report {
    int n_layers;
    shr_quant_layer layers[SHR_QUANT_MAX_LAYERS];
    int bn_folded;       /* BatchNorms folded before quantizing */
    int relu_fused;      /* activations fused into the preceding layer */
    int quantize_ops, dequantize_ops; /* edges between integer and f32 regions */
} shr_quant_report;

/* Quantizes g into a new graph *out (g is not modified). calib: samples for static ranges,
 * GPTQ and SQNR (preprocessed by g->preproc); may be NULL for dynamic and plain weight-only.
 * report may be NULL. The output records the per-layer SQNR (shr_quant_layer_sqnr). */
shr_status shr_quantize(const shr_graph *g, const shr_dataset *calib, const shr_quant_config *cfg, shr_graph **out,
                        shr_quant_report *report);

/* Accuracy-aware mixed precision (static int8): each layer's sensitivity alone in int8 (accuracy
 * drop on val in points, logits SQNR), then the most sensitive layers move to int16, then f32,
 * until the drop on val is at most max_drop_pt points. The model is built from the chosen
 * widths (as --keep-int16 / --exclude would) into *out with its report. */
typedef struct shr_quant_sens {
    char name[128];
    double drop_pt;  /* accuracy drop with only this layer in int8 */
    double sqnr_db;  /* logits SQNR with only this layer in int8 */
    int bits;        /* chosen: 8, 16, or 32 (f32) */
} shr_quant_sens;
typedef struct shr_quant_auto_result {
    double accuracy_float, accuracy; /* on val */
    int met;                         /* the budget holds */
    int n_layers;                    /* most sensitive first */
    shr_quant_sens layers[SHR_QUANT_MAX_LAYERS];
} shr_quant_auto_result;
shr_status shr_quant_auto(const shr_graph *g, const shr_dataset *calib, const shr_dataset *val,
                          const shr_quant_config *cfg, double max_drop_pt, shr_graph **out, shr_quant_report *rep,
                          shr_quant_auto_result *res);

/* Quantization-aware training: fine-tunes a fake-quantized copy of g with tc (epochs, optimizer,
 * ...) on train — optionally distilled from teacher (may be NULL) — and converts it to the same
 * kind of integer model as static quantization (cfg->mode is ignored; bits must be 8; weight_bits
 * 8 or 4). train also serves for calibration. */
shr_status shr_qat_train(const shr_graph *g, const shr_dataset *train, const shr_quant_config *cfg,
                         const shr_train_config *tc, const shr_graph *teacher, shr_graph **out,
                         shr_quant_report *report);

/* The SQNR a quantize step recorded for node `name` (NaN if none). */
double shr_quant_layer_sqnr(const shr_graph *g, const char *name);
/* For a sparse quantized layer (splinear): the bytes of its weight at each stage, as in
 * shr_quant_layer; 0 for any other node. */
int shr_quant_layer_bytes(const shr_graph *g, int node, int64_t *dense, int64_t *csr, int64_t *quantized,
                          int64_t *stored);

#ifdef __cplusplus
}
#endif
#endif
