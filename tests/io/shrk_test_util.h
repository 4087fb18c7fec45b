/* Shared by the .shrk tests: the parameters of the tiny conv -> batchnorm -> ...
 * -> linear models they save and load, a scratch folder, and the op link check. */
#ifndef SHR_TEST_SHRK_UTIL_H
#define SHR_TEST_SHRK_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "shrink/graph.h"
#include "test.h"

/* Value indices, in the order they are added (consecutive, x first). */
typedef struct tiny_params {
    int x, conv_w, conv_b, gamma, beta, mean, var, fc_w, fc_b;
} tiny_params;

/* Input x of sample shape in_shape (C, H, W); conv weight (oc, C, k, k) and bias
 * (oc); batchnorm gamma, beta, running mean and var (oc); linear weight
 * (fc_out, fc_in) and bias (fc_out). The caller fills the data and adds the nodes. */
static inline void add_tiny_params(shr_graph *g, const int64_t in_shape[3], int64_t oc, int64_t k, int64_t fc_in,
                                   int64_t fc_out, tiny_params *p) {
    const int64_t wshape[4] = {oc, in_shape[0], k, k}, cs[1] = {oc}, lwshape[2] = {fc_out, fc_in}, os[1] = {fc_out};
    CHECK_OK(shr_graph_add_input(g, "x", 3, in_shape, &p->x));
    CHECK_OK(shr_graph_add_tensor(g, "conv.w", SHR_VALUE_PARAM, 4, wshape, &p->conv_w));
    CHECK_OK(shr_graph_add_tensor(g, "conv.b", SHR_VALUE_PARAM, 1, cs, &p->conv_b));
    CHECK_OK(shr_graph_add_tensor(g, "bn.gamma", SHR_VALUE_PARAM, 1, cs, &p->gamma));
    CHECK_OK(shr_graph_add_tensor(g, "bn.beta", SHR_VALUE_PARAM, 1, cs, &p->beta));
    CHECK_OK(shr_graph_add_tensor(g, "bn.mean", SHR_VALUE_BUFFER, 1, cs, &p->mean));
    CHECK_OK(shr_graph_add_tensor(g, "bn.var", SHR_VALUE_BUFFER, 1, cs, &p->var));
    CHECK_OK(shr_graph_add_tensor(g, "fc.w", SHR_VALUE_PARAM, 2, lwshape, &p->fc_w));
    CHECK_OK(shr_graph_add_tensor(g, "fc.b", SHR_VALUE_PARAM, 1, os, &p->fc_b));
}

/* A fresh folder $SHR_TMPDIR/<tag>_XXXXXX (/tmp without SHR_TMPDIR) in buf; NULL on failure. */
static inline char *shrk_test_mkdtemp(char *buf, size_t n, const char *tag) {
    const char *base = getenv("SHR_TMPDIR");
    snprintf(buf, n, "%s/%s_XXXXXX", base ? base : "/tmp", tag);
    char *d = mkdtemp(buf);
    if (!d) fprintf(stderr, "mkdtemp(%s): %s\n", buf, strerror(errno));
    return d;
}

/* op_registry.c refers to the ops weakly while they land, and a weak reference
 * does not pull an object out of the static library: a test names the ones its
 * models use in an array and checks them here (which also keeps the array). */
static inline int ops_linked(const shr_op_def *const *ops, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!ops[i]->infer) return 0;
    return 1;
}

#endif
