/* End to end on real data: LeNet-300-100 trained briefly on a Fashion-MNIST
 * subset, magnitude-pruned to 50% with one fine-tune epoch, stays within 1.5
 * points of its accuracy; the pruned weights stay zero and the saved file
 * shrinks to about half. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shrink/prune.h"
#include "shrink/shrink.h"
#include "test.h"

static void test_mlp_magnitude_half(void) {
    shr_dataset *train = NULL, *test = NULL;
    shr_status st = shr_dataset_load("fashion-mnist", SHR_SPLIT_TRAIN, 12000, &train);
    CHECK_MSG(st == SHR_OK, "Fashion-MNIST is needed (Debian package dataset-fashion-mnist): %s", shr_last_error());
    if (st != SHR_OK) return;
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TEST, 2000, &test));
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("mlp", 1, 28, 28, 10, 1, &g));
    if (!g || !test) return;
    CHECK_OK(shr_dataset_default_preproc(train, &g->preproc));
    shr_train_config cfg = shr_train_default();
    cfg.epochs = 3;
    CHECK_OK(shr_train(g, train, NULL, &cfg, NULL));
    shr_eval_result dense, pruned;
    CHECK_OK(shr_evaluate(g, test, 256, &dense));

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

int main(void) {
    RUN(test_mlp_magnitude_half);
    return test_summary();
}
