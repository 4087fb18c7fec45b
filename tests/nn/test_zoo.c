/* Zoo models: parameter counts, validity, and a finite forward pass. */
#include <math.h>
#include <string.h>

#include "nn/builder.h"
#include "shrink/shrink.h"
#include "test.h"

static int64_t count(const char *arch) {
    shr_graph *g = NULL;
    if (shr_zoo_build(arch, 1, 28, 28, 10, 1, &g) != SHR_OK) return -1;
    int64_t n = shr_graph_param_count(g);
    shr_graph_free(g);
    return n;
}

static void test_param_counts(void) {
    CHECK(count("mlp") == 266610);  /* LeNet-300-100 */
    CHECK(count("lenet5") == 61706); /* classic LeNet-5 with padding on conv1 */
    int64_t cnn = count("cnn");
    CHECK(cnn == 104426);
    CHECK(count("mlp-small") == 50890); /* 784*64+64 + 64*10+10 */
    /* 8*9 + 2*8 + 16*8*9 + 2*16 + 32*16*9 + 2*32 + 288*10+10: at most 10 % of cnn */
    CHECK(count("cnn-tiny") == 8834);
    CHECK(count("cnn-tiny") * 10 <= cnn);
    CHECK(count("resnet8") > 0);
    CHECK(count("dwnet") > 0);
}

static void test_every_model_runs(void) {
    const char *names[] = {"mlp", "mlp-small", "lenet5", "cnn", "cnn-tiny", "resnet8", "dwnet"};
    for (int i = 0; i < 7; i++) {
        shr_graph *g = NULL;
        CHECK_OK(shr_zoo_build(names[i], 1, 28, 28, 10, 3, &g));
        if (!g) continue;
        CHECK_OK(shr_graph_validate(g));
        CHECK(g->arch && strcmp(g->arch, names[i]) == 0);
        CHECK(shr_graph_flops(g) > 0);
        shr_plan *p = NULL;
        CHECK_OK(shr_plan_create(g, 3, &p));
        float x[3 * 784];
        shr_rng r;
        shr_rng_seed(&r, 5);
        for (int j = 0; j < 3 * 784; j++) x[j] = shr_rng_normal(&r);
        const float *y = NULL;
        CHECK_OK(shr_plan_run(p, x, 3, &y));
        CHECK(shr_plan_output_size(p) == 10);
        int finite = 1;
        for (int j = 0; y && j < 30; j++) finite &= isfinite(y[j]) != 0;
        CHECK_MSG(finite, "%s output not finite", names[i]);
        shr_plan_free(p);
        shr_graph_free(g);
    }
}

static void test_other_shapes_and_errors(void) {
    shr_graph *g = NULL;
    CHECK_OK(shr_zoo_build("resnet8", 3, 32, 32, 100, 1, &g));
    if (g) CHECK(g->values[g->output].shape[1] == 100);
    shr_graph_free(g);
    g = NULL;
    CHECK_STATUS(shr_zoo_build("resnet9000", 1, 28, 28, 10, 1, &g), SHR_ERR_INVALID_ARG);
    CHECK(strstr(shr_last_error(), "resnet9000") != NULL);
    CHECK_STATUS(shr_zoo_build("mlp", 0, 28, 28, 10, 1, &g), SHR_ERR_INVALID_ARG);
    /* lenet5 cannot shrink a 4x4 input through two pools and a 5x5 conv. */
    CHECK(shr_zoo_build("lenet5", 1, 4, 4, 10, 1, &g) != SHR_OK);
}

static void test_same_seed_same_weights(void) {
    shr_graph *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(shr_zoo_build("cnn", 1, 28, 28, 10, 42, &a));
    CHECK_OK(shr_zoo_build("cnn", 1, 28, 28, 10, 42, &b));
    CHECK_OK(shr_zoo_build("cnn", 1, 28, 28, 10, 43, &c));
    if (a && b && c) {
        int same = 1, differ = 0;
        for (int v = 0; v < a->n_values; v++) {
            if (!a->values[v].data) continue;
            same &= memcmp(a->values[v].data->data, b->values[v].data->data, a->values[v].data->nbytes) == 0;
            differ |= memcmp(a->values[v].data->data, c->values[v].data->data, a->values[v].data->nbytes) != 0;
        }
        CHECK(same);
        CHECK(differ);
    }
    shr_graph_free(a);
    shr_graph_free(b);
    shr_graph_free(c);
}

int main(void) {
    RUN(test_param_counts);
    RUN(test_every_model_runs);
    RUN(test_other_shapes_and_errors);
    RUN(test_same_seed_same_weights);
    return test_summary();
}
