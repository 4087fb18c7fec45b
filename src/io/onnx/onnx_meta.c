/* The model's input preprocessing in ONNX metadata_props, so an exported model evaluates like
 * its .shrk without --normalize:
 *   shrink.normalize    "MEAN,STD", each one value or ':'-separated per channel (the CLI's form)
 *   shrink.pixel_scale  the factor raw pixels are scaled by first (1/255 for 8-bit images)
 * Import reads them back; a malformed value fails the import with a clear message. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx/onnx_export.h"

#define KEY_NORM "shrink.normalize"
#define KEY_SCALE "shrink.pixel_scale"

static int add_prop(Onnx__ModelProto *m, const char *key, const char *value) {
    Onnx__StringStringEntryProto **a = realloc(m->metadata_props, (m->n_metadata_props + 1) * sizeof *a);
    if (!a) return 0;
    m->metadata_props = a;
    Onnx__StringStringEntryProto *e = calloc(1, sizeof *e);
    if (!e) return 0;
    onnx__string_string_entry_proto__init(e);
    e->key = strdup(key);
    e->value = strdup(value);
    m->metadata_props[m->n_metadata_props++] = e;
    return e->key && e->value;
}

/* "v0:v1:..." of n floats. */
static void join(char *buf, size_t size, const float *v, int n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%.9g", i ? ":" : "", (double)v[i]);
}

shr_status ex_metadata(ex_ctx *c, Onnx__ModelProto *m) {
    const shr_preproc *p = &c->g->preproc;
    const int n = p->channels < 1 ? 1 : p->channels > SHR_MAX_CHANNELS ? SHR_MAX_CHANNELS : p->channels;
    char mean[160], std[160], norm[330], scale[40];
    join(mean, sizeof mean, p->mean, n);
    join(std, sizeof std, p->std, n);
    snprintf(norm, sizeof norm, "%s,%s", mean, std);
    snprintf(scale, sizeof scale, "%.9g", (double)p->scale);
    if (!add_prop(m, KEY_NORM, norm) || !add_prop(m, KEY_SCALE, scale))
        return shr_fail(SHR_ERR_NOMEM, "out of memory writing the ONNX metadata");
    return SHR_OK;
}

/* Up to SHR_MAX_CHANNELS ':'-separated finite floats in s[0..len); the count, or -1. */
static int parse_list(const char *s, size_t len, float *out, int positive) {
    int n = 0;
    size_t i = 0;
    while (i < len) {
        char tok[64];
        size_t j = i;
        while (j < len && s[j] != ':') j++;
        if (j - i == 0 || j - i >= sizeof tok || n == SHR_MAX_CHANNELS) return -1;
        memcpy(tok, s + i, j - i);
        tok[j - i] = 0;
        char *end;
        errno = 0;
        float v = strtof(tok, &end);
        if (*end || errno || !isfinite(v) || (positive && !(v > 0.0f))) return -1;
        out[n++] = v;
        i = j + 1;
        if (j + 1 == len) return -1; /* a trailing ':' */
    }
    return n;
}

shr_status ox_read_metadata(const Onnx__ModelProto *m, shr_preproc *p) {
    for (size_t k = 0; k < m->n_metadata_props; k++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[k];
        if (!e || !e->key || !e->value) continue;
        const char *v = e->value;
        if (!strcmp(e->key, KEY_NORM)) {
            const char *comma = strchr(v, ',');
            float mean[SHR_MAX_CHANNELS], std[SHR_MAX_CHANNELS];
            int nm = comma ? parse_list(v, (size_t)(comma - v), mean, 0) : -1;
            int ns = comma ? parse_list(comma + 1, strlen(comma + 1), std, 1) : -1;
            if (nm < 1 || ns != nm)
                return shr_fail(SHR_ERR_FORMAT, "metadata '%s' must be MEAN,STD with 1 to %d ':'-separated values "
                                "each (STD > 0), got '%.80s'", KEY_NORM, SHR_MAX_CHANNELS, v);
            p->channels = nm;
            for (int ch = 0; ch < SHR_MAX_CHANNELS; ch++) {
                p->mean[ch] = ch < nm ? mean[ch] : 0.0f;
                p->std[ch] = ch < nm ? std[ch] : 1.0f;
            }
        } else if (!strcmp(e->key, KEY_SCALE)) {
            float s;
            if (parse_list(v, strlen(v), &s, 1) != 1)
                return shr_fail(SHR_ERR_FORMAT, "metadata '%s' must be one finite number > 0, got '%.80s'", KEY_SCALE, v);
            p->scale = s;
        }
    }
    return SHR_OK;
}
