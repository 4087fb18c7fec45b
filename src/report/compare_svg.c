/* The comparison's plots: accuracy vs file size and accuracy vs latency, the
 * Pareto front of each drawn as a dashed line, points labelled by model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "report/svg.h"
#include "shrink/report.h"

enum { PANEL_W = 540, PANEL_H = 420 };

typedef struct panel_data {
    double *x, *y, *fx, *fy; /* all points (n); the front's staircase (2n - 1), by x */
    int *filled, n_front;
    const char **labels;
} panel_data;

/* A log axis once the points span more than ~an order of magnitude. */
static int wants_log(const double *x, int n) {
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && x[i] > 0) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    return hi > 0 && hi / lo > 8;
}

static void fill_front(panel_data *d, int n) {
    d->n_front = 0;
    for (int i = 0; i < n; i++)
        if (d->filled[i] && isfinite(d->x[i]) && isfinite(d->y[i])) {
            /* Insertion by x keeps the dashed line monotone. */
            int k = d->n_front++;
            while (k > 0 && d->fx[k - 1] > d->x[i]) {
                d->fx[k] = d->fx[k - 1];
                d->fy[k] = d->fy[k - 1];
                k--;
            }
            d->fx[k] = d->x[i];
            d->fy[k] = d->y[i];
        }
    /* A staircase: from each optimal point, right at its accuracy, then up to
     * the next one; the area under it is what the front dominates. */
    int m = d->n_front;
    d->n_front = m > 0 ? 2 * m - 1 : 0;
    for (int k = m - 1; k >= 0; k--) {
        d->fx[2 * k] = d->fx[k];
        d->fy[2 * k] = d->fy[k];
    }
    for (int k = 0; k + 1 < m; k++) {
        d->fx[2 * k + 1] = d->fx[2 * k + 2];
        d->fy[2 * k + 1] = d->fy[2 * k];
    }
}

static void panel(shr_svg *s, const shr_compare *c, panel_data *d, int latency, double x0) {
    char xl[96];
    for (int i = 0; i < c->n; i++) {
        const shr_compare_model *m = &c->models[i];
        d->y[i] = 100 * m->accuracy;
        d->labels[i] = m->name;
        if (latency) {
            d->x[i] = m->lat[0].runs ? m->lat[0].p50_ms : NAN;
            d->filled[i] = m->pareto_latency;
        } else {
            d->x[i] = m->file_bytes >= 0 ? m->file_bytes / 1024.0 : NAN;
            d->filled[i] = m->pareto_size;
        }
    }
    fill_front(d, c->n);
    int log_x = wants_log(d->x, c->n);
    if (latency) snprintf(xl, sizeof xl, "p50 latency at batch %d (ms%s)", c->batches[0], log_x ? ", log scale" : "");
    else snprintf(xl, sizeof xl, "file size (KiB%s)", log_x ? ", log scale" : "");
    shr_plot_series ser[2] = {
        {.name = "Pareto front", .n = d->n_front, .x = d->fx, .y = d->fy, .line = 1, .dashed = 1,
         .color = "#999999"},
        {.name = "models (hollow: dominated)", .n = c->n, .x = d->x, .y = d->y, .labels = d->labels,
         .filled = d->filled, .markers = 1, .color = shr_svg_palette(latency ? 1 : 0)},
    };
    shr_svg_plot(s, &(shr_plot){.x = x0, .y = 0, .width = PANEL_W, .height = PANEL_H,
                                .title = latency ? "Accuracy vs latency" : "Accuracy vs file size", .x_label = xl,
                                .y_label = "test accuracy (%)", .log_x = log_x, .n_series = 2, .series = ser});
}

shr_status shr_compare_svg(const shr_compare *c, char **out) {
    *out = NULL;
    if (c->n < 1 || c->n_batches < 1) return shr_fail(SHR_ERR_INVALID_ARG, "compare: nothing to plot");
    size_t n = (size_t)c->n;
    panel_data d = {.x = malloc(6 * n * sizeof(double)), .filled = malloc(n * sizeof(int)),
                    .labels = malloc(n * sizeof(char *))};
    if (!d.x || !d.filled || !d.labels) {
        free(d.x);
        free(d.filled);
        free(d.labels);
        return shr_fail(SHR_ERR_NOMEM, "compare: out of memory while plotting");
    }
    d.y = d.x + n;
    d.fx = d.x + 2 * n;
    d.fy = d.x + 4 * n;
    shr_svg s;
    shr_svg_begin(&s, 2 * PANEL_W, PANEL_H);
    panel(&s, c, &d, 0, 0);
    panel(&s, c, &d, 1, PANEL_W);
    free(d.x);
    free(d.filled);
    free(d.labels);
    return shr_svg_end(&s, out);
}
