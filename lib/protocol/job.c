/* job: validation, identity, criteria and writing of the customer's
 * dml.job. */
#include "job.h"
#include "amount.h"
#include "cnn.h"
#include "sign.h"
#include "timefmt.h"
#include "util.h"

#include <gmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *tasks[] = {"predict", "stats", "train"};

const char *
task_name(enum job_task t)
{
	return tasks[t];
}

int
task_parse(const char *s, enum job_task *t)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, tasks[i]) == 0) {
			*t = (enum job_task)i;
			return 0;
		}
	return dml_error("unknown task \"%s\" (predict, stats or train)", s);
}

int
job_id(const json_t *r, char out[CID_MAXSTR])
{
	size_t n;
	char *s = canon_dump(r, NULL, NULL, &n);
	int rc;

	if (!s)
		return -1;
	if (n + 1 > CID_CHUNK) {
		free(s);
		return dml_error("job record is larger than 256 KiB");
	}
	s[n] = '\n';
	rc = cid_of_bytes(s, n + 1, out);
	free(s);
	return rc;
}

static const char *ops[] = {"eq", "ne", "in", "nin", "lt", "le", "gt", "ge"};

static int
op_index(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (strcmp(s, ops[i]) == 0)
			return i;
	return -1;
}

int
job_criteria_check(const json_t *criteria)
{
	size_t i;
	json_t *c;

	if (!json_is_array(criteria))
		return dml_error("\"criteria\" must be an array");
	json_array_foreach(criteria, i, c) {
		json_t *a = json_object_get(c, "attr"),
		       *o = json_object_get(c, "op"),
		       *v = json_object_get(c, "value");
		int k;
		if (!json_is_object(c) || !json_is_string(a) ||
		    !json_is_string(o) || !v)
			return dml_error("criterion %zu needs \"attr\", \"op\" "
			    "and \"value\"", i);
		k = op_index(json_string_value(o));
		if (k < 0)
			return dml_error("criterion %zu: unknown op \"%s\"", i,
			    json_string_value(o));
		if (k == 2 || k == 3) {
			size_t j;
			json_t *x;
			if (!json_is_array(v) || json_array_size(v) == 0)
				return dml_error("criterion %zu: \"%s\" needs a "
				    "non-empty array", i, ops[k]);
			json_array_foreach(v, j, x)
				if (!json_is_string(x) && !json_is_number(x))
					return dml_error("criterion %zu: values "
					    "must be strings or numbers", i);
		} else if (k >= 4 && !json_is_number(v))
			return dml_error("criterion %zu: \"%s\" needs a number",
			    i, ops[k]);
		else if (k < 2 && !json_is_string(v) && !json_is_number(v))
			return dml_error("criterion %zu: \"%s\" needs a string "
			    "or a number", i, ops[k]);
	}
	return 0;
}

static int
same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_is_string(a) && json_is_string(b) &&
	    strcmp(json_string_value(a), json_string_value(b)) == 0;
}

int
job_criteria_match(const dml_job *j, const json_t *attrs, const char **why)
{
	json_t *cr = json_object_get(j->rec, "criteria"), *c;
	size_t i;

	if (!cr)
		return 1;
	json_array_foreach(cr, i, c) {
		const char *an = json_string_value(json_object_get(c, "attr"));
		int k = op_index(json_string_value(json_object_get(c, "op")));
		json_t *v = json_object_get(c, "value"),
		       *a = json_object_get(attrs, an);
		int m = 0;

		if (a)
			switch (k) {
			case 0: m = same(a, v); break;
			case 1: m = !same(a, v); break;
			case 2: case 3: {
				size_t q;
				json_t *x;
				json_array_foreach(v, q, x)
					m |= same(a, x);
				if (k == 3)
					m = !m;
				break;
			}
			default:
				if (json_is_number(a)) {
					double x = json_number_value(a),
					       y = json_number_value(v);
					m = k == 4 ? x < y : k == 5 ? x <= y :
					    k == 6 ? x > y : x >= y;
				}
			}
		if (!m) {
			*why = an;
			return 0;
		}
	}
	return 1;
}

static int
check_layers(const rec_in *in, json_t *alg, dml_job *j)
{
	json_t *layers = rec_get_arr(in, alg, "layers"), *x;
	long long p = 0, prev = 0;
	size_t i;

	if (!layers)
		return -1;
	if (json_array_size(layers) < 2 || json_array_size(layers) > 8)
		return rec_err(in, "\"algorithm.layers\" needs 2 to 8 sizes");
	json_array_foreach(layers, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > 1000000)
			return rec_err(in, "\"algorithm.layers\"[%zu] must be a "
			    "positive integer", i);
		if (i)
			p += json_integer_value(x) * (prev + 1);
		prev = json_integer_value(x);
	}
	j->features = json_integer_value(json_array_get(layers, 0));
	j->classes = prev;
	{	/* a cnn's parameters do not follow from its two widths */
		const char *arch = json_string_value(json_object_get(alg, "arch"));
		if (arch && strcmp(arch, "cnn") == 0) {
			if (json_array_size(layers) != 2 || j->features != 784)
				return rec_err(in, "a cnn job has layers [784, C]");
			p = (long long)cnn_nparams((int)prev);
		}
	}
	if (rec_get_int(in, alg, "params", 1, 1LL << 40, &j->params) < 0)
		return -1;
	if (j->params != p)
		return rec_err(in, "\"algorithm.params\" is %lld but the layers "
		    "have %lld parameters", j->params, p);
	return 0;
}

int
job_enc_parse(const rec_in *in, const json_t *o, job_enc *e)
{
	const char *scheme;
	long long f, i, s;

	if (!json_is_object(o))
		return rec_err(in, "\"encryption\" must be an object");
	if (rec_get_str(in, o, "scheme", &scheme) < 0)
		return -1;
	if (strcmp(scheme, "paillier") != 0)
		return rec_err(in, "\"encryption\": unknown scheme \"%.40s\" "
		    "(known: paillier)", scheme);
	if (rec_get_int(in, o, "frac_bits", 0, FXP_MAXFRAC, &f) < 0 ||
	    rec_get_int(in, o, "int_bits", 1, 62, &i) < 0 ||
	    rec_get_int(in, o, "max_summands", 1, FXP_MAXSUMMANDS, &s) < 0)
		return -1;
	if (!json_object_get(o, "key"))
		return rec_err(in, "\"encryption\": missing field \"key\"");
	if (paillier_pk_from_json(&e->pk, in, json_object_get(o, "key")) < 0)
		return -1;
	if (fxp_layout_init(&e->layout, (int)f, (int)i, s, e->pk.bits) < 0)
		return rec_err(in, "\"encryption\": %s", dml_errmsg());
	e->on = 1;
	return 0;
}

/* algorithm.encrypted: {"score_frac_bits": F} of a dml.paillier.model. */
static int
enc_model(const rec_in *in, const json_t *alg, dml_job *j)
{
	json_t *e = json_object_get(alg, "encrypted");
	long long f;

	if (!e)
		return 0;
	if (!json_is_object(e) || rec_get_int(in, e, "score_frac_bits", 0,
	    126, &f) < 0)
		return rec_err(in, "\"algorithm.encrypted\" must be an object "
		    "with \"score_frac_bits\"");
	if (!j->enc.on || j->task != TASK_PREDICT || j->features + 1 >
	    (1LL << 30) || j->classes > j->enc.layout.slots ||
	    json_array_size(json_object_get(alg, "layers")) != 2)
		return rec_err(in, "an encrypted algorithm needs a predict job "
		    "with Paillier \"encryption\", one weight layer and at "
		    "most %d classes", j->enc.on ? j->enc.layout.slots : 0);
	j->enc.model = 1;
	j->enc.score_frac = (int)f;
	return 0;
}

/* "control.block", "control.max", "control.alpha": the adaptive control
 * test (dml-run asks by it, dml-weight replays it; see weight.h). */
static int
job_control_test(const rec_in *in, const json_t *o, dml_job *j)
{
	j->control_block = 10;
	j->control_max = 50;
	j->control_alpha = 0.05;
	if (rec_opt_int(in, o, "block", 1, 1000000, &j->control_block) < 0 ||
	    rec_opt_int(in, o, "max", 1, 1000000, &j->control_max) < 0 ||
	    rec_opt_num(in, o, "alpha", &j->control_alpha) < 0)
		return -1;
	if (!(j->control_alpha > 0 && j->control_alpha < 1))
		return rec_err(in, "field \"control.alpha\" must be in (0, 1)");
	if (j->control_max < j->control_block)
		return rec_err(in, "field \"control.max\" is below "
		    "\"control.block\"");
	return 0;
}

/* "control": the common control set crowd trainers answer (dml-weight):
 * {"set": CID of its items file, "min_accuracy": 0..1, the adaptive
 * test's "block", "max", "alpha"}. */
static int
job_control(const rec_in *in, const json_t *o, dml_job *j)
{
	cid c;

	if (!json_is_object(o))
		return rec_err(in, "field \"control\" is not an object");
	if (rec_get_str(in, o, "set", &j->control_set) < 0)
		return -1;
	if (cid_parse(&c, j->control_set) < 0)
		return rec_err(in, "field \"control.set\": %s", dml_errmsg());
	if (rec_opt_num(in, o, "min_accuracy", &j->min_accuracy) < 0)
		return -1;
	if (!(j->min_accuracy >= 0 && j->min_accuracy <= 1))
		return rec_err(in, "field \"control.min_accuracy\" must be in "
		    "[0, 1]");
	return job_control_test(in, o, j);
}

/* "privacy": {"clip": C, "noise": Z, "mode": "central"|"distributed",
 * "epsilon": E, "delta": D, "sample_rate": Q}. */
int
job_dp_parse(const rec_in *in, const json_t *o, job_dp *d)
{
	const char *mode;

	memset(d, 0, sizeof *d);
	if (!json_is_object(o))
		return rec_err(in, "field \"privacy\" is not an object");
	if (rec_get_num(in, o, "clip", &d->clip) < 0 ||
	    rec_get_num(in, o, "noise", &d->noise) < 0 ||
	    rec_get_num(in, o, "epsilon", &d->epsilon) < 0 ||
	    rec_get_num(in, o, "delta", &d->delta) < 0 ||
	    rec_get_num(in, o, "sample_rate", &d->sample_rate) < 0 ||
	    rec_get_str(in, o, "mode", &mode) < 0)
		return -1;
	if (strcmp(mode, "central") == 0)
		d->distributed = 0;
	else if (strcmp(mode, "distributed") == 0)
		d->distributed = 1;
	else
		return rec_err(in, "field \"privacy.mode\": \"%.40s\" is "
		    "neither central nor distributed", mode);
	if (!(d->clip > 0 && isfinite(d->clip)))
		return rec_err(in, "field \"privacy.clip\" must be a positive "
		    "number");
	if (!(d->noise > 0 && isfinite(d->noise)))
		return rec_err(in, "field \"privacy.noise\" must be a positive "
		    "number");
	if (!(d->epsilon > 0 && isfinite(d->epsilon)))
		return rec_err(in, "field \"privacy.epsilon\" must be a "
		    "positive number");
	if (!(d->delta > 0 && d->delta < 1))
		return rec_err(in, "field \"privacy.delta\" must be in (0, 1)");
	if (!(d->sample_rate > 0 && d->sample_rate <= 1))
		return rec_err(in, "field \"privacy.sample_rate\" must be in "
		    "(0, 1]");
	d->on = 1;
	return 0;
}

/* "license": {"id": the CID of the dml.license a listed algorithm needs,
 * "kind": single or subscription} (see dml-market(1)); dml-job checks the
 * license itself before signing. */
static int
job_license_check(const rec_in *in, const json_t *r)
{
	json_t *x = json_object_get(r, "license");
	const char *id = json_string_value(json_object_get(x, "id")),
		   *kind = json_string_value(json_object_get(x, "kind"));
	cid c;

	if (!x)
		return 0;
	if (!id || strlen(id) >= CID_MAXSTR || cid_parse(&c, id) < 0 ||
	    !kind || (strcmp(kind, "single") && strcmp(kind, "subscription")))
		return rec_err(in, "field \"license\" needs \"id\" (a CID) "
		    "and \"kind\" (single or subscription)");
	if (!json_object_get(r, "algorithm"))
		return rec_err(in, "a job without an algorithm has no license");
	return 0;
}

const char *
job_license(const dml_job *j, int *single)
{
	json_t *x = json_object_get(j->rec, "license");

	if (single)
		*single = x && strcmp(json_string_value(json_object_get(x,
		    "kind")), "single") == 0;
	return json_string_value(json_object_get(x, "id"));
}

/* "algorithm" of a predict or train job: the model's CID, its layers and
 * parameter count, and the developer paid the developer fee. */
static int
job_algorithm(const rec_in *in, const json_t *r, dml_job *j)
{
	const char *dev = NULL;
	json_t *o;
	cid c;

	if (!(o = rec_get_obj(in, r, "algorithm")) ||
	    rec_get_str(in, o, "model", &j->model) < 0)
		return -1;
	if (cid_parse(&c, j->model) < 0)
		return rec_err(in, "\"algorithm.model\": %s", dml_errmsg());
	if (check_layers(in, o, j) < 0 ||
	    rec_opt_str(in, o, "developer", &dev) < 0)
		return -1;
	if (dev) {
		if (key_parse_hex(dev, j->developer) < 0)
			return rec_err(in, "\"algorithm.developer\": %s",
			    dml_errmsg());
		j->has_developer = 1;
	}
	return 0;
}

/* "train": local SGD settings. */
static int
job_train(const rec_in *in, const json_t *r, dml_job *j)
{
	long long e, b;
	double lr;
	json_t *o;

	if (!(o = rec_get_obj(in, r, "train")) ||
	    rec_get_int(in, o, "epochs", 1, 1000, &e) < 0 ||
	    rec_get_int(in, o, "batch", 1, 1 << 20, &b) < 0 ||
	    rec_get_num(in, o, "lr", &lr) < 0 ||
	    rec_opt_num(in, o, "momentum", &j->momentum) < 0 ||
	    rec_opt_num(in, o, "weight_decay", &j->weight_decay) < 0)
		return -1;
	if (!(j->momentum >= 0 && j->momentum < 1) || !(j->weight_decay >= 0))
		return rec_err(in, "field \"train\": momentum must be in [0, 1) "
		    "and weight_decay >= 0");
	return 0;
}

/* "reward": token amounts, the node fees of every role. */
static int
job_reward(const rec_in *in, const json_t *r)
{
	const char *s;
	json_t *rw, *nf;

	if (!(rw = rec_get_obj(in, r, "reward")) ||
	    rec_get_amount(in, rw, "budget", &s) < 0 ||
	    rec_get_amount(in, rw, "per_device", &s) < 0 ||
	    rec_get_amount(in, rw, "developer_fee", &s) < 0 ||
	    !(nf = rec_get_obj(in, rw, "node_fees")))
		return -1;
	if (json_object_get(rw, "trainer_pool") &&
	    rec_get_amount(in, rw, "trainer_pool", &s) < 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (rec_get_amount(in, nf, job_node_roles[i], &s) < 0)
			return -1;
	return 0;
}

/* "privacy", "limits" and "criteria": the optional terms. */
static int
job_terms(const rec_in *in, const json_t *r, dml_job *j)
{
	json_t *o;

	if ((o = json_object_get(r, "privacy"))) {
		if (job_dp_parse(in, o, &j->dp) < 0)
			return -1;
		if (j->task != TASK_TRAIN || (j->enc.on && !j->dp.distributed))
			return rec_err(in, "field \"privacy\" applies to train "
			    "jobs, and to encrypted ones in distributed mode "
			    "only");
	}
	if ((o = json_object_get(r, "limits")) &&
	    rec_opt_num(in, o, "max_delta", &j->max_delta) < 0)
		return -1;
	if ((o = json_object_get(r, "criteria")) && job_criteria_check(o) < 0)
		return rec_err(in, "%s", dml_errmsg());
	return 0;
}

/* "customer", the signature (checked when verify is set: else the caller
 * proves the customer's commitment another way) and the id. */
static int
job_customer(const rec_in *in, json_t *r, dml_job *j, int verify)
{
	const char *s, *from;

	if (rec_get_str(in, r, "customer", &s) < 0)
		return -1;
	if (key_parse_hex(s, j->customer) < 0)
		return rec_err(in, "\"customer\": %s", dml_errmsg());
	if (verify && rec_verify(r, in, NULL) < 0)
		return -1;
	from = json_string_value(json_object_get(r, "from"));
	if (!from || strcmp(from, s) != 0)
		return rec_err(in, "the job is not signed by its customer");
	if (job_id(r, j->id) < 0)
		return rec_err(in, "%s", dml_errmsg());
	return 0;
}

static int
job_parse(const rec_in *in, json_t *r, dml_job *j, int verify)
{
	const char *s;
	json_t *o;

	memset(j, 0, sizeof *j);
	j->rec = r;
	j->max_delta = 10;
	j->min_samples = 1;
	if (rec_check(in, r, "dml.job") < 0 || rec_get_str(in, r, "task", &s) < 0)
		goto fail;
	if (task_parse(s, &j->task) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto fail;
	}
	if (rec_get_str(in, r, "data", &j->data) < 0 ||
	    rec_get_int(in, r, "min_devices", 1, 1LL << 40, &j->min_devices) < 0 ||
	    rec_opt_int(in, r, "min_samples", 1, 1LL << 40, &j->min_samples) < 0 ||
	    rec_get_int(in, r, "rounds", 1, 1000000, &j->rounds) < 0 ||
	    rec_get_str(in, r, "deadline", &s) < 0)
		goto fail;
	if ((o = json_object_get(r, "control")) && job_control(in, o, j) < 0)
		goto fail;
	if (j->task == TASK_STATS) {
		if (!(o = rec_get_obj(in, r, "stats")) ||
		    rec_get_int(in, o, "features", 1, 1 << 24, &j->features) < 0 ||
		    rec_get_int(in, o, "classes", 1, 1 << 20, &j->classes) < 0)
			goto fail;
	} else if (job_algorithm(in, r, j) < 0)
		goto fail;
	if (j->task == TASK_TRAIN && job_train(in, r, j) < 0)
		goto fail;
	if ((o = json_object_get(r, "encryption")) &&
	    job_enc_parse(in, o, &j->enc) < 0)
		goto fail;
	if (job_license_check(in, r) < 0)
		goto fail;
	if (j->task == TASK_PREDICT &&
	    enc_model(in, json_object_get(r, "algorithm"), j) < 0)
		goto fail;
	if (job_terms(in, r, j) < 0 || job_reward(in, r) < 0 ||
	    job_customer(in, r, j, verify) < 0)
		goto fail;
	return 0;
fail:
	j->rec = NULL;
	json_decref(r);
	paillier_pk_clear(&j->enc.pk);
	return -1;
}

int
job_from_record(const rec_in *in, json_t *r, dml_job *j)
{
	return job_parse(in, r, j, 1);
}

int
job_from_escrowed(const rec_in *in, json_t *r, dml_job *j)
{
	return job_parse(in, r, j, 0);
}

int
job_load(const char *path, dml_job *j)
{
	rec_in *in = rec_open(path);
	json_t *r, *extra;
	int rc;

	memset(j, 0, sizeof *j);
	if (!in)
		return -1;
	rc = rec_next(in, &r);
	if (rc == 0) {
		rec_close(in);
		return dml_error("%s: empty input: no job record", path);
	}
	if (rc < 0 || rec_detach(in, r) < 0) {
		rec_close(in);
		return -1;
	}
	if (job_from_record(in, r, j) < 0) {
		rec_close(in);
		return -1;
	}
	rc = rec_next(in, &extra);
	if (rc != 0) {
		if (rc > 0) {
			json_decref(extra);
			rec_err(in, "more than one record in a job file");
		}
		job_free(j);
		rec_close(in);
		return -1;
	}
	rec_close(in);
	return 0;
}

void
job_free(dml_job *j)
{
	json_decref(j->rec);
	j->rec = NULL;
	paillier_pk_clear(&j->enc.pk);
}

/* ---- writing a job ------------------------------------------------------ */

const char *const job_node_roles[4] = {"distributing", "federated", "report",
    "refining"};

void
job_spec_init(job_spec *s)
{
	memset(s, 0, sizeof *s);
	s->task = TASK_STATS;
	s->min_devices = 10;
	s->min_samples = 1;
	s->rounds = 1;
	s->epochs = 1;
	s->batch = 32;
	s->lr = 0.05;
	s->max_delta = 10;
	s->min_accuracy = -1;
	s->frac_bits = 14;
	s->int_bits = 14;
	s->max_summands = 256;
	s->budget = s->per_device = s->developer_fee = "0";
	for (int i = 0; i < 4; i++)
		s->node_fees[i] = "0";
}

int
job_spec_node_fee(job_spec *s, const char *arg)
{
	const char *eq = strchr(arg, '='), *v = eq ? eq + 1 : arg;
	size_t n = eq ? (size_t)(eq - arg) : 0;
	int i = 0;

	while (eq && i < 4 && (strlen(job_node_roles[i]) != n ||
	    strncmp(arg, job_node_roles[i], n) != 0))
		i++;
	if (i == 4)
		return dml_error("unknown node role '%.*s'", (int)n, arg);
	if (!amount_ok(v))
		return dml_error("bad node fee '%s'", v);
	for (int k = 0; k < 4; k++)
		if (!eq || k == i)
			s->node_fees[k] = v;
	return 0;
}

/* The escrow must cover every fee and the devices the job asks for. */
static int
budget_check(const job_spec *s)
{
	mpz_t b, need, x;
	int rc = 0;

	mpz_inits(b, need, x, NULL);
	mpz_set_str(b, s->budget, 10);
	mpz_set_str(need, s->developer_fee, 10);
	for (int i = 0; i < 4; i++) {
		mpz_set_str(x, s->node_fees[i], 10);
		mpz_add(need, need, x);
	}
	mpz_set_str(x, s->per_device, 10);
	mpz_addmul_ui(need, x, (unsigned long)s->min_devices);
	if (s->trainer_pool) {
		mpz_set_str(x, s->trainer_pool, 10);
		mpz_add(need, need, x);
	}
	if (mpz_cmp(b, need) < 0) {
		char *n = mpz_get_str(NULL, 10, need);
		rc = dml_error("budget %s does not cover the fees and %lld "
		    "devices (%s needed)", s->budget, s->min_devices, n);
		free(n);
	}
	mpz_clears(b, need, x, NULL);
	return rc;
}

static json_t *
dp_json(const job_dp *d)
{
	return json_pack("{s:s,s:f,s:f,s:f,s:f,s:f}", "mode", d->distributed ?
	    "distributed" : "central", "clip", d->clip, "noise", d->noise,
	    "epsilon", d->epsilon, "delta", d->delta, "sample_rate",
	    d->sample_rate);
}

int
job_spec_check(const job_spec *s)
{
	long long deadline = s->deadline ? s->deadline : s->created;
	fxp_layout l;

	if (s->task != TASK_STATS && !s->model)
		return dml_error("a %s job needs -m MODEL", task_name(s->task));
	if (s->developer && !s->model)
		return dml_error("--developer names the developer of -m MODEL");
	if (s->task == TASK_STATS && (s->features < 1 || s->classes < 1))
		return dml_error("a stats job needs --features and --classes");
	if (s->dp && s->task != TASK_TRAIN)
		return dml_error("--dp-* options apply to train jobs");
	if (s->min_accuracy >= 0 && !s->control_set)
		return dml_error("--min-accuracy needs --control-set");
	if ((s->control_block || s->control_max || s->control_alpha) &&
	    !s->control_set)
		return dml_error("--control-block, --control-max and "
		    "--control-alpha need --control-set");
	if (!amount_ok(s->budget) || !amount_ok(s->per_device) ||
	    !amount_ok(s->developer_fee) ||
	    (s->trainer_pool && !amount_ok(s->trainer_pool)))
		return dml_error("amounts are decimal integers of tokens");
	for (int i = 0; i < 4; i++)
		if (!amount_ok(s->node_fees[i]))
			return dml_error("bad node fee '%s'", s->node_fees[i]);
	if (budget_check(s) < 0)
		return -1;
	if (s->deadline && deadline <= s->created)
		return dml_error("the deadline is not after the creation time");
	if (s->dp) {
		json_t *o = dp_json(s->dp);
		job_dp d;
		int rc = job_dp_parse(NULL, o, &d);
		json_decref(o);
		if (rc < 0)
			return -1;
		if (s->paillier && !d.distributed)
			return dml_error("an encrypted job takes --dp-mode "
			    "distributed: the node cannot noise a sum it cannot "
			    "read");
	}
	if (s->paillier && fxp_layout_init(&l, s->frac_bits, s->int_bits,
	    s->max_summands, s->paillier->bits) < 0)
		return -1;
	return 0;
}

static json_t *
criterion_value(const char *s)
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

json_t *
job_criterion(const char *text)
{
	static const char *sym[] = {"=", "!=", "in", "!in", "<", "<=", ">",
	    ">="};
	char *s = xstrdup(text), *attr, *op, *val, *save;
	json_t *c = NULL, *v;
	int k = -1;

	attr = strtok_r(s, " ", &save);
	op = strtok_r(NULL, " ", &save);
	val = strtok_r(NULL, "", &save);
	if (!attr || !op || !val)
		goto out;
	for (int i = 0; i < 8; i++)
		if (strcmp(op, sym[i]) == 0 || strcmp(op, ops[i]) == 0)
			k = i;
	if (k < 0)
		goto out;
	if (k == 2 || k == 3) {
		char *sv, *item;
		v = json_array();
		for (item = strtok_r(val, ",", &sv); item;
		    item = strtok_r(NULL, ",", &sv))
			json_array_append_new(v, criterion_value(item));
	} else
		v = criterion_value(val);
	c = json_pack("{s:s,s:s,s:o}", "attr", attr, "op", ops[k], "value", v);
out:
	free(s);
	if (!c)
		dml_error("bad criterion '%s' (want 'ATTR OP VALUE')", text);
	return c;
}

/* An encrypted model (dml.paillier.model): its shape, and the key and
 * layout it was made for, which must be the job's. */
static int
encrypted_algorithm(json_t *m, json_t *alg, const json_t *enc, const char *path)
{
	job_enc e;
	json_t *w = json_object_get(m, "weights");
	const char *kid = json_string_value(json_object_get(w, "kid"));
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
	if (strcmp(kid ? kid : "", e.pk.kid) != 0) {
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

/* The parameter count of a model's "layers" (a cnn's layout is fixed, see
 * model.h); -1 with dml_error when they are not positive integers. */
static long long
layer_params(const json_t *layers, const char *arch, const char *path)
{
	long long p = 0, prev = 0;
	size_t i;
	json_t *x;

	json_array_foreach(layers, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 1)
			return dml_error("%s:1: bad \"layers\"", path);
		if (i)
			p += json_integer_value(x) * (prev + 1);
		prev = json_integer_value(x);
	}
	if (strcmp(arch, "cnn") == 0)
		p = (long long)cnn_nparams((int)prev);
	return p;
}

/* The "algorithm" object of a model file: its CID and shape. */
static json_t *
algorithm_of(const char *path, const json_t *enc)
{
	char *buf, c[CID_MAXSTR];
	size_t len;
	json_t *m, *layers, *alg = NULL;
	json_error_t je;
	const char *arch, *type;
	long long p;
	int pm;

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
	pm = type && strcmp(type, "dml.paillier.model") == 0;
	if (rec_check(NULL, m, pm ? "dml.paillier.model" : "dml.model") < 0 ||
	    rec_get_str(NULL, m, "arch", &arch) < 0 ||
	    !(layers = rec_get_arr(NULL, m, "layers"))) {
		dml_error_prefix("%s:1", path);
		goto out;
	}
	if ((p = layer_params(layers, arch, path)) < 0)
		goto out;
	alg = json_pack("{s:s,s:s,s:O,s:I}", "model", c, "arch", arch, "layers",
	    layers, "params", (json_int_t)p);
	if (pm && encrypted_algorithm(m, alg, enc, path) < 0) {
		json_decref(alg);
		alg = NULL;
	}
out:
	json_decref(m);
	return alg;
}

static json_t *
control_of(const job_spec *s)
{
	json_t *ctl = json_pack("{s:s}", "set", s->control_set);

	if (s->min_accuracy >= 0)
		json_object_set_new(ctl, "min_accuracy",
		    json_real(s->min_accuracy));
	if (s->control_block > 0)
		json_object_set_new(ctl, "block",
		    json_integer(s->control_block));
	if (s->control_max > 0)
		json_object_set_new(ctl, "max", json_integer(s->control_max));
	if (s->control_alpha > 0)
		json_object_set_new(ctl, "alpha", json_real(s->control_alpha));
	return ctl;
}

static json_t *
encryption_of(const job_spec *s)
{
	return json_pack("{s:s,s:o,s:i,s:i,s:I}", "scheme", "paillier", "key",
	    paillier_pk_json(s->paillier), "frac_bits", s->frac_bits,
	    "int_bits", s->int_bits, "max_summands",
	    (json_int_t)s->max_summands);
}

static json_t *
reward_of(const job_spec *s)
{
	const char *const *r = job_node_roles;
	json_t *o = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "budget",
	    s->budget, "per_device", s->per_device, "developer_fee",
	    s->developer_fee, "node_fees", r[0], s->node_fees[0], r[1],
	    s->node_fees[1], r[2], s->node_fees[2], r[3], s->node_fees[3]);

	if (s->trainer_pool)
		json_object_set_new(o, "trainer_pool",
		    json_string(s->trainer_pool));
	return o;
}

/* What the devices compute: "stats" shapes or "train" settings. */
static void
task_terms(json_t *r, const job_spec *s)
{
	json_t *t;

	if (s->task == TASK_STATS)
		json_object_set_new(r, "stats", json_pack("{s:I,s:I}",
		    "features", (json_int_t)s->features, "classes",
		    (json_int_t)s->classes));
	if (s->task != TASK_TRAIN)
		return;
	t = json_pack("{s:I,s:I,s:f}", "epochs", (json_int_t)s->epochs,
	    "batch", (json_int_t)s->batch, "lr", s->lr);
	if (s->momentum > 0)
		json_object_set_new(t, "momentum", json_real(s->momentum));
	if (s->weight_decay > 0)
		json_object_set_new(t, "weight_decay",
		    json_real(s->weight_decay));
	json_object_set_new(r, "train", t);
}

static void
set_time(json_t *r, const char *key, long long t)
{
	char buf[32];

	timefmt_format(t, buf);
	json_object_set_new(r, key, json_string(buf));
}

json_t *
job_build(const job_spec *s)
{
	json_t *r = rec_new("dml.job"), *enc = NULL;
	char hex[65];

	set_time(r, "created", s->created);
	set_time(r, "deadline", s->deadline ? s->deadline :
	    s->created + 7 * 86400);
	if (!s->nonce) {
		unsigned char nb[16];
		randombytes_buf(nb, sizeof nb);
		key_hex(nb, 16, hex);
	}
	json_object_set_new(r, "nonce", json_string(s->nonce ? s->nonce : hex));
	json_object_set_new(r, "task", json_string(task_name(s->task)));
	json_object_set_new(r, "data", json_string(s->data));
	json_object_set_new(r, "min_devices", json_integer(s->min_devices));
	json_object_set_new(r, "min_samples", json_integer(s->min_samples));
	json_object_set_new(r, "rounds", json_integer(s->rounds));
	if (s->control_set)
		json_object_set_new(r, "control", control_of(s));
	if (s->criteria && json_array_size(s->criteria))
		json_object_set_new(r, "criteria", json_deep_copy(s->criteria));
	if (s->paillier)
		enc = encryption_of(s);
	if (s->model) {
		json_t *alg = algorithm_of(s->model, enc);
		if (!alg) {
			json_decref(enc);
			json_decref(r);
			return NULL;
		}
		if (s->developer) {
			key_hex(s->developer, 32, hex);
			json_object_set_new(alg, "developer", json_string(hex));
		}
		json_object_set_new(r, "algorithm", alg);
	}
	task_terms(r, s);
	json_object_set_new(r, "limits", json_pack("{s:f}", "max_delta",
	    s->max_delta));
	if (enc)
		json_object_set_new(r, "encryption", enc);
	if (s->dp)
		json_object_set_new(r, "privacy", dp_json(s->dp));
	json_object_set_new(r, "reward", reward_of(s));
	key_hex(s->customer, 32, hex);
	json_object_set_new(r, "customer", json_string(hex));
	return r;
}

int
job_license_set(json_t *r, const char *id, const char *kind,
    const char *developer)
{
	json_t *alg = json_object_get(r, "algorithm");
	const char *dev = json_string_value(json_object_get(alg, "developer"));

	if (!alg)
		return dml_error("a job without an algorithm has no license");
	if (dev && strcmp(dev, developer) != 0)
		return dml_error("--developer is not the listing's developer");
	json_object_set_new(alg, "developer", json_string(developer));
	json_object_set_new(r, "license", json_pack("{s:s,s:s}", "id", id,
	    "kind", kind));
	return 0;
}
