/* Mask-based pruning on small hand-built graphs with known answers: magnitude
 * picks exactly the smallest |w|, the global threshold spans layers (with
 * exclusions and per-layer caps), N:M holds in every group, masks survive
 * fine-tuning, and the cubic schedule has Zhu & Gupta's values. */
#include "nn/train_hooks.h"
#include "prune_test_util.h"

/* x (N, in) -> fc1 (h) -> relu -> fc2 (out); biases optional. */
static shr_graph *two_layers(int in, int h, int out, int bias) {
    shr_graph *g = NULL;
    int x, w1, b1 = -1, w2, b2 = -1, y;
    int64_t s_in[1] = {in}, s1[2] = {h, in}, s2[2] = {out, h}, sb1[1] = {h}, sb2[1] = {out};
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 1, s_in, &x));
    CHECK_OK(shr_graph_add_tensor(g, "fc1.w", SHR_VALUE_PARAM, 2, s1, &w1));
    if (bias) CHECK_OK(shr_graph_add_tensor(g, "fc1.b", SHR_VALUE_PARAM, 1, sb1, &b1));
    int in1[3] = {x, w1, b1};
    CHECK_OK(shr_graph_add_node(g, "fc1", SHR_OP_LINEAR, NULL, 3, in1, &y));
    CHECK_OK(shr_graph_add_node(g, "relu", SHR_OP_RELU, NULL, 1, &y, &y));
    CHECK_OK(shr_graph_add_tensor(g, "fc2.w", SHR_VALUE_PARAM, 2, s2, &w2));
    if (bias) CHECK_OK(shr_graph_add_tensor(g, "fc2.b", SHR_VALUE_PARAM, 1, sb2, &b2));
    int in2[3] = {y, w2, b2};
    CHECK_OK(shr_graph_add_node(g, "fc2", SHR_OP_LINEAR, NULL, 3, in2, &y));
    return g;
}

static float *weights(shr_graph *g, const char *name) { return shr_f32(g->values[shr_graph_find_value(g, name)].data); }

static void test_magnitude_smallest(void) {
    shr_graph *g = two_layers(4, 3, 2, 1);
    /* fc1.w: |w| = 12, 11, ..., 1 with alternating signs; fc2.w: 6 values. */
    float *w1 = weights(g, "fc1.w"), *w2 = weights(g, "fc2.w");
    for (int i = 0; i < 12; i++) w1[i] = (i % 2 ? -1.0f : 1.0f) * (float)(12 - i);
    for (int i = 0; i < 6; i++) w2[i] = (float)(i + 1) * 0.5f;
    shr_prune_masks *m = NULL;
    CHECK_OK(shr_prune_masks_create(g, &m));
    CHECK(m && m->n == 2);
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = 0.5f;
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    for (int i = 0; i < 12; i++) CHECK_MSG((w1[i] == 0.0f) == (i >= 6), "fc1.w[%d] = %g", i, (double)w1[i]);
    for (int i = 0; i < 6; i++) CHECK_MSG((w2[i] == 0.0f) == (i < 3), "fc2.w[%d] = %g", i, (double)w2[i]);
    CHECK_NEAR(shr_prune_masks_sparsity(m, g), 0.5, 1e-12);
    CHECK_NEAR(shr_prune_weight_sparsity(g), 0.5, 1e-12);
    /* Masks only narrow: a lower target later leaves everything pruned. */
    cfg.sparsity = 0.25f;
    w1[11] = 100.0f; /* a pruned weight that came back is masked again */
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    CHECK(w1[11] == 0.0f);
    /* Ties go by position; a per-layer override and an exclusion. */
    for (int i = 0; i < 12; i++) w1[i] = 1.0f;
    for (int i = 0; i < 6; i++) w2[i] = 1.0f;
    shr_prune_masks_free(m);
    CHECK_OK(shr_prune_masks_create(g, &m));
    shr_prune_layer_target t = {"fc1", 0.25f};
    const char *ex[1] = {"fc2"};
    cfg.sparsity = 0.9f;
    cfg.layers = &t;
    cfg.n_layers = 1;
    cfg.exclude = ex;
    cfg.n_exclude = 1;
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    for (int i = 0; i < 12; i++) CHECK((w1[i] == 0.0f) == (i < 3));
    for (int i = 0; i < 6; i++) CHECK(w2[i] == 1.0f);
    shr_prune_masks_free(m);
    shr_graph_free(g);
}

static void test_global_threshold(void) {
    shr_graph *g = two_layers(4, 3, 2, 0);
    float *w1 = weights(g, "fc1.w"), *w2 = weights(g, "fc2.w");
    /* fc1 holds the even magnitudes 2..24, fc2 the odd ones 1..11: one threshold mixes them. */
    for (int i = 0; i < 12; i++) w1[i] = (float)(2 * (i + 1));
    for (int i = 0; i < 6; i++) w2[i] = -(float)(2 * i + 1);
    shr_prune_masks *m = NULL;
    CHECK_OK(shr_prune_masks_create(g, &m));
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_GLOBAL;
    cfg.sparsity = 0.5f; /* 9 of 18: |w| 1..9 */
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    for (int i = 0; i < 12; i++) CHECK((w1[i] == 0.0f) == (2 * (i + 1) <= 9));
    for (int i = 0; i < 6; i++) CHECK((w2[i] == 0.0f) == (2 * i + 1 <= 9));
    CHECK(shr_graph_nonzero_count(g) == 9);
    shr_prune_masks_free(m);

    /* Exclude the last layer: all 9 come from fc1. */
    for (int i = 0; i < 12; i++) w1[i] = (float)(2 * (i + 1));
    for (int i = 0; i < 6; i++) w2[i] = -(float)(2 * i + 1);
    CHECK_OK(shr_prune_masks_create(g, &m));
    cfg.exclude_last = 1;
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    for (int i = 0; i < 12; i++) CHECK((w1[i] == 0.0f) == (i < 9));
    for (int i = 0; i < 6; i++) CHECK(w2[i] != 0.0f);
    shr_prune_masks_free(m);

    /* A cap of 50% per layer: fc1 stops at 6, the rest comes from fc2's smallest. */
    for (int i = 0; i < 12; i++) w1[i] = (float)(i + 1) * 0.01f;
    for (int i = 0; i < 6; i++) w2[i] = (float)(i + 1);
    CHECK_OK(shr_prune_masks_create(g, &m));
    cfg.exclude_last = 0;
    cfg.max_layer_sparsity = 0.5f;
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    for (int i = 0; i < 12; i++) CHECK((w1[i] == 0.0f) == (i < 6));
    for (int i = 0; i < 6; i++) CHECK((w2[i] == 0.0f) == (i < 3));
    shr_prune_masks_free(m);
    shr_graph_free(g);

    /* With biases the target counts every parameter: 0.5 of 23 -> 12 masked weights (the zero
     * biases do not count, so training them later cannot push nonzero_params over 50%). */
    g = two_layers(4, 3, 2, 1);
    w1 = weights(g, "fc1.w");
    w2 = weights(g, "fc2.w");
    for (int i = 0; i < 12; i++) w1[i] = (float)(i + 1);
    for (int i = 0; i < 6; i++) w2[i] = (float)(i + 13);
    CHECK_OK(shr_prune_masks_create(g, &m));
    cfg.max_layer_sparsity = 0.0f;
    CHECK_OK(shr_prune_unstructured(g, &cfg, m));
    CHECK(shr_graph_param_count(g) == 23);
    CHECK(shr_graph_nonzero_count(g) == 23 - 12 - 5);
    for (int i = 0; i < 12; i++) CHECK(w1[i] == 0.0f);
    for (int i = 0; i < 6; i++) CHECK(w2[i] != 0.0f);
    shr_prune_masks_free(m);
    shr_graph_free(g);
}

/* Every M-run along the input dimension keeps the N largest. */
static void check_nm(const shr_tensor *orig, const shr_tensor *t, int N, int M) {
    int64_t rows = t->shape[0], K = t->numel / rows;
    int bad = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g0 = 0; g0 < K; g0 += M) {
            int len = (int)(K - g0 < M ? K - g0 : M), kept = 0;
            float min_kept = INFINITY, max_pruned = 0;
            for (int j = 0; j < len; j++) {
                float w = shr_f32(t)[r * K + g0 + j], o = fabsf(shr_f32(orig)[r * K + g0 + j]);
                if (w != 0.0f) {
                    kept++;
                    if (o < min_kept) min_kept = o;
                } else if (o > max_pruned) max_pruned = o;
            }
            if (kept != (len < N ? len : N) || max_pruned > min_kept) bad++;
        }
    CHECK_MSG(bad == 0, "%d groups break %d:%d", bad, N, M);
}

static void test_nm_pattern(void) {
    const int pats[2][2] = {{2, 4}, {1, 4}};
    for (int p = 0; p < 2; p++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_zoo_build("lenet5", 1, 12, 12, 10, 3, &g));
        if (!g) return;
        shr_graph *orig = NULL;
        CHECK_OK(shr_graph_clone(&orig, g));
        shr_prune_masks *m = NULL;
        CHECK_OK(shr_prune_masks_create(g, &m));
        shr_prune_config cfg = shr_prune_default();
        cfg.method = SHR_PRUNE_NM;
        cfg.nm_n = pats[p][0];
        cfg.nm_m = pats[p][1];
        CHECK_OK(shr_prune_unstructured(g, &cfg, m));
        for (int i = 0; i < m->n; i++) check_nm(orig->values[m->value[i]].data, g->values[m->value[i]].data, cfg.nm_n, cfg.nm_m);
        /* conv1 (K = 25) ends in a run of 1: it keeps its only weight. */
        double s = shr_prune_weight_sparsity(g);
        CHECK_MSG(s > 1.0 - (double)cfg.nm_n / cfg.nm_m - 0.02 && s <= 1.0 - (double)cfg.nm_n / cfg.nm_m, "sparsity %g", s);
        cfg.nm_n = 4;
        CHECK_STATUS(shr_prune_unstructured(g, &cfg, m), SHR_ERR_INVALID_ARG);
        shr_prune_masks_free(m);
        shr_graph_free(orig);
        shr_graph_free(g);
    }
}

static void test_cubic_schedule(void) {
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 0, 0, 4, 1), 0.0, 1e-7);
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 1, 0, 4, 1), 0.8 * (1.0 - 0.421875), 1e-6);
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 2, 0, 4, 1), 0.7, 1e-6);
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 3, 0, 4, 1), 0.8 * (1.0 - 1.0 / 64), 1e-6);
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 4, 0, 4, 1), 0.8, 1e-7);
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.8f, 9, 0, 4, 1), 0.8, 1e-7);
    /* t0 = 2, dt = 2, n = 3: halfway through (t = 5) r = 1/2. */
    CHECK_NEAR(shr_prune_cubic(0.1f, 0.9f, 1, 2, 3, 2), 0.1, 1e-7);
    CHECK_NEAR(shr_prune_cubic(0.1f, 0.9f, 5, 2, 3, 2), 0.9 - 0.8 * 0.125, 1e-6);
    CHECK_NEAR(shr_prune_cubic(0.1f, 0.9f, 8, 2, 3, 2), 0.9, 1e-7);
    /* One pruning step (n = 0) lands on the final sparsity at t0. */
    CHECK_NEAR(shr_prune_cubic(0.0f, 0.5f, 3, 3, 0, 1), 0.5, 1e-7);
}

/* An inner hook (as a teacher would set): records the weight sparsity at every step. */
typedef struct recorder {
    double sparsity[64];
    int epochs_seen, steps;
} recorder;

static shr_status rec_after_step(void *user, shr_graph *g, int64_t step) {
    recorder *r = user;
    (void)step;
    r->steps++;
    (void)g;
    return SHR_OK;
}
static shr_status rec_epoch_begin(void *user, shr_graph *g, int epoch, int epochs) {
    recorder *r = user;
    (void)epochs;
    if (epoch < 64) r->sparsity[epoch] = shr_prune_weight_sparsity(g);
    r->epochs_seen++;
    return SHR_OK;
}

static void test_masks_survive_finetune(void) {
    shr_dataset *d = tiny_dataset(96, 1, 4, 4, 3, 7);
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 4, 4, 3, 5, &g));
    if (!d || !g) return;
    CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
    shr_graph *before = NULL;
    CHECK_OK(shr_graph_clone(&before, g));
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = 0.5f;
    shr_prune_schedule sch = shr_prune_schedule_default();
    shr_train_config tc = shr_train_default();
    tc.epochs = 2;
    tc.batch = 16;
    tc.optim.weight_decay = 0.01f; /* decay and momentum must not revive pruned weights */
    CHECK_OK(shr_prune_run(&g, &cfg, &sch, d, NULL, &tc));
    CHECK_NEAR(shr_prune_weight_sparsity(g), 0.5, 1e-3);
    /* Pruned positions are exactly the smallest |w| of the starting weights, and the
     * kept ones trained (changed). */
    shr_prune_masks *m = NULL;
    shr_graph *ref = NULL;
    CHECK_OK(shr_graph_clone(&ref, before));
    CHECK_OK(shr_prune_masks_create(ref, &m));
    CHECK_OK(shr_prune_unstructured(ref, &cfg, m));
    shr_graph_free(ref);
    int64_t mismatched = 0, moved = 0, kept = 0;
    for (int i = 0; m && i < m->n; i++) {
        const shr_tensor *a = before->values[m->value[i]].data, *b = g->values[m->value[i]].data;
        for (int64_t j = 0; j < a->numel; j++) {
            mismatched += (shr_f32(b)[j] == 0.0f) != !m->keep[i][j];
            if (m->keep[i][j]) {
                kept++;
                moved += shr_f32(b)[j] != shr_f32(a)[j];
            }
        }
    }
    CHECK_MSG(mismatched == 0, "%lld weights differ from the mask", (long long)mismatched);
    CHECK_MSG(moved > kept / 2, "only %lld of %lld kept weights trained", (long long)moved, (long long)kept);
    shr_prune_masks_free(m);

    /* Gradual: the sparsity rises epoch by epoch to the target, the inner hooks still run. */
    recorder rec;
    memset(&rec, 0, sizeof rec);
    shr_train_hooks inner;
    memset(&inner, 0, sizeof inner);
    inner.user = &rec;
    inner.after_step = rec_after_step;
    inner.epoch_begin = rec_epoch_begin;
    tc.hooks = &inner;
    tc.epochs = 6;
    shr_graph_free(g);
    CHECK_OK(shr_graph_clone(&g, before));
    cfg.method = SHR_PRUNE_GLOBAL;
    cfg.sparsity = 0.8f;
    sch.kind = SHR_PRUNE_GRADUAL;
    sch.end_epoch = 3;
    CHECK_OK(shr_prune_run(&g, &cfg, &sch, d, NULL, &tc));
    CHECK(rec.epochs_seen == 6 && rec.steps == 6 * 6);
    CHECK(rec.sparsity[0] == 0.0 && rec.sparsity[1] == 0.0); /* epoch 0 prunes s_i = 0 */
    for (int e = 2; e <= 4; e++) CHECK_MSG(rec.sparsity[e] > rec.sparsity[e - 1], "epoch %d: %g", e, rec.sparsity[e]);
    CHECK(rec.sparsity[5] == rec.sparsity[4]); /* the last step was at the start of epoch 3 */
    /* Global counts every parameter: zeros / params reaches 0.8 (the trained biases are nonzero). */
    double zeros = 1.0 - (double)shr_graph_nonzero_count(g) / (double)shr_graph_param_count(g);
    CHECK_NEAR(zeros, 0.8, 1e-3);
    shr_graph_free(g);

    /* Iterative: three cycles end at the target. */
    CHECK_OK(shr_graph_clone(&g, before));
    cfg.method = SHR_PRUNE_MAGNITUDE;
    cfg.sparsity = 0.7f;
    sch.kind = SHR_PRUNE_ITERATIVE;
    tc.hooks = NULL;
    tc.epochs = 3;
    CHECK_OK(shr_prune_run(&g, &cfg, &sch, d, NULL, &tc));
    CHECK_NEAR(shr_prune_weight_sparsity(g), 0.7, 1e-3);
    shr_graph_free(g);
    shr_graph_free(before);
    shr_dataset_free(d);
}

static void test_bad_arguments(void) {
    shr_prune_method m;
    shr_prune_importance i;
    shr_prune_schedule_kind k;
    CHECK_STATUS(shr_prune_method_parse("magnitud", &m), SHR_ERR_INVALID_ARG);
    CHECK_OK(shr_prune_method_parse("nm", &m));
    CHECK(m == SHR_PRUNE_NM);
    CHECK_OK(shr_prune_importance_parse("taylor", &i));
    CHECK(i == SHR_IMPORTANCE_TAYLOR);
    CHECK_STATUS(shr_prune_schedule_parse("cubic", &k), SHR_ERR_INVALID_ARG);
    shr_graph *g = two_layers(4, 3, 2, 0);
    shr_prune_masks *mk = NULL;
    CHECK_OK(shr_prune_masks_create(g, &mk));
    shr_prune_config cfg = shr_prune_default();
    cfg.sparsity = 1.5f;
    CHECK_STATUS(shr_prune_unstructured(g, &cfg, mk), SHR_ERR_INVALID_ARG);
    cfg.method = SHR_PRUNE_CHANNEL;
    cfg.sparsity = 0.5f;
    CHECK_STATUS(shr_prune_unstructured(g, &cfg, mk), SHR_ERR_INVALID_ARG);
    shr_train_config tc = shr_train_default();
    tc.epochs = 1;
    cfg.method = SHR_PRUNE_MAGNITUDE;
    CHECK_STATUS(shr_prune_run(&g, &cfg, NULL, NULL, NULL, &tc), SHR_ERR_INVALID_ARG);
    shr_prune_masks_free(mk);
    shr_graph_free(g);
}

int main(void) {
    RUN(test_magnitude_smallest);
    RUN(test_global_threshold);
    RUN(test_nm_pattern);
    RUN(test_cubic_schedule);
    RUN(test_masks_survive_finetune);
    RUN(test_bad_arguments);
    return test_summary();
}
