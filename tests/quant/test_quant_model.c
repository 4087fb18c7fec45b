/* Whole-model quantization on small random models: every mode gives a graph that validates,
 * runs the same through the plan and the tape, stays close to the float model, and survives a
 * .shrk round trip bit for bit; quantized graphs with hostile quantization fields are refused. */
#include <math.h>
#include <string.h>

#include "io/shrk_format.h"
#include "nn/ops/ops_quant.h"
#include "qtest_util.h"

#define NS 160

static shr_dataset *random_data(int c, int h, int w, uint64_t seed) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    int64_t per = (int64_t)c * h * w;
    float *x = malloc(sizeof(float) * NS * per);
    int32_t *y = malloc(sizeof(int32_t) * NS);
    for (int64_t i = 0; i < NS * per; i++) x[i] = (float)shr_rng_below(&r, 256);
    for (int i = 0; i < NS; i++) y[i] = (int32_t)shr_rng_below(&r, 10);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(NS, c, h, w, x, y, &d));
    free(x);
    free(y);
    return d;
}

static shr_graph *model(const char *arch, const shr_dataset *d) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build(arch, d->c, d->h, d->w, 10, 3, &g));
    if (g) CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    /* non-trivial BatchNorm statistics, so folding matters */
    for (int v = 0; g && v < g->n_values; v++) {
        const char *n = g->values[v].name;
        size_t len = strlen(n);
        if (!g->values[v].data) continue;
        float *p = shr_f32(g->values[v].data);
        if (len > 5 && strcmp(n + len - 5, ".mean") == 0)
            for (int64_t i = 0; i < g->values[v].data->numel; i++) p[i] = 0.1f * (float)(i % 5) - 0.2f;
        if (len > 4 && strcmp(n + len - 4, ".var") == 0)
            for (int64_t i = 0; i < g->values[v].data->numel; i++) p[i] = 0.5f + 0.25f * (float)(i % 3);
    }
    return g;
}

static double check_mode(const char *arch, shr_quant_config cfg, double min_sqnr) {
    shr_dataset *d = strcmp(arch, "mlp-small") == 0 ? random_data(1, 10, 10, 1) : random_data(1, 12, 12, 2);
    shr_graph *g = model(arch, d), *q = NULL;
    shr_quant_report rep;
    double db = -INFINITY;
    CHECK_OK(shr_quantize(g, d, &cfg, &q, &rep));
    if (!q) goto done;
    CHECK_OK(shr_graph_validate(q));
    float *f = qg_outputs(g, d, 32, 0), *a = qg_outputs(q, d, 32, 0), *b = qg_outputs(q, d, 32, 1);
    db = shr_sqnr_db(f, a, 320);
    fprintf(stderr, "  %-9s %-11s %2d-bit: logits SQNR %.1f dB\n", arch, shr_quant_mode_name(cfg.mode), cfg.bits, db);
    CHECK_MSG(db >= min_sqnr, "%s %s %d-bit: logits SQNR %.1f dB < %.1f", arch, shr_quant_mode_name(cfg.mode),
              cfg.bits, db, min_sqnr);
    CHECK_MSG(memcmp(a, b, sizeof(float) * 320) == 0, "%s: plan and tape differ", arch);
    for (int i = 0; i < rep.n_layers; i++)
        CHECK_MSG(rep.layers[i].bits == 32 || !isnan(rep.layers[i].sqnr_db), "layer %s has no SQNR", rep.layers[i].name);
    /* .shrk round trip: same outputs, same bytes */
    void *buf = NULL, *buf2 = NULL;
    size_t n = 0, n2 = 0;
    shr_graph *h = NULL;
    CHECK_OK(shr_model_to_memory(q, &buf, &n));
    if (buf) CHECK_OK(shr_model_from_memory(buf, n, &h));
    if (h) {
        float *c = qg_outputs(h, d, 32, 0);
        CHECK(memcmp(a, c, sizeof(float) * 320) == 0);
        free(c);
        CHECK_OK(shr_model_to_memory(h, &buf2, &n2));
        CHECK(n == n2 && buf2 && memcmp(buf, buf2, n) == 0);
        if (rep.n_layers > 0) CHECK(shr_quant_layer_sqnr(h, rep.layers[0].name) == (float)rep.layers[0].sqnr_db);
    }
    free(buf), free(buf2), free(f), free(a), free(b);
    shr_graph_free(h);
done:
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
    return db;
}

static void test_modes(void) {
    shr_quant_config c = shr_quant_default();
    check_mode("cnn-tiny", c, 32.0);
    check_mode("lenet5", c, 30.0);
    check_mode("resnet8", c, 30.0);
    check_mode("dwnet", c, 26.0);
    c.calib = SHR_CALIB_MSE;
    c.act_bits = 7;
    check_mode("cnn-tiny", c, 30.0);
    c = shr_quant_default();
    c.symmetric = 1, c.per_channel = 0, c.calib = SHR_CALIB_PERCENTILE, c.percentile = 99.9;
    check_mode("lenet5", c, 22.0);
    c = shr_quant_default();
    c.bits = 16;
    check_mode("cnn-tiny", c, 55.0);
    c = shr_quant_default();
    c.mode = SHR_QUANT_DYNAMIC;
    check_mode("mlp-small", c, 35.0);
    c.mode = SHR_QUANT_WEIGHT_ONLY;
    check_mode("mlp-small", c, 38.0);
    c.bits = 4;
    double plain = check_mode("mlp-small", c, 16.0);
    c.int4_asym = 1;
    check_mode("mlp-small", c, 16.0);
    /* GPTQ's error-compensating rounding beats rounding to nearest on the data it saw */
    c.int4_asym = 0, c.gptq = 1;
    double gptq = check_mode("mlp-small", c, 16.0);
    CHECK_MSG(gptq > plain + 1.0, "gptq %.2f dB vs plain %.2f dB", gptq, plain);
}

/* What the lowering makes of cnn: one quantize in, integer ops, f32 logits out. */
static void test_integer_region(void) {
    shr_dataset *d = random_data(1, 12, 12, 5);
    shr_graph *g = model("cnn", d), *q = NULL;
    shr_quant_config c = shr_quant_default();
    shr_quant_report rep;
    CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
    if (q) {
        CHECK(qg_count_op(q, SHR_OP_QUANTIZE) == 1 && qg_count_op(q, SHR_OP_QCONV2D) == 3 && qg_count_op(q, SHR_OP_QLINEAR) == 1);
        CHECK(qg_count_op(q, SHR_OP_QMAXPOOL2D) == 3 && qg_count_op(q, SHR_OP_QFLATTEN) == 1);
        CHECK(qg_count_op(q, SHR_OP_BATCHNORM) == 0 && qg_count_op(q, SHR_OP_RELU) == 0 && qg_count_op(q, SHR_OP_CONV2D) == 0);
        CHECK(qg_count_op(q, SHR_OP_DEQUANTIZE) == 0); /* the last layer writes f32 logits itself */
        CHECK(rep.bn_folded == 3 && rep.relu_fused == 3 && rep.n_layers == 4);
    }
    shr_graph_free(q);
    /* --exclude block2.conv and --keep-int16 block3.conv: f32 and 16-bit islands */
    const char *ex[1] = {"block2.conv"}, *k16[1] = {"block3.conv"};
    c.exclude = ex, c.n_exclude = 1, c.keep16 = k16, c.n_keep16 = 1;
    CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
    if (q) {
        CHECK(qg_count_op(q, SHR_OP_CONV2D) == 1 && qg_count_op(q, SHR_OP_QCONV2D) == 2);
        int k = shr_graph_find_node(q, "block3.conv");
        CHECK(k >= 0 && q->values[q->nodes[k].inputs[3]].data->dtype == SHR_I16);
        CHECK(rep.layers[1].bits == 32 && rep.layers[2].bits == 16);
    }
    shr_graph_free(q);
    const char *bad[1] = {"no.such.layer"};
    c.exclude = bad;
    CHECK_STATUS(shr_quantize(g, d, &c, &q, &rep), SHR_ERR_INVALID_ARG);
    shr_graph_free(g);
    /* cnn-tiny's first conv (one input channel into 8) is too thin for the integer path: it
     * stays f32 and the codes start at its pooled output */
    g = model("cnn-tiny", d);
    c = shr_quant_default();
    CHECK_OK(shr_quantize(g, d, &c, &q, &rep));
    if (q) {
        CHECK(qg_count_op(q, SHR_OP_CONV2D) == 1 && qg_count_op(q, SHR_OP_QCONV2D) == 2 && qg_count_op(q, SHR_OP_QUANTIZE) == 1);
        CHECK(rep.layers[0].bits == 32);
        int k = shr_graph_find_node(q, "block1.pool.quant8");
        CHECK(k >= 0);
    }
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
}

/* --requant float (the default) and fixed: the integer layers and average pools carry their
 * mode through a .shrk round trip, both run close to each other, and a file from before the mode
 * existed (its nodes' momentum is a plain value) runs as fixed point, bit for bit. */
static int count_float(const shr_graph *q, int *requantizing) {
    int nf = 0;
    *requantizing = 0;
    for (int k = 0; k < q->n_nodes; k++) {
        shr_op op = q->nodes[k].op;
        if (op != SHR_OP_QLINEAR && op != SHR_OP_QCONV2D && op != SHR_OP_QAVGPOOL2D) continue;
        (*requantizing)++;
        nf += shr_q_float_requant(&q->nodes[k]);
    }
    return nf;
}

static void test_requant_modes(void) {
    shr_dataset *d = random_data(1, 12, 12, 7);
    shr_graph *g = model("resnet8", d), *qf = NULL, *qx = NULL, *old = NULL, *h = NULL;
    shr_quant_config c = shr_quant_default();
    CHECK(c.fixed_requant == 0);
    CHECK_OK(shr_quantize(g, d, &c, &qf, NULL));
    c.fixed_requant = 1;
    CHECK_OK(shr_quantize(g, d, &c, &qx, NULL));
    if (!qf || !qx) goto done;
    int nq, nq2;
    CHECK(count_float(qf, &nq) == nq && nq >= 8 && qg_count_op(qf, SHR_OP_QAVGPOOL2D) == 1);
    CHECK(count_float(qx, &nq2) == 0 && nq2 == nq);
    void *buf = NULL;
    size_t n = 0;
    CHECK_OK(shr_model_to_memory(qf, &buf, &n));
    if (buf) CHECK_OK(shr_model_from_memory(buf, n, &h));
    free(buf);
    if (h) CHECK(count_float(h, &nq2) == nq);
    /* the same model as an older shrink wrote it: momentum as the float nodes it was copied from */
    if (h) {
        for (int k = 0; k < h->n_nodes; k++)
            if (shr_q_float_requant(&h->nodes[k])) h->nodes[k].attrs.momentum = 0.1f;
        CHECK_OK(shr_model_to_memory(h, &buf, &n));
        if (buf) CHECK_OK(shr_model_from_memory(buf, n, &old));
        free(buf);
    }
    float *f = qg_outputs(qf, d, 32, 0), *x = qg_outputs(qx, d, 32, 0), *o = old ? qg_outputs(old, d, 32, 0) : NULL;
    double db = shr_sqnr_db(x, f, 320);
    fprintf(stderr, "  resnet8 float vs fixed requantization: logits SQNR %.1f dB\n", db);
    CHECK_MSG(db > 30.0, "float vs fixed requantization: %.1f dB", db);
    CHECK(o && count_float(old, &nq2) == 0 && memcmp(o, x, sizeof(float) * 320) == 0);
    free(f), free(x), free(o);
done:
    shr_graph_free(old), shr_graph_free(h), shr_graph_free(qf), shr_graph_free(qx), shr_graph_free(g);
    shr_dataset_free(d);
}

/* In-memory edits a loaded file could carry: each must fail validation (and so loading). */
static void test_hostile_graphs(void) {
    shr_dataset *d = random_data(1, 12, 12, 6);
    shr_graph *g = model("cnn", d), *q = NULL;
    shr_quant_config c = shr_quant_default();
    CHECK_OK(shr_quantize(g, d, &c, &q, NULL));
    if (!q) return;
    int k = shr_graph_find_node(q, "block2.conv");
    shr_node *n = &q->nodes[k];
    float *xs = shr_f32(q->values[n->inputs[1]].data);
    const float bad_scales[4] = {NAN, -1.0f, 0.0f, INFINITY};
    for (int i = 0; i < 4; i++) {
        float keep = *xs;
        *xs = bad_scales[i];
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        *xs = keep;
    }
    float keep = n->attrs.eps;
    n->attrs.eps = 300.0f; /* beyond u8 */
    CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
    n->attrs.eps = 2.5f; /* not an integer */
    CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
    n->attrs.eps = keep;
    /* the weight's dtype, the bias's dtype, the zero point's dtype */
    int slots[3] = {3, 5, 2};
    for (int i = 0; i < 3; i++) {
        shr_tensor *t = q->values[n->inputs[slots[i]]].data, *f = NULL;
        CHECK_OK(shr_tensor_create(&f, SHR_F32, t->ndim, t->shape));
        q->values[n->inputs[slots[i]]].data = f;
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        q->values[n->inputs[slots[i]]].data = t;
        shr_tensor_free(f);
    }
    CHECK_OK(shr_graph_validate(q));
    /* an f32 op reading codes, and codes as the graph output */
    int pool = shr_graph_find_value(q, "block1.pool");
    int saved = q->nodes[shr_graph_find_node(q, "flatten")].op;
    q->nodes[shr_graph_find_node(q, "flatten")].op = SHR_OP_FLATTEN;
    CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
    q->nodes[shr_graph_find_node(q, "flatten")].op = (shr_op)saved;
    int out = q->output;
    q->output = pool;
    CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
    q->output = out;
    /* the same refusal at save time */
    void *buf = NULL;
    size_t size = 0;
    *xs = NAN;
    CHECK(shr_model_to_memory(q, &buf, &size) != SHR_OK);
    *xs = 0.05f;
    /* in the file: a scale's bytes patched to NaN with valid checksums */
    CHECK_OK(shr_model_to_memory(q, &buf, &size));
    if (buf) {
        uint8_t *b = buf;
        uint32_t nsec = shrk_get_u32(b + 16);
        for (uint32_t s = 0; s < nsec; s++) {
            uint8_t *e = b + SHRK_HEADER_SIZE + s * SHRK_ENTRY_SIZE;
            if (shrk_get_u32(e) != SHRK_SEC_TENSORS) continue;
            uint8_t *p = b + shrk_get_u64(e + 8);
            for (uint32_t i = 0; i < shrk_get_u32(p); i++) {
                uint8_t *te = p + 8 + 24 * i;
                if ((int)shrk_get_u32(te) != n->inputs[1]) continue;
                shrk_put_u32(p + shrk_get_u64(te + 8), 0x7fc00000u);
            }
            shrk_put_u32(e + 24, shrk_crc(0, p, (size_t)shrk_get_u64(e + 16)));
        }
        shrk_put_u32(b + SHRK_HEADER_CRC_AT, shrk_header_crc(b, nsec));
        shr_graph *h = NULL;
        CHECK_STATUS(shr_model_from_memory(buf, size, &h), SHR_ERR_FORMAT);
        shr_graph_free(h);
    }
    free(buf);
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
}

/* Weight-only int4 fields: coded scales need their row scales, zero points stay in -8..7. */
static void test_hostile_int4(void) {
    shr_dataset *d = random_data(1, 10, 10, 7);
    shr_graph *g = model("mlp-small", d), *q = NULL;
    shr_quant_config c = shr_quant_default();
    c.mode = SHR_QUANT_WEIGHT_ONLY, c.bits = 4, c.int4_asym = 1;
    CHECK_OK(shr_quantize(g, d, &c, &q, NULL));
    if (q) {
        shr_node *n = &q->nodes[shr_graph_find_node(q, "fc1")];
        CHECK(n->op == SHR_OP_WLINEAR && n->n_inputs == 6);
        int row = n->inputs[5];
        n->inputs[5] = -1;
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        n->inputs[5] = row;
        float *r = shr_f32(q->values[row].data), keep = r[0];
        r[0] = -1.0f;
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        r[0] = keep;
        int8_t *z = q->values[n->inputs[3]].data->data;
        z[0] = 9;
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        z[0] = 0;
        n->attrs.groups = 48; /* not a power of two */
        CHECK_STATUS(shr_graph_validate(q), SHR_ERR_FORMAT);
        n->attrs.groups = 32;
        CHECK_OK(shr_graph_validate(q));
    }
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
}

/* Mixed precision: an impossible budget widens every layer to int16, then to f32, most sensitive
 * first; a generous one keeps everything int8. */
static void test_auto(void) {
    shr_dataset *d = random_data(1, 12, 12, 8), *v = random_data(1, 12, 12, 9);
    shr_graph *g = model("cnn-tiny", d), *q = NULL;
    shr_quant_config c = shr_quant_default();
    shr_quant_auto_result *ar = calloc(1, sizeof *ar);
    shr_quant_report rep;
    CHECK_OK(shr_quant_auto(g, d, v, &c, 100.0, &q, &rep, ar));
    CHECK(ar->met && ar->n_layers == 3); /* block1.conv stays f32 anyway (too thin) */
    for (int i = 0; i < ar->n_layers; i++) CHECK(ar->layers[i].bits == 8);
    for (int i = 1; i < ar->n_layers; i++) CHECK(ar->layers[i - 1].drop_pt >= ar->layers[i].drop_pt);
    shr_graph_free(q);
    q = NULL;
    CHECK_OK(shr_quant_auto(g, d, v, &c, -1.0, &q, &rep, ar));
    CHECK(!ar->met);
    for (int i = 0; i < ar->n_layers; i++) CHECK(ar->layers[i].bits == 32);
    if (q) CHECK(qg_count_op(q, SHR_OP_QCONV2D) == 0 && qg_count_op(q, SHR_OP_QLINEAR) == 0 && qg_count_op(q, SHR_OP_CONV2D) == 3);
    shr_graph_free(q);
    free(ar);
    shr_graph_free(g);
    shr_dataset_free(d);
    shr_dataset_free(v);
}

int main(void) {
    RUN(test_modes);
    RUN(test_integer_region);
    RUN(test_requant_modes);
    RUN(test_hostile_graphs);
    RUN(test_hostile_int4);
    RUN(test_auto);
    return test_summary();
}
