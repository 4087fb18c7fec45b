/* Internal: what the pruning files share — the prunable weights, the channel
 * dependency analysis behind structured pruning, and graph surgery. */
#ifndef SHR_PRUNE_INTERNAL_H
#define SHR_PRUNE_INTERNAL_H

#include "shrink/prune.h"

/* 1 if node k is a linear or conv2d whose weight (input 1) is an f32 PARAM. */
int prune_is_weight_node(const shr_graph *g, int k);
/* The prunable weights in node order, each value once: values[i] is fed to nodes[i]
 * (the first node using it). Caller frees both arrays. */
shr_status prune_list_weights(const shr_graph *g, int **values, int **nodes, int *n);
/* 1 if the node is named in cfg->exclude. */
int prune_excluded(const shr_prune_config *cfg, const char *node);
/* Index of name in names[0..n), or -1. */
int prune_name_index(const char *const *names, int n, const char *name);
/* Index of value v in m, or -1. */
int prune_mask_index(const shr_prune_masks *m, int value);

/* Block pruning (blocks.c) over the masks m->keep[i] of the layers with eligible[i]: with
 * target, each layer masks its weakest br x bc blocks until target[i] of its weights are masked;
 * without, one ranking across layers masks blocks until `need` more weights are masked, no layer
 * past cap (a fraction) of its weights. A block is ranked by the mean square of its kept weights. */
shr_status prune_blocks(shr_graph *g, const shr_prune_masks *m, const unsigned char *eligible, const int64_t *target,
                        int64_t need, double cap, int br, int bc);

/* Channel dependency analysis. Every output channel of a linear or (non-grouped)
 * conv2d is an "atom"; ops that pass channels through map their output positions
 * to the same atoms, add unifies the atoms at equal positions, concat appends,
 * flatten repeats each channel's atom over its spatial positions. A "unit" is a
 * class of unified atoms: removing it removes every position mapped to it, in
 * every value. Units whose atoms come from the same set of producing nodes form a
 * dependency group, inside which units are ranked and a fraction is removed. A
 * unit that reaches the model input or output, a grouped conv, a reshape, a
 * softmax, a shared weight or an excluded layer is fixed (never removed). */
typedef struct prune_deps {
    int n_values;
    int *npos;         /* per value: positions along dim 1 (flattened for rank-2 values), 0 if none */
    int **unit;        /* per value: unit of each position (NULL for params/buffers) */
    int n_units;
    unsigned char *fixed; /* per unit */
    int *group;        /* per unit: dependency group */
    int n_groups;
    int *unit_src;     /* per unit: a producing node of one of its atoms (-1: none) */
} prune_deps;

shr_status prune_deps_build(const shr_graph *g, const shr_prune_config *cfg, prune_deps *d);
void prune_deps_free(prune_deps *d);

/* Importance of every unit (higher = keep), by cfg's method and importance. */
shr_status prune_unit_scores(const shr_graph *g, const prune_deps *d, const shr_prune_config *cfg, double *score);
/* Marks the lowest-scoring floor(frac * n) prunable units of each dependency
 * group removed, keeping at least one per group. Returns the count removed. */
int prune_select_units(const prune_deps *d, const double *score, float frac, unsigned char *removed);
/* Rebuilds g in place without the removed units' positions: gathers the weights
 * of linear, conv2d and batchnorm nodes, fixes depthwise groups, re-infers every
 * activation shape and validates. Value and node indices do not change. */
shr_status prune_rebuild(shr_graph *g, const prune_deps *d, const unsigned char *removed);
/* The masked equivalent of prune_rebuild: zeroes the input columns that read
 * removed positions (in linear and conv2d weights), so the original graph
 * computes what the rebuilt one does on the kept channels. */
void prune_zero_removed_inputs(shr_graph *g, const prune_deps *d, const unsigned char *removed);

/* Removes whole residual blocks (layer method). */
shr_status prune_layers(shr_graph **g, const shr_prune_config *cfg);
/* Drops the nodes marked in drop_node, replaces every use of value v by
 * redirect[v] when redirect[v] >= 0, drops params/buffers no longer used,
 * compacts the tables and validates. */
shr_status prune_graph_remove(shr_graph *g, const unsigned char *drop_node, const int *redirect);

/* Fills x (n preprocessed samples) and y from batch b of d (wrapping around). */
void prune_fill_batch(const shr_dataset *d, const shr_preproc *pp, int b, int n, float *x, int32_t *y);

#endif
