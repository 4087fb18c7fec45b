/* End to end on real data: LeNet-300-100 trained briefly on a Fashion-MNIST
 * subset, magnitude-pruned to 50% with one fine-tune epoch, stays within 1.5
 * points of its accuracy; the pruned weights stay zero and the saved file
 * shrinks to about half. Pruned to 90% in 8x1 blocks (gradually, 4 epochs), it
 * stays within 3.5 points, the runtime runs its first layer on the 8x1 kernel
 * and the sparse plan computes what the dense plan does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/plan_sparse.h"
#include "shrink/prune.h"
#include "shrink/shrink.h"
#include "test.h"

/* The mlp trained 3 epochs on the first 12000 training images, and the first 2000 test images
 * (NULL, with nothing left allocated, when the data or the model cannot be had). */
static shr_graph *trained_mlp(shr_dataset **train, shr_dataset **test, shr_eval_result *dense) {
    shr_status st = shr_dataset_load("fashion-mnist", SHR_SPLIT_TRAIN, 12000, train);
    CHECK_MSG(st == SHR_OK, "Fashion-MNIST is needed (Debian package dataset-fashion-mnist): %s", shr_last_error());
    if (st != SHR_OK) return NULL;
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TEST, 2000, test));
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 28, 28, 10, 1, &g));
    if (!g || !*test) { /* nothing to test with: the caller just returns */
        shr_graph_free(g);
        shr_dataset_free(*train);
        shr_dataset_free(*test);
        return NULL;
    }
    CHECK_OK(shr_dataset_default_preproc(*train, &g->preproc));
    shr_train_config cfg = shr_train_default();
    cfg.epochs = 3;
    CHECK_OK(shr_train(g, *train, NULL, &cfg, NULL));
    CHECK_OK(shr_evaluate(g, *test, 256, dense));
    return g;
}

static void test_mlp_magnitude_half(void) {
    shr_dataset *train = NULL, *test = NULL;
    shr_eval_result dense, pruned;
    shr_graph *g = trained_mlp(&train, &test, &dense);
    if (!g) return;

    char path[512];
    const char *dir = getenv("SHR_TMPDIR");
    snprintf(path, sizeof path, "%s/e2e_prune_%d.shrk", dir ? dir : "/tmp", (int)getpid());
    CHECK_OK(shr_model_save(g, path));
    FILE *f = fopen(path, "rb");
    long dense_bytes = -1, sparse_bytes = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) dense_bytes = ftell(f);
    if (f) fclose(f);

    shr_prune_config pc = shr_prune_default();
    pc.method = SHR_PRUNE_MAGNITUDE;
    pc.sparsity = 0.5f;
    shr_train_config ft = shr_train_default();
    ft.epochs = 1;
    ft.optim.lr = 0.0005f;
    CHECK_OK(shr_prune_run(&g, &pc, NULL, train, NULL, &ft));
    CHECK_OK(shr_evaluate(g, test, 256, &pruned));
    double sp = shr_prune_weight_sparsity(g);
    fprintf(stderr, "mlp 3 epochs: accuracy %.4f; magnitude 50%% + 1 epoch: %.4f (weight sparsity %.4f)\n",
            dense.accuracy, pruned.accuracy, sp);
    CHECK_NEAR(sp, 0.5, 1e-3);
    CHECK_MSG(pruned.accuracy >= dense.accuracy - 0.015, "accuracy %.4f -> %.4f: more than 1.5 points lost",
              dense.accuracy, pruned.accuracy);

    CHECK_OK(shr_model_save(g, path));
    f = fopen(path, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0) sparse_bytes = ftell(f);
    if (f) fclose(f);
    fprintf(stderr, "file %ld -> %ld bytes\n", dense_bytes, sparse_bytes);
    CHECK_MSG(sparse_bytes > 0 && sparse_bytes * 100 < dense_bytes * 56, "file %ld -> %ld bytes", dense_bytes,
              sparse_bytes);
    shr_graph *h = NULL;
    CHECK_OK(shr_model_load(path, &h));
    if (h) {
        shr_eval_result again;
        CHECK_OK(shr_evaluate(h, test, 256, &again));
        CHECK(again.accuracy == pruned.accuracy);
    }
    unlink(path);
    shr_graph_free(h);
    shr_graph_free(g);
    shr_dataset_free(train);
    shr_dataset_free(test);
}

/* Runs n test inputs through g's plan into y (n x 10). */
static void plan_outputs(const shr_graph *g, const shr_dataset *test, int n, float *y) {
    float *x = malloc((size_t)n * 784 * sizeof(float));
    int64_t idx[64];
    shr_plan *p = NULL;
    const float *out = NULL;
    for (int i = 0; i < n && i < 64; i++) idx[i] = i;
    shr_batch_fill(test, idx, n < 64 ? n : 64, &g->preproc, NULL, NULL, x, NULL);
    CHECK_OK(shr_plan_create(g, n, &p));
    if (p) CHECK_OK(shr_plan_run(p, x, n, &out));
    if (out) memcpy(y, out, (size_t)n * 10 * sizeof(float));
    shr_plan_free(p);
    free(x);
}

static void test_mlp_blocks(void) {
    shr_dataset *train = NULL, *test = NULL;
    shr_eval_result dense, pruned;
    shr_graph *g = trained_mlp(&train, &test, &dense);
    if (!g) return;
    shr_prune_config pc = shr_prune_default();
    pc.method = SHR_PRUNE_GLOBAL;
    pc.sparsity = 0.9f;
    pc.block_rows = 8;
    pc.block_cols = 1;
    shr_prune_schedule sched = shr_prune_schedule_default();
    sched.kind = SHR_PRUNE_GRADUAL;
    shr_train_config ft = shr_train_default();
    ft.epochs = 4;
    CHECK_OK(shr_prune_run(&g, &pc, &sched, train, NULL, &ft));
    CHECK_OK(shr_evaluate(g, test, 256, &pruned));
    fprintf(stderr, "mlp 3 epochs: accuracy %.4f; global 90%% in 8x1 blocks, gradual 4 epochs: %.4f\n",
            dense.accuracy, pruned.accuracy);
    CHECK_MSG(pruned.accuracy >= dense.accuracy - 0.035, "accuracy %.4f -> %.4f: more than 3.5 points lost",
              dense.accuracy, pruned.accuracy);
    CHECK(shr_graph_nonzero_count(g) <= shr_graph_param_count(g) / 10);
    unsigned char skip[16] = {0};
    shr_plan_sparse *s = NULL;
    CHECK(g->n_nodes <= 16);
    CHECK_OK(shr_plan_sparse_compile(g, skip, &s));
    CHECK_MSG(shr_plan_sparse_format(s, 1) == SHR_SP_8X1 && shr_plan_sparse_use(s, 1, 1), "fc1 runs %s",
              shr_sp_format_name(shr_plan_sparse_format(s, 1)));
    shr_plan_sparse_free(s);
    float ys[64 * 10], yd[64 * 10];
    plan_outputs(g, test, 64, ys);
    setenv("SHRINK_SPARSE", "off", 1);
    plan_outputs(g, test, 64, yd);
    unsetenv("SHRINK_SPARSE");
    double md = 0;
    for (int i = 0; i < 640; i++) md = fmax(md, fabs((double)ys[i] - yd[i]) / (1.0 + fabs((double)yd[i])));
    CHECK_MSG(md < 1e-4, "sparse and dense plans differ by %g", md);
    shr_graph_free(g);
    shr_dataset_free(train);
    shr_dataset_free(test);
}

int main(void) {
    RUN(test_mlp_magnitude_half);
    RUN(test_mlp_blocks);
    return test_summary();
}
