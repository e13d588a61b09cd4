/* job: the writer a library user composes jobs with (job_spec,
 * job_spec_check, job_build), and that what it builds and a customer signs
 * is what every reader accepts. */
#include "job.h"
#include "sign.h"
#include "util.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* A stats job of a fixed creation time and nonce. */
static void
stats_spec(job_spec *s, const dml_key *k)
{
	job_spec_init(s);
	s->task = TASK_STATS;
	s->data = "toy";
	s->features = 4;
	s->classes = 3;
	s->created = 1767225600;	/* 2026-01-01T00:00:00Z */
	s->nonce = "t";
	memcpy(s->customer, k->pk, 32);
}

static int
rejected(const job_spec *s, const char *want)
{
	int bad = job_spec_check(s) < 0;

	if (!bad || !strstr(dml_errmsg(), want))
		printf("#   got %s: %s\n", bad ? "error" : "no error",
		    bad ? dml_errmsg() : "");
	return bad && strstr(dml_errmsg(), want);
}

static void
test_rules(const dml_key *k)
{
	job_spec s;
	job_dp dp = {1, 0, 1, 1, 1, 1e-5, 1};

	stats_spec(&s, k);
	ok(job_spec_check(&s) == 0, "a stats job with its shapes passes");
	s.classes = 0;
	ok(rejected(&s, "needs --features and --classes"),
	    "a stats job without its classes is refused");
	stats_spec(&s, k);
	s.task = TASK_TRAIN;
	ok(rejected(&s, "needs -m MODEL"), "a train job needs a model");
	stats_spec(&s, k);
	s.budget = "100";
	s.per_device = "10";
	s.min_devices = 11;
	ok(rejected(&s, "budget 100 does not cover the fees and 11 devices "
	    "(110 needed)"), "the budget must cover min_devices devices");
	s.min_devices = 10;
	ok(job_spec_check(&s) == 0, "a budget that covers them passes");
	s.trainer_pool = "1";
	ok(rejected(&s, "(101 needed)"), "the trainer pool counts too");
	stats_spec(&s, k);
	s.deadline = s.created;
	ok(rejected(&s, "the deadline is not after the creation time"),
	    "a deadline at the creation time is refused");
	stats_spec(&s, k);
	s.control_block = 5;
	ok(rejected(&s, "need --control-set"),
	    "control test terms need a control set");
	stats_spec(&s, k);
	s.dp = &dp;
	ok(rejected(&s, "apply to train jobs"), "privacy is for train jobs");
	stats_spec(&s, k);
	ok(job_spec_node_fee(&s, "report=7") == 0 &&
	    strcmp(s.node_fees[2], "7") == 0 &&
	    strcmp(s.node_fees[1], "0") == 0, "a node fee of one role");
	ok(job_spec_node_fee(&s, "9") == 0 && strcmp(s.node_fees[0], "9") == 0 &&
	    strcmp(s.node_fees[3], "9") == 0, "a node fee of every role");
	ok(job_spec_node_fee(&s, "janitor=1") < 0 &&
	    strstr(dml_errmsg(), "unknown node role 'janitor'"),
	    "an unknown role is refused");
	ok(job_spec_node_fee(&s, "report=01") < 0 &&
	    strstr(dml_errmsg(), "bad node fee '01'"),
	    "an amount with a leading zero is refused");
}

static void
test_criterion(void)
{
	json_t *c = job_criterion("region in eu,na");
	char *s = c ? json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT) : NULL;

	is_str(s, "{\"attr\":\"region\",\"op\":\"in\",\"value\":[\"eu\",\"na\"]}",
	    "'region in eu,na' is an in criterion of two strings");
	free(s);
	json_decref(c);
	c = job_criterion("ram_gb >= 4");
	s = c ? json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	is_str(s, "{\"attr\":\"ram_gb\",\"op\":\"ge\",\"value\":4}",
	    "'ram_gb >= 4' compares with an integer");
	free(s);
	json_decref(c);
	ok(!job_criterion("region") && strstr(dml_errmsg(), "bad criterion"),
	    "a criterion without an operator is refused");
	ok(!job_criterion("region ~ eu"), "an unknown operator is refused");
}

static void
test_build(const dml_key *k)
{
	job_spec s;
	json_t *r, *crit = json_array(), *again;
	dml_job j;
	char *line;

	stats_spec(&s, k);
	json_array_append_new(crit, job_criterion("os = linux"));
	s.criteria = crit;
	s.deadline = s.created + 86400;
	r = job_build(&s);
	ok(r != NULL, "job_build writes a stats job");
	is_str(json_string_value(json_object_get(r, "deadline")),
	    "2026-01-02T00:00:00Z", "the deadline in RFC 3339 UTC");
	ok(!json_object_get(r, "sig"), "the record is unsigned");
	ok(rec_sign(r, k) == 0 && job_from_record(NULL, json_incref(r), &j) == 0,
	    "signed by its customer, it is a valid job");
	ok(j.task == TASK_STATS && j.features == 4 && j.classes == 3 &&
	    j.min_devices == 10 && memcmp(j.customer, k->pk, 32) == 0,
	    "the reader sees the terms written");
	json_object_del(r, "sig");
	json_object_del(r, "from");
	again = job_build(&s);
	line = json_dumps(again, JSON_SORT_KEYS | JSON_COMPACT);
	{
		char *first = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
		is_str(line, first, "the same terms give the same record");
		free(first);
	}
	free(line);
	ok(job_license_set(again, "bafkreia", "single", "ab") < 0 &&
	    strstr(dml_errmsg(), "without an algorithm"),
	    "a job without an algorithm takes no license");
	job_free(&j);
	json_decref(again);
	json_decref(r);
	json_decref(crit);
	s.task = TASK_PREDICT;
	s.model = "/nonexistent/model.json";
	ok(!job_build(&s) && dml_errclass() == DML_EXIT_USAGE,
	    "a missing model file is a system error");
}

int
main(void)
{
	dml_key k;
	unsigned char seed[32] = {1};

	if (dml_crypto_init() < 0 || key_generate(&k, seed) < 0)
		return 1;
	test_rules(&k);
	test_criterion();
	test_build(&k);
	key_free(&k);
	return done_testing();
}
