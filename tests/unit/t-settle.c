/* The payout formula: exact shares, the order fees are paid in, the
 * remainder rule, never more than the escrow; contributions validation. */
#include "settle.h"
#include "sign.h"
#include "util.h"
#include "tap.h"

#include <stdlib.h>

static dml_key rep, other;
static char rephex[65];

static const char *
hexkey(int i)
{
	static char buf[8][65];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, 65, "%064x", i);
	return b;
}

/* A signed contributions record for job `job` with n devices 1..n. */
static json_t *
contrib(const char *job, int n, json_t *nodes, const char *developer,
    json_t *trainers, const dml_key *k)
{
	json_t *r = rec_new("dml.contributions"), *d = json_array();

	for (int i = n; i >= 1; i--)	/* unsorted on purpose */
		json_array_append_new(d, json_string(hexkey(i)));
	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "devices", d);
	if (nodes)
		json_object_set_new(r, "nodes", nodes);
	if (developer)
		json_object_set_new(r, "developer", json_string(developer));
	if (trainers)
		json_object_set_new(r, "trainers", trainers);
	rec_sign(r, k);
	return r;
}

static void
terms(settle_terms *t, const char *per, const char *dev, const char *dist,
    const char *fed, const char *report, const char *refin, const char *tp,
    long long mind)
{
	mpz_set_str(t->per_device, per, 10);
	mpz_set_str(t->developer_fee, dev, 10);
	mpz_set_str(t->node_fee[SETTLE_DISTRIBUTING], dist, 10);
	mpz_set_str(t->node_fee[SETTLE_FEDERATED], fed, 10);
	mpz_set_str(t->node_fee[SETTLE_REPORT], report, 10);
	mpz_set_str(t->node_fee[SETTLE_REFINING], refin, 10);
	mpz_set_str(t->trainer_pool, tp, 10);
	t->min_devices = mind;
}

/* The list as "to-prefix:role:amount ..." with keys cut to 4 hex digits
 * from the end, for compact expectations. */
static char *
show(const settle_list *l, const mpz_t refund)
{
	static char buf[4096];
	size_t o = 0;

	for (size_t i = 0; i < l->n; i++) {
		char *a = mpz_get_str(NULL, 10, l->v[i].amount);
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s:%s:%s ",
		    l->v[i].to + 60, l->v[i].role, a);
		free(a);
	}
	char *r = mpz_get_str(NULL, 10, refund);
	snprintf(buf + o, sizeof buf - o, "refund:%s", r);
	free(r);
	return buf;
}

static const char *JOB = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

/* Compute the payouts of escrow E for the given record and terms. */
static int
run(const settle_terms *t, json_t *r, const char *escrow, settle_list *l,
    mpz_t refund)
{
	settle_contrib c;
	mpz_t e;
	int rc;

	settle_list_init(l);
	if (settle_contrib_parse(NULL, r, &c) < 0)
		return -2;
	mpz_init_set_str(e, escrow, 10);
	rc = settle_compute(t, &c, e, l, refund);
	mpz_clear(e);
	settle_contrib_clear(&c);
	return rc;
}

static void
formula(void)
{
	settle_terms t;
	settle_list l;
	mpz_t refund;
	json_t *r;

	settle_terms_init(&t);
	mpz_init(refund);

	/* everything covered: fees, then 100 per device, the rest back */
	terms(&t, "100", "50", "20", "20", "20", "20", "0", 3);
	r = contrib(JOB, 3, json_pack("{s:s,s:[{s:s,s:i},{s:s,s:i}]}",
	    "report", rephex, "federated", "key", hexkey(0xa1), "devices", 2,
	    "key", hexkey(0xa2), "devices", 1), hexkey(0xd0), NULL, &rep);
	ok(run(&t, r, "1000", &l, refund) == 0, "covered: computed");
	is_str(show(&l, refund), "0001:device:100 0002:device:100 "
	    "0003:device:100 00a1:federated:13 00a2:federated:6 "
	    "00d0:developer:50 "
	    "499f:report:20 refund:611", "covered: fees, devices, remainders "
	    "and unnamed roles go back");
	settle_list_clear(&l);
	json_decref(r);

	/* short escrow: fees first, then the devices share what is left */
	terms(&t, "50", "30", "10", "10", "10", "10", "0", 1);
	r = contrib(JOB, 4, json_pack("{s:[s]}", "report", rephex), hexkey(7),
	    NULL, &rep);
	ok(run(&t, r, "100", &l, refund) == 0, "short: computed");
	is_str(show(&l, refund), "0001:device:7 0002:device:7 0003:device:7 "
	    "0004:device:7 0007:developer:30 499f:report:10 refund:32",
	    "short: an unnamed role's allotment is refunded, devices get "
	    "floor(left / N)");
	settle_list_clear(&l);

	/* escrow below the developer fee: nobody else is paid */
	ok(run(&t, r, "25", &l, refund) == 0, "tiny: computed");
	is_str(show(&l, refund), "0007:developer:25 refund:0",
	    "tiny: the developer takes what there is, zero payouts left out");
	settle_list_clear(&l);
	json_decref(r);

	/* no developer named: the fee stays with the customer */
	terms(&t, "10", "500", "0", "0", "0", "0", "0", 1);
	r = contrib(JOB, 2, NULL, NULL, NULL, &rep);
	ok(run(&t, r, "520", &l, refund) == 0 &&
	    strcmp(show(&l, refund), "0001:device:10 0002:device:10 "
	    "refund:500") == 0, "no developer: fee refunded (%s)",
	    show(&l, refund));
	settle_list_clear(&l);
	json_decref(r);

	/* the job's developer wins over the one the contributions name */
	terms(&t, "10", "500", "0", "0", "0", "0", "0", 1);
	r = contrib(JOB, 1, NULL, hexkey(0xd1), NULL, &rep);
	strcpy(t.developer, hexkey(0xd2));
	ok(run(&t, r, "520", &l, refund) == 0 &&
	    strcmp(show(&l, refund), "0001:device:10 00d2:developer:500 "
	    "refund:10") == 0, "the job's developer is paid (%s)",
	    show(&l, refund));
	settle_list_clear(&l);
	t.developer[0] = 0;
	ok(run(&t, r, "520", &l, refund) == 0 &&
	    strcmp(show(&l, refund), "0001:device:10 00d1:developer:500 "
	    "refund:10") == 0, "else the contributions' developer (%s)",
	    show(&l, refund));
	settle_list_clear(&l);
	json_decref(r);

	/* federated nodes that report no devices split equally */
	terms(&t, "0", "0", "0", "10", "0", "0", "0", 0);
	r = contrib(JOB, 0, json_pack("{s:[{s:s,s:i},{s:s,s:i},{s:s,s:i}]}",
	    "federated", "key", hexkey(1), "devices", 0, "key", hexkey(2),
	    "devices", 0, "key", hexkey(3), "devices", 0), NULL, NULL, &rep);
	ok(run(&t, r, "10", &l, refund) == 0, "zero-device federated computed");
	is_str(show(&l, refund), "0001:federated:3 0002:federated:3 "
	    "0003:federated:3 refund:1", "equal split, remainder refunded");
	settle_list_clear(&l);
	json_decref(r);

	/* trainers share the pool in exact proportion to their weights */
	terms(&t, "0", "0", "0", "0", "0", "0", "100", 0);
	r = contrib(JOB, 0, NULL, NULL, json_pack("[{s:s,s:f},{s:s,s:i},"
	    "{s:s,s:f}]", "key", hexkey(3), "weight", 0.5, "key", hexkey(2),
	    "weight", 1, "key", hexkey(1), "weight", 1.5), &rep);
	ok(run(&t, r, "1000", &l, refund) == 0, "trainers computed");
	is_str(show(&l, refund), "0001:trainer:50 0002:trainer:33 "
	    "0003:trainer:16 refund:901", "trainer pool by weight, floors");
	settle_list_clear(&l);
	json_decref(r);

	/* the same key in several roles: sorted by key, then role */
	terms(&t, "1", "5", "0", "3", "4", "0", "0", 1);
	r = contrib(JOB, 2, json_pack("{s:s,s:[{s:s,s:i}]}", "report", rephex,
	    "federated", "key", rephex, "devices", 2), rephex, NULL, &rep);
	ok(run(&t, r, "100", &l, refund) == 0, "multi-role computed");
	is_str(show(&l, refund), "0001:device:1 0002:device:1 "
	    "499f:developer:5 499f:federated:3 499f:report:4 refund:86",
	    "sorted by (account, role)");
	settle_list_clear(&l);

	/* too few devices: the job does not pay */
	terms(&t, "1", "0", "0", "0", "0", "0", "0", 3);
	ok(run(&t, r, "100", &l, refund) == -1 &&
	    strstr(dml_errmsg(), "at least 3"), "below min_devices refused: %s",
	    dml_errmsg());
	settle_list_clear(&l);
	json_decref(r);

	settle_terms_clear(&t);
	mpz_clear(refund);
}

static void
contributions(void)
{
	settle_contrib c;
	json_t *r;

	r = contrib(JOB, 3, NULL, NULL, NULL, &rep);
	ok(settle_contrib_parse(NULL, r, &c) == 0 && c.ndevices == 3 &&
	    strcmp(c.devices[0], hexkey(1)) == 0 &&
	    strcmp(c.from, rephex) == 0, "nodes may be absent; devices sorted");
	settle_contrib_clear(&c);
	json_object_set_new(r, "devices", json_pack("[s,s]", hexkey(1),
	    hexkey(1)));
	rec_sign(r, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "twice"), "a device named twice is refused");
	json_object_set_new(r, "devices", json_pack("[s]", "abc"));
	rec_sign(r, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "\"devices\"[0]"), "a bad device key is named");
	json_object_set_new(r, "devices", json_pack("[s]", hexkey(1)));
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "bad signature"), "a changed record is refused");
	json_decref(r);

	r = contrib(JOB, 1, json_pack("{s:s}", "report", rephex), NULL, NULL,
	    &other);
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "not by the report node"),
	    "signed by someone other than the report node: refused");
	json_decref(r);

	r = contrib(JOB, 1, json_pack("{s:[{s:s,s:i},{s:s,s:i}]}", "federated",
	    "key", hexkey(1), "devices", 1, "key", hexkey(1), "devices", 2),
	    NULL, NULL, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0, "a federated node twice");
	json_decref(r);
	r = contrib(JOB, 1, json_pack("{s:[{s:s,s:s}]}", "federated", "key",
	    hexkey(1), "devices", "3"), NULL, NULL, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "must be an integer"), "devices must be an "
	    "integer: %s", dml_errmsg());
	json_decref(r);
	r = contrib(JOB, 1, NULL, NULL, json_pack("[{s:s,s:f}]", "key",
	    hexkey(1), "weight", -1.0), &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0, "a negative weight");
	json_decref(r);
	r = contrib("notacid", 1, NULL, NULL, NULL, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0, "a job that is not a CID");
	json_decref(r);
	r = contrib(JOB, 1, NULL, "XYZ", NULL, &rep);
	ok(settle_contrib_parse(NULL, r, &c) < 0, "a bad developer key");
	json_decref(r);
	r = contrib(JOB, 1, NULL, NULL, NULL, &rep);
	json_object_del(r, "sig");
	ok(settle_contrib_parse(NULL, r, &c) < 0 &&
	    strstr(dml_errmsg(), "not signed"), "unsigned refused");
	json_decref(r);
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned long
rnd(unsigned long n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned long)(rng % n);
}

/* Random terms and contributions: never more than the escrow, sorted,
 * positive, deterministic. */
static void
random_cases(void)
{
	int bad = 0, cases = 300;
	settle_terms t;
	mpz_t refund, e, sum;

	settle_terms_init(&t);
	mpz_inits(refund, e, sum, NULL);
	for (int k = 0; k < cases; k++) {
		char a[8][24];
		json_t *fed = json_array(), *tr = json_array(), *r;
		settle_list l, l2;
		settle_contrib c;
		int nd = (int)rnd(40);

		for (int i = 0; i < 8; i++)
			snprintf(a[i], sizeof a[i], "%lu", rnd(4) ? rnd(200) :
			    rnd(100000));
		terms(&t, a[0], a[1], a[2], a[3], a[4], a[5], a[6], 0);
		for (int i = (int)rnd(4); i > 0; i--)
			json_array_append_new(fed, json_pack("{s:s,s:i}", "key",
			    hexkey(0x100 + i), "devices", (int)rnd(5)));
		for (int i = (int)rnd(4); i > 0; i--)
			json_array_append_new(tr, json_pack("{s:s,s:f}", "key",
			    hexkey(0x200 + i), "weight", rnd(1000) / 7.0));
		r = contrib(JOB, nd, json_pack("{s:s,s:o,s:[s,s]}", "report",
		    rephex, "federated", fed, "refining", hexkey(0x300),
		    hexkey(0x301)), rnd(2) ? hexkey(0x400) : NULL, tr, &rep);
		mpz_set_ui(e, rnd(3) ? rnd(5000) : rnd(50));
		if (settle_contrib_parse(NULL, r, &c) < 0) {
			bad++;
			json_decref(r);
			continue;
		}
		settle_list_init(&l);
		settle_list_init(&l2);
		if (settle_compute(&t, &c, e, &l, refund) < 0 ||
		    settle_compute(&t, &c, e, &l2, refund) < 0)
			bad++;
		mpz_set_ui(sum, 0);
		for (size_t i = 0; i < l.n; i++) {
			mpz_add(sum, sum, l.v[i].amount);
			if (mpz_sgn(l.v[i].amount) <= 0 ||
			    (i && (memcmp(l.v[i - 1].to, l.v[i].to, 64) > 0 ||
			    (memcmp(l.v[i - 1].to, l.v[i].to, 64) == 0 &&
			    strcmp(l.v[i - 1].role, l.v[i].role) >= 0))))
				bad++;
			if (i < l2.n && (mpz_cmp(l.v[i].amount,
			    l2.v[i].amount) || strcmp(l.v[i].to, l2.v[i].to)))
				bad++;
		}
		mpz_add(sum, sum, refund);
		if (mpz_cmp(sum, e) != 0 || mpz_cmp(l.total, e) > 0 ||
		    mpz_sgn(refund) < 0 || l.n != l2.n)
			bad++;
		settle_list_clear(&l);
		settle_list_clear(&l2);
		settle_contrib_clear(&c);
		json_decref(r);
	}
	ok(bad == 0, "%d random cases: sorted, positive, deterministic, paid + "
	    "refund = escrow (%d bad)", cases, bad);
	settle_terms_clear(&t);
	mpz_clears(refund, e, sum, NULL);
}

static void
serialise(void)
{
	settle_list l;
	mpz_t x, refund, escrow;
	json_t *j, *r;
	char *s;

	settle_list_init(&l);
	mpz_init_set_ui(x, 0);
	settle_list_add(&l, hexkey(2), settle_role("device"), x);
	ok(l.n == 0, "a zero payout is left out");
	mpz_set_str(x, "123456789012345678901234567890", 10);
	settle_list_add(&l, hexkey(2), settle_role("device"), x);
	mpz_set_ui(x, 5);
	settle_list_add(&l, hexkey(1), settle_role("report"), x);
	settle_list_sort(&l);
	j = settle_list_json(&l);
	s = canon_dump(j, NULL, NULL, NULL);
	is_str(s, "[{\"amount\":\"5\",\"role\":\"report\",\"to\":\"0000000000"
	    "000000000000000000000000000000000000000000000000000001\"},"
	    "{\"amount\":\"123456789012345678901234567890\",\"role\":\"device\","
	    "\"to\":\"000000000000000000000000000000000000000000000000000000"
	    "0000000002\"}]", "the list serialises on its own, big amounts "
	    "exact");
	free(s);
	json_decref(j);
	mpz_init_set_ui(escrow, 123);
	mpz_init_set_ui(refund, 0);
	r = settle_record(JOB, JOB, rephex, escrow, &l, refund, 1);
	ok(rec_check(NULL, r, "dml.payouts") == 0 &&
	    strcmp(json_string_value(json_object_get(json_object_get(r,
	    "totals"), "report")), "5") == 0 &&
	    json_integer_value(json_object_get(r, "devices")) == 1,
	    "dml.payouts record with totals per role");
	json_decref(r);
	ok(settle_role("owner") && !settle_role("boss"), "role names");
	settle_list_clear(&l);
	mpz_clears(x, refund, escrow, NULL);
}

static void
from_job(void)
{
	json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s,"
	    "s:{s:s,s:s,s:[i,i],s:i,s:s},"
	    "s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}}",
	    "type", "dml.job", "v", 1, "task", "predict", "data", "toy",
	    "min_devices", 2, "rounds", 1, "deadline", "2026-02-01T00:00:00Z",
	    "algorithm", "model", JOB, "arch", "mlp", "layers", 4, 3, "params",
	    15, "developer", hexkey(0xd3), "reward", "budget", "1000",
	    "per_device", "7", "developer_fee", "9", "trainer_pool", "11",
	    "node_fees", "distributing", "1", "federated", "2", "report", "3",
	    "refining", "4");
	settle_terms t;
	dml_job j;

	json_object_set_new(r, "customer", json_string(rephex));
	rec_sign(r, &rep);
	settle_terms_init(&t);
	ok(job_from_record(NULL, r, &j) == 0, "a signed job");
	ok(settle_terms_from_job(&t, &j) == 0 &&
	    mpz_cmp_ui(t.per_device, 7) == 0 &&
	    mpz_cmp_ui(t.developer_fee, 9) == 0 &&
	    mpz_cmp_ui(t.trainer_pool, 11) == 0 &&
	    mpz_cmp_ui(t.node_fee[SETTLE_REFINING], 4) == 0 &&
	    t.min_devices == 2 && strcmp(t.developer, hexkey(0xd3)) == 0,
	    "terms read from the job's reward and algorithm.developer");
	job_free(&j);
	settle_terms_clear(&t);
}

int
main(void)
{
	unsigned char seed[32] = {42}, seed2[32] = {43};

	if (dml_crypto_init() < 0)
		return 1;
	key_generate(&rep, seed);
	key_generate(&other, seed2);
	key_hex(rep.pk, 32, rephex);
	if (strcmp(rephex + 60, "499f") != 0)
		printf("# the report key ends in %s, not 499f\n", rephex + 60);
	formula();
	contributions();
	random_cases();
	serialise();
	from_job();
	key_free(&rep);
	key_free(&other);
	return done_testing();
}
