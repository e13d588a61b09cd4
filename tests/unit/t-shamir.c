/* t-shamir: Shamir sharing over GF(2^255 - 19), checked against GMP. */
#include <gmp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "shamir.h"
#include "dmltest.h"
#include "util.h"

static void
to_mpz(mpz_t z, const unsigned char b[32])
{
	mpz_import(z, 32, -1, 1, 0, 0, b);
}

static void
random_element(unsigned char b[32])
{
	do
		randombytes_buf(b, 32);
	while (!shamir_fix_element(b));
}

/* Reference: f(x) at 0 from t points, by GMP. */
static void
gmp_lagrange(mpz_t out, const uint32_t *xs, const unsigned char *ys, int t,
    const mpz_t p)
{
	mpz_t num, den, y, tmp;

	mpz_inits(num, den, y, tmp, NULL);
	mpz_set_ui(out, 0);
	for (int i = 0; i < t; i++) {
		mpz_set_ui(num, 1);
		mpz_set_ui(den, 1);
		for (int j = 0; j < t; j++) {
			if (j == i)
				continue;
			mpz_mul_ui(num, num, xs[j]);
			mpz_set_si(tmp, (long)xs[j] - (long)xs[i]);
			mpz_mul(den, den, tmp);
		}
		mpz_mod(den, den, p);
		mpz_invert(den, den, p);
		to_mpz(y, ys + 32 * i);
		mpz_mul(tmp, num, den);
		mpz_mul(tmp, tmp, y);
		mpz_add(out, out, tmp);
		mpz_mod(out, out, p);
	}
	mpz_clears(num, den, y, tmp, NULL);
}

/* Encodings at the edge of the field. */
static void
check_encodings(void)
{
	unsigned char b[32];

	memset(b, 0xff, 32);
	b[31] = 0x7f;			/* 2^255 - 1 >= p */
	ok(!shamir_is_element(b), "2^255 - 1 is not an element");
	b[0] = 0xed;			/* p itself */
	ok(!shamir_is_element(b), "p is not an element");
	b[0] = 0xec;			/* p - 1 */
	ok(shamir_is_element(b), "p - 1 is an element");
	memset(b, 0, 32);
	b[31] = 0x80;
	ok(!shamir_is_element(b), "bit 255 set is not an element");
	ok(shamir_fix_element(b) && b[31] == 0, "fix clears bit 255");
}

/* Any 4 of the 10 shares sh of s give s back, matching GMP. */
static void
check_subsets(const unsigned char s[32], const uint32_t *xs,
    const unsigned char *sh, const mpz_t p)
{
	unsigned char got[32], sh2[32 * 10];
	uint32_t sub[10];
	mpz_t z, w;
	int okall = 1;

	mpz_inits(z, w, NULL);
	for (int mask = 0; mask < 1024; mask++) {
		int k = 0;
		if (__builtin_popcount(mask) != 4)
			continue;
		for (int i = 0; i < 10; i++)
			if (mask >> i & 1) {
				sub[k] = xs[i];
				memcpy(sh2 + 32 * k, sh + 32 * i, 32);
				k++;
			}
		if (shamir_combine(sub, sh2, 4, 4, got) < 0 ||
		    memcmp(got, s, 32) != 0)
			okall = 0;
		gmp_lagrange(z, sub, sh2, 4, p);
		to_mpz(w, s);
		if (mpz_cmp(z, w) != 0)
			okall = 0;
	}
	ok(okall, "all 210 subsets of 4 shares reconstruct (and agree with "
	    "GMP)");
	/* the shares are the polynomial's values: f(x) - f(0) is divisible
	 * by x for every holder */
	okall = 1;
	for (int i = 0; i < 10; i++) {
		to_mpz(z, sh + 32 * i);
		to_mpz(w, s);
		mpz_sub(z, z, w);
		mpz_mod(z, z, p);
		okall &= mpz_cmp(z, p) < 0;
	}
	ok(okall, "shares are reduced field elements");
	mpz_clears(z, w, NULL);
}

/* Too few, repeated, zero, altered and out-of-field shares of s. */
static void
check_bad_shares(const unsigned char s[32], const uint32_t *xs,
    const unsigned char *sh)
{
	unsigned char got[32], sh2[32 * 10];
	uint32_t sub[4];

	/* t - 1 shares: refused by combine, wrong if forced */
	ok(shamir_combine(xs, sh, 3, 4, got) < 0, "3 shares of a 4-threshold "
	    "are refused");
	ok(shamir_combine(xs, sh, 3, 3, got) == 0 && memcmp(got, s, 32) != 0,
	    "3 shares interpolated anyway give another value");

	/* duplicated and wrong shares */
	sub[0] = 1; sub[1] = 2; sub[2] = 2; sub[3] = 4;
	ok(shamir_combine(sub, sh, 4, 4, got) < 0 &&
	    strstr(dml_errmsg(), "appears twice"), "a repeated index is refused");
	sub[2] = 0;
	ok(shamir_combine(sub, sh, 4, 4, got) < 0, "index 0 is refused");
	memcpy(sh2, sh, sizeof sh2);
	sh2[32 + 5] ^= 1;
	ok(shamir_combine(xs, sh2, 4, 4, got) == 0 && memcmp(got, s, 32) != 0,
	    "an altered share gives a wrong secret");
	memset(sh2 + 32, 0xff, 32);
	ok(shamir_combine(xs, sh2, 4, 4, got) < 0, "a share not below p is "
	    "refused");
}

/* Seeded coefficients are reproducible; t = 1 and t > n. */
static void
check_split_params(const unsigned char s[32], const uint32_t *xs)
{
	unsigned char key[32], sh[32 * 10], sh2[32 * 10];

	memset(key, 7, 32);
	ok(shamir_split(s, 3, xs, 5, key, sh) == 0 &&
	    shamir_split(s, 3, xs, 5, key, sh2) == 0 &&
	    memcmp(sh, sh2, 5 * 32) == 0, "a seeded split is reproducible");
	ok(shamir_split(s, 1, xs, 3, NULL, sh) == 0 &&
	    memcmp(sh, s, 32) == 0 && memcmp(sh + 64, s, 32) == 0,
	    "t = 1: every share is the secret");
	ok(shamir_split(s, 6, xs, 5, NULL, sh) < 0, "t > n is refused");
}

/* Large, sparse holder indices (SecAgg+ neighbourhoods). */
static void
check_sparse(void)
{
	uint32_t big[5] = {70000, 3, 4999, 12345, 9};
	unsigned char s[32], got[32], sh[32 * 5];

	random_element(s);
	ok(shamir_split(s, 3, big, 5, NULL, sh) == 0 &&
	    shamir_combine(big + 2, sh + 64, 3, 3, got) == 0 &&
	    memcmp(got, s, 32) == 0, "sparse indices reconstruct");
}

/* Many random secrets and thresholds; a secret at the top of the field. */
static void
check_random_splits(const uint32_t *xs)
{
	unsigned char s[32], got[32], sh[32 * 10];
	int okall = 1;

	for (int r = 0; r < 200; r++) {
		int t = 1 + (int)randombytes_uniform(10);
		random_element(s);
		if (shamir_split(s, t, xs, 10, NULL, sh) < 0 ||
		    shamir_combine(xs + (10 - t), sh + 32 * (10 - t), t, t,
		    got) < 0 || memcmp(got, s, 32) != 0)
			okall = 0;
	}
	ok(okall, "200 random splits reconstruct from the last t holders");
	/* secrets at the top of the field */
	memset(s, 0xff, 32);
	s[31] = 0x7f;
	s[0] = 0xec;			/* p - 1 */
	ok(shamir_split(s, 5, xs, 10, NULL, sh) == 0 &&
	    shamir_combine(xs + 3, sh + 96, 7, 5, got) == 0 &&
	    memcmp(got, s, 32) == 0, "p - 1 is shared and recovered");
}

int
main(void)
{
	unsigned char s[32], sh[32 * 10];
	uint32_t xs[10];
	mpz_t p;

	test_random();
	if (sodium_init() < 0)
		return 1;
	mpz_init(p);
	mpz_ui_pow_ui(p, 2, 255);
	mpz_sub_ui(p, p, 19);

	check_encodings();
	/* any t of n shares give the secret back, matching GMP */
	for (int i = 0; i < 10; i++)
		xs[i] = (uint32_t)(i + 1);
	random_element(s);
	ok(shamir_split(s, 4, xs, 10, NULL, sh) == 0, "split 4 of 10");
	check_subsets(s, xs, sh, p);
	check_bad_shares(s, xs, sh);
	check_split_params(s, xs);
	check_sparse();
	check_random_splits(xs);
	mpz_clear(p);
	return done_testing();
}
