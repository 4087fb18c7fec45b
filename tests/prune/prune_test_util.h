/* Shared by the pruning tests: filling weights, running a graph through the
 * runtime, tiny in-memory datasets. */
#ifndef SHR_TEST_PRUNE_UTIL_H
#define SHR_TEST_PRUNE_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shrink/shrink.h"
#include "shrink/prune.h"
#include "test.h"

/* Every param and buffer of g from a seeded stream: weights N(0, scale), BN
 * variances in [0.5, 1.5) so they stay positive. */
static inline void fill_random(shr_graph *g, uint64_t seed, float scale) {
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int v = 0; v < g->n_values; v++) {
        shr_tensor *t = g->values[v].data;
        if (!t) continue;
        int is_var = strstr(g->values[v].name, "var") != NULL;
        for (int64_t i = 0; i < t->numel; i++)
            shr_f32(t)[i] = is_var ? 0.5f + shr_rng_uniform(&r) : scale * shr_rng_normal(&r);
    }
}

/* Runs n samples of x through g (eval mode) into out (n x outputs); returns outputs per sample. */
static inline int64_t run_graph(const shr_graph *g, const float *x, int n, float *out) {
    shr_plan *p = NULL;
    const float *y = NULL;
    CHECK_OK(shr_plan_create(g, n, &p));
    if (!p) return 0;
    CHECK_OK(shr_plan_run(p, x, n, &y));
    int64_t k = shr_plan_output_size(p);
    if (y) memcpy(out, y, (size_t)(n * k) * sizeof(float));
    shr_plan_free(p);
    return k;
}

static inline float *random_input(const shr_graph *g, int n, uint64_t seed) {
    const shr_value *in = &g->values[g->input];
    int64_t per = 1;
    for (int d = 1; d < in->ndim; d++) per *= in->shape[d];
    float *x = malloc((size_t)(n * per) * sizeof(float));
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int64_t i = 0; x && i < n * per; i++) x[i] = shr_rng_normal(&r);
    return x;
}

/* Largest |a - b| relative to the largest |a| over n values. */
static inline double max_rel_diff(const float *a, const float *b, int64_t n) {
    double md = 0, ma = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > md) md = d;
        if (fabs(a[i]) > ma) ma = fabs(a[i]);
    }
    return md / ma;
}

/* A learnable in-memory dataset: class = argmax of a fixed random projection of x. */
static inline shr_dataset *tiny_dataset(int n, int c, int h, int w, int classes, uint64_t seed) {
    int64_t per = (int64_t)c * h * w;
    float *x = malloc((size_t)(n * per) * sizeof(float)), *proj = malloc((size_t)(classes * per) * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    shr_rng r;
    shr_rng_seed(&r, seed);
    for (int64_t i = 0; i < classes * per; i++) proj[i] = shr_rng_normal(&r);
    for (int i = 0; i < n; i++) {
        float best = -1e30f;
        for (int64_t j = 0; j < per; j++) x[i * per + j] = 128.0f + 60.0f * shr_rng_normal(&r);
        for (int k = 0; k < classes; k++) {
            float s = 0;
            for (int64_t j = 0; j < per; j++) s += proj[k * per + j] * (x[i * per + j] - 128.0f);
            if (s > best) {
                best = s;
                y[i] = k;
            }
        }
    }
    y[0] = classes - 1; /* every class index appears at least as a maximum */
    shr_dataset *d = NULL;
    CHECK_OK(shr_dataset_from_arrays(n, c, h, w, x, y, &d));
    free(x);
    free(proj);
    free(y);
    return d;
}

#endif
