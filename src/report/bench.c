/* Latency harness: warm-up, then timed rounds until the median is stable. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "nn/exec.h"
#include "shrink/report.h"
#include "shrink/rng.h"
#include "shrink/runtime.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

static double median_of(const double *t, int n, double *scratch) {
    for (int i = 0; i < n; i++) scratch[i] = t[i];
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_double);
    return percentile(scratch, n, 0.5);
}

shr_status shr_bench_latency(const shr_graph *g, int batch, double min_seconds, shr_bench_result *out) {
    enum { MAX_RUNS = 200000 };
    shr_plan *plan;
    SHR_TRY(shr_plan_create(g, batch, &plan));
    int64_t in_n = shr_value_sample_numel(&g->values[g->input]) * batch;
    float *x = shr_alloc((size_t)in_n * sizeof(float));
    double *t = malloc(MAX_RUNS * sizeof *t), *scratch = malloc(MAX_RUNS * sizeof *scratch);
    shr_status st = (x && t && scratch) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    shr_rng rng;
    shr_rng_seed(&rng, 7);
    for (int64_t i = 0; st == SHR_OK && i < in_n; i++) x[i] = shr_rng_normal(&rng);
    const float *y;
    double start = now_s();
    /* Warm-up: caches, page faults, lazily allocated op scratch. */
    for (int i = 0; st == SHR_OK && (i < 3 || now_s() - start < 0.1 * min_seconds); i++)
        st = shr_plan_run(plan, x, batch, &y);
    int n = 0;
    double prev_median = -1, t0 = now_s();
    while (st == SHR_OK) {
        double round_start = now_s();
        do {
            double a = now_s();
            st = shr_plan_run(plan, x, batch, &y);
            t[n++] = now_s() - a;
        } while (st == SHR_OK && n < MAX_RUNS && (now_s() - round_start < 0.05 || n < 5));
        if (st != SHR_OK) break;
        double m = median_of(t, n, scratch), el = now_s() - t0;
        int stable = prev_median > 0 && fabs(m - prev_median) <= 0.01 * m;
        if ((stable && el >= min_seconds) || el >= 10 * min_seconds || n >= MAX_RUNS) break;
        prev_median = m;
    }
    if (st == SHR_OK) {
        for (int i = 0; i < n; i++) scratch[i] = t[i] * 1e3;
        qsort(scratch, (size_t)n, sizeof *scratch, cmp_double);
        out->batch = batch;
        out->p50_ms = percentile(scratch, n, 0.50);
        out->p90_ms = percentile(scratch, n, 0.90);
        out->p99_ms = percentile(scratch, n, 0.99);
        out->min_ms = scratch[0];
        out->max_ms = scratch[n - 1];
        out->samples_per_s = out->p50_ms > 0 ? batch / (out->p50_ms * 1e-3) : 0;
        out->runs = n;
        out->arena_bytes = shr_plan_arena_bytes(plan);
    }
    shr_free(x);
    free(t);
    free(scratch);
    shr_plan_free(plan);
    return st;
}
