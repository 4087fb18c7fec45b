/* Structured pruning: dependency groups (residual add, concat, depthwise,
 * batchnorm, the next layer's input), known answers on hand-built graphs, and
 * for every zoo model: the rebuilt (smaller) model computes exactly what the
 * original computes with the removed channels' outgoing weights zeroed. */
#include "prune/prune_internal.h"
#include "prune_test_util.h"

static shr_attrs conv_attrs(int k, int groups) {
    shr_attrs a = shr_attrs_default();
    a.kernel[0] = a.kernel[1] = k;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = k / 2;
    a.groups = groups;
    return a;
}

static int add_conv(shr_graph *g, const char *name, int x, int oc, int k, int groups) {
    char wn[64];
    int64_t c = g->values[x].shape[1];
    int64_t ws[4] = {oc, c / groups, k, k};
    int w, y;
    snprintf(wn, sizeof wn, "%s.w", name);
    CHECK_OK(shr_graph_add_tensor(g, wn, SHR_VALUE_PARAM, 4, ws, &w));
    shr_attrs a = conv_attrs(k, groups);
    int in[3] = {x, w, -1};
    CHECK_OK(shr_graph_add_node(g, name, SHR_OP_CONV2D, &a, 3, in, &y));
    return y;
}

static int add_bn(shr_graph *g, const char *name, int x) {
    char n[64];
    int64_t cs[1] = {g->values[x].shape[1]};
    int in[5] = {x, 0, 0, 0, 0}, y;
    const char *suffix[4] = {"gamma", "beta", "mean", "var"};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", name, suffix[i]);
        CHECK_OK(shr_graph_add_tensor(g, n, i < 2 ? SHR_VALUE_PARAM : SHR_VALUE_BUFFER, 1, cs, &in[i + 1]));
    }
    CHECK_OK(shr_graph_add_node(g, name, SHR_OP_BATCHNORM, NULL, 5, in, &y));
    return y;
}

static int add_unary(shr_graph *g, const char *name, shr_op op, int x) {
    int y;
    CHECK_OK(shr_graph_add_node(g, name, op, NULL, 1, &x, &y));
    return y;
}

static void add_head(shr_graph *g, int x, int classes) {
    x = add_unary(g, "gap", SHR_OP_GLOBAL_AVGPOOL, x);
    x = add_unary(g, "flatten", SHR_OP_FLATTEN, x);
    int64_t ws[2] = {classes, g->values[x].shape[1]};
    int w, y;
    CHECK_OK(shr_graph_add_tensor(g, "fc.w", SHR_VALUE_PARAM, 2, ws, &w));
    int in[3] = {x, w, -1};
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, NULL, 3, in, &y));
}

/* x (2,6,6) -> stem conv 4 -> bn -> relu = s;  s -> conv a 4 -> bn -> relu -> conv b 4 -> bn = f;
 * add(f, s) -> relu -> head. Channels of stem and conv b are coupled through the add. */
static shr_graph *residual_graph(void) {
    shr_graph *g = NULL;
    int64_t in[3] = {2, 6, 6};
    int x;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, in, &x));
    int s = add_unary(g, "stem.relu", SHR_OP_RELU, add_bn(g, "stem.bn", add_conv(g, "stem", x, 4, 3, 1)));
    int f = add_unary(g, "a.relu", SHR_OP_RELU, add_bn(g, "a.bn", add_conv(g, "a", s, 4, 3, 1)));
    f = add_bn(g, "b.bn", add_conv(g, "b", f, 4, 3, 1));
    int sum, both[2] = {f, s};
    CHECK_OK(shr_graph_add_node(g, "add", SHR_OP_ADD, NULL, 2, both, &sum));
    add_head(g, add_unary(g, "out", SHR_OP_RELU, sum), 3);
    fill_random(g, 11, 0.5f);
    return g;
}

/* Builds deps, scores and the removal set for cfg; returns the masked and the rebuilt graph. */
static void prune_both(const shr_graph *g, const shr_prune_config *cfg, shr_graph **masked, shr_graph **pruned,
                       unsigned char **removed_out, prune_deps *d) {
    CHECK_OK(prune_deps_build(g, cfg, d));
    double *score = calloc((size_t)d->n_units + 1, sizeof *score);
    unsigned char *removed = calloc((size_t)d->n_units + 1, 1);
    CHECK_OK(prune_unit_scores(g, d, cfg, score));
    CHECK(prune_select_units(d, score, cfg->sparsity, removed) >= 0);
    CHECK_OK(shr_graph_clone(masked, g));
    CHECK_OK(shr_graph_clone(pruned, g));
    prune_zero_removed_inputs(*masked, d, removed);
    CHECK_OK(prune_rebuild(*pruned, d, removed));
    free(score);
    *removed_out = removed;
}

/* The rebuilt model's outputs equal the masked original's. */
static void check_equivalent(const shr_graph *masked, const shr_graph *pruned, const char *what) {
    const int n = 3;
    float *x = random_input(masked, n, 99);
    float a[3 * 16], b[3 * 16];
    int64_t k1 = run_graph(masked, x, n, a), k2 = run_graph(pruned, x, n, b);
    CHECK(k1 == k2 && k1 <= 16);
    double diff = max_rel_diff(a, b, n * k1);
    CHECK_MSG(diff < 1e-4, "%s: pruned and masked outputs differ by %g", what, diff);
    free(x);
}

static void test_residual_known_answer(void) {
    shr_graph *g = residual_graph();
    /* Make channels 1 and 3 the weakest in both coupled producers (stem and b): L1 importance. */
    float *ws = shr_f32(g->values[shr_graph_find_value(g, "stem.w")].data);
    float *wb = shr_f32(g->values[shr_graph_find_value(g, "b.w")].data);
    for (int c = 1; c < 4; c += 2) {
        for (int i = 0; i < 2 * 9; i++) ws[c * 18 + i] *= 0.01f;
        for (int i = 0; i < 4 * 9; i++) wb[c * 36 + i] *= 0.01f;
    }
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_CHANNEL;
    cfg.sparsity = 0.5f;
    prune_deps d;
    shr_graph *masked = NULL, *pruned = NULL;
    unsigned char *removed = NULL;
    prune_both(g, &cfg, &masked, &pruned, &removed, &d);
    /* Groups: {stem, b} through the add, {a}, and {fc} (fixed: the model output). */
    CHECK(d.n_groups == 3);
    int s = shr_graph_find_value(g, "stem.relu"), f = shr_graph_find_value(g, "b.bn");
    for (int p = 0; p < 4; p++) {
        CHECK(d.unit[s][p] == d.unit[f][p]);
        CHECK(removed[d.unit[s][p]] == (p % 2 == 1));
    }
    if (pruned) {
        const shr_graph *h = pruned;
        CHECK(h->values[shr_graph_find_value(h, "stem.w")].shape[0] == 2);
        CHECK(h->values[shr_graph_find_value(h, "a.w")].shape[0] == 2);
        CHECK(h->values[shr_graph_find_value(h, "a.w")].shape[1] == 2);
        CHECK(h->values[shr_graph_find_value(h, "b.w")].shape[1] == 2);
        CHECK(h->values[shr_graph_find_value(h, "fc.w")].shape[1] == 2);
        CHECK(h->values[shr_graph_find_value(h, "add")].shape[1] == 2);
        /* The kept stem filters are 0 and 2, in order. */
        const float *ns = shr_f32(h->values[shr_graph_find_value(h, "stem.w")].data);
        CHECK(ns[0] == ws[0] && ns[18] == ws[2 * 18]);
        check_equivalent(masked, pruned, "residual");
    }
    /* The public entry point does the same. */
    shr_graph *p2 = NULL;
    CHECK_OK(shr_graph_clone(&p2, g));
    CHECK_OK(shr_prune_structured(&p2, &cfg));
    if (p2 && pruned) CHECK(shr_graph_param_count(p2) == shr_graph_param_count(pruned));
    /* Excluding conv a keeps its 4 channels; the residual group is still halved. */
    const char *ex[1] = {"a"};
    cfg.exclude = ex;
    cfg.n_exclude = 1;
    shr_graph *p3 = NULL;
    CHECK_OK(shr_graph_clone(&p3, g));
    CHECK_OK(shr_prune_structured(&p3, &cfg));
    if (p3) {
        CHECK(p3->values[shr_graph_find_value(p3, "a.w")].shape[0] == 4);
        CHECK(p3->values[shr_graph_find_value(p3, "stem.w")].shape[0] == 2);
    }
    shr_graph_free(p3);
    shr_graph_free(p2);
    prune_deps_free(&d);
    free(removed);
    shr_graph_free(masked);
    shr_graph_free(pruned);
    shr_graph_free(g);
}

/* x -> conv a (3) and conv b (2) -> concat (5) -> dwconv 3x3 -> bn -> conv c (4) -> head. */
static void test_concat_and_depthwise(void) {
    shr_graph *g = NULL;
    int64_t in[3] = {1, 5, 5};
    int x;
    CHECK_OK(shr_graph_create(&g));
    CHECK_OK(shr_graph_add_input(g, "x", 3, in, &x));
    int a = add_conv(g, "a", x, 3, 1, 1), b = add_conv(g, "b", x, 2, 3, 1), cat, ab[2] = {a, b};
    shr_attrs ca = shr_attrs_default();
    CHECK_OK(shr_graph_add_node(g, "cat", SHR_OP_CONCAT, &ca, 2, ab, &cat));
    int y = add_bn(g, "dw.bn", add_conv(g, "dw", cat, 5, 3, 5));
    y = add_conv(g, "c", add_unary(g, "relu", SHR_OP_RELU, y), 4, 1, 1);
    add_head(g, y, 2);
    fill_random(g, 5, 0.7f);
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_CHANNEL;
    cfg.importance = SHR_IMPORTANCE_BN; /* a unit without a batchnorm (conv c) falls back to l2 */
    cfg.sparsity = 0.5f;
    prune_deps d;
    shr_graph *masked = NULL, *pruned = NULL;
    unsigned char *removed = NULL;
    prune_both(g, &cfg, &masked, &pruned, &removed, &d);
    CHECK(d.n_groups == 4); /* a, b, c, fc: the depthwise conv and the bn ride on a's and b's channels */
    if (pruned) {
        const shr_graph *h = pruned;
        /* a: floor(1.5) = 1 removed, b: 1, c: 2. */
        CHECK(h->values[shr_graph_find_value(h, "a.w")].shape[0] == 2);
        CHECK(h->values[shr_graph_find_value(h, "b.w")].shape[0] == 1);
        CHECK(h->values[shr_graph_find_value(h, "dw.w")].shape[0] == 3);
        CHECK(h->nodes[shr_graph_find_node(h, "dw")].attrs.groups == 3);
        CHECK(h->values[shr_graph_find_value(h, "dw.bn.gamma")].shape[0] == 3);
        CHECK(h->values[shr_graph_find_value(h, "c.w")].shape[1] == 3);
        CHECK(h->values[shr_graph_find_value(h, "c.w")].shape[0] == 2);
        check_equivalent(masked, pruned, "concat + depthwise");
    }
    /* BN importance: the removed channel of a is the one with the smallest |gamma|. */
    const float *gm = shr_f32(g->values[shr_graph_find_value(g, "dw.bn.gamma")].data);
    int weakest = 0;
    for (int c = 1; c < 3; c++)
        if (fabsf(gm[c]) < fabsf(gm[weakest])) weakest = c;
    for (int c = 0; c < 3; c++) CHECK(removed[d.unit[a][c]] == (c == weakest));
    prune_deps_free(&d);
    free(removed);
    shr_graph_free(masked);
    shr_graph_free(pruned);
    shr_graph_free(g);
}

/* Every zoo model, every structured method and importance: valid, smaller, equivalent. */
static void test_zoo_models(void) {
    const char *models[] = {"mlp", "lenet5", "cnn", "resnet8", "dwnet"};
    const shr_prune_method methods[] = {SHR_PRUNE_CHANNEL, SHR_PRUNE_NEURON};
    const shr_prune_importance imps[] = {SHR_IMPORTANCE_L1, SHR_IMPORTANCE_L2, SHR_IMPORTANCE_BN,
                                         SHR_IMPORTANCE_TAYLOR, SHR_IMPORTANCE_CONNECTIONS};
    shr_dataset *data = tiny_dataset(40, 1, 12, 12, 4, 3);
    for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_zoo_build(models[mi], 1, 12, 12, 4, 1 + mi, &g));
        if (!g) continue;
        fill_random(g, 20 + mi, 0.3f);
        for (size_t k = 0; k < 2; k++)
            for (size_t ii = 0; ii < sizeof imps / sizeof *imps; ii++) {
                shr_prune_config cfg = shr_prune_default();
                cfg.method = methods[k];
                cfg.importance = imps[ii];
                cfg.sparsity = 0.3f + 0.2f * (float)k;
                cfg.data = data;
                cfg.batch = 8;
                cfg.data_batches = 2;
                prune_deps d;
                shr_graph *masked = NULL, *pruned = NULL;
                unsigned char *removed = NULL;
                prune_both(g, &cfg, &masked, &pruned, &removed, &d);
                char what[96];
                snprintf(what, sizeof what, "%s %s %s", models[mi], shr_prune_method_name(cfg.method),
                         shr_prune_importance_name(cfg.importance));
                if (pruned) {
                    CHECK_MSG(shr_graph_param_count(pruned) < shr_graph_param_count(g), "%s did not shrink", what);
                    check_equivalent(masked, pruned, what);
                }
                prune_deps_free(&d);
                free(removed);
                shr_graph_free(masked);
                shr_graph_free(pruned);
            }
        shr_graph_free(g);
    }
    shr_dataset_free(data);
}

/* The cnn at channel 0.5 keeps 16/32/64 channels: params fall to about 28%. */
static void test_cnn_half(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("cnn", 1, 28, 28, 10, 1, &g));
    if (!g) return;
    int64_t before = shr_graph_param_count(g);
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_CHANNEL;
    cfg.sparsity = 0.5f;
    CHECK_OK(shr_prune_structured(&g, &cfg));
    int64_t after = shr_graph_param_count(g);
    CHECK_MSG(after * 100 <= before * 35, "params %lld of %lld", (long long)after, (long long)before);
    CHECK(g->values[shr_graph_find_value(g, "block3.conv.weight")].shape[0] == 64);
    shr_graph_free(g);
}

/* Layer pruning: resnet8's identity block (stage1) becomes identity; the masked
 * equivalent is the same block with its last batchnorm's output forced to 0. */
static void test_layer_pruning(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("resnet8", 1, 12, 12, 4, 2, &g));
    if (!g) return;
    fill_random(g, 8, 0.3f);
    shr_graph *masked = NULL, *pruned = NULL;
    CHECK_OK(shr_graph_clone(&masked, g));
    CHECK_OK(shr_graph_clone(&pruned, g));
    int gamma = -1, beta = -1;
    for (int v = 0; v < g->n_values; v++) {
        if (strncmp(g->values[v].name, "stage1.bn2.", 11) != 0 || g->values[v].kind != SHR_VALUE_PARAM) continue;
        if (gamma < 0) gamma = v;
        else beta = v;
    }
    CHECK(gamma >= 0 && beta >= 0);
    if (gamma >= 0 && beta >= 0) {
        memset(masked->values[gamma].data->data, 0, masked->values[gamma].data->nbytes);
        memset(masked->values[beta].data->data, 0, masked->values[beta].data->nbytes);
    }
    shr_prune_config cfg = shr_prune_default();
    cfg.method = SHR_PRUNE_LAYER;
    cfg.sparsity = 1.0f;
    CHECK_OK(shr_prune_structured(&pruned, &cfg));
    if (pruned) {
        CHECK(shr_graph_find_node(pruned, "stage1.conv1") < 0);
        CHECK(shr_graph_find_node(pruned, "stage1.add") < 0);
        CHECK(shr_graph_find_node(pruned, "stage2.conv1") >= 0);
        CHECK(pruned->n_nodes == g->n_nodes - 6);
        check_equivalent(masked, pruned, "resnet8 without stage1");
    }
    /* Sparsity 0.4 of one block rounds to none; with data the score path runs too. */
    shr_dataset *d = tiny_dataset(16, 1, 12, 12, 4, 1);
    cfg.sparsity = 0.4f;
    cfg.data = d;
    cfg.batch = 8;
    shr_graph *same = NULL;
    CHECK_OK(shr_graph_clone(&same, g));
    CHECK_OK(shr_prune_structured(&same, &cfg));
    if (same) CHECK(same->n_nodes == g->n_nodes);
    shr_dataset_free(d);
    shr_graph_free(same);
    shr_graph_free(masked);
    shr_graph_free(pruned);
    shr_graph_free(g);
}

/* Structured fine-tuning schedules end valid; iterative reaches about the target. */
static void test_structured_schedules(void) {
    shr_dataset *d = tiny_dataset(48, 1, 12, 12, 4, 2);
    const shr_prune_schedule_kind kinds[3] = {SHR_PRUNE_ONESHOT, SHR_PRUNE_ITERATIVE, SHR_PRUNE_GRADUAL};
    for (int i = 0; i < 3; i++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_zoo_build("lenet5", 1, 12, 12, 4, 1, &g));
        if (!g) continue;
        CHECK_OK(shr_dataset_default_preproc(d, &g->preproc));
        shr_prune_config cfg = shr_prune_default();
        cfg.method = SHR_PRUNE_NEURON;
        cfg.sparsity = 0.5f;
        shr_prune_schedule s = shr_prune_schedule_default();
        s.kind = kinds[i];
        shr_train_config tc = shr_train_default();
        tc.epochs = 3;
        tc.batch = 16;
        CHECK_OK(shr_prune_run(&g, &cfg, &s, d, NULL, &tc));
        if (g) {
            CHECK_OK(shr_graph_validate(g));
            int64_t units = g->values[shr_graph_find_value(g, "fc1.weight")].shape[0];
            CHECK_MSG(units >= 55 && units <= 65, "%s: fc1 has %lld of 120 units", shr_prune_schedule_name(kinds[i]),
                      (long long)units);
        }
        shr_graph_free(g);
    }
    shr_dataset_free(d);
}

int main(void) {
    RUN(test_residual_known_answer);
    RUN(test_concat_and_depthwise);
    RUN(test_zoo_models);
    RUN(test_cnn_half);
    RUN(test_layer_pruning);
    RUN(test_structured_schedules);
    return test_summary();
}
