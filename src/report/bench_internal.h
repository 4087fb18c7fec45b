/* Internal: one latency timer per (model, batch), stepped a round at a time so
 * that several models can be timed interleaved (A B C A B C ...) and drift of
 * the machine hits them all alike. */
#ifndef SHR_REPORT_BENCH_INTERNAL_H
#define SHR_REPORT_BENCH_INTERNAL_H

#include "shrink/report.h"
#include "shrink/runtime.h"

typedef struct shr_bench_timer {
    shr_plan *plan;
    float *x; /* batch x sample inputs, N(0,1) */
    int batch;
    double *t;         /* seconds per timed run, on the chosen clock */
    int n, cap;
    double *medians;   /* median of each round's runs */
    int n_rounds, cap_rounds;
    double prev_median; /* median over all runs after the previous round */
    int stable;         /* the median moved < 1% in the last round, or its 95% CI is within +-2% */
    double timed_s;     /* wall time of the timed runs */
} shr_bench_timer;

/* Compiles the plan, fills the input and warms up (at least 3 runs and warm_s seconds). */
shr_status shr_bench_timer_begin(shr_bench_timer *b, const shr_graph *g, int batch, double warm_s);
/* One round: timed runs for about round_s seconds (at least 5 runs). */
shr_status shr_bench_timer_round(shr_bench_timer *b, double round_s);
/* Enough: stable, min_seconds of timed runs, 10 runs and 2 rounds (or the run cap). */
int shr_bench_timer_done(const shr_bench_timer *b, double min_seconds);
/* Percentiles over all timed runs; noise_pct from the spread of round medians. */
void shr_bench_timer_result(const shr_bench_timer *b, shr_bench_result *out);
void shr_bench_timer_end(shr_bench_timer *b);
double shr_bench_now(void);

#endif
