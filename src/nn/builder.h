/* Internal: compact layer-by-layer graph construction for the zoo and the
 * arch-file parser. Errors are sticky: after the first failure every call
 * returns -1 and b->st keeps the first failure's status (message in
 * shr_last_error()), so builders can be written as straight-line code. */
#ifndef SHR_NN_BUILDER_H
#define SHR_NN_BUILDER_H

#include "shrink/graph.h"
#include "shrink/rng.h"

typedef struct shr_builder {
    shr_graph *g;
    shr_rng rng;
    shr_status st;
} shr_builder;

shr_status shr_builder_init(shr_builder *b, int in_c, int in_h, int in_w, uint64_t seed);
/* Value indices (or -1 after an error). Weights use He-uniform init (bound sqrt(6/fan_in)), biases 0. */
int shr_b_linear(shr_builder *b, const char *name, int x, int out_features, int bias);
int shr_b_conv(shr_builder *b, const char *name, int x, int out_channels, int k, int stride, int pad, int dilation,
               int groups, int bias);
int shr_b_batchnorm(shr_builder *b, const char *name, int x);
/* Any op whose only input is x; attrs may be NULL for defaults. */
int shr_b_unary(shr_builder *b, const char *name, shr_op op, int x, const shr_attrs *attrs);
int shr_b_pool(shr_builder *b, const char *name, shr_op op, int x, int k, int stride, int pad);
int shr_b_add(shr_builder *b, const char *name, int a, int c);
int shr_b_concat(shr_builder *b, const char *name, int n, const int *xs);
/* Channels (dim 1) of an activation value. */
int64_t shr_b_channels(const shr_builder *b, int x);
/* Hands over the graph (or frees it and returns the failure). */
shr_status shr_builder_finish(shr_builder *b, shr_graph **out);

#endif
