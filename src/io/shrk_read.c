/* .shrk reader (layout in io/shrk_format.h). The file is untrusted: every size,
 * count, offset, enum and index is checked with overflow-safe arithmetic and
 * against the limits before anything is allocated; the graph is then built
 * directly and checked once more by shr_graph_validate(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checked.h"
#include "core/error.h"
#include "io/shrk_format.h"
#include "io/shrk_sparse.h"
#include "shrink/io.h"

typedef struct section {
    uint32_t type, flags, crc;
    uint64_t offset, size;
} section;

/* A bounds-checked reader over one section payload; ctx names the record being read. */
typedef struct cursor {
    const uint8_t *p;
    size_t len, pos;
    const char *sec;
    char ctx[300];
} cursor;

static shr_status truncated(const cursor *c) {
    return shr_fail(SHR_ERR_FORMAT, "section %s is truncated (in %s)", c->sec, c->ctx);
}
static shr_status rd_u32(cursor *c, uint32_t *v) {
    if (c->len - c->pos < 4) return truncated(c);
    *v = shrk_get_u32(c->p + c->pos);
    c->pos += 4;
    return SHR_OK;
}
static shr_status rd_i32(cursor *c, int *v) {
    uint32_t u = 0;
    SHR_TRY(rd_u32(c, &u));
    *v = (int)(int32_t)u; /* two's complement on every platform shrink targets */
    return SHR_OK;
}
static shr_status rd_i64(cursor *c, int64_t *v) {
    if (c->len - c->pos < 8) return truncated(c);
    *v = (int64_t)shrk_get_u64(c->p + c->pos);
    c->pos += 8;
    return SHR_OK;
}
static shr_status rd_f32(cursor *c, float *v) {
    uint32_t u = 0;
    SHR_TRY(rd_u32(c, &u));
    *v = shrk_bits_f32(u);
    return SHR_OK;
}
static shr_status rd_string(cursor *c, uint32_t min, uint32_t max, char **out) {
    uint32_t n;
    SHR_TRY(rd_u32(c, &n));
    if (n > max) return shr_fail(SHR_ERR_LIMIT, "section %s: %s: string of %u bytes (max %u)", c->sec, c->ctx, n, max);
    if (n < min) return shr_fail(SHR_ERR_FORMAT, "section %s: %s: empty name", c->sec, c->ctx);
    if (c->len - c->pos < n) return truncated(c);
    if (memchr(c->p + c->pos, 0, n))
        return shr_fail(SHR_ERR_FORMAT, "section %s: %s: string contains a NUL byte", c->sec, c->ctx);
    char *s = malloc((size_t)n + 1);
    if (!s) return shr_fail(SHR_ERR_NOMEM, "out of memory reading section %s", c->sec);
    memcpy(s, c->p + c->pos, n);
    s[n] = '\0';
    c->pos += n;
    *out = s;
    return SHR_OK;
}
static shr_status bad(const cursor *c, shr_status s, const char *what) {
    return shr_fail(s, "section %s: %s: %s", c->sec, c->ctx, what);
}
static shr_status expect_end(const cursor *c) {
    if (c->pos != c->len)
        return shr_fail(SHR_ERR_FORMAT, "section %s has %zu unexpected trailing bytes", c->sec, c->len - c->pos);
    return SHR_OK;
}

/* ---- header and section table ---- */

static void section_label(uint32_t type, char *buf, size_t n) {
    const char *name = shrk_section_name(type);
    if (name) snprintf(buf, n, "%s", name);
    else snprintf(buf, n, "type %u", type);
}

static shr_status parse_header(const uint8_t *b, size_t size, section *secs, uint32_t *nsec_out) {
    if (size == 0) return shr_fail(SHR_ERR_FORMAT, "file is empty, not a shrink model");
    if (size < SHRK_MAGIC_LEN || memcmp(b, SHRK_MAGIC, SHRK_MAGIC_LEN) != 0) {
        if (size >= 4 && memcmp(b, SHRK_MAGIC, 4) == 0)
            return shr_fail(SHR_ERR_FORMAT, "shrink model damaged by a text-mode transfer (line endings or NUL "
                                            "bytes changed); copy it in binary mode");
        return shr_fail(SHR_ERR_FORMAT, "not a shrink model file (bad magic)");
    }
    if (size < SHRK_HEADER_SIZE)
        return shr_fail(SHR_ERR_FORMAT, "file is truncated: %zu bytes, shorter than the %d-byte header", size,
                        SHRK_HEADER_SIZE);
    uint32_t version = shrk_get_u32(b + 8), flags = shrk_get_u32(b + 12), nsec = shrk_get_u32(b + 16);
    if (version > SHR_FILE_VERSION)
        return shr_fail(SHR_ERR_UNSUPPORTED, "file format version %u is newer than this shrink (%d)", version,
                        SHR_FILE_VERSION);
    if (version == 0) return shr_fail(SHR_ERR_FORMAT, "invalid file format version 0");
    if (nsec == 0 || nsec > SHRK_MAX_SECTIONS)
        return shr_fail(SHR_ERR_FORMAT, "invalid section count %u (1..%d)", nsec, SHRK_MAX_SECTIONS);
    uint64_t table_end = SHRK_HEADER_SIZE + (uint64_t)nsec * SHRK_ENTRY_SIZE;
    if (table_end > size) return shr_fail(SHR_ERR_FORMAT, "file is truncated inside the section table");
    if (shrk_header_crc(b, nsec) != shrk_get_u32(b + SHRK_HEADER_CRC_AT))
        return shr_fail(SHR_ERR_FORMAT, "header checksum mismatch (file corrupt)");
    if (flags != 0)
        return shr_fail(SHR_ERR_UNSUPPORTED, "file uses header flags 0x%x unknown to this shrink", flags);

    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = b + SHRK_HEADER_SIZE + (size_t)i * SHRK_ENTRY_SIZE;
        section *s = &secs[i];
        s->type = shrk_get_u32(e);
        s->flags = shrk_get_u32(e + 4);
        s->offset = shrk_get_u64(e + 8);
        s->size = shrk_get_u64(e + 16);
        s->crc = shrk_get_u32(e + 24);
        char name[32];
        section_label(s->type, name, sizeof name);
        uint64_t end;
        if (s->type == 0 || shrk_get_u32(e + 28) != 0)
            return shr_fail(SHR_ERR_FORMAT, "section table entry %u is invalid", i);
        if (s->flags & ~SHRK_SEC_REQUIRED)
            return shr_fail(SHR_ERR_UNSUPPORTED, "section %s uses flags 0x%x unknown to this shrink", name, s->flags);
        if (__builtin_add_overflow(s->offset, s->size, &end) || s->offset < table_end || end > size)
            return shr_fail(SHR_ERR_FORMAT, "section %s (offset %llu, size %llu) lies outside the %zu-byte file",
                            name, (unsigned long long)s->offset, (unsigned long long)s->size, size);
        if (s->offset % SHRK_ALIGN != 0)
            return shr_fail(SHR_ERR_FORMAT, "section %s is not 64-byte aligned", name);
        for (uint32_t j = 0; j < i; j++)
            if (secs[j].type == s->type)
                return shr_fail(SHR_ERR_FORMAT, "section %s appears more than once", name);
    }
    /* Sorted by offset, payloads must not overlap, gaps must be zero and the file
     * must end with the last payload: then every byte is covered by some check. */
    int order[SHRK_MAX_SECTIONS];
    for (uint32_t i = 0; i < nsec; i++) {
        int j = (int)i;
        while (j > 0 && secs[order[j - 1]].offset > secs[i].offset) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (int)i;
    }
    uint64_t at = table_end;
    for (uint32_t i = 0; i < nsec; i++) {
        const section *s = &secs[order[i]];
        if (s->offset < at) return shr_fail(SHR_ERR_FORMAT, "sections overlap in the file");
        for (uint64_t k = at; k < s->offset; k++)
            if (b[k] != 0) return shr_fail(SHR_ERR_FORMAT, "nonzero padding at byte %llu (file corrupt)", (unsigned long long)k);
        at = s->offset + s->size;
    }
    if (at != size)
        return shr_fail(SHR_ERR_FORMAT, "%llu unexpected bytes after the last section", (unsigned long long)(size - at));
    for (uint32_t i = 0; i < nsec; i++) {
        char name[32];
        section_label(secs[i].type, name, sizeof name);
        if (shrk_crc((uint32_t)crc32(0L, Z_NULL, 0), b + secs[i].offset, (size_t)secs[i].size) != secs[i].crc)
            return shr_fail(SHR_ERR_FORMAT, "section %s checksum mismatch (file corrupt)", name);
        int known = secs[i].type == SHRK_SEC_META || secs[i].type == SHRK_SEC_GRAPH ||
                    secs[i].type == SHRK_SEC_TENSORS || secs[i].type == SHRK_SEC_SPARSE;
        if (!known && (secs[i].flags & SHRK_SEC_REQUIRED))
            return shr_fail(SHR_ERR_UNSUPPORTED, "file needs section %s, which this shrink does not support", name);
    }
    *nsec_out = nsec;
    return SHR_OK;
}

static shr_status find_section(const uint8_t *b, const section *secs, uint32_t nsec, uint32_t type, cursor *c) {
    memset(c, 0, sizeof *c);
    c->sec = shrk_section_name(type);
    for (uint32_t i = 0; i < nsec; i++)
        if (secs[i].type == type) {
            c->p = b + secs[i].offset;
            c->len = (size_t)secs[i].size;
            return SHR_OK;
        }
    return shr_fail(SHR_ERR_FORMAT, "file has no %s section", c->sec);
}

/* ---- META ---- */

static shr_status rd_opt_text(cursor *c, const char *what, char **out) {
    uint32_t present;
    snprintf(c->ctx, sizeof c->ctx, "%s", what);
    SHR_TRY(rd_u32(c, &present));
    if (present > 1) return bad(c, SHR_ERR_FORMAT, "presence flag is not 0 or 1");
    if (present) return rd_string(c, 0, SHRK_MAX_TEXT, out);
    uint32_t len;
    SHR_TRY(rd_u32(c, &len));
    if (len != 0) return bad(c, SHR_ERR_FORMAT, "absent string has a length");
    return SHR_OK;
}

static shr_status parse_meta(cursor *c, shr_graph *g) {
    SHR_TRY(rd_opt_text(c, "arch", &g->arch));
    SHR_TRY(rd_opt_text(c, "lineage", &g->lineage));
    snprintf(c->ctx, sizeof c->ctx, "preprocessing");
    shr_preproc *p = &g->preproc;
    uint32_t ch;
    SHR_TRY(rd_f32(c, &p->scale));
    SHR_TRY(rd_u32(c, &ch));
    if (ch < 1 || ch > SHR_MAX_CHANNELS) return bad(c, SHR_ERR_FORMAT, "channel count outside 1..4");
    p->channels = (int)ch;
    for (int i = 0; i < SHR_MAX_CHANNELS; i++) SHR_TRY(rd_f32(c, &p->mean[i]));
    for (int i = 0; i < SHR_MAX_CHANNELS; i++) SHR_TRY(rd_f32(c, &p->std[i]));
    return expect_end(c);
}

/* ---- GRAPH ---- */

static shr_status parse_value(cursor *c, shr_graph *g, int i, uint8_t *dtype) {
    shr_value *v = &g->values[i];
    v->producer = -1;
    snprintf(c->ctx, sizeof c->ctx, "value %d", i);
    SHR_TRY(rd_string(c, 1, SHRK_MAX_NAME, &v->name));
    snprintf(c->ctx, sizeof c->ctx, "value %d '%s'", i, v->name);
    uint32_t kind, dt, ndim;
    SHR_TRY(rd_u32(c, &kind));
    SHR_TRY(rd_u32(c, &dt));
    SHR_TRY(rd_u32(c, &ndim));
    if (kind > SHR_VALUE_ACT) return bad(c, SHR_ERR_FORMAT, "unknown value kind");
    v->kind = (shr_value_kind)kind;
    int has_data = kind == SHR_VALUE_PARAM || kind == SHR_VALUE_BUFFER;
    if (dt >= SHR_DTYPE_COUNT) return bad(c, SHR_ERR_FORMAT, "unknown dtype");
    if (!has_data && dt != SHR_F32) return bad(c, SHR_ERR_FORMAT, "inputs and activations must be f32");
    *dtype = (uint8_t)dt;
    if (ndim > SHR_MAX_DIMS) return bad(c, SHR_ERR_FORMAT, "rank exceeds 8");
    v->ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        SHR_TRY(rd_i64(c, &v->shape[d]));
        if (v->shape[d] < ((!has_data && d == 0) ? -1 : 0)) return bad(c, SHR_ERR_FORMAT, "negative dimension");
    }
    SHR_TRY(rd_i32(c, &v->producer));
    if (kind == SHR_VALUE_ACT ? (v->producer < 0 || v->producer >= g->n_nodes) : v->producer != -1)
        return bad(c, SHR_ERR_FORMAT, "producer node index out of range");
    if (has_data) { /* the element count must be representable; TENSORS checks the bytes */
        int64_t numel;
        size_t nbytes;
        SHR_TRY(shr_shape_numel(v->ndim, v->shape, &numel));
        SHR_TRY(shr_dtype_storage((shr_dtype)dt, numel, &nbytes));
    }
    return SHR_OK;
}

static int attr_int_ok(int v) { return v >= 0 && v <= SHRK_MAX_ATTR_INT; }

static shr_status parse_attrs(cursor *c, shr_attrs *a) {
    for (int i = 0; i < 2; i++) SHR_TRY(rd_i32(c, &a->kernel[i]));
    for (int i = 0; i < 2; i++) SHR_TRY(rd_i32(c, &a->stride[i]));
    for (int i = 0; i < 4; i++) SHR_TRY(rd_i32(c, &a->pad[i]));
    for (int i = 0; i < 2; i++) SHR_TRY(rd_i32(c, &a->dilation[i]));
    SHR_TRY(rd_i32(c, &a->groups));
    SHR_TRY(rd_f32(c, &a->alpha));
    SHR_TRY(rd_f32(c, &a->eps));
    SHR_TRY(rd_f32(c, &a->momentum));
    SHR_TRY(rd_i32(c, &a->axis));
    SHR_TRY(rd_i32(c, &a->count_include_pad));
    SHR_TRY(rd_i32(c, &a->ndim));
    for (int i = 0; i < SHR_MAX_DIMS; i++) SHR_TRY(rd_i64(c, &a->shape[i]));
    /* The same ranges the writer enforces; ops' shape inference then sees sane integers. */
    int ok = attr_int_ok(a->groups) && (a->count_include_pad == 0 || a->count_include_pad == 1) && a->ndim >= 0 &&
             a->ndim <= SHR_MAX_DIMS && a->axis >= -SHR_MAX_DIMS && a->axis <= SHR_MAX_DIMS;
    for (int i = 0; i < 2; i++) ok = ok && attr_int_ok(a->kernel[i]) && attr_int_ok(a->stride[i]) && attr_int_ok(a->dilation[i]);
    for (int i = 0; i < 4; i++) ok = ok && attr_int_ok(a->pad[i]);
    for (int i = 0; i < SHR_MAX_DIMS; i++) ok = ok && a->shape[i] >= -1;
    if (!ok) return bad(c, SHR_ERR_FORMAT, "attribute out of range");
    return SHR_OK;
}

static shr_status parse_node(cursor *c, shr_graph *g, int k) {
    shr_node *n = &g->nodes[k];
    n->output = -1;
    snprintf(c->ctx, sizeof c->ctx, "node %d", k);
    SHR_TRY(rd_string(c, 1, SHRK_MAX_NAME, &n->name));
    snprintf(c->ctx, sizeof c->ctx, "node %d '%s'", k, n->name);
    uint32_t op, n_in;
    SHR_TRY(rd_u32(c, &op));
    if (op >= SHR_OP_COUNT) return bad(c, SHR_ERR_UNSUPPORTED, "op code unknown to this shrink");
    n->op = (shr_op)op;
    SHR_TRY(parse_attrs(c, &n->attrs));
    SHR_TRY(rd_u32(c, &n_in));
    if (n_in > SHRK_MAX_NODE_INPUTS) return bad(c, SHR_ERR_LIMIT, "more than 1024 inputs");
    if ((uint64_t)n_in * 4 > c->len - c->pos) return truncated(c);
    n->inputs = malloc((size_t)(n_in ? n_in : 1) * sizeof *n->inputs);
    if (!n->inputs) return shr_fail(SHR_ERR_NOMEM, "out of memory reading section GRAPH");
    n->n_inputs = (int)n_in;
    for (uint32_t i = 0; i < n_in; i++) {
        SHR_TRY(rd_i32(c, &n->inputs[i]));
        if (n->inputs[i] < -1 || n->inputs[i] >= g->n_values) return bad(c, SHR_ERR_FORMAT, "input index out of range");
    }
    SHR_TRY(rd_i32(c, &n->output));
    if (n->output < 0 || n->output >= g->n_values) return bad(c, SHR_ERR_FORMAT, "output index out of range");
    return SHR_OK;
}

static shr_status parse_graph(cursor *c, shr_graph *g, uint8_t **dtypes) {
    uint32_t nv, nn;
    snprintf(c->ctx, sizeof c->ctx, "counts");
    SHR_TRY(rd_u32(c, &nv));
    SHR_TRY(rd_u32(c, &nn));
    if (nv > SHRK_MAX_VALUES || nn > SHRK_MAX_NODES)
        return shr_fail(SHR_ERR_LIMIT, "file declares %u values and %u nodes (max %d and %d)", nv, nn,
                        SHRK_MAX_VALUES, SHRK_MAX_NODES);
    /* Bound the counts by the bytes present before allocating for them. */
    uint64_t need = (uint64_t)nv * SHRK_MIN_VALUE_SIZE + (uint64_t)nn * SHRK_MIN_NODE_SIZE + 8;
    if (need > c->len - c->pos)
        return shr_fail(SHR_ERR_FORMAT, "section GRAPH declares %u values and %u nodes but holds only %zu bytes", nv,
                        nn, c->len);
    SHR_TRY(rd_i32(c, &g->input));
    SHR_TRY(rd_i32(c, &g->output));
    if (g->input < 0 || (uint32_t)g->input >= nv || g->output < 0 || (uint32_t)g->output >= nv)
        return shr_fail(SHR_ERR_FORMAT, "section GRAPH: graph input/output index out of range");
    g->values = calloc(nv ? nv : 1, sizeof *g->values);
    g->nodes = calloc(nn ? nn : 1, sizeof *g->nodes);
    *dtypes = calloc(nv ? nv : 1, 1);
    if (!g->values || !g->nodes || !*dtypes) return shr_fail(SHR_ERR_NOMEM, "out of memory reading section GRAPH");
    /* Zeroed entries are safe for shr_graph_free if parsing stops half way. */
    g->n_values = g->cap_values = (int)nv;
    g->n_nodes = g->cap_nodes = (int)nn;
    if (!nv) g->cap_values = 1;
    if (!nn) g->cap_nodes = 1;
    for (int i = 0; i < g->n_values; i++) SHR_TRY(parse_value(c, g, i, &(*dtypes)[i]));
    for (int k = 0; k < g->n_nodes; k++) SHR_TRY(parse_node(c, g, k));
    return expect_end(c);
}

/* ---- TENSORS (after SPARSE: a value SPARSE already holds is not stored here) ---- */

static shr_status parse_tensors(cursor *c, uint64_t file_offset, shr_graph *g, const uint8_t *dtypes) {
    uint32_t count, reserved, n_data = 0;
    snprintf(c->ctx, sizeof c->ctx, "index");
    SHR_TRY(rd_u32(c, &count));
    SHR_TRY(rd_u32(c, &reserved));
    for (int i = 0; i < g->n_values; i++)
        n_data += (g->values[i].kind == SHR_VALUE_PARAM || g->values[i].kind == SHR_VALUE_BUFFER) && !g->values[i].data;
    if (reserved != 0) return bad(c, SHR_ERR_FORMAT, "reserved field is not zero");
    if (count != n_data)
        return shr_fail(SHR_ERR_FORMAT,
                        "section TENSORS holds %u tensors but the graph has %u params/buffers outside SPARSE",
                        count, n_data);
    uint64_t data_at = 8 + (uint64_t)count * SHRK_TENSOR_ENTRY_SIZE; /* count <= 100000: no overflow */
    if (data_at > c->len) return truncated(c);
    int64_t prev = -1;
    for (uint32_t e = 0; e < count; e++) {
        const uint8_t *ent = c->p + 8 + (size_t)e * SHRK_TENSOR_ENTRY_SIZE;
        uint32_t vi = shrk_get_u32(ent), dt = shrk_get_u32(ent + 4);
        uint64_t off = shrk_get_u64(ent + 8), nbytes = shrk_get_u64(ent + 16), end;
        snprintf(c->ctx, sizeof c->ctx, "entry %u", e);
        if ((int64_t)vi <= prev || vi >= (uint32_t)g->n_values)
            return bad(c, SHR_ERR_FORMAT, "value index out of order or out of range");
        shr_value *v = &g->values[vi];
        prev = vi;
        snprintf(c->ctx, sizeof c->ctx, "tensor '%s'", v->name);
        if (v->kind != SHR_VALUE_PARAM && v->kind != SHR_VALUE_BUFFER)
            return bad(c, SHR_ERR_FORMAT, "value is neither a param nor a buffer");
        if (v->data) return bad(c, SHR_ERR_FORMAT, "tensor is stored in section SPARSE as well");
        if (dt != dtypes[vi]) return bad(c, SHR_ERR_FORMAT, "dtype differs from the graph's");
        int64_t numel;
        size_t expect;
        SHR_TRY(shr_shape_numel(v->ndim, v->shape, &numel));
        SHR_TRY(shr_dtype_storage((shr_dtype)dt, numel, &expect));
        if (nbytes != (uint64_t)expect) return bad(c, SHR_ERR_FORMAT, "byte size does not match shape and dtype");
        if (__builtin_add_overflow(off, nbytes, &end) || off < data_at || end > c->len)
            return bad(c, SHR_ERR_FORMAT, "data lies outside the section or overlaps another tensor");
        if ((file_offset + off) % SHRK_ALIGN != 0) return bad(c, SHR_ERR_FORMAT, "data is not 64-byte aligned");
        SHR_TRY(shr_tensor_create(&v->data, (shr_dtype)dt, v->ndim, v->shape));
        if (nbytes) memcpy(v->data->data, c->p + off, (size_t)nbytes);
        data_at = end;
    }
    c->pos = (size_t)data_at;
    return expect_end(c);
}

shr_status shr_model_from_memory(const void *buf, size_t size, shr_graph **out) {
    if (!out || (!buf && size)) return shr_fail(SHR_ERR_INVALID_ARG, "shr_model_from_memory: NULL argument");
    *out = NULL;
    const uint8_t *b = buf;
    section secs[SHRK_MAX_SECTIONS];
    uint32_t nsec = 0;
    SHR_TRY(parse_header(b, size, secs, &nsec));
    cursor meta, graph, tensors;
    SHR_TRY(find_section(b, secs, nsec, SHRK_SEC_META, &meta));
    SHR_TRY(find_section(b, secs, nsec, SHRK_SEC_GRAPH, &graph));
    SHR_TRY(find_section(b, secs, nsec, SHRK_SEC_TENSORS, &tensors));
    uint64_t tensors_at = (uint64_t)(tensors.p - b);

    shr_graph *g;
    SHR_TRY(shr_graph_create(&g));
    uint8_t *dtypes = NULL;
    shr_status st = parse_meta(&meta, g);
    if (st == SHR_OK) st = parse_graph(&graph, g, &dtypes);
    for (uint32_t i = 0; st == SHR_OK && i < nsec; i++)
        if (secs[i].type == SHRK_SEC_SPARSE)
            st = shrk_sparse_section_parse(b + secs[i].offset, (size_t)secs[i].size, g, dtypes);
    if (st == SHR_OK) st = parse_tensors(&tensors, tensors_at, g, dtypes);
    free(dtypes);
    if (st == SHR_OK) st = shr_graph_validate(g);
    if (st != SHR_OK) {
        shr_graph_free(g);
        return st;
    }
    *out = g;
    return SHR_OK;
}

/* Reads the whole file (at most SHRK_MAX_FILE_SIZE bytes) into memory. */
static shr_status read_file(const char *path, uint8_t **data, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return shr_fail(SHR_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    shr_status s = SHR_OK;
    if (fstat(fd, &st) != 0) s = shr_fail(SHR_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) s = shr_fail(SHR_ERR_IO, "cannot load '%s': it is a directory", path);
    else if (!S_ISREG(st.st_mode)) s = shr_fail(SHR_ERR_IO, "cannot load '%s': not a regular file", path);
    else if ((uint64_t)st.st_size > SHRK_MAX_FILE_SIZE)
        s = shr_fail(SHR_ERR_LIMIT, "'%s' is %lld bytes; model files are limited to 4 GiB", path,
                     (long long)st.st_size);
    uint8_t *buf = NULL;
    size_t want = s == SHR_OK ? (size_t)st.st_size : 0, got = 0;
    if (s == SHR_OK && !(buf = malloc(want ? want : 1)))
        s = shr_fail(SHR_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, want);
    while (s == SHR_OK && got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) s = shr_fail(SHR_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        if (n <= 0) break; /* a file that shrank is checked as what was read */
        got += (size_t)n;
    }
    close(fd);
    if (s != SHR_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    *size = got;
    return SHR_OK;
}

shr_status shr_model_load(const char *path, shr_graph **out) {
    if (!path || !out) return shr_fail(SHR_ERR_INVALID_ARG, "shr_model_load: NULL argument");
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    SHR_TRY(read_file(path, &data, &size));
    shr_status st = shr_model_from_memory(data, size, out);
    free(data);
    if (st != SHR_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", shr_last_error());
        return shr_fail(st, "'%s': %s", path, msg);
    }
    return SHR_OK;
}
