/* The ONNX importer on models built here: values against hand computation,
 * the batch kept symbolic through shape arithmetic, unsupported ops reported
 * by node, op and opset at import, external data, and hostile files
 * (truncated, corrupted, undefined names, cycles, huge or negative dims, sizes
 * that do not match, wrong attribute types) that must fail cleanly. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_build.h"
#include "onnx/onnx_test_util.h"
#include "shrink/rng.h"
#include "test.h"

static const float W[12] = {0.5f, -1, 2, 0, 1, 1, -1, 0.25f, 0, 3, -2, 1}, B[3] = {0.1f, -0.2f, 0.3f};

/* x (N, 4) -> Gemm(W (3, 4), b, transB) -> Relu -> y (N, 3). */
static Onnx__ModelProto *gemm_model(int opset) {
    Onnx__ModelProto *m = mb_model(opset);
    mb_input(m, "x", 2, (int64_t[]){-1, 4});
    mb_output(m, "y");
    mb_init(m, "W", 1, 2, (int64_t[]){3, 4}, W, sizeof W);
    mb_init(m, "b", 1, 1, (int64_t[]){3}, B, sizeof B);
    mb_attr_int(mb_node(m, "Gemm", "fc", 3, (const char *[]){"x", "W", "b"}, "h"), "transB", 1);
    mb_node(m, "Relu", "act", 1, (const char *[]){"h"}, "y");
    return m;
}

static shr_status import_model(const Onnx__ModelProto *m, const shr_onnx_import_options *o, shr_graph **g) {
    size_t size;
    void *buf = mb_pack(m, &size);
    shr_status st = shr_onnx_import_memory(buf, size, o, g);
    free(buf);
    return st;
}

static void test_gemm_values(void) {
    Onnx__ModelProto *m = gemm_model(13);
    shr_graph *g = NULL;
    CHECK_OK(import_model(m, NULL, &g));
    mb_free(m);
    if (!g) return;
    CHECK(g->preproc.scale == 1.0f / 255.0f && g->preproc.mean[0] == 0.0f && g->preproc.std[0] == 1.0f);
    CHECK(g->lineage && strstr(g->lineage, "import format=onnx producer=test opset=13"));
    int params = 0;
    for (int v = 0; v < g->n_values; v++) params += g->values[v].kind == SHR_VALUE_PARAM;
    CHECK(params == 2); /* W and b are trainable */
    const float x[8] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    shr_status st;
    float *y = run_graph(g, x, 2, &st);
    CHECK_OK(st);
    for (int n = 0; y && n < 2; n++)
        for (int o = 0; o < 3; o++) {
            double s = B[o];
            for (int i = 0; i < 4; i++) s += (double)x[n * 4 + i] * W[o * 4 + i];
            CHECK_NEAR(y[n * 3 + o], s > 0 ? s : 0, 1e-6);
        }
    free(y);
    shr_graph_free(g);
}

/* x.view(x.size(0), -1) as PyTorch exports it: the batch stays symbolic. */
static void test_batch_through_shape_ops(void) {
    Onnx__ModelProto *m = mb_model(13);
    mb_input(m, "x", 3, (int64_t[]){-1, 2, 3});
    mb_output(m, "y");
    int64_t zero = 0, minus1 = -1, axes0 = 0;
    mb_init(m, "zero", 7, 0, NULL, &zero, 8);
    mb_init(m, "minus1", 7, 1, (int64_t[]){1}, &minus1, 8);
    mb_init(m, "axes0", 7, 1, (int64_t[]){1}, &axes0, 8);
    mb_node(m, "Shape", "shape", 1, (const char *[]){"x"}, "s");
    mb_node(m, "Gather", "gather", 2, (const char *[]){"s", "zero"}, "n");
    mb_node(m, "Unsqueeze", "unsq", 2, (const char *[]){"n", "axes0"}, "n1");
    mb_attr_int(mb_node(m, "Concat", "cat", 2, (const char *[]){"n1", "minus1"}, "shp"), "axis", 0);
    mb_node(m, "Reshape", "reshape", 2, (const char *[]){"x", "shp"}, "y");
    shr_graph *g = NULL;
    CHECK_OK(import_model(m, NULL, &g));
    if (g) {
        const shr_value *o = &g->values[g->output];
        CHECK(o->ndim == 2 && o->shape[0] == -1 && o->shape[1] == 6);
        CHECK(g->n_nodes == 1);
        shr_graph_free(g);
    }
    /* A reshape that folds the batch into another dim is refused at import. */
    int64_t flat = -1;
    mb_init(m, "flat", 7, 1, (int64_t[]){1}, &flat, 8);
    free(m->graph->node[4]->input[1]);
    m->graph->node[4]->input[1] = mb_str("flat");
    CHECK_STATUS(import_model(m, NULL, &g), SHR_ERR_UNSUPPORTED);
    CHECK(strstr(shr_last_error(), "'reshape'") && strstr(shr_last_error(), "batch"));
    mb_free(m);
}

static void test_unsupported_named(void) {
    Onnx__ModelProto *m = gemm_model(13);
    mb_node(m, "GridSample", "my_sampler", 1, (const char *[]){"y"}, "z");
    free(m->graph->output[0]->name);
    m->graph->output[0]->name = mb_str("z");
    shr_graph *g = NULL;
    CHECK_STATUS(import_model(m, NULL, &g), SHR_ERR_UNSUPPORTED);
    const char *e = shr_last_error();
    CHECK_MSG(strstr(e, "my_sampler") && strstr(e, "GridSample") && strstr(e, "opset 13"), "message: %s", e);
    Onnx__NodeProto *n = m->graph->node[2];
    free(n->op_type);
    n->op_type = mb_str("FusedGemm");
    n->domain = mb_str("com.microsoft");
    CHECK_STATUS(import_model(m, NULL, &g), SHR_ERR_UNSUPPORTED);
    CHECK(strstr(shr_last_error(), "com.microsoft"));
    mb_free(m);
    m = gemm_model(18);
    CHECK_STATUS(import_model(m, NULL, &g), SHR_ERR_UNSUPPORTED);
    CHECK(strstr(shr_last_error(), "opset 18"));
    mb_free(m);
}

/* Each case breaks one thing of the Gemm model; the import must fail with want. */
static void expect_fail(Onnx__ModelProto *m, shr_status want, const char *what) {
    shr_graph *g = NULL;
    shr_status st = import_model(m, NULL, &g);
    CHECK_MSG(st == want, "%s: got %s (%s)", what, shr_status_name(st), shr_last_error());
    shr_graph_free(g);
    mb_free(m);
}

static void test_hostile_structure(void) {
    Onnx__ModelProto *m = gemm_model(13);
    free(m->graph->node[1]->input[0]);
    m->graph->node[1]->input[0] = mb_str("nowhere");
    expect_fail(m, SHR_ERR_FORMAT, "undefined input");

    m = gemm_model(13); /* a cycle: fc reads act's output */
    free(m->graph->node[0]->input[2]);
    m->graph->node[0]->input[2] = mb_str("y");
    expect_fail(m, SHR_ERR_FORMAT, "cycle");

    m = gemm_model(13);
    free(m->graph->node[1]->output[0]);
    m->graph->node[1]->output[0] = mb_str("h");
    expect_fail(m, SHR_ERR_FORMAT, "tensor defined twice");

    m = gemm_model(13); /* missing initializer */
    m->graph->n_initializer = 1;
    onnx__tensor_proto__free_unpacked(m->graph->initializer[1], NULL);
    expect_fail(m, SHR_ERR_FORMAT, "missing initializer");

    m = gemm_model(13);
    m->graph->initializer[0]->raw_data.len = 20; /* 5 floats for 12 elements */
    expect_fail(m, SHR_ERR_FORMAT, "raw data size");

    m = gemm_model(13);
    m->graph->initializer[0]->dims[0] = -3;
    expect_fail(m, SHR_ERR_FORMAT, "negative dim");

    m = gemm_model(13); /* 2^62 elements: refused before any allocation */
    m->graph->initializer[0]->dims[0] = (int64_t)1 << 31;
    m->graph->initializer[0]->dims[1] = (int64_t)1 << 31;
    expect_fail(m, SHR_ERR_LIMIT, "huge initializer");

    m = gemm_model(13);
    m->graph->initializer[0]->data_type = 99;
    expect_fail(m, SHR_ERR_UNSUPPORTED, "unknown element type");

    m = gemm_model(13); /* a per-sample input of 2^40 elements */
    m->graph->input[0]->type->tensor_type->shape->dim[1]->dim_value = (int64_t)1 << 40;
    shr_graph *g = NULL;
    CHECK(import_model(m, NULL, &g) != SHR_OK);
    mb_free(m);

    m = gemm_model(13); /* transB as a float attribute */
    m->graph->node[0]->attribute[0]->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    expect_fail(m, SHR_ERR_FORMAT, "attribute type");

    m = gemm_model(13);
    onnx__operator_set_id_proto__free_unpacked(m->opset_import[0], NULL);
    m->n_opset_import = 0;
    expect_fail(m, SHR_ERR_FORMAT, "no opset");

    m = gemm_model(13); /* an integer model input */
    m->graph->input[0]->type->tensor_type->elem_type = 7;
    expect_fail(m, SHR_ERR_UNSUPPORTED, "int64 input");
}

/* Every prefix and many corrupted copies of a valid file: never a crash, and
 * whatever imports is a valid graph. */
static void test_truncated_and_corrupt(void) {
    Onnx__ModelProto *m = gemm_model(13);
    size_t size;
    unsigned char *buf = mb_pack(m, &size), *copy = malloc(size);
    mb_free(m);
    int ok = 0, bad_graphs = 0;
    for (size_t len = 0; len < size; len++) {
        shr_graph *g = NULL;
        if (shr_onnx_import_memory(buf, len, NULL, &g) == SHR_OK) {
            ok++;
            bad_graphs += shr_graph_validate(g) != SHR_OK;
        }
        shr_graph_free(g);
    }
    CHECK(bad_graphs == 0);
    shr_rng r;
    shr_rng_seed(&r, 9);
    for (int t = 0; t < 2000 && copy; t++) {
        memcpy(copy, buf, size);
        for (int k = 0; k < 1 + t % 4; k++) copy[shr_rng_below(&r, (uint32_t)size)] ^= (unsigned char)(1 + shr_rng_below(&r, 255));
        shr_graph *g = NULL;
        if (shr_onnx_import_memory(copy, size, NULL, &g) == SHR_OK) bad_graphs += shr_graph_validate(g) != SHR_OK;
        shr_graph_free(g);
    }
    CHECK(bad_graphs == 0);
    fprintf(stderr, "  %zu prefixes (%d imported), 2000 corrupted copies\n", size, ok);
    free(buf);
    free(copy);
}

/* Weights in a file next to the model; paths may not leave its folder. */
static void test_external_data(void) {
    const char *tmp = getenv("SHR_TMPDIR");
    char dir[512], path[700];
    snprintf(dir, sizeof dir, "%s/onnx_ext.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite("pad!", 1, 4, f) == 4 && fwrite(W, 1, sizeof W, f) == sizeof W);
    if (f) fclose(f);
    Onnx__ModelProto *m = gemm_model(13);
    Onnx__TensorProto *t = m->graph->initializer[0];
    t->has_raw_data = 0;
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *kv[3][2] = {{"location", "weights.bin"}, {"offset", "4"}, {"length", "48"}};
    for (int i = 0; i < 3; i++) {
        Onnx__StringStringEntryProto *e = mb_alloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = mb_str(kv[i][0]);
        e->value = mb_str(kv[i][1]);
        mb_push((void ***)&t->external_data, &t->n_external_data, e);
    }
    shr_onnx_import_options o = shr_onnx_import_default();
    o.base_dir = dir;
    shr_graph *g = NULL;
    CHECK_OK(import_model(m, &o, &g));
    int found = g ? shr_graph_find_value(g, "W") : -1;
    CHECK(found >= 0 && memcmp(g->values[found].data->data, W, sizeof W) == 0);
    shr_graph_free(g);
    free(t->external_data[1]->value);
    t->external_data[1]->value = mb_str("8"); /* 4 bytes past the end */
    CHECK_STATUS(import_model(m, &o, &g), SHR_ERR_FORMAT);
    free(t->external_data[0]->value);
    t->external_data[0]->value = mb_str("../weights.bin");
    CHECK_STATUS(import_model(m, &o, &g), SHR_ERR_FORMAT);
    free(t->external_data[0]->value);
    t->external_data[0]->value = mb_str("/etc/passwd");
    CHECK_STATUS(import_model(m, &o, &g), SHR_ERR_FORMAT);
    mb_free(m);
    remove(path);
    remove(dir);
}

/* Fixing a second input to a value, and the whole input as one sample. */
static void test_bindings_and_lifted(void) {
    Onnx__ModelProto *m = mb_model(14);
    mb_input(m, "a", 2, (int64_t[]){2, 3});
    mb_input(m, "b", 2, (int64_t[]){2, 3});
    mb_output(m, "c");
    mb_node(m, "Sub", "sub", 2, (const char *[]){"a", "b"}, "c");
    size_t size;
    void *buf = mb_pack(m, &size);
    shr_graph *g = NULL;
    CHECK_STATUS(shr_onnx_import_memory(buf, size, NULL, &g), SHR_ERR_UNSUPPORTED); /* two inputs */
    char **ins = NULL, **outs = NULL;
    int ni = 0, no = 0;
    CHECK_OK(shr_onnx_io_names(buf, size, &ins, &ni, &outs, &no));
    CHECK(ni == 2 && no == 1 && !strcmp(ins[1], "b") && !strcmp(outs[0], "c"));
    shr_onnx_names_free(ins, ni);
    shr_onnx_names_free(outs, no);
    const float bv[6] = {1, 2, 3, 4, 5, 6};
    shr_tensor *bt = NULL;
    void *bpb = NULL;
    size_t bsize = 0;
    CHECK_OK(shr_tensor_create(&bt, SHR_F32, 2, (int64_t[]){2, 3}));
    memcpy(bt->data, bv, sizeof bv);
    CHECK_OK(shr_onnx_tensor_encode(bt, "b", &bpb, &bsize));
    shr_onnx_binding bind = {"b", bpb, bsize};
    shr_onnx_import_options o = shr_onnx_import_default();
    o.bind = &bind;
    o.n_bind = 1;
    /* b varies along a's dim 0, the batch: not with the batch in dim 0; as one sample it works. */
    CHECK_STATUS(shr_onnx_import_memory(buf, size, &o, &g), SHR_ERR_UNSUPPORTED);
    o.batch = SHR_ONNX_BATCH_NONE;
    CHECK_OK(shr_onnx_import_memory(buf, size, &o, &g));
    if (g) {
        const float a[6] = {10, 10, 10, 10, 10, 10};
        shr_status st;
        float *y = run_graph(g, a, 1, &st);
        int bad = !y;
        for (int i = 0; y && i < 6; i++) bad += y[i] != 10 - bv[i];
        CHECK(bad == 0);
        free(y);
        shr_graph_free(g);
    }
    bind.name = "nope";
    CHECK_STATUS(shr_onnx_import_memory(buf, size, &o, &g), SHR_ERR_INVALID_ARG);
    free(bpb);
    shr_tensor_free(bt);
    free(buf);
    mb_free(m);
}

/* A QDQ model: quantized activations become fake_quant, int8 weights with a
 * per-channel scale fold to float weights. */
static void test_qdq(void) {
    Onnx__ModelProto *m = mb_model(13);
    mb_input(m, "x", 2, (int64_t[]){-1, 4});
    mb_output(m, "y");
    const float s = 0.05f, ws[3] = {0.1f, 0.2f, 0.05f};
    const uint8_t zp = 128;
    const int8_t wq[12] = {1, -2, 3, 4, 10, -10, 0, 5, -128, 127, 7, -7}, wz[3] = {0, 0, 0};
    mb_init(m, "s", 1, 0, NULL, &s, 4);
    mb_init(m, "zp", 2, 0, NULL, &zp, 1);
    mb_init(m, "wq", 3, 2, (int64_t[]){3, 4}, wq, sizeof wq);
    mb_init(m, "ws", 1, 1, (int64_t[]){3}, ws, sizeof ws);
    mb_init(m, "wz", 3, 1, (int64_t[]){3}, wz, sizeof wz);
    mb_init(m, "b", 1, 1, (int64_t[]){3}, B, sizeof B);
    mb_node(m, "QuantizeLinear", "q", 3, (const char *[]){"x", "s", "zp"}, "xq");
    mb_node(m, "DequantizeLinear", "dq", 3, (const char *[]){"xq", "s", "zp"}, "xd");
    mb_attr_int(mb_node(m, "DequantizeLinear", "wdq", 3, (const char *[]){"wq", "ws", "wz"}, "w"), "axis", 0);
    mb_attr_int(mb_node(m, "Gemm", "fc", 3, (const char *[]){"xd", "w", "b"}, "y"), "transB", 1);
    shr_graph *g = NULL;
    CHECK_OK(import_model(m, NULL, &g));
    if (g) {
        int fq = 0;
        for (int k = 0; k < g->n_nodes; k++) fq += g->nodes[k].op == SHR_OP_FAKE_QUANT;
        CHECK(fq == 1);
        const float x[8] = {0.01f, -0.33f, 6.5f, -7.0f, 0.125f, 0.075f, 1.0f, -0.024f};
        shr_status st;
        float *y = run_graph(g, x, 2, &st);
        CHECK_OK(st);
        for (int n = 0; y && n < 2; n++)
            for (int o = 0; o < 3; o++) {
                double acc = B[o];
                for (int i = 0; i < 4; i++) {
                    float q = nearbyintf(x[n * 4 + i] / s) + zp;
                    q = q < 0 ? 0 : (q > 255 ? 255 : q);
                    acc += (double)((q - zp) * s) * (double)(wq[o * 4 + i] * ws[o]);
                }
                CHECK_NEAR(y[n * 3 + o], acc, 1e-5);
            }
        free(y);
        shr_graph_free(g);
    }
    /* Codes read by anything but DequantizeLinear are refused. */
    free(m->graph->node[3]->input[0]);
    m->graph->node[3]->input[0] = mb_str("xq");
    CHECK_STATUS(import_model(m, NULL, &g), SHR_ERR_UNSUPPORTED);
    CHECK(strstr(shr_last_error(), "QuantizeLinear codes"));
    mb_free(m);
}

int main(void) {
    RUN(test_gemm_values);
    RUN(test_batch_through_shape_ops);
    RUN(test_unsupported_named);
    RUN(test_hostile_structure);
    RUN(test_truncated_and_corrupt);
    RUN(test_external_data);
    RUN(test_bindings_and_lifted);
    RUN(test_qdq);
    return test_summary();
}
