/* shrink compare: how far each model's outputs moved from the reference's.
 * Quantization and pruning both perturb the logits; the SQNR of the logits
 * and the top-1 agreement say by how much, sample by sample, where accuracy
 * alone can hide errors that cancel out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/exec.h"
#include "shrink/report.h"
#include "shrink/runtime.h"

enum { OUT_BATCH = 64 };

static int argmax(const float *v, int64_t n) {
    int best = 0;
    for (int64_t j = 1; j < n; j++)
        if (v[j] > v[best]) best = (int)j;
    return best;
}

/* Logits of g on samples [0, n) of test, n x per floats into *out. */
static shr_status logits(const shr_graph *g, const shr_dataset *test, int64_t n, int64_t per, float **out) {
    *out = NULL;
    shr_plan *p = NULL;
    SHR_TRY(shr_plan_create(g, OUT_BATCH, &p));
    float *y = malloc((size_t)(n * per) * sizeof *y);
    float *x = shr_alloc((size_t)(OUT_BATCH * test->sample_size) * sizeof *x);
    shr_status st = y && x ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "compare: out of memory for %lld outputs", (long long)n);
    int64_t idx[OUT_BATCH];
    for (int64_t s = 0; st == SHR_OK && s < n; s += OUT_BATCH) {
        int m = (int)(n - s < OUT_BATCH ? n - s : OUT_BATCH);
        for (int k = 0; k < m; k++) idx[k] = s + k;
        shr_batch_fill(test, idx, m, &g->preproc, NULL, NULL, x, NULL);
        const float *o;
        st = shr_plan_run(p, x, m, &o);
        if (st == SHR_OK) memcpy(y + s * per, o, (size_t)(m * per) * sizeof *y);
    }
    shr_free(x);
    shr_plan_free(p);
    if (st != SHR_OK) {
        free(y);
        return st;
    }
    *out = y;
    return SHR_OK;
}

shr_status shr_compare_outputs(shr_compare *c, const shr_dataset *test, int samples) {
    for (int i = 0; i < c->n; i++) {
        c->models[i].output_sqnr_db = c->models[i].top1_agreement = NAN;
        c->models[i].output_samples = 0;
    }
    if (!test || test->n < 1 || samples < 1 || c->n < 2) return SHR_OK;
    if (c->reference < 0 || c->reference >= c->n)
        return shr_fail(SHR_ERR_INVALID_ARG, "compare: reference %d is not one of the %d models", c->reference, c->n);
    int64_t n = samples < test->n ? samples : test->n;
    const shr_graph *rg = c->models[c->reference].graph;
    int64_t per = shr_value_sample_numel(&rg->values[rg->output]);
    float *ref = NULL, *y = NULL;
    SHR_TRY(logits(rg, test, n, per, &ref));
    shr_status st = SHR_OK;
    for (int i = 0; st == SHR_OK && i < c->n; i++) {
        shr_compare_model *m = &c->models[i];
        if (i == c->reference || shr_value_sample_numel(&m->graph->values[m->graph->output]) != per) continue;
        st = logits(m->graph, test, n, per, &y);
        if (st != SHR_OK) break;
        double sig = 0, err = 0;
        int64_t same = 0;
        for (int64_t s = 0; s < n; s++) {
            const float *a = ref + s * per, *b = y + s * per;
            for (int64_t j = 0; j < per; j++) {
                double d = (double)a[j] - b[j];
                sig += (double)a[j] * a[j];
                err += d * d;
            }
            same += argmax(a, per) == argmax(b, per);
        }
        m->output_sqnr_db = err == 0 ? INFINITY : sig == 0 ? -INFINITY : 10 * log10(sig / err);
        m->top1_agreement = (double)same / (double)n;
        m->output_samples = n;
        free(y);
        y = NULL;
    }
    free(ref);
    return st;
}
