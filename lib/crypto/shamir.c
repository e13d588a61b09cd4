/* shamir: Shamir secret sharing over GF(2^255 - 19); see shamir.h. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "shamir.h"
#include "util.h"

typedef unsigned __int128 u128;
typedef struct { uint64_t v[5]; } fe;	/* sum of v[i] 2^(51 i) */

#define M51 ((1ULL << 51) - 1)

static void
fe_carry(fe *h)
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		c = h->v[i] >> 51;
		h->v[i] &= M51;
		h->v[i + 1] += c;
	}
	c = h->v[4] >> 51;
	h->v[4] &= M51;
	h->v[0] += 19 * c;
	c = h->v[0] >> 51;
	h->v[0] &= M51;
	h->v[1] += c;
}

static void
fe_frombytes(fe *h, const unsigned char s[32])
{
	uint64_t w[4];

	for (int i = 0; i < 4; i++) {
		w[i] = 0;
		for (int j = 7; j >= 0; j--)
			w[i] = w[i] << 8 | s[8 * i + j];
	}
	h->v[0] = w[0] & M51;
	h->v[1] = (w[0] >> 51 | w[1] << 13) & M51;
	h->v[2] = (w[1] >> 38 | w[2] << 26) & M51;
	h->v[3] = (w[2] >> 25 | w[3] << 39) & M51;
	h->v[4] = (w[3] >> 12) & M51;	/* bit 255 dropped */
}

/* The canonical encoding: fully reduced below p. */
static void
fe_tobytes(unsigned char s[32], const fe *f)
{
	fe h = *f;
	uint64_t q, w[4];

	/* three passes leave every limb below 2^51 */
	fe_carry(&h);
	fe_carry(&h);
	fe_carry(&h);
	/* q = 1 exactly when h >= p */
	q = (h.v[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h.v[i] + q) >> 51;
	h.v[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h.v[i + 1] += h.v[i] >> 51;
		h.v[i] &= M51;
	}
	h.v[4] &= M51;
	w[0] = h.v[0] | h.v[1] << 51;
	w[1] = h.v[1] >> 13 | h.v[2] << 38;
	w[2] = h.v[2] >> 26 | h.v[3] << 25;
	w[3] = h.v[3] >> 39 | h.v[4] << 12;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			s[8 * i + j] = (unsigned char)(w[i] >> (8 * j));
}

static void
fe_add(fe *h, const fe *f, const fe *g)
{
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* h = t, five 128-bit limb products, carried down to 51-bit limbs. */
static void
fe_reduce_wide(fe *h, u128 t[5])
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		t[i + 1] += t[i] >> 51;
		t[i] &= M51;
	}
	c = (uint64_t)(t[4] >> 51);
	t[4] &= M51;
	for (int i = 0; i < 5; i++)
		h->v[i] = (uint64_t)t[i];
	h->v[0] += 19 * c;
	fe_carry(h);
}

static void
fe_mul(fe *h, const fe *f, const fe *g)
{
	const uint64_t *a = f->v, *b = g->v;
	uint64_t b1 = 19 * b[1], b2 = 19 * b[2], b3 = 19 * b[3],
		 b4 = 19 * b[4];
	u128 t[5];

	t[0] = (u128)a[0] * b[0] + (u128)a[1] * b4 + (u128)a[2] * b3 +
	    (u128)a[3] * b2 + (u128)a[4] * b1;
	t[1] = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4 +
	    (u128)a[3] * b3 + (u128)a[4] * b2;
	t[2] = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] +
	    (u128)a[3] * b4 + (u128)a[4] * b3;
	t[3] = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] +
	    (u128)a[3] * b[0] + (u128)a[4] * b4;
	t[4] = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] +
	    (u128)a[3] * b[1] + (u128)a[4] * b[0];
	fe_reduce_wide(h, t);
}

/* h = f x for a small public x. */
static void
fe_mul_small(fe *h, const fe *f, uint32_t x)
{
	u128 t[5];

	for (int i = 0; i < 5; i++)
		t[i] = (u128)f->v[i] * x;
	fe_reduce_wide(h, t);
}

static void
fe_small(fe *h, uint64_t x)
{
	memset(h, 0, sizeof *h);
	h->v[0] = x & M51;
	h->v[1] = x >> 51;
}

/* f - g as f + 2p - g (limbs of both below 2^52 after a carry). */
static void
fe_sub(fe *h, const fe *f, const fe *g)
{
	static const uint64_t twop[5] = {
		0xfffffffffffdaULL, 0xffffffffffffeULL, 0xffffffffffffeULL,
		0xffffffffffffeULL, 0xffffffffffffeULL };
	fe a = *f, b = *g;

	fe_carry(&a);
	fe_carry(&b);
	for (int i = 0; i < 5; i++)
		h->v[i] = a.v[i] + twop[i] - b.v[i];
	fe_carry(h);
}

/* f^(p-2): the inverse of a public nonzero f (the exponent is public). */
static void
fe_invert(fe *h, const fe *f)
{
	/* p - 2 = 2^255 - 21: bits 254..5 set, then 01011 */
	fe r, b = *f;

	fe_small(&r, 1);
	for (int i = 0; i < 255; i++) {
		int bit = i >= 5 ? 1 : (0x0b >> i) & 1;
		if (bit)
			fe_mul(&r, &r, &b);
		fe_mul(&b, &b, &b);
	}
	*h = r;
}

int
shamir_is_element(const unsigned char b[32])
{
	unsigned char c[32];
	fe h;
	int eq;

	fe_frombytes(&h, b);
	fe_tobytes(c, &h);
	eq = sodium_memcmp(b, c, 32) == 0;
	sodium_memzero(c, sizeof c);
	sodium_memzero(&h, sizeof h);
	return eq;
}

int
shamir_fix_element(unsigned char b[32])
{
	unsigned char c[32];

	memcpy(c, b, 32);
	c[31] &= 0x7f;
	if (!shamir_is_element(c)) {
		sodium_memzero(c, sizeof c);
		return 0;
	}
	memcpy(b, c, 32);
	sodium_memzero(c, sizeof c);
	return 1;
}

static int
check_xs(const uint32_t *xs, int n)
{
	for (int i = 0; i < n; i++) {
		if (xs[i] == 0 || xs[i] > SHAMIR_MAXX)
			return dml_error("share index %u is out of range "
			    "(1..%u)", xs[i], SHAMIR_MAXX);
		for (int j = 0; j < i; j++)
			if (xs[i] == xs[j])
				return dml_error("share index %u appears twice",
				    xs[i]);
	}
	return 0;
}

/* The next coefficient from the keystream (or randombytes). */
static void
draw(unsigned char out[32], const unsigned char *rngkey, uint64_t *ctr)
{
	static const unsigned char zero[32];
	unsigned char nonce[8];

	do {
		if (rngkey) {
			for (int i = 0; i < 8; i++)
				nonce[i] = (unsigned char)(*ctr >> (8 * i));
			(*ctr)++;
			crypto_stream_chacha20_xor(out, zero, 32, nonce, rngkey);
		} else
			randombytes_buf(out, 32);
	} while (!shamir_fix_element(out));
}

int
shamir_split(const unsigned char secret[32], int t, const uint32_t *xs,
    int n, const unsigned char *rngkey, unsigned char *shares)
{
	fe *a, y;
	unsigned char buf[32];
	uint64_t ctr = 0;

	if (t < 1 || t > n)
		return dml_error("threshold %d is not between 1 and %d", t, n);
	if (check_xs(xs, n) < 0)
		return -1;
	if (!shamir_is_element(secret))
		return dml_error("the secret is not a field element");
	if (!(a = sodium_allocarray((size_t)t, sizeof *a)))
		return dml_error("out of secure memory");
	fe_frombytes(&a[0], secret);
	for (int i = 1; i < t; i++) {
		draw(buf, rngkey, &ctr);
		fe_frombytes(&a[i], buf);
	}
	for (int j = 0; j < n; j++) {	/* Horner at x = xs[j] */
		y = a[t - 1];
		for (int i = t - 2; i >= 0; i--) {
			fe_mul_small(&y, &y, xs[j]);
			fe_add(&y, &y, &a[i]);
		}
		fe_tobytes(shares + 32 * (size_t)j, &y);
	}
	sodium_memzero(&y, sizeof y);
	sodium_memzero(buf, sizeof buf);
	sodium_free(a);
	return 0;
}

int
shamir_lagrange(const uint32_t *xs, int t, unsigned char *lambda)
{
	fe num, den, d, inv;

	if (t < 1)
		return dml_error("no shares");
	if (check_xs(xs, t) < 0)
		return -1;
	/* lambda_i = prod over j != i of x_j / (x_j - x_i) */
	for (int i = 0; i < t; i++) {
		fe_small(&num, 1);
		fe_small(&den, 1);
		for (int j = 0; j < t; j++) {
			fe xj, xi;
			if (j == i)
				continue;
			fe_mul_small(&num, &num, xs[j]);
			fe_small(&xj, xs[j]);
			fe_small(&xi, xs[i]);
			fe_sub(&d, &xj, &xi);
			fe_mul(&den, &den, &d);
		}
		fe_invert(&inv, &den);
		fe_mul(&num, &num, &inv);
		fe_tobytes(lambda + 32 * (size_t)i, &num);
	}
	return 0;
}

int
shamir_apply(const unsigned char *lambda, const unsigned char *shares,
    int t, unsigned char secret[32])
{
	fe acc, l, s;
	int bad = 0;

	fe_small(&acc, 0);
	for (int i = 0; i < t; i++) {
		bad |= !shamir_is_element(shares + 32 * (size_t)i);
		fe_frombytes(&l, lambda + 32 * (size_t)i);
		fe_frombytes(&s, shares + 32 * (size_t)i);
		fe_mul(&s, &s, &l);
		fe_add(&acc, &acc, &s);
	}
	fe_tobytes(secret, &acc);
	sodium_memzero(&acc, sizeof acc);
	sodium_memzero(&s, sizeof s);
	if (bad) {
		sodium_memzero(secret, 32);
		return dml_error("a share is not a field element (below "
		    "2^255 - 19)");
	}
	return 0;
}

int
shamir_combine(const uint32_t *xs, const unsigned char *shares, int count,
    int t, unsigned char secret[32])
{
	unsigned char *lambda;
	int rc;

	if (t < 1 || count < t)
		return dml_error("%d shares, the threshold is %d", count, t);
	lambda = xmalloc(32 * (size_t)t);
	rc = shamir_lagrange(xs, t, lambda);
	if (rc == 0)
		rc = shamir_apply(lambda, shares, t, secret);
	free(lambda);
	return rc;
}
