/* The --arch-file parser: valid specs (incl. residual add and concat) and hostile text. */
#include <string.h>

#include "shrink/shrink.h"
#include "test.h"

static shr_status parse(const char *text, shr_graph **g) { return shr_arch_parse(text, 1, 28, 28, 10, 1, g); }

static void test_valid_specs(void) {
    shr_graph *g = NULL;
    CHECK_OK(parse("# LeNet-300-100\nflatten\nlinear 300\nrelu\nlinear 100\nrelu\nlinear 10\n", &g));
    if (g) {
        CHECK(shr_graph_param_count(g) == 266610);
        CHECK_OK(shr_graph_validate(g));
    }
    shr_graph_free(g);
    g = NULL;
    const char *res = "stem: conv 8 k=3 bias=0\n"
                      "bn\nrelu\n"
                      "a: conv 8 k=3 p=1\n"
                      "bn\n"
                      "sum: add stem\n"
                      "relu\n"
                      "dwconv k=3 s=2\n"
                      "b: conv 4 k=1\n"
                      "c: conv 4 k=1 in=b\n"
                      "concat b\n"
                      "leaky_relu alpha=0.2\n"
                      "maxpool k=2\n"
                      "gap\nflatten\ndropout p=0.25\nlinear 10   # logits\n";
    CHECK_OK(parse(res, &g));
    if (g) {
        CHECK_OK(shr_graph_validate(g));
        int add = shr_graph_find_node(g, "sum");
        CHECK(add >= 0 && g->nodes[add].op == SHR_OP_ADD);
        int cat = -1;
        for (int k = 0; k < g->n_nodes; k++)
            if (g->nodes[k].op == SHR_OP_CONCAT) cat = k;
        CHECK(cat >= 0 && g->values[g->nodes[cat].output].shape[1] == 8);
        CHECK(g->arch && strstr(g->arch, "stem:") != NULL);
    }
    shr_graph_free(g);
}

static void expect_error(const char *text, const char *needle) {
    shr_graph *g = NULL;
    shr_status st = parse(text, &g);
    CHECK_MSG(st != SHR_OK, "accepted: %s", text);
    CHECK(g == NULL);
    CHECK_MSG(strstr(shr_last_error(), needle) != NULL, "message '%s' lacks '%s'", shr_last_error(), needle);
    if (st == SHR_OK) shr_graph_free(g);
}

static void test_errors(void) {
    expect_error("", "no layers");
    expect_error("# only a comment\n\n", "no layers");
    expect_error("flatten\nlinear 300\nwobble\nlinear 10\n", "line 3");
    expect_error("flatten\nlinear abc\n", "line 2");
    expect_error("flatten\nlinear 0\n", "line 2");
    expect_error("flatten\nlinear 99999999999\n", "line 2");
    expect_error("conv 8 k=0\n", "line 1");
    expect_error("flatten\nlinear 12\n", "10 values");
    expect_error("linear 10\n", "flatten");
    expect_error("a: flatten\na: linear 10\n", "duplicate label");
    expect_error("flatten\nadd nowhere\n", "unknown label");
    expect_error("conv 8 in=ghost\n", "unknown label");
    expect_error("conv 6 g=4\n", "groups");
    expect_error("bad!: flatten\n", "bad label");
    expect_error("conv 8 k=3 s=99\n", "line 1");
    expect_error("conv 4 kernel=5\nflatten\nlinear 10\n", "unknown option 'kernel=5'");
    expect_error("flatten\nlinear 10 20\n", "unexpected word '20'");
    expect_error("flatten\nrelu now\nlinear 10\n", "line 2: unexpected word");
    expect_error("conv 8\nlinear 10\n", "line 2: layer");
    char longline[3000];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    expect_error(longline, "too long");
}

/* Weights are sized by a few bytes of text: the parser refuses networks past
 * 2^28 parameter and buffer elements (1 GiB of f32) before allocating them. */
static void test_parameter_limit(void) {
    shr_graph *g = NULL;
    /* 784 x 2^20 = 2^29.6 weights in one layer, then 4 TB in two. */
    CHECK_STATUS(parse("flatten\nlinear 1048576\nlinear 10\n", &g), SHR_ERR_LIMIT);
    CHECK(g == NULL && strstr(shr_last_error(), "line 2") && strstr(shr_last_error(), "parameters"));
    CHECK_STATUS(parse("flatten\nlinear 4\nlinear 1048576\nlinear 1048576\nlinear 10\n", &g), SHR_ERR_LIMIT);
    CHECK(g == NULL && strstr(shr_last_error(), "line 4"));
    CHECK_STATUS(parse("conv 65536 k=64\ngap\nflatten\nlinear 10\n", &g), SHR_ERR_LIMIT); /* 2^28 + bias */
    CHECK_STATUS(parse("a: conv 65536 k=1\nconcat a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a\n"
                       "b: bn\ndwconv k=64\ngap\nflatten\nlinear 10\n",
                       &g),
                 SHR_ERR_LIMIT); /* 2^21 channels: bn fits, the depthwise 64x64 kernels do not */
    CHECK(g == NULL && strstr(shr_last_error(), "line 4"));
    /* The same limit guards every tensor added to a graph. */
    CHECK_OK(shr_graph_create(&g));
    const int64_t huge[2] = {1 << 15, (1 << 13) + 1};
    int v = -1;
    CHECK_STATUS(shr_graph_add_tensor(g, "w", SHR_VALUE_PARAM, 2, huge, &v), SHR_ERR_LIMIT);
    CHECK(v == -1 && g->n_values == 0);
    shr_graph_free(g);
}

static void test_random_bytes_do_not_crash(void) {
    shr_rng r;
    shr_rng_seed(&r, 11);
    const char alphabet[] = "convlinearbnrelupoolgapflattenadd:=0123456789 k=s=p=\n#-";
    for (int trial = 0; trial < 300; trial++) {
        char text[200];
        int n = (int)shr_rng_below(&r, sizeof text - 1);
        for (int i = 0; i < n; i++) text[i] = alphabet[shr_rng_below(&r, sizeof alphabet - 1)];
        text[n] = '\0';
        shr_graph *g = NULL;
        if (parse(text, &g) == SHR_OK) {
            CHECK_OK(shr_graph_validate(g));
            shr_graph_free(g);
        } else {
            CHECK(shr_last_error()[0] != '\0');
        }
    }
}

int main(void) {
    RUN(test_valid_specs);
    RUN(test_errors);
    RUN(test_parameter_limit);
    RUN(test_random_bytes_do_not_crash);
    return test_summary();
}
