/* CSV reader: one sample per line, "label,feature,feature,...".
 *
 * Rules (everything else is a format error naming the file and line):
 * - the first non-blank line is a header, and skipped, if its first field is
 *   not a number; blank lines are skipped anywhere;
 * - labels are whole numbers 0..999 ("3" or "3.0");
 * - features are finite decimal numbers that fit a float (no NaN / inf);
 * - every data line has the same number of fields as the first one;
 * - fields may be padded with spaces or tabs; lines may end in \r\n;
 * - no quoting (a quoted field is reported as not a number).
 * Lines are limited to SHR_CSV_MAX_LINE bytes, so memory stays bounded by the
 * data actually present. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "data/data_internal.h"

#define SHR_CSV_MAX_LINE (4 * 1024 * 1024)

typedef struct csv_reader {
    FILE *f;
    const char *path;
    char *line;
    size_t len, cap;
    long lineno;
} csv_reader;

/* Reads the next line (without its \n or \r\n) into r->line; *eof at the end. */
static shr_status csv_next_line(csv_reader *r, int *eof) {
    int ch;
    r->len = 0;
    r->lineno++;
    *eof = 0;
    while ((ch = getc_unlocked(r->f)) != EOF && ch != '\n') {
        if (ch == '\0')
            return shr_fail(SHR_ERR_FORMAT, "%s:%ld: NUL byte in a CSV file (is it binary?)", r->path, r->lineno);
        if (r->len + 1 >= r->cap) {
            if (r->cap >= SHR_CSV_MAX_LINE)
                return shr_fail(SHR_ERR_LIMIT, "%s:%ld: line longer than the limit of %d bytes", r->path,
                                r->lineno, SHR_CSV_MAX_LINE);
            size_t ncap = r->cap ? r->cap * 2 : 4096;
            char *nl = realloc(r->line, ncap);
            if (!nl) return shr_fail(SHR_ERR_NOMEM, "%s:%ld: out of memory", r->path, r->lineno);
            r->line = nl;
            r->cap = ncap;
        }
        r->line[r->len++] = (char)ch;
    }
    if (ferror(r->f)) return shr_fail(SHR_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    if (ch == EOF && r->len == 0) {
        *eof = 1;
        return SHR_OK;
    }
    if (r->len > 0 && r->line[r->len - 1] == '\r') r->len--;
    if (!r->line) { /* an empty line before any allocation */
        r->line = malloc(4096);
        if (!r->line) return shr_fail(SHR_ERR_NOMEM, "%s: out of memory", r->path);
        r->cap = 4096;
    }
    r->line[r->len] = '\0';
    return SHR_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits the line in place at commas: fields[i] is a trimmed, NUL-terminated
 * field. Returns the field count, or -1 if there are more than max. */
static int csv_split(char *line, size_t len, char **fields, int max) {
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        char *comma = memchr(p, ',', (size_t)(end - p));
        char *fe = comma ? comma : end;
        if (n == max) return -1;
        while (p < fe && is_blank(*p)) p++;
        char *q = fe;
        while (q > p && is_blank(q[-1])) q--;
        *q = '\0';
        fields[n++] = p;
        if (!comma) return n;
        p = comma + 1;
    }
}

/* Parses a whole field as a number; 0 if it is not one. */
static int parse_number(const char *s, double *out) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0';
}

static int line_is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_blank(s[i])) return 0;
    return 1;
}

/* Parses one data line (already split) into x_row and *label. */
static shr_status csv_parse_row(const csv_reader *r, char **fields, int nf, float *x_row, int32_t *label,
                                float *absmax) {
    double v;
    if (!parse_number(fields[0], &v))
        return shr_fail(SHR_ERR_FORMAT, "%s:%ld: label '%.40s' is not a number", r->path, r->lineno, fields[0]);
    if (!isfinite(v) || v != floor(v))
        return shr_fail(SHR_ERR_FORMAT, "%s:%ld: label '%.40s' is not a whole number", r->path, r->lineno,
                        fields[0]);
    if (v < 0)
        return shr_fail(SHR_ERR_FORMAT, "%s:%ld: label '%.40s' is negative", r->path, r->lineno, fields[0]);
    if (v >= SHR_DATA_MAX_CLASSES)
        return shr_fail(SHR_ERR_LIMIT, "%s:%ld: label '%.40s' exceeds the limit of %d classes", r->path, r->lineno,
                        fields[0], SHR_DATA_MAX_CLASSES);
    *label = (int32_t)v;
    for (int i = 1; i < nf; i++) {
        if (!*fields[i])
            return shr_fail(SHR_ERR_FORMAT, "%s:%ld: field %d is empty", r->path, r->lineno, i + 1);
        if (!parse_number(fields[i], &v))
            return shr_fail(SHR_ERR_FORMAT, "%s:%ld: field %d '%.40s' is not a number", r->path, r->lineno, i + 1,
                            fields[i]);
        if (!isfinite(v) || fabs(v) > FLT_MAX)
            return shr_fail(SHR_ERR_FORMAT, "%s:%ld: field %d '%.40s' is not a finite float value", r->path,
                            r->lineno, i + 1, fields[i]);
        float fv = (float)v;
        x_row[i - 1] = fv;
        if (fabsf(fv) > *absmax) *absmax = fabsf(fv);
    }
    return SHR_OK;
}

/* Makes room for row `n` (0-based) of `nfeat` features. */
static shr_status csv_grow(const csv_reader *r, int64_t n, int nfeat, float **x, int32_t **y, int64_t *cap) {
    if (n < *cap) return SHR_OK;
    int64_t values;
    if (n + 1 > SHR_DATA_MAX_SAMPLES)
        return shr_fail(SHR_ERR_LIMIT, "%s: more than %lld samples", r->path, (long long)SHR_DATA_MAX_SAMPLES);
    if (shr_mul_overflow_i64(n + 1, nfeat, &values) || values > SHR_DATA_MAX_VALUES)
        return shr_fail(SHR_ERR_LIMIT, "%s:%ld: more than %lld values in total", r->path, r->lineno,
                        (long long)SHR_DATA_MAX_VALUES);
    /* The first block holds 256 rows or 256 KiB, whichever is less (but one row
     * at least): a single wide line must not reserve room for 255 more. */
    int64_t first = (256 * 1024 / 4) / nfeat;
    int64_t ncap = *cap ? *cap * 2 : (first < 1 ? 1 : first > 256 ? 256 : first);
    if (ncap > SHR_DATA_MAX_SAMPLES) ncap = SHR_DATA_MAX_SAMPLES;
    if (ncap * nfeat > SHR_DATA_MAX_VALUES) ncap = SHR_DATA_MAX_VALUES / nfeat;
    float *nx = realloc(*x, (size_t)ncap * (size_t)nfeat * sizeof(float));
    if (nx) *x = nx;
    int32_t *ny = nx ? realloc(*y, (size_t)ncap * sizeof(int32_t)) : NULL;
    if (ny) *y = ny;
    if (!nx || !ny) return shr_fail(SHR_ERR_NOMEM, "%s: out of memory after %lld samples", r->path, (long long)n);
    *cap = ncap;
    return SHR_OK;
}

shr_status shr_csv_load(const char *path, int64_t limit, shr_dataset **out) {
    csv_reader r = {0};
    r.path = path;
    errno = 0;
    r.f = fopen(path, "rb");
    if (!r.f) return shr_fail(SHR_ERR_IO, "cannot open dataset file %s: %s", path, strerror(errno));

    float *x = NULL;
    int32_t *y = NULL;
    char **fields = NULL;
    int64_t n = 0, cap = 0;
    int nf = 0, eof = 0, seen_line = 0;
    float absmax = 0.0f;
    shr_status st = SHR_OK;
    while (limit <= 0 || n < limit) {
        st = csv_next_line(&r, &eof);
        if (st != SHR_OK || eof) break;
        if (line_is_blank(r.line, r.len)) continue;
        if (nf == 0) {
            /* First non-blank line: size the field array by its comma count. */
            int64_t commas = 0; /* < SHR_CSV_MAX_LINE, so the count fits an int */
            for (size_t i = 0; i < r.len; i++) commas += r.line[i] == ',';
            int want = (int)commas + 1;
            char **nfields = realloc(fields, (size_t)want * sizeof *fields);
            if (!nfields) {
                st = shr_fail(SHR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            fields = nfields;
            int got = csv_split(r.line, r.len, fields, want);
            double v;
            if (!seen_line && !parse_number(fields[0], &v)) {
                seen_line = 1; /* a header: skip it; the next line sizes the fields */
                continue;
            }
            seen_line = 1;
            if (got < 2) {
                st = shr_fail(SHR_ERR_FORMAT, "%s:%ld: a CSV sample needs a label and at least one feature", path,
                              r.lineno);
                break;
            }
            nf = got;
        } else {
            int got = csv_split(r.line, r.len, fields, nf);
            if (got != nf) {
                int64_t commas = 0;
                for (size_t i = 0; i < r.len; i++) commas += r.line[i] == ',';
                st = shr_fail(SHR_ERR_FORMAT, "%s:%ld: %lld fields, but the first sample line has %d", path,
                              r.lineno, got < 0 ? (long long)commas + 1 : (long long)got, nf);
                break;
            }
        }
        st = csv_grow(&r, n, nf - 1, &x, &y, &cap);
        if (st != SHR_OK) break;
        st = csv_parse_row(&r, fields, nf, x + n * (nf - 1), &y[n], &absmax);
        if (st != SHR_OK) break;
        n++;
    }
    fclose(r.f);
    free(r.line);
    free(fields);
    if (st == SHR_OK && n == 0) st = shr_fail(SHR_ERR_FORMAT, "%s: no samples in the CSV file", path);
    if (st != SHR_OK) {
        free(x);
        free(y);
        return st;
    }
    return shr_dataset_wrap(path, n, 1, 1, nf - 1, x, y, absmax, out);
}
