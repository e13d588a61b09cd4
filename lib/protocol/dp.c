/* dp: clipping, seeded Gaussian noise, the RDP accountant and their
 * application to the records of a job (what dml-privacy runs). */
#include "dp.h"
#include "tensor.h"
#include "util.h"

#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- records ----------------------------------------------------------- */

static const char *const mode_name[] = {"central", "distributed"};

dp_rng *
dp_record_rng(long seed, const char *purpose, const unsigned char pk[32],
    const char *job, long long round)
{
	unsigned char buf[8 + 16 + 32 + CID_MAXSTR + 8];
	size_t n = 0, l;
	dp_rng *g;

	if (seed < 0)
		return dp_rng_new(NULL, 0);
	for (int i = 0; i < 8; i++)
		buf[n++] = (unsigned char)((unsigned long)seed >> (8 * i));
	memset(buf + n, 0, 16);
	memcpy(buf + n, purpose, strlen(purpose));
	n += 16;
	memcpy(buf + n, pk, 32);
	n += 32;
	l = strlen(job);
	memcpy(buf + n, job, l);
	n += l;
	for (int i = 0; i < 8; i++)
		buf[n++] = (unsigned char)((unsigned long long)round >> (8 * i));
	g = dp_rng_new(buf, n);
	sodium_memzero(buf, sizeof buf);	/* it gives the noise key */
	return g;
}

/* The train update at o[field] as doubles (its dtype kept in *dt). */
static double *
read_update(const rec_in *in, const json_t *o, const char *field,
    const dml_job *j, enum dml_dtype *dt)
{
	json_t *x = json_object_get(o, field);
	dml_tensor t;
	double *v;

	if (!x)
		return rec_err(in, "missing field \"%s\"", field), NULL;
	if (tensor_from_json(in, x, field, &t) < 0)
		return NULL;
	if ((t.dtype != DT_F32 && t.dtype != DT_F64) || t.ndim != 1 ||
	    (long long)t.n != j->params) {
		tensor_free(&t);
		return rec_err(in, "tensor \"%s\" must be f32 or f64 of shape "
		    "[%lld]", field, j->params), NULL;
	}
	v = xmalloc(t.n * sizeof *v);
	for (size_t i = 0; i < t.n; i++)
		v[i] = tensor_get(&t, i);
	*dt = t.dtype;
	tensor_free(&t);
	return v;
}

static json_t *
update_json(const double *v, size_t n, enum dml_dtype dt)
{
	int64_t shape[1] = {(int64_t)n};
	json_t *t;
	float *f;

	if (dt == DT_F64)
		return tensor_to_json(DT_F64, 1, shape, v);
	f = xmalloc(n * sizeof *f);
	for (size_t i = 0; i < n; i++)
		f[i] = (float)v[i];
	t = tensor_to_json(DT_F32, 1, shape, f);
	free(f);
	return t;
}

/* Clip v to norm c as the values will travel: an f32 update is rounded
 * to f32 first, and nudged toward 0 while rounding left it above c, so
 * the bound holds for the bytes sent, not only for the doubles. */
static void
clip_as(double *v, size_t n, double c, enum dml_dtype dt)
{
	dp_clip(v, n, c);
	if (dt != DT_F32)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = (float)v[i];
	while (dp_l2norm(v, n) > c)
		for (size_t i = 0; i < n; i++)
			v[i] = nextafterf((float)v[i], 0);
}

int
dp_check_record(const rec_in *in, const json_t *r, const char *type,
    const dml_job *j, const unsigned char *signer, int fresh,
    long long *round)
{
	unsigned char pk[32];
	const char *id, *task;

	if (rec_check(in, r, type) < 0 || rec_verify(r, in, pk) < 0 ||
	    rec_get_str(in, r, "job", &id) < 0 ||
	    rec_get_str(in, r, "task", &task) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 40, round) < 0)
		return -1;
	if (strcmp(id, j->id) != 0)
		return rec_err(in, "the %s is for job %.60s, not %s", type + 4,
		    id, j->id);
	if (strcmp(task, "train") != 0)
		return rec_err(in, "the %s is of a %.20s task, not train",
		    type + 4, task);
	if (*round >= j->rounds)
		return rec_err(in, "round %lld: the job has %lld rounds", *round,
		    j->rounds);
	if (signer && memcmp(pk, signer, 32) != 0)
		return rec_err(in, "the %s is signed by another key than -k "
		    "(%s re-signs only its own)", type + 4, type + 4);
	if (fresh && json_object_get(r, "privacy"))
		return rec_err(in, "the %s already has \"privacy\" (clipped or "
		    "noised twice?)", type + 4);
	return 0;
}

/* v += N(0, sd^2) from the record's generator; -2 if it cannot be had. */
static int
noise_update(double *v, size_t n, double sd, long seed, const char *purpose,
    const unsigned char pk[32], const char *job, long long round)
{
	dp_rng *g = dp_record_rng(seed, purpose, pk, job, round);

	if (!g)
		return -2;
	dp_add_noise(g, v, n, sd);
	dp_rng_free(g);
	return 0;
}

int
dp_clip_result(const rec_in *in, json_t *r, const dml_job *j,
    const dml_key *k, long seed)
{
	/* distributed: min_devices shares sum to at least the job's noise */
	double sd = j->dp.distributed ? j->dp.noise * j->dp.clip /
	    sqrt((double)j->min_devices) : 0;
	size_t n = (size_t)j->params;
	json_t *vals;
	enum dml_dtype dt;
	long long round;
	double *v;

	if (dp_check_record(in, r, "dml.result", j, k->pk, 1, &round) < 0 ||
	    !(vals = rec_get_obj(in, r, "values")) ||
	    !(v = read_update(in, vals, "delta", j, &dt)))
		return -1;
	clip_as(v, n, j->dp.clip, dt);
	if (sd > 0 && noise_update(v, n, sd, seed, "clip", k->pk, j->id,
	    round) < 0) {
		free(v);
		return -2;
	}
	json_object_set_new(vals, "delta", update_json(v, n, dt));
	free(v);
	json_object_set_new(r, "privacy", json_pack("{s:s,s:f,s:f}",
	    "mode", mode_name[j->dp.distributed], "clip", j->dp.clip,
	    "noise_sd", sd));
	return rec_sign(r, k) < 0 ? -2 : 0;
}

int
dp_noise_aggregate(const rec_in *in, json_t *agg, const dml_job *j,
    const dml_key *k, long seed)
{
	double *v, sd = j->dp.noise * j->dp.clip;
	size_t n = (size_t)j->params;
	long long round;
	enum dml_dtype dt;
	json_t *sum;

	if (dp_check_record(in, agg, "dml.aggregate", j, k->pk, 1, &round) < 0
	    || !(sum = rec_get_obj(in, agg, "sum")) ||
	    !(v = read_update(in, sum, "delta", j, &dt)))
		return -1;
	if (noise_update(v, n, sd, seed, "noise", k->pk, j->id, round) < 0) {
		free(v);
		return -2;
	}
	json_object_set_new(sum, "delta", update_json(v, n, DT_F64));
	free(v);
	json_object_set_new(agg, "privacy", json_pack("{s:s,s:f,s:f,s:f}",
	    "mode", "central", "clip", j->dp.clip, "noise", j->dp.noise,
	    "noise_sd", sd));
	return rec_sign(agg, k) < 0 ? -2 : 0;
}

json_t *
dp_read_aggregate(rec_in *in, rec_out *o)
{
	json_t *r, *agg = NULL;
	int rc;

	while ((rc = rec_next(in, &r)) > 0) {
		const char *type = json_string_value(json_object_get(r, "type"));
		if (type && strcmp(type, "dml.rerun") == 0) {
			if (o && rec_out_write(o, r, in) < 0) {
				json_decref(r);
				json_decref(agg);
				return NULL;
			}
			json_decref(r);
			continue;
		}
		if (agg) {
			json_decref(r);
			json_decref(agg);
			return rec_err(in, "more than one aggregate: combine "
			    "them with dml-aggregate first"), NULL;
		}
		if (rec_check(in, r, "dml.aggregate") < 0) {
			json_decref(r);
			return NULL;
		}
		agg = r;
	}
	if (rc < 0) {
		json_decref(agg);
		return NULL;
	}
	if (!agg)
		return dml_error("%s: empty input: no aggregate", rec_name(in)),
		    NULL;
	return agg;
}

int
dp_account_check(const rec_in *in, const json_t *agg, const dml_job *j,
    long long *round, long long *devices)
{
	const job_dp *d = &j->dp;
	json_t *p;

	if (dp_check_record(in, agg, "dml.aggregate", j, NULL, 0, round) < 0 ||
	    rec_get_int(in, agg, "devices", 0, 1LL << 40, devices) < 0)
		return -1;
	if (d->distributed) {
		if (*devices < j->min_devices)
			return rec_err(in, "%lld devices: their noise shares sum "
			    "to less than the job's noise (it needs %lld "
			    "devices)", *devices, j->min_devices);
		return 0;
	}
	p = json_object_get(agg, "privacy");
	if (!p || json_number_value(json_object_get(p, "noise")) != d->noise ||
	    json_number_value(json_object_get(p, "clip")) != d->clip)
		return rec_err(in, "the aggregate carries no central noise of "
		    "the job's (run dml-privacy noise on it first)");
	return 0;
}

int
dp_budget(const job_dp *d, long long round, double *eps, double *next,
    double *order)
{
	/* every round up to this one released a noised sum: round + 1 steps */
	*eps = dp_spent(d->sample_rate, d->noise, round + 1, d->delta, order);
	*next = dp_spent(d->sample_rate, d->noise, round + 2, d->delta, NULL);
	return *eps <= d->epsilon ? 0 : -1;
}

json_t *
dp_account(const rec_in *in, const dml_job *j, long long round,
    long long devices, const json_t *last, const char *spent)
{
	const job_dp *d = &j->dp;
	json_t *pr, *orders;
	long long lround;
	double eps, next, order;

	if (last && rec_get_int(NULL, last, "round", 0, 1LL << 40,
	    &lround) == 0 && lround >= round)
		return dml_error("%s: round %lld is already accounted (the last "
		    "record is of round %lld)", spent, round, lround), NULL;
	if (dp_budget(d, round, &eps, &next, &order) < 0)
		return dml_error("%s:%ld: round %lld would bring epsilon to "
		    "%.4g (delta %g), past the job's budget %g: stop, do not "
		    "release this round", rec_name(in), rec_line(in), round,
		    eps, d->delta, d->epsilon), NULL;
	pr = rec_new("dml.privacy");
	orders = json_array();
	for (int i = 0; i < DP_NORDERS; i++)
		json_array_append_new(orders, json_real(dp_default_orders[i]));
	json_object_set_new(pr, "job", json_string(j->id));
	json_object_set_new(pr, "round", json_integer(round));
	json_object_set_new(pr, "rounds", json_integer(round + 1));
	json_object_set_new(pr, "epsilon", json_real(eps));
	json_object_set_new(pr, "delta", json_real(d->delta));
	json_object_set_new(pr, "order", json_real(order));
	json_object_set_new(pr, "orders", orders);
	json_object_set_new(pr, "accountant", json_string("rdp-sgm"));
	json_object_set_new(pr, "conversion", json_string("balle2020"));
	json_object_set_new(pr, "budget", json_real(d->epsilon));
	json_object_set_new(pr, "next_epsilon", json_real(next));
	json_object_set_new(pr, "sample_rate", json_real(d->sample_rate));
	json_object_set_new(pr, "noise", json_real(d->noise));
	json_object_set_new(pr, "clip", json_real(d->clip));
	json_object_set_new(pr, "mode", json_string(mode_name[d->distributed]));
	json_object_set_new(pr, "devices", json_integer(devices));
	return pr;
}
