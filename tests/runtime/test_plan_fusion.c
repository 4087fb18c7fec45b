/* Inference plan with BatchNorm folding and fused activations: for every zoo model (and a graph whose conv output
 * is used twice, and one whose last op is a ReLU), the plan's outputs at batch 1 and 5 match
 * the unfused eval-mode forward of the training tape; the expected pairs are fused and no
 * others. Tolerance: 1e-4 relative to the largest |output| (batch-1 Linear runs as a GEMV,
 * bias is added in the epilogue: different rounding, same math). */
#include <math.h>
#include <stdlib.h>

#include "nn/tape.h"
#include "shrink/graph.h"
#include "shrink/runtime.h"
#include "shrink/tensor.h"
#include "shrink/zoo.h"
#include "test.h"

static int same_outputs(shr_graph *g, int n) {
    int64_t in = 1;
    for (int d = 1; d < g->values[g->input].ndim; d++) in *= g->values[g->input].shape[d];
    float *x = malloc((size_t)(n * in) * sizeof *x);
    shr_plan *p = NULL;
    shr_tape *t = NULL;
    int ok = x && shr_plan_create(g, n, &p) == SHR_OK && shr_tape_create(g, n, &t) == SHR_OK;
    if (ok) {
        for (int64_t i = 0; i < n * in; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        const float *yp;
        const shr_tensor *yt;
        ok = shr_plan_run(p, x, n, &yp) == SHR_OK && shr_tape_forward(t, x, n, 0, NULL, &yt) == SHR_OK;
        int64_t m = shr_plan_output_size(p) * n;
        double scale = 1e-30;
        for (int64_t i = 0; ok && i < m; i++) scale = fmax(scale, fabs(shr_f32(yt)[i]));
        for (int64_t i = 0; ok && i < m; i++) ok = fabs((double)yp[i] - shr_f32(yt)[i]) <= 1e-4 * scale;
    }
    shr_plan_free(p);
    shr_tape_free(t);
    free(x);
    return ok;
}

static int fused_count(const shr_graph *g) {
    shr_plan *p = NULL;
    if (shr_plan_create(g, 1, &p) != SHR_OK) return -1;
    int n = shr_plan_fused_count(p);
    shr_plan_free(p);
    return n;
}

/* Non-trivial BN statistics and affine parameters, so folding has something to fold. */
static void randomize_bn(shr_graph *g) {
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        if (n->op != SHR_OP_BATCHNORM) continue;
        for (int i = 1; i < 5 && i < n->n_inputs; i++) {
            shr_tensor *t = g->values[n->inputs[i]].data;
            for (int64_t c = 0; c < t->numel; c++) {
                float r = (float)((c * 29 + i * 11 + k) % 17) / 17.0f; /* [0, 1) */
                shr_f32(t)[c] = i == 4 ? 0.3f + r : i == 1 ? 0.5f + r : r - 0.5f;
            }
        }
    }
}

static int folded_count(const shr_graph *g) {
    shr_plan *p = NULL;
    if (shr_plan_create(g, 1, &p) != SHR_OK) return -1;
    int n = shr_plan_folded_count(p);
    shr_plan_free(p);
    return n;
}

static void test_zoo_models(void) {
    const char *archs[] = {"mlp", "lenet5", "cnn", "resnet8", "dwnet"};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_zoo_build(archs[a], 1, 28, 28, 10, 7, &g));
        if (!g) continue;
        randomize_bn(g);
        CHECK(same_outputs(g, 1));
        CHECK(same_outputs(g, 5));
        shr_graph_free(g);
    }
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 28, 28, 10, 7, &g));
    if (g) CHECK(fused_count(g) == 2); /* fc1 -> relu, fc2 -> relu; fc3 feeds the output */
    shr_graph_free(g);
    g = NULL;
    CHECK_OK(shr_zoo_build("cnn", 1, 28, 28, 10, 7, &g));
    if (g) CHECK(folded_count(g) == 3 && fused_count(g) == 3); /* 3 x conv-BN-ReLU */
    shr_graph_free(g);
}

/* x -> conv -> relu, and conv also feeds an add: the conv output is used twice, no fusion;
 * add -> linear -> relu as the graph output: fused, the output aliases the linear's buffer. */
static void test_shared_and_output(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    if (!g) return;
    int64_t in_shape[3] = {2, 5, 5}, w_shape[4] = {2, 2, 3, 3}, fw[2] = {3, 50}, b[1] = {3};
    int x, w, cv, r, s, f, fl, fb, lin, out;
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = 3;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = 1;
    CHECK_OK(shr_graph_add_input(g, "x", 3, in_shape, &x));
    CHECK_OK(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 4, w_shape, &w));
    CHECK_OK(shr_graph_add_tensor(g, "fw", SHR_VALUE_PARAM, 2, fw, &fl));
    CHECK_OK(shr_graph_add_tensor(g, "fb", SHR_VALUE_PARAM, 1, b, &fb));
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].data)
            for (int64_t i = 0; i < g->values[v].data->numel; i++)
                shr_f32(g->values[v].data)[i] = (float)((i * 13 + v) % 7) / 7.0f - 0.4f;
    int cin[2] = {x, w};
    CHECK_OK(shr_graph_add_node(g, "conv", SHR_OP_CONV2D, &a, 2, cin, &cv));
    shr_attrs d = shr_attrs_default();
    CHECK_OK(shr_graph_add_node(g, "relu", SHR_OP_RELU, &d, 1, &cv, &r));
    int ain[2] = {cv, r};
    CHECK_OK(shr_graph_add_node(g, "add", SHR_OP_ADD, &d, 2, ain, &s));
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_FLATTEN, &d, 1, &s, &f));
    int lin_in[3] = {f, fl, fb};
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, &d, 3, lin_in, &lin));
    CHECK_OK(shr_graph_add_node(g, "out", SHR_OP_RELU6, &d, 1, &lin, &out));
    g->output = out;
    CHECK_OK(shr_graph_validate(g));
    CHECK(fused_count(g) == 1);
    CHECK(same_outputs(g, 1));
    CHECK(same_outputs(g, 4));
    shr_graph_free(g);
}

int main(void) {
    RUN(test_zoo_models);
    RUN(test_shared_and_output);
    return test_summary();
}
