/* rng: xoshiro256** seeded through splitmix64 (see rng.h). */
#include "rng.h"

#include <math.h>
#include <stddef.h>

uint64_t
rng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
rng_seed(dml_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
rng_next(dml_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double
rng_uniform(dml_rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
rng_below(dml_rng *r, uint64_t n)
{
	uint64_t min = -n % n, x;	/* 2^64 mod n: values below are biased */

	do
		x = rng_next(r);
	while (x < min);
	return x % n;
}

double
rng_normal(dml_rng *r)
{
	double u, v, s;

	do {
		u = 2 * rng_uniform(r) - 1;
		v = 2 * rng_uniform(r) - 1;
		s = u * u + v * v;
	} while (s >= 1 || s == 0);
	return u * sqrt(-2 * log(s) / s);
}

double
rng_gamma(dml_rng *r, double a)
{
	double d, c, x, v, u;

	if (a < 1) {
		/* Gamma(a) = Gamma(a+1) * U^(1/a); 1-U lies in (0,1] */
		u = 1 - rng_uniform(r);
		return rng_gamma(r, a + 1) * pow(u, 1 / a);
	}
	d = a - 1.0 / 3;
	c = 1 / sqrt(9 * d);
	for (;;) {
		do {
			x = rng_normal(r);
			v = 1 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = rng_uniform(r);
		if (u < 1 - 0.0331 * x * x * x * x)
			return d * v;
		if (u > 0 && log(u) < 0.5 * x * x + d * (1 - v + log(v)))
			return d * v;
	}
}

int
rng_pick(dml_rng *r, const double *w, int k)
{
	double total = 0, u, acc = 0;
	int last = 0;

	for (int i = 0; i < k; i++)
		total += w[i];
	u = rng_uniform(r) * total;
	for (int i = 0; i < k; i++) {
		if (w[i] <= 0)
			continue;
		acc += w[i];
		last = i;
		if (u < acc)
			return i;
	}
	return last;
}

void
rng_shuffle(dml_rng *r, size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rng_below(r, i), t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}
