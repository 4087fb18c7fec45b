/* shrink compare, the measuring half: metrics, accuracy, interleaved latency,
 * and what is derived against the reference (ratios, speedups, Pareto marks). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "shrink/report.h"
#include "shrink/train.h"

shr_status shr_compare_measure(shr_compare_model *m, const shr_dataset *test, int eval_batch) {
    if (!m->graph) return shr_fail(SHR_ERR_INVALID_ARG, "compare: model '%s' has no graph", m->name ? m->name : "?");
    shr_model_metrics_compute(m->graph, &m->metrics);
    m->accuracy = m->loss = NAN;
    m->eval_samples = 0;
    if (!test) return SHR_OK;
    shr_eval_result ev;
    SHR_TRY(shr_evaluate(m->graph, test, eval_batch, &ev));
    m->accuracy = ev.accuracy;
    m->loss = ev.loss;
    m->eval_samples = ev.samples;
    return SHR_OK;
}

shr_status shr_compare_latency(shr_compare *c, double min_seconds) {
    if (c->n < 1 || c->n_batches < 1 || c->n_batches > SHR_COMPARE_MAX_BATCHES)
        return shr_fail(SHR_ERR_INVALID_ARG, "compare: need 1+ models and 1..%d batch sizes", SHR_COMPARE_MAX_BATCHES);
    const shr_graph **graphs = malloc((size_t)c->n * sizeof *graphs);
    shr_bench_result *r = malloc((size_t)c->n * (size_t)c->n_batches * sizeof *r);
    shr_status st = graphs && r ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "compare: out of memory");
    for (int i = 0; st == SHR_OK && i < c->n; i++) graphs[i] = c->models[i].graph;
    if (st == SHR_OK) st = shr_bench_interleaved(graphs, c->n, c->batches, c->n_batches, min_seconds, r);
    for (int b = 0; st == SHR_OK && b < c->n_batches; b++)
        for (int i = 0; i < c->n; i++) c->models[i].lat[b] = r[b * c->n + i];
    free(graphs);
    free(r);
    return st;
}

static double ratio(double a, double b) { return (b > 0 && a >= 0) ? a / b : NAN; }

void shr_compare_finish(shr_compare *c) {
    if (c->n < 1) return;
    if (c->reference < 0 || c->reference >= c->n) c->reference = 0;
    const shr_compare_model *ref = &c->models[c->reference];
    double *cost_size = malloc((size_t)c->n * sizeof(double) * 3), *cost_lat = cost_size + c->n,
           *gain = cost_size + 2 * c->n;
    int *mark = malloc((size_t)c->n * sizeof(int));
    for (int i = 0; i < c->n; i++) {
        shr_compare_model *m = &c->models[i];
        m->size_ratio = m->file_bytes >= 0 ? ratio((double)m->file_bytes, (double)ref->file_bytes) : NAN;
        m->delta_pt = 100 * (m->accuracy - ref->accuracy);
        for (int b = 0; b < c->n_batches; b++) m->speedup[b] = ratio(ref->lat[b].p50_ms, m->lat[b].p50_ms);
        m->pareto_size = m->pareto_latency = 0;
        if (cost_size) {
            cost_size[i] = m->file_bytes >= 0 ? (double)m->file_bytes : NAN;
            cost_lat[i] = c->n_batches > 0 && m->lat[0].p50_ms > 0 ? m->lat[0].p50_ms : NAN;
            gain[i] = m->accuracy;
        }
    }
    /* Out of memory only loses the marks; everything else is filled. */
    if (cost_size && mark) {
        shr_pareto_mark(cost_size, gain, c->n, mark);
        for (int i = 0; i < c->n; i++) c->models[i].pareto_size = mark[i];
        shr_pareto_mark(cost_lat, gain, c->n, mark);
        for (int i = 0; i < c->n; i++) c->models[i].pareto_latency = mark[i];
    }
    free(cost_size);
    free(mark);
}
