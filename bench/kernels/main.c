/* bench_kernels: throughput of shrink's kernels at 1024^3, 512^3 and the model zoo's layer
 * shapes (batch 1 and 64), for 1 and 2 threads, with the machine's measured FMA peak and
 * memory bandwidth and OpenBLAS side by side. A benchmark, never a test.
 *
 * Usage: bench_kernels [--json] [--quick] [--repeats N] [--threads 1,2] [--only SECTION] [--clock wall|cpu]
 * Sections: fp32 depthwise int8 sparse int4 (those linked in). With --json, one JSON object
 * goes to stdout and the table to stderr. --clock cpu times one-thread rows by the thread's
 * CPU clock (for a machine shared with other jobs); two-thread rows always use the wall clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench_common.h"
#include "bench_rows.h"
#include "bench_peer.h"
#include "shrink/threads.h"

/* Both libraries' idle threads busy-wait after a parallel call; with two cores that steals
 * the next contender's core. Short spins for both (re-exec so the runtimes read them). */
static void set_fair_env(char **argv) {
    if (getenv("SHR_BENCH_ENV")) return;
    setenv("SHR_BENCH_ENV", "1", 1);
    setenv("GOMP_SPINCOUNT", "10000", 0);
    setenv("OPENBLAS_THREAD_TIMEOUT", "16", 0);
    execv("/proc/self/exe", argv);
    /* exec failed: run anyway with the default spin policies */
}

typedef struct section {
    const char *name;
    void (*fn)(bench_ctx *);
} section;

static int print_json(const bench_ctx *c, const int *threads, int n_threads) {
    json_t *o = json_object(), *rows = json_array(), *mach = json_object();
    json_object_set_new(mach, "fma_peak_gflops_1t", json_real(c->peak_gflops[1]));
    json_object_set_new(mach, "fma_peak_gflops_2t", json_real(c->peak_gflops[2]));
    json_object_set_new(mach, "mem_read_gbs_1t", json_real(c->mem_gbs));
    json_object_set_new(mach, "kernels", json_string(shr_cpu_features()));
    json_object_set_new(mach, "peer", json_string(bench_peer_name()));
    json_object_set_new(o, "machine", mach);
    int n;
    const bench_result *r = bench_rows(&n);
    for (int i = 0; i < n; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "section", json_string(r[i].section));
        json_object_set_new(x, "kernel", json_string(r[i].kernel));
        json_object_set_new(x, "shape", json_string(r[i].shape));
        json_object_set_new(x, "threads", json_integer(r[i].threads));
        json_object_set_new(x, "unit", json_string(r[i].unit));
        json_object_set_new(x, "rate", json_real(r[i].rate));
        json_object_set_new(x, "seconds", json_real(r[i].sec));
        json_object_set_new(x, "pct_peak", json_real(r[i].pct_peak));
        if (r[i].gbs > 0) json_object_set_new(x, "gb_per_s", json_real(r[i].gbs));
        if (r[i].gbs > 0) json_object_set_new(x, "pct_mem_bw", json_real(r[i].pct_mem));
        if (r[i].ratio > 0) {
            json_object_set_new(x, "ratio", json_real(r[i].ratio));
            json_object_set_new(x, "vs", json_string(r[i].vs));
        }
        json_array_append_new(rows, x);
    }
    json_object_set_new(o, "rows", rows);
    (void)threads, (void)n_threads;
    int rc = json_dumpf(o, stdout, JSON_INDENT(1)) == 0 ? 0 : 1;
    printf("\n");
    json_decref(o);
    return rc;
}

int main(int argc, char **argv) {
    set_fair_env(argv);
    const char *clock_name = "wall";
    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.repeats = 9;
    int threads[2] = {1, 2}, n_threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            c.json = 1;
        else if (!strcmp(argv[i], "--quick"))
            c.quick = 1;
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            c.repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc && (!strcmp(argv[i + 1], "wall") || !strcmp(argv[i + 1], "cpu")))
            bench_use_cpu_clock(!strcmp((clock_name = argv[++i]), "cpu"));
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            c.only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            const char *s = argv[++i];
            n_threads = 0;
            if (strchr(s, '1')) threads[n_threads++] = 1;
            if (strchr(s, '2')) threads[n_threads++] = 2;
            if (!n_threads) {
                fprintf(stderr, "bench_kernels: --threads takes 1, 2 or 1,2\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_kernels [--json] [--quick] [--repeats N] [--threads 1,2] [--only SECTION] [--clock wall|cpu]\n");
            return 2;
        }
    }
    if (c.repeats < 1 || c.repeats > 64) {
        fprintf(stderr, "bench_kernels: --repeats must be 1..64\n");
        return 2;
    }
    if (c.quick && c.repeats > 5) c.repeats = 5;
    FILE *txt = c.json ? stderr : stdout;
    c.peak_gflops[1] = bench_fma_peak_gflops(1);
    c.peak_gflops[2] = bench_fma_peak_gflops(2);
    c.mem_gbs = bench_mem_read_gbs();
    fprintf(txt, "kernels: %s; peer: %s; GOMP_SPINCOUNT=%s OPENBLAS_THREAD_TIMEOUT=%s\n", shr_cpu_features(),
            bench_peer_name(), getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "-",
            getenv("OPENBLAS_THREAD_TIMEOUT") ? getenv("OPENBLAS_THREAD_TIMEOUT") : "-");
    fprintf(txt, "measured: fp32 FMA peak %.1f GFLOP/s (1 thread), %.1f (2 threads); memory read %.1f GB/s (1 thread)\n",
            c.peak_gflops[1], c.peak_gflops[2], c.mem_gbs);
    fprintf(txt, "rate: median of %d interleaved samples (%s clock); %% = of the FMA peak; ratio = other's time / this time\n",
            c.repeats, clock_name);
    const section sections[] = {{"fp32", bench_section_fp32},   {"conv", bench_section_conv},
                                {"depthwise", bench_section_depthwise},
                                {"int8", bench_section_int8},   {"sparse", bench_section_sparse},
                                {"int4", bench_section_int4}};
    for (int t = 0; t < n_threads; t++) {
        c.threads = threads[t];
        shr_set_threads(c.threads);
        bench_peer_set_threads(c.threads);
        for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
            if (!sections[s].fn || (c.only && strcmp(c.only, sections[s].name))) continue;
            fprintf(txt, "-- %s, %d thread%s --\n", sections[s].name, c.threads, c.threads > 1 ? "s" : "");
            sections[s].fn(&c);
        }
    }
    return c.json ? print_json(&c, threads, n_threads) : 0;
}
