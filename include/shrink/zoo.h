/* The model zoo and user-defined architectures. */
#ifndef SHRINK_ZOO_H
#define SHRINK_ZOO_H

#include <stdint.h>
#include "shrink/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds an initialized model for a zoo name: "mlp" (LeNet-300-100), "mlp-small"
 * (784-64-10), "lenet5", "cnn", "cnn-tiny" (cnn with a quarter of the channels),
 * "resnet8", "dwnet". in_c/in_h/in_w is the sample shape, n_classes the
 * number of outputs. Weights are initialized from `seed` (Kaiming-uniform). */
shr_status shr_zoo_build(const char *arch, int in_c, int in_h, int in_w, int n_classes, uint64_t seed,
                         shr_graph **out);
/* Space-separated list of zoo names. */
const char *shr_zoo_names(void);
/* Builds a model from the text spec of --arch-file (see docs/arch-file.md). */
shr_status shr_arch_parse(const char *text, int in_c, int in_h, int in_w, int n_classes, uint64_t seed,
                          shr_graph **out);

#ifdef __cplusplus
}
#endif
#endif
