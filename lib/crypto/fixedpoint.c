/* fixedpoint: signed fixed-point values packed into big-integer slots. */
#include "fixedpoint.h"
#include "util.h"

#include <limits.h>
#include <math.h>

_Static_assert(sizeof(unsigned long) >= 8, "slots need 64-bit longs");

int
fxp_log2ceil(long long s)
{
	int l = 0;

	while (l < 62 && (1LL << l) < s)
		l++;
	return l;
}

int
fxp_layout_init(fxp_layout *l, int frac, int ibits, long long max_summands,
    int plainbits)
{
	if (frac < 0 || frac > FXP_MAXFRAC)
		return dml_error("precision of %d fractional bits is outside "
		    "[0, %d]", frac, FXP_MAXFRAC);
	if (ibits < 1 || ibits > 62)
		return dml_error("%d integer bits is outside [1, 62]", ibits);
	if (max_summands < 1 || max_summands > FXP_MAXSUMMANDS)
		return dml_error("max_summands %lld is outside [1, 2^40]",
		    max_summands);
	l->frac = frac;
	l->ibits = ibits;
	l->max_summands = max_summands;
	l->width = ibits + frac + fxp_log2ceil(max_summands) + 1;
	if (l->width > FXP_MAXWIDTH)
		return dml_error("a slot of %d integer bits, %d fractional bits "
		    "and room for %lld summands needs %d bits, more than %d",
		    ibits, frac, max_summands, l->width, FXP_MAXWIDTH);
	l->slots = (plainbits - 2) / l->width;
	if (l->slots < 1)
		return dml_error("a %d-bit slot does not fit a %d-bit plaintext",
		    l->width, plainbits);
	return 0;
}

int64_t
fxp_max_value(const fxp_layout *l)
{
	return (int64_t)((1ULL << (l->ibits + l->frac)) - 1);
}

int
fxp_encode(double x, int frac, int64_t max, int64_t *v)
{
	double y;

	if (!isfinite(x))
		return -1;
	y = round(ldexp(x, frac));
	/* compare in double first: y may be far outside int64_t */
	if (!(fabs(y) <= (double)max) || fabs(y) > 0x1p62)
		return -1;
	*v = (int64_t)y;
	if (*v > max || *v < -max)	/* (double)max may have rounded up */
		return -1;
	return 0;
}

void
fxp_pack(mpz_t m, const int64_t *v, int k, int width, const mpz_t n)
{
	mpz_set_si(m, 0);
	for (int t = k - 1; t >= 0; t--) {
		mpz_mul_2exp(m, m, (mp_bitcnt_t)width);
		if (v[t] >= 0)
			mpz_add_ui(m, m, (unsigned long)v[t]);
		else	/* -v[t] cannot overflow: |v[t]| < 2^62 */
			mpz_sub_ui(m, m, (unsigned long)-v[t]);
	}
	if (mpz_sgn(m) < 0)
		mpz_add(m, m, n);
}

int
fxp_unpack(int64_t *v, int k, int width, const mpz_t m, const mpz_t n)
{
	mpz_t x, r;
	unsigned long half = 1UL << (width - 1);
	int rc = 0;

	mpz_init_set(x, m);
	mpz_init(r);
	/* signed reading: M > n/2 stands for M - n */
	mpz_mul_2exp(r, x, 1);
	if (mpz_cmp(r, n) > 0)
		mpz_sub(x, x, n);
	for (int t = 0; t < k; t++) {
		unsigned long low;
		mpz_fdiv_r_2exp(r, x, (mp_bitcnt_t)width);	/* in [0, 2^w) */
		low = mpz_get_ui(r);
		if (low >= half) {	/* negative: the slot borrowed */
			v[t] = -(int64_t)((half << 1) - low);
			mpz_add_ui(x, x, (unsigned long)-v[t]);
		} else {
			v[t] = (int64_t)low;
			mpz_sub_ui(x, x, low);
		}
		mpz_fdiv_q_2exp(x, x, (mp_bitcnt_t)width);	/* exact */
	}
	if (mpz_sgn(x) != 0)
		rc = -1;
	mpz_clear(x);
	mpz_clear(r);
	return rc;
}
