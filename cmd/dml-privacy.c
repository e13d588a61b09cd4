/* dml-privacy: the differential-privacy steps of the pipeline: clip (and
 * in distributed mode noise) a device's update, noise the node's sum,
 * account the privacy spent and refuse to pass the job's budget. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dp.h"
#include "job.h"
#include "record.h"
#include "report.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-privacy clip -j JOB -k KEY [--seed S] [-o FILE] [RESULTS]\n"
"       dml-privacy noise -j JOB -k KEY [--seed S] [-o FILE] [AGGREGATE]\n"
"       dml-privacy account -j JOB [-k KEY] [--spent FILE] [-o FILE]\n"
"                           [AGGREGATE]\n"
"Differential privacy by the job's \"privacy\" parameters (dml-job --dp-*).\n"
"clip     (device, between dml-run and dml-encrypt) clip each of the\n"
"         device's dml.result updates to the job's L2 norm; in distributed\n"
"         mode also add the device's share of the noise; re-sign with KEY\n"
"noise    (node, central mode, after the last dml-aggregate) add Gaussian\n"
"         noise of sd noise*clip to the sum; re-sign with KEY\n"
"account  (node, before the round's sum is released) the privacy spent\n"
"         after this round, as a dml.privacy record; exit 1, writing\n"
"         nothing, if it would pass the job's epsilon budget\n"
"  -j, --job FILE      the job (its signature is checked)\n"
"  -k, --key FILE      the device's (clip) or node's (noise, account) key\n"
"                      (default $DML_KEY; account signs only with one)\n"
"      --seed S        deterministic noise (tests and experiments only:\n"
"                      whoever knows S can remove the noise)\n"
"      --spent FILE    account: the dml.privacy records so far; the new\n"
"                      one is appended (the file is rewritten whole)\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

enum { O_SPENT = CLI_ID_BASE };

static const cli_opt opts[] = {
	CLI_JOB,
	CLI_KEY,
	CLI_OUTPUT,
	{"seed", 0, 1, CLI_SEED, "clip noise", 0, NULL},
	{"spent", 0, 1, O_SPENT, "account", 0, NULL},
	CLI_END};

struct opts {
	const char *jobf, *out, *spent;
	long seed;		/* -1: noise key from randombytes */
};
static struct opts options = {NULL, NULL, NULL, -1};

/* clip: each dml.result of the device; dml.declined passed on. */
static int
do_clip(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	json_t *r;
	int rc;

	while ((rc = rec_next(in, &r)) > 0) {
		const char *type = json_string_value(json_object_get(r, "type"));
		int declined = type && strcmp(type, "dml.declined") == 0;
		int c = declined ? 0 : dp_clip_result(in, r, j, k, op->seed);

		if (c == 0 && rec_out_write(o, r, declined ? in : NULL) < 0)
			c = -2;
		json_decref(r);
		if (c < 0)
			return c;
	}
	if (rc == 0 && rec_count(in) == 0)
		return dml_error("%s: empty input: no result", rec_name(in));
	return rc;
}

/* noise: central mode, the sum of the node's own aggregate. */
static int
do_noise(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	json_t *agg;
	int rc;

	if (!(agg = dp_read_aggregate(in, o)))
		return -1;
	if ((rc = dp_noise_aggregate(in, agg, j, k, op->seed)) == 0 &&
	    rec_out_write(o, agg, NULL) < 0)
		rc = -2;
	json_decref(agg);
	return rc;
}

/* account: the dml.privacy record after this round, or a refusal. */
static int
do_account(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	json_t *agg, *last = NULL, *pr = NULL;
	long long round, devices;
	char *text = NULL;
	size_t len = 0;
	double next;
	int rc = -1;

	if (!(agg = dp_read_aggregate(in, NULL)))
		return -1;
	if (dp_account_check(in, agg, j, &round, &devices) < 0 ||
	    (op->spent && report_privacy_spent(j, op->spent, &last, &text,
	    &len) < 0) ||
	    !(pr = dp_account(in, j, round, devices, last, op->spent)))
		goto out;
	next = json_real_value(json_object_get(pr, "next_epsilon"));
	if (!(next <= j->dp.epsilon))
		dml_warn("note: round %lld is the last the budget allows (one "
		    "more would bring epsilon to %.4g, past %g)", round, next,
		    j->dp.epsilon);
	if ((k && rec_sign(pr, k) < 0) || rec_out_write(o, pr, NULL) < 0 ||
	    (op->spent && report_privacy_append(op->spent, text, len, pr) < 0))
		rc = -2;
	else
		rc = 0;
out:
	json_decref(pr);
	free(text);
	json_decref(last);
	json_decref(agg);
	return rc;
}

typedef int (*step_fn)(const struct opts *, const dml_job *,
    const dml_key *, rec_in *, rec_out *);

/* What every command does around its step: the job, the key (clip and
 * noise need one), the input and the output, each checked. */
static int
run(cli *c, step_fn step, int need_key)
{
	const char *keyf = need_key ? cli_need_key(c) : cli_key(c);
	dml_job job;
	dml_key k, *kp = NULL;
	rec_in *in;
	rec_out *o;
	int rc;

	cli_max_operands(c, 1);
	if (!options.jobf)
		cli_usage_error("-j JOB is required");
	if (job_load(options.jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!job.dp.on)
		dml_die(DML_EXIT_REJECT, "%s:1: the job has no \"privacy\" "
		    "parameters (dml-job --dp-clip, --dp-noise, --dp-epsilon)",
		    options.jobf);
	if (step == do_noise && job.dp.distributed)
		dml_die(DML_EXIT_REJECT, "%s:1: the job's privacy mode is "
		    "distributed: the devices add the noise (dml-privacy clip)",
		    options.jobf);
	if (keyf) {
		if (key_load(keyf, &k) < 0)
			dml_fail(DML_EXIT_USAGE);
		kp = &k;
	}
	if (!(in = rec_open(cli_operand(c, 0))))
		dml_fail(DML_EXIT_REJECT);
	rec_set_copy(in, 1);
	if (!(o = rec_out_open(options.out)))
		dml_fail(DML_EXIT_USAGE);
	if ((rc = step(&options, &job, kp, in, o)) < 0) {
		rec_out_abort(o);
		dml_fail(dml_exit_of(rc));
	}
	if (rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	rec_close(in);
	if (kp)
		key_free(kp);
	job_free(&job);
	dml_close_stdout();
	return 0;
}

static int
clip_run(cli *c)
{
	return run(c, do_clip, 1);
}

static int
noise_run(cli *c)
{
	return run(c, do_noise, 1);
}

static int
account_run(cli *c)
{
	return run(c, do_account, 0);
}

static const cli_cmd cmds[] = {
	{"clip", clip_run, NULL}, {"noise", noise_run, NULL},
	{"account", account_run, NULL}, {NULL, NULL, NULL}};

int
main(int argc, char **argv)
{
	uint64_t seed;
	int o;
	cli c;

	cli_init(&c, argc, argv, opts, usage, cmds);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case 'j': options.jobf = c.arg; break;
		case 'o': options.out = c.arg; break;
		case O_SPENT: options.spent = c.arg; break;
		case CLI_SEED:
			if ((seed = cli_u64(&c)) > (uint64_t)LONG_MAX)
				cli_opt_error(&c, "'%s' is out of range [0, "
				    "2^63)", c.arg);
			options.seed = (long)seed;
			break;
		}
	}
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	return cli_run(&c);
}
