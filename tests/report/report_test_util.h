/* Shared by the report tests: a tiny hand-built model with known sizes and
 * FLOPs, and a scratch path.
 *   x (1,4,4) -> conv 2x1x3x3 pad 1 (+bias 2) -> relu -> flatten -> linear 3x32 (+bias 3)
 * Dense FLOPs: conv 2*OC*P*K = 2*2*16*9 = 576, linear 2*3*32 = 192.
 * Params 18 + 2 + 96 + 3 = 119. Weights are filled with non-zero values. */
#ifndef SHR_TEST_REPORT_UTIL_H
#define SHR_TEST_REPORT_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "nn/op.h"
#include "shrink/graph.h"
#include "test.h"

enum { TINY_CONV_FLOPS = 576, TINY_FC_FLOPS = 192, TINY_PARAMS = 119 };

typedef struct tiny_model {
    int conv_w, conv_b, fc_w, fc_b, conv, relu, flat, fc; /* value / node indices */
} tiny_model;

/* The ops these models use, named so that the linker keeps them. */
static inline int tiny_ops_linked(void) {
    static const shr_op_def *const ops[] = {&shr_op_conv2d, &shr_op_relu, &shr_op_flatten, &shr_op_linear};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!ops[i]->infer) return 0;
    return 1;
}

static inline shr_graph *tiny_build(tiny_model *t, float scale) {
    shr_graph *g = NULL;
    CHECK_OK(shr_graph_create(&g));
    if (!g) return NULL;
    const int64_t in[3] = {1, 4, 4}, cw[4] = {2, 1, 3, 3}, cb[1] = {2}, fw[2] = {3, 32}, fb[1] = {3};
    int x, a;
    CHECK_OK(shr_graph_add_input(g, "x", 3, in, &x));
    CHECK_OK(shr_graph_add_tensor(g, "conv.w", SHR_VALUE_PARAM, 4, cw, &t->conv_w));
    CHECK_OK(shr_graph_add_tensor(g, "conv.b", SHR_VALUE_PARAM, 1, cb, &t->conv_b));
    CHECK_OK(shr_graph_add_tensor(g, "fc.w", SHR_VALUE_PARAM, 2, fw, &t->fc_w));
    CHECK_OK(shr_graph_add_tensor(g, "fc.b", SHR_VALUE_PARAM, 1, fb, &t->fc_b));
    shr_attrs conv = shr_attrs_default();
    conv.kernel[0] = conv.kernel[1] = 3;
    conv.pad[0] = conv.pad[1] = conv.pad[2] = conv.pad[3] = 1;
    shr_attrs none = shr_attrs_default();
    int ci[3] = {x, t->conv_w, t->conv_b};
    CHECK_OK(shr_graph_add_node(g, "conv", SHR_OP_CONV2D, &conv, 3, ci, &a));
    CHECK_OK(shr_graph_add_node(g, "relu", SHR_OP_RELU, &none, 1, &a, &a));
    CHECK_OK(shr_graph_add_node(g, "flat", SHR_OP_FLATTEN, &none, 1, &a, &a));
    int fi[3] = {a, t->fc_w, t->fc_b};
    CHECK_OK(shr_graph_add_node(g, "fc", SHR_OP_LINEAR, &none, 3, fi, &a));
    t->conv = 0, t->relu = 1, t->flat = 2, t->fc = 3;
    int vals[4] = {t->conv_w, t->conv_b, t->fc_w, t->fc_b};
    for (int k = 0; k < 4; k++) {
        shr_tensor *d = g->values[vals[k]].data;
        for (int64_t i = 0; i < d->numel; i++) shr_f32(d)[i] = scale * (float)((i % 7) - 3.5) / 7.0f;
    }
    return g;
}

static inline const char *test_tmpdir(void) {
    const char *d = getenv("SHR_TMPDIR");
    return d ? d : "/tmp";
}

#endif
