/* Typed access to ONNX node attributes, and the importer's error messages
 * (every one names the node, its index and its op). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/onnx/onnx_internal.h"

const Onnx__AttributeProto *ox_attr(const ox_node *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static shr_status wrong_type(const ox_node *n, const char *name, const char *want) {
    return shr_fail(SHR_ERR_FORMAT, "node '%s' (%s): attribute '%s' is not %s", n->name ? n->name : "",
                    n->op_type ? n->op_type : "?", name, want);
}

shr_status ox_attr_int(const ox_node *n, const char *name, int64_t def, int64_t *out) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    *out = def;
    if (!a) return SHR_OK;
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) return wrong_type(n, name, "an int");
    *out = a->i;
    return SHR_OK;
}

shr_status ox_attr_float(const ox_node *n, const char *name, float def, float *out) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    *out = def;
    if (!a) return SHR_OK;
    if (a->has_type && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
        *out = (float)a->i; /* some exporters write whole numbers as ints */
        return SHR_OK;
    }
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) return wrong_type(n, name, "a float");
    *out = a->f;
    return SHR_OK;
}

shr_status ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int max, int *count) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    *count = -1;
    if (!a) return SHR_OK;
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) return wrong_type(n, name, "a list of ints");
    if (a->n_ints > (size_t)max)
        return shr_fail(SHR_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has %zu values (at most %d supported)",
                        n->name ? n->name : "", n->op_type ? n->op_type : "?", name, a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
    *count = (int)a->n_ints;
    return SHR_OK;
}

shr_status ox_attr_string(const ox_node *n, const char *name, char *buf, size_t size) {
    const Onnx__AttributeProto *a = ox_attr(n, name);
    buf[0] = '\0';
    if (!a) return SHR_OK;
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) return wrong_type(n, name, "a string");
    if (!a->has_s) return SHR_OK;
    /* Attribute strings are bytes; shrink only compares them with known words,
     * which a cut-off longer string can never equal. */
    size_t len = a->s.len < size - 1 ? a->s.len : size - 1;
    if (len) memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len) && size > 1) {
        buf[0] = '?';
        buf[1] = '\0';
    }
    return SHR_OK;
}

static shr_status node_fail(const ox_ctx *c, shr_status st, const char *fmt, va_list ap) {
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const ox_node *n = c->node;
    if (!n) return shr_fail(st, "%s", msg);
    return shr_fail(st, "node '%s' (#%d, %s, opset %d): %s", n->name && n->name[0] ? n->name : "(unnamed)",
                    c->node_index, n->op_type ? n->op_type : "?", c->opset, msg);
}

shr_status ox_unsupported(const ox_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    shr_status st = node_fail(c, SHR_ERR_UNSUPPORTED, fmt, ap);
    va_end(ap);
    return st;
}

shr_status ox_bad(const ox_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    shr_status st = node_fail(c, SHR_ERR_FORMAT, fmt, ap);
    va_end(ap);
    return st;
}
