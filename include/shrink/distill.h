/* Knowledge distillation: a student learns from a teacher's soft targets
 * (Hinton et al. 2015) and, optionally, from its inner activations through
 * learned adapters (FitNets hints).
 *
 * Per batch the student minimizes
 *   alpha * T^2 * KL(softmax(z_t/T) || softmax(z_s/T)) + (1 - alpha) * CE(z_s, y)
 *   + beta * sum over hints of MSE(adapter(student layer), teacher layer)
 * where the teacher runs in eval mode on the same (preprocessed) batch. */
#ifndef SHRINK_DISTILL_H
#define SHRINK_DISTILL_H

#include <stdint.h>
#include "shrink/data.h"
#include "shrink/graph.h"
#include "shrink/status.h"
#include "shrink/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHR_DISTILL_MAX_HINTS 16

/* A feature hint: value names (node outputs) in the teacher and in the student.
 * Shapes: both (C, H, W) with the same H, W (adapter: 1x1 conv), the student's
 * H, W an integer multiple of the teacher's (average pooling, then 1x1 conv), or
 * a flat teacher layer (F) (adapter: flatten + linear). */
typedef struct shr_hint {
    const char *teacher;
    const char *student;
} shr_hint;

typedef struct shr_distill_config {
    float temperature;  /* T > 0 (default 2) */
    float alpha;        /* weight of the soft-target term, 0..1 (default 0.5) */
    float beta;         /* weight of each hint's MSE (default 1) */
    int n_hints;
    shr_hint hints[SHR_DISTILL_MAX_HINTS];
    float adapter_lr;   /* Adam learning rate of the hint adapters (default 1e-3) */
    int cache_teacher;  /* 1 (default): compute the teacher's logits over the training set
                           once when batches are not augmented; 0: every batch */
    uint64_t seed;      /* adapter initialization */
} shr_distill_config;

shr_distill_config shr_distill_default(void);

/* Teacher state for one training run: a private copy of the teacher, its
 * compiled plan, the logit cache and the hint adapters (which live here, never
 * in the student). */
typedef struct shr_distiller shr_distiller;

/* student: the model that will be trained (read for its layer shapes and
 * preprocessing; not modified, and it may differ from the teacher's
 * preprocessing). max_batch: the training batch size. train/augment: the
 * training set and its augmentation; the logit cache is built when train is not
 * NULL, augmentation is off and cfg->cache_teacher is set. Teacher and student
 * must have the same number of outputs. */
shr_status shr_distiller_create(const shr_graph *teacher, const shr_graph *student, const shr_distill_config *cfg,
                                int max_batch, const shr_dataset *train, const shr_augment *augment,
                                shr_distiller **out);
void shr_distiller_free(shr_distiller *d); /* NULL is a no-op */

/* Fills *out (an internal struct shr_train_hooks, src/nn/train_hooks.h) so that
 * shr_train minimizes the distillation loss. inner (may be NULL) are another
 * method's hooks (pruning masks, QAT) that keep running: their epoch_begin,
 * after_backward and after_step are called through; inner must not have a loss of
 * its own and must outlive the training run. d must outlive it too. This is how
 * `prune --teacher` and QAT fine-tune with a teacher. */
shr_status shr_distill_hooks(shr_distiller *d, const struct shr_train_hooks *inner, struct shr_train_hooks *out);

/* Loss terms of the last batch (batch means, unweighted): the KL at temperature T,
 * the cross-entropy and the sum of the hint MSEs. Any pointer may be NULL. */
void shr_distill_last_terms(const shr_distiller *d, float *kl, float *ce, float *hint);

/* Builds a distiller, trains the student with shr_train and frees it. cfg->hooks
 * (if any) are the inner hooks of shr_distill_hooks. */
shr_status shr_distill_train(shr_graph *student, const shr_graph *teacher, const shr_dataset *train,
                             const shr_dataset *val, const shr_train_config *cfg, const shr_distill_config *dcfg,
                             shr_train_result *out);

#ifdef __cplusplus
}
#endif
#endif
