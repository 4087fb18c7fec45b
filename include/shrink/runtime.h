/* Inference: a graph compiled into a plan (per-node kernels, one planned
 * activation arena) and run in eval mode. */
#ifndef SHRINK_RUNTIME_H
#define SHRINK_RUNTIME_H

#include <stddef.h>
#include "shrink/graph.h"
#include "shrink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shr_plan shr_plan;

/* Compiles g for batches of up to max_batch samples. g must outlive the plan. */
shr_status shr_plan_create(const shr_graph *g, int max_batch, shr_plan **out);
void shr_plan_free(shr_plan *p);
/* Runs n <= max_batch preprocessed samples x (NCHW); *out points into the plan's
 * arena (n x outputs), valid until the next run. */
shr_status shr_plan_run(shr_plan *p, const float *x, int n, const float **out);
/* Bytes of the activation arena (after liveness-based reuse). */
size_t shr_plan_arena_bytes(const shr_plan *p);
/* Folds every eval-mode BatchNorm that directly follows a Conv2d / Linear (whose output
 * feeds only it) into that layer's weight and bias, in place; the BN nodes are left dead
 * (nothing reads them). *n_folded (may be NULL) counts the folds. Used by shr_plan_create
 * on its own copy of the graph; quantization folds before calibrating. */
shr_status shr_graph_fold_bn(shr_graph *g, int *n_folded);
/* BatchNorms folded into the preceding layer by the plan (shr_graph_fold_bn). */
int shr_plan_folded_count(const shr_plan *p);
/* How many activations (ReLU / ReLU6) were fused into the preceding Linear / Conv2d. */
int shr_plan_fused_count(const shr_plan *p);
/* Number of output features per sample. */
int64_t shr_plan_output_size(const shr_plan *p);

#ifdef __cplusplus
}
#endif
#endif
