/* dml-job: compose and sign a customer's job (dml.job), or print the id of
 * an existing job. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cid.h"
#include "cli.h"
#include "fixedpoint.h"
#include "job.h"
#include "market.h"
#include "paillier.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-job [-k KEY] -t TASK --data TYPE [options] [-o FILE]\n"
"       dml-job --id JOBFILE\n"
"Compose a job, sign it with the customer's key and write it as one dml.job\n"
"record. The job id is the CID of that line (see dml-records(5)).\n"
"  -k, --key FILE          customer's secret key (default: $DML_KEY)\n"
"  -t, --task TASK         predict, stats or train\n"
"      --data TYPE         data type the devices must have consented to\n"
"                          (the old spelling -d still works, with a warning)\n"
"  -m, --model FILE        the algorithm: a dml.model file (predict, train)\n"
"                          or a dml.paillier.model (predict, encrypted)\n"
"  -c, --criterion 'ATTR OP VALUE'  device criterion, repeatable; OP is one\n"
"                          of = != < <= > >= in !in; in takes a,b,c\n"
"      --min-devices N     report withheld below N devices (default 10)\n"
"      --min-samples N     results with fewer samples are rerun (default 1)\n"
"      --rounds N          training rounds (default 1)\n"
"      --deadline TIME     RFC 3339 UTC, e.g. 2026-12-31T00:00:00Z\n"
"                          (default: 7 days after creation)\n"
"      --epochs E --batch B --lr LR   local training (train; 1, 32, 0.05)\n"
"      --momentum MU --weight-decay WD  local SGD (train; default 0, 0)\n"
"      --features F --classes C       value shapes of a stats job\n"
"      --max-delta X       bound on a device's mean delta per parameter\n"
"      --control-set CID   crowd fine-tuning: the CID of the control set's\n"
"                          items file (dml-split --control) trainers answer\n"
"      --control-block B, --control-max M, --control-alpha A  the adaptive\n"
"                          control test: blocks of B items, at most M, level\n"
"                          A (default 10, 50, 0.05; see dml-run(1))\n"
"      --min-accuracy P    trainers below control accuracy P (0..1) are\n"
"                          excluded by dml-weight (default 0)\n"
"      --paillier-key FILE results are Paillier-encrypted to this key\n"
"                          (dml.paillier.pubkey or Paillier secret key file)\n"
"      --frac-bits F       fixed-point precision 2^-F (default 14)\n"
"      --int-bits I        |round(x 2^F)| <= 2^(I+F)-1 for a value x (14)\n"
"      --max-summands S    at most S results in one sum (default 256)\n"
"      --budget A          tokens escrowed for the job (decimal)\n"
"      --per-device A      paid to each contributing device's owner\n"
"      --developer-fee A   paid to the algorithm's developer\n"
"      --developer KEY     the developer's public key (hex or a key file)\n"
"      --trainer-pool A    shared by trainers in proportion to their weight\n"
"      --node-fee ROLE=A   distributing, federated, report or refining\n"
"                          (repeatable; A alone sets all four)\n"
"      --created TIME      creation time (default now)\n"
"      --nonce TEXT        makes equal jobs distinct (default random)\n"
"      --dp-clip C --dp-noise Z --dp-epsilon E   differential privacy\n"
"                          (train): updates clipped to L2 norm C, Gaussian\n"
"                          noise of sd Z*C on the sum, stop at epsilon E\n"
"      --dp-mode MODE      central (the node adds the noise, default) or\n"
"                          distributed (each device adds a share)\n"
"      --dp-delta D        the accountant's delta (default 1e-5)\n"
"      --dp-sample-rate Q  devices per round / population (default 1)\n"
"      --license FILE      the dml.license of a listed algorithm -m MODEL\n"
"                          (dml-market acquire): checked, its id recorded\n"
"  -o, --output FILE       write the job to FILE (whole or not at all)\n"
"      --id FILE           verify a job file and print its id\n"
"  -h, --help, --version\n";

enum { O_DATA = CLI_ID_BASE, O_MIND, O_MINS, O_ROUNDS, O_DEADLINE, O_EPOCHS,
	O_BATCH, O_LR, O_FEAT, O_CLASSES, O_MAXD, O_BUDGET, O_PERDEV, O_DEVFEE,
	O_NODEFEE, O_DEV, O_TPOOL, O_PKEY, O_FRAC, O_IBITS, O_SUMMANDS, O_CSET,
	O_CBLOCK, O_CMAX, O_CALPHA, O_MOM, O_WD, O_MINACC, O_CREATED, O_NONCE,
	O_DPCLIP, O_DPNOISE, O_DPMODE, O_DPEPS, O_DPDELTA, O_DPQ, O_LICENSE,
	O_ID };

/* The long-only options: name, id (a value each). */
#define L(name, id) {name, 0, 1, id, NULL, 0, NULL}
static const cli_opt opts[] = {
	CLI_KEY, CLI_MODEL, CLI_OUTPUT,
	{"task", 't', 1, 0, NULL, 0, NULL},
	{"data", 0, 1, O_DATA, NULL, 'd', NULL},
	{"criterion", 'c', 1, 0, NULL, 0, NULL},
	L("min-devices", O_MIND), L("min-samples", O_MINS),
	L("rounds", O_ROUNDS), L("deadline", O_DEADLINE),
	L("epochs", O_EPOCHS), L("batch", O_BATCH), L("lr", O_LR),
	L("features", O_FEAT), L("classes", O_CLASSES),
	L("max-delta", O_MAXD), L("budget", O_BUDGET),
	L("per-device", O_PERDEV), L("developer-fee", O_DEVFEE),
	L("node-fee", O_NODEFEE), L("developer", O_DEV),
	L("trainer-pool", O_TPOOL), L("paillier-key", O_PKEY),
	L("frac-bits", O_FRAC), L("int-bits", O_IBITS),
	L("max-summands", O_SUMMANDS), L("control-set", O_CSET),
	L("control-block", O_CBLOCK), L("control-max", O_CMAX),
	L("control-alpha", O_CALPHA), L("momentum", O_MOM),
	L("weight-decay", O_WD), L("min-accuracy", O_MINACC),
	L("created", O_CREATED), L("nonce", O_NONCE), L("dp-clip", O_DPCLIP),
	L("dp-noise", O_DPNOISE), L("dp-mode", O_DPMODE),
	L("dp-epsilon", O_DPEPS), L("dp-delta", O_DPDELTA),
	L("dp-sample-rate", O_DPQ), L("license", O_LICENSE), L("id", O_ID),
	CLI_END};

struct args {
	job_spec s;
	const char *task, *licf, *idf, *out;
	json_t *criteria;
	unsigned char dev[32];
	int encopt, dpgiven;	/* dpgiven: a bit per --dp-* option */
#define DP_NEED (1 << (O_DPCLIP - O_DPCLIP) | 1 << (O_DPNOISE - O_DPCLIP) | \
	1 << (O_DPEPS - O_DPCLIP))
	job_dp dp;
	paillier_pk pk;
};

#define NUM(c) cli_double(c, -HUGE_VAL, HUGE_VAL)

static void
option(cli *c, int o, struct args *a)
{
	job_spec *s = &a->s;
	json_t *crit;
	cid cc;

	switch (o) {
	case 't':
		if (task_parse(a->task = c->arg, &s->task) < 0)
			cli_opt_error(c, "%s", dml_errmsg());
		break;
	case O_DATA: s->data = c->arg; break;
	case 'm': s->model = c->arg; break;
	case 'o': a->out = c->arg; break;
	case 'c':
		if (!(crit = job_criterion(c->arg)))
			cli_usage_error("%s", dml_errmsg());
		json_array_append_new(a->criteria, crit);
		break;
	case O_MIND: s->min_devices = cli_long(c, 1, 1L << 40); break;
	case O_MINS: s->min_samples = cli_long(c, 1, 1L << 40); break;
	case O_ROUNDS: s->rounds = cli_long(c, 1, 1L << 40); break;
	case O_EPOCHS: s->epochs = cli_long(c, 1, 1L << 40); break;
	case O_BATCH: s->batch = cli_long(c, 1, 1L << 40); break;
	case O_FEAT: s->features = cli_long(c, 1, 1L << 40); break;
	case O_CLASSES: s->classes = cli_long(c, 1, 1L << 40); break;
	case O_LR: case O_MAXD:
		if ((*(o == O_LR ? &s->lr : &s->max_delta) = NUM(c)) <= 0)
			cli_opt_error(c, "'%s' is not a positive number", c->arg);
		break;
	case O_DEADLINE: cli_time(c, &s->deadline); break;
	case O_CREATED: cli_time(c, &s->created); break;
	case O_BUDGET: s->budget = cli_amount(c); break;
	case O_PERDEV: s->per_device = cli_amount(c); break;
	case O_DEVFEE: s->developer_fee = cli_amount(c); break;
	case O_TPOOL: s->trainer_pool = cli_amount(c); break;
	case O_NODEFEE:
		if (job_spec_node_fee(s, c->arg) < 0)
			cli_opt_error(c, "%s", dml_errmsg());
		break;
	case O_DEV:
		if (pubkey_load(c->arg, a->dev) < 0)
			cli_opt_error(c, "%s", dml_errmsg());
		s->developer = a->dev;
		break;
	case O_PKEY:
		paillier_pk_clear(&a->pk);
		if (paillier_pk_load(&a->pk, c->arg) < 0)
			dml_die(DML_EXIT_USAGE, "--paillier-key: %s", dml_errmsg());
		s->paillier = &a->pk;
		break;
	case O_FRAC: s->frac_bits = (int)cli_long(c, 0, FXP_MAXFRAC); break;
	case O_IBITS: s->int_bits = (int)cli_long(c, 1, 62); break;
	case O_SUMMANDS: s->max_summands = cli_long(c, 1, FXP_MAXSUMMANDS); break;
	case O_CSET:
		if (cid_parse(&cc, c->arg) < 0)
			cli_opt_error(c, "%s", dml_errmsg());
		s->control_set = c->arg;
		break;
	case O_CBLOCK: s->control_block = cli_long(c, 1, 1000000); break;
	case O_CMAX: s->control_max = cli_long(c, 1, 1000000); break;
	case O_CALPHA:
		if ((s->control_alpha = cli_double(c, 0, 1)) <= 0 ||
		    s->control_alpha >= 1)
			cli_opt_error(c, "want (0, 1)");
		break;
	case O_MOM:
		if ((s->momentum = cli_double(c, 0, 1)) >= 1)
			cli_opt_error(c, "want [0, 1)");
		break;
	case O_WD: s->weight_decay = cli_double(c, 0, HUGE_VAL); break;
	case O_MINACC: s->min_accuracy = cli_double(c, 0, 1); break;
	case O_NONCE: s->nonce = c->arg; break;
	case O_LICENSE: a->licf = c->arg; break;
	case O_ID: a->idf = c->arg; break;
	case O_DPCLIP: a->dp.clip = NUM(c); break;
	case O_DPNOISE: a->dp.noise = NUM(c); break;
	case O_DPEPS: a->dp.epsilon = NUM(c); break;
	case O_DPDELTA: a->dp.delta = NUM(c); break;
	case O_DPQ: a->dp.sample_rate = NUM(c); break;
	case O_DPMODE:
		if (strcmp(c->arg, "central") && strcmp(c->arg, "distributed"))
			cli_opt_error(c, "'%.40s' is neither central nor "
			    "distributed", c->arg);
		a->dp.distributed = strcmp(c->arg, "distributed") == 0;
		break;
	}
	if (o >= O_DPCLIP && o <= O_DPQ)
		a->dpgiven |= 1 << (o - O_DPCLIP);
	if (o == O_FRAC || o == O_IBITS || o == O_SUMMANDS)
		a->encopt = 1;
}

/* A listed algorithm: the customer's license must allow this job (its
 * customer, its model, its creation time); the job names it. */
static int
add_license(json_t *r, const char *path, long long created)
{
	json_t *alg = json_object_get(r, "algorithm");
	market_license l;
	int rc;

	if (market_license_load(path, &l) < 0)
		return -1;
	rc = market_license_allows(&l, json_string_value(json_object_get(r,
	    "customer")), json_string_value(json_object_get(alg, "model")),
	    created);
	if (rc == 0)
		rc = job_license_set(r, l.id, market_kind_name(l.kind),
		    l.developer);
	if (rc < 0)
		dml_error_prefix("%s", path);
	market_license_free(&l);
	return rc;
}

int
main(int argc, char **argv)
{
	struct args a = {.dp = {1, 0, 0, 0, 0, 1e-5, 1.0}};
	json_t *r;
	dml_job j;
	dml_key k;
	int o;
	cli c;

	job_spec_init(&a.s);
	a.s.created = (long long)time(NULL);
	a.s.criteria = a.criteria = json_array();
	cli_init(&c, argc, argv, opts, usage, NULL);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	while ((o = cli_next(&c)) != -1)
		option(&c, o, &a);
	cli_max_operands(&c, 0);
	if (a.idf) {	/* --id: the job's id, nothing else */
		if (job_load(a.idf, &j) < 0)
			dml_fail(DML_EXIT_REJECT);
		printf("%s\n", j.id);
		job_free(&j);
		dml_close_stdout();
		return 0;
	}
	/* what the options say together; the job's rules are the library's */
	if (!a.task || !a.s.data)
		cli_usage_error("-t TASK and --data TYPE are required");
	if (a.licf && !a.s.model)
		cli_usage_error("--license is the license of -m MODEL");
	if (a.dpgiven && (a.dpgiven & DP_NEED) != DP_NEED)
		cli_usage_error("differential privacy needs --dp-clip, "
		    "--dp-noise and --dp-epsilon");
	if (a.encopt && !a.s.paillier)
		cli_usage_error("--frac-bits, --int-bits and --max-summands "
		    "need --paillier-key");
	a.s.dp = a.dpgiven ? &a.dp : NULL;
	if (job_spec_check(&a.s) < 0)
		cli_usage_error("%s", dml_errmsg());
	if (key_load(cli_need_key(&c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	memcpy(a.s.customer, k.pk, 32);
	if (!(r = job_build(&a.s)))
		dml_fail(DML_EXIT_REJECT);
	if (a.licf && add_license(r, a.licf, a.s.created) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	/* what we sign must be what every reader accepts */
	if (job_from_record(NULL, json_incref(r), &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	job_free(&j);
	if (rec_out_one(a.out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	json_decref(a.criteria);
	paillier_pk_clear(&a.pk);
	dml_close_stdout();
	return 0;
}
