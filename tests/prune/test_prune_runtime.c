/* The runtime runs pruned Linear layers on the sparse kernels: the sparse plan
 * matches the dense plan on the same weights (with the fused ReLU, at batch 1
 * and batched), only layers sparse and large enough are converted, block-pruned
 * layers run on the block format, and results repeat bit for bit. */
#include <stdlib.h>

#include "prune_test_util.h"
#include "runtime/plan_sparse.h"

static shr_graph *pruned_mlp_blocks(float sparsity, int br) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 28, 28, 10, 3, &g));
    if (!g) return NULL;
    fill_random(g, 4, 0.2f);
    shr_prune_masks *m = NULL;
    CHECK_OK(shr_prune_masks_create(g, &m));
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = sparsity;
    cfg.block_rows = br;
    cfg.block_cols = 1;
    if (m) CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    shr_prune_masks_free(m);
    return g;
}

static shr_graph *pruned_mlp(float sparsity) { return pruned_mlp_blocks(sparsity, 1); }

/* Layers converted; *at1 / *at64: how many run sparse at batch 1 / 64. */
static int sparse_layers_fmt(const shr_graph *g, int *at1, int *at64, shr_sp_format *fmt) {
    unsigned char skip[64] = {0};
    shr_plan_sparse *s = NULL;
    CHECK(g->n_nodes <= 64);
    CHECK_OK(shr_plan_sparse_compile(g, skip, &s));
    int n = shr_plan_sparse_count(s);
    *at1 = *at64 = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        *at1 += shr_plan_sparse_use(s, k, 1);
        *at64 += shr_plan_sparse_use(s, k, 64);
        if (fmt) fmt[k] = shr_plan_sparse_format(s, k);
    }
    shr_plan_sparse_free(s);
    return n;
}

static int sparse_layers(const shr_graph *g, int *at1, int *at64) { return sparse_layers_fmt(g, at1, at64, NULL); }

static void test_which_layers(void) {
    int at1, at64;
    shr_graph *g = pruned_mlp(0.9f);
    if (!g) return;
    /* fc1 (300x784) and fc2 (100x300) are 90% zeros; fc3 (10x100) is too small. CSR at batch 1:
     * fc1 0.21 * 23520 + 2.6 * 300 = 5719 ns against dense 0.75 * 10114; fc2 890 against 968. */
    shr_sp_format fmt[64];
    CHECK(sparse_layers_fmt(g, &at1, &at64, fmt) == 2);
    CHECK(at1 == 2 && at64 == 2);
    CHECK(fmt[1] == SHR_SP_CSR && fmt[3] == SHR_SP_CSR && fmt[5] == SHR_SP_DENSE);
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

/* Unstructured zeros stay CSR (hardly any 8x1 block is empty); 8x1-block-pruned weights go to
 * 8x1, 4x1-pruned to 4x1 (their 8x1 blocks are mostly half empty). */
static void test_block_formats(void) {
    static const int br[2] = {8, 4};
    static const shr_sp_format want[2] = {SHR_SP_8X1, SHR_SP_4X1};
    for (int i = 0; i < 2; i++) {
        shr_graph *g = pruned_mlp_blocks(0.9f, br[i]);
        if (!g) return;
        int at1, at64;
        shr_sp_format fmt[64];
        CHECK(sparse_layers_fmt(g, &at1, &at64, fmt) == 2 && at1 == 2 && at64 == 2);
        /* (fc2, 100 x 300, has as few 8x1 as 4x1 blocks when 4x1-pruned: either may win) */
        CHECK_MSG(fmt[1] == want[i] && (fmt[3] == SHR_SP_4X1 || fmt[3] == SHR_SP_8X1), "%dx1-pruned: fc1 %s, fc2 %s", br[i],
                  shr_sp_format_name(fmt[1]), shr_sp_format_name(fmt[3]));
        shr_graph_free(g);
    }
    /* the cost model: a block format pays per stored block, dense per weight */
    CHECK(shr_plan_sparse_cost(SHR_SP_8X1, 0, 300, 784, 3000) < shr_plan_sparse_cost(SHR_SP_CSR, 0, 300, 784, 24000));
    CHECK(shr_plan_sparse_cost(SHR_SP_DENSE, 1, 300, 784, 0) > shr_plan_sparse_cost(SHR_SP_DENSE, 0, 300, 784, 0));
    CHECK(isinf(shr_plan_sparse_cost(SHR_SP_NM24, 0, 300, 784, 10)));
}

static void check_matches_dense(shr_graph *g) {
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
}

static void test_sparse_matches_dense(void) {
    for (int br = 1; br <= 8; br *= 2) { /* CSR, 2x1 blocks (CSR or 4x1), 4x1, 8x1 */
        shr_graph *g = pruned_mlp_blocks(0.9f, br);
        if (g) check_matches_dense(g);
        shr_graph_free(g);
    }
}

int main(void) {
    RUN(test_which_layers);
    RUN(test_block_formats);
    RUN(test_sparse_matches_dense);
    return test_summary();
}
