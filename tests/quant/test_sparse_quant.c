/* Sparse quantization (Deep Compression): Huffman coding, the encoded weight (zeros stay exactly
 * zero, non-zeros on their codebook, long empty runs), hostile encodings, and whole models. */
#include <math.h>
#include <string.h>

#include "io/shrk_format.h"
#include "quant/huffman.h"
#include "quant/sparse_code.h"
#include "qtest_util.h"

static void test_huffman(void) {
    shr_rng r;
    shr_rng_seed(&r, 1);
    uint64_t freq[40] = {0};
    int sym[5000];
    for (int i = 0; i < 5000; i++) { /* geometric-ish: short codes for frequent symbols */
        int s = 0;
        while (s < 39 && shr_rng_uniform(&r) < 0.5f) s++;
        sym[i] = s;
        freq[s]++;
    }
    uint8_t len[40];
    shr_huff h;
    CHECK(shr_huff_lengths(freq, 40, len) && shr_huff_init(&h, len, 40));
    CHECK(len[0] <= len[5] && len[0] >= 1);
    uint8_t buf[8000] = {0};
    shr_bitw w = {buf, 0};
    for (int i = 0; i < 5000; i++) shr_huff_put(&w, &h, sym[i]);
    CHECK(w.pos < 5000 * 3); /* about 2 bits per symbol */
    shr_bitr rd = {buf, 0, w.pos};
    int bad = 0, s;
    for (int i = 0; i < 5000; i++) bad += !shr_huff_get(&rd, &h, &s) || s != sym[i];
    CHECK(bad == 0 && rd.pos == w.pos && !shr_huff_get(&rd, &h, &s));
    uint8_t over[3] = {1, 1, 1}; /* three codes of one bit: not a prefix code */
    CHECK(!shr_huff_init(&h, over, 3));
}

/* A pruned matrix: density d, plus an all-zero stretch longer than any gap width. */
static float *pruned(int N, int K, double d, uint64_t seed) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    float *W = calloc((size_t)N * K, sizeof *W);
    for (int i = 0; i < N * K; i++)
        if (shr_rng_uniform(&r) < d) W[i] = shr_rng_normal(&r) * 0.1f;
    memset(W + K, 0, sizeof(float) * (size_t)(3 * K)); /* rows 1..3 empty */
    W[N * K - 1] = -0.3f; /* the last element */
    return W;
}

static void check_roundtrip(int N, int K, int bits, int shared, int huffman) {
    float *W = pruned(N, K, 0.1, (uint64_t)(bits * 2 + huffman)), *D = calloc((size_t)N * K, sizeof *D);
    uint8_t *blob = NULL;
    size_t size = 0;
    CHECK_OK(shr_spq_encode(W, N, K, bits, shared, huffman, &blob, &size));
    shr_spmat A;
    memset(&A, 0, sizeof A);
    CHECK_OK(shr_spq_decode(blob, size, &A));
    CHECK_OK(shr_spmat_to_dense(&A, D, K));
    shr_spq_info in;
    CHECK_OK(shr_spq_header(blob, size, &in));
    float mx = 0;
    for (int i = 0; i < N * K; i++) mx = fmaxf(mx, fabsf(W[i]));
    int zeros_kept = 1, values = 0, far = 0;
    float seen[300];
    for (int i = 0; i < N * K; i++) {
        if (W[i] == 0.0f) {
            zeros_kept &= shrk_f32_bits(D[i]) == 0; /* exactly +0 */
            continue;
        }
        if (!shared) far += fabsf(D[i] - W[i]) > 0.5001f * mx / 127;
        int j = 0;
        while (j < values && seen[j] != D[i]) j++;
        if (j == values && values < 300) seen[values++] = D[i];
    }
    CHECK_MSG(zeros_kept, "a pruned zero came back non-zero");
    CHECK(far == 0);
    CHECK_MSG(values <= (1 << bits) - 1, "%d distinct values for %d bits", values, bits);
    CHECK_MSG(in.nnz == (uint32_t)shr_spmat_nnz(&A) && in.bytes == size && in.fixed_bytes < in.csr_bytes, "nnz %u vs %lld, bytes %zu vs %zu, fixed %zu csr %zu", in.nnz, (long long)shr_spmat_nnz(&A), in.bytes, size, in.fixed_bytes, in.csr_bytes);
    if (huffman) CHECK(in.huffman == 1 && size < in.fixed_bytes + (size_t)(3 << bits));
    free(blob), free(W), free(D);
    shr_spmat_free(&A);
}

static void test_encode_decode(void) {
    check_roundtrip(40, 300, 8, 0, 0);
    check_roundtrip(40, 300, 5, 1, 0);
    check_roundtrip(40, 300, 4, 1, 1);
    check_roundtrip(7, 70000, 3, 1, 1); /* wide rows: 32-bit columns */
}

static shr_status load(const uint8_t *b, size_t n) {
    shr_spmat A;
    memset(&A, 0, sizeof A);
    shr_status st = shr_spq_decode(b, n, &A);
    shr_spmat_free(&A);
    return st;
}

static void test_hostile(void) {
    float *W = pruned(20, 100, 0.2, 9);
    uint8_t *blob = NULL;
    size_t size = 0;
    CHECK_OK(shr_spq_encode(W, 20, 100, 4, 1, 1, &blob, &size));
    if (!blob) return;
    uint8_t *b = malloc(size);
    for (size_t cut = 0; cut < size; cut += 7) CHECK_STATUS(load(blob, cut), SHR_ERR_FORMAT); /* truncated */
    struct { size_t at; uint32_t v; } patches[] = {
        {0, 0x12345678u},  /* magic */
        {4, 0},            /* N */
        {8, 1u << 30},     /* K */
        {12, 1u << 30},    /* stored entries beyond the stream */
        {16, 999999u},     /* more non-zeros than entries */
        {24, 0x3f800000u}, /* codebook[0] = 1.0, not the filler zero */
        {28, 0x7fc00000u}, /* a NaN codebook entry */
    };
    for (size_t i = 0; i < sizeof patches / sizeof *patches; i++) {
        memcpy(b, blob, size);
        shrk_put_u32(b + patches[i].at, patches[i].v);
        CHECK_MSG(load(b, size) == SHR_ERR_FORMAT, "patch %zu accepted", i);
    }
    memcpy(b, blob, size);
    b[24 + 16 * 4] = 0; /* a zero Huffman length for a value code in use: the stream breaks */
    b[24 + 16 * 4 + 1] = 30; /* a length beyond the limit */
    CHECK_STATUS(load(b, size), SHR_ERR_FORMAT);
    memcpy(b, blob, size);
    b[size - 1] ^= 0xFF; /* a damaged stream: decoding fails or lands elsewhere, never crashes */
    (void)load(b, size);
    /* an entry past the end: the last gap made huge, raw encoding */
    free(blob);
    CHECK_OK(shr_spq_encode(W, 20, 100, 8, 0, 0, &blob, &size));
    shr_spq_info in;
    CHECK_OK(shr_spq_header(blob, size, &in));
    size_t stream = 24 + 256 * 4 + 4;
    uint8_t *c = malloc(size);
    memcpy(c, blob, size);
    for (size_t i = stream; i < size; i++) c[i] = 0xFF; /* every gap maximal */
    CHECK_STATUS(load(c, size), SHR_ERR_FORMAT);
    free(c), free(b), free(blob), free(W);
}

/* n random 1 x side x side images with random labels (r continues to be used by the caller). */
static shr_dataset *random_images(shr_rng *r, int n, int side) {
    float *x = malloc(sizeof(float) * (size_t)(n * side * side));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n * side * side; i++) x[i] = (float)shr_rng_below(r, 256);
    for (int i = 0; i < n; i++) y[i] = (int32_t)shr_rng_below(r, 10);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(n, 1, side, side, x, y, &d));
    free(x), free(y);
    return d;
}

/* A pruned model: sparse mode keeps the zeros, shrinks the file; weight-only picks the sparse
 * encoding by itself for mostly-zero layers. */
static void test_model(void) {
    shr_rng r;
    shr_rng_seed(&r, 3);
    shr_dataset *d = random_images(&r, 100, 10);
    shr_graph *g = NULL, *q = NULL;
    CHECK_OK(shr_zoo_build("mlp-small", 1, 10, 10, 10, 1, &g));
    CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    for (int v = 0; v < g->n_values; v++) /* prune: keep every 8th weight of each matrix */
        if (g->values[v].kind == SHR_VALUE_PARAM && g->values[v].ndim == 2)
            for (int64_t i = 0; i < g->values[v].data->numel; i++)
                if (i % 8) shr_f32(g->values[v].data)[i] = 0.0f;
    void *fb = NULL, *qb = NULL;
    size_t fn = 0, qn = 0;
    CHECK_OK(shr_model_to_memory(g, &fb, &fn));
    shr_quant_config c = shr_quant_default();
    c.mode = SHR_QUANT_SPARSE, c.share_bits = 4, c.huffman = 1;
    shr_quant_report rep;
    CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
    if (q) {
        CHECK_OK(shr_model_to_memory(q, &qb, &qn));
        fprintf(stderr, "  pruned f32 file %zu bytes -> sparse shared-4 Huffman %zu\n", fn, qn);
        CHECK(qn * 2 < fn); /* small layers: the graph overhead weighs */
        CHECK(rep.n_layers == 2 && rep.layers[0].bytes_coded < rep.layers[0].bytes_shared &&
              rep.layers[0].bytes_shared < rep.layers[0].bytes_csr && rep.layers[0].bytes_csr < rep.layers[0].bytes_dense);
        int k = shr_graph_find_node(q, "fc1");
        CHECK(k >= 0 && q->nodes[k].op == SHR_OP_SPLINEAR);
        shr_spmat A;
        memset(&A, 0, sizeof A);
        const shr_tensor *blob = q->values[q->nodes[k].inputs[1]].data;
        CHECK_OK(shr_spq_decode(blob->data, (size_t)blob->numel, &A));
        const shr_tensor *w = g->values[g->nodes[shr_graph_find_node(g, "fc1")].inputs[1]].data;
        float *D = calloc((size_t)w->numel, sizeof *D);
        CHECK_OK(shr_spmat_to_dense(&A, D, (long)w->shape[1]));
        int moved = 0;
        for (int64_t i = 0; i < w->numel; i++) moved += shr_f32(w)[i] == 0.0f && D[i] != 0.0f;
        CHECK(moved == 0);
        CHECK(rep.layers[0].sqnr_db > 10.0);
        free(D);
        shr_spmat_free(&A);
    }
    shr_graph_free(q);
    q = NULL;
    c = shr_quant_default();
    c.mode = SHR_QUANT_WEIGHT_ONLY;
    CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
    if (q) CHECK(q->nodes[shr_graph_find_node(q, "fc1")].op == SHR_OP_SPLINEAR && rep.layers[0].bits == 8);
    free(fb), free(qb);
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
}

/* Encoding of value v in a .shrk image's SPARSE section (0 = dense, in TENSORS). */
static uint32_t sparse_encoding(const uint8_t *file, int v) {
    uint32_t n = shrk_get_u32(file + 16);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = file + SHRK_HEADER_SIZE + i * SHRK_ENTRY_SIZE;
        if (shrk_get_u32(e) != SHRK_SEC_SPARSE) continue;
        const uint8_t *s = file + shrk_get_u64(e + 8);
        for (uint32_t k = 0; k < shrk_get_u32(s); k++)
            if ((int)shrk_get_u32(s + 8 + 32 * k) == v) return shrk_get_u32(s + 12 + 32 * k);
    }
    return 0;
}

/* A pruned cnn-tiny (80 % of every conv / linear weight zero): static int8 keeps each pruned
 * weight at code 0 (conv weights NCHW f32 -> NHWC i8), the file stores every int8 weight sparsely
 * and loads back to the same model; sparse mode runs the convs as qconv2d and the Linear layers
 * as splinear, close to the float model. */
static void test_pruned_cnn(void) {
    shr_rng r;
    shr_rng_seed(&r, 4);
    shr_dataset *d = random_images(&r, 120, 12);
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("cnn-tiny", 1, 12, 12, 10, 1, &g));
    CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    for (int v = 0; v < g->n_values; v++) /* prune 4 of every 5 weights, at random */
        if (g->values[v].kind == SHR_VALUE_PARAM && g->values[v].ndim >= 2)
            for (int64_t i = 0; i < g->values[v].data->numel; i++)
                if (shr_rng_uniform(&r) < 0.8f) shr_f32(g->values[v].data)[i] = 0.0f;
    for (int mode = 0; mode < 2; mode++) {
        shr_quant_config c = shr_quant_default();
        if (mode) c.mode = SHR_QUANT_SPARSE, c.share_bits = 5, c.huffman = 1;
        shr_quant_report rep;
        shr_graph *q = NULL, *h = NULL;
        CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
        if (!q) continue;
        int convs = 0, splin = 0, sparse_i8 = 0, i8 = 0;
        for (int k = 0; k < q->n_nodes; k++) {
            const shr_node *n = &q->nodes[k];
            splin += n->op == SHR_OP_SPLINEAR;
            if (n->op != SHR_OP_QCONV2D && n->op != SHR_OP_QLINEAR) continue;
            convs += n->op == SHR_OP_QCONV2D;
            const shr_tensor *w = q->values[n->inputs[3]].data;
            const shr_value *fw = &g->values[g->nodes[shr_graph_find_node(g, n->name)].inputs[1]];
            CHECK(w->dtype == SHR_I8 && w->numel == fw->data->numel);
            int64_t OC = fw->shape[0], per = fw->data->numel / OC, C = fw->ndim == 4 ? fw->shape[1] : per,
                    HW = per / C, moved = 0;
            for (int64_t o = 0; o < OC; o++) /* f32 (OC, C, KH, KW) -> i8 (OC, KH, KW, C) */
                for (int64_t ci = 0; ci < C; ci++)
                    for (int64_t p = 0; p < HW; p++)
                        moved += shr_f32(fw->data)[(o * C + ci) * HW + p] == 0.0f &&
                                 ((const int8_t *)w->data)[o * per + p * C + ci] != 0;
            CHECK_MSG(moved == 0, "%s: %lld pruned weights got non-zero codes", n->name, (long long)moved);
        }
        CHECK_MSG(convs >= 2 && (mode ? splin >= 1 : 1), "mode %d: %d qconv2d, %d splinear", mode, convs, splin);
        void *b = NULL, *b2 = NULL;
        size_t n = 0, n2 = 0;
        CHECK_OK(shr_model_to_memory(q, &b, &n));
        for (int v = 0; b && v < q->n_values; v++) {
            const shr_tensor *t = q->values[v].data;
            if (!t || t->dtype != SHR_I8 || q->values[v].kind != SHR_VALUE_PARAM || t->numel < 64) continue;
            i8++;
            sparse_i8 += sparse_encoding(b, v) == 1; /* bitmask: the smallest at 80 % zeros */
        }
        CHECK_MSG(i8 >= 2 && sparse_i8 == i8, "mode %d: %d of %d int8 weights stored sparsely", mode, sparse_i8, i8);
        if (b) CHECK_OK(shr_model_from_memory(b, n, &h));
        if (h) CHECK_OK(shr_model_to_memory(h, &b2, &n2));
        CHECK(b2 && n2 == n && memcmp(b, b2, n) == 0);
        float *f = qg_outputs(g, d, 32, 0), *a = qg_outputs(q, d, 32, 0), *a2 = h ? qg_outputs(h, d, 32, 0) : NULL;
        double db = shr_sqnr_db(f, a, 320);
        fprintf(stderr, "  pruned cnn-tiny, %s: %zu bytes, logits SQNR %.1f dB\n", mode ? "sparse" : "static", n, db);
        CHECK(db > 20.0);
        CHECK(a2 && memcmp(a, a2, sizeof(float) * 320) == 0);
        free(f), free(a), free(a2), free(b), free(b2);
        shr_graph_free(h);
        shr_graph_free(q);
    }
    shr_graph_free(g);
    shr_dataset_free(d);
}

int main(void) {
    RUN(test_huffman);
    RUN(test_encode_decode);
    RUN(test_hostile);
    RUN(test_model);
    RUN(test_pruned_cnn);
    return test_summary();
}
