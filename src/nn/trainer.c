/* The training loop: shuffled mini-batches, forward, cross-entropy, backward,
 * optimizer step with the scheduled learning rate, progress reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "nn/tape.h"
#include "nn/train_hooks.h"
#include "shrink/train.h"

shr_train_config shr_train_default(void) {
    shr_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 10;
    c.batch = 64;
    c.optim = shr_optim_default(SHR_OPTIM_ADAM);
    c.schedule = SHR_SCHED_COSINE;
    c.seed = 1;
    return c;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (all threads), for speed figures on a shared machine. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int argmax(const float *row, int k) {
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

typedef struct train_run {
    shr_graph *g;
    const shr_dataset *d;
    const shr_train_config *cfg;
    shr_tape *tape;
    shr_optim *opt;
    float *x, *dlogits;
    int32_t *y;
    int64_t *order;
    int n_out;
} train_run;

static shr_status check_inputs(const shr_graph *g, const shr_dataset *d, const shr_train_config *cfg) {
    if (cfg->epochs < 0 || cfg->batch < 1) return shr_fail(SHR_ERR_INVALID_ARG, "epochs must be >= 0 and batch >= 1");
    if (d->n < 1) return shr_fail(SHR_ERR_INVALID_ARG, "the training set is empty");
    const shr_value *in = &g->values[g->input];
    if (shr_value_sample_numel(in) != d->sample_size)
        return shr_fail(SHR_ERR_SHAPE, "model input has %lld features per sample but the data has %lld",
                        (long long)shr_value_sample_numel(in), (long long)d->sample_size);
    const shr_value *out = &g->values[g->output];
    if (out->ndim != 2) return shr_fail(SHR_ERR_SHAPE, "model output must be (batch, classes)");
    if (out->shape[1] < d->n_classes)
        return shr_fail(SHR_ERR_SHAPE, "model has %lld outputs but the data has %d classes", (long long)out->shape[1],
                        d->n_classes);
    return SHR_OK;
}

static void free_run(train_run *r) {
    shr_tape_free(r->tape);
    shr_optim_free(r->opt);
    shr_free(r->x);
    shr_free(r->dlogits);
    free(r->y);
    free(r->order);
}

static shr_status run_epoch(train_run *r, int epoch, int64_t *step, int64_t steps_total, shr_schedule *sched,
                            shr_rng *rng_order, shr_rng *rng_aug, shr_rng *rng_drop, double t0,
                            int64_t *samples_done, shr_train_progress *pr) {
    const shr_train_config *cfg = r->cfg;
    const shr_dataset *d = r->d;
    shr_rng_shuffle(rng_order, r->order, d->n);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t start = 0; start < d->n; start += cfg->batch) {
        int n = (int)((d->n - start < cfg->batch) ? d->n - start : cfg->batch);
        if (n < 2 && d->n >= 2) break; /* a batch of one breaks batch statistics */
        shr_batch_fill(d, r->order + start, n, &r->g->preproc, &cfg->augment, rng_aug, r->x, r->y);
        const shr_tensor *logits;
        SHR_TRY(shr_tape_forward(r->tape, r->x, n, 1, rng_drop, &logits));
        float loss;
        const shr_train_hooks *hk = cfg->hooks;
        if (hk && hk->loss)
            SHR_TRY(hk->loss(hk->user, r->tape, r->x, r->y, n, shr_f32(logits), r->n_out, &loss, r->dlogits));
        else
            SHR_TRY(shr_loss_cross_entropy(shr_f32(logits), r->y, n, r->n_out, cfg->label_smoothing, &loss,
                                           r->dlogits));
        if (!isfinite(loss))
            return shr_fail(SHR_ERR_INVALID_ARG, "training diverged (loss is %f at step %lld); lower the learning rate",
                            (double)loss, (long long)*step);
        shr_tape_zero_grad(r->tape);
        SHR_TRY(shr_tape_backward(r->tape, r->dlogits));
        if (hk && hk->after_backward) SHR_TRY(hk->after_backward(hk->user, r->tape, *step));
        float lr = shr_schedule_lr(sched, cfg->optim.lr, *step);
        SHR_TRY(shr_optim_step(r->opt, r->g, r->tape->grad.t, lr, NULL));
        if (hk && hk->after_step) SHR_TRY(hk->after_step(hk->user, r->g, *step));
        for (int i = 0; i < n; i++) correct += argmax(shr_f32(logits) + (int64_t)i * r->n_out, r->n_out) == r->y[i];
        loss_sum += (double)loss * n;
        seen += n;
        *samples_done += n;
        (*step)++;
        if (cfg->progress && ((*step) % 20 == 0)) {
            double el = now_s() - t0;
            pr->step = *step;
            pr->seen_in_epoch = seen;
            pr->loss = (float)(loss_sum / (double)seen);
            pr->accuracy = (float)correct / (float)seen;
            pr->samples_per_s = el > 0 ? (double)*samples_done / el : 0;
            pr->eta_s = pr->samples_per_s > 0 ? (double)(steps_total - *step) * cfg->batch / pr->samples_per_s : 0;
            pr->lr = lr;
            pr->epoch_done = 0;
            cfg->progress(pr, cfg->progress_user);
        }
    }
    pr->epoch = epoch + 1;
    pr->lr = shr_schedule_lr(sched, cfg->optim.lr, *step > 0 ? *step - 1 : 0);
    pr->seen_in_epoch = seen;
    pr->loss = seen ? (float)(loss_sum / (double)seen) : 0;
    pr->accuracy = seen ? (float)correct / (float)seen : 0;
    return SHR_OK;
}

shr_status shr_train(shr_graph *g, const shr_dataset *train, const shr_dataset *val, const shr_train_config *cfg,
                     shr_train_result *out) {
    SHR_TRY(check_inputs(g, train, cfg));
    train_run r;
    memset(&r, 0, sizeof r);
    r.g = g;
    r.d = train;
    r.cfg = cfg;
    r.n_out = (int)g->values[g->output].shape[1];
    shr_status st = shr_tape_create(g, cfg->batch, &r.tape);
    if (st == SHR_OK) st = shr_optim_create(g, &cfg->optim, &r.opt);
    if (st == SHR_OK) {
        r.x = shr_alloc((size_t)cfg->batch * (size_t)train->sample_size * sizeof(float));
        r.dlogits = shr_alloc((size_t)cfg->batch * (size_t)r.n_out * sizeof(float));
        r.y = malloc((size_t)cfg->batch * sizeof *r.y);
        r.order = malloc((size_t)train->n * sizeof *r.order);
        if (!r.x || !r.dlogits || !r.y || !r.order) st = shr_fail(SHR_ERR_NOMEM, "out of memory");
    }
    if (st != SHR_OK) {
        free_run(&r);
        return st;
    }
    for (int64_t i = 0; i < train->n; i++) r.order[i] = i;

    /* Independent streams so e.g. turning augmentation on does not change the order. */
    shr_rng rng_order, rng_aug, rng_drop;
    shr_rng_seed(&rng_order, cfg->seed * 3 + 1);
    shr_rng_seed(&rng_aug, cfg->seed * 3 + 2);
    shr_rng_seed(&rng_drop, cfg->seed * 3 + 3);

    /* run_epoch skips a final batch of one sample (batch statistics need two). */
    int64_t rest = train->n % cfg->batch;
    int64_t steps_per_epoch = train->n / cfg->batch + (rest >= 2 || (rest == 1 && train->n < 2));
    int64_t steps_total = steps_per_epoch * cfg->epochs;
    int step_epochs = cfg->step_epochs > 0 ? cfg->step_epochs : (cfg->epochs + 2) / 3;
    shr_schedule sched = {cfg->schedule,
                          (int64_t)cfg->warmup_epochs * steps_per_epoch,
                          (int64_t)(step_epochs > 0 ? step_epochs : 1) * steps_per_epoch,
                          cfg->step_gamma > 0 ? cfg->step_gamma : 0.1f,
                          steps_total,
                          cfg->min_lr};
    shr_train_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.epochs = cfg->epochs;
    pr.steps_total = steps_total;
    pr.epoch_size = train->n;
    pr.val_accuracy = -1;
    double t0 = now_s(), c0 = cpu_s();
    int64_t step = 0, samples = 0;
    for (int e = 0; e < cfg->epochs && st == SHR_OK; e++) {
        if (cfg->hooks && cfg->hooks->epoch_begin) st = cfg->hooks->epoch_begin(cfg->hooks->user, g, e, cfg->epochs);
        if (st != SHR_OK) break;
        st = run_epoch(&r, e, &step, steps_total, &sched, &rng_order, &rng_aug, &rng_drop, t0, &samples, &pr);
        if (st == SHR_OK && val) {
            shr_eval_result ev;
            st = shr_evaluate(g, val, 256, &ev);
            if (st == SHR_OK) pr.val_accuracy = (float)ev.accuracy;
        }
        if (st == SHR_OK && cfg->progress) {
            double el = now_s() - t0;
            pr.step = step;
            pr.samples_per_s = el > 0 ? (double)samples / el : 0;
            pr.eta_s = pr.samples_per_s > 0 ? (double)(steps_total - step) * cfg->batch / pr.samples_per_s : 0;
            pr.epoch_done = 1;
            cfg->progress(&pr, cfg->progress_user);
        }
    }
    double el = now_s() - t0;
    if (out && st == SHR_OK) {
        out->final_loss = pr.loss;
        out->final_accuracy = pr.accuracy;
        out->val_accuracy = pr.val_accuracy;
        out->seconds = el;
        out->samples_per_s = el > 0 ? (double)samples / el : 0;
        out->cpu_seconds = cpu_s() - c0;
    }
    free_run(&r);
    return st;
}
