/*
 * fixedpoint: real numbers as signed fixed-point integers, packed several
 * to one big-integer plaintext, so one additively homomorphic ciphertext
 * carries many values and adding ciphertexts adds every slot at once.
 *
 * A layout has f fractional bits (precision 2^-f), i integer bits (every
 * encoded value satisfies |x| < 2^i) and a summand budget S. A value x is
 * the integer v = round(x * 2^f) (nearest, ties away from zero) with
 * |v| <= 2^(i+f) - 1. A slot is w = i + f + ceil(log2 S) + 1 bits wide,
 * so the sum of up to S values stays inside (-2^(w-1), 2^(w-1)). Slots
 * per plaintext: k = floor((B - 2) / w) for a modulus of B bits, which
 * keeps every packed sum inside (-n/2, n/2).
 *
 * Packing is signed and positional: M = sum over t of v_t * 2^(w t)
 * (slot 0 the least significant), taken modulo n, so a negative M wraps
 * to n - |M|. Unpacking reads M back as a signed integer in (-n/2, n/2)
 * and peels the slots off from the bottom, each as a w-bit two's
 * complement number; the borrow a negative slot leaves above it is undone
 * as it is peeled. What is left after k slots must be zero.
 *
 * Not for: encryption (paillier) or reading jobs (job).
 */
#ifndef DML_FIXEDPOINT_H
#define DML_FIXEDPOINT_H

#include <gmp.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FXP_MAXFRAC 52		/* fractional bits */
#define FXP_MAXWIDTH 63		/* a slot's sum fits an int64_t */
#define FXP_MAXSUMMANDS (1LL << 40)
#define FXP_MAXSLOTS 1536	/* (3072 - 2) / 2 rounded up */

typedef struct fxp_layout {
	int frac;		/* f: fractional bits */
	int ibits;		/* i: integer bits, |x| < 2^i */
	long long max_summands;	/* S */
	int width;		/* w = i + f + ceil(log2 S) + 1 */
	int slots;		/* k = floor((plainbits - 2) / w) */
} fxp_layout;

/* ceil(log2 s) for s >= 1. */
int fxp_log2ceil(long long s);
/* Fill a layout for plaintexts modulo an n of `plainbits` bits; -1 with
 * dml_error if a parameter is out of range or a slot would be wider than
 * FXP_MAXWIDTH bits. */
int fxp_layout_init(fxp_layout *l, int frac, int ibits, long long max_summands,
    int plainbits);
/* The largest magnitude of one encoded summand: 2^(i+f) - 1. */
int64_t fxp_max_value(const fxp_layout *l);
/* v = round(x * 2^frac). -1 (no dml_error; the caller names the value)
 * when x is not finite or |v| exceeds `max` (max >= 0). */
int fxp_encode(double x, int frac, int64_t max, int64_t *v);
/* m = sum over t < k of v[t] * 2^(width t), reduced into [0, n). The
 * caller keeps |v[t]| < 2^(width-1) and k * width <= bits(n) - 2. */
void fxp_pack(mpz_t m, const int64_t *v, int k, int width, const mpz_t n);
/* The inverse of fxp_pack for a plaintext m in [0, n): v[0..k). -1 if m
 * is not of that form (something is left above slot k-1: a wrong key or
 * an overflow). */
int fxp_unpack(int64_t *v, int k, int width, const mpz_t m, const mpz_t n);

#ifdef __cplusplus
}
#endif

#endif
