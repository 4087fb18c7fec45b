/* The comparison as an aligned text table, Markdown or CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/compare_cells.h"
#include "report/strbuf.h"

enum { CELL = 96 };

/* Terminal columns of UTF-8 text: count the bytes that start a character. */
static int display_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(shr_strbuf *b, int n) {
    for (int i = 0; i < n; i++) shr_sb_puts(b, " ");
}

static void csv_field(shr_strbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        shr_sb_puts(b, s);
        return;
    }
    shr_sb_puts(b, "\"");
    for (; *s; s++) shr_sb_putn(b, *s == '"' ? "\"\"" : s, (size_t)(*s == '"' ? 2 : 1));
    shr_sb_puts(b, "\"");
}

static void md_field(shr_strbuf *b, const char *s) {
    for (; *s; s++) shr_sb_putn(b, *s == '|' ? "\\|" : s, (size_t)(*s == '|' ? 2 : 1));
}

static void csv(const shr_compare *c, const cmp_column *cols, int n_cols, shr_strbuf *b) {
    char cell[CELL];
    for (int j = 0; j < n_cols; j++) {
        cmp_header(c, cols[j], 0, cell, sizeof cell);
        shr_sb_puts(b, j ? "," : "");
        csv_field(b, cell);
    }
    shr_sb_puts(b, ",lineage\n");
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < n_cols; j++) {
            cmp_cell(c, i, cols[j], 0, cell, sizeof cell);
            shr_sb_puts(b, j ? "," : "");
            csv_field(b, cell);
        }
        char *chain = NULL;
        shr_sb_puts(b, ",");
        if (shr_lineage_summary(c->models[i].graph ? c->models[i].graph->lineage : NULL, &chain) == SHR_OK)
            csv_field(b, chain);
        else b->failed = 1;
        free(chain);
        shr_sb_puts(b, "\n");
    }
}

static void markdown(const shr_compare *c, const cmp_column *cols, int n_cols, shr_strbuf *b) {
    char cell[CELL];
    for (int j = 0; j < n_cols; j++) {
        cmp_header(c, cols[j], 1, cell, sizeof cell);
        shr_sb_puts(b, "| ");
        md_field(b, cell);
        shr_sb_puts(b, " ");
    }
    shr_sb_puts(b, "|\n");
    for (int j = 0; j < n_cols; j++) shr_sb_puts(b, cmp_numeric(cols[j]) ? "|---:" : "|:---");
    shr_sb_puts(b, "|\n");
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < n_cols; j++) {
            cmp_cell(c, i, cols[j], 1, cell, sizeof cell);
            shr_sb_puts(b, "| ");
            md_field(b, cell);
            shr_sb_puts(b, " ");
        }
        shr_sb_puts(b, "|\n");
    }
}

static void text(const shr_compare *c, const cmp_column *cols, int n_cols, shr_strbuf *b) {
    int width[CMP_MAX_COLS];
    char cell[CELL];
    for (int j = 0; j < n_cols; j++) {
        cmp_header(c, cols[j], 1, cell, sizeof cell);
        width[j] = display_width(cell);
        for (int i = 0; i < c->n; i++) {
            cmp_cell(c, i, cols[j], 1, cell, sizeof cell);
            int w = display_width(cell);
            if (w > width[j]) width[j] = w;
        }
    }
    for (int row = -1; row < c->n; row++) {
        for (int j = 0; j < n_cols; j++) {
            if (row < 0) cmp_header(c, cols[j], 1, cell, sizeof cell);
            else cmp_cell(c, row, cols[j], 1, cell, sizeof cell);
            int gap = width[j] - display_width(cell);
            if (j) shr_sb_puts(b, "  ");
            if (cmp_numeric(cols[j])) pad(b, gap);
            shr_sb_puts(b, cell);
            if (!cmp_numeric(cols[j]) && j + 1 < n_cols) pad(b, gap);
        }
        shr_sb_puts(b, "\n");
    }
}

/* One legend item in the chosen style. */
static void item(shr_strbuf *b, cmp_style style, const char *text) {
    static const char *pre[3] = {"", "- ", "<li>"}, *post[3] = {"\n", "\n", "</li>\n"};
    shr_sb_puts(b, pre[style]);
    if (style == CMP_HTML) shr_sb_xml(b, text);
    else shr_sb_puts(b, text);
    shr_sb_puts(b, post[style]);
}

void cmp_legend(const shr_compare *c, shr_strbuf *b, cmp_style style) {
    char line[512];
    snprintf(line, sizeof line,
                     "front: S = Pareto-optimal in accuracy vs file size, L = in accuracy vs latency at batch %d",
                     c->batches[0]);
    item(b, style, line);
    snprintf(line, sizeof line, "reference: %s; MFLOPs are effective (linear/conv scaled by weight density), per sample",
             c->models[c->reference].name);
    item(b, style, line);
    int k = snprintf(line, sizeof line, "latency: one batch, models interleaved; noise (spread of round medians, worst model):");
    for (int j = 0; j < c->n_batches && k > 0 && (size_t)k < sizeof line; j++) {
        double worst = NAN;
        for (int i = 0; i < c->n; i++)
            if (!(c->models[i].lat[j].noise_pct <= worst)) worst = c->models[i].lat[j].noise_pct;
        k += isfinite(worst) ? snprintf(line + k, sizeof line - (size_t)k, " b%d %.1f%%", c->batches[j], worst)
                             : snprintf(line + k, sizeof line - (size_t)k, " b%d -", c->batches[j]);
    }
    item(b, style, line);
    if (c->base_rss_bytes > 0) {
        snprintf(line, sizeof line, "peak RSS: a fresh process loading the model and running batch %d (empty process %.1f MiB)",
                 c->batches[cmp_largest_batch(c)], c->base_rss_bytes / 1048576.0);
        item(b, style, line);
    }
    if (c->threads > 0) {
        snprintf(line, sizeof line, "%d thread(s), %s kernels%s%s%s", c->threads, c->kernels ? c->kernels : "?",
                 c->data ? ", data " : "", c->data ? c->data : "",
                 c->clock == SHR_CLOCK_THREAD_CPU ? "; runs timed by the thread's CPU clock (time other jobs held "
                                                    "the core left out)"
                                                  : "");
        item(b, style, line);
    }
}

/* Each model's lineage chain under the table. */
static void lineage_list(const shr_compare *c, shr_strbuf *b, int markdown) {
    shr_sb_puts(b, markdown ? "- lineage:\n" : "lineage:\n");
    for (int i = 0; i < c->n; i++) {
        char *chain = NULL;
        if (shr_lineage_summary(c->models[i].graph ? c->models[i].graph->lineage : NULL, &chain) != SHR_OK) {
            b->failed = 1;
            return;
        }
        shr_sb_printf(b, markdown ? "  - `%s`: %s\n" : "  %s: %s\n", c->models[i].name, chain);
        free(chain);
    }
}

shr_status shr_compare_table(const shr_compare *c, shr_table_format fmt, char **out) {
    *out = NULL;
    if (c->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "compare: no models");
    cmp_column cols[CMP_MAX_COLS];
    int n_cols = cmp_columns(c, cols);
    shr_strbuf b = {0};
    if (fmt == SHR_TABLE_CSV) {
        csv(c, cols, n_cols, &b);
    } else if (fmt == SHR_TABLE_MARKDOWN) {
        markdown(c, cols, n_cols, &b);
        shr_sb_puts(&b, "\n");
        cmp_legend(c, &b, CMP_MARKDOWN);
        lineage_list(c, &b, 1);
    } else {
        text(c, cols, n_cols, &b);
        shr_sb_puts(&b, "\n");
        cmp_legend(c, &b, CMP_TEXT);
        lineage_list(c, &b, 0);
    }
    return shr_sb_take(&b, out);
}
