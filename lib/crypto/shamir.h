/*
 * shamir: t-of-n Shamir secret sharing of 32-byte secrets, for secure
 * aggregation (secagg) to recover the mask secrets of devices that drop
 * out and the self-mask seeds of devices that stay.
 *
 * The field is GF(p), p = 2^255 - 19, so any number of share holders
 * works (a byte-wise GF(256) scheme stops at 255). A secret, a share and a
 * coefficient are field elements written as 32 little-endian bytes below
 * p (bit 255 clear). A secret s is split with a random polynomial
 * f(x) = s + a_1 x + ... + a_(t-1) x^(t-1), the a_i uniform in GF(p); the
 * share of the holder with index x (1, 2, ...: the device's place in the
 * round's roster) is f(x). Any t shares give s back by Lagrange
 * interpolation at 0; t - 1 shares say nothing about it.
 *
 * The arithmetic is in 5 limbs of 51 bits without a branch or a table
 * lookup on secret data; encodings are checked in constant time. Holder
 * indices and Lagrange coefficients are public and are not protected.
 *
 * Not for: choosing holders or thresholds, sealing shares (see secagg).
 */
#ifndef DML_SHAMIR_H
#define DML_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHAMIR_BYTES 32
/* holder indices are 1 .. SHAMIR_MAXX */
#define SHAMIR_MAXX 0xffffffu

/* 1 if b is a field element (32 bytes, little endian, below p), else 0.
 * Constant time. */
int shamir_is_element(const unsigned char b[SHAMIR_BYTES]);

/* Make 32 bytes a field element: clear bit 255; if the value is still at
 * least p (probability 2^-250), 0 with b unchanged (draw again), else 1. */
int shamir_fix_element(unsigned char b[SHAMIR_BYTES]);

/* Split `secret` (a field element) into the shares of holders xs[0..n),
 * threshold t (1 <= t <= n, distinct xs in 1..SHAMIR_MAXX): shares[32 i]
 * is holder xs[i]'s share. The coefficients come from libsodium's
 * randomness, or, when rngkey (32 bytes) is given, from the ChaCha20
 * keystream under it (tests and --seed runs). -1 with dml_error on bad
 * arguments. */
int shamir_split(const unsigned char secret[SHAMIR_BYTES], int t,
    const uint32_t *xs, int n, const unsigned char *rngkey,
    unsigned char *shares);

/* The Lagrange coefficients at 0 of holders xs[0..t): lambda[32 i] for
 * xs[i], so that secret = sum of lambda_i share_i. -1 with dml_error if an
 * index is 0, too large or repeated. */
int shamir_lagrange(const uint32_t *xs, int t, unsigned char *lambda);
/* secret = sum over i < t of lambda_i shares_i. -1 with dml_error if a
 * share is not a field element. */
int shamir_apply(const unsigned char *lambda, const unsigned char *shares,
    int t, unsigned char secret[SHAMIR_BYTES]);
/* Recover a secret from `count` shares of holders xs with threshold t:
 * the first t are used. -1 with dml_error if count < t, or as above.
 * Wrong shares give a wrong secret, not an error: check it against a
 * commitment (secagg does). */
int shamir_combine(const uint32_t *xs, const unsigned char *shares,
    int count, int t, unsigned char secret[SHAMIR_BYTES]);

#ifdef __cplusplus
}
#endif

#endif
