/* Internal: pruned Linear layers in the inference plan run on the sparse kernels
 * (kernels/sparse.h). The choice is a fixed rule on the weights, not a timing, so
 * the same model always runs the same kernels and gives the same bits. */
#ifndef SHR_RUNTIME_PLAN_SPARSE_H
#define SHR_RUNTIME_PLAN_SPARSE_H

#include "nn/exec.h"

/* When a Linear weight W (N x K, nnz nonzeros) runs on CSR instead of the dense
 * GEMV / GEMM. Measured single-threaded on AVX2 (min of many runs, docs/prune.md):
 * at batch 1 CSR costs about 0.2 ns per nonzero + 6.5 ns per row against 0.043 ns
 * per weight dense, so it wins below a density of about 0.215 - 32.5 / K; the rule
 * takes three quarters of that margin. Batched (4 rows and more, K-major tiles)
 * CSR wins up to about 60 % density; the rule stops at 40 %. Layers under 4096
 * weights stay dense. */
#define SHR_SPARSE_MIN_NUMEL 4096
#define SHR_SPARSE_BATCHED_DENSITY 0.40
#define SHR_SPARSE_BATCH1_DENSITY(K) (0.16 - 24.0 / (double)(K))
#define SHR_SPARSE_BATCHED_FROM 4 /* batch sizes from which the batched rule applies */

typedef struct shr_plan_sparse shr_plan_sparse;

/* Converts every Linear of g (nodes not skipped) that runs sparse at some batch size
 * to CSR. SHRINK_SPARSE=off
 * in the environment keeps every layer dense. *out is NULL when no layer qualifies. */
shr_status shr_plan_sparse_compile(const shr_graph *g, const unsigned char *skip, shr_plan_sparse **out);
void shr_plan_sparse_free(shr_plan_sparse *s); /* NULL is a no-op */
/* 1 if node k runs sparse at batch n (s may be NULL). */
int shr_plan_sparse_use(const shr_plan_sparse *s, int k, int n);
/* Number of layers that run sparse at some batch size (s may be NULL). */
int shr_plan_sparse_count(const shr_plan_sparse *s);
/* Runs node k over the table at the bound batch; lo > hi means no fused clamp. */
shr_status shr_plan_sparse_run(const shr_plan_sparse *s, shr_value_table *vt, int k, float lo, float hi);

#endif
