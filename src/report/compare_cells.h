/* Internal: the columns of the comparison, shared by the text, Markdown, CSV,
 * JSON and HTML writers so every format shows the same figures. */
#ifndef SHR_REPORT_COMPARE_CELLS_H
#define SHR_REPORT_COMPARE_CELLS_H

#include <stddef.h>

#include "report/strbuf.h"
#include "shrink/report.h"

typedef enum cmp_col {
    COL_FRONT = 0, /* Pareto marks */
    COL_NAME,
    COL_FILE,      /* file size */
    COL_RATIO,     /* file size / reference */
    COL_PARAMS,
    COL_NONZERO,
    COL_FLOPS,     /* effective */
    COL_WEIGHTS,   /* weight bytes in memory */
    COL_ARENA,     /* activation arena at the largest batch */
    COL_RSS,
    COL_ACC,
    COL_DELTA,
    COL_P50,       /* per batch from here on */
    COL_P99,
    COL_SPEEDUP,
    COL_THROUGHPUT,
    COL_COUNT
} cmp_col;

#define CMP_FIRST_BATCH_COL COL_P50
#define CMP_MAX_COLS (COL_P50 + 4 * SHR_COMPARE_MAX_BATCHES)

/* Column j of the expanded table (per-batch columns repeated for each batch). */
typedef struct cmp_column {
    cmp_col col;
    int batch; /* index into shr_compare.batches for per-batch columns */
} cmp_column;

int cmp_columns(const shr_compare *c, cmp_column *cols);
/* Header: pretty ("b1 p50 ms") or as a CSV/JSON key ("latency_ms_b1"). */
void cmp_header(const shr_compare *c, cmp_column col, int pretty, char *buf, size_t size);
/* Cell of model i: pretty (rounded, with units as in the header) or raw
 * (exact numbers, bytes, accuracy 0..1); "" / "-" when unknown. */
void cmp_cell(const shr_compare *c, int i, cmp_column col, int pretty, char *buf, size_t size);
/* Right-aligned (numeric) column. */
int cmp_numeric(cmp_column col);
/* The largest batch's index in c->batches. */
int cmp_largest_batch(const shr_compare *c);

typedef enum cmp_style { CMP_TEXT = 0, CMP_MARKDOWN, CMP_HTML } cmp_style;
/* What the columns mean, the noise, RSS baseline and machine: one item per
 * line (text), "- " items (Markdown) or <li> items (HTML, escaped). */
void cmp_legend(const shr_compare *c, shr_strbuf *b, cmp_style style);

#endif
