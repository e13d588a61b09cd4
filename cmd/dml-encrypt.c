/* dml-encrypt: seal records to a recipient and sign the envelope, or
 * encrypt results and models to a job's Paillier key; with -d, verify and
 * open envelopes addressed to us and decrypt Paillier reports. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "job.h"
#include "model.h"
#include "paillier.h"
#include "record.h"
#include "report.h"
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
"                   [-r NODE] [--seed TEXT] [FILE...]\n"
"Encrypt each record for RECIPIENT (a public key in hex, a dml.pubkey file\n"
"or a key file) and write it as a dml.sealed envelope signed with KEY.\n"
"With --scheme paillier, encrypt the values of the device's own signed\n"
"dml.result records to the job's Paillier key (nodes can add them, only\n"
"the customer can read the sum) and sign them again; or encrypt a\n"
"one-layer dml.model to a customer's Paillier key as a dml.paillier.model\n"
"that devices evaluate without seeing its weights.\n"
"With -d, check each envelope's signature, open it with KEY and write the\n"
"records inside; with --paillier-key also decrypt Paillier reports into the\n"
"plain report (with means, rendered, signed with KEY) and Paillier\n"
"aggregates into f64 sums. Output appears only if every input was good.\n"
"  -r, --recipient KEY  who can open the envelopes (box), or the Paillier\n"
"                       public key a model is encrypted to\n"
"  -k, --key FILE       your secret key (signs, or opens with -d)\n"
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
"      --seed TEXT      advertise: derive the secrets from TEXT (tests)\n"
"      -r NODE          share, mask, unmask: the node that signs the\n"
"                       roster, the inbox and the request (required)\n"
"  -o, --output FILE    write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

enum mode { SEAL, PAILLIER, OPEN };

struct ctx {
	enum mode mode;
	int verify;
	unsigned char to[32];		/* box recipient */
	dml_key k;
	dml_job job;			/* with -j */
	int have_job;
	paillier_pk mpk;		/* -r, a model's Paillier key */
	int have_mpk;
	fxp_layout ml;			/* a model's layout */
	int wfrac, xfrac;
	paillier_sk *sk;		/* --paillier-key */
};

/* A Paillier job's report or aggregate, decrypted, signed by us. */
static json_t *
decrypt_record(struct ctx *c, json_t *r, const rec_in *in)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	const char *const *names;
	int nnames;
	json_t *out;

	if (c->verify && rec_verify(r, in, NULL) < 0)
		return NULL;
	if (strcmp(type, "dml.report") == 0) {
		names = report_class_names(c->job.data, &nnames);
		if (!(out = report_decrypt(&c->job, r, in, c->sk, names,
		    nnames)))
			return NULL;
		report_render(out);
	} else if (!(out = report_decrypt_aggregate(&c->job, r, in, c->sk)))
		return NULL;
	if (rec_sign(out, &c->k) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Does the record hold Paillier sums for the customer to decrypt? */
static int
paillier_sums(const json_t *r)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *sum = json_object_get(r, "sum"), *t;
	const char *key;

	if (!type || (strcmp(type, "dml.report") && strcmp(type,
	    "dml.aggregate")))
		return 0;
	if (json_object_get(r, "encryption"))
		return 1;
	json_object_foreach(sum, key, t)
		if (ptensor_is(t))
			return 1;
	return 0;
}

static json_t *
open_record(struct ctx *c, json_t *r, const rec_in *in)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *inner = NULL, *out;

	if (!c->sk || (type && strcmp(type, "dml.sealed") == 0)) {
		if (envelope_open(r, in, &c->k, c->verify, &inner) < 0)
			return NULL;
		r = inner;
	}
	if (c->sk && paillier_sums(r))
		out = decrypt_record(c, r, in);
	else
		out = json_incref(r);
	json_decref(inner);
	return out;
}

static json_t *
paillier_record(struct ctx *c, json_t *r, const rec_in *in)
{
	const char *type;
	dml_model m;
	json_t *e;

	if (rec_check(in, r, NULL) < 0)
		return NULL;
	type = json_string_value(json_object_get(r, "type"));
	if (strcmp(type, "dml.declined") == 0)	/* nothing to encrypt */
		return json_incref(r);
	if (strcmp(type, "dml.result") == 0) {
		if (!c->have_job)
			return rec_err(in, "a dml.result is encrypted to its "
			    "job's key: give -j JOB"), NULL;
		return envelope_paillier(r, in, &c->job, &c->k, NULL);
	}
	if (strcmp(type, "dml.model") != 0)
		return rec_err(in, "--scheme paillier encrypts dml.result and "
		    "dml.model records, not %s", type), NULL;
	if (!c->have_mpk)
		return rec_err(in, "a model is encrypted to the customer's "
		    "Paillier key: give -r PAILLIER-PUB"), NULL;
	if (model_from_record(&m, in, r) < 0)
		return NULL;
	e = pmodel_encrypt(&m, &c->mpk, &c->ml, c->wfrac, c->xfrac, NULL);
	model_free(&m);
	if (!e)
		return rec_err(in, "%s", dml_errmsg()), NULL;
	if (rec_sign(e, &c->k) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static json_t *
one(struct ctx *c, json_t *r, const rec_in *in)
{
	switch (c->mode) {
	case OPEN:
		return open_record(c, r, in);
	case PAILLIER:
		return paillier_record(c, r, in);
	default:
		if (rec_check(in, r, NULL) < 0)
			return NULL;
		return envelope_seal(r, in, c->to, &c->k);
	}
}

static void
done(struct ctx *c)
{
	key_free(&c->k);
	paillier_sk_free(c->sk);
	if (c->have_job)
		job_free(&c->job);
	paillier_pk_clear(&c->mpk);
}

/* A device's step of secure aggregation: every input record is fed,
 * then the step's one signed record is written and the state saved. An
 * exit status. */
static int
secagg_run(const char *step, const char *state, const dml_key *k,
    const char *node, const char *seed, const char *out, int nfiles,
    char **files)
{
	unsigned char npk[32];
	secagg_dev *d;
	int s = secagg_dstep_parse(step), rc;

	if (s < 0)
		dml_usage_error("--step: unknown step '%s' (advertise, share, "
		    "mask, unmask)", step);
	if (s != SA_ADVERTISE && !node)
		dml_usage_error("--step %s: -r NODE (the node's public key) is "
		    "required", step);
	if (s != SA_ADVERTISE && seed)
		dml_usage_error("--seed goes with --step advertise");
	if (node && pubkey_load(node, npk) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(d = secagg_dev_new(s, state, k, node ? npk : NULL, seed)))
		return DML_EXIT_REJECT;
	rc = secagg_run_files(d, NULL, out, NULL, nfiles, files);
	if (rc != AGG_EREJECT && secagg_dev_clipped(d))
		dml_warn("%zu values clipped to the round's range",
		    secagg_dev_clipped(d));
	secagg_dev_free(d);
	return rc == 0 ? 0 : rc == AGG_EREJECT ? DML_EXIT_REJECT :
	    DML_EXIT_USAGE;
}

static long
num_opt(const char *name, const char *s, long lo, long hi)
{
	long v;

	if (dml_parse_long(s, lo, hi, &v) < 0)
		dml_usage_error("--%s: %s", name, dml_errmsg());
	return v;
}

int
main(int argc, char **argv)
{
	enum { O_NOVERIFY = 256, O_VERSION, O_PKEY, O_FRAC, O_IBITS, O_SUMM,
		O_WFRAC, O_XFRAC, O_STEP, O_STATE, O_SEED };
	static const struct option opts[] = {
		{"recipient", required_argument, 0, 'r'},
		{"key", required_argument, 0, 'k'},
		{"scheme", required_argument, 0, 's'},
		{"job", required_argument, 0, 'j'},
		{"decrypt", no_argument, 0, 'd'},
		{"paillier-key", required_argument, 0, O_PKEY},
		{"no-verify", no_argument, 0, O_NOVERIFY},
		{"frac-bits", required_argument, 0, O_FRAC},
		{"int-bits", required_argument, 0, O_IBITS},
		{"max-summands", required_argument, 0, O_SUMM},
		{"weight-frac-bits", required_argument, 0, O_WFRAC},
		{"feature-frac-bits", required_argument, 0, O_XFRAC},
		{"step", required_argument, 0, O_STEP},
		{"state", required_argument, 0, O_STATE},
		{"seed", required_argument, 0, O_SEED},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *recip = NULL, *keyf = getenv("DML_KEY"), *sname = NULL,
		   *out = NULL, *jobf = NULL, *pkeyf = NULL, *step = NULL,
		   *state = NULL, *seed = NULL;
	long frac = 14, ibits = 14, summ = 256;
	int decrypt = 0, c, i, nfiles, layout = 0;
	struct ctx x;
	rec_out *o;

	memset(&x, 0, sizeof x);
	x.verify = 1;
	x.wfrac = 12;
	x.xfrac = 4;
	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:k:s:j:do:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': recip = optarg; break;
		case 'k': keyf = optarg; break;
		case 's': sname = optarg; break;
		case 'j': jobf = optarg; break;
		case 'd': decrypt = 1; break;
		case O_PKEY: pkeyf = optarg; break;
		case O_NOVERIFY: x.verify = 0; break;
		case O_FRAC: frac = num_opt("frac-bits", optarg, 0, 52);
			layout = 1; break;
		case O_IBITS: ibits = num_opt("int-bits", optarg, 1, 62);
			layout = 1; break;
		case O_SUMM: summ = num_opt("max-summands", optarg, 1,
			    1L << 40); layout = 1; break;
		case O_WFRAC: x.wfrac = (int)num_opt("weight-frac-bits",
			    optarg, 0, 52); layout = 1; break;
		case O_XFRAC: x.xfrac = (int)num_opt("feature-frac-bits",
			    optarg, 0, 30); layout = 1; break;
		case O_STEP: step = optarg; break;
		case O_STATE: state = optarg; break;
		case O_SEED: seed = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (!keyf)
		dml_usage_error("-k KEY is required");
	if (sname && !strcmp(sname, "secagg")) {
		int rc;
		if (!step || !state)
			dml_usage_error("--scheme secagg needs --step STEP and "
			    "--state FILE");
		if (decrypt || jobf || pkeyf || layout)
			dml_usage_error("--scheme secagg takes -k, -r, --step, "
			    "--state, --seed and -o");
		if (dml_crypto_init() < 0 || key_load(keyf, &x.k) < 0)
			dml_fail(DML_EXIT_USAGE);
		rc = secagg_run(step, state, &x.k, recip, seed, out,
		    argc - optind, argv + optind);
		key_free(&x.k);
		if (rc)
			dml_fail(rc);
		dml_close_stdout();
		return 0;
	}
	if (step || state || seed)
		dml_usage_error("--step, --state and --seed go with --scheme "
		    "secagg");
	if (sname && strcmp(sname, "box") && strcmp(sname, "paillier"))
		dml_usage_error("unknown scheme '%s' (known: box, paillier, "
		    "secagg)", sname);
	x.mode = decrypt ? OPEN : sname && !strcmp(sname, "paillier") ?
	    PAILLIER : SEAL;
	if (decrypt && sname && strcmp(sname, "box") != 0)
		dml_usage_error("-d with Paillier: give --paillier-key FILE and "
		    "-j JOB, not --scheme");
	if (x.mode == SEAL && !recip)
		dml_usage_error("-r RECIPIENT is required to encrypt");
	if (x.mode == PAILLIER && !jobf && !recip)
		dml_usage_error("--scheme paillier needs -j JOB (results) or "
		    "-r PAILLIER-PUB (a model)");
	if (pkeyf && (!decrypt || !jobf))
		dml_usage_error("--paillier-key goes with -d and -j JOB");
	if (layout && (x.mode != PAILLIER || !recip))
		dml_usage_error("layout options are for encrypting a model "
		    "(--scheme paillier -r PAILLIER-PUB)");
	if (pkeyf)	/* before GMP holds any secret */
		paillier_secure_memory();
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (x.mode == SEAL && pubkey_load(recip, x.to) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (x.mode == PAILLIER && recip) {
		if (paillier_pk_load(&x.mpk, recip) < 0)
			dml_die(DML_EXIT_USAGE, "-r: %s", dml_errmsg());
		x.have_mpk = 1;
		if (fxp_layout_init(&x.ml, (int)frac, (int)ibits, summ,
		    x.mpk.bits) < 0)
			dml_usage_error("%s", dml_errmsg());
	}
	if (jobf) {
		if (job_load(jobf, &x.job) < 0)
			dml_fail(DML_EXIT_REJECT);
		x.have_job = 1;
	}
	if (pkeyf && !(x.sk = paillier_sk_load(pkeyf)))
		dml_fail(DML_EXIT_USAGE);
	if (key_load(keyf, &x.k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(o = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	nfiles = argc - optind;
	for (i = 0; i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? argv[optind + i] : NULL);
		json_t *r;
		int rc;

		if (!in)
			goto reject;
		while ((rc = rec_next(in, &r)) > 0) {
			json_t *e = one(&x, r, in);
			int bad = !e || rec_out_write(o, e, NULL) < 0;
			json_decref(e);
			json_decref(r);
			if (bad) {
				rc = -1;
				break;
			}
		}
		if (rc == 0 && rec_count(in) == 0)
			rc = dml_error("%s: empty input: no records", rec_name(in));
		rec_close(in);
		if (rc < 0)
			goto reject;
	}
	done(&x);
	if (rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
reject:
	done(&x);
	rec_out_abort(o);
	dml_fail(DML_EXIT_REJECT);
}
