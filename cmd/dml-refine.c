/* dml-refine: the FedAvg server step. A base dml.model and one dml.aggregate
 * of train deltas (sums over devices) give the next round's dml.model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "cli.h"
#include "model.h"
#include "record.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

static const char usage[] =
"usage: dml-refine -m BASE [--lr ETA] [-o FILE] [--no-verify | --signer KEY]\n"
"                  [AGGREGATE | -]\n"
"       dml-refine --init WIDTHS [--arch A] [--act F] [--seed S] [--name N]\n"
"                  [-o FILE]\n"
"Apply a dml.aggregate of train deltas to the base model and print the new\n"
"dml.model: params += ETA * sum.delta / weight.\n"
"  -m, --model FILE     the base model (one dml.model record)\n"
"  -l, --lr ETA         server learning rate (default 1.0)\n"
"  -o, --output FILE    write the model to FILE (whole) instead of stdout\n"
"      --signer KEY     require the aggregate to be signed by KEY (hex, a\n"
"                       dml.pubkey file or a key file; the old spelling\n"
"                       -k still works, with a warning)\n"
"      --no-verify      accept an unsigned aggregate; skip the signature check\n"
"  -h, --help           this help\n"
"      --version        print the version\n"
"      --init WIDTHS    make the first model instead: layer widths from\n"
"                       input to output, e.g. 784,200,200,10\n"
"      --arch A         mlp (default), softmax (two widths) or cnn\n"
"                       (widths 784,C: 28x28 images, C classes)\n"
"      --act F          relu (default) or tanh, for hidden layers\n"
"      --seed S         seed of the initial weights (default 0)\n"
"      --name N         a name carried in the model record\n"
"The aggregate is read from AGGREGATE, or stdin when absent or '-'.\n";

enum { O_SIGNER = CLI_ID_BASE, O_NOVERIFY, O_INIT, O_ARCH, O_ACT, O_NAME };

/* -k was the signer's public key; -k is the caller's own secret key in
 * every other program (dml(7)), so the signer is --signer now. */
static const cli_opt opts[] = {
	CLI_MODEL, CLI_OUTPUT, CLI_SEEDOPT,
	{"lr", 'l', 1, 0, NULL, 0, NULL},
	{"signer", 0, 1, O_SIGNER, NULL, 'k', NULL},
	{"no-verify", 0, 0, O_NOVERIFY, NULL, 0, NULL},
	{"init", 0, 1, O_INIT, NULL, 0, NULL},
	{"arch", 0, 1, O_ARCH, NULL, 0, NULL},
	{"act", 0, 1, O_ACT, NULL, 0, NULL},
	{"name", 0, 1, O_NAME, NULL, 0, NULL},
	CLI_END};

/* --init: the developer's first model, weights from a seeded generator. */
static int
init_model(const char *widths, const char *arch, const char *act,
    uint64_t seed, const char *name, const char *out)
{
	int sizes[MODEL_MAXLAYERS + 1], n = 0, rc = -1;
	enum model_arch ma;
	enum model_act mf;
	char *w = xstrdup(widths), *tok, *save;
	dml_model m;
	json_t *r;

	for (tok = strtok_r(w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long v;
		if (n == MODEL_MAXLAYERS + 1 ||
		    dml_parse_long(tok, 1, MODEL_MAXWIDTH, &v) < 0) {
			free(w);
			cli_usage_error("--init: bad widths '%s'", widths);
		}
		sizes[n++] = (int)v;
	}
	free(w);
	if (model_arch_parse(arch, &ma) < 0 || model_act_parse(act, &mf) < 0)
		cli_usage_error("%s", dml_errmsg());
	if (model_init(&m, ma, sizes, n, mf, seed) < 0)
		cli_usage_error("%s", dml_errmsg());
	if (name)
		m.name = xstrdup(name);
	m.round = 0;
	r = model_to_record(&m);
	if (rec_out_one(out, r, NULL) == 0)
		rc = 0;
	json_decref(r);
	model_free(&m);
	return rc;
}

struct agg {
	double weight;
	long long round;	/* -1: absent */
	double *delta;		/* [P] */
};

static int
check_signature(const rec_in *in, const json_t *r, const unsigned char *want)
{
	unsigned char pk[32];
	char hex[65];

	if (!json_object_get(r, "sig"))
		return rec_err(in, "the aggregate is not signed (--no-verify "
		    "accepts it)");
	if (rec_verify(r, in, pk) < 0)
		return -1;
	if (want && memcmp(pk, want, 32) != 0) {
		key_hex(pk, 32, hex);
		return rec_err(in, "signed by %s, not by the --signer key", hex);
	}
	return 0;
}

/* Validate the aggregate against the model and decode its delta. */
static int
agg_read(const rec_in *in, const json_t *r, const dml_model *m, int verify,
    const unsigned char *signer, struct agg *a)
{
	const char *task;
	json_t *sum, *dj;
	dml_tensor t;

	a->round = -1;
	if (rec_check(in, r, "dml.aggregate") < 0 ||
	    rec_get_str(in, r, "task", &task) < 0)
		return -1;
	if (strcmp(task, "train") != 0)
		return rec_err(in, "task is \"%s\": dml-refine needs a train "
		    "aggregate", task);
	if (verify && check_signature(in, r, signer) < 0)
		return -1;
	if (rec_get_num(in, r, "weight", &a->weight) < 0 ||
	    rec_opt_int(in, r, "round", 0, 1LL << 40, &a->round) < 0)
		return -1;
	if (!(a->weight > 0) || !isfinite(a->weight))
		return rec_err(in, "field \"weight\" must be positive");
	if (!(sum = rec_get_obj(in, r, "sum")))
		return -1;
	if (!(dj = json_object_get(sum, "delta")))
		return rec_err(in, "missing field \"sum\".\"delta\"");
	if (tensor_from_json(in, dj, "sum.delta", &t) < 0)
		return -1;
	if ((t.dtype != DT_F32 && t.dtype != DT_F64) || t.ndim != 1 ||
	    t.n != m->nparams) {
		tensor_free(&t);
		return rec_err(in, "tensor \"sum.delta\" must be f32 or f64 of "
		    "shape [%zu], the base model's parameter count",
		    m->nparams);
	}
	a->delta = xmalloc(t.n * sizeof *a->delta);
	for (size_t i = 0; i < t.n; i++)
		a->delta[i] = tensor_get(&t, i);
	tensor_free(&t);
	return 0;
}

static int
is_rerun(const json_t *r)
{
	const char *t = json_string_value(json_object_get(r, "type"));

	return t && strcmp(t, "dml.rerun") == 0;
}

/* The next record that is not a dml.rerun (dml-aggregate writes those
 * before its aggregate); 1, 0 at the end, -1 on error. */
static int
next_record(rec_in *in, json_t **r)
{
	int rc;

	while ((rc = rec_next(in, r)) == 1 && is_rerun(*r)) {
		json_decref(*r);
		*r = NULL;
	}
	return rc;
}

/* Read exactly one aggregate record. */
static int
agg_load(const char *path, const dml_model *m, int verify,
    const unsigned char *signer, struct agg *a)
{
	rec_in *in = rec_open(path);
	json_t *r = NULL;
	int rc;

	a->delta = NULL;
	if (!in)
		return -1;
	rc = next_record(in, &r);
	if (rc == 0)
		rc = dml_error("%s: empty input: no dml.aggregate "
		    "record", rec_name(in));
	else if (rc == 1)
		rc = agg_read(in, r, m, verify, signer, a);
	json_decref(r);
	r = NULL;
	if (rc == 0 && (rc = next_record(in, &r)) != 0) {
		if (rc == 1)
			rec_err(in, "more than one record: dml-refine reads "
			    "one dml.aggregate");
		json_decref(r);
		rc = -1;
	}
	rec_close(in);
	if (rc < 0) {
		free(a->delta);
		a->delta = NULL;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	const char *mpath = NULL, *out = NULL, *signer = NULL, *apath,
		   *init = NULL, *arch = "mlp", *act = "relu", *name = NULL;
	uint64_t seed = 0;
	unsigned char spk[32];
	char id[CID_MAXSTR];
	double eta = 1.0;
	int o, verify = 1;
	dml_model m;
	struct agg a;
	json_t *r;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case 'm': mpath = c.arg; break;
		case 'l':
			if (dml_parse_double(c.arg, &eta) < 0 || !(eta > 0))
				cli_opt_error(&c, "a positive number, not '%s'",
				    c.arg);
			break;
		case 'o': out = c.arg; break;
		case O_SIGNER: signer = c.arg; break;
		case O_NOVERIFY: verify = 0; break;
		case O_INIT: init = c.arg; break;
		case O_ARCH: arch = c.arg; break;
		case O_ACT: act = c.arg; break;
		case O_NAME: name = c.arg; break;
		case CLI_SEED: seed = cli_u64(&c); break;
		}
	}
	cli_max_operands(&c, 1);
	apath = cli_operand(&c, 0);
	if (init) {
		if (mpath || apath)
			cli_usage_error("--init makes a model from nothing: no "
			    "-m or aggregate");
		if (init_model(init, arch, act, seed, name, out) < 0)
			dml_fail(DML_EXIT_USAGE);
		dml_close_stdout();
		return 0;
	}
	if (!mpath)
		cli_usage_error("give the base model with -m FILE");
	if (strcmp(mpath, "-") == 0)
		cli_usage_error("-m needs a file: the parent id is the CID of "
		    "its bytes");
	if (signer && !verify)
		cli_usage_error("--signer and --no-verify contradict");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (signer && pubkey_load(signer, spk) < 0)
		cli_usage_error("--signer: %s", dml_errmsg());

	if (cid_of_file(mpath, id) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (model_load(&m, mpath) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (agg_load(apath, &m, verify, signer ? spk : NULL, &a) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (model_apply_sum(&m, a.delta, a.weight, eta) < 0)
		dml_fail(DML_EXIT_REJECT);
	free(m.parent);
	m.parent = xstrdup(id);
	m.round = a.round >= 0 ? a.round + 1 : m.round >= 0 ? m.round + 1 : 1;

	r = model_to_record(&m);
	if (rec_out_one(out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	free(a.delta);
	model_free(&m);
	dml_close_stdout();
	return 0;
}
