/* Training: losses, optimizers, learning-rate schedules, the training loop and
 * evaluation. */
#ifndef SHRINK_TRAIN_H
#define SHRINK_TRAIN_H

#include <stdint.h>
#include "shrink/data.h"
#include "shrink/graph.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- losses: each returns the batch-mean loss and, if grad != NULL, writes
 * (overwrites) its gradient with respect to the first argument. ---- */

/* logits (N, K), labels in 0..K-1. label_smoothing in [0, 1): target is
 * (1 - ls) on the label plus ls / K spread over all classes. */
shr_status shr_loss_cross_entropy(const float *logits, const int32_t *labels, int N, int K, float label_smoothing,
                                  float *loss, float *grad);
/* Mean over N of sum over K of (pred - target)^2 / K  (i.e. the mean over all elements). */
shr_status shr_loss_mse(const float *pred, const float *target, int N, int K, float *loss, float *grad);
/* Mean over N of KL(softmax(teacher/T) || softmax(student/T)); gradient w.r.t. the
 * student logits. Distillation multiplies by T^2 to keep gradient scale. */
shr_status shr_loss_kl_div(const float *student, const float *teacher, int N, int K, float T, float *loss,
                           float *grad);

/* ---- optimizers ---- */
typedef enum shr_optim_kind { SHR_OPTIM_SGD = 0, SHR_OPTIM_ADAM, SHR_OPTIM_ADAMW } shr_optim_kind;

typedef struct shr_optim_config {
    shr_optim_kind kind;
    float lr;
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2, eps; /* Adam/AdamW */
    float weight_decay; /* L2 added to the gradient (SGD, Adam) or decoupled (AdamW) */
    float l1;           /* L1 regularization strength (sign(w) added to the gradient) */
    float clip_norm;    /* > 0: clip the global gradient norm to this */
} shr_optim_config;

shr_optim_config shr_optim_default(shr_optim_kind kind);
shr_status shr_optim_parse(const char *name, shr_optim_kind *out);

typedef struct shr_optim shr_optim;
/* One state slot per PARAM value of g. */
shr_status shr_optim_create(const shr_graph *g, const shr_optim_config *cfg, shr_optim **out);
void shr_optim_free(shr_optim *o);
/* grads[v] is the gradient tensor of value v (NULL for non-params). Applies
 * regularization, clipping and the update with learning rate lr. Returns the
 * gradient norm before clipping in *grad_norm (may be NULL). */
shr_status shr_optim_step(shr_optim *o, shr_graph *g, shr_tensor *const *grads, float lr, float *grad_norm);

/* ---- learning-rate schedules ---- */
typedef enum shr_sched_kind { SHR_SCHED_NONE = 0, SHR_SCHED_STEP, SHR_SCHED_COSINE } shr_sched_kind;
typedef struct shr_schedule {
    shr_sched_kind kind;
    int64_t warmup_steps; /* linear warm-up from 0 over this many steps */
    int64_t step_size;    /* STEP: multiply by gamma every step_size steps */
    float gamma;
    int64_t total_steps;  /* COSINE: decays to min_lr at total_steps */
    float min_lr;
} shr_schedule;
shr_status shr_sched_parse(const char *name, shr_sched_kind *out);
float shr_schedule_lr(const shr_schedule *s, float base_lr, int64_t step);

/* ---- training loop ---- */
typedef struct shr_train_progress {
    int epoch, epochs;
    int64_t step, steps_total;
    int64_t seen_in_epoch, epoch_size;
    float loss, accuracy; /* running means over the epoch so far */
    double samples_per_s;
    double eta_s;
    float lr;
    int epoch_done;       /* 1 on the call at the end of an epoch */
    float val_accuracy;   /* at epoch end when a validation set is given, else -1 */
} shr_train_progress;

typedef void (*shr_progress_fn)(const shr_train_progress *p, void *user);

typedef struct shr_train_config {
    int epochs;
    int batch;
    shr_optim_config optim;
    shr_sched_kind schedule;
    int warmup_epochs;
    int step_epochs;      /* STEP: decay every this many epochs (0: a third of the epochs) */
    float step_gamma;     /* STEP: decay factor (0 is read as 0.1) */
    float min_lr;         /* COSINE: final learning rate */
    float label_smoothing;
    shr_augment augment;
    uint64_t seed;
    shr_progress_fn progress; /* may be NULL; called every few steps and at each epoch end */
    void *progress_user;
    /* Internal hooks for methods that train (distillation, pruning masks, QAT):
     * a struct shr_train_hooks (src/nn/train_hooks.h); NULL for plain training. */
    const struct shr_train_hooks *hooks;
} shr_train_config;

shr_train_config shr_train_default(void);

typedef struct shr_train_result {
    float final_loss, final_accuracy; /* training-set running means of the last epoch */
    float val_accuracy;               /* -1 if no validation set */
    double seconds;
    double samples_per_s;
    double cpu_seconds; /* CPU time of the process over the training loop, all threads summed */
} shr_train_result;

/* Trains g in place on `train` (preprocessed with g->preproc). val may be NULL. */
shr_status shr_train(shr_graph *g, const shr_dataset *train, const shr_dataset *val, const shr_train_config *cfg,
                     shr_train_result *out);

typedef struct shr_eval_result {
    double accuracy;
    double loss;
    int64_t samples;
    double seconds;
} shr_eval_result;

/* Eval mode through the runtime plan; preprocessing from g->preproc. */
shr_status shr_evaluate(const shr_graph *g, const shr_dataset *d, int batch, shr_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif
