/* Block pruning for magnitude and global: whole br x bc blocks of a weight's (rows, K) view
 * (rows = output units / filters, K = inputs, for a conv C*KH*KW) are masked together,
 * weakest first by the mean square of their kept weights (the L2 norm over the block's size,
 * so a block cut short at the edge of the weight competes fairly). 8x1 and 4x1 blocks are the
 * column blocks the sparse runtime runs several output rows at a time on (docs/prune.md).
 * Ties are broken by layer then block index, so the result is deterministic. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "prune/prune_internal.h"

typedef struct block {
    double score;  /* mean square of the kept weights over the block's size */
    int layer;     /* mask index */
    int64_t index; /* block, row-major over the (ceil(rows/br), ceil(K/bc)) block grid */
    int64_t kept;  /* weights of the block not yet masked */
} block;

static int cmp_block(const void *pa, const void *pb) {
    const block *x = pa, *y = pb;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* The block grid of weight i: rows x K view, nbr x nbc blocks. */
typedef struct grid {
    int64_t rows, K, nbr, nbc;
} grid;

static grid grid_of(const shr_tensor *t, int br, int bc) {
    grid q;
    q.rows = t->ndim > 0 ? t->shape[0] : 1;
    q.K = q.rows ? t->numel / q.rows : 0;
    q.nbr = (q.rows + br - 1) / br;
    q.nbc = (q.K + bc - 1) / bc;
    return q;
}

/* Appends weight i's blocks that still hold a kept weight to c (c has room for all). */
static int64_t list_blocks(const shr_tensor *t, const uint8_t *keep, int i, int br, int bc, block *c) {
    grid q = grid_of(t, br, bc);
    const float *w = shr_f32(t);
    int64_t n = 0;
    for (int64_t bi = 0; bi < q.nbr; bi++)
        for (int64_t bj = 0; bj < q.nbc; bj++) {
            double ss = 0.0;
            int64_t kept = 0, size = 0;
            for (int64_t r = bi * br; r < (bi + 1) * br && r < q.rows; r++)
                for (int64_t k = bj * bc; k < (bj + 1) * bc && k < q.K; k++) {
                    int64_t e = r * q.K + k;
                    size++;
                    if (!keep[e]) continue;
                    kept++;
                    ss += (double)w[e] * (double)w[e];
                }
            if (kept) c[n++] = (block){ss / (double)size, i, bi * q.nbc + bj, kept};
        }
    return n;
}

static void mask_block(const shr_tensor *t, uint8_t *keep, int br, int bc, int64_t index) {
    grid q = grid_of(t, br, bc);
    int64_t bi = index / q.nbc, bj = index % q.nbc;
    for (int64_t r = bi * br; r < (bi + 1) * br && r < q.rows; r++)
        for (int64_t k = bj * bc; k < (bj + 1) * bc && k < q.K; k++) keep[r * q.K + k] = 0;
}

static int64_t blocks_max(const shr_graph *g, const shr_prune_masks *m, const unsigned char *eligible, int br,
                          int bc) {
    int64_t total = 0;
    for (int i = 0; i < m->n; i++)
        if (eligible[i]) {
            grid q = grid_of(g->values[m->value[i]].data, br, bc);
            total += q.nbr * q.nbc;
        }
    return total;
}

shr_status prune_blocks(shr_graph *g, const shr_prune_masks *m, const unsigned char *eligible, const int64_t *target,
                        int64_t need, double cap, int br, int bc) {
    if (br < 1 || bc < 1 || br > 256 || bc > 256)
        return shr_fail(SHR_ERR_INVALID_ARG, "pruning block %dx%d: each side must be 1..256", br, bc);
    int64_t total = blocks_max(g, m, eligible, br, bc);
    block *c = malloc((size_t)(total ? total : 1) * sizeof *c);
    int64_t *masked = calloc((size_t)m->n + 1, sizeof *masked);
    if (!c || !masked) {
        free(c);
        free(masked);
        return shr_fail(SHR_ERR_NOMEM, "out of memory sorting %lld weight blocks", (long long)total);
    }
    for (int i = 0; i < m->n; i++) {
        const shr_tensor *t = g->values[m->value[i]].data;
        for (int64_t e = 0; e < t->numel; e++) masked[i] += !m->keep[i][e];
    }
    /* target (per layer): each layer on its own until it masks target[i] weights;
     * else one ranking across layers until `need` more are masked, no layer past cap. */
    int64_t n = 0;
    for (int i = 0; i < m->n; i++) {
        if (!eligible[i]) continue;
        const shr_tensor *t = g->values[m->value[i]].data;
        int64_t first = n;
        n += list_blocks(t, m->keep[i], i, br, bc, c + n);
        if (!target) continue;
        qsort(c + first, (size_t)(n - first), sizeof *c, cmp_block);
        for (int64_t j = first; j < n && masked[i] < target[i]; j++) {
            mask_block(t, m->keep[i], br, bc, c[j].index);
            masked[i] += c[j].kept;
        }
    }
    if (!target) {
        qsort(c, (size_t)n, sizeof *c, cmp_block);
        for (int64_t j = 0; j < n && need > 0; j++) {
            int i = c[j].layer;
            const shr_tensor *t = g->values[m->value[i]].data;
            if ((double)(masked[i] + c[j].kept) > floor(cap * (double)t->numel + 0.5)) continue;
            mask_block(t, m->keep[i], br, bc, c[j].index);
            masked[i] += c[j].kept;
            need -= c[j].kept;
        }
    }
    free(c);
    free(masked);
    return SHR_OK;
}
