/* The comparison as one self-contained HTML page: inline CSS and SVG, no
 * scripts, nothing fetched. Table, plots, then each model's lineage and layer
 * breakdown (density bars, and density maps for layers with zeros). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/compare_cells.h"
#include "report/strbuf.h"
#include "report/svg.h"
#include "shrink/quant.h"

enum { MAP_MAX = 48, CELL_TXT = 96 };

static const char *CSS =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}"
    "h3{font-size:15px;margin:18px 0 6px}.meta{color:#555;font-size:13px;margin:2px 0}"
    "table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #e6e6e6}"
    "th{background:#f3f5f8;text-align:right;white-space:nowrap}th.l,td.l{text-align:left}td{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}tr.front td.name{font-weight:bold}"
    "tr.ref td{background:#fbfbf2}.legend{font-size:13px;color:#444}code{font-size:12px}"
    ".bar{display:inline-block;width:120px;height:10px;background:#e9edf2;vertical-align:middle}"
    ".bar span{display:block;height:10px;background:#2b6cb0}.plots svg{max-width:100%;height:auto}"
    "details{margin:6px 0}summary{cursor:pointer;font-weight:bold}.maps{display:flex;flex-wrap:wrap;gap:14px}"
    ".map{font-size:11px;color:#444}.wide{overflow-x:auto;max-width:100%}"
    /* The summary has some 25 columns: headers wrap so that the table fits a
     * 1300 px window; each model's lineage chain heads its section instead. */
    "table.summary{font-size:12px}table.summary th,table.summary td{padding:3px 5px}"
    "table.summary th{white-space:normal;vertical-align:bottom;min-width:3.2em}"
    ".chain{font-weight:normal;color:#555;font-size:13px}";

static void summary_table(shr_strbuf *b, const shr_compare *c) {
    cmp_column cols[CMP_MAX_COLS];
    int n_cols = cmp_columns(c, cols);
    char cell[CELL_TXT];
    shr_sb_puts(b, "<div class=\"wide\"><table class=\"summary\"><thead><tr>");
    for (int j = 0; j < n_cols; j++) {
        cmp_header(c, cols[j], 1, cell, sizeof cell);
        shr_sb_puts(b, cmp_numeric(cols[j]) ? "<th>" : "<th class=\"l\">");
        shr_sb_xml(b, cell);
        shr_sb_puts(b, "</th>");
    }
    shr_sb_puts(b, "</tr></thead><tbody>\n");
    for (int i = 0; i < c->n; i++) {
        const shr_compare_model *m = &c->models[i];
        shr_sb_printf(b, "<tr class=\"%s%s\">", m->pareto_size || m->pareto_latency ? "front" : "",
                      i == c->reference ? " ref" : "");
        for (int j = 0; j < n_cols; j++) {
            cmp_cell(c, i, cols[j], 1, cell, sizeof cell);
            shr_sb_puts(b, cols[j].col == COL_NAME ? "<td class=\"l name\">" : cmp_numeric(cols[j]) ? "<td>"
                                                                                                   : "<td class=\"l\">");
            shr_sb_xml(b, cell);
            shr_sb_puts(b, "</td>");
        }
        shr_sb_puts(b, "</tr>\n");
    }
    shr_sb_puts(b, "</tbody></table></div>\n");
}

/* The density map of one weight as an inline SVG heat map. */
static void density_map(shr_strbuf *b, const shr_graph *g, const char *layer, const shr_tensor *w) {
    float grid[MAP_MAX * MAP_MAX];
    int rows, cols;
    if (w->ndim < 2 || shr_weight_density_grid(w, MAP_MAX, MAP_MAX, grid, &rows, &cols) != SHR_OK) return;
    double cell = fmin(6, fmax(2, 160.0 / (rows > cols ? rows : cols)));
    shr_svg s;
    shr_svg_begin(&s, cols * cell, rows * cell);
    shr_svg_heatmap(&s, 0, 0, cell, cell, grid, rows, cols);
    char *svg = NULL;
    if (shr_svg_end(&s, &svg) != SHR_OK) {
        b->failed = 1;
        return;
    }
    shr_sb_puts(b, "<div class=\"map\">");
    shr_sb_puts(b, svg);
    shr_sb_puts(b, "<br>");
    shr_sb_xml(b, layer);
    shr_sb_printf(b, " (%lld out x %lld in%s)</div>\n", (long long)w->shape[0], (long long)w->shape[1],
                  rows < w->shape[0] || cols < w->shape[1] ? ", blocks" : "");
    free(svg);
    (void)g;
}

static void layer_table(shr_strbuf *b, const shr_graph *g) {
    shr_sb_puts(b, "<table><thead><tr><th class=\"l\">layer</th><th class=\"l\">op</th><th class=\"l\">dtype</th>"
                   "<th>params</th><th>non-zero</th><th class=\"l\">density</th><th>weight bytes</th>"
                   "<th>MFLOPs</th><th>eff. MFLOPs</th><th>SQNR dB</th></tr></thead><tbody>\n");
    for (int k = 0; k < g->n_nodes; k++) {
        shr_layer_metrics lm;
        shr_layer_metrics_compute(g, k, &lm);
        if (!lm.has_weight && lm.flops == 0) continue;
        double density = lm.params ? (double)lm.nonzero / (double)lm.params : NAN;
        shr_sb_puts(b, "<tr><td class=\"l\">");
        shr_sb_xml(b, g->nodes[k].name);
        shr_sb_printf(b, "</td><td class=\"l\">%s</td><td class=\"l\">%s</td>", shr_op_name(g->nodes[k].op),
                      lm.has_weight ? shr_dtype_name(lm.dtype) : "");
        if (lm.has_weight)
            shr_sb_printf(b, "<td>%lld</td><td>%lld</td><td class=\"l\"><span class=\"bar\"><span style=\"width:%.1f%%\">"
                             "</span></span> %.1f%%</td><td>%lld</td>",
                          (long long)lm.params, (long long)lm.nonzero, 100 * density, 100 * density,
                          (long long)lm.weight_bytes);
        else
            shr_sb_puts(b, "<td></td><td></td><td></td><td></td>");
        shr_sb_printf(b, "<td>%.3f</td><td>%.3f</td>", lm.flops / 1e6, lm.effective_flops / 1e6);
        /* Recorded by quantize: this layer's output against its float twin's. */
        double sqnr = shr_quant_layer_sqnr(g, g->nodes[k].name);
        if (isnan(sqnr))
            shr_sb_puts(b, "<td></td></tr>\n");
        else
            shr_sb_printf(b, "<td class=\"sqnr\">%.2f</td></tr>\n", sqnr);
    }
    shr_sb_puts(b, "</tbody></table>\n");
}

static void model_section(shr_strbuf *b, const shr_compare *c, int i) {
    const shr_compare_model *m = &c->models[i];
    const shr_graph *g = m->graph;
    shr_sb_puts(b, "<h3>");
    shr_sb_xml(b, m->name);
    shr_sb_puts(b, i == c->reference ? " (reference)" : "");
    char *chain = NULL;
    if (shr_lineage_summary(g->lineage, &chain) != SHR_OK) b->failed = 1;
    shr_sb_puts(b, " <span class=\"chain\">");
    shr_sb_xml(b, chain);
    shr_sb_puts(b, "</span></h3>\n");
    free(chain);
    if (m->path) {
        shr_sb_puts(b, "<p class=\"meta\"><code>");
        shr_sb_xml(b, m->path);
        shr_sb_puts(b, "</code></p>\n");
    }
    shr_sb_puts(b, "<p class=\"meta\">lineage:</p><ol class=\"legend\">");
    int steps = 0;
    for (const char *s = g->lineage; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *line = strndup(s, len);
        if (!line) b->failed = 1;
        shr_sb_puts(b, "<li><code>");
        shr_sb_xml(b, line);
        shr_sb_puts(b, "</code></li>");
        free(line);
        steps++;
        s += len + (e ? 1 : 0);
    }
    shr_sb_puts(b, steps ? "</ol>\n" : "<li>not recorded</li></ol>\n");
    if (m->output_samples > 0)
        shr_sb_printf(b, "<p class=\"meta outputs\">outputs against the reference's on %lld test samples: "
                         "SQNR %.2f dB, top-1 agreement %.1f%%</p>\n",
                      (long long)m->output_samples, m->output_sqnr_db, 100 * m->top1_agreement);
    shr_sb_puts(b, "<details open><summary>layers</summary>\n");
    layer_table(b, g);
    shr_sb_puts(b, "</details>\n<div class=\"maps\">\n");
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if ((n->op != SHR_OP_LINEAR && n->op != SHR_OP_CONV2D) || n->n_inputs < 2 || n->inputs[1] < 0) continue;
        const shr_value *w = &g->values[n->inputs[1]];
        /* Dense layers need no map: an all-dark square says nothing. */
        if (w->kind == SHR_VALUE_PARAM && w->data && shr_tensor_count_nonzero(w->data) < w->data->numel)
            density_map(b, g, n->name, w->data);
    }
    shr_sb_puts(b, "</div>\n");
}

shr_status shr_compare_html(const shr_compare *c, char **out) {
    *out = NULL;
    char *svg = NULL;
    SHR_TRY(shr_compare_svg(c, &svg));
    shr_strbuf b = {0};
    shr_sb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\"><title>shrink compare</title>"
                      "<style>%s</style></head><body>\n<h1>shrink compare</h1>\n", CSS);
    if (c->command) {
        shr_sb_puts(&b, "<p class=\"meta\"><code>");
        shr_sb_xml(&b, c->command);
        shr_sb_puts(&b, "</code></p>\n");
    }
    shr_sb_puts(&b, "<h2>Summary</h2>\n");
    summary_table(&b, c);
    shr_sb_puts(&b, "<ul class=\"legend\">");
    cmp_legend(c, &b, CMP_HTML);
    shr_sb_puts(&b, "</ul>\n<h2>Trade-offs</h2>\n<div class=\"plots\">");
    shr_sb_puts(&b, svg);
    shr_sb_puts(&b, "</div>\n<h2>Models</h2>\n<p class=\"legend\">Layer SQNR: recorded by <code>shrink quantize</code>, "
                    "each quantized layer's output against the float model it was made from, on calibration "
                    "samples (end to end: it includes the error of the layers before). Empty for float layers.</p>\n");
    for (int i = 0; i < c->n; i++) model_section(&b, c, i);
    shr_sb_puts(&b, "</body></html>\n");
    free(svg);
    return shr_sb_take(&b, out);
}
