/* Size/compute metrics on a hand-built model with known params, FLOPs and
 * sparsity, in f32 and in quantized storage; density grids; Pareto marks. */
#include <math.h>
#include <string.h>

#include "report_test_util.h"
#include "shrink/report.h"

static void test_dense_f32(void) {
    tiny_model t;
    shr_graph *g = tiny_build(&t, 1);
    if (!g) return;
    shr_model_metrics m;
    shr_model_metrics_compute(g, &m);
    CHECK(m.params == TINY_PARAMS);
    CHECK(m.nonzero_params == TINY_PARAMS);
    CHECK(m.weight_bytes == TINY_PARAMS * 4);
    CHECK(shr_node_flops(g, t.conv) == TINY_CONV_FLOPS);
    CHECK(shr_node_flops(g, t.fc) == TINY_FC_FLOPS);
    CHECK(m.flops == shr_graph_flops(g));
    CHECK(m.effective_flops == m.flops); /* nothing to skip */
    shr_layer_metrics lm;
    shr_layer_metrics_compute(g, t.fc, &lm);
    CHECK(lm.has_weight && lm.params == 99 && lm.nonzero == 99 && lm.weight_bytes == 99 * 4);
    CHECK(lm.dtype == SHR_F32 && lm.flops == TINY_FC_FLOPS && lm.effective_flops == TINY_FC_FLOPS);
    shr_layer_metrics_compute(g, t.relu, &lm);
    CHECK(!lm.has_weight && lm.params == 0 && lm.weight_bytes == 0);
    shr_graph_free(g);
}

static void test_sparse(void) {
    tiny_model t;
    shr_graph *g = tiny_build(&t, 1);
    if (!g) return;
    float *cw = shr_f32(g->values[t.conv_w].data), *fw = shr_f32(g->values[t.fc_w].data);
    for (int i = 0; i < 18; i += 2) cw[i] = 0;  /* 9 of 18: density 0.5 */
    for (int i = 0; i < 96; i += 4) fw[i] = 0;  /* 24 of 96: density 0.75 */
    shr_model_metrics m;
    shr_model_metrics_compute(g, &m);
    CHECK(m.params == TINY_PARAMS);
    CHECK(m.nonzero_params == TINY_PARAMS - 9 - 24);
    int64_t other = m.flops - TINY_CONV_FLOPS - TINY_FC_FLOPS; /* relu, flatten: not scaled */
    CHECK(m.effective_flops == TINY_CONV_FLOPS / 2 + TINY_FC_FLOPS * 3 / 4 + other);
    CHECK(m.weight_bytes == TINY_PARAMS * 4); /* zeros stored densely still take bytes */
    shr_layer_metrics lm;
    shr_layer_metrics_compute(g, t.conv, &lm);
    CHECK(lm.params == 20 && lm.nonzero == 11 && lm.effective_flops == TINY_CONV_FLOPS / 2);
    shr_graph_free(g);
}

/* Quantized storage: bytes follow the dtype, non-zeros are read in that dtype. */
static void test_quantized_storage(void) {
    tiny_model t;
    shr_graph *g = tiny_build(&t, 1);
    if (!g) return;
    const int64_t fw[2] = {3, 32};
    shr_tensor *q8 = NULL, *q4 = NULL;
    CHECK_OK(shr_tensor_create(&q8, SHR_I8, 2, fw));
    CHECK_OK(shr_tensor_create(&q4, SHR_I4, 4, g->values[t.conv_w].data->shape));
    if (!q8 || !q4) return;
    for (int i = 0; i < 96; i++) ((int8_t *)q8->data)[i] = (int8_t)(i % 3 == 0 ? 0 : -(i % 3)); /* 32 zeros */
    for (int i = 0; i < 18; i++) shr_i4_set(q4->data, i, i % 2 ? -3 : 0);                   /* 9 zeros */
    shr_tensor_free(g->values[t.fc_w].data);
    shr_tensor_free(g->values[t.conv_w].data);
    g->values[t.fc_w].data = q8;
    g->values[t.conv_w].data = q4;
    shr_model_metrics m;
    shr_model_metrics_compute(g, &m);
    CHECK(m.params == TINY_PARAMS);
    CHECK(m.nonzero_params == TINY_PARAMS - 32 - 9);
    CHECK(m.weight_bytes == (2 + 3) * 4 + 96 + 9); /* f32 biases, i8 fc weight, 18 nibbles */
    int64_t other = m.flops - TINY_CONV_FLOPS - TINY_FC_FLOPS;
    CHECK(m.effective_flops == TINY_CONV_FLOPS / 2 + TINY_FC_FLOPS * 2 / 3 + other);
    shr_layer_metrics lm;
    shr_layer_metrics_compute(g, t.fc, &lm);
    CHECK(lm.dtype == SHR_I8 && lm.weight_bytes == 96 + 12 && lm.nonzero == 64 + 3);
    shr_layer_metrics_compute(g, t.conv, &lm);
    CHECK(lm.dtype == SHR_I4 && lm.weight_bytes == 9 + 8);
    float grid[4];
    int rows, cols;
    CHECK_OK(shr_weight_density_grid(q4, 4, 4, grid, &rows, &cols));
    CHECK(rows == 2 && cols == 1);
    CHECK_NEAR(grid[0], 4.0 / 9, 1e-6); /* elements 0..8: odd ones are non-zero */
    CHECK_NEAR(grid[1], 5.0 / 9, 1e-6);
    shr_graph_free(g);
}

static void test_density_grid(void) {
    const int64_t shape[2] = {3, 32};
    shr_tensor *w = NULL;
    CHECK_OK(shr_tensor_create(&w, SHR_F32, 2, shape));
    if (!w) return;
    for (int i = 0; i < 96; i++) shr_f32(w)[i] = 1;
    for (int i = 0; i < 4; i++) shr_f32(w)[i] = 0; /* row 0, inputs 0..3 */
    for (int i = 0; i < 32; i++) shr_f32(w)[64 + i] = 0; /* row 2 entirely */
    float grid[2 * 8];
    int rows, cols;
    CHECK_OK(shr_weight_density_grid(w, 2, 8, grid, &rows, &cols));
    CHECK(rows == 2 && cols == 8);
    /* Rows 0,1 -> grid row 0; row 2 -> grid row 1. Inputs in blocks of 4. */
    CHECK_NEAR(grid[0], 0.5, 1e-6);
    CHECK_NEAR(grid[1], 1.0, 1e-6);
    for (int c = 0; c < 8; c++) CHECK(grid[8 + c] == 0.0f);
    float full[96];
    CHECK_OK(shr_weight_density_grid(w, 64, 64, full, &rows, &cols)); /* small enough: one cell per weight */
    CHECK(rows == 3 && cols == 32);
    CHECK(full[0] == 0.0f && full[4] == 1.0f && full[64] == 0.0f);
    CHECK_STATUS(shr_weight_density_grid(w, 0, 8, grid, &rows, &cols), SHR_ERR_INVALID_ARG);
    shr_tensor_free(w);
}

static void test_pareto(void) {
    double cost[6] = {1, 2, 3, 2, NAN, 0.5}, gain[6] = {0.5, 0.7, 0.6, 0.7, 0.99, 0.1};
    int opt[6];
    shr_pareto_mark(cost, gain, 6, opt);
    CHECK(opt[0] == 1); /* cheaper than all better ones */
    CHECK(opt[1] == 1 && opt[3] == 1); /* equal points are both optimal */
    CHECK(opt[2] == 0); /* dominated by 1 (cheaper and better) */
    CHECK(opt[4] == 0); /* NaN is never optimal and dominates nothing */
    CHECK(opt[5] == 1); /* the cheapest */
    double c2[3] = {1, 1, 2}, g2[3] = {0.5, 0.6, 0.6};
    shr_pareto_mark(c2, g2, 3, opt);
    CHECK(opt[0] == 0 && opt[1] == 1 && opt[2] == 0); /* same cost, lower gain; same gain, higher cost */
    shr_pareto_mark(c2, g2, 0, opt); /* no points: no crash */
}

int main(void) {
    if (!tiny_ops_linked()) return 1;
    RUN(test_dense_f32);
    RUN(test_sparse);
    RUN(test_quantized_storage);
    RUN(test_density_grid);
    RUN(test_pareto);
    return test_summary();
}
