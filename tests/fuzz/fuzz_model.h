/* Shared by the fuzz targets that end with a model (fuzz_shrk, fuzz_graph,
 * fuzz_arch): compile it at batch 2 and run it on a batch of 1 and of 2.
 * A model that legitimately needs a lot of memory or compute is not run
 * (slow is not wrong); the limits below are the harness's, not the library's. */
#ifndef SHR_FUZZ_MODEL_H
#define SHR_FUZZ_MODEL_H

#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "shrink/graph.h"
#include "shrink/runtime.h"

#define FUZZ_MAX_ACT_FLOATS (1 << 22) /* per sample, all activations together */
#define FUZZ_MAX_WORK (100 * 1000 * 1000LL) /* rough inner-loop steps per sample */

static inline int64_t fuzz_sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
static inline int64_t fuzz_sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
static inline int64_t fuzz_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* Per-sample elements of an INPUT/ACT value (saturating). */
static inline int64_t fuzz_sample_numel(const shr_value *v) {
    int64_t n = 1;
    for (int d = 1; d < v->ndim; d++) n = fuzz_sat_mul(n, v->shape[d] < 0 ? 0 : v->shape[d]);
    return n;
}

/* Activation floats and a rough count of inner-loop steps per sample. This is
 * the harness's own estimate: shr_graph_flops counts whole pooling windows,
 * while the kernels clip windows to the input, so it would hide exactly the
 * huge-window pools worth running. */
static inline int fuzz_model_is_small(const shr_graph *g) {
    int64_t act = 0, work = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == SHR_VALUE_INPUT || g->values[i].kind == SHR_VALUE_ACT)
            act = fuzz_sat_add(act, fuzz_sample_numel(&g->values[i]));
    for (int k = 0; k < g->n_nodes; k++) {
        const shr_node *n = &g->nodes[k];
        const shr_value *x = &g->values[n->inputs[0]], *o = &g->values[n->output];
        const shr_value *w = n->n_inputs > 1 && n->inputs[1] >= 0 ? &g->values[n->inputs[1]] : NULL;
        int64_t out = fuzz_sample_numel(o), per = 1;
        if ((n->op == SHR_OP_LINEAR || n->op == SHR_OP_CONV2D) && w && w->ndim >= 1 && w->shape[0] > 0) {
            per = 1;
            for (int d = 1; d < w->ndim; d++) per = fuzz_sat_mul(per, w->shape[d]);
        } else if ((n->op == SHR_OP_MAXPOOL2D || n->op == SHR_OP_AVGPOOL2D) && x->ndim == 4) {
            per = fuzz_sat_mul(fuzz_min(n->attrs.kernel[0], x->shape[2]), fuzz_min(n->attrs.kernel[1], x->shape[3]));
        }
        work = fuzz_sat_add(work, fuzz_sat_add(fuzz_sat_mul(out, per), fuzz_sample_numel(x)));
    }
    return act <= FUZZ_MAX_ACT_FLOATS && work <= FUZZ_MAX_WORK;
}

static inline void fuzz_run_model(const shr_graph *g) {
    (void)shr_graph_flops(g); /* counts must not overflow on any loaded graph */
    if (!fuzz_model_is_small(g)) return;
    const shr_value *in = &g->values[g->input];
    int64_t per = fuzz_sample_numel(in);
    shr_plan *p = NULL;
    shr_clear_error();
    shr_status st = shr_plan_create(g, 2, &p);
    fuzz_check_status(st);
    if (st != SHR_OK) return;
    float *x = malloc((size_t)(2 * per) * sizeof *x);
    FUZZ_REQUIRE(x != NULL);
    for (int64_t i = 0; i < 2 * per; i++) x[i] = (float)(i % 5) - 2.0f;
    for (int n = 1; n <= 2; n++) { /* a partial batch, then a full one */
        const float *y = NULL;
        st = shr_plan_run(p, x, n, &y);
        fuzz_check_status(st);
        if (st != SHR_OK) break;
        /* Read every output so ASan sees reads past the arena. */
        volatile float sink = 0.0f;
        int64_t outs = shr_plan_output_size(p);
        FUZZ_REQUIRE(outs == fuzz_sample_numel(&g->values[g->output]));
        for (int64_t i = 0; i < n * outs; i++) sink += y[i];
        (void)sink;
    }
    free(x);
    shr_plan_free(p);
}

#endif
