/* End to end on real data: LeNet-5 trained briefly on a Fashion-MNIST subset, then quantized
 * every post-training way; each result must stay within a stated accuracy bound of the float
 * model on 2000 test images (one image = 0.05 pt). */
#include <stdio.h>

#include "shrink/shrink.h"
#include "shrink/quant.h"
#include "test.h"

static void check(const shr_graph *g, const shr_dataset *train, const shr_dataset *test, shr_quant_config c,
                  double base, double bound_pt, const char *what) {
    shr_graph *q = NULL;
    shr_quant_report rep;
    CHECK_OK(shr_quantize(g, train, &c, &q, &rep));
    if (!q) return;
    shr_eval_result ev;
    CHECK_OK(shr_evaluate(q, test, 256, &ev));
    double drop = 100.0 * (base - ev.accuracy);
    fprintf(stderr, "  %-34s accuracy %.4f (drop %+.2f pt, bound %.2f)\n", what, ev.accuracy, drop, bound_pt);
    CHECK_MSG(drop <= bound_pt, "%s: drop %.2f pt > %.2f", what, drop, bound_pt);
    shr_graph_free(q);
}

static void test_ptq_lenet5(void) {
    shr_dataset *train = NULL, *test = NULL;
    shr_status st = shr_dataset_load("fashion-mnist", SHR_SPLIT_TRAIN, 10000, &train);
    CHECK_MSG(st == SHR_OK, "Fashion-MNIST is needed (Debian package dataset-fashion-mnist): %s", shr_last_error());
    if (st != SHR_OK) return;
    CHECK_OK(shr_dataset_load("fashion-mnist", SHR_SPLIT_TEST, 2000, &test));
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("lenet5", 1, 28, 28, 10, 1, &g));
    if (!g || !test) return;
    CHECK_OK(shr_dataset_default_preproc(train, &g->preproc));
    shr_train_config tc = shr_train_default();
    tc.epochs = 2;
    shr_train_result tr;
    CHECK_OK(shr_train(g, train, NULL, &tc, &tr));
    shr_eval_result ev;
    CHECK_OK(shr_evaluate(g, test, 256, &ev));
    fprintf(stderr, "lenet5, 10k samples, 2 epochs: f32 accuracy %.4f\n", ev.accuracy);
    CHECK(ev.accuracy >= 0.78);
    shr_quant_config c = shr_quant_default();
    c.calib_samples = 500;
    const shr_calib_method ms[5] = {SHR_CALIB_MINMAX, SHR_CALIB_EMA, SHR_CALIB_PERCENTILE, SHR_CALIB_ENTROPY,
                                    SHR_CALIB_MSE};
    for (int i = 0; i < 5; i++) {
        c.calib = ms[i];
        char what[64];
        snprintf(what, sizeof what, "static int8 per-channel %s", shr_calib_name(ms[i]));
        check(g, train, test, c, ev.accuracy, 1.0, what);
    }
    c.calib = SHR_CALIB_MINMAX;
    c.per_channel = 0;
    check(g, train, test, c, ev.accuracy, 1.5, "static int8 per-tensor minmax");
    c = shr_quant_default();
    c.bits = 16;
    check(g, train, test, c, ev.accuracy, 0.2, "static int16");
    c = shr_quant_default();
    c.mode = SHR_QUANT_DYNAMIC;
    check(g, train, test, c, ev.accuracy, 0.5, "dynamic int8");
    c.mode = SHR_QUANT_WEIGHT_ONLY;
    check(g, train, test, c, ev.accuracy, 0.5, "weight-only int8");
    c.bits = 4;
    check(g, train, test, c, ev.accuracy, 2.0, "weight-only int4 g32");
    shr_graph_free(g);
    shr_dataset_free(train);
    shr_dataset_free(test);
}

int main(void) {
    RUN(test_ptq_lenet5);
    return test_summary();
}
