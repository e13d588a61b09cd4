/* dml-aggregate: the federated (and report, refining) node's sum: verify,
 * deduplicate and validate results or aggregates, request reruns, and
 * write one signed dml.aggregate. */
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "cli.h"
#include "distribute.h"
#include "job.h"
#include "record.h"
#include "secagg.h"
#include "sign.h"
#include "util.h"
#include "weight.h"

static const char usage[] =
"usage: dml-aggregate -j JOBFILE [-k KEY] [options] [FILE...]\n"
"       dml-aggregate --scheme secagg --step STEP --state FILE -j JOBFILE\n"
"                     [-k KEY] [--round R] [--devices FILE] [-a FILE]\n"
"                     [--keep-going] [secagg options] [FILE...]\n"
"Sum the signed dml.result (or dml.aggregate) records of FILEs (default\n"
"stdin) for the job: verify, deduplicate, validate, then write a signed\n"
"dml.rerun for each result failing validation and one signed\n"
"dml.aggregate last.\n"
"  -j, --job FILE        the job (dml.job) the results answer\n"
"  -k, --key FILE        this node's secret key, to sign the output\n"
"                        (default: $DML_KEY)\n"
"      --round R         the round summed; other rounds are replays\n"
"                        (default: the round of the first authentic input)\n"
"      --devices FILE    accept results only from these devices (hex keys,\n"
"                        dml.pubkey or dml.assignment records, one a line)\n"
"  -a, --assignments FILE  accept results only from the devices of these\n"
"                        dml.assignment records, each verified and for\n"
"                        this job (with --devices: from devices in either)\n"
"      --distributor PUB the assignments' signer (default: any)\n"
"      --nodes FILE      accept aggregates only from these nodes\n"
"      --scale FILE      weighted sum: each listed device's values times\n"
"                        its factor (lines \"KEY FACTOR\", FACTOR an integer;\n"
"                        Paillier ciphertexts are raised to it)\n"
"  -R, --rule RULE       combine train updates by RULE: mean (default,\n"
"                        streaming), median, trimmed:BETA, krum:F,\n"
"                        multikrum:F:M, fltrust (with --reference); the\n"
"                        output stays a sum; plaintext jobs only\n"
"      --reference FILE  fltrust: the node's own update on the common\n"
"                        data (a dml.result or dml.aggregate)\n"
"      --keep-going      skip bad inputs (counted in \"rejected\", warned on\n"
"                        stderr) instead of failing\n"
"      --no-verify       do not check signatures (inputs already verified\n"
"                        on a trusted path only)\n"
"  -o, --output FILE     write to FILE (whole or not at all), not stdout\n"
"  (-r, -d and -K, the old spellings of --round, --devices and --keep-going,\n"
"  still work, with a warning)\n"
"  secure aggregation (the node's steps; devices: dml-encrypt(1)):\n"
"  -s, --scheme secagg   sum masked inputs without seeing any of them\n"
"      --step STEP       collect-keys (dml.secagg.keys -> roster),\n"
"                        route-shares (shares -> one inbox per device),\n"
"                        collect-masked (masked inputs -> unmask request),\n"
"                        unmask (unmask answers -> dml.aggregate)\n"
"      --state FILE      the round's state between steps (collect-keys\n"
"                        makes it)\n"
"      --threshold T     collect-keys: shares that recover a secret\n"
"                        (default 2m/3 + 1 of m = k + 1 holders; > m/2)\n"
"      --neighbours K    collect-keys: mask with K neighbours (SecAgg+;\n"
"                        even, default all devices)\n"
"      --clip C          collect-keys: clamp values to [-C, C] (4096)\n"
"      --frac-bits F     collect-keys: fixed-point fraction bits\n"
"                        (default: the most that cannot overflow)\n"
"  -h, --help            this help\n"
"      --version         print the version\n";

enum { O_ROUND = CLI_ID_BASE, O_DEVICES, O_KEEP, O_NODES, O_DIST, O_SCALE,
	O_REF, O_NOVERIFY, O_STEP, O_STATE, O_THRESHOLD, O_NEIGHBOURS,
	O_CLIP, O_FRACBITS };

static const cli_opt opts[] = {
	CLI_JOB,
	CLI_KEY,
	CLI_OUTPUT,
	{"assignments", 'a', 1, 0, NULL, 0, NULL},
	{"round", 0, 1, O_ROUND, NULL, 'r', NULL},
	{"devices", 0, 1, O_DEVICES, NULL, 'd', NULL},
	{"keep-going", 0, 0, O_KEEP, NULL, 'K', NULL},
	{"nodes", 0, 1, O_NODES, NULL, 0, NULL},
	{"distributor", 0, 1, O_DIST, NULL, 0, NULL},
	{"scale", 0, 1, O_SCALE, NULL, 0, NULL},
	{"rule", 'R', 1, 0, NULL, 0, NULL},
	{"reference", 0, 1, O_REF, NULL, 0, NULL},
	{"no-verify", 0, 0, O_NOVERIFY, NULL, 0, NULL},
	{"scheme", 's', 1, 0, NULL, 0, NULL},
	{"step", 0, 1, O_STEP, NULL, 0, NULL},
	{"state", 0, 1, O_STATE, NULL, 0, NULL},
	{"threshold", 0, 1, O_THRESHOLD, NULL, 0, NULL},
	{"neighbours", 0, 1, O_NEIGHBOURS, NULL, 0, NULL},
	{"clip", 0, 1, O_CLIP, NULL, 0, NULL},
	{"frac-bits", 0, 1, O_FRACBITS, NULL, 0, NULL},
	CLI_END};

static const char *const schemes[] = {"secagg", NULL};

struct args {
	const char *job, *out, *devices, *assign, *dist, *nodes, *scale, *ref;
	const char *state;
	int secagg, step;	/* step: -1 none */
	agg_opts o;
	robust_rule rule;
	secagg_params sp;
};

/* The options that make sense only together, or apart. */
static void
check(const struct args *a)
{
	if (!a->job)
		cli_usage_error("-j JOBFILE is required");
	if (a->dist && !a->assign)
		cli_usage_error("--distributor goes with --assignments");
	if (!a->secagg && (a->step >= 0 || a->state))
		cli_usage_error("--step and --state go with --scheme secagg");
	if (a->secagg && (a->step < 0 || !a->state))
		cli_usage_error("--scheme secagg needs --step and --state");
	if (a->secagg && (a->nodes || a->scale || a->o.rule || a->ref ||
	    a->o.no_verify))
		cli_usage_error("--scheme secagg takes -j, -k, --round, "
		    "--devices, --assignments, --keep-going, -o and the secagg "
		    "options");
	if (!a->secagg && (a->o.rule && a->o.rule->kind == ROBUST_FLTRUST) !=
	    !!a->ref)
		cli_usage_error("--rule fltrust and --reference go together");
}

static void
parse(cli *c, int argc, char **argv, struct args *a)
{
	int o;

	cli_init(c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(c)) != -1) {
		switch (o) {
		case 'j': a->job = c->arg; break;
		case 'o': a->out = c->arg; break;
		case 'a': a->assign = c->arg; break;
		case O_ROUND: a->o.round = cli_long(c, 0, 1L << 53); break;
		case O_DEVICES: a->devices = c->arg; break;
		case O_KEEP: a->o.keep_going = 1; break;
		case O_NODES: a->nodes = c->arg; break;
		case O_DIST: a->dist = c->arg; break;
		case O_SCALE: a->scale = c->arg; break;
		case 'R':
			if (robust_parse(c->arg, &a->rule) < 0)
				cli_opt_error(c, "%s", dml_errmsg());
			a->o.rule = &a->rule;
			break;
		case O_REF: a->ref = c->arg; break;
		case O_NOVERIFY: a->o.no_verify = 1; break;
		case 's': a->secagg = cli_choice(c, schemes) == 0; break;
		case O_STEP:
			if ((a->step = secagg_nstep_parse(c->arg)) < 0)
				cli_opt_error(c, "unknown step '%s' (collect-keys, "
				    "route-shares, collect-masked, unmask)",
				    c->arg);
			break;
		case O_STATE: a->state = c->arg; break;
		case O_THRESHOLD: a->sp.threshold = cli_long(c, 1, 0xffffff);
			break;
		case O_NEIGHBOURS: a->sp.neighbours = cli_long(c, 1, 0xffffff);
			break;
		case O_CLIP:
			if (!((a->sp.clip = cli_double(c, 0, 1e15)) > 0))
				cli_opt_error(c, "a positive number");
			break;
		case O_FRACBITS: a->sp.frac_bits = (int)cli_long(c, 0, 24);
			break;
		}
	}
	check(a);
	cli_need_key(c);
}

/* --devices, --nodes: the keys of a file, or NULL without one. */
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

/* The devices results are accepted from: those of --devices and those the
 * distributing node assigned to the job (--assignments); NULL: any. */
static keyset *
allowed_devices(const struct args *a, const dml_job *job)
{
	keyset *s = keys_file(a->devices);
	unsigned char dist[32];

	if (!a->assign)
		return s;
	if (a->dist && pubkey_load(a->dist, dist) < 0)
		dml_usage_error("--distributor: %s", dml_errmsg());
	if (!s)
		s = keyset_new();
	if (assign_keys_load(s, a->assign, job, a->dist ? dist : NULL) < 0)
		dml_fail(DML_EXIT_REJECT);
	return s;
}

/* --keep-going: a bad input is warned about and left out. */
static void
skipped(const char *msg)
{
	dml_warn("%s (skipped)", msg);
}

/* The node's step of secure aggregation; --devices, --round and
 * --keep-going apply. 0, AGG_EREJECT or AGG_ESYSTEM. */
static int
secagg_main(struct args *a, const dml_job *job, const dml_key *key,
    const cli *c)
{
	keyset *devices = allowed_devices(a, job);
	secagg_node *n;
	int rc;

	a->sp.devices = devices;
	a->sp.round = a->o.round;
	a->sp.keep_going = a->o.keep_going;
	n = secagg_node_new(a->step, a->state, job, key, &a->sp);
	rc = !n ? AGG_EREJECT : secagg_run_files(NULL, n, a->out,
	    a->o.keep_going ? skipped : NULL, c->nops, c->ops);
	secagg_node_free(n);
	keyset_free(devices);
	return rc;
}

static void
warn(const char *msg)
{
	dml_warn("%s", msg);
}

/* Sum the inputs into one signed dml.aggregate. 0, AGG_EREJECT or
 * AGG_ESYSTEM. */
static int
sum_main(struct args *a, const dml_job *job, const dml_key *key,
    const cli *c)
{
	keyset *devices, *nodes;
	agg_scales *scales = NULL;
	double *ref = NULL;
	int rc;

	if (a->ref && !(ref = weight_update_load(a->ref, &a->rule.ref_len)))
		dml_fail(DML_EXIT_REJECT);
	a->rule.ref = ref;
	if (agg_rule_check(job, a->o.rule) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	a->o.devices = devices = allowed_devices(a, job);
	a->o.nodes = nodes = keys_file(a->nodes);
	if (a->scale && !(a->o.scales = scales = agg_scales_load(a->scale)))
		dml_fail(DML_EXIT_USAGE);
	rc = agg_run_files(job, &a->o, key, a->out, warn, c->nops, c->ops);
	keyset_free(devices);
	keyset_free(nodes);
	agg_scales_free(scales);
	free(ref);
	return rc;
}

int
main(int argc, char **argv)
{
	struct args a = {.step = -1, .o = {.round = -1},
		.sp = {.clip = 4096, .frac_bits = -1}};
	dml_job job;
	dml_key key;
	int rc;
	cli c;

	parse(&c, argc, argv, &a);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(a.job, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(cli_key(&c), &key) < 0)
		dml_fail(DML_EXIT_USAGE);
	rc = a.secagg ? secagg_main(&a, &job, &key, &c) :
	    sum_main(&a, &job, &key, &c);
	key_free(&key);
	job_free(&job);
	if (rc != 0)	/* AGG_ESYSTEM is DML_ESYS: exit 2 */
		dml_fail(dml_exit_of(rc));
	dml_close_stdout();
	return 0;
}
