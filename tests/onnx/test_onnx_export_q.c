/* QDQ export of static int8 models and the preprocessing metadata.
 *
 * Each zoo model (conv + ReLU + pools, residual adds with global average pooling,
 * depthwise convs with ReLU6, Linear on channels-last flattened codes) is quantized
 * static int8 on smooth pixel-like samples, exported, and read back by shrink's own
 * importer, which turns the QDQ pairs into fake_quant and the weight / int32-bias
 * DequantizeLinear nodes into float constants. That float model must reproduce the
 * integer model: it computes the same real values, except where shrink's fixed-point
 * requantization (double rounding, as gemmlowp; qadd's TFLite rescaling; qavgpool's ties away
 * from zero) and float rounding take different sides of a half, one code apart. A wrong
 * weight layout or scale breaks this by orders of magnitude. The file's structure is checked as ONNX Runtime's QDQ fusion expects it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "onnx_test_util.h"
#include "shrink/shrink.h"
#include "test.h"

#define N_CAL 64
#define N_TEST 48
#define PIX (28 * 28)

/* Blobby images: a few Gaussian bumps, in [0, 1], normalized like Fashion-MNIST. */
static float *images(int n, uint64_t seed) {
    float *x = malloc((size_t)n * PIX * sizeof *x);
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int i = 0; x && i < n; i++) {
        float cx[3], cy[3], w[3];
        for (int b = 0; b < 3; b++) cx[b] = 4 + 20 * shr_rng_uniform(&r), cy[b] = 4 + 20 * shr_rng_uniform(&r),
                                    w[b] = 8 + 40 * shr_rng_uniform(&r);
        for (int p = 0; p < PIX; p++) {
            float v = 0;
            for (int b = 0; b < 3; b++) {
                float dx = (float)(p % 28) - cx[b], dy = (float)(p / 28) - cy[b];
                v += expf(-(dx * dx + dy * dy) / w[b]);
            }
            x[(size_t)i * PIX + p] = (fminf(v, 1.0f) - 0.286f) / 0.353f;
        }
    }
    return x;
}

/* variant: 0 default (u8 7-bit codes, per-channel), 1 i8 symmetric 8-bit codes, 2 int4 weights,
 * 3 per-tensor weight scales */
static shr_graph *quantized_as(const char *arch, int bits, int variant) {
    shr_graph *f = NULL, *q = NULL;
    float *x = images(N_CAL, 7);
    int32_t *y = calloc(N_CAL, sizeof *y);
    shr_dataset *cal = NULL;
    if (strchr(arch, '\n')) CHECK_OK(shr_arch_parse(arch, 1, 28, 28, 10, 3, &f));
    else CHECK_OK(shr_zoo_build(arch, 1, 28, 28, 10, 3, &f));
    CHECK_OK(shr_dataset_from_arrays(N_CAL, 1, 28, 28, x, y, &cal));
    shr_quant_config cfg = shr_quant_default();
    cfg.bits = bits;
    cfg.calib_samples = N_CAL;
    if (variant == 1) cfg.symmetric = 1, cfg.act_bits = 8;
    if (variant == 2) cfg.weight_bits = 4;
    if (variant == 3) cfg.per_channel = 0;
    if (f && cal) {
        /* the dataset holds preprocessed values already */
        f->preproc.scale = 1.0f;
        f->preproc.channels = 1;
        f->preproc.mean[0] = 0.0f;
        f->preproc.std[0] = 1.0f;
        CHECK_OK(shr_quantize(f, cal, &cfg, &q, NULL));
    }
    shr_graph_free(f);
    shr_dataset_free(cal);
    free(x);
    free(y);
    return q;
}

static shr_graph *quantized(const char *arch, int bits) { return quantized_as(arch, bits, 0); }

static const Onnx__TensorProto *init_named(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i]->i;
    return dflt;
}

/* Every quantized layer's weight is int8 codes with per-channel scales on axis 0 and its bias
 * int32 (what ORT folds into QLinearConv / QGemm); activations go through QuantizeLinear. */
static void check_structure(const void *buf, size_t size, const shr_graph *q, const char *arch, int per_channel) {
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, buf);
    CHECK(m != NULL);
    if (!m) return;
    int layers = 0, w_ok = 0, b_ok = 0, quant = 0, qops = 0;
    for (int k = 0; k < q->n_nodes; k++) layers += q->nodes[k].op == SHR_OP_QCONV2D || q->nodes[k].op == SHR_OP_QLINEAR;
    for (int k = 0; k < q->n_nodes; k++) qops += q->nodes[k].op == SHR_OP_QCLAMP || q->nodes[k].op == SHR_OP_QAVGPOOL2D;
    if (strchr(arch, '\n')) CHECK_MSG(qops == 3, "the spec lowers to %d qclamp / qavgpool nodes, not 3", qops);
    for (size_t k = 0; k < m->graph->n_node; k++) {
        const Onnx__NodeProto *n = m->graph->node[k];
        quant += !strcmp(n->op_type, "QuantizeLinear");
        if (strcmp(n->op_type, "DequantizeLinear") != 0) continue;
        const Onnx__TensorProto *t = init_named(m->graph, n->input[0]);
        if (!t) continue;
        const Onnx__TensorProto *s = init_named(m->graph, n->input[1]);
        int per_axis = per_channel ? s && s->n_dims == 1 && attr_int(n, "axis", 1) == 0 : s && s->n_dims == 0;
        w_ok += t->data_type == 3 && per_axis;
        b_ok += t->data_type == 6 && per_axis;
    }
    CHECK_MSG(layers > 0 && w_ok == layers, "%s: %d of %d weights int8 per-channel", arch, w_ok, layers);
    CHECK_MSG(b_ok == layers, "%s: %d of %d biases int32 per-channel", arch, b_ok, layers);
    CHECK_MSG(quant >= layers, "%s: %d QuantizeLinear nodes for %d layers", arch, quant, layers);
    onnx__model_proto__free_unpacked(m, NULL);
}

static void test_qdq_round_trip(void) {
    /* the zoo models with default settings, then lenet5 (conv, pools, Linear on flattened
     * channels-last codes) in the other variants, then activations after pools (qclamp) and a
     * strided average pool on codes */
    static const char *const clamps =
        "conv 8 k=3\nrelu\nconv 16 k=3\nmaxpool k=2\nrelu6\navgpool k=3 s=2 p=1\nrelu\nflatten\nlinear 10\n";
    const char *archs[] = {"cnn-tiny", "lenet5", "resnet8", "dwnet", "mlp-small", "lenet5", "lenet5", "lenet5", clamps};
    const int variant[] = {0, 0, 0, 0, 0, 1, 2, 3, 0};
    float *x = images(N_TEST, 11);
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        shr_graph *q = quantized_as(archs[a], 8, variant[a]), *back = NULL;
        void *buf = NULL;
        size_t size = 0;
        if (!q) continue;
        CHECK_OK(shr_onnx_export_memory(q, &buf, &size));
        if (buf) {
            check_structure(buf, size, q, archs[a], variant[a] != 3);
            CHECK_OK(shr_onnx_import_memory(buf, size, NULL, &back));
        }
        shr_status st1 = SHR_OK, st2 = SHR_OK;
        float *yq = run_graph(q, x, N_TEST, &st1), *yb = back ? run_graph(back, x, N_TEST, &st2) : NULL;
        CHECK_OK(st1);
        CHECK_OK(st2);
        if (yq && yb) {
            double dmax = 0, dsum = 0, lmax = 0;
            int same = 0;
            for (int i = 0; i < N_TEST; i++) {
                int aq = 0, ab = 0;
                for (int o = 0; o < 10; o++) {
                    double d = fabs(yq[i * 10 + o] - yb[i * 10 + o]);
                    dmax = fmax(dmax, d), dsum += d, lmax = fmax(lmax, fabs(yq[i * 10 + o]));
                    if (yq[i * 10 + o] > yq[i * 10 + aq]) aq = o;
                    if (yb[i * 10 + o] > yb[i * 10 + ab]) ab = o;
                }
                same += aq == ab;
            }
            /* One-code differences cascade through the depth (resnet8 measured: 0.06 % of the stem's
             * codes differ, 30 % of the last stage's, by at most 4 codes), so the bounds scale with
             * the logits: measured mean |d| <= 0.8 % and max |d| <= 5 % of the largest logit, top-1
             * 44 of 48. A wrong layout or scale gives differences the size of the logits. */
            CHECK_MSG(dsum / (N_TEST * 10) <= 0.02 * lmax && dmax <= 0.15 * lmax,
                      "%.8s (variant %d): |int8 - reimported QDQ| mean %.3g max %.3g, largest logit %.3g", archs[a], variant[a],
                      dsum / (N_TEST * 10), dmax, lmax);
            CHECK_MSG(same >= N_TEST * 4 / 5, "%.8s (variant %d): top-1 identical for %d of %d", archs[a], variant[a],
                      same, N_TEST);
        }
        free(yq);
        free(yb);
        free(buf);
        shr_graph_free(back);
        shr_graph_free(q);
    }
    free(x);
}

static void test_int16_refused(void) {
    shr_graph *q = quantized("cnn-tiny", 16);
    void *buf = NULL;
    size_t size;
    if (q) {
        CHECK_STATUS(shr_onnx_export_memory(q, &buf, &size), SHR_ERR_UNSUPPORTED);
        CHECK(strstr(shr_last_error(), "opset 21") != NULL);
    }
    free(buf);
    shr_graph_free(q);
}

/* Writes g with its metadata value for key replaced by `value` (NULL: as exported). */
static shr_status reimport(const shr_graph *g, const char *key, const char *value, shr_graph **out) {
    void *buf = NULL, *buf2 = NULL;
    size_t size = 0;
    shr_status st = shr_onnx_export_memory(g, &buf, &size);
    if (st != SHR_OK) return st;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, buf);
    free(buf);
    if (!m) return SHR_ERR_FORMAT;
    for (size_t i = 0; key && i < m->n_metadata_props; i++)
        if (!strcmp(m->metadata_props[i]->key, key)) {
            free(m->metadata_props[i]->value);
            m->metadata_props[i]->value = strdup(value);
        }
    size = onnx__model_proto__get_packed_size(m);
    buf2 = malloc(size);
    onnx__model_proto__pack(m, buf2);
    onnx__model_proto__free_unpacked(m, NULL);
    st = shr_onnx_import_memory(buf2, size, NULL, out);
    free(buf2);
    return st;
}

static void test_preproc_metadata(void) {
    shr_graph *g = NULL, *back = NULL;
    CHECK_OK(shr_zoo_build("cnn-tiny", 3, 16, 16, 4, 1, &g));
    if (!g) return;
    g->preproc = (shr_preproc){1.0f / 255.0f, 3, {0.485f, 0.456f, 0.406f, 0}, {0.229f, 0.224f, 0.225f, 1}};
    CHECK_OK(reimport(g, NULL, NULL, &back));
    if (back) {
        CHECK(back->preproc.channels == 3);
        CHECK(back->preproc.scale == g->preproc.scale);
        for (int c = 0; c < 3; c++) CHECK(back->preproc.mean[c] == g->preproc.mean[c] && back->preproc.std[c] == g->preproc.std[c]);
        shr_graph_free(back);
        back = NULL;
    }
    const char *bad_norm[] = {"0.5", "0.5,0", "nan,1", "0.1:0.2,0.3", "0.1,0.2:", "1:2:3:4:5,1:1:1:1:1", ",", "1e99,1"};
    for (size_t i = 0; i < sizeof bad_norm / sizeof bad_norm[0]; i++) {
        CHECK_STATUS(reimport(g, "shrink.normalize", bad_norm[i], &back), SHR_ERR_FORMAT);
        CHECK(strstr(shr_last_error(), "shrink.normalize") != NULL);
        shr_graph_free(back);
        back = NULL;
    }
    CHECK_STATUS(reimport(g, "shrink.pixel_scale", "-1", &back), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "shrink.pixel_scale") != NULL);
    shr_graph_free(back);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_qdq_round_trip);
    RUN(test_int16_refused);
    RUN(test_preproc_metadata);
    return test_summary();
}
