/*
 * rng: the seeded random numbers of experiments and simulations.
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * integer stream on every platform. Deriving floats uses only exact
 * operations (uniforms) or libm's log/exp/pow (normal and gamma draws), so
 * those may differ in the last bit across libms.
 *
 * Not for: anything that protects a secret (keys, masks, nonces): those
 * come from libsodium's randombytes.
 */
#ifndef DML_RNG_H
#define DML_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dml_rng {
	uint64_t s[4];
} dml_rng;

/* Seed through splitmix64 (any seed, including 0, is fine). */
void rng_seed(dml_rng *r, uint64_t seed);
/* splitmix64 step: derive independent seeds (seed ^ purpose) portably. */
uint64_t rng_splitmix64(uint64_t *state);
uint64_t rng_next(dml_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(dml_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t rng_below(dml_rng *r, uint64_t n);
/* Standard normal (Marsaglia's polar method). */
double rng_normal(dml_rng *r);
/* Gamma(shape, 1), shape > 0 (Marsaglia and Tsang; shape < 1 boosted by
 * U^(1/shape)). */
double rng_gamma(dml_rng *r, double shape);
/* Index from a discrete distribution of k non-negative weights. */
int rng_pick(dml_rng *r, const double *w, int k);
/* Fisher-Yates shuffle. */
void rng_shuffle(dml_rng *r, size_t *a, size_t n);

#ifdef __cplusplus
}
#endif

#endif
