/* devrun: a device runs a job on its own data (see devrun.h). */
#include "devrun.h"
#include "cid.h"
#include "data.h"
#include "envelope.h"
#include "model.h"
#include "record.h"
#include "sign.h"
#include "task.h"
#include "tensor.h"
#include "util.h"
#include "weight.h"

#include <stdlib.h>
#include <string.h>

static json_t *
declined_record(const dml_job *j, const char *reason, const char *detail)
{
	json_t *r = rec_new("dml.declined");
	char *why = xasprintf("%s%s%s", reason, detail ? ": " : "",
	    detail ? detail : "");

	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "reason", json_string(why));
	free(why);
	return r;
}

static int
check_model(const dml_job *j, const dml_model *m, const char *mcid,
    long round)
{
	json_t *layers = json_object_get(json_object_get(j->rec, "algorithm"),
	    "layers");
	size_t i;
	json_t *x;

	if (!j->model)
		return dml_error("a %s job runs no model", task_name(j->task));
	if ((j->task == TASK_PREDICT || round == 0) &&
	    strcmp(mcid, j->model) != 0)
		return dml_error("the model %s is not the job's model %s", mcid,
		    j->model);
	if ((size_t)m->nlayers + 1 != json_array_size(layers))
		return dml_error("the model's layers do not match the job's");
	json_array_foreach(layers, i, x)
		if (json_integer_value(x) != m->sizes[i])
			return dml_error("the model's layers do not match the "
			    "job's");
	return 0;
}

uint64_t
devrun_seed(uint64_t seed, const unsigned char pk[32], long round)
{
	unsigned char in[48], out[8];
	uint64_t s = 0;

	memcpy(in, &seed, 8);
	memcpy(in + 8, pk, 32);
	memcpy(in + 40, &round, 8);
	crypto_generichash(out, sizeof out, in, sizeof in, NULL, 0);
	for (int i = 0; i < 8; i++)
		s = s << 8 | out[i];
	return s;
}

static json_t *
f64(const double *v, size_t n)
{
	int64_t shape[1] = {(int64_t)n};
	return tensor_to_json(DT_F64, 1, shape, v);
}

/* A predict job with an encrypted model: the encrypted score sums. */
static json_t *
run_encrypted(const dml_job *j, const char *modelf, const char *mcid,
    const dml_data *d, long round)
{
	json_t *r, *t;
	pmodel pm;

	if (d->features != (size_t)j->features)
		return dml_error("the data has %zu features, the job %lld",
		    d->features, j->features), NULL;
	if (pmodel_load(&pm, modelf, j) < 0)
		return NULL;
	t = pmodel_scores(&pm, j, d->x, d->n, NULL);
	pmodel_free(&pm);
	if (!t)
		return NULL;
	r = rec_new("dml.result");
	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	json_object_set_new(r, "model", json_string(mcid));
	json_object_set_new(r, "n", json_integer((json_int_t)d->n));
	json_object_set_new(r, "weight", json_integer((json_int_t)d->n));
	json_object_set_new(r, "values", json_pack("{s:o}", "score", t));
	return r;
}

/* What profile.json says this simulated device is. */
struct sim {
	data_labeller lab;
	data_attack atk;
};

static int
sim_read(const json_t *profile, struct sim *s)
{
	if (data_labeller_from_json(json_object_get(profile, "label_profile"),
	    &s->lab) < 0 || data_attack_from_json(json_object_get(profile,
	    "malicious"), &s->atk) < 0)
		return dml_error_prefix("profile.json");
	return 0;
}

/* The job's control test, in simulation: the control set folder (its
 * labels play the asking node's answer key), the order its items are
 * asked in and the adaptive rule (weight.h). */
struct ctl {
	dml_data cd;
	size_t *order;
	weight_rule rule;
};

/*
 * The device's labelling pass over its training sequence: its own items
 * cut into as many segments as the test has looks, block j of control
 * items shuffled among segment j at seeded positions; the labeller labels
 * every item in sequence order from one stream, so it treats control and
 * own items alike. After each segment the node looks at the answers so
 * far and asks the next block only while the test is undecided. Own
 * labels land in d->y (flipped by a labelflip attacker); control labels
 * never train. Returns the answers {"c000123": class, ...}, or NULL
 * without a control test.
 */
static json_t *
sim_sequence(const struct sim *s, dml_data *d, int classes, uint64_t seed,
    const struct ctl *c)
{
	long long looks = c ? (c->rule.cap + c->rule.block - 1) /
	    c->rule.block : 1, asked = 0, right = 0;
	size_t n = d->n, *e;
	json_t *ans = c ? json_object() : NULL;
	int asking = c && c->rule.cap > 0;
	dml_rng lr, pr;
	char id[32];

	if (looks < 1)
		looks = 1;
	e = xmalloc((n + (size_t)(c ? c->rule.block : 0) + 1) * sizeof *e);
	rng_seed(&lr, seed ^ DATA_SALT_LABEL);
	rng_seed(&pr, seed ^ DATA_SALT_ASK);
	for (long long j = 0; j < looks; j++) {
		size_t lo = (size_t)j * n / (size_t)looks,
		       hi = (size_t)(j + 1) * n / (size_t)looks, k = 0;
		long long b0 = asked, b1 = 0;
		for (size_t i = lo; i < hi; i++)
			e[k++] = i;
		if (asking) {
			b1 = b0 + c->rule.block < c->rule.cap ? b0 +
			    c->rule.block : c->rule.cap;
			for (long long p = b0; p < b1; p++)
				e[k++] = n + (size_t)p;
			rng_shuffle(&pr, e, k);
		}
		for (size_t q = 0; q < k; q++) {
			if (e[q] < n) {
				int32_t *y = &d->y[e[q]];
				*y = data_labeller_apply(&s->lab, *y, classes,
				    &lr);
				if (s->atk.kind == ATTACK_LABELFLIP)
					*y = classes - 1 - *y;
				continue;
			}
			size_t item = c->order[e[q] - n];
			int32_t a = data_labeller_apply(&s->lab,
			    c->cd.y[item], classes, &lr);
			snprintf(id, sizeof id, "c%06zu", item);
			json_object_set_new(ans, id, json_integer(a));
			right += a == c->cd.y[item];
			asked++;
		}
		if (asking && (weight_rule_look(&c->rule, asked, right) != 0 ||
		    asked >= c->rule.cap))
			asking = 0;
	}
	free(e);
	return ans;
}

/* Load the control set folder, check it is the job's, order its items. */
static int
ctl_open(struct ctl *c, const char *dir, const dml_job *j, long round,
    const unsigned char pk[32])
{
	char cs[CID_MAXSTR];

	if (!j->control_set)
		return dml_error("%s: the job names no control set "
		    "(dml-job --control-set)", dir);
	if (weight_control_set_cid(dir, cs) < 0)
		return -1;
	if (strcmp(cs, j->control_set) != 0)
		return dml_error("%s: the control set is %s, the job's control "
		    "set is %s", dir, cs, j->control_set);
	if (data_load_dir(&c->cd, dir) < 0)
		return -1;
	if (c->cd.n > 999999) {
		data_free(&c->cd);
		return dml_error("%s: more than 999999 control items", dir);
	}
	c->order = xmalloc((c->cd.n ? c->cd.n : 1) * sizeof *c->order);
	weight_control_order(j->id, round, pk, c->cd.n, c->order);
	weight_rule_init(&c->rule, j, c->cd.n);
	return 0;
}

/* train: the local update in sum form, attacked if the device is a
 * simulated attacker (a label flipper attacks through its labels). */
static int
train_values(json_t *vals, const dml_job *j, const dml_model *m,
    const dml_data *d, uint64_t seed, const data_attack *atk)
{
	json_t *t = json_object_get(j->rec, "train");
	int epochs = (int)json_integer_value(json_object_get(t, "epochs"));
	int batch = (int)json_integer_value(json_object_get(t, "batch"));
	double lr = json_number_value(json_object_get(t, "lr"));
	double *delta = xcalloc(m->nparams, sizeof *delta);
	float *d32;
	int64_t shape[1] = {(int64_t)m->nparams};

	if (task_train_sgd(m, d, epochs, batch, lr, j->momentum,
	    j->weight_decay, seed, delta, NULL) < 0) {
		free(delta);
		return -1;
	}
	if (atk->kind != ATTACK_NONE && atk->kind != ATTACK_LABELFLIP) {
		dml_rng nr;
		rng_seed(&nr, seed ^ DATA_SALT_NOISE);
		data_attack_update(atk, delta, m->nparams, (double)d->n, &nr);
	}
	d32 = xcalloc(m->nparams, sizeof *d32);
	for (size_t i = 0; i < m->nparams; i++)
		d32[i] = (float)delta[i];
	free(delta);
	json_object_set_new(vals, "delta", tensor_to_json(DT_F32, 1, shape,
	    d32));
	free(d32);
	return 0;
}

/* predict: the histogram of predicted classes and the summed
 * probabilities. */
static int
predict_values(json_t *vals, const dml_job *j, const dml_model *m,
    const dml_data *d)
{
	size_t C = (size_t)j->classes;
	double *hist = xcalloc(C, sizeof *hist), *prob = xcalloc(C,
	    sizeof *prob);
	int rc = task_predict(m, d, hist, prob) < 0 ? -1 : 0;

	if (rc == 0) {
		json_object_set_new(vals, "hist", f64(hist, C));
		json_object_set_new(vals, "prob", f64(prob, C));
	}
	free(hist);
	free(prob);
	return rc;
}

/* stats: per-feature sums, sums of squares and histograms, and the label
 * counts. */
static int
stats_values(json_t *vals, const dml_job *j, const dml_data *d, int bins)
{
	size_t F = (size_t)j->features, C = (size_t)j->classes;
	double *sum = xcalloc(F, sizeof *sum), *sq = xcalloc(F, sizeof *sq),
	       *hist = xcalloc(F * (size_t)bins, sizeof *hist),
	       *lab = xcalloc(C, sizeof *lab);
	int rc = -1;

	if (d->features != F)
		dml_error("the data has %zu features, the job %zu",
		    d->features, F);
	else if (d->classes > (int)C)
		dml_error("the data has labels up to %d, the job %zu classes",
		    d->classes - 1, C);
	else
		rc = task_stats(d, bins, sum, sq, hist, lab) < 0 ? -1 : 0;
	if (rc == 0) {
		int64_t hs[2] = {(int64_t)F, bins};
		json_object_set_new(vals, "sum", f64(sum, F));
		json_object_set_new(vals, "sumsq", f64(sq, F));
		json_object_set_new(vals, "hist", tensor_to_json(DT_F64, 2, hs,
		    hist));
		json_object_set_new(vals, "labels", f64(lab, C));
	}
	free(sum);
	free(sq);
	free(hist);
	free(lab);
	return rc;
}

/* The dml.result of a clear model (or none, stats). */
static json_t *
result(const dml_job *j, const dml_model *m, const dml_data *d, long round,
    uint64_t seed, int bins, const char *mcid, const data_attack *atk)
{
	json_t *r = rec_new("dml.result"), *vals = json_object();
	int rc = -1;

	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	switch (j->task) {
	case TASK_TRAIN: rc = train_values(vals, j, m, d, seed, atk); break;
	case TASK_PREDICT: rc = predict_values(vals, j, m, d); break;
	case TASK_STATS: rc = stats_values(vals, j, d, bins); break;
	}
	if (rc < 0) {
		json_decref(vals);
		json_decref(r);
		return NULL;
	}
	if (j->task != TASK_STATS)
		json_object_set_new(r, "model", json_string(mcid));
	json_object_set_new(r, "n", json_integer((json_int_t)d->n));
	json_object_set_new(r, "weight", json_integer((json_int_t)d->n));
	json_object_set_new(r, "values", vals);
	return r;
}

/* A predict job whose model is encrypted: the model must be the job's. */
static json_t *
run_encrypted_model(const dml_job *j, const devrun_opts *o,
    const dml_data *d)
{
	char mcid[CID_MAXSTR];
	json_t *r;

	if (cid_of_file(o->model, mcid) < 0)
		return NULL;
	if (strcmp(mcid, j->model) != 0)
		return dml_error("%s: the model %s is not the job's model %s",
		    o->model, mcid, j->model), NULL;
	if (!(r = run_encrypted(j, o->model, mcid, d, o->round)))
		dml_error_prefix("%s", o->device);
	return r;
}

/* The run on the device's data d (in the simulation, relabelled by its
 * labeller as its training sequence goes). */
static json_t *
run_clear(const dml_job *j, const unsigned char pk[32], const devrun_opts *o,
    const struct sim *sim, dml_data *d)
{
	char mcid[CID_MAXSTR] = "";
	struct ctl ctl;
	json_t *r = NULL, *answers = NULL;
	dml_model m;
	uint64_t seed;

	memset(&m, 0, sizeof m);
	memset(&ctl, 0, sizeof ctl);
	if (o->model) {
		if (cid_of_file(o->model, mcid) < 0 ||
		    model_load(&m, o->model) < 0)
			return NULL;
		if (check_model(j, &m, mcid, o->round) < 0 ||
		    model_check_data(&m, d) < 0) {
			dml_error_prefix("%s", o->model);
			goto out;
		}
	}
	if (o->seeded)
		seed = devrun_seed(o->seed, pk, o->round);
	else
		randombytes_buf(&seed, sizeof seed);
	if (o->control) {
		if (ctl_open(&ctl, o->control, j, o->round, pk) < 0)
			goto out;
		if (ctl.cd.features != d->features) {
			dml_error("%s: %zu features, the device's data %zu",
			    o->control, ctl.cd.features, d->features);
			goto out;
		}
	}
	if (o->model && (o->control || sim->lab.kind != LABEL_CAREFUL ||
	    sim->atk.kind == ATTACK_LABELFLIP))
		answers = sim_sequence(sim, d, m.sizes[m.nlayers], seed,
		    o->control ? &ctl : NULL);
	r = result(j, &m, d, o->round, seed, o->bins, mcid, &sim->atk);
	if (!r)
		dml_error_prefix("%s", o->device);
	else if (o->control) {
		json_object_set_new(r, "control", answers);
		answers = NULL;
	}
out:
	json_decref(answers);
	data_free(&ctl.cd);
	free(ctl.order);
	if (o->model)
		model_free(&m);
	return r;
}

json_t *
devrun(const dml_job *j, const unsigned char pk[32], const devrun_opts *o,
    int *declined)
{
	json_t *profile, *attrs, *r = NULL, *none = json_object();
	const char *why;
	struct sim sim;
	dml_data d;

	*declined = 0;
	if (!(profile = data_profile_read(o->device)))
		return NULL;
	if (sim_read(profile, &sim) < 0)
		goto out;
	attrs = json_object_get(profile, "attrs");
	*declined = 1;
	if (!data_profile_consents(profile, j->data)) {
		r = declined_record(j, "no consent for data type", j->data);
		goto out;
	}
	if (job_criteria_match(j, attrs ? attrs : none, &why) != 1) {
		r = declined_record(j, "criterion not met", why);
		goto out;
	}
	*declined = 0;
	if (data_load_dir(&d, o->device) < 0)
		goto out;
	if (d.n < (size_t)j->min_samples)
		dml_error("%s: %zu samples, the job needs at least %lld",
		    o->device, d.n, j->min_samples);
	else if (j->enc.model)	/* weights we may not see */
		r = run_encrypted_model(j, o, &d);
	else
		r = run_clear(j, pk, o, &sim, &d);
	data_free(&d);
out:
	json_decref(none);
	json_decref(profile);
	return r;
}
