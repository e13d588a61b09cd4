/* t-dp: clipping, the noise generator and the RDP accountant against the
 * published values of Opacus and TensorFlow Privacy; the record
 * operations of dml-privacy (clip a result, noise an aggregate, account). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "sign.h"
#include "dmltest.h"
#include "tensor.h"
#include "util.h"

static int
rel_near(double got, double want, double rel)
{
	return fabs(got - want) <= rel * fabs(want);
}

/* The orders of TF Privacy's compute_dp_sgd_privacy_lib. */
static const double tf_orders[] = {1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5,
	4., 4.5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
	21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
	39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56,
	57, 58, 59, 60, 61, 62, 63, 128, 256, 512};
#define TF_N (sizeof tf_orders / sizeof tf_orders[0])

static void
test_clip(void)
{
	double v[4] = {3, 4, 0, 0}, w[3] = {1e200, 1e200, 0}, u[2] = {0.3, 0.4};
	double before;

	ok(dp_l2norm(v, 4) == 5, "norm of (3, 4) is 5");
	ok(rel_near(dp_l2norm(w, 3), 1e200 * sqrt(2), 1e-15),
	    "norm of (1e200, 1e200) does not overflow");
	before = dp_clip(v, 4, 1);
	ok(before == 5, "clip returns the norm before clipping");
	ok(dp_l2norm(v, 4) <= 1 && dp_l2norm(v, 4) > 1 - 1e-15,
	    "clipped to norm 1 (within an ulp, never above)");
	ok(fabs(v[0] - 0.6) < 1e-15 && fabs(v[1] - 0.8) < 1e-15,
	    "clipping keeps the direction");
	ok(dp_clip(u, 2, 1) == 0.5 && u[0] == 0.3 && u[1] == 0.4,
	    "an update inside the ball is left unchanged");
	{
		double x[1000];
		for (int i = 0; i < 1000; i++)
			x[i] = sin(i + 1.0) * 1e-3 * (i + 1);
		dp_clip(x, 1000, 0.123);
		ok(dp_l2norm(x, 1000) <= 0.123, "a long update's norm is at "
		    "most C after clipping");
	}
}

static void
test_noise(void)
{
	enum { N = 200000 };
	dp_rng *a = dp_rng_new("seed-1", 6), *b = dp_rng_new("seed-1", 6),
	       *c = dp_rng_new("seed-2", 6), *r = dp_rng_new(NULL, 0);
	double sum = 0, sq = 0, q4 = 0, mean, var, same = 1, diff = 0;
	double lo = 1, hi = 0;
	int tail = 0;

	for (int i = 0; i < 1000; i++) {
		double x = dp_gauss(a), y = dp_gauss(b), z = dp_gauss(c);
		same = same && x == y;
		diff += x != z;
	}
	ok(same, "the same seed gives the same noise");
	ok(diff > 990, "another seed gives other noise");
	for (int i = 0; i < N; i++) {
		double x = 2.5 * dp_gauss(r);
		sum += x;
		sq += x * x;
		q4 += x * x * x * x;
		tail += fabs(x) > 2.5 * 1.959963985;
	}
	mean = sum / N;
	var = sq / N - mean * mean;
	/* sd of the mean 2.5/sqrt(N) = 0.0056; of the variance
	 * 6.25*sqrt(2/N) = 0.0198: allow 5 sd */
	ok(fabs(mean) < 0.028, "noise mean %.5f is 0 within 5 sd", mean);
	ok(fabs(var - 6.25) < 0.099, "noise variance %.4f is 6.25 (sd 2.5) "
	    "within 5 sd", var);
	ok(fabs(q4 / N / (var * var) - 3) < 0.08, "kurtosis %.3f is a "
	    "normal's 3", q4 / N / (var * var));
	/* P(|x| > 1.96 sd) = 0.05; sd of the count sqrt(N*.05*.95) = 97 */
	ok(abs(tail - N / 20) < 500, "%d of %d beyond 1.96 sd (want about "
	    "%d)", tail, N, N / 20);
	for (int i = 0; i < N; i++) {
		double u = dp_uniform(r);
		lo = fmin(lo, u);
		hi = fmax(hi, u);
	}
	ok(lo > 0 && hi < 1, "uniforms lie strictly inside (0, 1)");
	dp_rng_free(a);
	dp_rng_free(b);
	dp_rng_free(c);
	dp_rng_free(r);
}

static void
test_rdp(void)
{
	double rdp[TF_N], o, e;
	int exact = 1;

	/* q = 1: the Gaussian mechanism's closed form alpha / (2 z^2) */
	for (int i = 0; i < DP_NORDERS; i++) {
		double a = dp_default_orders[i];
		exact &= dp_rdp_sgm(1, 1.3, a) == a / (2 * 1.3 * 1.3);
	}
	ok(exact, "q = 1 gives alpha / (2 z^2) at every default order");
	/* TF Privacy (tensorflow/privacy commit 09270af)
	 * rdp_accountant_test.py test_compute_rdp_no_sampling:
	 * compute_rdp(1, 10, 1, 20) == 0.1; test_compute_rdp_no_data */
	ok(dp_rdp_sgm(1, 10, 20) == 0.1, "q = 1, z = 10, alpha 20: 0.1");
	ok(dp_rdp_sgm(0, 10, 20) == 0, "q = 0: no privacy spent");
	/* TF Privacy test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5)
	 * = 0.07737 to 5 places */
	dp_rdp(0.1, 2, 10, (const double[]){5}, 1, rdp);
	ok(fabs(rdp[0] - 0.07737) < 0.5e-5, "q 0.1, z 2, 10 steps, alpha 5: "
	    "%.7f (TF Privacy 0.07737)", rdp[0]);
	/* TF Privacy test_compute_rdp_sequence: compute_rdp(0.01, 2.5, 50,
	 * [1.5, 2.5, 5, 50, 100]) to within 1e-5; fractional and integer
	 * orders */
	{
		const double ord[] = {1.5, 2.5, 5, 50, 100},
		    want[] = {0.00065, 0.001085, 0.00218075, 0.023846,
		    167.416307};
		int good = 1;
		dp_rdp(0.01, 2.5, 50, ord, 5, rdp);
		for (int i = 0; i < 5; i++)
			good &= fabs(rdp[i] - want[i]) <= 1e-5;
		ok(good, "q 0.01, z 2.5, 50 steps: %.6f %.6f %.8f %.6f %.6f "
		    "(TF Privacy)", rdp[0], rdp[1], rdp[2], rdp[3], rdp[4]);
	}
	/* the fractional series and the integer sum meet */
	ok(rel_near(dp_rdp_sgm(0.05, 1.1, 4.0000001), dp_rdp_sgm(0.05, 1.1, 4),
	    1e-6), "fractional order 4.0000001 agrees with integer order 4");

	/* Opacus (pytorch/opacus commit 2f4b546, whose analysis/rdp.py
	 * has the Balle et al. conversion used here)
	 * opacus/tests/accountants_test.py test_rdp_accountant:
	 * RDPAccountant, z 1.5, q 0.04, int(90 / 0.04) = 2250 steps,
	 * delta 1e-5: assertAlmostEqual(epsilon, 7.32911117143) (7 places) */
	e = dp_spent(0.04, 1.5, 2250, 1e-5, &o);
	ok(fabs(e - 7.32911117143) < 0.5e-7, "Opacus RDPAccountant: epsilon "
	    "%.11f (7.32911117143)", e);
	/* TF Privacy (tensorflow/privacy commit 2cd46db)
	 * compute_dp_sgd_privacy_test.py (dp_accounting RDP, same
	 * conversion), its orders, steps ceil(epochs n / batch):
	 * Test0 60000, 150, z 1.3, 15 epochs, 1e-5: 0.7242234026109595, 19
	 * Test1 100000, 100, z 1.0, 30 epochs, 1e-7: 1.4154988495444842, 13
	 * Test2 1e8, 1024, z 0.1, 10 epochs, 1e-7: 5907982.3113978775, 1.25
	 * (assertAlmostEqual: 7 places; the last, a huge epsilon, to 1e-11
	 * relative) */
	dp_rdp(150.0 / 60000, 1.3, 6000, tf_orders, TF_N, rdp);
	e = dp_epsilon(tf_orders, rdp, TF_N, 1e-5, &o);
	ok(fabs(e - 0.7242234026109595) < 0.5e-7 && o == 19,
	    "TF Privacy Test0: epsilon %.13f at order %g", e, o);
	dp_rdp(100.0 / 100000, 1.0, 30000, tf_orders, TF_N, rdp);
	e = dp_epsilon(tf_orders, rdp, TF_N, 1e-7, &o);
	ok(fabs(e - 1.4154988495444842) < 0.5e-7 && o == 13,
	    "TF Privacy Test1: epsilon %.13f at order %g", e, o);
	dp_rdp(1024.0 / 1e8, 0.1, (long long)ceil(10 * 1e8 / 1024), tf_orders,
	    TF_N, rdp);
	e = dp_epsilon(tf_orders, rdp, TF_N, 1e-7, &o);
	ok(rel_near(e, 5907982.3113978775, 1e-11) && o == 1.25,
	    "TF Privacy Test2: epsilon %.6f at order %g", e, o);

	/* composition: T steps are T times one step's RDP */
	{
		double one[DP_NORDERS], many[DP_NORDERS];
		int good = 1;
		dp_rdp(0.1, 1, 1, dp_default_orders, DP_NORDERS, one);
		dp_rdp(0.1, 1, 37, dp_default_orders, DP_NORDERS, many);
		for (int i = 0; i < DP_NORDERS; i++)
			good &= rel_near(many[i], 37 * one[i], 1e-15);
		ok(good, "RDP composes by adding over steps");
	}
	ok(dp_spent(0.1, 1, 10, 1e-5, NULL) < dp_spent(0.1, 1, 11, 1e-5, NULL),
	    "each step spends more");
	ok(dp_spent(0.1, 2, 10, 1e-5, NULL) < dp_spent(0.1, 1, 10, 1e-5, NULL),
	    "more noise spends less");
	ok(isnan(dp_rdp_sgm(1.5, 1, 2)) && isnan(dp_rdp_sgm(0.5, 1, 1)),
	    "q above 1 and alpha 1 refused");
}


/* ---- record operations ------------------------------------------------ */

static void
mkkey(dml_key *k, unsigned char b)
{
	unsigned char seed[32];

	memset(seed, b, sizeof seed);
	key_generate(k, seed);
}

/* A job by hand: 4 parameters, 3 rounds, 2 devices, clip 1, noise 2. */
static void
mkjob(dml_job *j, int distributed)
{
	memset(j, 0, sizeof *j);
	strcpy(j->id, "bafkreitestjob");
	j->rounds = 3;
	j->params = 4;
	j->min_devices = 2;
	j->dp.on = 1;
	j->dp.distributed = distributed;
	j->dp.clip = 1;
	j->dp.noise = 2;
	j->dp.epsilon = 3;
	j->dp.delta = 1e-5;
	j->dp.sample_rate = 1;
}

/* A signed train record of `type` with the update at field.delta. */
static json_t *
mkrec(const char *type, const char *job, const char *field,
    enum dml_dtype dt, const double *v, const dml_key *k)
{
	json_t *r = rec_new(type), *o = json_object();
	int64_t shape[1] = {4};
	float f[4];

	for (int i = 0; i < 4; i++)
		f[i] = (float)v[i];
	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "task", json_string("train"));
	json_object_set_new(r, "round", json_integer(0));
	json_object_set_new(o, "delta", dt == DT_F64 ?
	    tensor_to_json(DT_F64, 1, shape, v) :
	    tensor_to_json(DT_F32, 1, shape, f));
	json_object_set_new(r, field, o);
	if (strcmp(type, "dml.aggregate") == 0)
		json_object_set_new(r, "devices", json_integer(2));
	rec_sign(r, k);
	return r;
}

/* The update at field.delta, as doubles (v[4]); its L2 norm. */
static double
getvec(const json_t *r, const char *field, double v[4])
{
	dml_tensor t;

	if (tensor_from_json(NULL, json_object_get(json_object_get(r, field),
	    "delta"), "delta", &t) < 0 || t.n != 4)
		return -1;
	for (int i = 0; i < 4; i++)
		v[i] = tensor_get(&t, i);
	tensor_free(&t);
	return dp_l2norm(v, 4);
}

static int
has_err(const char *s)
{
	return strstr(dml_errmsg(), s) != NULL;
}

static void
test_clip_result(void)
{
	dml_key dev, other;
	dml_job j;
	double big[4] = {3, 4, 0, 0}, w[4], v32[4] = {0.3, -0.7, 1.1, 2.9};
	unsigned char pk[32];
	json_t *r, *p;

	mkkey(&dev, 1);
	mkkey(&other, 2);
	mkjob(&j, 0);
	r = mkrec("dml.result", j.id, "values", DT_F64, big, &dev);
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == 0, "clip a device's own "
	    "result");
	ok(getvec(r, "values", w) <= 1 && fabs(w[0] - 0.6) < 1e-12 &&
	    fabs(w[1] - 0.8) < 1e-12, "values.delta clipped to norm 1 along "
	    "its direction");
	p = json_object_get(r, "privacy");
	ok(p && strcmp(json_string_value(json_object_get(p, "mode")),
	    "central") == 0 && json_number_value(json_object_get(p, "clip"))
	    == 1 && json_number_value(json_object_get(p, "noise_sd")) == 0,
	    "\"privacy\" records central mode, clip 1, no noise share");
	ok(rec_verify(r, NULL, pk) == 0 && memcmp(pk, dev.pk, 32) == 0,
	    "the clipped result is re-signed by the device");
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == -1 &&
	    has_err("already has \"privacy\""), "a result is not clipped "
	    "twice: %s", dml_errmsg());
	json_decref(r);

	r = mkrec("dml.result", j.id, "values", DT_F64, big, &other);
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == -1 &&
	    has_err("signed by another key than -k"), "another device's "
	    "result is refused: %s", dml_errmsg());
	ok(json_object_get(r, "privacy") == NULL, "and left unchanged");
	json_decref(r);

	r = mkrec("dml.result", "bafkreiotherjob", "values", DT_F64, big, &dev);
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == -1 &&
	    has_err("the result is for job bafkreiotherjob, not "
	    "bafkreitestjob"), "another job's result is refused: %s",
	    dml_errmsg());
	json_decref(r);

	r = mkrec("dml.result", j.id, "values", DT_F32, v32, &dev);
	json_object_set_new(r, "round", json_integer(3));
	rec_sign(r, &dev);
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == -1 &&
	    has_err("round 3: the job has 3 rounds"), "a round past the job's "
	    "is refused: %s", dml_errmsg());
	json_object_set_new(r, "round", json_integer(0));
	rec_sign(r, &dev);
	ok(dp_clip_result(NULL, r, &j, &dev, 1) == 0 &&
	    getvec(r, "values", w) <= 1, "an f32 update is within the norm "
	    "as f32 (%.17g)", dp_l2norm(w, 4));
	is_str(json_string_value(json_object_get(json_object_get(
	    json_object_get(r, "values"), "delta"), "dtype")), "f32",
	    "and stays f32");
	json_decref(r);
	key_free(&dev);
	key_free(&other);
}

static void
test_distributed(void)
{
	dml_key dev;
	dml_job j;
	double v[4] = {0.1, 0.2, 0.3, 0.4}, a[4], b[4], c[4];
	json_t *r1, *r2, *r3, *p;
	char *s1, *s2;

	mkkey(&dev, 1);
	mkjob(&j, 1);
	r1 = mkrec("dml.result", j.id, "values", DT_F64, v, &dev);
	r2 = json_deep_copy(r1);
	r3 = json_deep_copy(r1);
	ok(dp_clip_result(NULL, r1, &j, &dev, 5) == 0 &&
	    dp_clip_result(NULL, r2, &j, &dev, 5) == 0 &&
	    dp_clip_result(NULL, r3, &j, &dev, 6) == 0, "distributed clip");
	s1 = canon_dump(r1, NULL, NULL, NULL);
	s2 = canon_dump(r2, NULL, NULL, NULL);
	ok(s1 && s2 && strcmp(s1, s2) == 0, "the same seed gives the same "
	    "bytes");
	free(s1);
	free(s2);
	getvec(r1, "values", a);
	getvec(r3, "values", c);
	ok(memcmp(a, c, sizeof a) != 0, "another seed another noise share");
	getvec(r2, "values", b);
	ok(memcmp(a, b, sizeof a) == 0 && a[0] != v[0], "the noise share is "
	    "added, the same for the same seed");
	p = json_object_get(r1, "privacy");
	ok(p && strcmp(json_string_value(json_object_get(p, "mode")),
	    "distributed") == 0 && fabs(json_number_value(json_object_get(p,
	    "noise_sd")) - 2 / sqrt(2)) < 1e-15, "noise_sd is noise * clip / "
	    "sqrt(min_devices)");
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	key_free(&dev);
}

static void
test_noise_aggregate(void)
{
	dml_key node, other;
	dml_job j;
	double v[4] = {1, 2, 3, 4}, w[4];
	long long round, devices;
	json_t *a, *p;

	mkkey(&node, 3);
	mkkey(&other, 4);
	mkjob(&j, 0);
	a = mkrec("dml.aggregate", j.id, "sum", DT_F64, v, &node);
	ok(dp_account_check(NULL, a, &j, &round, &devices) == -1 &&
	    has_err("carries no central noise"), "an un-noised aggregate is "
	    "not accounted: %s", dml_errmsg());
	ok(dp_noise_aggregate(NULL, a, &j, &other, 7) == -1 &&
	    has_err("signed by another key"), "another node's aggregate is "
	    "not noised");
	ok(dp_noise_aggregate(NULL, a, &j, &node, 7) == 0, "noise the node's "
	    "own aggregate");
	getvec(a, "sum", w);
	ok(w[0] != 1 && w[3] != 4, "the sum is noised");
	p = json_object_get(a, "privacy");
	ok(p && json_number_value(json_object_get(p, "noise_sd")) == 2 &&
	    json_number_value(json_object_get(p, "noise")) == 2,
	    "\"privacy\" records noise 2, sd 2");
	ok(dp_account_check(NULL, a, &j, &round, &devices) == 0 &&
	    round == 0 && devices == 2, "the noised aggregate may be "
	    "accounted");
	ok(dp_noise_aggregate(NULL, a, &j, &node, 7) == -1, "not noised twice");
	json_decref(a);
	mkjob(&j, 1);
	j.min_devices = 3;
	a = mkrec("dml.aggregate", j.id, "sum", DT_F64, v, &node);
	ok(dp_account_check(NULL, a, &j, &round, &devices) == -1 &&
	    has_err("2 devices: their noise shares sum to less"),
	    "distributed: too few devices' shares refused: %s", dml_errmsg());
	json_decref(a);
	key_free(&node);
	key_free(&other);
}

static void
test_account(void)
{
	dml_job j;
	double eps, next, order, eps2, next2;
	json_t *pr, *last;

	mkjob(&j, 0);
	ok(dp_budget(&j.dp, 0, &eps, &next, &order) == 0 && eps < next,
	    "round 0 within budget 3 (epsilon %.4f, next %.4f)", eps, next);
	j.dp.epsilon = eps;
	ok(dp_budget(&j.dp, 0, &eps2, &next2, &order) == 0 && eps2 == eps,
	    "a budget exactly the epsilon spent is allowed");
	pr = dp_account(NULL, &j, 0, 2, NULL, "spent");
	ok(pr && json_real_value(json_object_get(pr, "epsilon")) == eps &&
	    json_real_value(json_object_get(pr, "budget")) == eps &&
	    json_real_value(json_object_get(pr, "next_epsilon")) == next &&
	    json_integer_value(json_object_get(pr, "rounds")) == 1,
	    "the dml.privacy record at the boundary");
	ok(pr && strcmp(json_string_value(json_object_get(pr, "type")),
	    "dml.privacy") == 0 && json_array_size(json_object_get(pr,
	    "orders")) == DP_NORDERS, "of type dml.privacy with the orders");
	last = pr;
	pr = dp_account(NULL, &j, 0, 2, last, "spent");
	ok(!pr && has_err("spent: round 0 is already accounted (the last "
	    "record is of round 0)"), "a round accounted twice is refused: "
	    "%s", dml_errmsg());
	json_decref(last);
	j.dp.epsilon = nextafter(eps, 0);
	ok(dp_budget(&j.dp, 0, &eps2, &next2, &order) == -1,
	    "an ulp below the epsilon spent is refused");
	pr = dp_account(NULL, &j, 0, 2, NULL, "spent");
	ok(!pr && has_err("round 0 would bring epsilon to") &&
	    has_err("past the job's budget"), "dp_account refuses it: %s",
	    dml_errmsg());
	j.dp.epsilon = 3;
	ok(dp_budget(&j.dp, 1, &eps2, &next2, &order) == -1 && eps2 == next,
	    "round 1 would pass budget 3 (epsilon %.4f)", eps2);
}

int
main(void)
{
	test_random();
	if (dml_crypto_init() < 0)
		return 2;
	test_clip();
	test_noise();
	test_rdp();
	test_clip_result();
	test_distributed();
	test_noise_aggregate();
	test_account();
	return done_testing();
}
