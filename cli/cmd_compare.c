/* shrink compare: every model's size, compute, accuracy, latency and memory
 * side by side, as a table (text, Markdown, CSV, JSON), SVG plots and an HTML
 * report. Peak RSS is measured first, in a forked child per model, before this
 * process starts any OpenMP threads or loads data (a fork after OpenMP has run
 * is unsafe, and a clean child shows what the model alone needs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { MAX_MODELS = 64 };

/* A value in kB from /proc/self/status ("VmHWM:", "VmRSS:") in bytes, or -1. */
static int64_t proc_status_bytes(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = strtoll(line + kl, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* In the child: load, compile for the largest batch, run each batch size once. */
static int64_t child_peak(const char *path, const int *batches, int n_batches, int64_t *base) {
    *base = proc_status_bytes("VmRSS:");
    int max_batch = 1;
    for (int b = 0; b < n_batches; b++)
        if (batches[b] > max_batch) max_batch = batches[b];
    shr_graph *g = NULL;
    shr_plan *p = NULL;
    float *x = NULL;
    int ok = cli_model_open(path, &g) == SHR_OK && shr_plan_create(g, max_batch, &p) == SHR_OK;
    if (ok) {
        int64_t per = 1;
        const shr_value *in = &g->values[g->input];
        for (int d = 1; d < in->ndim; d++) per *= in->shape[d];
        x = shr_alloc((size_t)(per * max_batch) * sizeof(float));
        const float *y;
        ok = x != NULL;
        for (int b = 0; ok && b < n_batches; b++) ok = shr_plan_run(p, x, batches[b], &y) == SHR_OK;
    }
    int64_t peak = ok ? proc_status_bytes("VmHWM:") : -1;
    shr_free(x);
    shr_plan_free(p);
    shr_graph_free(g);
    return peak;
}

/* Peak RSS of a fresh child running the model; -1 where /proc or fork is missing. */
static int64_t measure_peak_rss(const char *path, const int *batches, int n_batches, int64_t *base) {
    int fd[2];
    int64_t r[2] = {-1, -1};
    *base = -1;
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        r[1] = child_peak(path, batches, n_batches, &r[0]);
        ssize_t w = write(fd[1], r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof r);
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != (ssize_t)sizeof r) return -1;
    *base = r[0];
    return r[1];
}

/* "runs/cnn_int8.shrk" -> "cnn_int8"; the full path when two base names clash. */
static void name_models(shr_compare_model *m, int n, char names[][128]) {
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(m[i].path, '/') ? strrchr(m[i].path, '/') + 1 : m[i].path;
        size_t len = strlen(base);
        if (len > 5 && strcmp(base + len - 5, ".shrk") == 0) len -= 5;
        snprintf(names[i], 128, "%.*s", (int)len, base);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strcmp(names[i], names[j]) == 0) snprintf(names[i], 128, "%s", m[i].path);
    for (int i = 0; i < n; i++) m[i].name = names[i];
}

static int write_output(const char *path, const char *what, shr_status (*make)(const shr_compare *, char **),
                        const shr_compare *c) {
    char *text = NULL;
    shr_status st = make(c, &text);
    if (st == SHR_OK) st = shr_write_file_atomic(path, text, strlen(text));
    free(text);
    if (st != SHR_OK) return cli_fail("compare", st);
    fprintf(stderr, "wrote %s %s\n", what, path);
    return CLI_OK;
}

static char *join_command(int argc, char **argv) {
    size_t len = strlen("shrink compare") + 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    strcpy(s, "shrink compare");
    for (int i = 0; i < argc; i++) strcat(strcat(s, " "), argv[i]);
    return s;
}

typedef struct compare_args {
    const char *data, *reference, *batches, *plot, *html, *clock;
    int markdown, csv, json, threads, sqnr_samples;
    int64_t test_limit;
    double seconds;
} compare_args;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* With more runnable jobs than cores, an OpenMP team waits for descheduled
 * threads at every barrier: latencies then measure the machine, not the model. */
static void warn_if_busy(int threads) {
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    int got = fscanf(f, "%lf", &load);
    fclose(f);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (got == 1 && threads > 1 && cores > 0 && load > (double)cores)
        fprintf(stderr, "compare: warning: the machine is busy (load %.1f on %ld cores); latencies with %d threads "
                        "will be noisy, --threads 1 --clock cpu gives steady ones\n", load, cores, threads);
}

static int measure_all(shr_compare *c, const compare_args *a, shr_dataset *test) {
    double t0 = now_s();
    for (int i = 0; i < c->n; i++) {
        fprintf(stderr, "compare: %s: accuracy on %lld samples\n", c->models[i].name, (long long)test->n);
        shr_status st = shr_compare_measure(&c->models[i], test, 256);
        if (st != SHR_OK) return cli_fail("compare", st);
    }
    int64_t ns = a->sqnr_samples < test->n ? a->sqnr_samples : test->n;
    if (ns > 0 && c->n > 1) fprintf(stderr, "compare: outputs against the reference's on %lld samples\n", (long long)ns);
    shr_status so = shr_compare_outputs(c, test, a->sqnr_samples);
    if (so != SHR_OK) return cli_fail("compare", so);
    warn_if_busy(c->threads);
    fprintf(stderr, "compare: accuracy and outputs took %.1f s; timing %d model(s) interleaved at batch %s (%.2g s each)\n",
            now_s() - t0, c->n, a->batches, a->seconds);
    double t1 = now_s();
    shr_status st = shr_compare_latency(c, a->seconds);
    if (st != SHR_OK) return cli_fail("compare", st);
    fprintf(stderr, "compare: timing took %.1f s\n", now_s() - t1);
    shr_compare_finish(c);
    return CLI_OK;
}

static int report(const shr_compare *c, const compare_args *a) {
    char *text = NULL;
    shr_status st = a->json ? shr_compare_json(c, &text)
                            : shr_compare_table(c, a->csv ? SHR_TABLE_CSV : a->markdown ? SHR_TABLE_MARKDOWN
                                                                                        : SHR_TABLE_TEXT,
                                                &text);
    if (st != SHR_OK) return cli_fail("compare", st);
    fputs(text, stdout);
    if (a->json) fputc('\n', stdout);
    free(text);
    if (fflush(stdout) != 0) return CLI_FAIL;
    int rc = CLI_OK;
    if (a->plot) rc = write_output(a->plot, "plot", shr_compare_svg, c);
    if (rc == CLI_OK && a->html) rc = write_output(a->html, "report", shr_compare_html, c);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    compare_args a = {.batches = "1,64", .seconds = 1.0, .sqnr_samples = 500};
    const char *pos[MAX_MODELS + 1];
    int n_pos;
    cli_opt opts[] = {
        {"--data", OPT_STR, &a.data, 0, 0},          {"--reference", OPT_STR, &a.reference, 0, 0},
        {"--batch", OPT_STR, &a.batches, 0, 0},      {"--markdown", OPT_FLAG, &a.markdown, 0, 0},
        {"--csv", OPT_FLAG, &a.csv, 0, 0},           {"--json", OPT_FLAG, &a.json, 0, 0},
        {"--plot", OPT_STR, &a.plot, 0, 0},          {"--html", OPT_STR, &a.html, 0, 0},
        {"--test-limit", OPT_I64, &a.test_limit, 0, 1e12}, {"--threads", OPT_INT, &a.threads, 0, 1024},
        {"--seconds", OPT_FLOAT, &a.seconds, 0.01, 60}, {"--sqnr-samples", OPT_INT, &a.sqnr_samples, 0, 1000000},
        {"--clock", OPT_STR, &a.clock, 0, 0},
    };
    int rc = cli_parse("compare", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, MAX_MODELS, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos < 1) return cli_usage("compare", "give one or more MODEL files");
    if (!a.data) return cli_usage("compare", "--data is required (accuracy is measured on its test split)");
    if (a.markdown + a.csv + a.json > 1) return cli_usage("compare", "choose one of --markdown, --csv, --json");
    shr_compare c = {.threads = 0};
    c.n_batches = cli_parse_int_list(a.batches, c.batches, SHR_COMPARE_MAX_BATCHES);
    if (c.n_batches < 1) return cli_usage("compare", "--batch expects a list like 1,64 (up to 8 sizes)");
    /* The reference is one of the models, or an extra model shown first. */
    const char *paths[MAX_MODELS + 1];
    int n = 0;
    c.reference = -1;
    for (int i = 0; a.reference && i < n_pos; i++)
        if (strcmp(pos[i], a.reference) == 0) c.reference = i;
    if (a.reference && c.reference < 0) paths[n++] = a.reference;
    for (int i = 0; i < n_pos; i++) paths[n++] = pos[i];
    if (c.reference < 0) c.reference = 0;
    shr_set_threads(a.threads);
    /* The thread's CPU clock sees one thread's work only. */
    if (a.clock && strcmp(a.clock, "wall") != 0 && strcmp(a.clock, "cpu") != 0)
        return cli_usage("compare", "--clock is wall or cpu (got '%s')", a.clock);
    c.clock = a.clock && strcmp(a.clock, "cpu") == 0 ? SHR_CLOCK_THREAD_CPU : SHR_CLOCK_WALL;
    if (c.clock == SHR_CLOCK_THREAD_CPU && shr_get_threads() != 1)
        return cli_usage("compare", "--clock cpu times one thread: add --threads 1");
    shr_bench_set_clock(c.clock);

    shr_compare_model models[MAX_MODELS + 1];
    static char names[MAX_MODELS + 1][128];
    memset(models, 0, sizeof models);
    c.models = models;
    c.n = n;
    for (int i = 0; i < n; i++) {
        int64_t base;
        models[i].path = paths[i];
        models[i].peak_rss_bytes = measure_peak_rss(paths[i], c.batches, c.n_batches, &base);
        if (base > 0 && (c.base_rss_bytes <= 0 || base < c.base_rss_bytes)) c.base_rss_bytes = base;
    }
    name_models(models, n, names);
    shr_graph *graphs[MAX_MODELS + 1] = {0};
    shr_dataset *test = NULL;
    for (int i = 0; rc == CLI_OK && i < n; i++) {
        shr_status st = cli_model_open(paths[i], &graphs[i]);
        if (st != SHR_OK) rc = cli_fail("compare", st);
        models[i].graph = graphs[i];
        models[i].file_bytes = cli_file_size(paths[i]);
        /* Every model must take the same input as the data. */
        if (rc == CLI_OK && i == 0)
            rc = cli_load_data_for_model("compare", a.data, SHR_SPLIT_TEST, a.test_limit, graphs[0], &test);
        else if (rc == CLI_OK) {
            const shr_value *in = &graphs[i]->values[graphs[i]->input];
            int64_t want = 1;
            for (int d = 1; d < in->ndim; d++) want *= in->shape[d];
            if (want != test->sample_size) {
                fprintf(stderr, "shrink compare: error: '%s' expects %lld values per sample but '%s' has %lld\n",
                        paths[i], (long long)want, a.data, (long long)test->sample_size);
                rc = CLI_FAIL;
            }
        }
    }
    char *command = join_command(argc, argv);
    c.command = command;
    c.data = a.data;
    c.threads = shr_get_threads();
    c.kernels = shr_cpu_features();
    if (rc == CLI_OK) rc = measure_all(&c, &a, test);
    if (rc == CLI_OK) rc = report(&c, &a);
    free(command);
    shr_dataset_free(test);
    for (int i = 0; i < n; i++) shr_graph_free(graphs[i]);
    return rc;
}
