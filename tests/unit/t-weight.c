/* t-weight: the binomial tail and the exclusion tests of dml-weight,
 * FLTrust scoring, and a round's intake. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sign.h"
#include "tap.h"
#include "tensor.h"
#include "util.h"
#include "weight.h"

/* A signed train result of job `job` from the device seeded by dev. */
static json_t *
result(const char *job, int dev, long long round, float x)
{
	json_t *r = rec_new("dml.result"), *v = json_object();
	unsigned char seed[32] = {(unsigned char)dev, 0x77};
	float d[3] = {x, x, x};
	int64_t shape[1] = {3};
	dml_key k;

	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "task", json_string("train"));
	json_object_set_new(r, "n", json_integer(2));
	json_object_set_new(r, "weight", json_integer(2));
	json_object_set_new(v, "delta", tensor_to_json(DT_F32, 1, shape, d));
	json_object_set_new(r, "values", v);
	key_generate(&k, seed);
	rec_sign(r, &k);
	key_free(&k);
	return r;
}

/* Feed a round the records (stolen; NULL ends them) through a file. */
static int
feed(weight_round *w, json_t *r, ...)
{
	char path[] = "/tmp/t-weight.XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f = fdopen(fd, "w");
	va_list ap;
	rec_in *in;

	va_start(ap, r);
	for (; r; r = va_arg(ap, json_t *)) {
		rec_write(f, r, NULL);
		json_decref(r);
	}
	va_end(ap);
	fclose(f);
	in = rec_open(path);
	rc = weight_round_feed(w, in);
	rec_close(in);
	unlink(path);
	return rc;
}

static void
test_fltrust(void)
{
	const double ref[3] = {1, 1, 1};
	weight_trainer t;

	memset(&t, 0, sizeof t);
	weight_score_fltrust(&t, (double[]){2, 2, 2}, 3, ref, 3);
	ok(t.kept && fabs(t.weight - 1) < 1e-12 && t.factor == 1000,
	    "fltrust: an update along the reference has full trust");
	memset(&t, 0, sizeof t);
	weight_score_fltrust(&t, (double[]){1, 0, 0}, 3, ref, 3);
	ok(t.kept && fabs(t.score - 1 / sqrt(3)) < 1e-12 && t.factor == 577,
	    "fltrust: weight the cosine, factor in thousandths");
	memset(&t, 0, sizeof t);
	weight_score_fltrust(&t, (double[]){-1, -1, -1}, 3, ref, 3);
	ok(!t.kept && fabs(t.score + 1) < 1e-12 && strstr(t.reason, "no trust"),
	    "fltrust: a negative cosine is no trust");
	memset(&t, 0, sizeof t);
	weight_score_fltrust(&t, (double[]){1, NAN, 1}, 3, ref, 3);
	ok(!t.kept && strstr(t.reason, "element 1 is not finite"),
	    "fltrust: a NaN is named, not trusted");
	memset(&t, 0, sizeof t);
	weight_score_fltrust(&t, (double[]){1, 1}, 2, ref, 3);
	ok(!t.kept && strstr(t.reason, "2 values, the reference 3"),
	    "fltrust: a size mismatch excludes");
}

static void
test_round(void)
{
	dml_job j;
	weight_round w;
	const double ref[3] = {1, 1, 1};

	memset(&j, 0, sizeof j);
	snprintf(j.id, sizeof j.id, "bafkreiweightjob");
	j.task = TASK_TRAIN;
	weight_round_init(&w, &j, 1);
	ok(feed(&w, result(j.id, 1, 7, 1), result(j.id, 2, 7, -1), NULL) == 0 &&
	    w.n == 2 && weight_round_round(&w) == 7 && w.t[0].w.n == 2,
	    "round: two results taken, round 7");
	ok(feed(&w, result(j.id, 1, 7, 1), NULL) < 0 && w.n == 2 &&
	    strstr(dml_errmsg(), "duplicate"),
	    "round: a second result from a device is refused");
	ok(feed(&w, result("bafkreiother", 3, 7, 1), NULL) < 0 &&
	    strstr(dml_errmsg(), "for another job"),
	    "round: a result for another job is refused");
	weight_round_fltrust(&w, ref, 3);
	ok(w.t[0].w.kept && !w.t[1].w.kept, "round: FLTrust keeps the update "
	    "along the reference, not the one against it");
	weight_round_free(&w);
}

static weight_trainer
tr(long long answered, long long correct)
{
	weight_trainer t;

	memset(&t, 0, sizeof t);
	t.answered = answered;
	t.correct = correct;
	t.score = (double)correct / (double)answered;
	return t;
}

int
main(void)
{
	weight_opts o = {.min_accuracy = 0.5, .alpha = 1e-3, .z = 3.5,
	    .classes = 10};
	weight_trainer t[8];

	if (dml_crypto_init() < 0)
		return 1;
	test_fltrust();
	test_round();
	ok(fabs(weight_binom_sf(0, 10, 0.1) - 1) < 1e-15, "P(X >= 0) = 1");
	ok(fabs(weight_binom_sf(10, 10, 0.5) - pow(0.5, 10)) < 1e-15,
	    "P(X >= 10 | 10, 0.5) = 2^-10");
	ok(fabs(weight_binom_sf(1, 3, 0.5) - 0.875) < 1e-12,
	    "P(X >= 1 | 3, 0.5) = 7/8");
	ok(weight_binom_sf(11, 10, 0.5) == 0, "P(X > m) = 0");

	for (int i = 0; i < 5; i++)
		t[i] = tr(40, 36 + i % 3);
	t[5] = tr(40, 0);		/* adversary */
	t[6] = tr(40, 18);		/* below the minimum standard */
	t[7] = tr(4, 4);		/* p = 1e-4: told from chance */
	weight_decide(t, 8, &o);
	ok(t[0].kept && t[1].kept && t[4].kept, "good trainers kept");
	ok(!t[5].kept && strstr(t[5].reason, "minimum"), "adversary excluded "
	    "by the minimum standard first");
	ok(!t[6].kept && strstr(t[6].reason, "minimum"), "below the minimum "
	    "standard excluded");
	ok(t[7].kept, "4 of 4 beats chance at 1e-3 (p = 1e-4)");
	ok(fabs(t[0].weight - (0.9 - 0.1) / 0.9) < 1e-12,
	    "weight is chance-corrected accuracy");
	ok(t[0].factor == 889, "factor is the weight in thousandths");
	ok(t[5].weight == 0 && t[5].factor == 0, "excluded: weight 0");
	o.min_accuracy = 0;
	t[0] = tr(2, 2);		/* p = 0.01 */
	t[1] = tr(40, 4);		/* chance level */
	weight_decide(t, 2, &o);
	ok(!t[0].kept && strstr(t[0].reason, "binomial"), "2 of 2: not told "
	    "from chance at 1e-3");
	ok(!t[1].kept && strstr(t[1].reason, "binomial"), "chance-level "
	    "trainer excluded by the binomial test");

	/* the lower tail */
	ok(fabs(weight_binom_cdf(0, 10, 0.5) - pow(0.5, 10)) < 1e-15,
	    "P(X <= 0 | 10, 0.5) = 2^-10");
	ok(fabs(weight_binom_cdf(2, 3, 0.5) - 0.875) < 1e-12,
	    "P(X <= 2 | 3, 0.5) = 7/8");
	ok(weight_binom_cdf(10, 10, 0.3) == 1 && weight_binom_cdf(-1, 10,
	    0.3) == 0, "P(X <= m) = 1, P(X < 0) = 0");
	ok(weight_binom_cdf(4, 5, 1) == 0 && weight_binom_sf(5, 5, 1) == 1,
	    "p = 1: all right for sure");

	/* the adaptive test: standard 0.5, blocks of 10, cap 40, level
	 * 0.05 / 4 per look */
	{
		dml_job j;
		weight_rule r;
		size_t a[50], b[50], c[50], seen[50] = {0};
		unsigned char pk[32] = {1};
		int perm = 1;

		memset(&j, 0, sizeof j);
		j.classes = 10;
		j.min_accuracy = 0.5;
		j.control_block = 10;
		j.control_max = 40;
		j.control_alpha = 0.05;
		weight_rule_init(&r, &j, 200);
		ok(r.cap == 40 && fabs(r.level - 0.0125) < 1e-15 &&
		    r.standard == 0.5, "rule: cap 40, level 0.0125, standard 0.5");
		ok(weight_rule_look(&r, 10, 10) == 1, "10 of 10: keep");
		ok(weight_rule_look(&r, 10, 0) == -1, "0 of 10: exclude");
		ok(weight_rule_look(&r, 10, 7) == 0, "7 of 10: undecided");
		ok(weight_rule_look(&r, 40, 28) == 1, "28 of 40: keep "
		    "(P = 0.0083)");
		ok(weight_rule_look(&r, 20, 13) == 0, "13 of 20: undecided");
		weight_rule_init(&r, &j, 25);
		ok(r.cap == 25 && fabs(r.level - 0.05 / 3) < 1e-15,
		    "a small set caps the items and the looks");
		j.min_accuracy = 0;
		weight_rule_init(&r, &j, 200);
		ok(r.standard == 0.1, "no minimum: the standard is chance");

		weight_control_order("bafyjob", 3, pk, 50, a);
		weight_control_order("bafyjob", 3, pk, 50, b);
		weight_control_order("bafyjob", 4, pk, 50, c);
		for (int i = 0; i < 50; i++)
			if (a[i] >= 50 || seen[a[i]]++)
				perm = 0;
		ok(perm, "the order is a permutation");
		ok(!memcmp(a, b, sizeof a), "the same job, round and key: the "
		    "same order");
		ok(memcmp(a, c, sizeof a) != 0, "another round: another order");
	}

	/* a short test's noise is not an outlier: 9 of 10 among trainers
	 * near 1 (MAD > 0) is kept, 24 of 40 is not */
	o.min_accuracy = 0;
	for (int i = 0; i < 6; i++)
		t[i] = tr(40, 40 - i % 2);
	t[6] = tr(10, 9);
	t[7] = tr(40, 24);
	weight_decide(t, 8, &o);
	ok(t[6].kept, "9 of 10: kept (the binomial error of 10 answers)");
	ok(!t[7].kept && strstr(t[7].reason, "z-score"), "24 of 40: a low "
	    "outlier");
	return done_testing();
}
