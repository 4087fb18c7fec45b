/* .shrk reader against truncated, corrupted and hostile files. Each must fail
 * with a clear status and message, no crash, no leak (the ASan run checks). Where
 * a test wants a specific check to fire, it recomputes the CRCs so the checksum
 * does not catch the damage first. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/shrk_format.h"
#include "nn/op.h"
#include "shrink/io.h"
#include "shrk_test_util.h"
#include "test.h"

static const shr_op_def *const used_ops[] = {&shr_op_conv2d, &shr_op_batchnorm, &shr_op_relu, &shr_op_flatten,
                                             &shr_op_linear, &shr_op_avgpool2d, &shr_op_maxpool2d};

static uint8_t *model;
static size_t model_size;

/* x(1,2,2) -> conv 1x1 -> bn -> relu -> flatten -> linear(2): 14 values, 5 nodes. */
static void build_model(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    int c, bn, r, f, y;
    const int64_t in_shape[3] = {1, 2, 2};
    tiny_params p;
    add_tiny_params(g, in_shape, 2, 1, 8, 2, &p);
    for (int v = p.conv_w; v <= p.fc_b; v++)
        for (int64_t i = 0; i < g->values[v].data->numel; i++)
            shr_f32(g->values[v].data)[i] = 0.5f + 0.25f * (float)(v + i);
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = 1;
    int cin[3] = {p.x, p.conv_w, p.conv_b}, bin[5] = {-1, p.gamma, p.beta, p.mean, p.var}, lin[3] = {-1, p.fc_w, p.fc_b};
    CHECK_OK(shr_graph_add_node(g, "conv", SHR_OP_CONV2D, &a, 3, cin, &c));
    bin[0] = c;
    CHECK_OK(shr_graph_add_node(g, "bn", SHR_OP_BATCHNORM, NULL, 5, bin, &bn));
    CHECK_OK(shr_graph_add_node(g, "relu", SHR_OP_RELU, NULL, 1, &bn, &r));
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_FLATTEN, NULL, 1, &r, &f));
    lin[0] = f;
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, 3, lin, &y));
    g->arch = strdup("tiny");
    CHECK_OK(shr_graph_add_lineage(g, "built by test_shrk_hostile"));
    void *buf = NULL;
    CHECK_OK(shr_model_to_memory(g, &buf, &model_size));
    model = buf;
    shr_graph_free(g);
    if (!model) exit(1);
}

/* Loads from memory; a failure must leave *out NULL and set a message. */
static shr_status try_load(const uint8_t *b, size_t n) {
    shr_graph *g = (shr_graph *)&g; /* poison: must be overwritten */
    shr_clear_error();
    shr_status st = shr_model_from_memory(b, n, &g);
    if (st == SHR_OK) shr_graph_free(g);
    else {
        CHECK(g == NULL);
        CHECK(shr_last_error()[0] != '\0');
    }
    return st;
}

static uint8_t *copy_model(void) {
    uint8_t *c = malloc(model_size);
    if (!c) exit(1);
    memcpy(c, model, model_size);
    return c;
}

static uint8_t *entry_of(uint8_t *b, uint32_t type) {
    uint32_t n = shrk_get_u32(b + 16);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = b + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        if (shrk_get_u32(e) == type) return e;
    }
    fprintf(stderr, "section %u not found\n", type);
    exit(1);
}
static uint8_t *payload_of(uint8_t *b, uint32_t type) { return b + shrk_get_u64(entry_of(b, type) + 8); }

/* Recomputes every section CRC (for in-bounds sections) and the header CRC. */
static void fix_crcs(uint8_t *b, size_t size) {
    uint32_t n = shrk_get_u32(b + 16);
    for (uint32_t i = 0; i < n && SHRK_HEADER_SIZE + (i + 1) * SHRK_ENTRY_SIZE <= size; i++) {
        uint8_t *e = b + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        uint64_t off = shrk_get_u64(e + 8), len = shrk_get_u64(e + 16);
        if (off <= size && len <= size - off) shrk_put_u32(e + 24, shrk_crc(0, b + off, (size_t)len));
    }
    if (SHRK_HEADER_SIZE + (size_t)n * SHRK_ENTRY_SIZE <= size) shrk_put_u32(b + SHRK_HEADER_CRC_AT, shrk_header_crc(b, n));
}

/* Offsets inside the GRAPH payload, by walking the documented layout. */
static size_t value_at(const uint8_t *gr, int i) {
    size_t off = 16;
    for (int j = 0; j < i; j++) {
        off += 4 + shrk_get_u32(gr + off);
        uint32_t ndim = shrk_get_u32(gr + off + 8);
        off += 12 + 8 * (size_t)ndim + 4;
    }
    return off;
}
static size_t value_field(const uint8_t *gr, int i, int field) { /* 0 kind, 1 dtype, 2 ndim, 3 shape */
    size_t off = value_at(gr, i);
    return off + 4 + shrk_get_u32(gr + off) + 4 * (size_t)field;
}
static size_t node_at(const uint8_t *gr, int k) {
    size_t off = value_at(gr, (int)shrk_get_u32(gr));
    for (int j = 0; j < k; j++) {
        off += 4 + shrk_get_u32(gr + off) + 4 + SHRK_ATTRS_SIZE;
        off += 4 + 4 * (size_t)shrk_get_u32(gr + off) + 4;
    }
    return off;
}
static size_t node_inputs(const uint8_t *gr, int k) { /* offset of n_inputs */
    size_t off = node_at(gr, k);
    return off + 4 + shrk_get_u32(gr + off) + 4 + SHRK_ATTRS_SIZE;
}

#define ANY_FAILURE ((shr_status)-1)

/* Patches a u32/u64 inside section `type`, fixes the CRCs, loads, expects `want`
 * (ANY_FAILURE: any status but OK) and (if given) a phrase in the message. */
static void expect_patch(uint32_t type, size_t at, uint64_t v, int width, shr_status want, const char *phrase) {
    uint8_t *b = copy_model();
    uint8_t *p = payload_of(b, type) + at;
    if (width == 4) shrk_put_u32(p, (uint32_t)v);
    else shrk_put_u64(p, v);
    fix_crcs(b, model_size);
    if (want == ANY_FAILURE) CHECK_MSG(try_load(b, model_size) != SHR_OK, "patch at %zu loaded", at);
    else CHECK_STATUS(try_load(b, model_size), want);
    if (phrase) CHECK_MSG(strstr(shr_last_error(), phrase) != NULL, "message '%s' lacks '%s'", shr_last_error(), phrase);
    free(b);
}

static void test_valid_model_loads(void) {
    CHECK_OK(try_load(model, model_size));
    CHECK_MSG(model_size < 4096, "model is %zu bytes", model_size); /* keeps the exhaustive loops fast */
}

static void test_every_prefix_fails(void) {
    int ok = 0;
    for (size_t n = 0; n < model_size; n++) {
        uint8_t *b = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
        memcpy(b, model, n);
        if (try_load(b, n) == SHR_OK) {
            ok++;
            fprintf(stderr, "prefix of %zu bytes loaded\n", n);
        }
        free(b);
    }
    CHECK(ok == 0);
}

static void test_every_bit_flip_fails(void) {
    uint8_t *b = copy_model();
    size_t first_payload = (size_t)shrk_get_u64(entry_of(b, SHRK_SEC_META) + 8);
    int loaded = 0, bad_msg = 0;
    for (size_t i = 0; i < model_size; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            shr_status st = try_load(b, model_size);
            if (st == SHR_OK) loaded++;
            /* A payload byte is caught by its section checksum. */
            int in_payload = 0;
            for (uint32_t t = SHRK_SEC_META; t <= SHRK_SEC_TENSORS; t++) {
                uint8_t *e = entry_of(model, t);
                in_payload |= i >= shrk_get_u64(e + 8) && i < shrk_get_u64(e + 8) + shrk_get_u64(e + 16);
            }
            if (in_payload && !strstr(shr_last_error(), "checksum mismatch")) bad_msg++;
            b[i] ^= (uint8_t)(1u << bit);
        }
    CHECK_MSG(loaded == 0, "%d bit flips loaded", loaded);
    CHECK_MSG(bad_msg == 0, "%d payload flips without a checksum message", bad_msg);
    CHECK(first_payload % SHRK_ALIGN == 0);
    free(b);
}

static void test_magic_and_version(void) {
    uint8_t *b = copy_model();
    b[3] = 'X';
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "magic") != NULL);
    memcpy(b, model, model_size);
    /* A text-mode copy turning CR LF into LF shifts everything after byte 5. */
    memmove(b + 5, b + 6, model_size - 6);
    CHECK_STATUS(try_load(b, model_size - 1), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "text-mode") != NULL);

    memcpy(b, model, model_size);
    shrk_put_u32(b + 8, 2);
    fix_crcs(b, model_size);
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(shr_last_error(), "file format version 2 is newer than this shrink (1)") != NULL, "%s",
              shr_last_error());
    shrk_put_u32(b + 8, 0);
    fix_crcs(b, model_size);
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_FORMAT);

    memcpy(b, model, model_size);
    shrk_put_u32(b + 12, 4); /* header flags */
    fix_crcs(b, model_size);
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_UNSUPPORTED);
    free(b);
    CHECK_STATUS(try_load(NULL, 0), SHR_ERR_FORMAT);
    CHECK_STATUS(try_load((const uint8_t *)"hello", 5), SHR_ERR_FORMAT);
}

static void test_section_table(void) {
    const struct {
        int field; /* 0: section count, else entry byte offset for the GRAPH entry */
        uint64_t v;
        int width;
    } cases[] = {
        {0, 0, 4},                   /* no sections */
        {0, SHRK_MAX_SECTIONS + 1, 4}, /* too many */
        {0, 0xFFFFFFFFu, 4},
        {8, 1u << 20, 8},            /* offset past the end */
        {16, 1u << 20, 8},           /* size past the end */
        {8, UINT64_MAX - 63, 8},     /* offset + size overflows u64 */
        {16, UINT64_MAX, 8},
        {8, 64, 8},                  /* overlaps the header / table */
        {8, 0, 8},
        {4, 6, 4},                   /* unknown flag bits */
        {28, 1, 4},                  /* reserved field */
        {0, 2, 4},                   /* count shrinks: TENSORS becomes trailing garbage */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *b = copy_model();
        uint8_t *at = cases[i].field == 0 ? b + 16 : entry_of(b, SHRK_SEC_GRAPH) + cases[i].field;
        if (cases[i].width == 4) shrk_put_u32(at, (uint32_t)cases[i].v);
        else shrk_put_u64(at, cases[i].v);
        fix_crcs(b, model_size);
        CHECK_MSG(try_load(b, model_size) != SHR_OK, "case %zu loaded", i);
        free(b);
    }
    /* Overlap: META grows into GRAPH. */
    uint8_t *b = copy_model();
    uint8_t *meta = entry_of(b, SHRK_SEC_META);
    shrk_put_u64(meta + 16, shrk_get_u64(meta + 16) + SHRK_ALIGN);
    fix_crcs(b, model_size);
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "overlap") != NULL);
    /* Duplicate section: the GRAPH entry retyped as META. */
    memcpy(b, model, model_size);
    shrk_put_u32(entry_of(b, SHRK_SEC_GRAPH), SHRK_SEC_META);
    fix_crcs(b, model_size);
    CHECK_STATUS(try_load(b, model_size), SHR_ERR_FORMAT);
    free(b);
}

/* Re-lays out a file from a list of sections (like the writer does). */
typedef struct sec {
    uint32_t type, flags;
    const uint8_t *p;
    size_t len;
} sec;

static uint8_t *assemble(const sec *s, int n, size_t *size) {
    size_t at = SHRK_HEADER_SIZE + (size_t)n * SHRK_ENTRY_SIZE, offs[8];
    for (int i = 0; i < n; i++) {
        at = (at + SHRK_ALIGN - 1) & ~(size_t)(SHRK_ALIGN - 1);
        offs[i] = at;
        at += s[i].len;
    }
    uint8_t *b = calloc(1, at);
    memcpy(b, SHRK_MAGIC, SHRK_MAGIC_LEN);
    shrk_put_u32(b + 8, SHR_FILE_VERSION);
    shrk_put_u32(b + 16, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *e = b + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        shrk_put_u32(e, s[i].type);
        shrk_put_u32(e + 4, s[i].flags);
        shrk_put_u64(e + 8, offs[i]);
        shrk_put_u64(e + 16, s[i].len);
        if (s[i].len) memcpy(b + offs[i], s[i].p, s[i].len);
    }
    fix_crcs(b, at);
    *size = at;
    return b;
}

static void test_section_kinds(void) {
    uint8_t *m = model;
    sec base[3];
    for (int i = 0; i < 3; i++) {
        uint8_t *e = entry_of(m, SHRK_SEC_META + (uint32_t)i);
        base[i] = (sec){SHRK_SEC_META + (uint32_t)i, SHRK_SEC_REQUIRED, m + shrk_get_u64(e + 8),
                        (size_t)shrk_get_u64(e + 16)};
    }
    static const uint8_t extra[5] = {1, 2, 3, 4, 5};
    sec s[4];
    size_t n;
    uint8_t *b;
    /* The re-laid-out file is itself valid (so the failures below are the changes). */
    b = assemble(base, 3, &n);
    CHECK_OK(try_load(b, n));
    free(b);
    /* An unknown optional section is skipped; an unknown required one is refused. */
    memcpy(s, base, sizeof base);
    s[3] = (sec){77, 0, extra, sizeof extra};
    b = assemble(s, 4, &n);
    CHECK_OK(try_load(b, n));
    free(b);
    s[3].flags = SHRK_SEC_REQUIRED;
    b = assemble(s, 4, &n);
    CHECK_STATUS(try_load(b, n), SHR_ERR_UNSUPPORTED);
    free(b);
    s[3] = (sec){SHRK_SEC_QUANT, SHRK_SEC_REQUIRED, extra, sizeof extra};
    b = assemble(s, 4, &n);
    CHECK_STATUS(try_load(b, n), SHR_ERR_UNSUPPORTED);
    CHECK(strstr(shr_last_error(), "QUANT") != NULL);
    free(b);
    /* Sections in another order still load (TENSORS stays 64-aligned). */
    sec r[3] = {base[2], base[0], base[1]};
    b = assemble(r, 3, &n);
    CHECK_OK(try_load(b, n));
    free(b);
    /* Each required section missing. */
    for (int drop = 0; drop < 3; drop++) {
        sec t[2];
        for (int i = 0, j = 0; i < 3; i++)
            if (i != drop) t[j++] = base[i];
        b = assemble(t, 2, &n);
        CHECK_STATUS(try_load(b, n), SHR_ERR_FORMAT);
        CHECK(strstr(shr_last_error(), "has no") != NULL);
        free(b);
    }
    /* Trailing bytes after the last section. */
    b = malloc(model_size + 1);
    memcpy(b, model, model_size);
    b[model_size] = 0;
    CHECK_STATUS(try_load(b, model_size + 1), SHR_ERR_FORMAT);
    free(b);
}

static void test_graph_limits(void) {
    const uint8_t *gr = payload_of(model, SHRK_SEC_GRAPH);
    /* Counts beyond the limits, CRCs valid: the limit check must answer, not malloc. */
    expect_patch(SHRK_SEC_GRAPH, 0, 100001, 4, SHR_ERR_LIMIT, "values");
    expect_patch(SHRK_SEC_GRAPH, 0, 0xFFFFFFFFu, 4, SHR_ERR_LIMIT, NULL);
    expect_patch(SHRK_SEC_GRAPH, 4, 50001, 4, SHR_ERR_LIMIT, NULL);
    expect_patch(SHRK_SEC_GRAPH, 0, 99999, 4, SHR_ERR_FORMAT, "holds only"); /* in limits, not in the bytes */
    expect_patch(SHRK_SEC_GRAPH, 8, 1000, 4, SHR_ERR_FORMAT, NULL);            /* graph input index */
    expect_patch(SHRK_SEC_GRAPH, 12, (uint32_t)-2, 4, SHR_ERR_FORMAT, NULL);   /* graph output index */
    /* Values: ndim 99, negative dims, enums, names. */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 0, 2), 99, 4, SHR_ERR_FORMAT, "rank");
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 1, 3), (uint64_t)-1, 8, SHR_ERR_FORMAT, "negative"); /* param dim 0 */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 0, 3) + 8, (uint64_t)-3, 8, SHR_ERR_FORMAT, "negative");
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 0, 3), (uint64_t)-2, 8, SHR_ERR_FORMAT, "negative");
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 1, 3), (uint64_t)1 << 62, 8, SHR_ERR_LIMIT, NULL); /* numel overflow */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 1, 3), 3, 8, SHR_ERR_FORMAT, NULL); /* bytes disagree with TENSORS */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 2, 0), 9, 4, SHR_ERR_FORMAT, "kind");
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 2, 1), 99, 4, SHR_ERR_FORMAT, "dtype");
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 2, 1), SHR_I8, 4, SHR_ERR_FORMAT, "dtype"); /* TENSORS says f32 */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 0, 1), SHR_I8, 4, SHR_ERR_FORMAT, "f32");   /* input not f32 */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 2, 0), SHR_VALUE_ACT, 4, SHR_ERR_FORMAT, NULL);
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 3), 256, 4, SHR_ERR_LIMIT, NULL);  /* name length */
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 3), 0, 4, SHR_ERR_FORMAT, "name"); /* empty name */
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 3), 0x7FFFFFFF, 4, SHR_ERR_LIMIT, NULL);
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 1) + 4, 0x00414243, 4, SHR_ERR_FORMAT, "NUL"); /* "CBA\0" in a name */
    /* The producer of the first activation (value 9) is just before value 10. */
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 10) - 4, 4, 4, SHR_ERR_FORMAT, NULL);   /* wrong node */
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 10) - 4, 1000, 4, SHR_ERR_FORMAT, "producer");
    expect_patch(SHRK_SEC_GRAPH, value_at(gr, 2) - 4, 0, 4, SHR_ERR_FORMAT, "producer"); /* a param with a producer */
    /* Nodes: dangling input, bad output, op code, input count, attrs. */
    size_t in0 = node_inputs(gr, 1) + 4;
    expect_patch(SHRK_SEC_GRAPH, in0, 12345, 4, SHR_ERR_FORMAT, "input index");
    expect_patch(SHRK_SEC_GRAPH, in0, (uint32_t)-5, 4, SHR_ERR_FORMAT, "input index");
    expect_patch(SHRK_SEC_GRAPH, in0, (uint32_t)-1, 4, SHR_ERR_FORMAT, NULL); /* required input absent */
    expect_patch(SHRK_SEC_GRAPH, in0, 12, 4, SHR_ERR_FORMAT, "later");        /* not topological */
    expect_patch(SHRK_SEC_GRAPH, node_inputs(gr, 1) + 4 + 5 * 4, 999, 4, SHR_ERR_FORMAT, "output");
    expect_patch(SHRK_SEC_GRAPH, node_inputs(gr, 1), 100000, 4, SHR_ERR_LIMIT, NULL);
    expect_patch(SHRK_SEC_GRAPH, node_inputs(gr, 1), 1000, 4, SHR_ERR_FORMAT, "truncated");
    size_t op = node_at(gr, 2) + 4 + shrk_get_u32(gr + node_at(gr, 2));
    expect_patch(SHRK_SEC_GRAPH, op, SHR_OP_COUNT, 4, SHR_ERR_UNSUPPORTED, "op");
    expect_patch(SHRK_SEC_GRAPH, op, SHR_OP_SIGMOID, 4, SHR_OK, NULL); /* a valid edit loads: the CRC fix-up works */
    expect_patch(SHRK_SEC_GRAPH, op + 4, (uint32_t)-3, 4, SHR_ERR_FORMAT, "attribute"); /* kernel[0] */
    expect_patch(SHRK_SEC_GRAPH, op + 4 + 4 * 16, 99, 4, SHR_ERR_FORMAT, "attribute"); /* attrs.ndim */
    /* A conv kernel that no longer fits its weight: shape re-inference must catch it. */
    size_t conv_op = node_at(gr, 0) + 4 + shrk_get_u32(gr + node_at(gr, 0));
    expect_patch(SHRK_SEC_GRAPH, conv_op + 4, 3, 4, ANY_FAILURE, NULL);
    /* A wrong stored activation shape (relu output says 5 channels). */
    expect_patch(SHRK_SEC_GRAPH, value_field(gr, 11, 3) + 8, 5, 8, SHR_ERR_FORMAT, NULL);
}

static void test_meta_and_tensors(void) {
    /* META: presence flag, text length beyond the cap, NUL inside, channels. */
    expect_patch(SHRK_SEC_META, 0, 2, 4, SHR_ERR_FORMAT, "presence");
    expect_patch(SHRK_SEC_META, 4, SHRK_MAX_TEXT + 1, 4, SHR_ERR_LIMIT, NULL);
    expect_patch(SHRK_SEC_META, 4, 1000, 4, SHR_ERR_FORMAT, "truncated");
    expect_patch(SHRK_SEC_META, 8, 0x00697461, 4, SHR_ERR_FORMAT, "NUL"); /* "ati\0" */
    size_t pre = 8 + 4 + 8 + strlen("built by test_shrk_hostile\n");
    expect_patch(SHRK_SEC_META, pre + 4, 0, 4, SHR_ERR_FORMAT, "channel");
    expect_patch(SHRK_SEC_META, pre + 4, 5, 4, SHR_ERR_FORMAT, "channel");
    expect_patch(SHRK_SEC_META, pre, shrk_f32_bits(-1.0f), 4, SHR_ERR_FORMAT, "preprocessing"); /* scale */
    /* TENSORS: count, order, dtype, size, offset, alignment. */
    const size_t e1 = 8 + SHRK_TENSOR_ENTRY_SIZE; /* entry of the second tensor */
    expect_patch(SHRK_SEC_TENSORS, 0, 7, 4, SHR_ERR_FORMAT, "tensors");
    expect_patch(SHRK_SEC_TENSORS, 0, 0xFFFFFFFFu, 4, SHR_ERR_FORMAT, NULL);
    expect_patch(SHRK_SEC_TENSORS, 4, 1, 4, SHR_ERR_FORMAT, "reserved");
    expect_patch(SHRK_SEC_TENSORS, e1, 1, 4, SHR_ERR_FORMAT, "order");   /* same value twice */
    expect_patch(SHRK_SEC_TENSORS, e1, 9, 4, SHR_ERR_FORMAT, NULL);      /* an activation */
    expect_patch(SHRK_SEC_TENSORS, e1, 5000, 4, SHR_ERR_FORMAT, NULL);
    expect_patch(SHRK_SEC_TENSORS, e1 + 4, SHR_I8, 4, SHR_ERR_FORMAT, "dtype");
    expect_patch(SHRK_SEC_TENSORS, e1 + 16, 12, 8, SHR_ERR_FORMAT, "byte size");
    expect_patch(SHRK_SEC_TENSORS, e1 + 16, UINT64_MAX, 8, SHR_ERR_FORMAT, NULL);
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, 1u << 20, 8, SHR_ERR_FORMAT, "outside");
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, UINT64_MAX - 3, 8, SHR_ERR_FORMAT, "outside");
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, 8, 8, SHR_ERR_FORMAT, "outside"); /* over the index */
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, 0, 8, SHR_ERR_FORMAT, NULL);
    uint8_t *t = payload_of(model, SHRK_SEC_TENSORS);
    uint64_t off1 = shrk_get_u64(t + e1 + 8);
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, off1 + 4, 8, SHR_ERR_FORMAT, "aligned");
    expect_patch(SHRK_SEC_TENSORS, e1 + 8, shrk_get_u64(t + 8 + 8), 8, SHR_ERR_FORMAT, NULL); /* overlaps tensor 0 */
}

/* Graphs whose stored shapes agree with shape inference but that the runtime
 * could not run safely (found by tests/fuzz/fuzz_graph): refused at load. */
static void test_consistent_but_hostile_graphs(void) {
    const uint8_t *gr = payload_of(model, SHRK_SEC_GRAPH);
    /* fc's data input rewired to its own weight fc.w (2, 8): the shapes fit, but a
     * parameter has no batch; the plan wrote 2 rows into a 1-sample output. */
    expect_patch(SHRK_SEC_GRAPH, node_inputs(gr, 4) + 4, 7, 4, ANY_FAILURE, "batch");

    /* x (1,1,1) -> op: a second tiny model to bend. */
    for (int op = 0; op < 2; op++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_graph_create(&g));
        const int64_t one[3] = {1, 1, 1};
        int x, y;
        CHECK_OK(shr_graph_add_input(g, "x", 3, one, &x));
        shr_attrs a = shr_attrs_default();
        a.kernel[0] = a.kernel[1] = 1;
        a.count_include_pad = 1;
        CHECK_OK(shr_graph_add_node(g, "y", op ? SHR_OP_AVGPOOL2D : SHR_OP_RELU, &a, 1, &x, &y));
        void *buf = NULL;
        size_t n = 0;
        CHECK_OK(shr_model_to_memory(g, &buf, &n));
        shr_graph_free(g);
        if (!buf) return;
        uint8_t *b = buf, *pg = payload_of(b, SHRK_SEC_GRAPH);
        if (op == 0) {
            /* (-1, 2^21, 2^21, 2^21) in and out: 2^63 elements per sample overflowed
             * the runtime's size arithmetic. */
            for (int v = 0; v < 2; v++)
                for (int d = 1; d < 4; d++) shrk_put_u64(pg + value_field(pg, v, 3) + 8 * (size_t)d, 1u << 21);
        } else {
            /* avgpool k=65536 s=256 p=65535 with count_include_pad on a 1x1 input:
             * a 256x256 output, but the divisor KH*KW overflowed an int. */
            uint8_t *at = pg + node_at(pg, 0) + 4 + shrk_get_u32(pg + node_at(pg, 0)) + 4;
            for (int i = 0; i < 2; i++) {
                shrk_put_u32(at + 4 * (size_t)i, 65536);     /* kernel */
                shrk_put_u32(at + 8 + 4 * (size_t)i, 256);   /* stride */
                shrk_put_u32(at + 16 + 8 * (size_t)i, 65535); /* pad */
                shrk_put_u32(at + 20 + 8 * (size_t)i, 65535);
                shrk_put_u64(pg + value_field(pg, 1, 3) + 16 + 8 * (size_t)i, 256);
            }
        }
        fix_crcs(b, n);
        CHECK_STATUS(try_load(b, n), SHR_ERR_LIMIT);
        CHECK_MSG(strstr(shr_last_error(), op ? "too large" : "per sample") != NULL, "%s", shr_last_error());
        free(buf);
    }
}

/* Three maxpools with 46340x46340 windows over a 1x1 input: each node's count
 * (2^61.9) fits, their sum does not; a file may hold them, so it saturates. */
static void test_flops_saturate(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    const int64_t one[3] = {1, 1, 1};
    int x, y = -1;
    CHECK_OK(shr_graph_add_input(g, "x", 3, one, &x));
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = 46340;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = 46339;
    const char *names[3] = {"p0", "p1", "p2"};
    for (int i = 0; i < 3; i++) CHECK_OK(shr_graph_add_node(g, names[i], SHR_OP_MAXPOOL2D, &a, 1, &x, &y));
    CHECK(shr_node_flops(g, 0) == 46340LL * 46340 * 46340 * 46340); /* 46340x46340 outputs */
    void *buf = NULL;
    size_t n = 0;
    CHECK_OK(shr_model_to_memory(g, &buf, &n));
    shr_graph_free(g);
    g = NULL;
    CHECK_OK(shr_model_from_memory(buf, n, &g));
    if (g) CHECK(shr_graph_flops(g) == INT64_MAX);
    shr_graph_free(g);
    free(buf);
}

static void test_files(void) {
    shr_graph *g = NULL;
    char dir[1024], path[1100];
    CHECK(shrk_test_mkdtemp(dir, sizeof dir, "shrk_hostile") != NULL);
    snprintf(path, sizeof path, "%s/missing.shrk", dir);
    CHECK_STATUS(shr_model_load(path, &g), SHR_ERR_IO);
    CHECK(g == NULL && strstr(shr_last_error(), path) != NULL);
    CHECK_STATUS(shr_model_load(dir, &g), SHR_ERR_IO);
    CHECK(strstr(shr_last_error(), "directory") != NULL);
    snprintf(path, sizeof path, "%s/empty.shrk", dir);
    CHECK_OK(shr_write_file_atomic(path, "", 0));
    CHECK_STATUS(shr_model_load(path, &g), SHR_ERR_FORMAT);
    CHECK(g == NULL && strstr(shr_last_error(), path) && strstr(shr_last_error(), "empty"));
    unlink(path);
    snprintf(path, sizeof path, "%s/bad.shrk", dir);
    uint8_t *b = copy_model();
    b[model_size - 1] ^= 1;
    CHECK_OK(shr_write_file_atomic(path, b, model_size));
    CHECK_STATUS(shr_model_load(path, &g), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "section TENSORS checksum mismatch (file corrupt)") != NULL);
    CHECK_OK(shr_write_file_atomic(path, model, model_size));
    CHECK_OK(shr_model_load(path, &g));
    shr_graph_free(g);
    unlink(path);
    free(b);
    CHECK(rmdir(dir) == 0);
}

int main(void) {
    if (!ops_linked(used_ops, sizeof used_ops / sizeof used_ops[0])) return 1;
    build_model();
    RUN(test_valid_model_loads);
    RUN(test_every_prefix_fails);
    RUN(test_every_bit_flip_fails);
    RUN(test_magic_and_version);
    RUN(test_section_table);
    RUN(test_section_kinds);
    RUN(test_graph_limits);
    RUN(test_meta_and_tensors);
    RUN(test_consistent_but_hostile_graphs);
    RUN(test_flops_saturate);
    RUN(test_files);
    free(model);
    return test_summary();
}
