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
/* How many activations (ReLU / ReLU6) were fused into the preceding Linear / Conv2d. */
int shr_plan_fused_count(const shr_plan *p);
/* Number of output features per sample. */
int64_t shr_plan_output_size(const shr_plan *p);

#ifdef __cplusplus
}
#endif
#endif
