/* The sparsity map (shrink inspect --sparsity-map): one panel per linear/conv
 * layer, its weight seen as (output units x inputs, a conv as OC x C*KH*KW).
 * Each cell is shaded by the fraction of weights kept in the block it covers
 * (white: all pruned), and a red band on the left marks output units / filters
 * whose weights are all pruned (removable outright). A linear layer that reads
 * the flattened image also gets a picture of the input: per pixel, the fraction
 * of its weights kept — which pixels the pruned model still looks at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "prune/prune_internal.h"
#include "report/svg.h"

#define MAP_W 820.0
#define GRID_X 56.0
#define GRID_W 740.0
#define MAX_CELL_ROWS 32
#define MAX_CELL_COLS 100
#define MAX_GRID_H 170.0

typedef struct panel {
    int64_t R, K;       /* rows (outputs) and columns (inputs x kernel) */
    int rows, cols;     /* cells */
    double cell_w, cell_h;
} panel;

static panel layout(const shr_tensor *w) {
    panel p;
    p.R = w->ndim > 0 ? w->shape[0] : 1;
    p.K = p.R ? w->numel / p.R : 0;
    p.rows = (int)(p.R < MAX_CELL_ROWS ? p.R : MAX_CELL_ROWS);
    p.cols = (int)(p.K < MAX_CELL_COLS ? p.K : MAX_CELL_COLS);
    if (p.rows < 1) p.rows = 1;
    if (p.cols < 1) p.cols = 1;
    p.cell_w = GRID_W / p.cols;
    p.cell_h = p.cell_w;
    if (p.cell_h * p.rows > MAX_GRID_H) p.cell_h = MAX_GRID_H / p.rows;
    if (p.cell_h < 2.0) p.cell_h = 2.0;
    return p;
}

/* "#rrggbb" between white (0) and the palette's red (1). */
static void red(double f, char buf[8]) {
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    int r = (int)(255 + (0xD5 - 255) * f + 0.5), g = (int)(255 + (0x5E - 255) * f + 0.5),
        b = (int)(255 + (0x00 - 255) * f + 0.5);
    snprintf(buf, 8, "#%02x%02x%02x", r, g, b);
}

/* (C, H, W) of the image a linear node reads through flatten, or 0. */
static int image_input(const shr_graph *g, int node, int64_t dims[3]) {
    int x = g->nodes[node].inputs[0];
    if (g->nodes[node].op != SHR_OP_LINEAR || g->values[x].kind != SHR_VALUE_ACT) return 0;
    const shr_node *f = &g->nodes[g->values[x].producer];
    if (f->op != SHR_OP_FLATTEN || f->inputs[0] != g->input || g->values[g->input].ndim != 4) return 0;
    for (int i = 0; i < 3; i++) dims[i] = g->values[g->input].shape[i + 1];
    return 1;
}

#define PIXEL 5.0

static double image_height(const shr_graph *g, int node) {
    int64_t d[3];
    return image_input(g, node, d) ? 24 + (double)d[1] * PIXEL : 0;
}

/* Per input pixel (channels summed), the weights kept, scaled to the most-kept pixel. */
static shr_status draw_image(shr_svg *s, const shr_graph *g, int node, const shr_tensor *w, double y) {
    int64_t d[3], R = w->shape[0], K = w->shape[1];
    if (!image_input(g, node, d)) return SHR_OK;
    int64_t hw = d[1] * d[2];
    float *px = calloc((size_t)hw, sizeof *px);
    if (!px) return shr_fail(SHR_ERR_NOMEM, "out of memory drawing the sparsity map");
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < K; k++) px[k % hw] += shr_f32(w)[r * K + k] != 0.0f;
    float top = 0;
    for (int64_t i = 0; i < hw; i++) top = px[i] > top ? px[i] : top;
    for (int64_t i = 0; i < hw; i++) px[i] = top > 0 ? px[i] / top : 0; /* darkest = the most-kept pixel */
    char label[160];
    snprintf(label, sizeof label, "input pixels: weights kept, relative to the most-kept pixel (%.1f%% of its %lld)",
             100.0 * top / (double)(R * d[0]), (long long)(R * d[0]));
    shr_svg_text(s, GRID_X - 36, y + 13, label, 11, SHR_SVG_START, "#222222", 0);
    shr_svg_heatmap(s, GRID_X, y + 20, PIXEL, PIXEL, px, (int)d[1], (int)d[2]);
    shr_svg_rect(s, GRID_X, y + 20, PIXEL * (double)d[2], PIXEL * (double)d[1], NULL, "#888888");
    free(px);
    return SHR_OK;
}

static shr_status draw_layer(shr_svg *s, const shr_graph *g, int node, const shr_tensor *w, double y) {
    panel p = layout(w);
    float *cells = calloc((size_t)p.rows * (size_t)p.cols, sizeof *cells);
    double *dead = calloc((size_t)p.rows, sizeof *dead);
    if (!cells || !dead) {
        free(cells);
        free(dead);
        return shr_fail(SHR_ERR_NOMEM, "out of memory drawing the sparsity map");
    }
    const float *v = shr_f32(w);
    int64_t nz_total = 0, dead_rows = 0;
    for (int i = 0; i < p.rows; i++) {
        int64_t r0 = i * p.R / p.rows, r1 = (i + 1) * p.R / p.rows;
        for (int j = 0; j < p.cols; j++) {
            int64_t c0 = j * p.K / p.cols, c1 = (j + 1) * p.K / p.cols, nz = 0;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++) nz += v[r * p.K + c] != 0.0f;
            cells[(size_t)i * p.cols + j] = (float)nz / (float)((r1 - r0) * (c1 - c0));
            nz_total += nz;
        }
        int64_t d = 0;
        for (int64_t r = r0; r < r1; r++) {
            int any = 0;
            for (int64_t c = 0; c < p.K && !any; c++) any = v[r * p.K + c] != 0.0f;
            d += !any;
        }
        dead[i] = (double)d / (double)(r1 - r0);
        dead_rows += d;
    }
    const shr_node *n = &g->nodes[node];
    char shape[96], label[400];
    shr_shape_str(w->ndim, w->shape, shape, sizeof shape);
    snprintf(label, sizeof label, "%s (%s, weight %s): %.1f%% of %lld weights kept, %lld of %lld %s all pruned",
             n->name, shr_op_name(n->op), shape, w->numel ? 100.0 * (double)nz_total / (double)w->numel : 0.0,
             (long long)w->numel, (long long)dead_rows, (long long)p.R,
             n->op == SHR_OP_CONV2D ? "filters" : "units");
    shr_svg_group_begin(s, label);
    shr_svg_text(s, GRID_X - 36, y + 13, label, 11, SHR_SVG_START, "#222222", 0);
    double gy = y + 20;
    for (int i = 0; i < p.rows; i++) {
        char c[8];
        red(dead[i], c);
        shr_svg_rect(s, GRID_X - 14, gy + i * p.cell_h, 8, p.cell_h, c, NULL);
    }
    shr_svg_heatmap(s, GRID_X, gy, p.cell_w, p.cell_h, cells, p.rows, p.cols);
    shr_svg_rect(s, GRID_X, gy, p.cell_w * p.cols, p.cell_h * p.rows, NULL, "#888888");
    shr_svg_group_end(s);
    free(cells);
    free(dead);
    return SHR_OK;
}

shr_status shr_prune_sparsity_map(const shr_graph *g, const char *title, char **svg) {
    if (!g || !svg) return shr_fail(SHR_ERR_INVALID_ARG, "shr_prune_sparsity_map: NULL argument");
    *svg = NULL;
    int *values = NULL, *nodes = NULL, n = 0;
    SHR_TRY(prune_list_weights(g, &values, &nodes, &n));
    double height = 70;
    for (int i = 0; i < n; i++) {
        panel p = layout(g->values[values[i]].data);
        height += 34 + p.rows * p.cell_h + image_height(g, nodes[i]);
    }
    shr_svg s;
    shr_svg_begin(&s, MAP_W, height);
    char head[400];
    snprintf(head, sizeof head, "Sparsity map of %s: %.1f%% of the linear/conv weights pruned", title ? title : "model",
             100.0 * shr_prune_weight_sparsity(g));
    shr_svg_text(&s, MAP_W / 2, 20, head, 14, SHR_SVG_MIDDLE, "#111111", 0);
    shr_svg_text(&s, MAP_W / 2, 38,
                 "rows: output units / filters; columns: inputs (conv: channel x kernel); shade: fraction kept "
                 "(white = pruned); red band: units with every weight pruned",
                 10, SHR_SVG_MIDDLE, "#444444", 0);
    shr_status st = SHR_OK;
    double y = 52;
    for (int i = 0; i < n && st == SHR_OK; i++) {
        const shr_tensor *w = g->values[values[i]].data;
        st = draw_layer(&s, g, nodes[i], w, y);
        panel p = layout(w);
        y += 34 + p.rows * p.cell_h;
        if (st == SHR_OK) st = draw_image(&s, g, nodes[i], w, y);
        y += image_height(g, nodes[i]);
    }
    free(values);
    free(nodes);
    if (st != SHR_OK) {
        shr_svg_free(&s);
        return st;
    }
    return shr_svg_end(&s, svg);
}
