/* Measuring models: the latency benchmark harness (later: comparison tables,
 * JSON/CSV, plots, HTML). */
#ifndef SHRINK_REPORT_H
#define SHRINK_REPORT_H

#include "shrink/graph.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shr_bench_result {
    int batch;
    double p50_ms, p90_ms, p99_ms; /* per-run latency of one batch */
    double min_ms, max_ms;
    double samples_per_s;          /* batch / p50 */
    int runs;                      /* timed runs */
    size_t arena_bytes;            /* activation arena of the plan */
} shr_bench_result;

/* Times eval-mode inference of `batch` samples: warm-up, then rounds of runs
 * until the running median moves by < 1% between rounds and at least
 * min_seconds passed (at most 10 x min_seconds). Input is random N(0,1). */
shr_status shr_bench_latency(const shr_graph *g, int batch, double min_seconds, shr_bench_result *out);

#ifdef __cplusplus
}
#endif
#endif
