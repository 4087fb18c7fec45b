/* Deterministic random numbers (xoshiro256**, seeded by splitmix64): the same
 * seed gives the same stream on every machine. */
#ifndef SHRINK_RNG_H
#define SHRINK_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shr_rng {
    uint64_t s[4];
} shr_rng;

void shr_rng_seed(shr_rng *r, uint64_t seed);
uint64_t shr_rng_next(shr_rng *r);
/* Uniform in [0, 1). */
float shr_rng_uniform(shr_rng *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t shr_rng_below(shr_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float shr_rng_normal(shr_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void shr_rng_shuffle(shr_rng *r, int64_t *idx, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
