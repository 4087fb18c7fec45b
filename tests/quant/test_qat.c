/* Quantization-aware training: the weight straight-through step, the fake-quantized graph and
 * its conversion (the integer model computes what the fake-quantized model computed), a QAT run
 * end to end, and the equivalence of zero QAT epochs with PTQ. */
#include <math.h>
#include <string.h>

#include "qtest_util.h"

#define NS 200

static shr_dataset *data(uint64_t seed) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    float *x = malloc(sizeof(float) * NS * 144);
    int32_t *y = malloc(sizeof(int32_t) * NS);
    for (int i = 0; i < NS; i++) { /* a learnable task: the class is the brightest 12-pixel band */
        y[i] = (int32_t)shr_rng_below(&r, 10);
        for (int p = 0; p < 144; p++) x[i * 144 + p] = (float)shr_rng_below(&r, 128) + (p / 12 == y[i] ? 120.0f : 0.0f);
    }
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(NS, 1, 12, 12, x, y, &d));
    free(x);
    free(y);
    return d;
}

static int agree(const float *a, const float *b, int n) {
    int same = 0;
    for (int i = 0; i < n; i++) {
        int ia = 0, ib = 0;
        for (int j = 1; j < 10; j++) {
            ia = a[i * 10 + j] > a[i * 10 + ia] ? j : ia;
            ib = b[i * 10 + j] > b[i * 10 + ib] ? j : ib;
        }
        same += ia == ib;
    }
    return same;
}

/* After an optimizer step on the quantized weight, the master takes the same step and the
 * weight is the master quantized again: per row, codes in -7..7 times max|row| / 7. */
static void test_weight_ste(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp-small", 1, 4, 4, 10, 2, &g));
    if (!g) return;
    int w = shr_graph_find_value(g, "fc1.weight");
    if (w < 0) w = g->nodes[shr_graph_find_node(g, "fc1")].inputs[1];
    shr_tensor *t = g->values[w].data;
    float *orig = malloc(sizeof(float) * (size_t)t->numel);
    memcpy(orig, t->data, sizeof(float) * (size_t)t->numel);
    shr_q_wfq q;
    shr_quant_config qc = shr_quant_default();
    qc.weight_bits = 4;
    CHECK_OK(shr_q_wfq_init(&q, g, &qc));
    int64_t per = t->numel / t->shape[0];
    int bad = 0;
    for (int64_t r = 0; r < t->shape[0]; r++) {
        float mx = 0;
        for (int64_t k = 0; k < per; k++) mx = fmaxf(mx, fabsf(orig[r * per + k]));
        for (int64_t k = 0; k < per; k++) {
            float c = shr_f32(t)[r * per + k] / (mx / 7.0f);
            bad += fabsf(c - rintf(c)) > 1e-4f || fabsf(c) > 7.0001f;
            bad += fabsf(shr_f32(t)[r * per + k] - orig[r * per + k]) > 0.5001f * mx / 7.0f;
        }
    }
    CHECK_MSG(bad == 0, "%d weights off the 4-bit grid", bad);
    /* an optimizer step of -1e-3 on every weight */
    for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] -= 1e-3f;
    CHECK_OK(shr_q_wfq_after_step(&q, g, 0));
    int mi = 0;
    while (mi < q.n && q.v[mi] != w) mi++;
    CHECK(mi < q.n);
    for (int64_t i = 0; mi < q.n && i < t->numel; i++) bad += fabsf(q.master[mi][i] - (orig[i] - 1e-3f)) > 1e-6f;
    CHECK_MSG(bad == 0, "the masters did not take the step");
    shr_q_wfq_free(&q);
    free(orig);
    shr_graph_free(g);
}

/* The fake-quantized graph and its integer conversion agree: same predictions, close logits. */
static void test_convert_matches_fake_quant(void) {
    shr_dataset *d = data(1);
    const char *archs[2] = {"cnn-tiny", "lenet5"};
    for (int a = 0; a < 2; a++) {
        shr_graph *g = NULL, *F = NULL, *G = NULL, *Q = NULL;
        CHECK_OK(shr_zoo_build(archs[a], 1, 12, 12, 10, 4, &g));
        CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
        int folded;
        CHECK_OK(shr_q_folded(g, &F, &folded));
        shr_quant_config c = shr_quant_default();
        c.weight_bits = 4;
        CHECK_OK(shr_q_fq_graph(F, d, &c, &G));
        shr_q_wfq w;
        if (G) CHECK_OK(shr_q_wfq_init(&w, G, &c));
        if (G) CHECK_OK(shr_q_fq_convert(G, d, &c, &Q, NULL));
        if (Q) {
            int fq = 0;
            for (int k = 0; k < G->n_nodes; k++) fq += G->nodes[k].op == SHR_OP_FAKE_QUANT;
            CHECK(fq >= 3);
            float *lf = qg_outputs(G, d, 100, 0), *lq = qg_outputs(Q, d, 100, 0);
            double db = shr_sqnr_db(lf, lq, 1000);
            int same = agree(lf, lq, 100);
            fprintf(stderr, "  %s: integer vs fake-quant logits %.1f dB, %d/100 same predictions\n", archs[a], db, same);
            CHECK(db > 30.0 && same >= 97);
            free(lf);
            free(lq);
        }
        if (G) shr_q_wfq_free(&w);
        shr_graph_free(Q);
        shr_graph_free(G);
        shr_graph_free(F);
        shr_graph_free(g);
    }
    shr_dataset_free(d);
}

/* QAT end to end: zero epochs is PTQ exactly; training on a learnable task keeps accuracy. */
static void test_qat_run(void) {
    shr_dataset *d = data(2);
    shr_graph *g = NULL, *q0 = NULL, *p = NULL, *q1 = NULL;
    CHECK_OK(shr_zoo_build("cnn-tiny", 1, 12, 12, 10, 5, &g));
    CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    shr_train_config tc = shr_train_default();
    tc.epochs = 30;
    shr_train_result tr;
    CHECK_OK(shr_train(g, d, NULL, &tc, &tr));
    shr_quant_config c = shr_quant_default();
    c.weight_bits = 4;
    CHECK_OK(shr_quantize(g, d, &c, &p, NULL));
    tc.epochs = 0;
    CHECK_OK(shr_qat_train(g, d, &c, &tc, NULL, &q0, NULL));
    if (p && q0) {
        float *a = qg_outputs(p, d, 64, 0), *b = qg_outputs(q0, d, 64, 0);
        CHECK(memcmp(a, b, sizeof(float) * 640) == 0);
        free(a);
        free(b);
    }
    tc.epochs = 2;
    tc.optim.lr = 1e-4f;
    shr_quant_report rep;
    c.lsq = 1;
    CHECK_OK(shr_qat_train(g, d, &c, &tc, NULL, &q1, &rep));
    if (q1) {
        shr_eval_result e0, e1;
        CHECK_OK(shr_evaluate(g, d, 100, &e0));
        CHECK_OK(shr_evaluate(q1, d, 100, &e1));
        fprintf(stderr, "  qat (lsq) on the training task: f32 %.3f -> int4/int8 %.3f\n", e0.accuracy, e1.accuracy);
        CHECK(e1.accuracy >= e0.accuracy - 0.05);
        CHECK(rep.n_layers == 4 && rep.bn_folded == 3);
        int k = shr_graph_find_node(q1, "block2.conv");
        CHECK(k >= 0 && q1->values[q1->nodes[k].inputs[3]].data->dtype == SHR_I4);
    }
    /* BatchNorm training for the first epoch, then folded: the result is as clean as before */
    shr_graph *q2 = NULL;
    c.lsq = 0, c.bn_freeze_epoch = 1;
    CHECK_OK(shr_qat_train(g, d, &c, &tc, NULL, &q2, &rep));
    if (q2) {
        int fq = 0;
        for (int v = 0; v < q2->n_values; v++) fq += strstr(q2->values[v].name, ".fq") != NULL;
        CHECK(fq == 0 && rep.bn_folded == 3 && qg_count_op(q2, SHR_OP_BATCHNORM) == 0);
        shr_eval_result e2;
        CHECK_OK(shr_evaluate(q2, d, 100, &e2));
        CHECK(e2.accuracy >= 0.9);
    }
    shr_graph_free(q2);
    shr_graph_free(q0);
    shr_graph_free(q1);
    shr_graph_free(p);
    shr_graph_free(g);
    shr_dataset_free(d);
}

int main(void) {
    RUN(test_weight_ste);
    RUN(test_convert_matches_fake_quant);
    RUN(test_qat_run);
    return test_summary();
}
