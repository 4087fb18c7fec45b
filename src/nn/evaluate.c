/* Evaluation: accuracy and mean cross-entropy through the inference plan. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "nn/exec.h"
#include "shrink/runtime.h"
#include "shrink/train.h"

shr_status shr_evaluate(const shr_graph *g, const shr_dataset *d, int batch, shr_eval_result *out) {
    if (batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "batch size must be at least 1");
    if (d->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "the evaluation set is empty");
    if (shr_value_sample_numel(&g->values[g->input]) != d->sample_size)
        return shr_fail(SHR_ERR_SHAPE, "model input has %lld features per sample but the data has %lld",
                        (long long)shr_value_sample_numel(&g->values[g->input]), (long long)d->sample_size);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    shr_plan *plan;
    SHR_TRY(shr_plan_create(g, batch, &plan));
    int k = (int)shr_plan_output_size(plan);
    if (k < d->n_classes) {
        shr_plan_free(plan);
        return shr_fail(SHR_ERR_SHAPE, "model has %d outputs but the data has %d classes", k, d->n_classes);
    }
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    int32_t *y = malloc((size_t)batch * sizeof *y);
    int64_t *idx = malloc((size_t)batch * sizeof *idx);
    shr_status st = (x && y && idx) ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t s = 0; st == SHR_OK && s < d->n; s += batch) {
        int n = (int)((d->n - s < batch) ? d->n - s : batch);
        for (int i = 0; i < n; i++) idx[i] = s + i;
        shr_batch_fill(d, idx, n, &g->preproc, NULL, NULL, x, y);
        const float *logits;
        st = shr_plan_run(plan, x, n, &logits);
        if (st != SHR_OK) break;
        float loss;
        st = shr_loss_cross_entropy(logits, y, n, k, 0.0f, &loss, NULL);
        loss_sum += (double)loss * n;
        for (int i = 0; i < n; i++) {
            const float *row = logits + (int64_t)i * k;
            int best = 0;
            for (int j = 1; j < k; j++)
                if (row[j] > row[best]) best = j;
            correct += best == y[i];
        }
    }
    shr_free(x);
    free(y);
    free(idx);
    shr_plan_free(plan);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != SHR_OK) return st;
    out->samples = d->n;
    out->accuracy = (double)correct / (double)d->n;
    out->loss = loss_sum / (double)d->n;
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return SHR_OK;
}
