/* Kernel benchmark: the collected result rows (common.c), printed as JSON by main.c. */
#ifndef SHR_BENCH_ROWS_H
#define SHR_BENCH_ROWS_H

typedef struct bench_result {
    char section[16], kernel[48], shape[96], unit[12], vs[48];
    int threads;
    double ops, sec, rate, pct_peak, gbs, pct_mem, ratio;
} bench_result;

const bench_result *bench_rows(int *n);

/* Machine limits measured in the same run (peak.c). */
double bench_fma_peak_gflops(int threads);
double bench_mem_read_gbs(void);

#endif
