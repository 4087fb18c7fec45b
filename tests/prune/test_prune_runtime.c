/* The runtime runs pruned Linear layers on the sparse kernels: the sparse plan
 * matches the dense plan on the same weights (with the fused ReLU, at batch 1
 * and batched), only layers sparse and large enough are converted, and results
 * repeat bit for bit. */
#include <stdlib.h>

#include "prune_test_util.h"
#include "runtime/plan_sparse.h"

static shr_graph *pruned_mlp(float sparsity) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 28, 28, 10, 3, &g));
    if (!g) return NULL;
    fill_random(g, 4, 0.2f);
    shr_prune_masks *m = NULL;
    CHECK_OK(shr_prune_masks_create(g, &m));
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = sparsity;
    if (m) CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    shr_prune_masks_free(m);
    return g;
}

/* Layers converted; *at1 / *at64: how many run sparse at batch 1 / 64. */
static int sparse_layers(const shr_graph *g, int *at1, int *at64) {
    unsigned char skip[64] = {0};
    shr_plan_sparse *s = NULL;
    CHECK(g->n_nodes <= 64);
    CHECK_OK(shr_plan_sparse_compile(g, skip, &s));
    int n = shr_plan_sparse_count(s);
    *at1 = *at64 = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        *at1 += shr_plan_sparse_use(s, k, 1);
        *at64 += shr_plan_sparse_use(s, k, 64);
    }
    shr_plan_sparse_free(s);
    return n;
}

static void test_which_layers(void) {
    int at1, at64;
    shr_graph *g = pruned_mlp(0.9f);
    if (!g) return;
    /* fc1 (300x784) and fc2 (100x300) are 90% zeros; fc3 (10x100) is too small. At batch 1
     * the narrow fc2 (K = 300: rule 0.08) stays dense, fc1 (K = 784: rule 0.129) goes sparse. */
    CHECK(sparse_layers(g, &at1, &at64) == 2);
    CHECK(at1 == 1 && at64 == 2);
    shr_graph_free(g);
    g = pruned_mlp(0.65f); /* sparse enough for batched CSR only */
    if (g) CHECK(sparse_layers(g, &at1, &at64) == 2 && at1 == 0 && at64 == 2);
    shr_graph_free(g);
    g = pruned_mlp(0.5f); /* half dense: the dense kernels are faster */
    if (g) CHECK(sparse_layers(g, &at1, &at64) == 0);
    shr_graph_free(g);
    g = pruned_mlp(0.9f);
    setenv("SHRINK_SPARSE", "off", 1);
    if (g) CHECK(sparse_layers(g, &at1, &at64) == 0);
    unsetenv("SHRINK_SPARSE");
    shr_graph_free(g);
}

static void test_sparse_matches_dense(void) {
    shr_graph *g = pruned_mlp(0.9f);
    if (!g) return;
    const int batches[3] = {1, 7, 64};
    for (int b = 0; b < 3; b++) {
        int n = batches[b];
        float *x = random_input(g, n, 10 + b), *ys = malloc((size_t)n * 10 * sizeof(float)),
              *ys2 = malloc((size_t)n * 10 * sizeof(float)), *yd = malloc((size_t)n * 10 * sizeof(float));
        run_graph(g, x, n, ys);
        run_graph(g, x, n, ys2);
        setenv("SHRINK_SPARSE", "off", 1);
        run_graph(g, x, n, yd);
        unsetenv("SHRINK_SPARSE");
        double d = max_rel_diff(yd, ys, (int64_t)n * 10);
        CHECK_MSG(d < 1e-5, "batch %d: sparse and dense plans differ by %g", n, d);
        CHECK(memcmp(ys, ys2, (size_t)n * 10 * sizeof(float)) == 0);
        free(x);
        free(ys);
        free(ys2);
        free(yd);
    }
    shr_graph_free(g);
}

int main(void) {
    RUN(test_which_layers);
    RUN(test_sparse_matches_dense);
    return test_summary();
}
