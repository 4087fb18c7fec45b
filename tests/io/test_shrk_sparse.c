/* The SPARSE section: pruned params round-trip bit for bit in the smallest
 * encoding (bitmask, CSR, block), the file really shrinks, dense models keep the
 * three-section layout, and hostile sparse sections fail cleanly. */
#include <math.h>
#include <string.h>

#include "io/shrk_format.h"
#include "io/shrk_sparse.h"
#include "quant/quant_internal.h"
#include "shrink/io.h"
#include "shrink/rng.h"
#include "test.h"

/* x (N, 1000) -> a: linear 8 -> b: linear 64 -> c: linear 72, i.e. weights
 * a (8, 1000), b (64, 8), c (72, 64) and biases; the weights are filled by the test. */
static shr_graph *build(void) {
    shr_graph *g = NULL;
    int x, y;
    int64_t in[1] = {1000};
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 1, in, &x));
    y = x;
    const char *names[3] = {"a", "b", "c"};
    const int outs[3] = {8, 64, 72};
    for (int l = 0; l < 3; l++) {
        char wn[16], bn[16];
        snprintf(wn, sizeof wn, "%s.w", names[l]);
        snprintf(bn, sizeof bn, "%s.b", names[l]);
        int64_t ws[2] = {outs[l], g->values[y].shape[1]}, bs[1] = {outs[l]};
        int w, b;
        CHECK_OK(shr_graph_add_tensor(g, wn, SHR_VALUE_PARAM, 2, ws, &w));
        CHECK_OK(shr_graph_add_tensor(g, bn, SHR_VALUE_PARAM, 1, bs, &b));
        int ins[3] = {y, w, b};
        CHECK_OK(shr_graph_add_node(g, names[l], SHR_OP_LINEAR, NULL, 3, ins, &y));
    }
    return g;
}

/* x (N, cols) -> fc with weight w (rows, cols), no bias; *wv = the weight's value index. */
static shr_graph *one_linear(int64_t rows, int64_t cols, int *wv) {
    shr_graph *g = NULL;
    int x, y;
    int64_t in[1] = {cols}, ws[2] = {rows, cols};
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 1, in, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, ws, wv));
    int ins[3] = {x, *wv, -1};
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, 3, ins, &y));
    return g;
}

static shr_tensor *param(shr_graph *g, const char *name) { return g->values[shr_graph_find_value(g, name)].data; }

/* Dense: every weight nonzero. */
static void fill_dense(shr_graph *g) {
    for (int v = 0; v < g->n_values; v++) {
        shr_tensor *t = g->values[v].data;
        for (int64_t i = 0; t && i < t->numel; i++) shr_f32(t)[i] = 0.01f * (float)((i * 7919 + v * 31) % 200 - 99.5);
    }
}

/* a: 99% zeros, scattered (CSR), b: half zeros at random (bitmask), c: whole 4x1 blocks zero (block),
 * plus a -0.0 and a NaN that must keep their bits. */
static void prune_pattern(shr_graph *g) {
    shr_tensor *a = param(g, "a.w"), *b = param(g, "b.w"), *c = param(g, "c.w");
    for (int64_t i = 0; i < a->numel; i++)
        if (i % 101 != 3) shr_f32(a)[i] = 0.0f; /* about 10 per row, in different columns */
    shr_f32(a)[203] = -0.0f; /* stored: only +0.0 counts as zero */
    shr_rng r;
    shr_rng_seed(&r, 5);
    for (int64_t i = 0; i < b->numel; i++)
        if (shr_rng_uniform(&r) < 0.5f) shr_f32(b)[i] = 0.0f;
    shr_f32(b)[1] = NAN;
    for (int64_t row = 0; row < 72; row++)
        for (int64_t col = 0; col < 64; col++)
            if ((row / 4 + col) % 2) shr_f32(c)[row * 64 + col] = 0.0f; /* rows 4k..4k+3 share a pattern */
}

static const uint8_t *section(const uint8_t *b, uint32_t type, size_t *len) {
    uint32_t n = shrk_get_u32(b + 16);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = b + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        if (shrk_get_u32(e) == type) {
            *len = (size_t)shrk_get_u64(e + 16);
            return b + shrk_get_u64(e + 8);
        }
    }
    return NULL;
}

/* Encoding of value `name` in a file's SPARSE section (SHRK_ENC_DENSE if absent). */
static uint32_t encoding_of(const uint8_t *file, const shr_graph *g, const char *name) {
    size_t len;
    const uint8_t *s = section(file, SHRK_SEC_SPARSE, &len);
    int v = shr_graph_find_value(g, name);
    for (uint32_t e = 0; s && e < shrk_get_u32(s); e++)
        if ((int)shrk_get_u32(s + 8 + e * SHRK_SPARSE_ENTRY_SIZE) == v) return shrk_get_u32(s + 12 + e * SHRK_SPARSE_ENTRY_SIZE);
    return SHRK_ENC_DENSE;
}

static void test_roundtrip_and_size(void) {
    shr_graph *g = build();
    fill_dense(g);
    void *dense = NULL, *sparse = NULL, *again = NULL;
    size_t nd = 0, ns = 0, na = 0, len;
    CHECK_OK(shr_model_to_memory(g, &dense, &nd));
    CHECK(dense && shrk_get_u32((uint8_t *)dense + 16) == 3 && !section(dense, SHRK_SEC_SPARSE, &len));
    prune_pattern(g);
    CHECK_OK(shr_model_to_memory(g, &sparse, &ns));
    if (!dense || !sparse) return;
    CHECK(shrk_get_u32((uint8_t *)sparse + 16) == 4);
    CHECK(encoding_of(sparse, g, "a.w") == SHRK_ENC_CSR);
    CHECK(encoding_of(sparse, g, "b.w") == SHRK_ENC_BITMASK);
    CHECK(encoding_of(sparse, g, "c.w") == SHRK_ENC_BLOCK);
    CHECK(encoding_of(sparse, g, "c.b") == SHRK_ENC_DENSE); /* 72 nonzero elements */
    /* a: 8000 -> ~80 values; b: half; c: half: the file is well under 60% of the dense one. */
    CHECK_MSG(ns * 100 < nd * 60, "sparse file %zu bytes vs dense %zu", ns, nd);
    shr_graph *h = NULL;
    CHECK_OK(shr_model_from_memory(sparse, ns, &h));
    if (h) {
        for (int v = 0; v < g->n_values; v++) {
            const shr_tensor *x = g->values[v].data, *y = h->values[v].data;
            if (!x) continue;
            CHECK(y && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0);
        }
        CHECK(shrk_f32_bits(shr_f32(param(h, "a.w"))[203]) == 0x80000000u);
        CHECK(isnan(shr_f32(param(h, "b.w"))[1]));
        CHECK_OK(shr_model_to_memory(h, &again, &na));
        CHECK(na == ns && again && memcmp(again, sparse, ns) == 0);
    }
    /* Wide rows (C > 65536) take 4-byte column indices. */
    int wv;
    shr_graph *w = one_linear(2, 70000, &wv);
    for (int i = 0; i < 140000; i += 97) shr_f32(w->values[wv].data)[i] = (float)i;
    void *wb = NULL;
    size_t wn = 0;
    CHECK_OK(shr_model_to_memory(w, &wb, &wn));
    shr_graph *w2 = NULL;
    if (wb) {
        CHECK(encoding_of(wb, w, "w") == SHRK_ENC_CSR);
        CHECK_OK(shr_model_from_memory(wb, wn, &w2));
    }
    if (w2) CHECK(memcmp(w2->values[wv].data->data, w->values[wv].data->data, w->values[wv].data->nbytes) == 0);
    shr_graph_free(w2);
    shr_graph_free(w);
    free(wb);
    shr_graph_free(h);
    shr_graph_free(g);
    free(dense);
    free(sparse);
    free(again);
}

/* ---- hostile SPARSE sections ---- */

static uint8_t *good;
static size_t good_size;
static shr_graph *good_graph;

/* `good` with section `type`'s payload replaced (any length), laid out again with valid CRCs. */
static uint8_t *with_section(uint32_t type, const uint8_t *payload, size_t plen, size_t *out_size) {
    uint32_t n = shrk_get_u32(good + 16);
    size_t at = SHRK_HEADER_SIZE + (size_t)n * SHRK_ENTRY_SIZE, offs[8], lens[8];
    const uint8_t *src[8];
    for (uint32_t i = 0; i < n && i < 8; i++) {
        const uint8_t *e = good + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        int mine = shrk_get_u32(e) == type;
        src[i] = mine ? payload : good + shrk_get_u64(e + 8);
        lens[i] = mine ? plen : (size_t)shrk_get_u64(e + 16);
        offs[i] = (at + 63) & ~(size_t)63;
        at = offs[i] + lens[i];
    }
    uint8_t *b = calloc(1, at);
    if (!b) exit(1);
    memcpy(b, good, SHRK_HEADER_SIZE + (size_t)n * SHRK_ENTRY_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = b + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        memcpy(b + offs[i], src[i], lens[i]);
        shrk_put_u64(e + 8, offs[i]);
        shrk_put_u64(e + 16, lens[i]);
        shrk_put_u32(e + 24, shrk_crc(0, b + offs[i], lens[i]));
    }
    shrk_put_u32(b + SHRK_HEADER_CRC_AT, shrk_header_crc(b, n));
    *out_size = at;
    return b;
}

static shr_status load(const uint8_t *b, size_t n) {
    shr_graph *g = (shr_graph *)&g;
    shr_clear_error();
    shr_status st = shr_model_from_memory(b, n, &g);
    if (st == SHR_OK) shr_graph_free(g);
    else CHECK(g == NULL && shr_last_error()[0]);
    return st;
}

/* Copies SPARSE, lets `edit` change it, reloads and expects a format error naming `phrase`. */
typedef void (*edit_fn)(uint8_t *s, size_t *len);
static void expect_sparse(const char *what, edit_fn edit, const char *phrase) {
    size_t len, n;
    const uint8_t *s = section(good, SHRK_SEC_SPARSE, &len);
    uint8_t *copy = malloc(len + 64);
    if (!s || !copy) exit(1);
    memcpy(copy, s, len);
    edit(copy, &len);
    uint8_t *b = with_section(SHRK_SEC_SPARSE, copy, len, &n);
    shr_status st = load(b, n);
    CHECK_MSG(st == SHR_ERR_FORMAT, "%s: status %d (%s)", what, (int)st, shr_last_error());
    CHECK_MSG(!phrase || strstr(shr_last_error(), phrase), "%s: message '%s' lacks '%s'", what, shr_last_error(), phrase);
    free(b);
    free(copy);
}

/* Every prefix and a flip of every byte of `good`'s SPARSE (CRC fixed) fail or load, never crash. */
static void flip_every_byte(void) {
    size_t n;
    const uint8_t *s = section(good, SHRK_SEC_SPARSE, &n);
    uint8_t *copy = malloc(n);
    int loaded = 0;
    for (size_t i = 0; s && copy && i < n; i++) {
        size_t m;
        memcpy(copy, s, n);
        copy[i] ^= 0x5A;
        uint8_t *b = with_section(SHRK_SEC_SPARSE, copy, n, &m);
        shr_graph *g2 = NULL;
        if (shr_model_from_memory(b, m, &g2) == SHR_OK) {
            loaded++; /* a changed value byte is a valid, different model */
            shr_graph_free(g2);
        }
        free(b);
        b = with_section(SHRK_SEC_SPARSE, s, i, &m);
        CHECK(load(b, m) != SHR_OK);
        free(b);
    }
    CHECK_MSG(loaded < (int)n, "%d of %zu flips loaded", loaded, n);
    free(copy);
}

/* Entries in value order: a.w (CSR), b.w (bitmask), c.w (block). */
#define ENT(i) (8 + (i) * SHRK_SPARSE_ENTRY_SIZE)
static size_t data_of(const uint8_t *s, int i) { return (size_t)shrk_get_u64(s + ENT(i) + 16); }

static void e_reserved(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + 4, 1); }
static void e_count_big(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s, 1000000); }
static void e_order(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(1), shrk_get_u32(s + ENT(0))); }
static void e_not_param(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(0), 0); /* the input */ }
static void e_kind(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(0) + 4, 9); }
static void e_bitmask_param(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(1) + 8, 1); }
static void e_gap(uint8_t *s, size_t *n) { (void)n; shrk_put_u64(s + ENT(1) + 16, data_of(s, 1) + 1); }
static void e_trailing(uint8_t *s, size_t *n) { s[(*n)++] = 0; }
static void e_truncated(uint8_t *s, size_t *n) { (void)s; *n -= 3; }
/* CSR of a.w (8 rows of 1000): row pointers, then u16 columns, then values. */
static void e_rowptr_desc(uint8_t *s, size_t *n) {
    (void)n;
    uint8_t *d = s + data_of(s, 0);
    shrk_put_u32(d + 4 * 3, shrk_get_u32(d + 4 * 2) - 1);
}
static void e_col_range(uint8_t *s, size_t *n) {
    (void)n;
    uint8_t *d = s + data_of(s, 0) + 4 * 9;
    d[0] = 0xE8; /* 1000 */
    d[1] = 0x03;
}
static void e_col_order(uint8_t *s, size_t *n) {
    (void)n;
    uint8_t *d = s + data_of(s, 0) + 4 * 9;
    d[2] = d[0];
    d[3] = d[1];
}
static void e_width(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(0) + 8, 3); }
static void e_zero_value(uint8_t *s, size_t *n) {
    (void)n;
    uint64_t nnz = (shrk_get_u64(s + ENT(0) + 24) - 4 * 9) / 6;
    shrk_put_u32(s + data_of(s, 0) + 4 * 9 + 2 * nnz, 0);
}
static void e_mask_bit(uint8_t *s, size_t *n) { (void)n; s[data_of(s, 1)] ^= 1; }
static void e_block_shape(uint8_t *s, size_t *n) { (void)n; shrk_put_u32(s + ENT(2) + 8, 5); /* 72 % 5 != 0 */ }
static void e_block_zero(uint8_t *s, size_t *n) {
    (void)n;
    uint32_t bh = shrk_get_u32(s + ENT(2) + 8), bw = shrk_get_u32(s + ENT(2) + 12);
    size_t nb = (size_t)(72 / bh) * (64 / bw), mb = (nb + 7) / 8;
    memset(s + data_of(s, 2) + mb, 0, (size_t)bh * bw * 4); /* the first block (kept) */
}

static void test_hostile_sparse(void) {
    good_graph = build();
    fill_dense(good_graph);
    prune_pattern(good_graph);
    void *buf = NULL;
    CHECK_OK(shr_model_to_memory(good_graph, &buf, &good_size));
    good = buf;
    if (!good) return;
    size_t n;
    const uint8_t *s = section(good, SHRK_SEC_SPARSE, &n);
    uint8_t *same = with_section(SHRK_SEC_SPARSE, s, n, &n);
    CHECK_OK(load(same, n)); /* re-laid out unchanged: valid */
    free(same);
    static const struct {
        const char *what;
        edit_fn edit;
        const char *phrase; /* NULL: any format error */
    } cases[] = {
        {"reserved", e_reserved, "reserved"},
        {"count", e_count_big, "declares"},
        {"order", e_order, "order"},
        {"not a param", e_not_param, "i8 param"},
        {"kind", e_kind, "encoding"},
        {"bitmask parameter", e_bitmask_param, "encoding"},
        {"gap", e_gap, "follow"},
        {"trailing", e_trailing, "trailing"},
        {"truncated", e_truncated, NULL},
        {"row pointers", e_rowptr_desc, "row pointers"},
        {"column range", e_col_range, "column"},
        {"column order", e_col_order, "column"},
        {"index width", e_width, "width"},
        {"stored zero", e_zero_value, "zero value"},
        {"mask bit", e_mask_bit, NULL},
        {"block shape", e_block_shape, "block"},
        {"all-zero block", e_block_zero, "all-zero block"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect_sparse(cases[i].what, cases[i].edit, cases[i].phrase);

    /* A tensor in both SPARSE and TENSORS; SPARSE dropped (TENSORS then misses it). */
    size_t tl;
    const uint8_t *t = section(good, SHRK_SEC_TENSORS, &tl);
    uint8_t *tc = malloc(tl);
    memcpy(tc, t, tl);
    shrk_put_u32(tc, shrk_get_u32(tc) + 1);
    uint8_t *b = with_section(SHRK_SEC_TENSORS, tc, tl, &n);
    CHECK_STATUS(load(b, n), SHR_ERR_FORMAT);
    free(b);
    free(tc);
    uint8_t empty[8] = {0};
    b = with_section(SHRK_SEC_SPARSE, empty, 8, &n);
    CHECK_STATUS(load(b, n), SHR_ERR_FORMAT);
    free(b);

    flip_every_byte();
    free(good);
    shr_graph_free(good_graph);
}

/* A reader allocates the dense tensor: a tiny encoding of a huge tensor is refused. */
static void test_expansion_limit(void) {
    int w;
    shr_graph *g = one_linear(1, 100000, &w);
    shr_f32(g->values[w].data)[5] = 1.0f;
    void *buf = NULL;
    CHECK_OK(shr_model_to_memory(g, &buf, &good_size));
    good = buf;
    if (!good) return;
    /* The writer does not pick CSR here (16 bytes for 100000 elements). */
    CHECK(encoding_of(good, g, "w") == SHRK_ENC_BLOCK);
    uint8_t s[8 + SHRK_SPARSE_ENTRY_SIZE + 16] = {0};
    shrk_put_u32(s, 1);
    shrk_put_u32(s + 8, (uint32_t)w);
    shrk_put_u32(s + 12, SHRK_ENC_CSR);
    shrk_put_u32(s + 16, 4);
    shrk_put_u64(s + 24, 8 + SHRK_SPARSE_ENTRY_SIZE);
    shrk_put_u64(s + 32, 16);
    uint8_t *d = s + 8 + SHRK_SPARSE_ENTRY_SIZE;
    shrk_put_u32(d + 4, 1);  /* row pointers 0, 1 */
    shrk_put_u32(d + 8, 5);  /* column 5 */
    shrk_put_u32(d + 12, shrk_f32_bits(1.0f));
    size_t n;
    uint8_t *b = with_section(SHRK_SEC_SPARSE, s, sizeof s, &n);
    CHECK_STATUS(load(b, n), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "expands") != NULL);
    free(b);
    free(good);
    shr_graph_free(g);
}

/* Integer weights of quantized models: i8 (conv-shaped, 80 % zero at random: bitmask) and i16
 * (a few per row: CSR) round-trip exactly, shrink the file, and a zero stored value, a wrong
 * size or a mask bit over a zero are refused with the element size of their dtype. */
static void test_integer_weights(void) {
    int wv, v8, v16;
    shr_graph *g = one_linear(4, 64, &wv);
    int64_t s8[4] = {32, 3, 3, 16}, s16[2] = {40, 300};
    int8_t *w8 = calloc(32 * 3 * 3 * 16, 1);
    int16_t *w16 = calloc(40 * 300, 2);
    shr_rng r;
    shr_rng_seed(&r, 9);
    for (int i = 0; i < 32 * 3 * 3 * 16; i++)
        if (shr_rng_uniform(&r) < 0.2f) w8[i] = (int8_t)(shr_rng_below(&r, 2) ? 1 + (int)shr_rng_below(&r, 127) : -1 - (int)shr_rng_below(&r, 128));
    for (int i = 0; i < 40 * 300; i += 29) w16[i] = (int16_t)(i % 2 ? -i : 256 * (i % 100 + 1)); /* low byte 0: still nonzero */
    w8[0] = -128;
    CHECK_OK(shr_q_add_tensor(g, "w8", SHR_VALUE_PARAM, SHR_I8, 4, s8, w8, &v8));
    CHECK_OK(shr_q_add_tensor(g, "w16", SHR_VALUE_PARAM, SHR_I16, 2, s16, w16, &v16));
    for (int i = 0; i < 256; i++) shr_f32(g->values[wv].data)[i] = (float)(i % 3 + 1); /* dense */
    void *buf = NULL;
    size_t n = 0;
    CHECK_OK(shr_model_to_memory(g, &buf, &n));
    if (!buf) return;
    CHECK(encoding_of(buf, g, "w8") == SHRK_ENC_BITMASK);
    CHECK(encoding_of(buf, g, "w16") == SHRK_ENC_CSR);
    /* dense: 4608 + 24000 bytes of integer weights; sparse: ~576 + ~1000 mask/values, ~2000 */
    CHECK_MSG(n < 8000, "file of %zu bytes", n);
    shr_graph *h = NULL;
    CHECK_OK(shr_model_from_memory(buf, n, &h));
    if (h) {
        CHECK(h->values[v8].data->dtype == SHR_I8 && h->values[v16].data->dtype == SHR_I16);
        CHECK(memcmp(h->values[v8].data->data, w8, sizeof *w8 * 4608) == 0);
        CHECK(memcmp(h->values[v16].data->data, w16, sizeof *w16 * 12000) == 0);
    }
    shr_graph_free(h);
    good = buf, good_size = n;
    size_t len, m;
    const uint8_t *s = section(good, SHRK_SEC_SPARSE, &len);
    uint8_t *copy = malloc(len + 8);
    /* entries: w (f32, value order first) is not sparse here; w8 = entry 0, w16 = entry 1 */
    CHECK(s && shrk_get_u32(s) == 2 && (int)shrk_get_u32(s + ENT(0)) == v8);
    for (int k = 0; s && copy && k < 4; k++) {
        memcpy(copy, s, len);
        size_t l = len;
        const uint8_t *d8 = s + data_of(s, 0);
        size_t mb = (4608 + 7) / 8, first = 0;
        while (!(d8[first >> 3] >> (first & 7) & 1)) first++;
        size_t zero = 0;
        while (d8[zero >> 3] >> (zero & 7) & 1) zero++;
        if (k == 0) copy[data_of(s, 0) + mb] = 0;                      /* the first stored i8 value */
        if (k == 1) copy[data_of(s, 0) + (zero >> 3)] |= (uint8_t)(1u << (zero & 7)); /* one more mask bit */
        if (k == 2) /* the first stored i16 value: after 41 row pointers and nnz u16 columns */
            memset(copy + data_of(s, 1) + 4 * 41 + 2 * ((shrk_get_u64(s + ENT(1) + 24) - 4 * 41) / 4), 0, 2);
        if (k == 3) l--;                                               /* w16 one byte short */
        uint8_t *b = with_section(SHRK_SEC_SPARSE, copy, l, &m);
        shr_status st = load(b, m);
        CHECK_MSG(st == SHR_ERR_FORMAT, "integer case %d: status %d", k, (int)st);
        CHECK_MSG(k == 1 || k == 3 || strstr(shr_last_error(), "zero value"), "case %d: %s", k, shr_last_error());
        CHECK_MSG(k != 1 || strstr(shr_last_error(), "mask"), "case %d: %s", k, shr_last_error());
        free(b);
    }
    free(copy);
    flip_every_byte();
    free(buf);
    free(w8);
    free(w16);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_roundtrip_and_size);
    RUN(test_integer_weights);
    RUN(test_hostile_sparse);
    RUN(test_expansion_limit);
    return test_summary();
}
