/* Pruning: masks, importance scores, methods, schedules and sensitivity analysis.
 *
 * Two families:
 *  - unstructured (magnitude, global, nm): weights are zeroed through masks, one
 *    mask per prunable weight (the weight input of every linear and conv2d node).
 *    Masks persist through fine-tuning: masked gradients and weights stay zero.
 *    The .shrk writer stores such tensors in a sparse encoding, so the file shrinks.
 *  - structured (neuron, channel, layer): whole units, conv filters/channels or
 *    residual blocks are removed and the graph is rebuilt with smaller tensors.
 *    Channels coupled through residual adds, concat, depthwise convs, batchnorm
 *    and the next layer's input are removed together (dependency groups).
 */
#ifndef SHRINK_PRUNE_H
#define SHRINK_PRUNE_H

#include <stdint.h>
#include "shrink/data.h"
#include "shrink/graph.h"
#include "shrink/status.h"
#include "shrink/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum shr_prune_method {
    SHR_PRUNE_MAGNITUDE = 0, /* per layer: the smallest |w| of each weight tensor */
    SHR_PRUNE_GLOBAL,        /* one |w| threshold across layers */
    SHR_PRUNE_NEURON,        /* whole FC units / conv filters by incoming + outgoing weights */
    SHR_PRUNE_CHANNEL,       /* structured channels by L1, L2, BN scale or Taylor */
    SHR_PRUNE_LAYER,         /* whole residual blocks become identity */
    SHR_PRUNE_NM,            /* N:M semi-structured along the input dimension */
    SHR_PRUNE_METHOD_COUNT
} shr_prune_method;

typedef enum shr_prune_importance {
    SHR_IMPORTANCE_DEFAULT = 0, /* channel: l1; neuron: l2; layer: activations if data, else weights */
    SHR_IMPORTANCE_L1,
    SHR_IMPORTANCE_L2,
    SHR_IMPORTANCE_BN,          /* |gamma| of the batchnorms on the channel (network slimming) */
    SHR_IMPORTANCE_TAYLOR,      /* sum of |w * dL/dw| over the channel's weights, a few batches */
    SHR_IMPORTANCE_CONNECTIONS, /* connections that survive per-layer magnitude pruning */
    SHR_IMPORTANCE_COUNT
} shr_prune_importance;

/* "magnitude", "global", ...; NULL for an invalid value. */
const char *shr_prune_method_name(shr_prune_method m);
shr_status shr_prune_method_parse(const char *name, shr_prune_method *out);
/* "default", "l1", "l2", "bn", "taylor", "connections". */
const char *shr_prune_importance_name(shr_prune_importance i);
shr_status shr_prune_importance_parse(const char *name, shr_prune_importance *out);

/* A per-layer sparsity for magnitude pruning (e.g. chosen by sensitivity analysis). */
typedef struct shr_prune_layer_target {
    const char *node; /* name of a linear or conv2d node */
    float sparsity;
} shr_prune_layer_target;

typedef struct shr_prune_config {
    shr_prune_method method;
    /* magnitude: fraction of each weight tensor set to zero; global: S * (ALL params of
     * the model, biases and batchnorm included) weights are masked, so
     * nonzero_params <= (1-S) params;
     * neuron/channel: fraction of units/channels removed from each dependency group;
     * layer: fraction of the removable residual blocks removed. Ignored by nm. */
    float sparsity;
    shr_prune_importance importance;
    int nm_n, nm_m;               /* nm: keep at most N of every M consecutive input weights */
    /* magnitude / global: prune whole blocks of block_rows output units x block_cols inputs
     * (of the (out, in) view; conv: in = C*KH*KW), weakest L2 norm first; 0 or 1 x 1 prunes
     * single weights. 8x1 and 4x1 blocks run on the sparse runtime's block kernels. */
    int block_rows, block_cols;
    int exclude_first, exclude_last; /* leave the first / last prunable layer dense */
    float max_layer_sparsity;     /* global: no layer beyond this (0 means no cap) */
    const char *const *exclude;   /* node names never pruned */
    int n_exclude;
    const shr_prune_layer_target *layers; /* magnitude: overrides per node (others use sparsity) */
    int n_layers;
    /* taylor / layer importance: a few batches of this data (NULL: weights only). */
    const shr_dataset *data;
    int data_batches; /* default 4 */
    int batch;        /* default 64 */
    uint64_t seed;
} shr_prune_config;

shr_prune_config shr_prune_default(void);
/* 1 for neuron, channel and layer (they rebuild the graph). */
int shr_prune_is_structured(shr_prune_method m);

/* ---- masks: one per prunable weight (input 1 of linear / conv2d nodes) ---- */
typedef struct shr_prune_masks {
    int n;
    int *value;     /* value index of each masked weight */
    uint8_t **keep; /* per weight: numel bytes, 1 kept, 0 pruned */
} shr_prune_masks;

/* All-ones masks over g's prunable weights. */
shr_status shr_prune_masks_create(const shr_graph *g, shr_prune_masks **out);
void shr_prune_masks_free(shr_prune_masks *m); /* NULL is a no-op */
/* Zeroes every masked weight in g (the graph must be the one the masks were made for). */
void shr_prune_masks_apply(const shr_prune_masks *m, shr_graph *g);
/* Fraction of masked elements over all masked weights. */
double shr_prune_masks_sparsity(const shr_prune_masks *m, const shr_graph *g);

/* Unstructured pruning (magnitude, global, nm): narrows the masks to cfg's target
 * (weights already masked stay masked) and applies them to g. */
shr_status shr_prune_unstructured(shr_graph *g, const shr_prune_config *cfg, shr_prune_masks *m);
/* Structured pruning (neuron, channel, layer): replaces *g with a rebuilt,
 * validated graph with smaller tensors (the old graph is freed on success). */
shr_status shr_prune_structured(shr_graph **g, const shr_prune_config *cfg);

/* ---- schedules ---- */
typedef enum shr_prune_schedule_kind {
    SHR_PRUNE_ONESHOT = 0, /* prune once, then fine-tune */
    SHR_PRUNE_ITERATIVE,   /* `cycles` times: prune a step further, fine-tune epochs/cycles */
    SHR_PRUNE_GRADUAL      /* Zhu & Gupta cubic schedule during fine-tuning */
} shr_prune_schedule_kind;
const char *shr_prune_schedule_name(shr_prune_schedule_kind k);
shr_status shr_prune_schedule_parse(const char *name, shr_prune_schedule_kind *out);

typedef struct shr_prune_schedule {
    shr_prune_schedule_kind kind;
    int cycles;             /* iterative (default 3) */
    int start_epoch;        /* gradual t0 (default 0) */
    int end_epoch;          /* gradual: last pruning epoch (default: 3/4 of the fine-tune epochs) */
    int frequency;          /* gradual: epochs between pruning steps (default 1) */
    float initial_sparsity; /* gradual s_i (default 0) */
} shr_prune_schedule;

shr_prune_schedule shr_prune_schedule_default(void);
/* Zhu & Gupta: s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3 for t in [t0, t0 + n dt],
 * s_i before t0 and s_f after. */
float shr_prune_cubic(float s_i, float s_f, int t, int t0, int n, int dt);

/* Prunes *g by cfg following sched, fine-tuning on train with tcfg (tcfg->epochs
 * fine-tune epochs in all; 0 prunes without training). tcfg->hooks (e.g. a
 * teacher's loss) are kept and run alongside the masks. val may be NULL. */
shr_status shr_prune_run(shr_graph **g, const shr_prune_config *cfg, const shr_prune_schedule *sched,
                         const shr_dataset *train, const shr_dataset *val, const shr_train_config *tcfg);

/* ---- reporting ---- */
/* Fraction of zero elements over all prunable weights of g (linear/conv2d weights). */
double shr_prune_weight_sparsity(const shr_graph *g);
/* An SVG document (free() it) drawing every linear/conv weight as a grid of kept /
 * pruned blocks, with the units and filters whose weights are all pruned marked
 * (shrink inspect --sparsity-map). */
shr_status shr_prune_sparsity_map(const shr_graph *g, const char *title, char **svg);

/* ---- sensitivity analysis ---- */
typedef struct shr_sensitivity {
    int n_layers, n_sparsities;
    char **layer;        /* node names of the prunable layers */
    int64_t *params;     /* weights per layer */
    float *sparsity;     /* the sparsities tried */
    double baseline;     /* accuracy of the unpruned model */
    double *accuracy;    /* n_layers x n_sparsities: accuracy with only that layer pruned */
    float *chosen;       /* shr_prune_auto: the sparsity picked per layer */
    double chosen_accuracy; /* shr_prune_auto: accuracy with every layer at its pick (before fine-tuning) */
} shr_sensitivity;

/* Magnitude-prunes one layer at a time to each sparsity and evaluates on d. */
shr_status shr_prune_sensitivity(const shr_graph *g, const shr_dataset *d, const float *sparsities, int n,
                                 int batch, shr_sensitivity **out);
void shr_sensitivity_free(shr_sensitivity *s);
/* Per layer, the largest sparsity whose accuracy drop is at most max_drop (0 if none). */
void shr_sensitivity_pick(const shr_sensitivity *s, double max_drop, float *per_layer);
/* Per-layer sparsities under an accuracy budget: the sensitivity on d, each layer's
 * pick (shr_sensitivity_pick), then every layer one step lower at a time until the
 * model with all picks applied together loses at most max_drop on d as well.
 * Magnitude-prune with targets {layer[i], chosen[i]}. */
shr_status shr_prune_auto(const shr_graph *g, const shr_dataset *d, const float *sparsities, int n, double max_drop,
                          int batch, shr_sensitivity **out);

#ifdef __cplusplus
}
#endif
#endif
