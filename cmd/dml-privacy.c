/* dml-privacy: the differential-privacy steps of the pipeline: clip (and
 * in distributed mode noise) a device's update, noise the node's sum,
 * account the privacy spent and refuse to pass the job's budget. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
"      --seed S        deterministic noise (tests and experiments only:\n"
"                      whoever knows S can remove the noise)\n"
"      --spent FILE    account: the dml.privacy records so far; the new\n"
"                      one is appended (the file is rewritten whole)\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

struct opts {
	const char *jobf, *keyf, *out, *spent, *in;
	long seed;		/* -1: noise key from randombytes */
};

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

int
main(int argc, char **argv)
{
	enum { O_SEED = 256, O_SPENT, O_VERSION };
	static const struct option opts[] = {
		{"job", required_argument, 0, 'j'},
		{"key", required_argument, 0, 'k'},
		{"seed", required_argument, 0, O_SEED},
		{"spent", required_argument, 0, O_SPENT},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	struct opts op = {0};
	const char *cmd;
	dml_job job;
	dml_key k, *kp = NULL;
	rec_in *in;
	rec_out *o;
	int c, rc;

	dml_setprog(argv[0]);
	op.seed = -1;
	while ((c = getopt_long(argc, argv, "+j:k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("options come after the command");
		}
	}
	if (optind >= argc)
		dml_usage_error("a command is required: clip, noise or account");
	cmd = argv[optind++];
	if (strcmp(cmd, "clip") && strcmp(cmd, "noise") && strcmp(cmd, "account"))
		dml_usage_error("unknown command '%s' (clip, noise or account)",
		    cmd);
	while ((c = getopt_long(argc, argv, "j:k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': op.jobf = optarg; break;
		case 'k': op.keyf = optarg; break;
		case 'o': op.out = optarg; break;
		case O_SPENT: op.spent = optarg; break;
		case O_SEED:
			if (dml_parse_long(optarg, 0, 0x7fffffffffffffffL,
			    &op.seed) < 0)
				dml_usage_error("--seed: %s", dml_errmsg());
			break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (argc - optind > 1)
		dml_usage_error("one input at most");
	op.in = optind < argc ? argv[optind] : NULL;
	if (!op.jobf)
		dml_usage_error("-j JOB is required");
	if (strcmp(cmd, "account") != 0 && !op.keyf)
		op.keyf = getenv("DML_KEY");
	if (strcmp(cmd, "account") != 0 && !op.keyf)
		dml_usage_error("%s needs -k KEY", cmd);
	if (op.spent && strcmp(cmd, "account") != 0)
		dml_usage_error("--spent goes with account");
	if (op.seed >= 0 && strcmp(cmd, "account") == 0)
		dml_usage_error("--seed goes with clip and noise");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(op.jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!job.dp.on)
		dml_die(DML_EXIT_REJECT, "%s:1: the job has no \"privacy\" "
		    "parameters (dml-job --dp-clip, --dp-noise, --dp-epsilon)",
		    op.jobf);
	if (strcmp(cmd, "noise") == 0 && job.dp.distributed)
		dml_die(DML_EXIT_REJECT, "%s:1: the job's privacy mode is "
		    "distributed: the devices add the noise (dml-privacy clip)",
		    op.jobf);
	if (op.keyf) {
		if (key_load(op.keyf, &k) < 0)
			dml_fail(DML_EXIT_USAGE);
		kp = &k;
	}
	if (!(in = rec_open(op.in)))
		dml_fail(DML_EXIT_REJECT);
	rec_set_copy(in, 1);
	if (!(o = rec_out_open(op.out)))
		dml_fail(DML_EXIT_USAGE);
	if (strcmp(cmd, "clip") == 0)
		rc = do_clip(&op, &job, kp, in, o);
	else if (strcmp(cmd, "noise") == 0)
		rc = do_noise(&op, &job, kp, in, o);
	else
		rc = do_account(&op, &job, kp, in, o);
	if (rc < 0) {
		rec_out_abort(o);
		dml_fail(rc == -2 ? DML_EXIT_USAGE : DML_EXIT_REJECT);
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
