/* Growable text buffer with a sticky allocation-failure flag. */
#include "report/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(shr_strbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->buf = p;
    b->cap = cap;
    return 1;
}

void shr_sb_putn(shr_strbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void shr_sb_puts(shr_strbuf *b, const char *s) { shr_sb_putn(b, s, strlen(s)); }

void shr_sb_printf(shr_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void shr_sb_xml(shr_strbuf *b, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': shr_sb_puts(b, "&amp;"); break;
        case '<': shr_sb_puts(b, "&lt;"); break;
        case '>': shr_sb_puts(b, "&gt;"); break;
        case '"': shr_sb_puts(b, "&quot;"); break;
        case '\'': shr_sb_puts(b, "&#39;"); break;
        default:
            /* XML 1.0 forbids most C0 controls even as character references. */
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') c = '?';
            shr_sb_putn(b, (const char *)&c, 1);
        }
    }
}

void shr_sb_num(shr_strbuf *b, double v, int digits) {
    if (!isfinite(v)) v = 0;
    if (v == 0) v = 0; /* turns -0 into 0 */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*g", digits, v);
    /* A non-C locale could have written a decimal comma. */
    for (char *p = tmp; *p; p++)
        if (*p == ',') *p = '.';
    shr_sb_puts(b, tmp);
}

shr_status shr_sb_take(shr_strbuf *b, char **out) {
    *out = NULL;
    if (b->failed) {
        shr_sb_free(b);
        return shr_fail(SHR_ERR_NOMEM, "out of memory while writing a report");
    }
    if (!b->buf) {
        b->buf = malloc(1);
        if (!b->buf) return shr_fail(SHR_ERR_NOMEM, "out of memory while writing a report");
        b->buf[0] = '\0';
    }
    *out = b->buf;
    b->buf = NULL;
    b->len = b->cap = 0;
    return SHR_OK;
}

void shr_sb_free(shr_strbuf *b) {
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
