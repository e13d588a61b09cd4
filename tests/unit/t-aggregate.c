/* aggregate: the key set, and summing, rejecting and validating results. */
#include "aggregate.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"
#include "dmltest.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static dml_job job;
static char tmpl[] = "/tmp/t-aggregate.XXXXXX";
static int nevents[AGG_NREJECT];
static char lastmsg[1024], lastreason[512];

static void
seed_key(dml_key *k, int i)
{
	unsigned char seed[32] = {0};

	seed[0] = (unsigned char)i;
	seed[1] = 0x5a;
	key_generate(k, seed);
}

static int
event(void *ctx, enum agg_reject why, const char *msg, json_t *rerun)
{
	nevents[why]++;
	snprintf(lastmsg, sizeof lastmsg, "%s", msg);
	if (rerun)
		snprintf(lastreason, sizeof lastreason, "%s",
		    json_string_value(json_object_get(rerun, "reason")));
	return 0;
}

/* A signed train result of device `dev` with values d[0..n). */
static json_t *
result(int dev, long long round, long long n, const float *d, size_t len)
{
	json_t *r = rec_new("dml.result"), *v = json_object();
	int64_t shape[1] = {(int64_t)len};
	dml_key k;

	json_object_set_new(r, "job", json_string(job.id));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "task", json_string("train"));
	json_object_set_new(r, "n", json_integer(n));
	json_object_set_new(r, "weight", json_integer(n));
	json_object_set_new(r, "model", json_string(job.model));
	json_object_set_new(v, "delta", tensor_to_json(DT_F32, 1, shape, d));
	json_object_set_new(r, "values", v);
	seed_key(&k, dev);
	rec_sign(r, &k);
	key_free(&k);
	return r;
}

/* Write records (stolen) to the temporary file; NULL ends the list. */
static const char *
input(json_t *r, ...)
{
	static char path[64];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof path, "%s/in.ndjson", tmpl);
	f = fopen(path, "w");
	va_start(ap, r);
	for (; r; r = va_arg(ap, json_t *)) {
		rec_write(f, r, NULL);
		json_decref(r);
	}
	va_end(ap);
	fclose(f);
	return path;
}

static void
raw_input(const char *text)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof path, "%s/in.ndjson", tmpl);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Aggregate the temporary file; *rc gets agg_feed's result. */
static dml_agg *
run(const agg_opts *o, int *rc)
{
	char path[64];
	rec_in *in;
	dml_agg *a;

	snprintf(path, sizeof path, "%s/in.ndjson", tmpl);
	memset(nevents, 0, sizeof nevents);
	lastmsg[0] = lastreason[0] = 0;
	a = agg_new(&job, o, event, NULL);
	in = rec_open(path);
	*rc = agg_feed(a, in);
	rec_close(in);
	return a;
}

static int
sum_is(json_t *agg, const double *want, size_t n)
{
	dml_tensor t;
	int ok = tensor_from_json(NULL, json_object_get(json_object_get(agg,
	    "sum"), "delta"), "delta", &t) == 0 && t.dtype == DT_F64 &&
	    t.n == n && memcmp(t.data, want, n * sizeof *want) == 0;
	if (ok)
		tensor_free(&t);
	return ok;
}

static void
test_keys(void)
{
	keyset *s = keyset_new();
	unsigned char k[32], zero[32] = {0};
	const unsigned char *sorted;
	int all = 1, sorted_ok = 1;

	for (int i = 0; i < 5000; i++) {
		crypto_generichash(k, 32, (unsigned char *)&i, sizeof i, NULL, 0);
		if (keyset_add(s, k) != 1)
			all = 0;
	}
	ok(all && keyset_count(s) == 5000, "5000 distinct keys added");
	for (int i = 0; i < 5000; i++) {
		crypto_generichash(k, 32, (unsigned char *)&i, sizeof i, NULL, 0);
		if (!keyset_has(s, k) || keyset_add(s, k) != 0)
			all = 0;
	}
	ok(all && keyset_count(s) == 5000,
	    "every key found after growing, none added twice");
	ok(!keyset_has(s, zero), "a key never added is not found");
	ok(keyset_add(s, zero) == 1 && keyset_has(s, zero),
	    "the all-zero key is a key like any other");
	sorted = keyset_sorted(s);
	for (size_t i = 1; i < keyset_count(s); i++)
		if (memcmp(sorted + 32 * (i - 1), sorted + 32 * i, 32) >= 0)
			sorted_ok = 0;
	ok(sorted_ok && memcmp(sorted, zero, 32) == 0,
	    "sorted strictly ascending, the zero key first");
	crypto_generichash(k, 32, (unsigned char *)&(int){77}, sizeof(int),
	    NULL, 0);
	ok(keyset_has(s, k), "lookups still work after sorting");
	keyset_free(s);
}

static void
test_keys_file(void)
{
	char path[64], hex[65];
	keyset *s = keyset_new();
	dml_key k1, k2;
	json_t *pub;
	char *line;
	FILE *f;

	seed_key(&k1, 1);
	seed_key(&k2, 2);
	snprintf(path, sizeof path, "%s/devices", tmpl);
	f = fopen(path, "w");
	key_hex(k1.pk, 32, hex);
	fprintf(f, "# assigned devices\n\n%s\n", hex);
	pub = key_pubrecord(k2.pk, "two");
	line = canon_dump(pub, NULL, NULL, NULL);
	fprintf(f, "%s\n", line);
	free(line);
	json_decref(pub);
	fclose(f);
	ok(keyset_load(s, path) == 0 && keyset_count(s) == 2 &&
	    keyset_has(s, k1.pk) && keyset_has(s, k2.pk),
	    "devices file: hex line and dml.pubkey record, comment skipped");
	f = fopen(path, "a");
	fputs("not a key\n", f);
	fclose(f);
	ok(keyset_load(s, path) < 0 && strstr(dml_errmsg(), "devices:5:"),
	    "a bad line is refused with its line number (%s)", dml_errmsg());
	keyset_free(s);
	key_free(&k1);
	key_free(&k2);
}

static void
test_scales_file(void)
{
	char path[64], h1[65], h2[65];
	unsigned char other[32] = {0};
	agg_scales *s;
	dml_key k1, k2;
	FILE *f;

	seed_key(&k1, 1);
	seed_key(&k2, 2);
	key_hex(k1.pk, 32, h1);
	key_hex(k2.pk, 32, h2);
	snprintf(path, sizeof path, "%s/scales", tmpl);
	f = fopen(path, "w");
	fprintf(f, "# weights\n%s 3\n\n%s\t1048576\n", h2, h1);
	fclose(f);
	s = agg_scales_load(path);
	ok(s && agg_scale_of(s, k1.pk) == 1048576 && agg_scale_of(s, k2.pk) == 3
	    && agg_scale_of(s, other) == 1 && agg_scale_of(NULL, k1.pk) == 1,
	    "scale factors by device; unlisted devices count once");
	agg_scales_free(s);
	f = fopen(path, "a");
	fprintf(f, "%s 0\n", h1);
	fclose(f);
	ok(agg_scales_load(path) == NULL && strstr(dml_errmsg(), "scales:5:"),
	    "a factor of 0 is refused with its line number");
	f = fopen(path, "w");
	fprintf(f, "%s 2\n%s 5\n", h1, h1);
	fclose(f);
	ok(agg_scales_load(path) == NULL && strstr(dml_errmsg(), "twice"),
	    "a device listed twice is refused");
	key_free(&k1);
	key_free(&k2);
}

static void
test_sum(void)
{
	float a[3] = {1.5f, -2.0f, 0.25f}, b[3] = {0.5f, 4.0f, -0.125f},
	      c[3] = {3.0f, 0.0f, 1.0f};
	double want[3] = {5.0, 2.0, 1.125};
	agg_opts o = {.round = 1};
	dml_agg *ag;
	json_t *r;
	int rc;

	input(result(1, 1, 10, a, 3), result(2, 1, 20, b, 3),
	    result(3, 1, 30, c, 3), NULL);
	ag = run(&o, &rc);
	r = agg_record(ag);
	ok(rc == 0 && r, "three good results are accepted");
	ok(r && sum_is(r, want, 3), "sum is exact, in f64");
	ok(r && json_integer_value(json_object_get(r, "n")) == 60 &&
	    json_number_value(json_object_get(r, "weight")) == 60 &&
	    json_integer_value(json_object_get(r, "devices")) == 3 &&
	    json_integer_value(json_object_get(r, "results")) == 3,
	    "n, weight, devices and results are totals");
	ok(r && json_array_size(json_object_get(r, "members")) == 3 &&
	    strcmp(json_string_value(json_array_get(json_object_get(r,
	    "members"), 0)), json_string_value(json_array_get(
	    json_object_get(r, "members"), 1))) < 0,
	    "members listed, sorted");
	ok(r && strcmp(json_string_value(json_object_get(r, "model")),
	    job.model) == 0, "a train aggregate names its base model");
	json_decref(r);
	agg_free(ag);
}

static void
test_compose(void)
{
	float a[3] = {1.5f, -2.0f, 0.25f}, b[3] = {0.5f, 4.0f, -0.125f},
	      c[3] = {3.0f, 0.0f, 1.0f};
	agg_opts o = {.round = 1};
	dml_key node;
	dml_agg *ag;
	json_t *x, *y, *all, *top;
	int rc;
	char *s1, *s2;

	seed_key(&node, 200);
	input(result(1, 1, 10, a, 3), result(2, 1, 20, b, 3), NULL);
	ag = run(&o, &rc);
	x = agg_record(ag);
	agg_free(ag);
	input(result(3, 1, 30, c, 3), NULL);
	ag = run(&o, &rc);
	y = agg_record(ag);
	agg_free(ag);
	input(result(1, 1, 10, a, 3), result(2, 1, 20, b, 3),
	    result(3, 1, 30, c, 3), NULL);
	ag = run(&o, &rc);
	all = agg_record(ag);
	agg_free(ag);
	rec_sign(x, &node);
	rec_sign(y, &node);
	input(x, y, NULL);
	ag = run(&o, &rc);
	top = agg_record(ag);
	agg_free(ag);
	json_object_del(all, "sig");
	/* the top aggregate also names the nodes inside: all else is equal */
	ok(top && json_array_size(json_object_get(top, "nodes")) == 1 &&
	    json_integer_value(json_object_get(json_array_get(json_object_get(
	    top, "nodes"), 0), "devices")) == 3,
	    "the top aggregate names the node of the aggregates inside");
	if (top)
		json_object_del(top, "nodes");
	s1 = canon_dump(all, NULL, NULL, NULL);
	s2 = top ? canon_dump(top, NULL, NULL, NULL) : NULL;
	ok(rc == 0 && s2 && strcmp(s1, s2) == 0,
	    "aggregate of two aggregates equals the aggregate of all results");
	free(s1);
	free(s2);
	/* the same aggregate twice: its devices are already summed */
	x = json_deep_copy(top);
	rec_sign(top, &node);
	rec_sign(x, &node);
	input(top, x, NULL);
	o.keep_going = 1;
	ag = run(&o, &rc);
	ok(rc == 0 && agg_accepted(ag) == 1 &&
	    agg_rejected(ag)[AGG_DUPLICATE] == 1,
	    "a device in two aggregates is a duplicate");
	agg_free(ag);
	json_decref(all);
	key_free(&node);
}

static void
test_reject(void)
{
	float a[3] = {1, 2, 3}, big[3] = {1, 2, 31};
	agg_opts o = {.round = 1, .keep_going = 1};
	json_t *forged, *other, *r;
	dml_agg *ag;
	int rc;

	forged = result(4, 1, 10, a, 3);
	json_object_set_new(forged, "n", json_integer(11));
	other = result(5, 1, 10, a, 3);
	json_object_set_new(other, "job", json_string("bafkreiother"));
	input(result(1, 1, 10, a, 3), result(1, 1, 10, a, 3),
	    result(2, 0, 10, a, 3), forged, other, NULL);
	ag = run(&o, &rc);
	ok(rc == 0 && agg_accepted(ag) == 1, "keep-going: one of five summed");
	ok(agg_rejected(ag)[AGG_DUPLICATE] == 1 &&
	    agg_rejected(ag)[AGG_REPLAY] == 1 &&
	    agg_rejected(ag)[AGG_FORGED] == 1 &&
	    agg_rejected(ag)[AGG_WRONG_JOB] == 1,
	    "duplicate, replay, forged and wrong job counted once each");
	ok(nevents[AGG_FORGED] == 1 && strstr(lastmsg, "in.ndjson:5:"),
	    "each reported with file and line (%s)", lastmsg);
	r = agg_record(ag);
	ok(r && json_integer_value(json_object_get(json_object_get(r,
	    "rejected"), "duplicate")) == 1, "the output counts them");
	json_decref(r);
	agg_free(ag);

	o.keep_going = 0;
	input(result(1, 1, 10, a, 3), result(1, 1, 10, a, 3), NULL);
	ag = run(&o, &rc);
	ok(rc == AGG_EREJECT && strstr(dml_errmsg(), ":2: duplicate"),
	    "strict: the duplicate stops the run (%s)", dml_errmsg());
	agg_free(ag);

	/* the first authentic result sets the round when none is given */
	o.round = -1;
	input(result(1, 3, 10, a, 3), result(2, 2, 10, a, 3), NULL);
	ag = run(&o, &rc);
	ok(rc == AGG_EREJECT && strstr(dml_errmsg(), "round 2, this is "
	    "round 3"), "without --round the first result's round rules");
	agg_free(ag);
	o.round = 1;

	/* validation: a rerun is requested, not an error */
	input(result(1, 1, 1, a, 3), result(2, 1, 10, big, 3),
	    result(3, 1, 10, a, 2), result(4, 1, 10, a, 3), NULL);
	ag = run(&o, &rc);
	ok(rc == 0 && agg_accepted(ag) == 1 &&
	    agg_rejected(ag)[AGG_INVALID] == 3 && nevents[AGG_INVALID] == 3,
	    "small n, out-of-range delta and wrong shape: three reruns");
	agg_free(ag);
	input(result(2, 1, 10, big, 3), NULL);
	ag = run(&o, &rc);
	ok(strstr(lastreason, "element 2") && strstr(lastreason, "max_delta"),
	    "the reason names the element (%s)", lastreason);
	ok(agg_record(ag) == NULL && strcmp(dml_errmsg(),
	    "no results accepted") == 0, "nothing accepted: no aggregate");
	agg_free(ag);

	a[1] = NAN;
	input(result(1, 1, 10, a, 3), NULL);
	ag = run(&o, &rc);
	ok(nevents[AGG_INVALID] == 1 && strstr(lastreason, "not finite"),
	    "NaN: rerun (%s)", lastreason);
	agg_free(ag);
	a[1] = 2;

	o.keep_going = 1;
	raw_input("{\"type\":\"dml.result\"\n[1]\n{bad\n");
	ag = run(&o, &rc);
	ok(rc == 0 && agg_rejected(ag)[AGG_MALFORMED] == 3,
	    "missing fields, not an object, bad JSON: malformed");
	agg_free(ag);
	raw_input("");
	ag = run(&o, &rc);
	ok(rc == 0 && agg_accepted(ag) == 0, "empty input: nothing summed");
	agg_free(ag);
}

static void
test_predict(void)
{
	dml_job pj = job;
	agg_opts o = {.round = 1, .keep_going = 1};
	const char *lines[] = {
	    "{\"hist\":[3,7],\"prob\":[2.9995,7.0005]}",	/* good */
	    "{\"hist\":[3,6],\"prob\":[3,7]}",		/* hist sums to 9 */
	    "{\"hist\":[3,7],\"prob\":[3,7.1]}",	/* prob off by 0.1 */
	    "{\"hist\":[-1,11],\"prob\":[3,7]}",	/* negative */
	    "{\"hist\":[3,7]}",				/* prob missing */
	};
	char path[64];
	FILE *f;
	dml_agg *ag;
	rec_in *in;
	int rc;

	pj.task = TASK_PREDICT;
	pj.classes = 2;
	job = pj;
	snprintf(path, sizeof path, "%s/in.ndjson", tmpl);
	f = fopen(path, "w");
	for (int i = 0; i < 5; i++) {
		json_t *r = rec_new("dml.result"), *v, *t;
		const char *name;
		int64_t shape[1] = {2};
		dml_key k;
		v = json_loads(lines[i], 0, NULL);
		json_object_foreach(v, name, t) {
			float x[2] = {(float)json_number_value(json_array_get(t,
			    0)), (float)json_number_value(json_array_get(t,
			    1))};
			json_object_set_new(v, name, tensor_to_json(DT_F32, 1,
			    shape, x));
		}
		json_object_set_new(r, "job", json_string(job.id));
		json_object_set_new(r, "round", json_integer(1));
		json_object_set_new(r, "task", json_string("predict"));
		json_object_set_new(r, "n", json_integer(10));
		json_object_set_new(r, "weight", json_integer(10));
		json_object_set_new(r, "values", v);
		seed_key(&k, 10 + i);
		rec_sign(r, &k);
		key_free(&k);
		rec_write(f, r, NULL);
		json_decref(r);
	}
	fclose(f);
	memset(nevents, 0, sizeof nevents);
	ag = agg_new(&job, &o, event, NULL);
	in = rec_open(path);
	rc = agg_feed(ag, in);
	rec_close(in);
	ok(rc == 0 && agg_accepted(ag) == 1 &&
	    agg_rejected(ag)[AGG_INVALID] == 4,
	    "predict: hist must sum to n, prob within 1e-3 n, no negatives, "
	    "both present");
	agg_free(ag);
}

/* The intake alone: a file of records taken one at a time; the index of
 * the first refused, or -1, with its counter in *why. */
static int
intake_run(agg_intake *t, enum agg_reject *why)
{
	char path[64];
	rec_in *in;
	json_t *r;
	unsigned char from[32];
	int i = 0, bad = -1;

	snprintf(path, sizeof path, "%s/in.ndjson", tmpl);
	in = rec_open(path);
	for (; bad < 0 && rec_next(in, &r) > 0; i++) {
		if (agg_intake_result(t, in, r, from, why) < 0)
			bad = i;
		json_decref(r);
	}
	rec_close(in);
	return bad;
}

static void
test_intake(void)
{
	const float d[3] = {1, 2, 3};
	agg_opts o = {.round = -1};
	enum agg_reject why = AGG_NREJECT;
	agg_intake *t;
	keyset *only;
	dml_key k;
	json_t *forged;

	input(result(1, 4, 2, d, 3), result(2, 4, 2, d, 3), NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == -1 && agg_intake_round(t) == 4,
	    "intake: two results taken; the first sets the round");
	agg_intake_free(t);

	input(result(1, 4, 2, d, 3), result(2, 5, 2, d, 3), NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == 1 && why == AGG_REPLAY &&
	    strstr(dml_errmsg(), "in.ndjson:2: result of round 5, this is "
	    "round 4"), "intake: a result of another round is a replay");
	agg_intake_free(t);

	input(result(1, 4, 2, d, 3), result(1, 4, 3, d, 3), NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == 1 && why == AGG_DUPLICATE &&
	    strstr(dml_errmsg(), "duplicate: a second result from device"),
	    "intake: a second result from a device is a duplicate");
	agg_intake_free(t);

	forged = result(3, 4, 2, d, 3);
	json_object_set_new(forged, "n", json_integer(3));
	input(forged, NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == 0 && why == AGG_FORGED &&
	    strstr(dml_errmsg(), "in.ndjson:1: forged: bad signature") &&
	    agg_intake_round(t) == -1,
	    "intake: a forged result is refused and sets no round");
	input(result(3, 4, 2, d, 3), NULL);
	ok(intake_run(t, &why) == -1 && agg_intake_round(t) == 4,
	    "intake: nor does it claim its device");
	agg_intake_free(t);

	o.no_verify = 1;
	forged = result(3, 4, 2, d, 3);
	json_object_set_new(forged, "n", json_integer(3));
	input(forged, NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == -1, "intake: no_verify takes it");
	agg_intake_free(t);

	o.no_verify = 0;
	only = keyset_new();
	seed_key(&k, 1);
	keyset_add(only, k.pk);
	key_free(&k);
	o.devices = only;
	o.round = 4;
	input(result(1, 4, 2, d, 3), result(2, 4, 2, d, 3), NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == 1 && why == AGG_FORGED &&
	    strstr(dml_errmsg(), "is not an assigned device"),
	    "intake: a device not listed is forged");
	agg_intake_free(t);
	keyset_free(only);

	o.devices = NULL;
	input(result(1, 3, 2, d, 3), NULL);
	t = agg_intake_new(&job, &o);
	ok(intake_run(t, &why) == 0 && why == AGG_REPLAY &&
	    strstr(dml_errmsg(), "(replayed?)"),
	    "intake: with a round asked for, another is a replay");
	agg_intake_free(t);
}

int
main(void)
{
	char cmd[128];

	test_random();
	if (dml_crypto_init() < 0 || !mkdtemp(tmpl))
		return 1;
	memset(&job, 0, sizeof job);
	snprintf(job.id, sizeof job.id, "bafkreitestjob");
	job.task = TASK_TRAIN;
	job.model = "bafkreidu6w2g2sos5wkspntywrebqw27jezgn3gh4vtxuyh46k6aixzvau";
	job.params = 3;
	job.min_samples = 2;
	job.max_delta = 3;
	test_keys();
	test_keys_file();
	test_scales_file();
	test_sum();
	test_compose();
	test_reject();
	test_predict();
	test_intake();
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
	if (system(cmd) != 0)
		return 1;
	return done_testing();
}
