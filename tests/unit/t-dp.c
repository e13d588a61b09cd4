/* t-dp: clipping, the noise generator and the RDP accountant against the
 * published values of Opacus and TensorFlow Privacy. */
#include <math.h>
#include <string.h>

#include "dp.h"
#include "sign.h"
#include "tap.h"
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

int
main(void)
{
	if (dml_crypto_init() < 0)
		return 2;
	test_clip();
	test_noise();
	test_rdp();
	return done_testing();
}
