/* Internal: a growable text buffer for the report writers (SVG, HTML, tables,
 * CSV). Appends never fail loudly: an allocation failure sets a sticky flag
 * that shr_sb_take() turns into SHR_ERR_NOMEM, so writers can append freely and
 * check once at the end. */
#ifndef SHR_REPORT_STRBUF_H
#define SHR_REPORT_STRBUF_H

#include <stddef.h>

#include "core/error.h"
#include "shrink/status.h"

typedef struct shr_strbuf {
    char *buf;  /* NUL-terminated once anything was appended */
    size_t len, cap;
    int failed; /* an allocation failed; everything after it was dropped */
} shr_strbuf;

/* A zeroed shr_strbuf is an empty buffer; no init call is needed. */
void shr_sb_puts(shr_strbuf *b, const char *s);
void shr_sb_putn(shr_strbuf *b, const char *s, size_t n);
void shr_sb_printf(shr_strbuf *b, const char *fmt, ...) SHR_PRINTF(2, 3);
/* Appends s with & < > " ' replaced by entities (valid in XML/HTML text and
 * attribute values); control characters other than tab/newline become '?'. */
void shr_sb_xml(shr_strbuf *b, const char *s);
/* Appends a number the way SVG/CSS/JSON accept it: no locale, no nan/inf
 * (written as 0), at most `digits` significant digits. */
void shr_sb_num(shr_strbuf *b, double v, int digits);
/* Hands the text to the caller (free() it) and resets b; SHR_ERR_NOMEM if any
 * append failed (b is freed then). An empty buffer yields "". */
shr_status shr_sb_take(shr_strbuf *b, char **out);
void shr_sb_free(shr_strbuf *b);

#endif
