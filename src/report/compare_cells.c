/* The comparison's columns: headers and cells in pretty and raw form. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/compare_cells.h"

int cmp_largest_batch(const shr_compare *c) {
    int best = 0;
    for (int b = 1; b < c->n_batches; b++)
        if (c->batches[b] > c->batches[best]) best = b;
    return best;
}

int cmp_columns(const shr_compare *c, cmp_column *cols) {
    int n = 0;
    for (int k = 0; k < CMP_FIRST_BATCH_COL; k++) cols[n++] = (cmp_column){(cmp_col)k, 0};
    for (int b = 0; b < c->n_batches && b < SHR_COMPARE_MAX_BATCHES; b++)
        for (int k = CMP_FIRST_BATCH_COL; k < COL_COUNT; k++) cols[n++] = (cmp_column){(cmp_col)k, b};
    return n;
}

int cmp_numeric(cmp_column col) { return col.col != COL_FRONT && col.col != COL_NAME; }

void cmp_header(const shr_compare *c, cmp_column col, int pretty, char *buf, size_t size) {
    static const char *pretty_names[COL_COUNT] = {
        "front",   "model",      "file KiB", "x ref",  "params",    "non-zero", "MFLOPs",    "weights KiB",
        "arena KiB", "peak RSS MiB", "acc %", "\xce\x94pt", "p50 ms", "p99 ms", "speedup", "samples/s"};
    static const char *keys[COL_COUNT] = {
        "pareto",      "name",          "file_bytes",     "size_ratio",   "params",       "nonzero_params",
        "flops",       "weight_bytes",  "arena_bytes",    "peak_rss_bytes", "accuracy",   "accuracy_delta_pt",
        "latency_ms_b", "latency_p99_ms_b", "speedup_b", "samples_per_s_b"};
    int batch = c->batches[col.batch];
    if (col.col < CMP_FIRST_BATCH_COL)
        snprintf(buf, size, "%s", pretty ? pretty_names[col.col] : keys[col.col]);
    else if (pretty)
        snprintf(buf, size, "b%d %s", batch, pretty_names[col.col]);
    else
        snprintf(buf, size, "%s%d", keys[col.col], batch);
}

static void fmt_num(char *buf, size_t size, const char *fmt, double v) {
    if (isfinite(v)) snprintf(buf, size, fmt, v);
    else snprintf(buf, size, "-");
}

static void fmt_int(char *buf, size_t size, int64_t v) {
    if (v >= 0) snprintf(buf, size, "%lld", (long long)v);
    else snprintf(buf, size, "-");
}

void cmp_cell(const shr_compare *c, int i, cmp_column col, int pretty, char *buf, size_t size) {
    const shr_compare_model *m = &c->models[i];
    const shr_bench_result *l = &m->lat[col.batch];
    int big = cmp_largest_batch(c);
    buf[0] = '\0';
    switch (col.col) {
    case COL_FRONT:
        if (pretty) snprintf(buf, size, "%s%s", m->pareto_size ? "S" : " ", m->pareto_latency ? "L" : " ");
        else snprintf(buf, size, "%s%s%s", m->pareto_size ? "size" : "", m->pareto_size && m->pareto_latency ? "+" : "",
                      m->pareto_latency ? "latency" : "");
        break;
    case COL_NAME: snprintf(buf, size, "%s", m->name ? m->name : "?"); break;
    case COL_FILE:
        if (pretty) fmt_num(buf, size, "%.1f", m->file_bytes >= 0 ? m->file_bytes / 1024.0 : NAN);
        else fmt_int(buf, size, m->file_bytes);
        break;
    case COL_RATIO: fmt_num(buf, size, pretty ? "%.3fx" : "%.6g", m->size_ratio); break;
    case COL_PARAMS: fmt_int(buf, size, m->metrics.params); break;
    case COL_NONZERO: fmt_int(buf, size, m->metrics.nonzero_params); break;
    case COL_FLOPS:
        if (pretty) fmt_num(buf, size, "%.3f", m->metrics.effective_flops / 1e6);
        else fmt_int(buf, size, m->metrics.effective_flops);
        break;
    case COL_WEIGHTS:
        if (pretty) fmt_num(buf, size, "%.1f", m->metrics.weight_bytes / 1024.0);
        else fmt_int(buf, size, m->metrics.weight_bytes);
        break;
    case COL_ARENA:
        if (pretty) fmt_num(buf, size, "%.1f", m->lat[big].runs ? m->lat[big].arena_bytes / 1024.0 : NAN);
        else fmt_int(buf, size, m->lat[big].runs ? (int64_t)m->lat[big].arena_bytes : -1);
        break;
    case COL_RSS:
        if (pretty) fmt_num(buf, size, "%.1f", m->peak_rss_bytes >= 0 ? m->peak_rss_bytes / 1048576.0 : NAN);
        else fmt_int(buf, size, m->peak_rss_bytes);
        break;
    case COL_ACC: fmt_num(buf, size, pretty ? "%.2f" : "%.6g", pretty ? 100 * m->accuracy : m->accuracy); break;
    case COL_DELTA: fmt_num(buf, size, pretty ? "%+.2f" : "%.6g", m->delta_pt); break;
    case COL_P50: fmt_num(buf, size, pretty ? "%.3f" : "%.6g", l->runs ? l->p50_ms : NAN); break;
    case COL_P99: fmt_num(buf, size, pretty ? "%.3f" : "%.6g", l->runs ? l->p99_ms : NAN); break;
    case COL_SPEEDUP: fmt_num(buf, size, pretty ? "%.2fx" : "%.6g", m->speedup[col.batch]); break;
    case COL_THROUGHPUT: fmt_num(buf, size, pretty ? "%.0f" : "%.6g", l->runs ? l->samples_per_s : NAN); break;
    default: break;
    }
    if (!pretty && strcmp(buf, "-") == 0) buf[0] = '\0'; /* CSV/JSON: unknown is empty */
}
