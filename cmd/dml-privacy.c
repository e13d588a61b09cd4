/* dml-privacy: the differential-privacy steps of the pipeline: clip (and
 * in distributed mode noise) a device's update, noise the node's sum,
 * account the privacy spent and refuse to pass the job's budget. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "job.h"
#include "record.h"
#include "report.h"
#include "sign.h"
#include "tensor.h"
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

static const char *const mode_name[] = {"central", "distributed"};

struct opts {
	const char *jobf, *keyf, *out, *spent, *in;
	long seed;		/* -1: noise key from randombytes */
};

/* The noise generator of one record: from --seed, the purpose, the
 * signer, the job and the round, or from libsodium's randomness. */
static dp_rng *
noise_rng(const struct opts *op, const char *purpose, const unsigned char
    pk[32], const char *job, long long round)
{
	unsigned char buf[8 + 16 + 32 + CID_MAXSTR + 8];
	size_t n = 0, l;
	dp_rng *g;

	if (op->seed < 0)
		return dp_rng_new(NULL, 0);
	for (int i = 0; i < 8; i++)
		buf[n++] = (unsigned char)((unsigned long)op->seed >> (8 * i));
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

	if (dt == DT_F64)
		return tensor_to_json(DT_F64, 1, shape, v);
	{
		float *f = xmalloc(n * sizeof *f);
		for (size_t i = 0; i < n; i++)
			f[i] = (float)v[i];
		t = tensor_to_json(DT_F32, 1, shape, f);
		free(f);
	}
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

/* What every input record must be: of `type`, signed (by `signer` if
 * given), for this job; `fresh`: not clipped or noised yet. */
static int
check_record(const rec_in *in, const json_t *r, const char *type,
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

/* clip: each dml.result of the device; dml.declined passed on. */
static int
do_clip(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	/* distributed: min_devices shares sum to at least the job's noise */
	double sd = j->dp.distributed ? j->dp.noise * j->dp.clip /
	    sqrt((double)j->min_devices) : 0;
	json_t *r;
	int rc;

	while ((rc = rec_next(in, &r)) > 0) {
		const char *type = json_string_value(json_object_get(r, "type"));
		json_t *vals;
		enum dml_dtype dt;
		long long round;
		double *v;

		if (type && strcmp(type, "dml.declined") == 0) {
			if (rec_out_write(o, r, in) < 0)
				return json_decref(r), -2;
			json_decref(r);
			continue;
		}
		if (check_record(in, r, "dml.result", j, k->pk, 1, &round) < 0 ||
		    !(vals = rec_get_obj(in, r, "values")) ||
		    !(v = read_update(in, vals, "delta", j, &dt))) {
			json_decref(r);
			return -1;
		}
		clip_as(v, (size_t)j->params, j->dp.clip, dt);
		if (sd > 0) {
			dp_rng *g = noise_rng(op, "clip", k->pk, j->id, round);
			if (!g) {
				free(v);
				json_decref(r);
				return -2;
			}
			dp_add_noise(g, v, (size_t)j->params, sd);
			dp_rng_free(g);
		}
		json_object_set_new(vals, "delta", update_json(v,
		    (size_t)j->params, dt));
		free(v);
		json_object_set_new(r, "privacy", json_pack("{s:s,s:f,s:f}",
		    "mode", mode_name[j->dp.distributed], "clip", j->dp.clip,
		    "noise_sd", sd));
		if (rec_sign(r, k) < 0 || rec_out_write(o, r, NULL) < 0) {
			json_decref(r);
			return -2;
		}
		json_decref(r);
	}
	if (rc == 0 && rec_count(in) == 0)
		return dml_error("%s: empty input: no result", rec_name(in));
	return rc;
}

/* The one dml.aggregate of the input (dml.rerun records before it are
 * passed to o when o is given). *in_out is left open for the caller. */
static json_t *
read_aggregate(rec_in *in, rec_out *o)
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

/* noise: central mode, the sum of the node's own aggregate. */
static int
do_noise(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	json_t *agg, *sum;
	long long round;
	enum dml_dtype dt;
	double *v, sd = j->dp.noise * j->dp.clip;
	dp_rng *g;

	if (!(agg = read_aggregate(in, o)))
		return -1;
	if (check_record(in, agg, "dml.aggregate", j, k->pk, 1, &round) < 0 ||
	    !(sum = rec_get_obj(in, agg, "sum")) ||
	    !(v = read_update(in, sum, "delta", j, &dt))) {
		json_decref(agg);
		return -1;
	}
	if (!(g = noise_rng(op, "noise", k->pk, j->id, round))) {
		free(v);
		json_decref(agg);
		return -2;
	}
	dp_add_noise(g, v, (size_t)j->params, sd);
	dp_rng_free(g);
	json_object_set_new(sum, "delta", update_json(v, (size_t)j->params,
	    DT_F64));
	free(v);
	json_object_set_new(agg, "privacy", json_pack("{s:s,s:f,s:f,s:f}",
	    "mode", "central", "clip", j->dp.clip, "noise", j->dp.noise,
	    "noise_sd", sd));
	if (rec_sign(agg, k) < 0 || rec_out_write(o, agg, NULL) < 0) {
		json_decref(agg);
		return -2;
	}
	json_decref(agg);
	return 0;
}

/* The last record of a --spent file (NULL and no error when the file does
 * not exist or is empty: report_privacy_last checks the records), if the
 * budget is not spent yet. *text gets the file's bytes for the rewrite.
 * -1 on a bad file. */
static int
read_spent(const char *path, const dml_job *j, json_t **last, char **text,
    size_t *len)
{
	long line;
	double e;
	int rc = 0;

	*last = NULL;
	*text = NULL;
	*len = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (dml_read_file(path, text, len) < 0 ||
	    report_privacy_last(j, path, last, &line) < 0)
		rc = -1;
	else if (*last && rec_get_num(NULL, *last, "epsilon", &e) == 0 &&
	    !(e <= j->dp.epsilon))
		rc = dml_error("%s:%ld: the budget is already exceeded: "
		    "epsilon %g, the job's budget is %g", path, line, e,
		    j->dp.epsilon);
	if (rc < 0) {
		json_decref(*last);
		*last = NULL;
		free(*text);
		*text = NULL;
	}
	return rc;
}

/* account: the dml.privacy record after this round, or a refusal. */
static int
do_account(const struct opts *op, const dml_job *j, const dml_key *k,
    rec_in *in, rec_out *o)
{
	const job_dp *d = &j->dp;
	json_t *agg, *last = NULL, *pr, *orders;
	long long round, devices, lround;
	double eps, next, order;
	char *text = NULL, *line;
	size_t len;
	int rc = -1;

	if (!(agg = read_aggregate(in, NULL)))
		return -1;
	if (check_record(in, agg, "dml.aggregate", j, NULL, 0, &round) < 0 ||
	    rec_get_int(in, agg, "devices", 0, 1LL << 40, &devices) < 0)
		goto out;
	if (!d->distributed) {
		json_t *p = json_object_get(agg, "privacy");
		if (!p || json_number_value(json_object_get(p, "noise")) !=
		    d->noise || json_number_value(json_object_get(p, "clip")) !=
		    d->clip) {
			rec_err(in, "the aggregate carries no central noise of "
			    "the job's (run dml-privacy noise on it first)");
			goto out;
		}
	} else if (devices < j->min_devices) {
		rec_err(in, "%lld devices: their noise shares sum to less than "
		    "the job's noise (it needs %lld devices)", devices,
		    j->min_devices);
		goto out;
	}
	if (op->spent && read_spent(op->spent, j, &last, &text, &len) < 0)
		goto out;
	if (last && rec_get_int(NULL, last, "round", 0, 1LL << 40,
	    &lround) == 0 && lround >= round) {
		dml_error("%s: round %lld is already accounted (the last record "
		    "is of round %lld)", op->spent, round, lround);
		goto out;
	}
	/* every round up to this one released a noised sum: round + 1 steps */
	eps = dp_spent(d->sample_rate, d->noise, round + 1, d->delta, &order);
	next = dp_spent(d->sample_rate, d->noise, round + 2, d->delta, NULL);
	if (!(eps <= d->epsilon)) {
		dml_error("%s:%ld: round %lld would bring epsilon to %.4g "
		    "(delta %g), past the job's budget %g: stop, do not release "
		    "this round", rec_name(in), rec_line(in), round, eps,
		    d->delta, d->epsilon);
		rc = -3;
		goto out;
	}
	if (!(next <= d->epsilon))
		dml_warn("note: round %lld is the last the budget allows (one "
		    "more would bring epsilon to %.4g, past %g)", round, next,
		    d->epsilon);
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
	if (k && rec_sign(pr, k) < 0) {
		json_decref(pr);
		rc = -2;
		goto out;
	}
	rc = rec_out_write(o, pr, NULL) < 0 ? -2 : 0;
	if (rc == 0 && op->spent) {	/* the history plus this line, whole */
		size_t n;
		char *s = canon_dump(pr, NULL, NULL, &n);
		line = xmalloc(len + n + 1);
		if (len)
			memcpy(line, text, len);
		memcpy(line + len, s, n);
		line[len + n] = '\n';
		free(s);
		if (dml_write_file(op->spent, line, len + n + 1, 0644) < 0)
			rc = -2;
		free(line);
	}
	json_decref(pr);
out:
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
