/* Internal: the interface every op implements (one op family per file in src/nn/ops/).
 *
 * Layouts: activations are f32, row-major, NCHW, dimension 0 = batch N.
 * Ops are stateless except for an optional per-node training cache (`*state`),
 * which forward may allocate and the executor frees with free_state. */
#ifndef SHR_NN_OP_H
#define SHR_NN_OP_H

#include "shrink/graph.h"
#include "shrink/rng.h"

typedef struct shr_op_io {
    const shr_graph *g;
    const shr_node *node;
    int training;        /* 1: training mode (dropout active, BN batch stats + running update) */
    shr_tensor *const *in; /* one per node input: activation tensors with the actual batch,
                              param/buffer tensors from the graph; NULL for an absent optional input.
                              Forward may write only BUFFER inputs (BN running stats). */
    shr_tensor *out;     /* preallocated, shape = inferred shape with the actual batch */
    void **state;        /* per-node cache slot (starts NULL), for the backward pass */
    shr_rng *rng;        /* for dropout; NULL in eval mode */
    /* Inference plans fuse a following ReLU/ReLU6 into Linear and Conv2d: when act_fused
     * is set, those ops clamp their output to [act_lo, act_hi] (other ops never see it). */
    int act_fused;
    float act_lo, act_hi;
} shr_op_io;

typedef struct shr_op_def {
    const char *name;
    int min_inputs;
    int max_inputs; /* -1: no limit (concat) */
    /* Checks the node's input value shapes and attrs; writes the output shape
     * (dim 0 = -1 for the batch). Messages name the node. */
    shr_status (*infer)(const shr_graph *g, const shr_node *n, int *ndim, int64_t *shape);
    shr_status (*forward)(shr_op_io *io);
    /* Given dL/dout, ACCUMULATES (+=) dL/d(input i) into din[i] for every non-NULL
     * din[i] (same shape as in[i]). io->in and io->out still hold the forward values
     * and *io->state what forward cached in training mode. NULL if not differentiable. */
    shr_status (*backward)(shr_op_io *io, const shr_tensor *dout, shr_tensor *const *din);
    /* Multiply-adds x2 per sample (0 for cheap element-wise ops if not counted). */
    int64_t (*flops)(const shr_graph *g, const shr_node *n);
    void (*free_state)(void *state); /* NULL: state is freed with free() */
} shr_op_def;

const shr_op_def *shr_op_def_get(shr_op op);

/* Checked before every infer(): the data inputs (input 0; all inputs of add and
 * concat) are the model input or activations, with the batch in dim 0. */
shr_status shr_node_check_data_inputs(const shr_graph *g, const shr_node *n);

/* Definitions, one per op family file in src/nn/ops/. */
extern const shr_op_def shr_op_linear, shr_op_conv2d, shr_op_batchnorm, shr_op_relu, shr_op_relu6,
    shr_op_leaky_relu, shr_op_gelu, shr_op_sigmoid, shr_op_tanh, shr_op_maxpool2d, shr_op_avgpool2d,
    shr_op_global_avgpool, shr_op_flatten, shr_op_reshape, shr_op_dropout, shr_op_add, shr_op_concat,
    shr_op_softmax, shr_op_log_softmax;

/* Helpers for infer(): the value feeding input i of node n. */
static inline const shr_value *shr_node_in(const shr_graph *g, const shr_node *n, int i) {
    return (i < n->n_inputs && n->inputs[i] >= 0) ? &g->values[n->inputs[i]] : NULL;
}

#endif
