/* Lineage: source hashes of derived models and the short chain shown in reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "report/sha256.h"
#include "report/strbuf.h"
#include "shrink/io.h"
#include "shrink/report.h"

shr_status shr_model_sha256(const shr_graph *g, char hex[65]) {
    void *buf;
    size_t size;
    SHR_TRY(shr_model_to_memory(g, &buf, &size));
    shr_sha256 c;
    shr_sha256_init(&c);
    shr_sha256_update(&c, buf, size);
    shr_sha256_hex(&c, hex);
    free(buf);
    return SHR_OK;
}

shr_status shr_file_sha256(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return shr_fail(SHR_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    shr_sha256 c;
    shr_sha256_init(&c);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) shr_sha256_update(&c, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return shr_fail(SHR_ERR_IO, "cannot read '%s'", path);
    shr_sha256_hex(&c, hex);
    return SHR_OK;
}

shr_status shr_lineage_add_step(shr_graph *g, const char *step, const char *source_sha256) {
    /* shr_graph_add_lineage refuses multi-line steps. */
    if (!step || !step[0]) return shr_fail(SHR_ERR_INVALID_ARG, "lineage: empty step");
    if (!source_sha256) return shr_graph_add_lineage(g, step);
    if (strspn(source_sha256, "0123456789abcdef") < 16)
        return shr_fail(SHR_ERR_INVALID_ARG, "lineage: the source hash must be at least 16 lower-case hex digits");
    shr_strbuf b = {0};
    shr_sb_printf(&b, "%s source=sha256:%.16s", step, source_sha256);
    char *line;
    SHR_TRY(shr_sb_take(&b, &line));
    shr_status st = shr_graph_add_lineage(g, line);
    free(line);
    return st;
}

/* A path-like value ("runs/cnn.shrk", "nets/tiny.txt") as its base name
 * without the extension; anything else as it is. */
static void put_value(shr_strbuf *b, const char *val) {
    const char *base = strrchr(val, '/') ? strrchr(val, '/') + 1 : val;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".shrk") == 0) bl -= 5;
    else if (bl > 4 && strcmp(base + bl - 4, ".txt") == 0) bl -= 4;
    shr_sb_putn(b, base, bl);
}

/* Appends the short form of one step (text [s, e)). */
static void summarize_step(shr_strbuf *b, const char *s, const char *e) {
    char line[1024];
    size_t len = (size_t)(e - s) < sizeof line - 1 ? (size_t)(e - s) : sizeof line - 1;
    memcpy(line, s, len);
    line[len] = '\0';
    char *save = NULL, *verb = strtok_r(line, " \t", &save);
    if (!verb) return;
    int is_train = strcmp(verb, "train") == 0, shown = 0;
    if (!is_train) shr_sb_puts(b, verb);
    for (char *tok = strtok_r(NULL, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        const char *val = eq ? eq + 1 : tok;
        if (is_train) {
            if (eq && strncmp(tok, "arch=", 5) == 0) {
                put_value(b, val);
                return;
            }
            continue;
        }
        if (eq && (strncmp(tok, "source=", 7) == 0 || strncmp(tok, "seed=", 5) == 0 || strncmp(tok, "data=", 5) == 0))
            continue;
        if (shown++ == 3) break;
        shr_sb_puts(b, " ");
        put_value(b, val);
    }
    if (is_train) shr_sb_puts(b, "train");
}

shr_status shr_lineage_summary(const char *lineage, char **out) {
    shr_strbuf b = {0};
    int steps = 0;
    for (const char *s = lineage; s && *s;) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        if (e > s) {
            if (steps++) shr_sb_puts(&b, " \xe2\x86\x92 "); /* → */
            summarize_step(&b, s, e);
        }
        s = *e ? e + 1 : e;
    }
    if (!steps) shr_sb_puts(&b, "unknown");
    return shr_sb_take(&b, out);
}
