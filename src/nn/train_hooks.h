/* Internal: hooks into the training loop for the compression methods that train
 * (distillation, pruning with masks and schedules, quantization-aware training).
 * shr_train_config.hooks points at one of these; every member may be NULL. */
#ifndef SHR_NN_TRAIN_HOOKS_H
#define SHR_NN_TRAIN_HOOKS_H

#include "nn/tape.h"

typedef struct shr_train_hooks {
    void *user;
    /* Before each epoch (e.g. a gradual pruning schedule raises the sparsity here). */
    shr_status (*epoch_begin)(void *user, shr_graph *g, int epoch, int epochs);
    /* Replaces the cross-entropy loss. Called after the student's forward pass with the
     * batch (x: n preprocessed samples, y: labels) and the student's logits (n x k). Writes
     * the batch-mean loss and its gradient w.r.t. the logits (overwrites dlogits). It may
     * also ask for extra gradients at inner activations through shr_tape (feature hints). */
    shr_status (*loss)(void *user, shr_tape *t, const float *x, const int32_t *y, int n, const float *logits, int k,
                       float *loss, float *dlogits);
    /* After backward, before the optimizer step: e.g. zero the gradients of pruned weights. */
    shr_status (*after_backward)(void *user, shr_tape *t, int64_t step);
    /* After the optimizer step: e.g. re-apply pruning masks. */
    shr_status (*after_step)(void *user, shr_graph *g, int64_t step);
} shr_train_hooks;

#endif
