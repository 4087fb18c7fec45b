/* Internal: the distiller's parts — the teacher side (plan, logit cache,
 * preprocessing conversion, a tape for hint activations) and the hint adapters. */
#ifndef SHR_DISTILL_INTERNAL_H
#define SHR_DISTILL_INTERNAL_H

#include "nn/tape.h"
#include "nn/train_hooks.h"
#include "shrink/distill.h"
#include "shrink/runtime.h"

/* Teacher logits of the training set, keyed by the content of the student's
 * preprocessed sample: the loss hook sees the batch, not the sample indices, and
 * without augmentation the same sample always gives the same bytes. Two
 * independent 64-bit hashes must match; a miss just runs the teacher. */
typedef struct shr_logit_cache {
    int64_t n, cap;   /* samples cached; table slots (power of two, > 2n) */
    uint64_t *h1, *h2;
    int64_t *row;     /* per slot: sample row in logits, -1 when empty */
    float *logits;    /* n x k */
} shr_logit_cache;

typedef struct shr_teacher {
    shr_graph *g;     /* private copy */
    shr_plan *plan;   /* logits only */
    shr_tape *tape;   /* eval-mode tape when hints need inner activations, else NULL */
    int k, max_batch;
    int64_t sample_size;
    int channels;     /* data channels of a sample (planes of sample_size / channels) */
    int same_preproc; /* 1: student batches can be fed as they are */
    /* x_t = a[c] x_s + b[c]; channels from SHR_MAX_CHANNELS - 1 on share the last
     * entry, as both preprocessings repeat their last channel. */
    float conv_a[SHR_MAX_CHANNELS], conv_b[SHR_MAX_CHANNELS];
    float *xt;        /* max_batch x sample_size: the batch in the teacher's preprocessing */
    float *zt;        /* max_batch x k: the teacher's logits of the current batch */
    shr_logit_cache cache;
} shr_teacher;

shr_status shr_teacher_init(shr_teacher *t, const shr_graph *teacher, const shr_graph *student, int max_batch,
                            int need_tape);
void shr_teacher_release(shr_teacher *t);
/* Fills the cache from the training set (student preprocessing for the keys). */
shr_status shr_teacher_build_cache(shr_teacher *t, const shr_dataset *train, const shr_preproc *student_pp);
/* Teacher logits (n x k) of the student-preprocessed batch x; from the cache when
 * every row hits and no tape is needed, else by running the teacher. */
shr_status shr_teacher_logits(shr_teacher *t, const float *x, int n, const float **zt);
/* Content hashes of one sample (sample_size floats). */
void shr_sample_hash(const float *x, int64_t size, uint64_t *h1, uint64_t *h2);

typedef struct shr_hint_adapter {
    char *teacher_name, *student_name;
    int teacher_value, student_value;
    int64_t t_numel, s_numel; /* per sample */
    shr_graph *g;             /* input: the student layer; output: the teacher layer's shape */
    shr_tape *tape;           /* with the input gradient, passed back to the student */
    shr_optim *opt;
    float *dout;              /* max_batch x t_numel */
} shr_hint_adapter;

/* Resolves the names, checks the shapes and builds the adapter (1x1 conv, pool +
 * 1x1 conv, or flatten + linear). */
shr_status shr_hint_init(shr_hint_adapter *a, const shr_graph *teacher, const shr_graph *student, const shr_hint *h,
                         int max_batch, float lr, uint64_t seed);
void shr_hint_release(shr_hint_adapter *a);
/* One step on the current batch: MSE(adapter(student act), teacher act) in *mse,
 * beta times its gradient seeded into the student tape, an Adam step on the adapter. */
shr_status shr_hint_step(shr_hint_adapter *a, shr_tape *student, const shr_tape *teacher, float beta, float lr,
                         float *mse);

struct shr_distiller {
    shr_distill_config cfg;
    shr_teacher teacher;
    shr_hint_adapter hints[SHR_DISTILL_MAX_HINTS];
    int n_hints;
    float *gkl;              /* max_batch x k scratch: the KL gradient */
    shr_train_hooks inner;   /* another method's hooks, called through */
    float last_kl, last_ce, last_hint;
};

#endif
