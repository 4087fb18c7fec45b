/* Kernel benchmark: interleaved timing, the result table / JSON rows, zoo layer shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "bench_rows.h"
#include "shrink/graph.h"
#include "shrink/zoo.h"

static int cpu_clock;

void bench_use_cpu_clock(int on) { cpu_clock = on; }

/* With --clock cpu a one-thread measurement reads this thread's CPU clock: on a machine
 * shared with other jobs, the time the scheduler gives to them does not count. Several
 * threads always read the wall clock (their CPU times would add up). */
double bench_now(int threads) {
    struct timespec ts;
    clock_gettime(cpu_clock && threads <= 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_ctx(const bench_ctx *c) { return bench_now(c->threads); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Lets the other library's idle worker threads stop spinning before a sample starts (they
 * would steal the second core). */
static void settle(void) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

#define MAX_CASES 16
#define MAX_REPEATS 64

void bench_time_interleaved(const bench_ctx *c, const bench_case *cases, int n, double *sec) {
    if (n > MAX_CASES) n = MAX_CASES;
    int reps = c->repeats < 1 ? 1 : c->repeats > MAX_REPEATS ? MAX_REPEATS : c->repeats;
    int inner[MAX_CASES];
    double t[MAX_CASES][MAX_REPEATS];
    for (int i = 0; i < n; i++) { /* warm-up, then calibrate calls per ~2 ms sample */
        cases[i].fn(cases[i].arg);
        double t0 = now_ctx(c);
        cases[i].fn(cases[i].arg);
        double once = now_ctx(c) - t0;
        inner[i] = once < 2e-3 ? (int)(2e-3 / (once > 1e-7 ? once : 1e-7)) + 1 : 1;
    }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i++) {
            settle();
            /* ~0.5 ms untimed first: the contender's worker threads, put to sleep while the
             * others ran, are awake again (a futex wake-up costs tens of microseconds on a VM,
             * more than a whole batch-1 call) and its data is back in cache. */
            for (int k = 0; k < inner[i] / 4 + 1; k++) cases[i].fn(cases[i].arg);
            double t0 = now_ctx(c);
            for (int k = 0; k < inner[i]; k++) cases[i].fn(cases[i].arg);
            t[i][r] = (now_ctx(c) - t0) / inner[i];
        }
    for (int i = 0; i < n; i++) {
        qsort(t[i], (size_t)reps, sizeof(double), cmp_double);
        sec[i] = t[i][reps / 2];
    }
}

/* ---- rows ---- */

static bench_result *rows;
static int n_rows, cap_rows;

void bench_row(const bench_ctx *c, const char *section, const char *kernel, const char *shape, double ops,
               const char *unit, double bytes, double sec, const char *vs_name, double vs_sec) {
    if (n_rows == cap_rows) {
        int cap = cap_rows ? 2 * cap_rows : 256;
        bench_result *r = realloc(rows, (size_t)cap * sizeof *r);
        if (!r) return;
        rows = r;
        cap_rows = cap;
    }
    bench_result *r = &rows[n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->section, sizeof r->section, "%s", section);
    snprintf(r->kernel, sizeof r->kernel, "%s", kernel);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->vs, sizeof r->vs, "%s", vs_name ? vs_name : "");
    r->threads = c->threads;
    r->ops = ops;
    r->sec = sec;
    r->rate = sec > 0 ? ops / sec * 1e-9 : 0;
    double peak = c->peak_gflops[c->threads >= 1 && c->threads <= 2 ? c->threads : 1];
    r->pct_peak = peak > 0 ? 100.0 * r->rate / peak : 0;
    r->gbs = bytes > 0 && sec > 0 ? bytes / sec * 1e-9 : 0;
    r->pct_mem = c->mem_gbs > 0 ? 100.0 * r->gbs / c->mem_gbs : 0;
    r->ratio = vs_name && vs_sec > 0 && sec > 0 ? vs_sec / sec : 0;
    FILE *f = c->json ? stderr : stdout;
    fprintf(f, "%-8s %-26s %-30s %dt %9.2f %-7s %5.1f%%", section, kernel, shape, c->threads, r->rate, unit,
            r->pct_peak);
    if (r->gbs > 0) fprintf(f, "  %6.1f GB/s", r->gbs);
    if (r->ratio > 0) fprintf(f, "  %5.2fx vs %s", r->ratio, r->vs);
    fprintf(f, "\n");
    fflush(f);
}

const bench_result *bench_rows(int *n) {
    *n = n_rows;
    return rows;
}

/* ---- fills ---- */

static unsigned lcg(unsigned *s) { return *s = *s * 1664525u + 1013904223u; }

void bench_fill_f32(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lcg(&seed) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}
void bench_fill_i8(signed char *x, size_t n, int lo, int hi, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (signed char)(lo + (int)((lcg(&seed) >> 8) % (unsigned)(hi - lo + 1)));
}
void bench_fill_u8(unsigned char *x, size_t n, int lo, int hi, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (unsigned char)(lo + (int)((lcg(&seed) >> 8) % (unsigned)(hi - lo + 1)));
}

/* ---- zoo layers ---- */

static void add_layer(const shr_graph *g, const char *arch, int node, int batch, bench_layer *L) {
    const shr_node *n = &g->nodes[node];
    const shr_value *x = &g->values[n->inputs[0]], *w = &g->values[n->inputs[1]], *y = &g->values[n->output];
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "%s/%s", arch, n->name);
    L->batch = batch;
    if (n->op == SHR_OP_LINEAR) {
        L->M = batch;
        L->N = (int)w->shape[0];
        L->K = (int)w->shape[1];
        return;
    }
    int groups = n->attrs.groups > 0 ? n->attrs.groups : 1;
    L->C = (int)x->shape[1];
    L->H = (int)x->shape[2];
    L->W = (int)x->shape[3];
    L->KH = (int)w->shape[2];
    L->KW = (int)w->shape[3];
    L->stride = n->attrs.stride[0] > 0 ? n->attrs.stride[0] : 1;
    L->pad = n->attrs.pad[0];
    L->M = batch * (int)(y->shape[2] * y->shape[3]);
    L->N = (int)w->shape[0];
    L->K = (int)(w->shape[1] * w->shape[2] * w->shape[3]);
    L->depthwise = groups > 1 && groups == L->C && groups == L->N;
}

int bench_zoo_layers(int batch, bench_layer *out, int cap) {
    static const char *const archs[] = {"mlp", "lenet5", "cnn", "resnet8", "dwnet"};
    int count = 0;
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        shr_graph *g = NULL;
        if (shr_zoo_build(archs[a], 1, 28, 28, 10, 1, &g) != SHR_OK) continue;
        for (int i = 0; i < g->n_nodes && count < cap; i++) {
            shr_op op = g->nodes[i].op;
            if (op == SHR_OP_LINEAR || op == SHR_OP_CONV2D) add_layer(g, archs[a], i, batch, &out[count++]);
        }
        shr_graph_free(g);
    }
    return count;
}
