/* shrink sensitivity: accuracy per layer when that layer alone is magnitude-pruned
 * to each sparsity — a table, JSON, and an SVG plot of the curves. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report/svg.h"
#include "shrink/prune.h"

#define MAX_SPARSITIES 64

/* "0.3,0.5,0.9" -> values in 0..1; returns the count or -1. */
static int parse_list(const char *s, float *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !(v >= 0.0 && v <= 1.0) || n >= max) return -1;
        out[n++] = (float)v;
        if (*end == ',' && end[1]) end++;
        else if (*end) return -1;
        p = end;
    }
    return n ? n : -1;
}

static void print_table(const shr_sensitivity *s) {
    printf("baseline accuracy %.4f; accuracy with only that layer pruned:\n\n%-24s %10s", s->baseline, "layer",
           "weights");
    for (int j = 0; j < s->n_sparsities; j++) printf(" %6.2f", (double)s->sparsity[j]);
    printf("\n");
    for (int i = 0; i < s->n_layers; i++) {
        printf("%-24s %10lld", s->layer[i], (long long)s->params[i]);
        for (int j = 0; j < s->n_sparsities; j++) printf(" %6.4f", s->accuracy[(size_t)i * s->n_sparsities + j]);
        printf("\n");
    }
}

static json_t *to_json(const shr_sensitivity *s, const char *model) {
    json_t *o = json_object(), *sp = json_array(), *layers = json_array();
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "baseline_accuracy", json_real(s->baseline));
    for (int j = 0; j < s->n_sparsities; j++) json_array_append_new(sp, json_real(s->sparsity[j]));
    json_object_set_new(o, "sparsities", sp);
    for (int i = 0; i < s->n_layers; i++) {
        json_t *l = json_object(), *acc = json_array(), *drop = json_array();
        for (int j = 0; j < s->n_sparsities; j++) {
            double a = s->accuracy[(size_t)i * s->n_sparsities + j];
            json_array_append_new(acc, json_real(a));
            json_array_append_new(drop, json_real(s->baseline - a));
        }
        json_object_set_new(l, "name", json_string(s->layer[i]));
        json_object_set_new(l, "params", json_integer(s->params[i]));
        json_object_set_new(l, "accuracy", acc);
        json_object_set_new(l, "drop", drop);
        json_array_append_new(layers, l);
    }
    json_object_set_new(o, "layers", layers);
    return o;
}

/* One curve per layer (accuracy vs sparsity) and the baseline as a dashed line. */
static shr_status write_plot(const shr_sensitivity *s, const char *model, const char *path) {
    int n = s->n_sparsities, nl = s->n_layers;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)(nl + 1) * (size_t)n * sizeof *y);
    shr_plot_series *ser = calloc((size_t)nl + 1, sizeof *ser);
    if (!x || !y || !ser) {
        free(x);
        free(y);
        free(ser);
        return SHR_ERR_NOMEM;
    }
    for (int j = 0; j < n; j++) {
        x[j] = s->sparsity[j];
        y[(size_t)nl * n + j] = 100.0 * s->baseline;
    }
    for (int i = 0; i < nl; i++) {
        for (int j = 0; j < n; j++) y[(size_t)i * n + j] = 100.0 * s->accuracy[(size_t)i * n + j];
        ser[i] = (shr_plot_series){.name = s->layer[i], .n = n, .x = x, .y = y + (size_t)i * n, .line = 1, .markers = 1};
    }
    ser[nl] = (shr_plot_series){.name = "unpruned", .n = n, .x = x, .y = y + (size_t)nl * n, .color = "#777777",
                                .line = 1, .dashed = 1};
    char title[300];
    snprintf(title, sizeof title, "Pruning sensitivity of %s (one layer at a time, magnitude)", model);
    shr_svg svg;
    shr_svg_begin(&svg, 720, 440);
    shr_plot p = {.x = 0, .y = 0, .width = 720, .height = 440, .title = title, .x_label = "sparsity of the layer",
                  .y_label = "test accuracy (%)", .n_series = nl + 1, .series = ser};
    shr_svg_plot(&svg, &p);
    char *text = NULL;
    shr_status st = shr_svg_end(&svg, &text);
    if (st == SHR_OK) st = shr_write_file_atomic(path, text, strlen(text));
    free(text);
    free(x);
    free(y);
    free(ser);
    return st;
}

int cmd_sensitivity(int argc, char **argv) {
    const char *data = NULL, *list = "0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95", *plot = NULL, *pos[1];
    int json = 0, threads = 0, batch = 256, n_pos;
    int64_t limit = 0;
    cli_opt opts[] = {
        {"--data", OPT_STR, &data, 0, 0},          {"--sparsities", OPT_STR, &list, 0, 0},
        {"--plot", OPT_STR, &plot, 0, 0},          {"--json", OPT_FLAG, &json, 0, 0},
        {"--threads", OPT_INT, &threads, 0, 1024}, {"--batch", OPT_INT, &batch, 1, 65536},
        {"--test-limit", OPT_I64, &limit, 0, 1e12},
    };
    int rc = cli_parse("sensitivity", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("sensitivity", "give one MODEL file");
    if (!data) return cli_usage("sensitivity", "--data is required");
    float sp[MAX_SPARSITIES];
    int n = parse_list(list, sp, MAX_SPARSITIES);
    if (n < 0) return cli_usage("sensitivity", "--sparsities expects a list like 0.3,0.5,0.9 (up to %d values in 0..1)",
                                MAX_SPARSITIES);
    shr_set_threads(threads);
    shr_graph *g = NULL;
    shr_status st = cli_model_open(pos[0], &g);
    if (st != SHR_OK) return cli_fail("sensitivity", st);
    shr_dataset *d = NULL;
    shr_sensitivity *s = NULL;
    rc = cli_load_data_for_model("sensitivity", data, SHR_SPLIT_TEST, limit, g, &d);
    if (rc == CLI_OK && (st = shr_prune_sensitivity(g, d, sp, n, batch, &s)) != SHR_OK) rc = cli_fail("sensitivity", st);
    if (rc == CLI_OK && plot && (st = write_plot(s, pos[0], plot)) != SHR_OK) {
        if (st == SHR_ERR_NOMEM) fprintf(stderr, "shrink sensitivity: error: out of memory writing the plot\n");
        else cli_fail("sensitivity", st);
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK) {
        if (json) rc = cli_print_json("sensitivity", to_json(s, pos[0]));
        else print_table(s);
    }
    shr_sensitivity_free(s);
    shr_dataset_free(d);
    shr_graph_free(g);
    return rc;
}
