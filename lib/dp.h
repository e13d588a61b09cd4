/*
 * dp: differential privacy for train updates: L2 clipping, Gaussian
 * noise from a keyed ChaCha20 stream, and the accountant (Renyi DP of the
 * sampled Gaussian mechanism, converted to (epsilon, delta)).
 *
 * The accountant follows Mironov, Talwar and Zhang, "Renyi Differential
 * Privacy of the Sampled Gaussian Mechanism" (2019): log A_alpha by the
 * exact binomial sum at integer orders and by the two-sided series at
 * fractional ones; RDP composes by adding over steps; the conversion to
 * (epsilon, delta) is the one of Opacus's RDPAccountant (Balle et al.
 * 2020, Theorem 21): eps = rdp - (log delta + log a) / (a - 1)
 * + log((a - 1) / a), minimised over the orders. The default orders are
 * Opacus's: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
 *
 * Not for: deciding what is clipped or when (dml-privacy does), secure
 * aggregation, or cryptographic randomness other than the noise key.
 */
#ifndef DML_DP_H
#define DML_DP_H

#include <stddef.h>

/* ---- clipping -------------------------------------------------------- */

/* Euclidean norm of v, computed without overflow. */
double dp_l2norm(const double *v, size_t n);
/* Scale v so its L2 norm is at most c (c > 0); returns the norm before. */
double dp_clip(double *v, size_t n, double c);

/* ---- Gaussian noise -------------------------------------------------- */

typedef struct dp_rng dp_rng;

/* A normal generator over the ChaCha20 keystream of libsodium. With a
 * seed the key is BLAKE2b-256 of the seed bytes (same seed, same noise);
 * with seed NULL the key comes from randombytes_buf. The key lives in
 * sodium_malloc memory and is wiped by dp_rng_free. NULL + dml_error if
 * secure memory cannot be had. */
dp_rng *dp_rng_new(const void *seed, size_t len);
void dp_rng_free(dp_rng *r);
/* Uniform in (0, 1), 53 random bits, never 0 or 1. */
double dp_uniform(dp_rng *r);
/* Standard normal by the Box-Muller transform (both values used). */
double dp_gauss(dp_rng *r);
/* v[i] += sd * N(0, 1) for each i. */
void dp_add_noise(dp_rng *r, double *v, size_t n, double sd);

/* ---- accountant ------------------------------------------------------- */

/* Opacus RDPAccountant.DEFAULT_ALPHAS. */
#define DP_NORDERS 151
extern const double dp_default_orders[DP_NORDERS];

/* RDP at order alpha (> 1) of one step of the sampled Gaussian mechanism
 * with sampling rate q in [0, 1] and noise multiplier z > 0: 0 at q = 0,
 * alpha / (2 z^2) at q = 1. NaN on bad arguments. */
double dp_rdp_sgm(double q, double z, double alpha);
/* rdp[i] = steps * dp_rdp_sgm(q, z, orders[i]). */
void dp_rdp(double q, double z, long long steps, const double *orders,
    size_t n, double *rdp);
/* The smallest epsilon over the orders at this delta (0 < delta < 1) and
 * the order giving it; infinite epsilon if no order gives a finite one. */
double dp_epsilon(const double *orders, const double *rdp, size_t n,
    double delta, double *order);
/* epsilon after `steps` steps at the default orders. */
double dp_spent(double q, double z, long long steps, double delta,
    double *order);

#endif
