/* dp: clipping, seeded Gaussian noise and the RDP accountant. */
#include "dp.h"
#include "util.h"

#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* ---- clipping -------------------------------------------------------- */

double
dp_l2norm(const double *v, size_t n)
{
	double scale = 0, ssq = 1;	/* norm = scale * sqrt(ssq) */

	for (size_t i = 0; i < n; i++) {
		double a = fabs(v[i]);
		if (a == 0)
			continue;
		if (scale < a) {
			ssq = 1 + ssq * (scale / a) * (scale / a);
			scale = a;
		} else
			ssq += (a / scale) * (a / scale);
	}
	return scale * sqrt(ssq);
}

double
dp_clip(double *v, size_t n, double c)
{
	double norm = dp_l2norm(v, n), f;

	if (norm <= c)
		return norm;
	f = c / norm;
	for (size_t i = 0; i < n; i++)
		v[i] *= f;
	/* rounding may leave the norm an ulp or so above c: shrink again */
	while (dp_l2norm(v, n) > c)
		for (size_t i = 0; i < n; i++)
			v[i] = nextafter(v[i], 0);
	return norm;
}

/* ---- Gaussian noise -------------------------------------------------- */

#define DP_BUF 512	/* keystream bytes drawn at a time: 8 blocks */
#define DP_KEY_DOMAIN "dml-dp-noise-v1"

struct dp_rng {
	unsigned char *key;	/* 32 bytes, sodium_malloc */
	uint64_t block;		/* next ChaCha20 block counter */
	unsigned char buf[DP_BUF];
	size_t pos;
	int spare_ok;
	double spare;
};

dp_rng *
dp_rng_new(const void *seed, size_t len)
{
	dp_rng *r = xcalloc(1, sizeof *r);

	if (!(r->key = sodium_malloc(crypto_stream_chacha20_KEYBYTES))) {
		free(r);
		return dml_error("out of secure memory"), NULL;
	}
	if (seed)
		crypto_generichash(r->key, crypto_stream_chacha20_KEYBYTES,
		    seed, len, (const unsigned char *)DP_KEY_DOMAIN,
		    sizeof DP_KEY_DOMAIN - 1);
	else
		randombytes_buf(r->key, crypto_stream_chacha20_KEYBYTES);
	r->pos = DP_BUF;
	return r;
}

void
dp_rng_free(dp_rng *r)
{
	if (!r)
		return;
	sodium_free(r->key);	/* wipes it */
	sodium_memzero(r, sizeof *r);
	free(r);
}

static uint64_t
next64(dp_rng *r)
{
	static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
	uint64_t x = 0;

	if (r->pos + 8 > DP_BUF) {
		memset(r->buf, 0, DP_BUF);
		crypto_stream_chacha20_xor_ic(r->buf, r->buf, DP_BUF, nonce,
		    r->block, r->key);
		r->block += DP_BUF / 64;
		r->pos = 0;
	}
	for (int i = 7; i >= 0; i--)	/* little endian, whatever the host */
		x = x << 8 | r->buf[r->pos + (size_t)i];
	r->pos += 8;
	return x;
}

double
dp_uniform(dp_rng *r)
{
	return ((double)(next64(r) >> 11) + 0.5) * 0x1.0p-53;
}

double
dp_gauss(dp_rng *r)
{
	double u, v, m;

	if (r->spare_ok) {
		r->spare_ok = 0;
		return r->spare;
	}
	u = dp_uniform(r);
	v = dp_uniform(r);
	m = sqrt(-2 * log(u));
	r->spare = m * sin(2 * M_PI * v);
	r->spare_ok = 1;
	return m * cos(2 * M_PI * v);
}

void
dp_add_noise(dp_rng *r, double *v, size_t n, double sd)
{
	for (size_t i = 0; i < n; i++)
		v[i] += sd * dp_gauss(r);
}

/* ---- accountant ------------------------------------------------------- */

const double dp_default_orders[DP_NORDERS] = {
	1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0,
	2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0,
	3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0,
	4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0,
	5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 5.9, 6.0,
	6.1, 6.2, 6.3, 6.4, 6.5, 6.6, 6.7, 6.8, 6.9, 7.0,
	7.1, 7.2, 7.3, 7.4, 7.5, 7.6, 7.7, 7.8, 7.9, 8.0,
	8.1, 8.2, 8.3, 8.4, 8.5, 8.6, 8.7, 8.8, 8.9, 9.0,
	9.1, 9.2, 9.3, 9.4, 9.5, 9.6, 9.7, 9.8, 9.9, 10.0,
	10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, 10.8, 10.9,
	12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
	28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
	44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
	60, 61, 62, 63,
};

/* log(e^x + e^y) and log(e^x - e^y) (x >= y), -inf standing for 0. */
static double
log_add(double x, double y)
{
	double a = fmin(x, y), b = fmax(x, y);

	if (a == -INFINITY)
		return b;
	return log1p(exp(a - b)) + b;
}

static double
log_sub(double x, double y)
{
	if (x < y)
		return NAN;
	if (y == -INFINITY)
		return x;
	if (x == y)
		return -INFINITY;
	if (x - y > 700)	/* exp would overflow; e^y is negligible */
		return x;
	return log(expm1(x - y)) + y;
}

/* log(erfc(x)), accurate where erfc underflows. */
static double
log_erfc(double x)
{
	double x2, s;

	if (x < 20)
		return log(erfc(x));
	/* erfc(x) = e^{-x^2} / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(2x^2)^2
	 * - 15/(2x^2)^3 + 105/(2x^2)^4 ...), the asymptotic series */
	x2 = 1 / (2 * x * x);
	s = 1 - x2 * (1 - 3 * x2 * (1 - 5 * x2 * (1 - 7 * x2)));
	return -x * x - log(x) - 0.5 * log(M_PI) + log(s);
}

/* log A_alpha at an integer order: sum over i of C(a, i) q^i (1-q)^(a-i)
 * exp((i^2 - i) / (2 z^2)). */
static double
log_a_int(double q, double z, long a)
{
	double la = -INFINITY, lc = 0;	/* lc = log C(a, i) */

	for (long i = 0; i <= a; i++) {
		double s = lc + (double)i * log(q) + (double)(a - i) * log1p(-q) +
		    ((double)i * (double)i - (double)i) / (2 * z * z);
		la = log_add(la, s);
		lc += log((double)(a - i) / (double)(i + 1));
	}
	return la;
}

/* log A_alpha at a fractional order: the two halves of the integral split
 * at z0, each a series in the generalised binomial coefficients, summed
 * until their terms fall below e^-30. */
static double
log_a_frac(double q, double z, double a)
{
	double la0 = -INFINITY, la1 = -INFINITY, lc = 0, z0;
	int sign = 1;

	z0 = z * z * log(1 / q - 1) + 0.5;
	for (long i = 0;; i++) {
		double j = a - (double)i, t0, t1, e0, e1, s0, s1, c;
		t0 = lc + (double)i * log(q) + j * log1p(-q);
		t1 = lc + j * log(q) + (double)i * log1p(-q);
		e0 = log(0.5) + log_erfc(((double)i - z0) / (M_SQRT2 * z));
		e1 = log(0.5) + log_erfc((z0 - j) / (M_SQRT2 * z));
		s0 = t0 + ((double)i * (double)i - (double)i) / (2 * z * z) + e0;
		s1 = t1 + (j * j - j) / (2 * z * z) + e1;
		if (sign > 0) {
			la0 = log_add(la0, s0);
			la1 = log_add(la1, s1);
		} else {
			la0 = log_sub(la0, s0);
			la1 = log_sub(la1, s1);
		}
		if (fmax(s0, s1) < -30 || isnan(la0) || isnan(la1) || i > 100000)
			break;
		/* C(a, i+1) = C(a, i) (a - i) / (i + 1) */
		c = (a - (double)i) / (double)(i + 1);
		if (c < 0)
			sign = -sign;
		if (c == 0)
			break;
		lc += log(fabs(c));
	}
	return log_add(la0, la1);
}

double
dp_rdp_sgm(double q, double z, double alpha)
{
	if (!(q >= 0 && q <= 1) || !(z >= 0) || !(alpha > 1))
		return NAN;
	if (q == 0)
		return 0;
	if (z == 0 || isinf(alpha))
		return INFINITY;
	if (q == 1)
		return alpha / (2 * z * z);
	if (alpha == floor(alpha) && alpha < 1e6)
		return log_a_int(q, z, (long)alpha) / (alpha - 1);
	return log_a_frac(q, z, alpha) / (alpha - 1);
}

void
dp_rdp(double q, double z, long long steps, const double *orders, size_t n,
    double *rdp)
{
	for (size_t i = 0; i < n; i++)
		rdp[i] = (double)steps * dp_rdp_sgm(q, z, orders[i]);
}

double
dp_epsilon(const double *orders, const double *rdp, size_t n, double delta,
    double *order)
{
	double best = INFINITY, bo = NAN;

	for (size_t i = 0; i < n; i++) {
		double a = orders[i], e;
		e = rdp[i] - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a);
		if (!isnan(e) && (isnan(bo) || e < best)) {
			best = e;
			bo = a;
		}
	}
	if (order)
		*order = bo;
	return best;
}

double
dp_spent(double q, double z, long long steps, double delta, double *order)
{
	double rdp[DP_NORDERS];

	dp_rdp(q, z, steps, dp_default_orders, DP_NORDERS, rdp);
	return dp_epsilon(dp_default_orders, rdp, DP_NORDERS, delta, order);
}
