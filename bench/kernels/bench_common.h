/* The kernel benchmark (bench_kernels): shared timing and reporting. Each kernel family
 * writes one section file (fp32.c, int8.c, sparse.c, int4.c, ...) with a function
 * `void bench_section_<name>(bench_ctx *c)`; main.c runs the sections that are linked in.
 * A benchmark, never a test: figures are medians of interleaved repeats. */
#ifndef SHR_BENCH_COMMON_H
#define SHR_BENCH_COMMON_H

#include <stddef.h>

typedef void (*bench_fn)(void *arg);

/* One contender in a side-by-side measurement. */
typedef struct bench_case {
    const char *name; /* e.g. "shrink f32", "openblas sgemm", "int8 u7s8" */
    bench_fn fn;
    void *arg;
} bench_case;

typedef struct bench_ctx {
    int json;              /* --json: rows go to one JSON object on stdout, text to stderr */
    int quick;             /* --quick: fewer repeats, smaller shapes skipped where marked */
    int repeats;           /* timed samples per contender (median taken) */
    int threads;           /* thread count of the current pass (1 or 2) */
    double peak_gflops[3]; /* measured fp32 FMA peak for 1 and 2 threads (index = threads) */
    double mem_gbs;        /* measured memory read bandwidth, 1 thread, GB/s */
    const char *only;      /* --only NAME: run just this section (NULL: all) */
} bench_ctx;

/* Clock of every measurement: bench_use_cpu_clock(1) (--clock cpu) times one-thread runs by
 * the calling thread's CPU clock, so other jobs on a shared machine do not inflate them;
 * bench_now(threads) reads the clock in force for that thread count, in seconds. */
void bench_use_cpu_clock(int on);
double bench_now(int threads);

/* Times the n contenders interleaved (A B C A B C ...): one warm-up call each, then each
 * sample (after a 2 ms pause and ~0.5 ms of untimed calls of that contender) runs enough
 * calls to last ~2 ms; writes each contender's median seconds per call to sec[i]. */
void bench_time_interleaved(const bench_ctx *c, const bench_case *cases, int n, double *sec);

/* Records one row: `ops` is the operation count of one call (2*M*N*K for a GEMM);
 * `unit` is "GFLOP/s" or "GOP/s"; `bytes` (0 if not meaningful) is the memory read per call
 * for bandwidth-bound kernels (reported as GB/s and % of mem_gbs). `vs_name`/`vs_sec`
 * (NULL/0 for none) name the baseline this row is compared with: ratio = vs_sec / sec. */
void bench_row(const bench_ctx *c, const char *section, const char *kernel, const char *shape, double ops,
               const char *unit, double bytes, double sec, const char *vs_name, double vs_sec);

/* GEMM shapes of the model zoo's Linear and Conv layers (built with shr_zoo_build):
 * Y[M,N] = X[M,K] * W^T, M = batch * output pixels, N = output channels, K = in*kh*kw/groups.
 * Depthwise convolutions (groups == channels) are listed with depthwise = 1. */
typedef struct bench_layer {
    char name[64]; /* "lenet5/conv1" */
    int M, N, K;   /* for batch `batch` */
    int batch;
    int depthwise; /* 1: groups == in == out channels; K = kh*kw */
    int C, H, W, KH, KW, stride, pad; /* conv geometry (C = input channels; 0 for Linear) */
} bench_layer;
/* Fills up to cap layers of every zoo model at the given batch; returns the count. */
int bench_zoo_layers(int batch, bench_layer *out, int cap);

/* Deterministic fill helpers. */
void bench_fill_f32(float *x, size_t n, unsigned seed);
void bench_fill_i8(signed char *x, size_t n, int lo, int hi, unsigned seed);
void bench_fill_u8(unsigned char *x, size_t n, int lo, int hi, unsigned seed);

/* Sections (defined in their own files; weak so a section not yet written is skipped). */
void bench_section_fp32(bench_ctx *c) __attribute__((weak));
void bench_section_depthwise(bench_ctx *c) __attribute__((weak));
void bench_section_conv(bench_ctx *c) __attribute__((weak));
void bench_section_int8(bench_ctx *c) __attribute__((weak));
void bench_section_sparse(bench_ctx *c) __attribute__((weak));
void bench_section_int4(bench_ctx *c) __attribute__((weak));

#endif
