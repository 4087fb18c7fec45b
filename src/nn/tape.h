/* Internal: the training executor. Keeps every activation of a forward pass
 * and runs the ops' backward in reverse topological order, accumulating
 * gradients for parameters and for activations that lead to parameters.
 * Distillation and QAT reuse it. */
#ifndef SHR_NN_TAPE_H
#define SHR_NN_TAPE_H

#include "nn/exec.h"

typedef struct shr_tape {
    shr_graph *g;
    int max_batch, batch;
    int training;          /* mode of the last forward, reused by backward */
    shr_value_table act;   /* forward values */
    shr_value_table grad;  /* gradients: ACT headers + PARAM tensors (owned) */
    float **act_buf;       /* per value: owned activation buffer (INPUT/ACT), max_batch sized */
    float **grad_buf;      /* per value: owned gradient buffer for ACT values that need one */
    shr_tensor **param_grad; /* per value: gradient tensor of a PARAM value, else NULL */
    void **state;          /* per node */
} shr_tape;

shr_status shr_tape_create(shr_graph *g, int max_batch, shr_tape **out);
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

#endif
