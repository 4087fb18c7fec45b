/* Internal: what the training tape and the inference plan share — a per-value
 * tensor table and running one node over it. */
#ifndef SHR_NN_EXEC_H
#define SHR_NN_EXEC_H

#include "nn/op.h"

/* The most activation memory a tape or a plan may ask for: a model that needs
 * more is refused rather than attempted (a hostile file could ask for terabytes). */
#define SHR_MAX_ACTIVATION_BYTES ((size_t)16 << 30)

/* One tensor per graph value: activations and the input are headers over
 * caller-owned buffers, resized to the current batch, typed by shr_value_dtype;
 * params and buffers point at the graph's own tensors. */
typedef struct shr_value_table {
    const shr_graph *g;
    shr_tensor *headers; /* n_values headers for INPUT/ACT values */
    shr_tensor **t;      /* n_values pointers: &headers[v] or g->values[v].data */
} shr_value_table;

shr_status shr_value_table_init(shr_value_table *vt, const shr_graph *g);
void shr_value_table_free(shr_value_table *vt);
/* Points value v (INPUT or ACT) at data, shaped for batch n. */
void shr_value_table_bind(shr_value_table *vt, int v, void *data, int n);
/* Element type of value v: a param's or buffer's data dtype; f32 for the model input; for an
 * activation its producer's output type (quantized ops write u8/i8/i16 codes: docs/quant.md;
 * pass-through ops such as qmaxpool2d keep their input's type). */
shr_dtype shr_value_dtype(const shr_graph *g, int v);
/* Bytes per element of an activation type (f32 4, i16 2, i8/u8 1). */
static inline size_t shr_act_elem_size(shr_dtype t) { return t == SHR_F32 || t == SHR_I32 ? 4 : t == SHR_I16 ? 2 : 1; }
/* Per-sample element count of an INPUT/ACT value (product of dims 1..). */
int64_t shr_value_sample_numel(const shr_value *v);

/* Runs node k's forward over the table. */
shr_status shr_exec_forward(shr_value_table *vt, int k, int training, void **state, shr_rng *rng);
/* The same with an activation clamp fused into node k (Linear / Conv2d; see shr_op_io). */
shr_status shr_exec_forward_fused(shr_value_table *vt, int k, void **state, float lo, float hi);
/* Frees node states (one per node) with each op's free_state. */
void shr_exec_free_states(const shr_graph *g, void **states);

#endif
