/* Internal: the training executor. Keeps every activation of a forward pass
 * and runs the ops' backward in reverse topological order, accumulating
 * gradients for parameters and for activations that lead to parameters.
 * Distillation and QAT reuse it. */
#ifndef SHR_NN_TAPE_H
#define SHR_NN_TAPE_H

#include "nn/exec.h"

/* Flags of shr_tape_create_ex. */
enum {
    SHR_TAPE_NO_GRAD = 1,    /* inference only: keep every activation, no gradient buffers (a teacher) */
    SHR_TAPE_INPUT_GRAD = 2, /* also compute dL/d(model input) (a hint adapter passes it on) */
};

typedef struct shr_tape {
    shr_graph *g;
    int max_batch, batch;
    int training;          /* mode of the last forward, reused by backward */
    unsigned flags;
    shr_value_table act;   /* forward values */
    shr_value_table grad;  /* gradients: ACT headers + PARAM tensors (owned) */
    float **act_buf;       /* per value: owned activation buffer (INPUT/ACT), max_batch sized */
    float **grad_buf;      /* per value: owned gradient buffer for ACT values that need one */
    shr_tensor **param_grad; /* per value: gradient tensor of a PARAM value, else NULL */
    void **state;          /* per node */
    float **seed_buf;      /* per value: extra gradient added in the next backward (lazily allocated) */
    unsigned char *seeded; /* per value: 1 while seed_buf holds a pending seed */
} shr_tape;

shr_status shr_tape_create(shr_graph *g, int max_batch, shr_tape **out);
/* The same with SHR_TAPE_* flags. */
shr_status shr_tape_create_ex(shr_graph *g, int max_batch, unsigned flags, shr_tape **out);
void shr_tape_free(shr_tape *t);
/* x: n preprocessed samples. Returns the output activation (n x outputs). */
shr_status shr_tape_forward(shr_tape *t, const float *x, int n, int training, shr_rng *rng, const shr_tensor **out);
/* Sets all parameter gradients to zero. */
void shr_tape_zero_grad(shr_tape *t);
/* dout: gradient of the loss w.r.t. the graph output (batch n of the last forward).
 * Accumulates into the parameter gradients. */
shr_status shr_tape_backward(shr_tape *t, const float *dout);
/* Gradient of the loss w.r.t. any activation of the last backward (NULL if none kept). */
const shr_tensor *shr_tape_act_grad(const shr_tape *t, int value);
/* Activation (or input) value of the last forward, batch first; NULL for params/buffers. */
const shr_tensor *shr_tape_act(const shr_tape *t, int value);
/* Adds grad (the last forward's batch x the value's per-sample size) to the
 * gradient of activation `value` in the next backward, on top of what flows back
 * from the output: a loss term on an inner activation (feature hints). Seeds
 * add up until that backward uses them; a new forward drops them. Fails if the
 * value has no gradient (nothing trainable upstream, or a NO_GRAD tape). */
shr_status shr_tape_add_act_grad(shr_tape *t, int value, const float *grad);

#endif
