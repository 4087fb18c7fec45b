/* The comparison's per-model detail: layer SQNR cells in the HTML report (a
 * quantized model has them, its float source none) and the logits SQNR and
 * top-1 agreement against the reference, checked on known perturbations. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shrink/data.h"
#include "shrink/quant.h"
#include "shrink/report.h"
#include "shrink/rng.h"
#include "shrink/threads.h"
#include "shrink/zoo.h"
#include "test.h"

enum { NS = 96 };

static shr_dataset *random_data(uint64_t seed) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    float *x = malloc(sizeof(float) * NS * 100);
    int32_t *y = malloc(sizeof(int32_t) * NS);
    for (int i = 0; i < NS * 100; i++) x[i] = (float)shr_rng_below(&r, 256);
    for (int i = 0; i < NS; i++) y[i] = (int32_t)shr_rng_below(&r, 10);
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(NS, 1, 10, 10, x, y, &d));
    free(x);
    free(y);
    return d;
}

static shr_graph *mlp(const shr_dataset *d, int classes) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp-small", 1, 10, 10, classes, 3, &g));
    if (g) CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    return g;
}

/* A copy of g whose last (linear) layer's weight and bias are multiplied by k:
 * its logits are exactly k times g's. */
static shr_graph *scaled(const shr_graph *g, float k) {
    shr_graph *h = NULL;
    CHECK_OK(shr_graph_clone(&h, g));
    for (int n = 0; h && n < h->n_nodes; n++) {
        const shr_node *nd = &h->nodes[n];
        if (nd->output != h->output) continue;
        CHECK(nd->op == SHR_OP_LINEAR && nd->n_inputs == 3);
        for (int a = 1; a < 3 && a < nd->n_inputs; a++) {
            shr_tensor *t = h->values[nd->inputs[a]].data;
            for (int64_t i = 0; i < t->numel; i++) shr_f32(t)[i] *= k;
        }
    }
    return h;
}

/* The HTML between the heading of model `name` and the next heading. */
static char *section(const char *html, const char *name) {
    char head[160];
    snprintf(head, sizeof head, "<h3>%s", name);
    const char *s = strstr(html, head);
    if (!s) return NULL;
    const char *e = strstr(s + 1, "<h3>");
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char *out = malloc(len + 1);
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_layer_sqnr_cells(void) {
    shr_dataset *d = random_data(1);
    shr_graph *g = mlp(d, 10), *q = NULL;
    shr_quant_config cfg = shr_quant_default();
    if (g) CHECK_OK(shr_quantize(g, d, &cfg, &q, NULL));
    if (!q) goto done;
    shr_compare_model m[2] = {{.name = "float", .graph = g, .file_bytes = 4000, .peak_rss_bytes = -1},
                              {.name = "int8", .graph = q, .file_bytes = 1000, .peak_rss_bytes = -1}};
    shr_compare c = {.models = m, .n = 2, .reference = 0, .n_batches = 1, .batches = {1}};
    for (int i = 0; i < 2; i++) CHECK_OK(shr_compare_measure(&m[i], d, 32));
    CHECK_OK(shr_compare_outputs(&c, d, 64));
    shr_compare_finish(&c);
    char *html = NULL;
    CHECK_OK(shr_compare_html(&c, &html));
    char *fs = html ? section(html, "float") : NULL, *qs = html ? section(html, "int8") : NULL;
    CHECK(fs && qs);
    if (fs && qs) {
        /* One cell per layer quantize recorded, with its value; none for the float model. */
        int recorded = 0;
        for (int k = 0; k < q->n_nodes; k++) {
            double db = shr_quant_layer_sqnr(q, q->nodes[k].name);
            if (isnan(db)) continue;
            char cell[64];
            snprintf(cell, sizeof cell, "<td class=\"sqnr\">%.2f</td>", db);
            CHECK_MSG(strstr(qs, cell), "no cell %s for %s", cell, q->nodes[k].name);
            recorded++;
        }
        CHECK(recorded >= 2); /* both linear layers of mlp-small */
        CHECK(count(qs, "class=\"sqnr\"") == recorded);
        CHECK(count(fs, "class=\"sqnr\"") == 0);
        CHECK(strstr(qs, "on 64 test samples: SQNR ") && !strstr(fs, "outputs against"));
    }
    /* The logits stay close to the float model's: int8 of a small MLP is well above 15 dB. */
    CHECK(m[1].output_samples == 64 && m[1].output_sqnr_db > 15 && m[1].top1_agreement > 0.8);
    CHECK(m[0].output_samples == 0 && isnan(m[0].output_sqnr_db));
    free(fs);
    free(qs);
    free(html);
done:
    shr_graph_free(q);
    shr_graph_free(g);
    shr_dataset_free(d);
}

static void test_output_sqnr_known(void) {
    shr_dataset *d = random_data(2);
    shr_graph *g[5] = {mlp(d, 10), NULL, NULL, NULL, mlp(d, 5)};
    if (!g[0] || !g[4]) goto done;
    g[1] = scaled(g[0], 1.1f);  /* error 0.1 y: SQNR 20 dB, same top class */
    g[2] = scaled(g[0], -1.0f); /* error 2 y: SQNR -6.02 dB, top class becomes the lowest */
    g[3] = scaled(g[0], 1.0f);  /* identical: infinite */
    shr_compare_model m[5];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 5; i++) m[i] = (shr_compare_model){.name = "m", .graph = g[i], .file_bytes = 1};
    shr_compare c = {.models = m, .n = 5, .reference = 0, .n_batches = 1, .batches = {1}};
    CHECK_OK(shr_compare_outputs(&c, d, 1000)); /* more than the data: all of it */
    CHECK(m[1].output_samples == NS);
    CHECK_NEAR(m[1].output_sqnr_db, 20.0, 1e-3);
    CHECK_NEAR(m[1].top1_agreement, 1.0, 0);
    CHECK_NEAR(m[2].output_sqnr_db, -20 * log10(2.0), 1e-3);
    CHECK(m[2].top1_agreement < 0.05);
    CHECK(isinf(m[3].output_sqnr_db) && m[3].output_sqnr_db > 0 && m[3].top1_agreement == 1.0);
    /* 5 outputs against 10: not comparable, left unmeasured. */
    CHECK(m[4].output_samples == 0 && isnan(m[4].output_sqnr_db) && isnan(m[4].top1_agreement));
    /* JSON: the figure where measured, null for the reference and for infinity. */
    char *js = NULL;
    CHECK_OK(shr_compare_json(&c, &js));
    json_t *a = js ? json_loads(js, 0, NULL) : NULL;
    CHECK(json_is_array(a) && json_array_size(a) == 5);
    if (json_is_array(a) && json_array_size(a) == 5) {
        CHECK(json_is_null(json_object_get(json_array_get(a, 0), "output_sqnr_db")));
        CHECK_NEAR(json_real_value(json_object_get(json_array_get(a, 1), "output_sqnr_db")), 20.0, 1e-3);
        CHECK(json_integer_value(json_object_get(json_array_get(a, 1), "output_samples")) == NS);
        CHECK(json_is_null(json_object_get(json_array_get(a, 3), "output_sqnr_db")));
    }
    json_decref(a);
    free(js);
    /* Fewer samples than asked, none, and a reference out of range. */
    CHECK_OK(shr_compare_outputs(&c, d, 10));
    CHECK(m[1].output_samples == 10);
    CHECK_OK(shr_compare_outputs(&c, d, 0));
    CHECK(m[1].output_samples == 0 && isnan(m[1].output_sqnr_db));
    c.reference = 7;
    CHECK_STATUS(shr_compare_outputs(&c, d, 10), SHR_ERR_INVALID_ARG);
done:
    for (int i = 0; i < 5; i++) shr_graph_free(g[i]);
    shr_dataset_free(d);
}

int main(void) {
    shr_set_threads(1);
    RUN(test_layer_sqnr_cells);
    RUN(test_output_sqnr_known);
    return test_summary();
}
