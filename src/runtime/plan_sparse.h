/* Internal: pruned Linear layers in the inference plan run on the sparse kernels
 * (kernels/sparse.h). The choice is a fixed rule on the weights, not a timing, so
 * the same model always runs the same kernels and gives the same bits. */
#ifndef SHR_RUNTIME_PLAN_SPARSE_H
#define SHR_RUNTIME_PLAN_SPARSE_H

#include "kernels/sparse.h"
#include "nn/exec.h"

/* The rule is a cost model per format, fitted to single-threaded AVX2 timings (min of 15
 * interleaved rounds, weights 100x300 ... 1024x1024 at densities 3 ... 45 %, unstructured
 * and 4x1 / 8x1 block-pruned; docs/kernels-sparse.md). Nanoseconds for one call:
 *   batch 1:  dense 0.043 per weight;  csr 0.21 per nonzero + 2.6 per row;
 *             4x1 0.31 per block + 4.5 per block row;  8x1 0.39 per block + 4.6 per block row
 *   batch 64: dense 1.4 per weight;  csr 2.2 per nonzero + 21 per row;
 *             4x1 5.5 per block + 100 per block row;  8x1 10.8 per block + 200 per block row
 * (stored blocks counted from the layer's zeros). A format runs only where it costs at most
 * SHR_SPARSE_MARGIN of dense (the dense fit is the fast end of the measurements, so a sparse
 * layer is not slower than dense): the one cheapest at batch 1 if it beats dense there (and
 * then batched too where it beats dense), else the one cheapest batched.
 * Layers under 4096 weights stay dense. */
#define SHR_SPARSE_MIN_NUMEL 4096
#define SHR_SPARSE_MARGIN 0.75
#define SHR_SPARSE_BATCHED_FROM 4 /* batch sizes from which the batch-64 costs apply */

typedef struct shr_plan_sparse shr_plan_sparse;

/* Estimated nanoseconds of one call of format f (SHR_SP_DENSE, CSR, 4X1 or 8X1) on an N x K
 * weight with `blocks` stored blocks of that format, at batch 1 (batched = 0) or 64. */
double shr_plan_sparse_cost(shr_sp_format f, int batched, int N, int K, int64_t blocks);

/* Converts every Linear of g (nodes not skipped) that runs sparse at some batch size
 * to its format. SHRINK_SPARSE=off in the environment keeps every layer dense. *out is
 * NULL when no layer qualifies. */
shr_status shr_plan_sparse_compile(const shr_graph *g, const unsigned char *skip, shr_plan_sparse **out);
void shr_plan_sparse_free(shr_plan_sparse *s); /* NULL is a no-op */
/* 1 if node k runs sparse at batch n (s may be NULL). */
int shr_plan_sparse_use(const shr_plan_sparse *s, int k, int n);
/* The format node k was converted to (SHR_SP_DENSE if none; s may be NULL). */
shr_sp_format shr_plan_sparse_format(const shr_plan_sparse *s, int k);
/* Number of layers that run sparse at some batch size (s may be NULL). */
int shr_plan_sparse_count(const shr_plan_sparse *s);
/* Runs node k over the table at the bound batch; lo > hi means no fused clamp. */
shr_status shr_plan_sparse_run(const shr_plan_sparse *s, shr_value_table *vt, int k, float lo, float hi);

#endif
