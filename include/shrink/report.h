/* Measuring and comparing models: the latency harness, size/compute metrics,
 * lineage (how a model was made), and the side-by-side comparison behind
 * `shrink compare` with its table, JSON/CSV/Markdown, SVG plots and HTML. */
#ifndef SHRINK_REPORT_H
#define SHRINK_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "shrink/data.h"
#include "shrink/graph.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Latency ---- */

typedef struct shr_bench_result {
    int batch;
    double p50_ms, p90_ms, p99_ms; /* per-run latency of one batch */
    double min_ms, max_ms;
    double samples_per_s;          /* batch / p50 */
    int runs;                      /* timed runs */
    int rounds;                    /* rounds of runs */
    double noise_pct;              /* (max - min) of the round medians, % of p50; NaN if < 2 rounds */
    size_t arena_bytes;            /* activation arena of the plan */
} shr_bench_result;

/* The clock that times each run: wall time (default) or, with one thread only,
 * the calling thread's CPU time -- what the run needed, leaving out the time
 * other jobs held the core on a shared machine. Process-wide, like the thread
 * count. Round lengths and time budgets stay in wall time. */
typedef enum shr_bench_clock { SHR_CLOCK_WALL = 0, SHR_CLOCK_THREAD_CPU } shr_bench_clock;
void shr_bench_set_clock(shr_bench_clock clock);
shr_bench_clock shr_bench_get_clock(void);

/* Times eval-mode inference of `batch` samples: warm-up, then rounds of runs
 * until the running median moves by < 1% between rounds or its 95% confidence
 * interval is within +-2%, with at least min_seconds of timed runs and 10 runs
 * (at most 10 x min_seconds, once it has 3 rounds and 10 runs). Input is random N(0,1). */
shr_status shr_bench_latency(const shr_graph *g, int batch, double min_seconds, shr_bench_result *out);

/* The same for several models and batch sizes at once, interleaved: each round
 * runs every model at one batch size, then every model at the next (A B C A B C),
 * so machine drift hits all alike. A (model, batch) pair leaves the rotation
 * once settled as above; all stop after 2 x min_seconds x count once each has
 * 3 rounds and 10 runs. Rounds last min(50 ms, min_seconds / 2), at least 2 runs.
 * out[b * n_graphs + m] is model m at batches[b]. */
shr_status shr_bench_interleaved(const shr_graph *const *graphs, int n_graphs, const int *batches, int n_batches,
                                 double min_seconds, shr_bench_result *out);

/* ---- Size and compute ---- */

/* Whole-model figures, all read from the tensors as stored, so pruned (zeros)
 * and quantized (i8/i16/i4 storage) models are measured as they are. */
typedef struct shr_model_metrics {
    int64_t params;          /* PARAM elements */
    int64_t nonzero_params;  /* non-zero PARAM elements */
    int64_t flops;           /* dense, per sample (multiply-add = 2) */
    int64_t effective_flops; /* linear/conv2d flops scaled by their weight's density: what sparse kernels do */
    int64_t weight_bytes;    /* storage of all PARAM and BUFFER tensors in their dtypes */
} shr_model_metrics;

void shr_model_metrics_compute(const shr_graph *g, shr_model_metrics *out);

typedef struct shr_layer_metrics {
    int64_t params, nonzero;      /* over the node's PARAM inputs */
    int64_t weight_bytes;         /* PARAM and BUFFER inputs as stored */
    int has_weight;               /* the node has a PARAM input */
    shr_dtype dtype;              /* of the first PARAM input (the weight) */
    int64_t flops, effective_flops;
} shr_layer_metrics;

void shr_layer_metrics_compute(const shr_graph *g, int node, shr_layer_metrics *out);

/* Density map of a weight tensor (dims [out, in, ...]): a rows x cols grid with
 * rows = min(out, max_rows), cols = min(in, max_cols) (1 for 1-D tensors); each
 * cell is the fraction of non-zero elements in its block of output x input
 * channels. grid holds max_rows x max_cols floats. */
shr_status shr_weight_density_grid(const shr_tensor *w, int max_rows, int max_cols, float *grid, int *rows, int *cols);

/* optimal[i] = 1 when no other point has gain >= and cost <= with one strictly
 * better (maximize gain, minimize cost). Points with a NaN are never optimal and
 * dominate nothing; equal points are all optimal. */
void shr_pareto_mark(const double *cost, const double *gain, int n, int *optimal);

/* ---- Lineage ----
 * g->lineage holds one step per line: "VERB key=value ...", e.g.
 *   train arch=cnn data=fashion-mnist epochs=10 ...
 *   prune method=channel amount=0.5 source=sha256:3fa2c1d4e5f60718
 * where source names the model the step started from by the first 16 hex
 * digits of its SHA-256 (that of the .shrk file, as `sha256sum` prints it). */

/* SHA-256 of g's .shrk serialization: equal to that of the file shr_model_save writes. */
shr_status shr_model_sha256(const shr_graph *g, char hex[65]);
shr_status shr_file_sha256(const char *path, char hex[65]);
/* Appends "STEP source=sha256:<16 hex>" (just STEP when source_sha256 is NULL).
 * STEP must be one non-empty line. */
shr_status shr_lineage_add_step(shr_graph *g, const char *step, const char *source_sha256);
/* The chain in short, e.g. "cnn → prune channel 0.5 → quantize int8 static
 * entropy": a train step shows its arch, other steps their verb and the values
 * of their first three options (source, seed and data left out). "unknown"
 * when there is no lineage. Caller frees. */
shr_status shr_lineage_summary(const char *lineage, char **out);

/* ---- Comparison ---- */

#define SHR_COMPARE_MAX_BATCHES 8

typedef struct shr_compare_model {
    /* Set by the caller; borrowed, they must outlive the report calls. */
    const char *name;         /* label, e.g. the file name */
    const char *path;
    const shr_graph *graph;
    int64_t file_bytes;       /* -1: unknown */
    int64_t peak_rss_bytes;   /* -1: not measured */
    /* Measured (shr_compare_measure, shr_compare_latency). */
    shr_model_metrics metrics;
    double accuracy, loss;    /* accuracy in 0..1 */
    int64_t eval_samples;
    shr_bench_result lat[SHR_COMPARE_MAX_BATCHES]; /* per shr_compare.batches */
    /* Outputs against the reference's on the same test samples (shr_compare_outputs;
     * NaN / 0 when not measured, e.g. for the reference itself). */
    double output_sqnr_db;    /* 10 log10(sum ref^2 / sum (ref - this)^2) over the logits */
    double top1_agreement;    /* fraction of samples whose top class matches the reference's */
    int64_t output_samples;
    /* Derived (shr_compare_finish). */
    double size_ratio;        /* file_bytes / the reference's */
    double delta_pt;          /* accuracy - the reference's, in percentage points */
    double speedup[SHR_COMPARE_MAX_BATCHES]; /* reference p50 / this p50 */
    int pareto_size;          /* Pareto-optimal for accuracy vs file size */
    int pareto_latency;       /* ... for accuracy vs p50 latency at batches[0] */
} shr_compare_model;

typedef struct shr_compare {
    shr_compare_model *models;
    int n;
    int reference;            /* index of the reference model */
    int n_batches;
    int batches[SHR_COMPARE_MAX_BATCHES];
    /* Context printed with the reports (may be NULL / 0). */
    const char *data;         /* the dataset spec */
    const char *command;      /* the command line that made the report */
    int threads;
    shr_bench_clock clock;    /* how the runs were timed (shown in the legend) */
    const char *kernels;
    int64_t base_rss_bytes;   /* RSS of the empty measuring process (see peak_rss_bytes) */
} shr_compare;

/* Size/compute metrics and accuracy on `test` (eval batch eval_batch). */
shr_status shr_compare_measure(shr_compare_model *m, const shr_dataset *test, int eval_batch);
/* Interleaved latency of all models at all batch sizes (see shr_bench_interleaved). */
shr_status shr_compare_latency(shr_compare *c, double min_seconds);
/* Each model's logits against the reference's on the first `samples` samples of
 * test (each model with its own preprocessing): output_sqnr_db, top1_agreement.
 * Models whose output size differs from the reference's are left unmeasured. */
shr_status shr_compare_outputs(shr_compare *c, const shr_dataset *test, int samples);
/* Ratios, deltas and speedups against the reference; Pareto marks. */
void shr_compare_finish(shr_compare *c);

typedef enum shr_table_format { SHR_TABLE_TEXT = 0, SHR_TABLE_MARKDOWN, SHR_TABLE_CSV } shr_table_format;

/* The comparison as an aligned text table (Pareto rows marked, with a legend),
 * a Markdown table, or CSV (one header row, one row per model). Caller frees. */
shr_status shr_compare_table(const shr_compare *c, shr_table_format fmt, char **out);
/* A JSON array, one object per model (name, lineage, file_bytes, params,
 * nonzero_params, flops, accuracy, latency_ms_b<B>, peak_rss_bytes, ...). */
shr_status shr_compare_json(const shr_compare *c, char **out);
/* Two panels: accuracy vs file size and accuracy vs latency at batches[0], the
 * Pareto fronts drawn, points labelled. */
shr_status shr_compare_svg(const shr_compare *c, char **out);
/* One self-contained HTML page (inline CSS and SVG, no scripts or network):
 * the table, the plots, each model's lineage and layer breakdown with
 * sparsity bars and density maps. */
shr_status shr_compare_html(const shr_compare *c, char **out);

#ifdef __cplusplus
}
#endif
#endif
