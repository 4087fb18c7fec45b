/* End to end on real data: LeNet-300-100 on a Fashion-MNIST subset must learn
 * (accuracy threshold), and survive a save/load round trip unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shrink/shrink.h"
#include "test.h"

static void test_mlp_learns_fashion_mnist(void) {
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
    shr_train_result tr;
    CHECK_OK(shr_train(g, train, NULL, &cfg, &tr));
    shr_eval_result ev;
    CHECK_OK(shr_evaluate(g, test, 256, &ev));
    fprintf(stderr, "mlp, 12k samples, 3 epochs: test accuracy %.4f, %.0f samples/s\n", ev.accuracy, tr.samples_per_s);
    CHECK_MSG(ev.accuracy >= 0.83, "accuracy %.4f below 0.83", ev.accuracy);

    char path[512];
    const char *dir = getenv("SHR_TMPDIR");
    snprintf(path, sizeof path, "%s/e2e_mlp_%d.shrk", dir ? dir : "/tmp", (int)getpid());
    CHECK_OK(shr_model_save(g, path));
    shr_graph *h = NULL;
    CHECK_OK(shr_model_load(path, &h));
    if (h) {
        shr_eval_result ev2;
        CHECK_OK(shr_evaluate(h, test, 64, &ev2));
        CHECK(ev2.accuracy == ev.accuracy);
        CHECK(shr_graph_param_count(h) == 266610);
    }
    unlink(path);
    shr_graph_free(h);
    shr_graph_free(g);
    shr_dataset_free(train);
    shr_dataset_free(test);
}

int main(void) {
    RUN(test_mlp_learns_fashion_mnist);
    return test_summary();
}
