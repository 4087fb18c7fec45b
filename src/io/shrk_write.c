/* .shrk writer: serializes a graph into one buffer (layout in io/shrk_format.h),
 * and shr_model_save, which hands that buffer to the atomic file writer.
 * The writer refuses graphs the reader would reject, so a saved file loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "io/shrk_format.h"
#include "io/shrk_sparse.h"
#include "shrink/io.h"

/* A growable byte buffer; an allocation failure sticks and is reported once at the end. */
typedef struct dynbuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} dynbuf;

static uint8_t *db_grow(dynbuf *b, size_t n) {
    if (b->failed) return NULL;
    size_t need;
    if (shr_add_overflow_size(b->len, n, &need)) {
        b->failed = 1;
        return NULL;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (shr_mul_overflow_size(cap, 2, &cap)) {
                b->failed = 1;
                return NULL;
            }
        }
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len = need;
    return at;
}

static void put_u32(dynbuf *b, uint32_t v) {
    uint8_t *at = db_grow(b, 4);
    if (at) shrk_put_u32(at, v);
}
static void put_i32(dynbuf *b, int32_t v) { put_u32(b, (uint32_t)v); }
static void put_i64(dynbuf *b, int64_t v) {
    uint8_t *at = db_grow(b, 8);
    if (at) shrk_put_u64(at, (uint64_t)v);
}
static void put_f32(dynbuf *b, float f) { put_u32(b, shrk_f32_bits(f)); }
static void put_str(dynbuf *b, const char *s) {
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n); /* lengths were checked against the limits before */
    uint8_t *at = db_grow(b, n);
    if (at && n) memcpy(at, s, n);
}
static void put_opt_str(dynbuf *b, const char *s) {
    put_u32(b, s ? 1u : 0u);
    if (s) put_str(b, s);
    else put_u32(b, 0);
}

/* ---- checks: everything the reader would reject, with a message naming the culprit ---- */

static shr_status check_name(const char *what, int idx, const char *name) {
    if (!name || !name[0]) return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: %s %d has no name", what, idx);
    if (strlen(name) > SHRK_MAX_NAME)
        return shr_fail(SHR_ERR_LIMIT, "cannot save: %s %d: name longer than %d bytes", what, idx, SHRK_MAX_NAME);
    return SHR_OK;
}

static shr_status check_value(const shr_graph *g, int i) {
    const shr_value *v = &g->values[i];
    SHR_TRY(check_name("value", i, v->name));
    if ((unsigned)v->kind > SHR_VALUE_ACT)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has an invalid kind %d", v->name, (int)v->kind);
    if (v->ndim < 0 || v->ndim > SHR_MAX_DIMS)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has rank %d", v->name, v->ndim);
    int has_data = v->kind == SHR_VALUE_PARAM || v->kind == SHR_VALUE_BUFFER;
    for (int d = 0; d < v->ndim; d++) {
        int64_t lo = (!has_data && d == 0) ? -1 : 0;
        if (v->shape[d] < lo)
            return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has dimension %d = %lld", v->name, d,
                            (long long)v->shape[d]);
    }
    if (v->kind == SHR_VALUE_ACT ? (v->producer < 0 || v->producer >= g->n_nodes) : v->producer != -1)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has an invalid producer %d", v->name,
                        v->producer);
    if (!has_data) {
        if (v->data) return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' must not hold data", v->name);
        return SHR_OK;
    }
    const shr_tensor *t = v->data;
    if (!t || !t->data) return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has no data", v->name);
    if ((unsigned)t->dtype >= SHR_DTYPE_COUNT)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s' has an invalid dtype", v->name);
    SHR_TRY(shr_tensor_expect(t, v->ndim, v->shape, v->name));
    int64_t numel;
    size_t nbytes;
    SHR_TRY(shr_shape_numel(v->ndim, v->shape, &numel));
    SHR_TRY(shr_dtype_storage(t->dtype, numel, &nbytes));
    if (t->numel != numel || t->nbytes != nbytes)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: value '%s': tensor size does not match its shape",
                        v->name);
    return SHR_OK;
}

static int attr_int_ok(int v) { return v >= 0 && v <= SHRK_MAX_ATTR_INT; }

static shr_status check_node(const shr_graph *g, int k) {
    const shr_node *n = &g->nodes[k];
    SHR_TRY(check_name("node", k, n->name));
    if ((unsigned)n->op >= SHR_OP_COUNT)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: node '%s' has an invalid op %d", n->name, (int)n->op);
    const shr_attrs *a = &n->attrs;
    int ok = attr_int_ok(a->groups) && (a->count_include_pad == 0 || a->count_include_pad == 1) &&
             a->ndim >= 0 && a->ndim <= SHR_MAX_DIMS && a->axis >= -SHR_MAX_DIMS && a->axis <= SHR_MAX_DIMS;
    for (int i = 0; i < 2; i++) ok = ok && attr_int_ok(a->kernel[i]) && attr_int_ok(a->stride[i]) && attr_int_ok(a->dilation[i]);
    for (int i = 0; i < 4; i++) ok = ok && attr_int_ok(a->pad[i]);
    for (int i = 0; i < SHR_MAX_DIMS; i++) ok = ok && a->shape[i] >= -1;
    if (!ok) return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: node '%s' has attributes out of range", n->name);
    if (n->n_inputs < 0 || n->n_inputs > SHRK_MAX_NODE_INPUTS || (n->n_inputs > 0 && !n->inputs))
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: node '%s' has %d inputs", n->name, n->n_inputs);
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] < -1 || n->inputs[i] >= g->n_values)
            return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: node '%s': input %d refers to no value", n->name, i);
    if (n->output < 0 || n->output >= g->n_values)
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: node '%s' has no valid output", n->name);
    return SHR_OK;
}

static shr_status check_text(const char *what, const char *s) {
    if (s && strlen(s) > SHRK_MAX_TEXT)
        return shr_fail(SHR_ERR_LIMIT, "cannot save: %s text is longer than %u bytes", what, SHRK_MAX_TEXT);
    return SHR_OK;
}

static shr_status check_graph(const shr_graph *g) {
    if (g->n_values < 0 || g->n_values > SHRK_MAX_VALUES || g->n_nodes < 0 || g->n_nodes > SHRK_MAX_NODES)
        return shr_fail(SHR_ERR_LIMIT, "cannot save: %d values / %d nodes exceed the limits (%d / %d)", g->n_values,
                        g->n_nodes, SHRK_MAX_VALUES, SHRK_MAX_NODES);
    if ((g->n_values && !g->values) || (g->n_nodes && !g->nodes))
        return shr_fail(SHR_ERR_INVALID_ARG, "cannot save: graph has no value or node table");
    for (int i = 0; i < g->n_values; i++) SHR_TRY(check_value(g, i));
    for (int k = 0; k < g->n_nodes; k++) SHR_TRY(check_node(g, k));
    SHR_TRY(check_text("arch", g->arch));
    SHR_TRY(check_text("lineage", g->lineage));
    /* Topology, shapes, preprocessing: the same check the reader ends with. */
    shr_status st = shr_graph_validate(g);
    if (st != SHR_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", shr_last_error());
        return shr_fail(st, "cannot save an invalid graph: %s", msg);
    }
    return SHR_OK;
}

/* ---- sections ---- */

static void write_meta(dynbuf *b, const shr_graph *g) {
    put_opt_str(b, g->arch);
    put_opt_str(b, g->lineage);
    const shr_preproc *p = &g->preproc;
    put_f32(b, p->scale);
    put_i32(b, p->channels);
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) put_f32(b, p->mean[c]);
    for (int c = 0; c < SHR_MAX_CHANNELS; c++) put_f32(b, p->std[c]);
}

static void write_attrs(dynbuf *b, const shr_attrs *a) {
    for (int i = 0; i < 2; i++) put_i32(b, a->kernel[i]);
    for (int i = 0; i < 2; i++) put_i32(b, a->stride[i]);
    for (int i = 0; i < 4; i++) put_i32(b, a->pad[i]);
    for (int i = 0; i < 2; i++) put_i32(b, a->dilation[i]);
    put_i32(b, a->groups);
    put_f32(b, a->alpha);
    put_f32(b, a->eps);
    put_f32(b, a->momentum);
    put_i32(b, a->axis);
    put_i32(b, a->count_include_pad);
    put_i32(b, a->ndim);
    for (int i = 0; i < SHR_MAX_DIMS; i++) put_i64(b, a->shape[i]);
}

static void write_graph(dynbuf *b, const shr_graph *g) {
    put_u32(b, (uint32_t)g->n_values);
    put_u32(b, (uint32_t)g->n_nodes);
    put_i32(b, g->input);
    put_i32(b, g->output);
    for (int i = 0; i < g->n_values; i++) {
        const shr_value *v = &g->values[i];
        put_str(b, v->name);
        put_u32(b, (uint32_t)v->kind);
        put_u32(b, (uint32_t)(v->data ? v->data->dtype : SHR_F32));
        put_u32(b, (uint32_t)v->ndim);
        for (int d = 0; d < v->ndim; d++) put_i64(b, v->shape[d]);
        put_i32(b, v->producer);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        put_str(b, n->name);
        put_u32(b, (uint32_t)n->op);
        write_attrs(b, &n->attrs);
        put_u32(b, (uint32_t)n->n_inputs);
        for (int i = 0; i < n->n_inputs; i++) put_i32(b, n->inputs[i]);
        put_i32(b, n->output);
    }
}

static int align_up(size_t x, size_t *out) {
    if (shr_add_overflow_size(x, SHRK_ALIGN - 1, out)) return 1;
    *out &= ~(size_t)(SHRK_ALIGN - 1);
    return 0;
}

/* Dense tensors go to TENSORS; those with a smaller sparse encoding to SPARSE. */
static int is_dense(const shr_graph *g, const shrk_enc *enc, int i) {
    return g->values[i].data != NULL && enc[i].kind == SHRK_ENC_DENSE;
}

/* TENSORS payload size, given that it starts at a 64-aligned file offset. */
static shr_status tensors_size(const shr_graph *g, const shrk_enc *enc, uint32_t *count, size_t *size) {
    uint32_t n = 0;
    for (int i = 0; i < g->n_values; i++) n += is_dense(g, enc, i);
    size_t at = 8 + (size_t)n * SHRK_TENSOR_ENTRY_SIZE;
    for (int i = 0; i < g->n_values; i++) {
        const shr_tensor *t = g->values[i].data;
        if (!is_dense(g, enc, i)) continue;
        if (align_up(at, &at) || shr_add_overflow_size(at, t->nbytes, &at))
            return shr_fail(SHR_ERR_LIMIT, "cannot save: tensor data too large");
    }
    *count = n;
    *size = at;
    return SHR_OK;
}

static void fill_tensors(uint8_t *dst, const shr_graph *g, const shrk_enc *enc, uint32_t count) {
    shrk_put_u32(dst, count);
    shrk_put_u32(dst + 4, 0);
    uint8_t *entry = dst + 8;
    size_t at = 8 + (size_t)count * SHRK_TENSOR_ENTRY_SIZE;
    for (int i = 0; i < g->n_values; i++) {
        const shr_tensor *t = g->values[i].data;
        if (!is_dense(g, enc, i)) continue;
        align_up(at, &at); /* cannot overflow: tensors_size() computed the same sums */
        shrk_put_u32(entry, (uint32_t)i);
        shrk_put_u32(entry + 4, (uint32_t)t->dtype);
        shrk_put_u64(entry + 8, at);
        shrk_put_u64(entry + 16, t->nbytes);
        entry += SHRK_TENSOR_ENTRY_SIZE;
        if (t->nbytes) memcpy(dst + at, t->data, t->nbytes);
        at += t->nbytes;
    }
}

shr_status shr_model_to_memory(const shr_graph *g, void **buf, size_t *size) {
    if (!g || !buf || !size) return shr_fail(SHR_ERR_INVALID_ARG, "shr_model_to_memory: NULL argument");
    *buf = NULL;
    *size = 0;
    SHR_TRY(check_graph(g));

    dynbuf meta = {0}, graph = {0};
    write_meta(&meta, g);
    write_graph(&graph, g);
    uint32_t n_tensors = 0, n_sparse = 0;
    size_t tensors_len = 0, sparse_len = 0;
    shr_status st = SHR_OK;
    shrk_enc *enc = calloc((size_t)g->n_values + 1, sizeof *enc);
    if (meta.failed || graph.failed || !enc) st = shr_fail(SHR_ERR_NOMEM, "out of memory serializing the model");
    for (int i = 0; st == SHR_OK && i < g->n_values; i++) enc[i] = shrk_sparse_choose(&g->values[i]);
    if (st == SHR_OK) st = tensors_size(g, enc, &n_tensors, &tensors_len);
    if (st == SHR_OK) st = shrk_sparse_section_size(g, enc, &n_sparse, &sparse_len);

    /* SPARSE only when some tensor is sparse, so dense models keep the three-section layout. */
    enum { MAXSEC = 4 };
    const uint32_t types[MAXSEC] = {SHRK_SEC_META, SHRK_SEC_GRAPH, SHRK_SEC_TENSORS, SHRK_SEC_SPARSE};
    const size_t lens[MAXSEC] = {meta.len, graph.len, tensors_len, sparse_len};
    const int NSEC = n_sparse ? 4 : 3;
    size_t offs[MAXSEC], total = SHRK_HEADER_SIZE + (size_t)NSEC * SHRK_ENTRY_SIZE;
    for (int s = 0; s < NSEC && st == SHR_OK; s++) {
        if (align_up(total, &offs[s]) || shr_add_overflow_size(offs[s], lens[s], &total))
            st = shr_fail(SHR_ERR_LIMIT, "cannot save: model too large");
    }
    uint8_t *out = NULL;
    if (st == SHR_OK && !(out = calloc(1, total)))
        st = shr_fail(SHR_ERR_NOMEM, "out of memory allocating %zu bytes for the model file", total);
    if (st == SHR_OK) {
        if (meta.len) memcpy(out + offs[0], meta.p, meta.len);
        if (graph.len) memcpy(out + offs[1], graph.p, graph.len);
        fill_tensors(out + offs[2], g, enc, n_tensors);
        if (n_sparse) shrk_sparse_section_fill(out + offs[3], g, enc, n_sparse);
        memcpy(out, SHRK_MAGIC, SHRK_MAGIC_LEN);
        shrk_put_u32(out + 8, SHR_FILE_VERSION);
        shrk_put_u32(out + 12, 0);
        shrk_put_u32(out + 16, (uint32_t)NSEC);
        for (int s = 0; s < NSEC; s++) {
            uint8_t *e = out + SHRK_HEADER_SIZE + s * SHRK_ENTRY_SIZE;
            shrk_put_u32(e, types[s]);
            shrk_put_u32(e + 4, SHRK_SEC_REQUIRED);
            shrk_put_u64(e + 8, offs[s]);
            shrk_put_u64(e + 16, lens[s]);
            shrk_put_u32(e + 24, shrk_crc((uint32_t)crc32(0L, Z_NULL, 0), out + offs[s], lens[s]));
            shrk_put_u32(e + 28, 0);
        }
        shrk_put_u32(out + SHRK_HEADER_CRC_AT, shrk_header_crc(out, (uint32_t)NSEC));
        *buf = out;
        *size = total;
    }
    free(meta.p);
    free(graph.p);
    free(enc);
    return st;
}

shr_status shr_model_save(const shr_graph *g, const char *path) {
    if (!path || !path[0]) return shr_fail(SHR_ERR_INVALID_ARG, "shr_model_save: empty path");
    void *buf;
    size_t size;
    shr_status st = shr_model_to_memory(g, &buf, &size);
    if (st != SHR_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", shr_last_error());
        return shr_fail(st, "'%s': %s", path, msg);
    }
    st = shr_write_file_atomic(path, buf, size);
    free(buf);
    return st;
}
