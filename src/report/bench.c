/* Latency harness: warm-up, then timed rounds until the median is stable.
 * The timer is stepped a round at a time so compare can interleave models. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "nn/exec.h"
#include "report/bench_internal.h"
#include "shrink/rng.h"
#include "shrink/threads.h"

/* A round has at least 2 runs, so that a slow pair (a 100 ms batch) still
 * gets short rounds; a pair needs 10 runs before its median is trusted. */
enum { MAX_RUNS = 200000, ROUND_MIN_RUNS = 2, DONE_MIN_RUNS = 10 };
#define CI_HALF_WIDTH 0.02 /* of the median: "precise enough" */

static shr_bench_clock run_clock = SHR_CLOCK_WALL;

void shr_bench_set_clock(shr_bench_clock clock) { run_clock = clock; }
shr_bench_clock shr_bench_get_clock(void) { return run_clock; }

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double shr_bench_now(void) { return clock_s(CLOCK_MONOTONIC); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/* Median of t[0..n) without reordering t; NAN if n == 0 or out of memory. */
static double median_of(const double *t, int n) {
    double *s = n > 0 ? malloc((size_t)n * sizeof *s) : NULL;
    if (!s) return NAN;
    memcpy(s, t, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = percentile(s, n, 0.5);
    free(s);
    return m;
}

/* Median of t[0..n) and the half-width of its distribution-free 95%
 * confidence interval: the order statistics n/2 -+ 0.98 sqrt(n) bound it. */
static int median_ci(const double *t, int n, double *median, double *half_width) {
    double *s = n > 0 ? malloc((size_t)n * sizeof *s) : NULL;
    if (!s) return 0;
    memcpy(s, t, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    *median = percentile(s, n, 0.5);
    double r = 0.98 * sqrt((double)n);
    int lo = (int)floor(0.5 * n - r), hi = (int)ceil(0.5 * n + r);
    *half_width = lo < 0 || hi > n - 1 ? INFINITY : 0.5 * (s[hi] - s[lo]);
    free(s);
    return 1;
}

static int grow(double **p, int *cap, int need) {
    if (need <= *cap) return 1;
    int c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    double *q = realloc(*p, (size_t)c * sizeof *q);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

shr_status shr_bench_timer_begin(shr_bench_timer *b, const shr_graph *g, int batch, double warm_s) {
    memset(b, 0, sizeof *b);
    if (batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "bench: batch must be >= 1 (got %d)", batch);
    /* Other threads' work would not show on the calling thread's clock. */
    if (run_clock == SHR_CLOCK_THREAD_CPU && shr_get_threads() != 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "bench: the thread CPU clock needs 1 thread (%d are set)",
                        shr_get_threads());
    b->batch = batch;
    b->prev_median = -1;
    SHR_TRY(shr_plan_create(g, batch, &b->plan));
    int64_t in_n = shr_value_sample_numel(&g->values[g->input]) * batch;
    b->x = shr_alloc((size_t)in_n * sizeof(float));
    if (!b->x) {
        shr_bench_timer_end(b);
        return shr_fail(SHR_ERR_NOMEM, "bench: out of memory for a batch of %d inputs", batch);
    }
    shr_rng rng;
    shr_rng_seed(&rng, 7);
    for (int64_t i = 0; i < in_n; i++) b->x[i] = shr_rng_normal(&rng);
    /* Warm-up: caches, page faults, lazily allocated op scratch. */
    const float *y;
    double start = shr_bench_now();
    for (int i = 0; i < 3 || shr_bench_now() - start < warm_s; i++) {
        shr_status st = shr_plan_run(b->plan, b->x, batch, &y);
        if (st != SHR_OK) {
            shr_bench_timer_end(b);
            return st;
        }
    }
    return SHR_OK;
}

shr_status shr_bench_timer_round(shr_bench_timer *b, double round_s) {
    const float *y;
    int first = b->n;
    double round_start = shr_bench_now();
    do {
        if (b->n >= MAX_RUNS) break;
        if (!grow(&b->t, &b->cap, b->n + 1)) return shr_fail(SHR_ERR_NOMEM, "bench: out of memory");
        double a = shr_bench_now(), ca = run_clock == SHR_CLOCK_THREAD_CPU ? clock_s(CLOCK_THREAD_CPUTIME_ID) : a;
        SHR_TRY(shr_plan_run(b->plan, b->x, b->batch, &y));
        double dt = shr_bench_now() - a;
        b->t[b->n++] = run_clock == SHR_CLOCK_THREAD_CPU ? clock_s(CLOCK_THREAD_CPUTIME_ID) - ca : dt;
        b->timed_s += dt; /* the budget is wall time */
    } while (shr_bench_now() - round_start < round_s || b->n - first < ROUND_MIN_RUNS);
    if (b->n == first) return SHR_OK; /* run cap reached: nothing new */
    if (!grow(&b->medians, &b->cap_rounds, b->n_rounds + 1)) return shr_fail(SHR_ERR_NOMEM, "bench: out of memory");
    b->medians[b->n_rounds++] = median_of(b->t + first, b->n - first);
    double m, ci;
    if (!median_ci(b->t, b->n, &m, &ci)) return shr_fail(SHR_ERR_NOMEM, "bench: out of memory");
    /* Settled: the median stopped moving (quiet machine), or it is pinned
     * down to +-2% even though single runs scatter (busy machine). */
    b->stable = (b->prev_median > 0 && fabs(m - b->prev_median) <= 0.01 * m) || ci <= CI_HALF_WIDTH * m;
    b->prev_median = m;
    return SHR_OK;
}

int shr_bench_timer_done(const shr_bench_timer *b, double min_seconds) {
    return (b->stable && b->timed_s >= min_seconds && b->n >= DONE_MIN_RUNS && b->n_rounds >= 2) || b->n >= MAX_RUNS;
}

void shr_bench_timer_result(const shr_bench_timer *b, shr_bench_result *out) {
    memset(out, 0, sizeof *out);
    out->batch = b->batch;
    out->arena_bytes = shr_plan_arena_bytes(b->plan);
    out->runs = b->n;
    out->rounds = b->n_rounds;
    double *s = b->n > 0 ? malloc((size_t)b->n * sizeof *s) : NULL;
    if (!s) {
        out->p50_ms = out->p90_ms = out->p99_ms = out->min_ms = out->max_ms = out->noise_pct = NAN;
        return;
    }
    for (int i = 0; i < b->n; i++) s[i] = b->t[i] * 1e3;
    qsort(s, (size_t)b->n, sizeof *s, cmp_double);
    out->p50_ms = percentile(s, b->n, 0.50);
    out->p90_ms = percentile(s, b->n, 0.90);
    out->p99_ms = percentile(s, b->n, 0.99);
    out->min_ms = s[0];
    out->max_ms = s[b->n - 1];
    out->samples_per_s = out->p50_ms > 0 ? b->batch / (out->p50_ms * 1e-3) : 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < b->n_rounds; r++) {
        lo = fmin(lo, b->medians[r] * 1e3);
        hi = fmax(hi, b->medians[r] * 1e3);
    }
    out->noise_pct = b->n_rounds >= 2 && out->p50_ms > 0 ? 100 * (hi - lo) / out->p50_ms : NAN;
    free(s);
}

void shr_bench_timer_end(shr_bench_timer *b) {
    shr_plan_free(b->plan);
    shr_free(b->x);
    free(b->t);
    free(b->medians);
    memset(b, 0, sizeof *b);
}

shr_status shr_bench_latency(const shr_graph *g, int batch, double min_seconds, shr_bench_result *out) {
    shr_bench_timer b;
    SHR_TRY(shr_bench_timer_begin(&b, g, batch, 0.1 * min_seconds));
    shr_status st = SHR_OK;
    double t0 = shr_bench_now();
    while ((st = shr_bench_timer_round(&b, 0.05)) == SHR_OK) {
        double el = shr_bench_now() - t0;
        int capped = el >= 10 * min_seconds && b.n_rounds >= 3 && b.n >= DONE_MIN_RUNS;
        if (shr_bench_timer_done(&b, min_seconds) || capped) break;
    }
    if (st == SHR_OK) shr_bench_timer_result(&b, out);
    shr_bench_timer_end(&b);
    return st;
}

shr_status shr_bench_interleaved(const shr_graph *const *graphs, int n_graphs, const int *batches, int n_batches,
                                 double min_seconds, shr_bench_result *out) {
    int n = n_graphs * n_batches;
    if (n_graphs < 1 || n_batches < 1)
        return shr_fail(SHR_ERR_INVALID_ARG, "bench: need at least one model and one batch size");
    shr_bench_timer *b = calloc((size_t)n, sizeof *b);
    if (!b) return shr_fail(SHR_ERR_NOMEM, "bench: out of memory");
    shr_status st = SHR_OK;
    int started = 0;
    /* Index k = batch index * n_graphs + model: a round visits A B C for one
     * batch size, then A B C for the next. */
    for (; started < n && st == SHR_OK; started++)
        st = shr_bench_timer_begin(&b[started], graphs[started % n_graphs], batches[started / n_graphs],
                                   0.1 * min_seconds);
    if (st != SHR_OK) started--; /* the failed one cleaned up after itself */
    double t0 = shr_bench_now(), round_s = fmin(0.05, 0.5 * min_seconds);
    int *finished = calloc((size_t)n, sizeof *finished);
    if (!finished && st == SHR_OK) st = shr_fail(SHR_ERR_NOMEM, "bench: out of memory");
    while (st == SHR_OK) {
        int done = 1, min_rounds = INT32_MAX, min_runs = INT32_MAX;
        /* A pair that is done keeps its figures and leaves the rotation, so
         * the slowest pair does not keep the others running. */
        for (int k = 0; k < n && st == SHR_OK; k++) {
            if (!finished[k]) st = shr_bench_timer_round(&b[k], round_s);
            finished[k] = finished[k] || shr_bench_timer_done(&b[k], min_seconds);
            done &= finished[k];
            if (b[k].n_rounds < min_rounds) min_rounds = b[k].n_rounds;
            if (b[k].n < min_runs) min_runs = b[k].n;
        }
        /* A loaded machine may never settle: give up at 2x the plan, but only
         * after 3 rounds and 10 runs each (the noise figure says how unsettled
         * it was). */
        int capped = shr_bench_now() - t0 >= 2 * min_seconds * n && min_rounds >= 3 && min_runs >= DONE_MIN_RUNS;
        if (done || capped) break;
    }
    free(finished);
    for (int k = 0; k < n && st == SHR_OK; k++) shr_bench_timer_result(&b[k], &out[k]);
    for (int k = 0; k < started; k++) shr_bench_timer_end(&b[k]);
    free(b);
    return st;
}
