/* dml-aggregate: the federated (and report, refining) node's sum: verify,
 * deduplicate and validate results or aggregates, request reruns, and
 * write one signed dml.aggregate. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "distribute.h"
#include "job.h"
#include "record.h"
#include "secagg.h"
#include "sign.h"
#include "util.h"
#include "weight.h"

static const char usage[] =
"usage: dml-aggregate -j JOBFILE -k KEY [options] [FILE...]\n"
"       dml-aggregate --scheme secagg --step STEP --state FILE -j JOBFILE\n"
"                     -k KEY [-r R] [-d FILE] [--assignments FILE] [-K]\n"
"                     [secagg options] [FILE...]\n"
"Sum the signed dml.result (or dml.aggregate) records of FILEs (default\n"
"stdin) for the job: verify, deduplicate, validate, then write a signed\n"
"dml.rerun for each result failing validation and one signed\n"
"dml.aggregate last.\n"
"  -j, --job FILE        the job (dml.job) the results answer\n"
"  -k, --key FILE        this node's secret key, to sign the output\n"
"  -r, --round R         the round summed; other rounds are replays\n"
"                        (default: the round of the first authentic input)\n"
"  -d, --devices FILE    accept results only from these devices (hex keys,\n"
"                        dml.pubkey or dml.assignment records, one a line)\n"
"      --assignments FILE  accept results only from the devices of these\n"
"                        dml.assignment records, each verified and for\n"
"                        this job (with -d: from devices in either)\n"
"      --distributor PUB the assignments' signer (default: any)\n"
"      --nodes FILE      accept aggregates only from these nodes\n"
"      --scale FILE      weighted sum: each listed device's values times\n"
"                        its factor (lines \"KEY FACTOR\", FACTOR an integer;\n"
"                        Paillier ciphertexts are raised to it)\n"
"  -R, --rule RULE       combine train updates by RULE: mean (default,\n"
"                        streaming), median, trimmed:BETA, krum:F,\n"
"                        multikrum:F:M; the output stays a sum (weight x\n"
"                        the rule's mean update); plaintext jobs only;\n"
"                        fltrust needs --reference\n"
"      --reference FILE  fltrust: the node's own update on the common\n"
"                        data (a dml.result or dml.aggregate)\n"
"  -K, --keep-going      skip bad inputs (counted in \"rejected\", warned on\n"
"                        stderr) instead of failing\n"
"      --no-verify       do not check signatures (inputs already verified\n"
"                        on a trusted path only)\n"
"  -o, --output FILE     write to FILE (whole or not at all), not stdout\n"
"  secure aggregation (the node's steps; devices: dml-encrypt(1)):\n"
"      --scheme secagg   sum masked inputs without seeing any of them\n"
"      --step STEP       collect-keys (dml.secagg.keys -> roster),\n"
"                        route-shares (shares -> one inbox per device),\n"
"                        collect-masked (masked inputs -> unmask request),\n"
"                        unmask (unmask answers -> dml.aggregate)\n"
"      --state FILE      the round's state between steps (collect-keys\n"
"                        makes it)\n"
"      --threshold T     collect-keys: shares needed to recover a secret\n"
"                        (default 2m/3 + 1 of m = k + 1 holders; > m/2)\n"
"      --neighbours K    collect-keys: mask with K neighbours (SecAgg+;\n"
"                        even, default all devices)\n"
"      --clip C          collect-keys: clamp values to [-C, C] before\n"
"                        quantizing (default 4096)\n"
"      --frac-bits F     collect-keys: fixed-point fraction bits\n"
"                        (default: the most that cannot overflow)\n"
"  -h, --help            this help\n"
"      --version         print the version\n";

/* -d, --nodes: the keys of a file, or NULL without one. */
static keyset *
keys_file(const char *path)
{
	keyset *s;

	if (!path)
		return NULL;
	s = keyset_new();
	if (keyset_load(s, path) < 0)
		dml_fail(DML_EXIT_USAGE);
	return s;
}

/* The devices results are accepted from: those of -d and those the
 * distributing node assigned to the job (--assignments); NULL: any. */
static keyset *
allowed_devices(const char *devf, const char *assignf, const char *distf,
    const dml_job *job)
{
	keyset *s = keys_file(devf);
	unsigned char dist[32];

	if (!assignf)
		return s;
	if (distf && pubkey_load(distf, dist) < 0)
		dml_usage_error("--distributor: %s", dml_errmsg());
	if (!s)
		s = keyset_new();
	if (assign_keys_load(s, assignf, job, distf ? dist : NULL) < 0)
		dml_fail(DML_EXIT_REJECT);
	return s;
}

struct ctx {
	rec_out *out;
	const dml_key *key;
};

/* -K: a bad input is warned about and left out. */
static void
skipped(const char *msg)
{
	dml_warn("%s (skipped)", msg);
}

/* The node's step of secure aggregation; -d, -r and -K apply. An exit
 * status. */
static int
secagg_run(const char *step, const char *state, const dml_job *job,
    const dml_key *key, secagg_params *p, const char *out, int nfiles,
    char **files)
{
	int s = secagg_nstep_parse(step), rc;
	secagg_node *n;

	if (s < 0)
		dml_usage_error("--step: unknown step '%s' (collect-keys, "
		    "route-shares, collect-masked, unmask)", step);
	if (!(n = secagg_node_new(s, state, job, key, p)))
		return DML_EXIT_REJECT;
	rc = secagg_run_files(NULL, n, out, p->keep_going ? skipped : NULL,
	    nfiles, files);
	secagg_node_free(n);
	return rc == 0 ? 0 : rc == AGG_EREJECT ? DML_EXIT_REJECT :
	    DML_EXIT_USAGE;
}

static int
event(void *arg, enum agg_reject why, const char *msg, json_t *rerun)
{
	struct ctx *c = arg;

	dml_warn("%s", msg);
	if (!rerun)
		return 0;
	if (rec_sign(rerun, c->key) < 0 || rec_out_write(c->out, rerun,
	    NULL) < 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"job", required_argument, 0, 'j'},
		{"key", required_argument, 0, 'k'},
		{"round", required_argument, 0, 'r'},
		{"devices", required_argument, 0, 'd'},
		{"nodes", required_argument, 0, 'N'},
		{"assignments", required_argument, 0, 0x4100},
		{"distributor", required_argument, 0, 0x4101},
		{"scale", required_argument, 0, 'S'},
		{"rule", required_argument, 0, 'R'},
		{"reference", required_argument, 0, 'F'},
		{"keep-going", no_argument, 0, 'K'},
		{"no-verify", no_argument, 0, 'n'},
		{"output", required_argument, 0, 'o'},
		{"scheme", required_argument, 0, 's'},
		{"step", required_argument, 0, 256},
		{"state", required_argument, 0, 257},
		{"threshold", required_argument, 0, 258},
		{"neighbours", required_argument, 0, 259},
		{"clip", required_argument, 0, 260},
		{"frac-bits", required_argument, 0, 261},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *jobf = NULL, *keyf = NULL, *devf = NULL, *nodef = NULL,
		   *out = NULL, *scalef = NULL, *reff = NULL, *scheme = NULL,
		   *step = NULL, *state = NULL;
	secagg_params sp = {.clip = 4096, .frac_bits = -1};
	long v;
	const char *assignf = NULL, *distf = NULL;	/* --assignments */
	double *ref = NULL;
	agg_opts o = {.round = -1};
	keyset *devices = NULL, *nodes = NULL;
	agg_scales *scales = NULL;
	robust_rule rule;
	struct ctx c = {0};
	dml_job job;
	dml_key key;
	dml_agg *a;
	json_t *r;
	long round;
	int ch, nfiles, rc = 0, status = DML_EXIT_REJECT;

	dml_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "j:k:r:d:R:Ko:s:h", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'j': jobf = optarg; break;
		case 'k': keyf = optarg; break;
		case 'r':
			if (dml_parse_long(optarg, 0, 1L << 53, &round) < 0)
				dml_usage_error("--round: %s", dml_errmsg());
			o.round = round;
			break;
		case 'd': devf = optarg; break;
		case 'N': nodef = optarg; break;
		case 0x4100: assignf = optarg; break;
		case 0x4101: distf = optarg; break;
		case 'S': scalef = optarg; break;
		case 'R':
			if (robust_parse(optarg, &rule) < 0)
				dml_usage_error("--rule: %s", dml_errmsg());
			o.rule = &rule;
			break;
		case 'F': reff = optarg; break;
		case 'K': o.keep_going = 1; break;
		case 'n': o.no_verify = 1; break;
		case 'o': out = optarg; break;
		case 's': scheme = optarg; break;
		case 256: step = optarg; break;
		case 257: state = optarg; break;
		case 258: case 259: case 261:
			if (dml_parse_long(optarg, ch == 261 ? 0 : 1,
			    ch == 261 ? 24 : 0xffffff, &v) < 0)
				dml_usage_error("--%s: %s", opts[ch - 256 + 12].name,
				    dml_errmsg());
			if (ch == 258)
				sp.threshold = v;
			else if (ch == 259)
				sp.neighbours = v;
			else
				sp.frac_bits = (int)v;
			break;
		case 260:
			if (dml_parse_double(optarg, &sp.clip) < 0 ||
			    !(sp.clip > 0) || sp.clip > 1e15)
				dml_usage_error("--clip: a positive number");
			break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case 'V': dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (!jobf)
		dml_usage_error("-j JOBFILE is required");
	if (!keyf)
		dml_usage_error("-k KEY is required");
	if (distf && !assignf)
		dml_usage_error("--distributor goes with --assignments");
	if (scheme && strcmp(scheme, "secagg") != 0)
		dml_usage_error("unknown scheme '%s' (known: secagg)", scheme);
	if (!scheme && (step || state))
		dml_usage_error("--step and --state go with --scheme secagg");
	if (scheme && (!step || !state))
		dml_usage_error("--scheme secagg needs --step and --state");
	if (scheme && (nodef || scalef || o.rule || reff || o.no_verify))
		dml_usage_error("--scheme secagg takes -j, -k, -r, -d, "
		    "--assignments, -K, -o and the secagg options");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (scheme) {
		int rc2;
		if (key_load(keyf, &key) < 0)
			dml_fail(DML_EXIT_USAGE);
		sp.devices = devices = allowed_devices(devf, assignf, distf,
		    &job);
		sp.round = o.round;
		sp.keep_going = o.keep_going;
		rc2 = secagg_run(step, state, &job, &key, &sp, out,
		    argc - optind, argv + optind);
		keyset_free(devices);
		key_free(&key);
		job_free(&job);
		if (rc2)
			dml_fail(rc2);
		dml_close_stdout();
		return 0;
	}
	if ((o.rule && o.rule->kind == ROBUST_FLTRUST) != !!reff)
		dml_usage_error("--rule fltrust and --reference go together");
	if (reff && !(ref = weight_update_load(reff, &rule.ref_len)))
		dml_fail(DML_EXIT_REJECT);
	rule.ref = ref;
	if (agg_rule_check(&job, o.rule) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	if (key_load(keyf, &key) < 0)
		dml_fail(DML_EXIT_USAGE);
	o.devices = devices = allowed_devices(devf, assignf, distf, &job);
	o.nodes = nodes = keys_file(nodef);
	if (scalef) {
		if (!(scales = agg_scales_load(scalef)))
			dml_fail(DML_EXIT_USAGE);
		o.scales = scales;
	}
	if (!(c.out = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	c.key = &key;
	a = agg_new(&job, &o, event, &c);
	nfiles = argc - optind;
	for (int i = 0; rc == 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? argv[optind + i] : NULL);
		if (!in) {	/* a missing input is rejected input */
			rc = AGG_EREJECT;
			break;
		}
		rc = agg_feed(a, in);
		rec_close(in);
	}
	if (rc == 0 && (r = agg_record(a))) {
		if (rec_sign(r, &key) < 0 || rec_out_write(c.out, r, NULL) < 0)
			rc = AGG_ESYSTEM;
		json_decref(r);
	} else if (rc == 0)
		rc = AGG_EREJECT;	/* nothing accepted */
	if (rc == AGG_ESYSTEM)
		status = DML_EXIT_USAGE;
	agg_free(a);
	keyset_free(devices);
	keyset_free(nodes);
	agg_scales_free(scales);
	free(ref);
	key_free(&key);
	job_free(&job);
	if (rc != 0) {
		rec_out_abort(c.out);
		dml_fail(status);
	}
	if (rec_out_commit(c.out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}
