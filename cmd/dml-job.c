/* dml-job: compose and sign a customer's job (dml.job), or print the id of
 * an existing job. */
#include <getopt.h>
#include <gmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cid.h"
#include "cnn.h"
#include "fixedpoint.h"
#include "amount.h"
#include "job.h"
#include "market.h"
#include "paillier.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-job -k KEY -t TASK -d DATATYPE [options] [-o FILE]\n"
"       dml-job --id JOBFILE\n"
"Compose a job, sign it with the customer's key and write it as one dml.job\n"
"record. The job id is the CID of that line (see dml-records(5)).\n"
"  -k, --key FILE          customer's secret key (dml-keygen)\n"
"  -t, --task TASK         predict, stats or train\n"
"  -d, --data TYPE         data type the devices must have consented to\n"
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
"      --paillier-key FILE results are Paillier-encrypted to this key (a\n"
"                          dml.paillier.pubkey or Paillier secret key file)\n"
"      --frac-bits F       fixed-point precision 2^-F (default 14)\n"
"      --int-bits I        a device value must be below 2^I (default 14)\n"
"      --max-summands S    at most S results in one sum (default 256)\n"
"      --budget A          tokens escrowed for the job (decimal)\n"
"      --per-device A      paid to each contributing device's owner\n"
"      --developer-fee A   paid to the algorithm's developer\n"
"      --developer KEY     the developer's public key (hex or a key file)\n"
"      --trainer-pool A    shared by trainers in proportion to their weight\n"
"      --node-fee ROLE=A   distributing, federated, report or refining\n"
"                          (repeatable; A alone sets all four)\n"
"      --created TIME      creation time (default now)\n"
"      --nonce TEXT        makes otherwise equal jobs distinct (default\n"
"                          random)\n"
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

static void
iso_time(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
parse_time(const char *s, time_t *t)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return dml_error("'%s' is not an RFC 3339 UTC time "
		    "(YYYY-MM-DDTHH:MM:SSZ)", s);
	*t = timegm(&tm);
	return 0;
}

static json_t *
parse_value(const char *s)
{
	double d;
	if (dml_parse_double(s, &d) == 0) {
		if (d == (double)(long long)d && strchr(s, '.') == NULL &&
		    strchr(s, 'e') == NULL)
			return json_integer((long long)d);
		return json_real(d);
	}
	return json_string(s);
}

static json_t *
parse_criterion(const char *text)
{
	static const char *sym[] = {"=", "!=", "in", "!in", "<", "<=", ">",
	    ">="};
	static const char *word[] = {"eq", "ne", "in", "nin", "lt", "le", "gt",
	    "ge"};
	char *s = xstrdup(text), *attr, *op, *val, *save;
	json_t *c = NULL, *v;
	int k = -1;

	attr = strtok_r(s, " ", &save);
	op = strtok_r(NULL, " ", &save);
	val = strtok_r(NULL, "", &save);
	if (!attr || !op || !val)
		goto out;
	for (int i = 0; i < 8; i++)
		if (strcmp(op, sym[i]) == 0 || strcmp(op, word[i]) == 0)
			k = i;
	if (k < 0)
		goto out;
	if (k == 2 || k == 3) {
		char *sv, *item;
		v = json_array();
		for (item = strtok_r(val, ",", &sv); item;
		    item = strtok_r(NULL, ",", &sv))
			json_array_append_new(v, parse_value(item));
	} else
		v = parse_value(val);
	c = json_pack("{s:s,s:s,s:o}", "attr", attr, "op", word[k], "value", v);
out:
	free(s);
	return c;
}

/* An encrypted model (dml.paillier.model): its shape, and the key and
 * layout it was made for, which must be the job's. */
static int
encrypted_algorithm(json_t *m, json_t *alg, const json_t *enc, const char *path)
{
	job_enc e;
	json_t *w = json_object_get(m, "weights");
	long long wf, xf, width;
	int rc = -1;

	memset(&e, 0, sizeof e);
	if (!enc)
		return dml_error("%s: an encrypted model needs --paillier-key",
		    path);
	if (job_enc_parse(NULL, enc, &e) < 0)
		goto out;
	if (rec_get_int(NULL, m, "frac_bits", 0, 126, &wf) < 0 ||
	    rec_get_int(NULL, m, "x_frac_bits", 0, 126, &xf) < 0 ||
	    !json_is_object(w) ||
	    rec_get_int(NULL, w, "width", 2, 63, &width) < 0) {
		dml_error_prefix("%s:1", path);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(w, "kid")) ?
	    json_string_value(json_object_get(w, "kid")) : "", e.pk.kid) != 0) {
		dml_error("%s: the model is encrypted to another Paillier key "
		    "than --paillier-key", path);
		goto out;
	}
	if (width != e.layout.width) {
		dml_error("%s: the model is packed in %lld-bit slots, the job's "
		    "layout has %d-bit slots (use the same --frac-bits, "
		    "--int-bits and --max-summands for both)", path, width,
		    e.layout.width);
		goto out;
	}
	json_object_set_new(alg, "encrypted", json_pack("{s:I}",
	    "score_frac_bits", (json_int_t)(wf + xf)));
	rc = 0;
out:
	paillier_pk_clear(&e.pk);
	return rc;
}

/* The model's CID and shape, from its file. */
static json_t *
algorithm_of(const char *path, const json_t *enc)
{
	char *buf, c[CID_MAXSTR];
	size_t len, i;
	json_t *m, *layers, *x, *alg;
	json_error_t je;
	const char *arch, *type;
	long long p = 0, prev = 0;

	if (dml_read_file(path, &buf, &len) < 0)
		return NULL;
	if (cid_of_bytes(buf, len, c) < 0) {
		free(buf);
		return NULL;
	}
	m = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &je);
	free(buf);
	if (!m)
		return dml_error("%s:%d: malformed JSON: %s", path, je.line,
		    je.text), NULL;
	type = json_string_value(json_object_get(m, "type"));
	if (rec_check(NULL, m, type && strcmp(type, "dml.paillier.model") == 0 ?
	    "dml.paillier.model" : "dml.model") < 0 ||
	    rec_get_str(NULL, m, "arch", &arch) < 0 ||
	    !(layers = rec_get_arr(NULL, m, "layers"))) {
		json_decref(m);
		return dml_error_prefix("%s:1", path), NULL;
	}
	json_array_foreach(layers, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 1) {
			json_decref(m);
			return dml_error("%s:1: bad \"layers\"", path), NULL;
		}
		if (i)
			p += json_integer_value(x) * (prev + 1);
		prev = json_integer_value(x);
	}
	if (strcmp(arch, "cnn") == 0)	/* its layout is fixed, see model.h */
		p = (long long)cnn_nparams((int)prev);
	alg = json_pack("{s:s,s:s,s:O,s:I}", "model", c, "arch", arch, "layers",
	    layers, "params", (json_int_t)p);
	if (strcmp(json_string_value(json_object_get(m, "type")),
	    "dml.paillier.model") == 0 &&
	    encrypted_algorithm(m, alg, enc, path) < 0) {
		json_decref(alg);
		alg = NULL;
	}
	json_decref(m);
	return alg;
}

/* The --dp-* options into the "privacy" object: option k of clip, noise,
 * mode, epsilon, delta, sample_rate. */
static json_t *
dp_option(json_t *dp, int k, const char *arg)
{
	static const char *const field[] = {"clip", "noise", "mode",
	    "epsilon", "delta", "sample_rate"};
	double v;

	if (!dp)
		dp = json_pack("{s:s,s:f,s:f}", "mode", "central", "delta", 1e-5,
		    "sample_rate", 1.0);
	if (k == 2) {
		json_object_set_new(dp, "mode", json_string(arg));
		return dp;
	}
	if (dml_parse_double(arg, &v) < 0)
		dml_usage_error("--dp-%s: '%s' is not a number", k == 5 ?
		    "sample-rate" : field[k], arg);
	json_object_set_new(dp, field[k], json_real(v));
	return dp;
}

/* Every field present and valid (job_dp_parse says what is wrong). */
static void
dp_check(const json_t *dp, enum job_task t, int encrypted)
{
	job_dp d;

	if (t != TASK_TRAIN)
		dml_usage_error("--dp-* options apply to train jobs");
	if (!json_object_get(dp, "clip") || !json_object_get(dp, "noise") ||
	    !json_object_get(dp, "epsilon"))
		dml_usage_error("differential privacy needs --dp-clip, "
		    "--dp-noise and --dp-epsilon");
	if (job_dp_parse(NULL, dp, &d) < 0)
		dml_usage_error("%s", dml_errmsg());
	if (encrypted && !d.distributed)
		dml_usage_error("an encrypted job takes --dp-mode distributed: "
		    "the node cannot noise a sum it cannot read");
}

/* A listed algorithm: the customer's license must allow this job (its
 * customer, its model, its creation time); the job names the license and
 * pays the developer its developer fee. */
static int
job_add_license(json_t *r, const char *path, long long created)
{
	json_t *alg = json_object_get(r, "algorithm");
	const char *dev = json_string_value(json_object_get(alg, "developer"));
	market_license c;

	if (market_license_load(path, &c) < 0)
		return -1;
	if (market_license_allows(&c, json_string_value(json_object_get(r,
	    "customer")), json_string_value(json_object_get(alg, "model")),
	    created) < 0) {
		dml_error_prefix("%s", path);
		market_license_free(&c);
		return -1;
	}
	if (dev && strcmp(dev, c.developer) != 0) {
		market_license_free(&c);
		return dml_error("%s: --developer is not the listing's developer",
		    path);
	}
	json_object_set_new(alg, "developer", json_string(c.developer));
	json_object_set_new(r, "license", json_pack("{s:s,s:s}", "id", c.id,
	    "kind", market_kind_name(c.kind)));
	market_license_free(&c);
	return 0;
}

static int
print_id(const char *path)
{
	dml_job j;

	if (job_load(path, &j) < 0)
		return -1;
	printf("%s\n", j.id);
	job_free(&j);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_MIND = 256, O_MINS, O_ROUNDS, O_DEADLINE, O_EPOCHS, O_BATCH,
		O_LR, O_FEAT, O_CLASSES, O_MAXD, O_BUDGET, O_PERDEV, O_DEVFEE,
		O_NODEFEE, O_CREATED, O_NONCE, O_ID, O_VERSION, O_DEV, O_TPOOL,
		O_PKEY, O_FRAC, O_IBITS, O_SUMMANDS, O_CSET, O_MINACC, O_MOM, O_WD,
		O_CBLOCK, O_CMAX, O_CALPHA, O_LICENSE };
	enum { O_DPCLIP = 512, O_DPNOISE, O_DPMODE, O_DPEPS, O_DPDELTA, O_DPQ };
	static const struct option opts[] = {
		{"key", required_argument, 0, 'k'},
		{"task", required_argument, 0, 't'},
		{"data", required_argument, 0, 'd'},
		{"model", required_argument, 0, 'm'},
		{"criterion", required_argument, 0, 'c'},
		{"min-devices", required_argument, 0, O_MIND},
		{"min-samples", required_argument, 0, O_MINS},
		{"rounds", required_argument, 0, O_ROUNDS},
		{"deadline", required_argument, 0, O_DEADLINE},
		{"epochs", required_argument, 0, O_EPOCHS},
		{"batch", required_argument, 0, O_BATCH},
		{"lr", required_argument, 0, O_LR},
		{"features", required_argument, 0, O_FEAT},
		{"classes", required_argument, 0, O_CLASSES},
		{"max-delta", required_argument, 0, O_MAXD},
		{"budget", required_argument, 0, O_BUDGET},
		{"per-device", required_argument, 0, O_PERDEV},
		{"developer-fee", required_argument, 0, O_DEVFEE},
		{"node-fee", required_argument, 0, O_NODEFEE},
		{"developer", required_argument, 0, O_DEV},
		{"trainer-pool", required_argument, 0, O_TPOOL},
		{"paillier-key", required_argument, 0, O_PKEY},
		{"frac-bits", required_argument, 0, O_FRAC},
		{"int-bits", required_argument, 0, O_IBITS},
		{"max-summands", required_argument, 0, O_SUMMANDS},
		{"control-set", required_argument, 0, O_CSET},
		{"control-block", required_argument, 0, O_CBLOCK},
		{"control-max", required_argument, 0, O_CMAX},
		{"control-alpha", required_argument, 0, O_CALPHA},
		{"momentum", required_argument, 0, O_MOM},
		{"weight-decay", required_argument, 0, O_WD},
		{"min-accuracy", required_argument, 0, O_MINACC},
		{"created", required_argument, 0, O_CREATED},
		{"nonce", required_argument, 0, O_NONCE},
		{"dp-clip", required_argument, 0, O_DPCLIP},
		{"dp-noise", required_argument, 0, O_DPNOISE},
		{"dp-mode", required_argument, 0, O_DPMODE},
		{"dp-epsilon", required_argument, 0, O_DPEPS},
		{"dp-delta", required_argument, 0, O_DPDELTA},
		{"dp-sample-rate", required_argument, 0, O_DPQ},
		{"license", required_argument, 0, O_LICENSE},
		{"output", required_argument, 0, 'o'},
		{"id", required_argument, 0, O_ID},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *keyf = NULL, *task = NULL, *data = NULL, *model = NULL,
		   *deadline = NULL, *created = NULL, *nonce = NULL, *out = NULL,
		   *budget = "0", *perdev = "0", *devfee = "0",
		   *developer = NULL, *tpool = NULL, *pkeyf = NULL,
		   *cset = NULL, *licf = NULL;
	double minacc = -1, mom = 0, wd = 0, calpha = -1;
	long cblock = -1, cmax = -1;
	const char *fees[4] = {"0", "0", "0", "0"};
	static const char *roles[4] = {"distributing", "federated", "report",
	    "refining"};
	long mind = 10, mins = 1, rounds = 1, epochs = 1, batch = 32, feat = 0,
	     classes = 0;
	long frac = 14, ibits = 14, summands = 256;
	int encopt = 0;
	double lr = 0.05, maxd = 10;
	json_t *criteria = json_array(), *r, *c, *enc = NULL, *dp = NULL;
	enum job_task t;
	dml_key k;
	char buf[80], nbuf[33];
	time_t now;
	int ch;
	rec_out *o;

	dml_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "k:t:d:m:c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': keyf = optarg; break;
		case O_CSET: cset = optarg; break;
		case O_CBLOCK: case O_CMAX: {
			long v;
			if (dml_parse_long(optarg, 1, 1000000, &v) < 0)
				dml_usage_error("--control-%s: %s", ch == O_CBLOCK ?
				    "block" : "max", dml_errmsg());
			*(ch == O_CBLOCK ? &cblock : &cmax) = v;
			break;
		}
		case O_CALPHA:
			if (dml_parse_double(optarg, &calpha) < 0 ||
			    !(calpha > 0 && calpha < 1))
				dml_usage_error("--control-alpha: want (0, 1)");
			break;
		case O_MOM:
			if (dml_parse_double(optarg, &mom) < 0 ||
			    !(mom >= 0 && mom < 1))
				dml_usage_error("--momentum: want [0, 1)");
			break;
		case O_WD:
			if (dml_parse_double(optarg, &wd) < 0 || !(wd >= 0))
				dml_usage_error("--weight-decay: want >= 0");
			break;
		case O_MINACC:
			if (dml_parse_double(optarg, &minacc) < 0 ||
			    !(minacc >= 0 && minacc <= 1))
				dml_usage_error("--min-accuracy: want a number in "
				    "[0, 1]");
			break;
		case 't': task = optarg; break;
		case 'd': data = optarg; break;
		case 'm': model = optarg; break;
		case 'c':
			if (!(c = parse_criterion(optarg)))
				dml_usage_error("bad criterion '%s' (want "
				    "'ATTR OP VALUE')", optarg);
			json_array_append_new(criteria, c);
			break;
		case O_MIND: case O_MINS: case O_ROUNDS: case O_EPOCHS:
		case O_BATCH: case O_FEAT: case O_CLASSES: {
			long v;
			if (dml_parse_long(optarg, 1, 1L << 40, &v) < 0)
				dml_usage_error("%s", dml_errmsg());
			if (ch == O_MIND) mind = v;
			else if (ch == O_MINS) mins = v;
			else if (ch == O_ROUNDS) rounds = v;
			else if (ch == O_EPOCHS) epochs = v;
			else if (ch == O_BATCH) batch = v;
			else if (ch == O_FEAT) feat = v;
			else classes = v;
			break;
		}
		case O_LR: case O_MAXD: {
			double v;
			if (dml_parse_double(optarg, &v) < 0 || v <= 0)
				dml_usage_error("'%s' is not a positive number",
				    optarg);
			if (ch == O_LR) lr = v; else maxd = v;
			break;
		}
		case O_DEADLINE: deadline = optarg; break;
		case O_BUDGET: budget = optarg; break;
		case O_PERDEV: perdev = optarg; break;
		case O_DEVFEE: devfee = optarg; break;
		case O_NODEFEE: {
			char *eq = strchr(optarg, '=');
			if (!eq) {
				for (int i = 0; i < 4; i++)
					fees[i] = optarg;
				break;
			}
			*eq = 0;
			int i;
			for (i = 0; i < 4 && strcmp(optarg, roles[i]); i++)
				;
			if (i == 4)
				dml_usage_error("unknown node role '%s'", optarg);
			fees[i] = eq + 1;
			break;
		}
		case O_DEV: developer = optarg; break;
		case O_PKEY: pkeyf = optarg; break;
		case O_FRAC:
			if (dml_parse_long(optarg, 0, FXP_MAXFRAC, &frac) < 0)
				dml_usage_error("--frac-bits: %s", dml_errmsg());
			encopt = 1;
			break;
		case O_IBITS:
			if (dml_parse_long(optarg, 1, 62, &ibits) < 0)
				dml_usage_error("--int-bits: %s", dml_errmsg());
			encopt = 1;
			break;
		case O_SUMMANDS:
			if (dml_parse_long(optarg, 1, FXP_MAXSUMMANDS,
			    &summands) < 0)
				dml_usage_error("--max-summands: %s",
				    dml_errmsg());
			encopt = 1;
			break;
		case O_TPOOL: tpool = optarg; break;
		case O_CREATED: created = optarg; break;
		case O_NONCE: nonce = optarg; break;
		case O_DPCLIP: case O_DPNOISE: case O_DPMODE: case O_DPEPS:
		case O_DPDELTA: case O_DPQ:
			dp = dp_option(dp, ch - O_DPCLIP, optarg);
			break;
		case O_LICENSE: licf = optarg; break;
		case 'o': out = optarg; break;
		case O_ID:
			json_decref(criteria);
			if (dml_crypto_init() < 0 || print_id(optarg) < 0)
				dml_fail(DML_EXIT_REJECT);
			dml_close_stdout();
			return 0;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!keyf || !task || !data)
		dml_usage_error("-k KEY, -t TASK and -d DATATYPE are required");
	if (task_parse(task, &t) < 0)
		dml_usage_error("%s", dml_errmsg());
	if (t != TASK_STATS && !model)
		dml_usage_error("a %s job needs -m MODEL", task);
	if (licf && !model)
		dml_usage_error("--license is the license of -m MODEL");
	if (developer && !model)
		dml_usage_error("--developer names the developer of -m MODEL");
	if (t == TASK_STATS && (!feat || !classes))
		dml_usage_error("a stats job needs --features and --classes");
	if (!amount_ok(budget) || !amount_ok(perdev) || !amount_ok(devfee) ||
	    (tpool && !amount_ok(tpool)))
		dml_usage_error("amounts are decimal integers of tokens");
	for (int i = 0; i < 4; i++)
		if (!amount_ok(fees[i]))
			dml_usage_error("bad node fee '%s'", fees[i]);
	if (dp)
		dp_check(dp, t, pkeyf != NULL);
	if (encopt && !pkeyf)
		dml_usage_error("--frac-bits, --int-bits and --max-summands "
		    "need --paillier-key");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (pkeyf) {
		paillier_pk pk;
		fxp_layout l;
		if (paillier_pk_load(&pk, pkeyf) < 0)
			dml_die(DML_EXIT_USAGE, "--paillier-key: %s",
			    dml_errmsg());
		if (fxp_layout_init(&l, (int)frac, (int)ibits, summands,
		    pk.bits) < 0)
			dml_usage_error("%s", dml_errmsg());
		enc = json_pack("{s:s,s:o,s:i,s:i,s:I}", "scheme", "paillier",
		    "key", paillier_pk_json(&pk), "frac_bits", (int)frac,
		    "int_bits", (int)ibits, "max_summands",
		    (json_int_t)summands);
		paillier_pk_clear(&pk);
	}

	/* the escrow must cover every fee and the devices it asks for */
	{
		mpz_t b, need, x;
		mpz_inits(b, need, x, NULL);
		mpz_set_str(b, budget, 10);
		mpz_set_str(need, devfee, 10);
		for (int i = 0; i < 4; i++) {
			mpz_set_str(x, fees[i], 10);
			mpz_add(need, need, x);
		}
		mpz_set_str(x, perdev, 10);
		mpz_addmul_ui(need, x, (unsigned long)mind);
		if (tpool) {
			mpz_set_str(x, tpool, 10);
			mpz_add(need, need, x);
		}
		if (mpz_cmp(b, need) < 0) {
			char *s = mpz_get_str(NULL, 10, need);
			dml_warn("budget %s does not cover the fees and %ld "
			    "devices (%s needed)", budget, mind, s);
			free(s);
			mpz_clears(b, need, x, NULL);
			exit(DML_EXIT_USAGE);
		}
		mpz_clears(b, need, x, NULL);
	}

	now = time(NULL);
	if (created) {
		if (parse_time(created, &now) < 0)
			dml_usage_error("%s", dml_errmsg());
	}
	r = rec_new("dml.job");
	iso_time(now, buf, sizeof buf);
	json_object_set_new(r, "created", json_string(buf));
	if (deadline) {
		time_t d;
		if (parse_time(deadline, &d) < 0)
			dml_usage_error("%s", dml_errmsg());
		if (d <= now)
			dml_usage_error("the deadline is not after the creation "
			    "time");
		json_object_set_new(r, "deadline", json_string(deadline));
	} else {
		iso_time(now + 7 * 86400, buf, sizeof buf);
		json_object_set_new(r, "deadline", json_string(buf));
	}
	if (!nonce) {
		unsigned char nb[16];
		randombytes_buf(nb, sizeof nb);
		key_hex(nb, 16, nbuf);
		nonce = nbuf;
	}
	json_object_set_new(r, "nonce", json_string(nonce));
	json_object_set_new(r, "task", json_string(task));
	json_object_set_new(r, "data", json_string(data));
	json_object_set_new(r, "min_devices", json_integer(mind));
	json_object_set_new(r, "min_samples", json_integer(mins));
	json_object_set_new(r, "rounds", json_integer(rounds));
	if (minacc >= 0 && !cset)
		dml_usage_error("--min-accuracy needs --control-set");
	if ((cblock > 0 || cmax > 0 || calpha > 0) && !cset)
		dml_usage_error("--control-block, --control-max and "
		    "--control-alpha need --control-set");
	if (cset) {
		cid cc;
		json_t *ctl;
		if (cid_parse(&cc, cset) < 0)
			dml_usage_error("--control-set: %s", dml_errmsg());
		ctl = json_pack("{s:s}", "set", cset);
		if (minacc >= 0)
			json_object_set_new(ctl, "min_accuracy",
			    json_real(minacc));
		if (cblock > 0)
			json_object_set_new(ctl, "block", json_integer(cblock));
		if (cmax > 0)
			json_object_set_new(ctl, "max", json_integer(cmax));
		if (calpha > 0)
			json_object_set_new(ctl, "alpha", json_real(calpha));
		json_object_set_new(r, "control", ctl);
	}
	if (json_array_size(criteria))
		json_object_set(r, "criteria", criteria);
	json_decref(criteria);
	if (model) {
		json_t *alg = algorithm_of(model, enc);
		if (!alg)
			dml_fail(DML_EXIT_REJECT);
		if (developer) {
			unsigned char dk[32];
			char dh[65];
			if (pubkey_load(developer, dk) < 0)
				dml_usage_error("--developer: %s", dml_errmsg());
			key_hex(dk, 32, dh);
			json_object_set_new(alg, "developer", json_string(dh));
		}
		json_object_set_new(r, "algorithm", alg);
	}
	if (t == TASK_STATS)
		json_object_set_new(r, "stats", json_pack("{s:I,s:I}",
		    "features", (json_int_t)feat, "classes",
		    (json_int_t)classes));
	if (t == TASK_TRAIN)
		json_object_set_new(r, "train", json_pack("{s:I,s:I,s:f}",
		    "epochs", (json_int_t)epochs, "batch", (json_int_t)batch,
		    "lr", lr));
	if (t == TASK_TRAIN && mom > 0)
		json_object_set_new(json_object_get(r, "train"), "momentum",
		    json_real(mom));
	if (t == TASK_TRAIN && wd > 0)
		json_object_set_new(json_object_get(r, "train"),
		    "weight_decay", json_real(wd));
	json_object_set_new(r, "limits", json_pack("{s:f}", "max_delta", maxd));
	if (enc)
		json_object_set_new(r, "encryption", enc);
	if (dp)
		json_object_set_new(r, "privacy", dp);
	json_object_set_new(r, "reward", json_pack(
	    "{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "budget", budget,
	    "per_device", perdev, "developer_fee", devfee, "node_fees",
	    roles[0], fees[0], roles[1], fees[1], roles[2], fees[2], roles[3],
	    fees[3]));
	if (tpool)
		json_object_set_new(json_object_get(r, "reward"), "trainer_pool",
		    json_string(tpool));
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, buf);
	json_object_set_new(r, "customer", json_string(buf));
	if (licf && job_add_license(r, licf, (long long)now) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	{	/* what we sign must be what every reader accepts */
		dml_job j;
		if (job_from_record(NULL, json_incref(r), &j) < 0)
			dml_fail(DML_EXIT_REJECT);
		job_free(&j);
	}
	if (!(o = rec_out_open(out)) || rec_out_write(o, r, NULL) < 0 ||
	    rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	dml_close_stdout();
	return 0;
}
