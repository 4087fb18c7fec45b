/* Calibration: the float model runs in eval mode over the first N samples, keeping every
 * activation (a gradient-free tape), and an observer per activation sees each batch — first
 * the range pass over all batches, then (for percentile / entropy / MSE) the histogram pass. */
#include <stdlib.h>

#include "core/error.h"
#include "nn/tape.h"
#include "quant/quant_internal.h"

void shr_q_fill(const shr_dataset *d, const shr_preproc *pp, int64_t start, int n, float *x, int32_t *y) {
    int64_t idx[256];
    for (int done = 0; done < n;) {
        int m = n - done < 256 ? n - done : 256;
        for (int i = 0; i < m; i++) idx[i] = start + done + i;
        shr_batch_fill(d, idx, m, pp, NULL, NULL, x + (int64_t)done * d->sample_size, y ? y + done : NULL);
        done += m;
    }
}

void shr_q_observers_free(shr_observer **obs, int n) {
    if (!obs) return;
    for (int i = 0; i < n; i++) shr_observer_free(obs[i]);
    free(obs);
}

static shr_status run_pass(shr_tape *t, const shr_graph *F, const shr_dataset *d, int64_t samples, int batch,
                           float *x, shr_observer **obs, int hist) {
    for (int64_t s = 0; s < samples; s += batch) {
        int n = (int)(samples - s < batch ? samples - s : batch);
        shr_q_fill(d, &F->preproc, s, n, x, NULL);
        SHR_TRY(shr_tape_forward(t, x, n, 0, NULL, NULL));
        for (int v = 0; v < F->n_values; v++) {
            if (!obs[v]) continue;
            const shr_tensor *a = shr_tape_act(t, v);
            if (!a) continue;
            if (hist) shr_observer_hist(obs[v], a->data, (size_t)a->numel);
            else shr_observer_range(obs[v], a->data, (size_t)a->numel);
        }
    }
    return SHR_OK;
}

shr_status shr_q_calibrate(const shr_graph *F, const shr_dataset *d, int samples, int batch, int hist,
                           shr_observer ***out) {
    if (!d || d->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "static quantization needs calibration data");
    int64_t ns = samples < 1 || samples > d->n ? d->n : samples;
    if (batch < 1) batch = 100;
    if (batch > ns) batch = (int)ns;
    shr_observer **obs = calloc((size_t)F->n_values + 1, sizeof *obs);
    float *x = shr_alloc((size_t)batch * (size_t)d->sample_size * sizeof(float));
    shr_tape *t = NULL;
    shr_status st = obs && x ? SHR_OK : shr_fail(SHR_ERR_NOMEM, "out of memory");
    for (int v = 0; st == SHR_OK && v < F->n_values; v++)
        if (F->values[v].kind == SHR_VALUE_INPUT || F->values[v].kind == SHR_VALUE_ACT) st = shr_observer_create(&obs[v]);
    /* the tape only reads the graph in a no-grad forward; it takes a mutable pointer */
    if (st == SHR_OK) st = shr_tape_create_ex((shr_graph *)F, batch, SHR_TAPE_NO_GRAD, &t);
    if (st == SHR_OK) st = run_pass(t, F, d, ns, batch, x, obs, 0);
    if (st == SHR_OK && hist) st = run_pass(t, F, d, ns, batch, x, obs, 1);
    shr_tape_free(t);
    shr_free(x);
    if (st != SHR_OK) {
        shr_q_observers_free(obs, F->n_values);
        return st;
    }
    *out = obs;
    return SHR_OK;
}
