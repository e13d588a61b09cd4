/* job: validation, identity and criteria of the customer's dml.job. */
#include "job.h"
#include "cnn.h"
#include "sign.h"
#include "util.h"

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

static int
job_parse(const rec_in *in, json_t *r, dml_job *j, int verify)
{
	const char *s;
	json_t *o, *rw, *nf;
	cid c;

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
	} else {
		if (!(o = rec_get_obj(in, r, "algorithm")) ||
		    rec_get_str(in, o, "model", &j->model) < 0)
			goto fail;
		if (cid_parse(&c, j->model) < 0) {
			rec_err(in, "\"algorithm.model\": %s", dml_errmsg());
			goto fail;
		}
		if (check_layers(in, o, j) < 0)
			goto fail;
		s = NULL;
		if (rec_opt_str(in, o, "developer", &s) < 0)
			goto fail;
		if (s) {
			if (key_parse_hex(s, j->developer) < 0) {
				rec_err(in, "\"algorithm.developer\": %s",
				    dml_errmsg());
				goto fail;
			}
			j->has_developer = 1;
		}
	}
	if (j->task == TASK_TRAIN) {
		long long e, b;
		double lr;
		if (!(o = rec_get_obj(in, r, "train")) ||
		    rec_get_int(in, o, "epochs", 1, 1000, &e) < 0 ||
		    rec_get_int(in, o, "batch", 1, 1 << 20, &b) < 0 ||
		    rec_get_num(in, o, "lr", &lr) < 0 ||
		    rec_opt_num(in, o, "momentum", &j->momentum) < 0 ||
		    rec_opt_num(in, o, "weight_decay", &j->weight_decay) < 0)
			goto fail;
		if (!(j->momentum >= 0 && j->momentum < 1) ||
		    !(j->weight_decay >= 0)) {
			rec_err(in, "field \"train\": momentum must be in [0, 1) "
			    "and weight_decay >= 0");
			goto fail;
		}
	}
	if ((o = json_object_get(r, "encryption")) &&
	    job_enc_parse(in, o, &j->enc) < 0)
		goto fail;
	if (job_license_check(in, r) < 0)
		goto fail;
	if (j->task == TASK_PREDICT &&
	    enc_model(in, json_object_get(r, "algorithm"), j) < 0)
		goto fail;
	if ((o = json_object_get(r, "privacy"))) {
		if (job_dp_parse(in, o, &j->dp) < 0)
			goto fail;
		if (j->task != TASK_TRAIN ||
		    (j->enc.on && !j->dp.distributed)) {
			rec_err(in, "field \"privacy\" applies to train jobs, "
			    "and to encrypted ones in distributed mode only");
			goto fail;
		}
	}
	if ((o = json_object_get(r, "limits")) &&
	    rec_opt_num(in, o, "max_delta", &j->max_delta) < 0)
		goto fail;
	if ((o = json_object_get(r, "criteria")) && job_criteria_check(o) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto fail;
	}
	if (!(rw = rec_get_obj(in, r, "reward")) ||
	    rec_get_amount(in, rw, "budget", &s) < 0 ||
	    rec_get_amount(in, rw, "per_device", &s) < 0 ||
	    rec_get_amount(in, rw, "developer_fee", &s) < 0 ||
	    !(nf = rec_get_obj(in, rw, "node_fees")))
		goto fail;
	if (json_object_get(rw, "trainer_pool") &&
	    rec_get_amount(in, rw, "trainer_pool", &s) < 0)
		goto fail;
	{
		const char *roles[] = {"distributing", "federated", "report",
		    "refining"};
		for (int i = 0; i < 4; i++)
			if (rec_get_amount(in, nf, roles[i], &s) < 0)
				goto fail;
	}
	if (rec_get_str(in, r, "customer", &s) < 0)
		goto fail;
	if (key_parse_hex(s, j->customer) < 0) {
		rec_err(in, "\"customer\": %s", dml_errmsg());
		goto fail;
	}
	if (verify && rec_verify(r, in, NULL) < 0)
		goto fail;
	if (!json_is_string(json_object_get(r, "from")) ||
	    strcmp(json_string_value(json_object_get(r, "from")), s) != 0) {
		rec_err(in, "the job is not signed by its customer");
		goto fail;
	}
	if (job_id(r, j->id) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto fail;
	}
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
