/* Block pruning (--block RxC) for magnitude and global: every block is kept or masked as a
 * whole, the masked blocks are exactly the weakest by mean square (per layer or across layers),
 * the count reaches the target by less than one block, caps and exclusions hold, masks only
 * narrow across steps, conv weights block over (filters, C*KH*KW), bad shapes are refused. */
#include "prune_test_util.h"

static shr_graph *zoo(const char *arch, uint64_t seed) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build(arch, 1, 28, 28, 10, 3, &g));
    if (g) fill_random(g, seed, 0.2f);
    return g;
}

/* Per block of weight t (rows x K view, br x bc): its mean square over its size and whether it
 * is all zero, all nonzero or mixed (-1). Returns the number of blocks. */
static int64_t block_stats(const shr_tensor *t, const float *orig, int br, int bc, double *ms, int *state) {
    int64_t rows = t->shape[0], K = t->numel / rows, nb = 0;
    const float *w = shr_f32(t);
    for (int64_t r0 = 0; r0 < rows; r0 += br)
        for (int64_t k0 = 0; k0 < K; k0 += bc, nb++) {
            double ss = 0;
            int64_t size = 0, zeros = 0;
            for (int64_t r = r0; r < r0 + br && r < rows; r++)
                for (int64_t k = k0; k < k0 + bc && k < K; k++) {
                    ss += (double)orig[r * K + k] * orig[r * K + k];
                    zeros += w[r * K + k] == 0.0f;
                    size++;
                }
            ms[nb] = ss / (double)size;
            state[nb] = zeros == 0 ? 1 : zeros == size ? 0 : -1;
        }
    return nb;
}

typedef struct layer_check {
    int64_t blocks, masked_weights;
    double max_pruned, min_kept; /* mean squares (of the original weights) */
} layer_check;

/* Checks that every block of node `name` is whole and summarizes it. */
static layer_check check_layer(const shr_graph *g, const shr_graph *orig, const char *name, int br, int bc) {
    layer_check c = {0, 0, 0.0, 1e300};
    int k = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) k = i;
    CHECK(k >= 0);
    if (k < 0) return c;
    const shr_tensor *t = g->values[g->nodes[k].inputs[1]].data;
    int64_t n = t->numel;
    double *ms = malloc((size_t)n * sizeof *ms);
    int *st = malloc((size_t)n * sizeof *st);
    c.blocks = block_stats(t, shr_f32(orig->values[g->nodes[k].inputs[1]].data), br, bc, ms, st);
    for (int64_t b = 0; b < c.blocks; b++) {
        CHECK_MSG(st[b] >= 0, "%s: block %lld is partly pruned", name, (long long)b);
        if (st[b] == 0 && ms[b] > c.max_pruned) c.max_pruned = ms[b];
        if (st[b] == 1 && ms[b] < c.min_kept) c.min_kept = ms[b];
    }
    c.masked_weights = t->numel - shr_tensor_count_nonzero(t);
    free(ms);
    free(st);
    return c;
}

static shr_status prune(shr_graph *g, shr_prune_method method, float s, int br, int bc, shr_prune_masks **m) {
    shr_prune_config cfg = shr_prune_default();
    cfg.method = method;
    cfg.sparsity = s;
    cfg.block_rows = br;
    cfg.block_cols = bc;
    if (!*m) CHECK_OK(shr_prune_masks_create(g, m));
    return shr_prune_unstructured(g, &cfg, *m);
}

static void test_magnitude_blocks(void) {
    static const int shapes[3][2] = {{8, 1}, {4, 1}, {2, 3}};
    for (int s = 0; s < 3; s++) {
        int br = shapes[s][0], bc = shapes[s][1];
        shr_graph *g = zoo("mlp", 5), *orig = NULL;
        if (!g) return;
        CHECK_OK(shr_graph_clone(&orig, g));
        shr_prune_masks *m = NULL;
        CHECK_OK(prune(g, SHR_PRUNE_MAGNITUDE, 0.8f, br, bc, &m));
        static const char *names[3] = {"fc1", "fc2", "fc3"};
        static const int64_t numel[3] = {300 * 784, 100 * 300, 10 * 100};
        for (int l = 0; l < 3; l++) {
            layer_check c = check_layer(g, orig, names[l], br, bc);
            int64_t target = (int64_t)floor(0.8 * (double)numel[l] + 0.5);
            /* per layer: the weakest blocks go, just past the target (less than one block over) */
            CHECK_MSG(c.masked_weights >= target && c.masked_weights < target + br * bc, "%s %dx%d: %lld masked",
                      names[l], br, bc, (long long)c.masked_weights);
            CHECK_MSG(c.max_pruned <= c.min_kept, "%s %dx%d: a kept block is weaker than a pruned one", names[l], br,
                      bc);
        }
        shr_prune_masks_free(m);
        shr_graph_free(g);
        shr_graph_free(orig);
    }
}

static void test_global_blocks(void) {
    shr_graph *g = zoo("mlp", 6), *orig = NULL;
    if (!g) return;
    /* make fc2 clearly weaker so the one ranking takes more of it than of fc1 */
    shr_tensor *w2 = g->values[g->nodes[3].inputs[1]].data;
    CHECK(strcmp(g->nodes[3].name, "fc2") == 0);
    for (int64_t i = 0; i < w2->numel; i++) shr_f32(w2)[i] *= 0.5f;
    CHECK_OK(shr_graph_clone(&orig, g));
    shr_prune_masks *m = NULL;
    CHECK_OK(prune(g, SHR_PRUNE_GLOBAL, 0.6f, 8, 1, &m));
    layer_check c1 = check_layer(g, orig, "fc1", 8, 1), c2 = check_layer(g, orig, "fc2", 8, 1),
                c3 = check_layer(g, orig, "fc3", 8, 1);
    double max_pruned = fmax(c1.max_pruned, fmax(c2.max_pruned, c3.max_pruned));
    double min_kept = fmin(c1.min_kept, fmin(c2.min_kept, c3.min_kept));
    CHECK_MSG(max_pruned <= min_kept, "one ranking across layers: pruned %g > kept %g", max_pruned, min_kept);
    CHECK((double)c2.masked_weights / (100 * 300) > (double)c1.masked_weights / (300 * 784));
    int64_t params = shr_graph_param_count(g), nz = shr_graph_nonzero_count(g);
    CHECK_MSG(nz <= (int64_t)(0.4 * (double)params) && nz > (int64_t)(0.4 * (double)params) - 8,
              "nonzero %lld of %lld params", (long long)nz, (long long)params);
    /* a later, higher step narrows the same masks, blocks still whole; earlier zeros stay */
    CHECK_OK(prune(g, SHR_PRUNE_GLOBAL, 0.85f, 8, 1, &m));
    c1 = check_layer(g, orig, "fc1", 8, 1);
    CHECK(shr_graph_nonzero_count(g) <= (int64_t)(0.15 * (double)params));
    shr_prune_masks_free(m);
    m = NULL;
    /* a cap keeps fc2 at most 70 % pruned, the rest comes from the other layers */
    shr_graph_free(g);
    CHECK_OK(shr_graph_clone(&g, orig));
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_GLOBAL;
    cfg.sparsity = 0.6f;
    cfg.block_rows = 8;
    cfg.block_cols = 1;
    cfg.max_layer_sparsity = 0.7f;
    CHECK_OK(shr_prune_masks_create(g, &m));
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    c2 = check_layer(g, orig, "fc2", 8, 1);
    CHECK_MSG(c2.masked_weights <= 21000, "fc2 masked %lld > cap", (long long)c2.masked_weights);
    CHECK(shr_graph_nonzero_count(g) <= (int64_t)(0.4 * (double)params));
    shr_prune_masks_free(m);
    shr_graph_free(g);
    shr_graph_free(orig);
}

static void test_conv_blocks(void) {
    shr_graph *g = zoo("cnn", 7), *orig = NULL;
    if (!g) return;
    CHECK_OK(shr_graph_clone(&orig, g));
    shr_prune_masks *m = NULL;
    CHECK_OK(prune(g, SHR_PRUNE_MAGNITUDE, 0.7f, 4, 1, &m));
    int convs = 0;
    for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k].op == SHR_OP_CONV2D) {
            layer_check c = check_layer(g, orig, g->nodes[k].name, 4, 1);
            CHECK(c.max_pruned <= c.min_kept && c.masked_weights > 0);
            convs++;
        }
    CHECK(convs >= 2);
    shr_prune_masks_free(m);
    shr_graph_free(g);
    shr_graph_free(orig);
}

static void test_bad_blocks(void) {
    shr_graph *g = zoo("mlp", 8);
    if (!g) return;
    shr_prune_masks *m = NULL;
    CHECK_STATUS(prune(g, SHR_PRUNE_MAGNITUDE, 0.5f, 300, 1, &m), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(prune(g, SHR_PRUNE_MAGNITUDE, 0.5f, -1, 1, &m), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(prune(g, SHR_PRUNE_NM, 0.5f, 8, 1, &m), SHR_ERR_INVALID_ARG);
    CHECK(shr_graph_nonzero_count(g) == shr_graph_param_count(g)); /* refused before anything was masked */
    /* 1x1 (and 0, read as 1) is plain magnitude pruning: same masks */
    shr_graph *h = NULL;
    CHECK_OK(shr_graph_clone(&h, g));
    shr_prune_masks *mh = NULL;
    CHECK_OK(prune(g, SHR_PRUNE_MAGNITUDE, 0.5f, 1, 1, &m));
    CHECK_OK(prune(h, SHR_PRUNE_MAGNITUDE, 0.5f, 0, 0, &mh));
    for (int i = 0; m && mh && i < m->n; i++)
        CHECK(memcmp(m->keep[i], mh->keep[i], (size_t)g->values[m->value[i]].data->numel) == 0);
    shr_prune_masks_free(m);
    shr_prune_masks_free(mh);
    shr_graph_free(g);
    shr_graph_free(h);
}

int main(void) {
    RUN(test_magnitude_blocks);
    RUN(test_global_blocks);
    RUN(test_conv_blocks);
    RUN(test_bad_blocks);
    return test_summary();
}
