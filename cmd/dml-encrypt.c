/* dml-encrypt: seal records to a recipient, or encrypt results and models
 * to a Paillier key; with -d, open envelopes addressed to us and decrypt
 * Paillier reports; with --scheme secagg, a device's step of secure
 * aggregation. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "envelope.h"
#include "job.h"
#include "paillier.h"
#include "record.h"
#include "secagg.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-encrypt -r RECIPIENT -k KEY [--scheme box] [FILE...]\n"
"       dml-encrypt --scheme paillier -j JOB -k KEY [FILE...]\n"
"       dml-encrypt --scheme paillier -r PAILLIER-PUB -k KEY [layout] MODEL\n"
"       dml-encrypt -d -k KEY [--paillier-key FILE -j JOB] [--no-verify]\n"
"                   [FILE...]\n"
"       dml-encrypt --scheme secagg --step STEP --state FILE -k KEY\n"
"                   [-r NODE] [--seed N] [FILE...]\n"
"Seal each record to RECIPIENT (a public key in hex, a dml.pubkey file or a\n"
"key file) as a dml.sealed envelope signed with KEY. --scheme paillier\n"
"encrypts the values of the device's own signed dml.result to the job's\n"
"Paillier key (nodes add them, only the customer reads the sum), or a\n"
"one-layer dml.model to a customer's Paillier key (a dml.paillier.model\n"
"devices evaluate without seeing its weights). -d checks each envelope's\n"
"signature, opens it with KEY and writes the records inside; with\n"
"--paillier-key it also decrypts Paillier reports (the plain report,\n"
"rendered, signed with KEY) and aggregates (f64 sums).\n"
"Output appears only if every input was good.\n"
"  -r, --recipient KEY  who can open the envelopes (box), or the Paillier\n"
"                       public key a model is encrypted to\n"
"  -k, --key FILE       your secret key (signs, or opens with -d; default\n"
"                       $DML_KEY)\n"
"  -s, --scheme NAME    box: libsodium sealed box (X25519, XSalsa20-\n"
"                       Poly1305); paillier: Paillier ciphertext tensors;\n"
"                       secagg: a device's step of secure aggregation\n"
"  -j, --job FILE       the job (its Paillier key and fixed-point layout)\n"
"  -d, --decrypt        open envelopes (and Paillier reports)\n"
"      --paillier-key FILE  with -d, the customer's Paillier secret key\n"
"      --no-verify      with -d, do not check signatures\n"
"  layout, for a model (the job's must be the same; defaults as dml-job):\n"
"      --frac-bits F --int-bits I --max-summands S\n"
"      --weight-frac-bits W   fractional bits of the weights (default 12)\n"
"      --feature-frac-bits X  of the devices' feature sums (default 4)\n"
"  secure aggregation (see dml-aggregate(1) for the node's steps):\n"
"      --step STEP      advertise (reads the device's dml.result), share\n"
"                       (the node's roster), mask (the device's inbox and\n"
"                       its dml.result), unmask (the node's request)\n"
"      --state FILE     the device's secrets between steps (mode 0600;\n"
"                       made by advertise, deleted after unmask)\n"
"      --seed N         advertise: derive the secrets from N (tests)\n"
"      -r NODE          share, mask, unmask: the node that signs the\n"
"                       roster, the inbox and the request (required)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

enum { O_PKEY = CLI_ID_BASE, O_NOVERIFY, O_FRAC, O_IBITS, O_SUMM, O_WFRAC,
	O_XFRAC, O_STEP, O_STATE };

static const cli_opt opts[] = {
	{"recipient", 'r', 1, 0, NULL, 0, NULL},
	CLI_KEY,
	{"scheme", 's', 1, 0, NULL, 0, NULL},
	CLI_JOB,
	{"decrypt", 'd', 0, 0, NULL, 0, NULL},
	{"paillier-key", 0, 1, O_PKEY, NULL, 0, NULL},
	{"no-verify", 0, 0, O_NOVERIFY, NULL, 0, NULL},
	{"frac-bits", 0, 1, O_FRAC, NULL, 0, NULL},
	{"int-bits", 0, 1, O_IBITS, NULL, 0, NULL},
	{"max-summands", 0, 1, O_SUMM, NULL, 0, NULL},
	{"weight-frac-bits", 0, 1, O_WFRAC, NULL, 0, NULL},
	{"feature-frac-bits", 0, 1, O_XFRAC, NULL, 0, NULL},
	{"step", 0, 1, O_STEP, NULL, 0, NULL},
	{"state", 0, 1, O_STATE, NULL, 0, NULL},
	CLI_SEEDOPT,
	CLI_OUTPUT,
	CLI_END};

enum scheme { BOX, PAILLIER, SECAGG };
static const char *const schemes[] = {"box", "paillier", "secagg", NULL};
/* in the order of enum secagg_dstep */
static const char *const steps[] = {"advertise", "share", "mask", "unmask",
	NULL};

struct enc {
	/* the options */
	const char *recip, *out, *jobf, *pkeyf, *state, *seed;
	int scheme, given_scheme, step, decrypt, layout;
	long frac, ibits, summ;
	char seedtext[24];
	/* what they name, loaded; op points into it */
	envelope_op op;
	dml_key k;
	dml_job job;		/* op.job points to it when loaded */
	paillier_pk mpk;
	fxp_layout ml;
	paillier_sk *sk;
};

/* A device's step of secure aggregation: every input record is fed,
 * then the step's one signed record is written and the state saved. */
static int
secagg_main(const cli *c, struct enc *e)
{
	unsigned char npk[32];
	secagg_dev *d;
	int rc;

	if (e->step < 0 || !e->state)
		cli_usage_error("--scheme secagg needs --step STEP and --state "
		    "FILE");
	if (e->decrypt || e->jobf || e->pkeyf || e->layout)
		cli_usage_error("--scheme secagg takes -k, -r, --step, "
		    "--state, --seed and -o");
	if (e->step != SA_ADVERTISE && !e->recip)
		cli_usage_error("--step %s: -r NODE (the node's public key) is "
		    "required", steps[e->step]);
	if (e->step != SA_ADVERTISE && e->seed)
		cli_usage_error("--seed goes with --step advertise");
	if (dml_crypto_init() < 0 || key_load(cli_key(c), &e->k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (e->recip && pubkey_load(e->recip, npk) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(d = secagg_dev_new(e->step, e->state, &e->k, e->recip ? npk :
	    NULL, e->seed)))
		dml_fail(DML_EXIT_REJECT);
	rc = secagg_run_files(d, NULL, e->out, NULL, c->nops, c->ops);
	if (rc != AGG_EREJECT && secagg_dev_clipped(d))
		dml_warn("%zu values clipped to the round's range",
		    secagg_dev_clipped(d));
	secagg_dev_free(d);
	key_free(&e->k);
	if (rc)
		dml_fail(rc == AGG_EREJECT ? DML_EXIT_REJECT : DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

static void
parse(cli *c, struct enc *e)
{
	int o;

	while ((o = cli_next(c)) != -1) {
		switch (o) {
		case 'r': e->recip = c->arg; break;
		case 's': e->scheme = cli_choice(c, schemes);
			e->given_scheme = 1; break;
		case 'j': e->jobf = c->arg; break;
		case 'd': e->decrypt = 1; break;
		case O_PKEY: e->pkeyf = c->arg; break;
		case O_NOVERIFY: e->op.verify = 0; break;
		case O_FRAC: e->frac = cli_long(c, 0, 52); break;
		case O_IBITS: e->ibits = cli_long(c, 1, 62); break;
		case O_SUMM: e->summ = cli_long(c, 1, 1L << 40); break;
		case O_WFRAC: e->op.wfrac = (int)cli_long(c, 0, 52); break;
		case O_XFRAC: e->op.xfrac = (int)cli_long(c, 0, 30); break;
		case O_STEP: e->step = cli_choice(c, steps); break;
		case O_STATE: e->state = c->arg; break;
		case CLI_SEED:	/* the secrets derive from its decimal text */
			snprintf(e->seedtext, sizeof e->seedtext, "%llu",
			    (unsigned long long)cli_u64(c));
			e->seed = e->seedtext;
			break;
		case 'o': e->out = c->arg; break;
		}
		if (o >= O_FRAC && o <= O_XFRAC)	/* a layout option */
			e->layout = 1;
	}
	cli_need_key(c);
}

/* The mode the options ask for; each misuse is a usage error. */
static enum envelope_mode
check(const struct enc *e)
{
	enum envelope_mode m = e->decrypt ? ENVELOPE_OPEN :
	    e->scheme == PAILLIER ? ENVELOPE_PAILLIER : ENVELOPE_SEAL;

	if (e->step >= 0 || e->state || e->seed)
		cli_usage_error("--step, --state and --seed go with --scheme "
		    "secagg");
	if (e->decrypt && e->given_scheme && e->scheme != BOX)
		cli_usage_error("-d with Paillier: give --paillier-key FILE "
		    "and -j JOB, not --scheme");
	if (m == ENVELOPE_SEAL && !e->recip)
		cli_usage_error("-r RECIPIENT is required to encrypt");
	if (m == ENVELOPE_PAILLIER && !e->jobf && !e->recip)
		cli_usage_error("--scheme paillier needs -j JOB (results) or "
		    "-r PAILLIER-PUB (a model)");
	if (e->pkeyf && (!e->decrypt || !e->jobf))
		cli_usage_error("--paillier-key goes with -d and -j JOB");
	if (e->layout && (m != ENVELOPE_PAILLIER || !e->recip))
		cli_usage_error("layout options are for encrypting a model "
		    "(--scheme paillier -r PAILLIER-PUB)");
	return m;
}

/* Load what the mode needs; a key or file that cannot be read exits. */
static void
setup(struct enc *e, const char *keyf)
{
	envelope_op *op = &e->op;

	if (e->pkeyf)	/* before GMP holds any secret */
		paillier_secure_memory();
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (op->mode == ENVELOPE_SEAL && pubkey_load(e->recip, op->to) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (op->mode == ENVELOPE_PAILLIER && e->recip) {
		if (paillier_pk_load(&e->mpk, e->recip) < 0)
			dml_die(DML_EXIT_USAGE, "-r: %s", dml_errmsg());
		op->pk = &e->mpk;
		if (fxp_layout_init(&e->ml, (int)e->frac, (int)e->ibits,
		    e->summ, e->mpk.bits) < 0)
			cli_usage_error("%s", dml_errmsg());
		op->layout = &e->ml;
	}
	if (e->jobf) {
		if (job_load(e->jobf, &e->job) < 0)
			dml_fail(DML_EXIT_REJECT);
		op->job = &e->job;
	}
	if (e->pkeyf && !(e->sk = paillier_sk_load(e->pkeyf)))
		dml_fail(DML_EXIT_USAGE);
	op->sk = e->sk;
	if (key_load(keyf, &e->k) < 0)
		dml_fail(DML_EXIT_USAGE);
	op->k = &e->k;
}

/* Every record of every file (stdin without one) through envelope_apply;
 * the output is committed only if all were good. */
static int
run(struct enc *e, int nfiles, char **files)
{
	rec_out *o = rec_out_open(e->out);
	int rc = 0;

	if (!o)
		dml_fail(DML_EXIT_USAGE);
	for (int i = 0; rc == 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		json_t *r;

		if (!in) {
			rc = -1;
			break;
		}
		while ((rc = rec_next(in, &r)) > 0) {
			json_t *x = envelope_apply(&e->op, r, in);
			int bad = !x || rec_out_write(o, x, NULL) < 0;
			json_decref(x);
			json_decref(r);
			if (bad) {
				rc = -1;
				break;
			}
		}
		if (rc == 0 && rec_count(in) == 0)
			rc = dml_error("%s: empty input: no records",
			    rec_name(in));
		rec_close(in);
	}
	key_free(&e->k);
	paillier_sk_free(e->sk);
	if (e->op.job)
		job_free(&e->job);
	paillier_pk_clear(&e->mpk);
	if (rc < 0) {
		rec_out_abort(o);
		dml_fail(DML_EXIT_REJECT);
	}
	if (rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

int
main(int argc, char **argv)
{
	struct enc e = {.step = -1, .frac = 14, .ibits = 14, .summ = 256,
	    .op = {.verify = 1, .wfrac = 12, .xfrac = 4}};
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	parse(&c, &e);
	if (e.scheme == SECAGG)
		return secagg_main(&c, &e);
	e.op.mode = check(&e);
	setup(&e, cli_key(&c));
	return run(&e, c.nops, c.ops);
}
