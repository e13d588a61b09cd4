/* dml-run: one device runs a job on its own data and returns a signed
 * dml.result holding sums, counts and deltas only, never a row of data. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cid.h"
#include "data.h"
#include "distribute.h"
#include "envelope.h"
#include "job.h"
#include "model.h"
#include "record.h"
#include "sign.h"
#include "task.h"
#include "tensor.h"
#include "util.h"
#include "weight.h"

static const char usage[] =
"usage: dml-run -j JOB -k KEY -D DEVICE [-m MODEL] [--round R] [--seed S]\n"
"               [--bins B] [-o FILE]\n"
"Run a job on this device's local data. The job's signature is checked; the\n"
"device must have consented to the job's data type and meet its criteria,\n"
"else a signed dml.declined is written and the exit status is 1. The\n"
"result holds only sums, counts and model deltas, signed with KEY.\n"
"For a predict job whose model is a dml.paillier.model (encrypted to the\n"
"customer), the result holds the encrypted class-score sums of the local\n"
"data, computed without seeing the weights. To encrypt a clear result to\n"
"a job's Paillier key, pipe it through dml-encrypt --scheme paillier.\n"
"  -j, --job FILE      the job\n"
"  -k, --key FILE      the device's secret key\n"
"  -D, --device DIR    the device folder (profile.json and its data)\n"
"  -m, --model FILE    the model to run: the job's own model, or for\n"
"                      training rounds after the first the refined model\n"
"  -a, --assignment FILE  the distributing node's dml.assignment: it must\n"
"                      be for this job and this device; -m then names the\n"
"                      sealed algorithm dml-distribute wrote (opened with\n"
"                      KEY) or, in later training rounds, a plain model\n"
"      --round R       training round (default 0)\n"
"      --seed S        seed of the local shuffling (default random)\n"
"      --bins B        histogram bins per feature for stats (default 10)\n"
"      --control DIR   crowd fine-tuning (a train job naming a control\n"
"                      set): the job's control set folder (dml-split\n"
"                      --control); its items are asked adaptively, in\n"
"                      blocks shuffled among the device's own items, and\n"
"                      the answers ride in the result (see dml-run(1))\n"
"Simulation: a device folder's profile.json may name a \"label_profile\"\n"
"(careful, noisy, adversarial: applied to its labels and its control\n"
"answers) and a \"malicious\" attack (labelflip, signflip, scale, noise:\n"
"applied to its update); see dml-split(1).\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

static int
consented(const json_t *profile, const char *type)
{
	json_t *c = json_object_get(profile, "consent"), *x;
	size_t i;

	json_array_foreach(c, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), type) == 0)
			return 1;
	return 0;
}

static json_t *
declined(const dml_job *j, const char *reason, const char *detail)
{
	json_t *r = rec_new("dml.declined");
	char *why = xasprintf("%s%s%s", reason, detail ? ": " : "",
	    detail ? detail : "");

	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "reason", json_string(why));
	free(why);
	return r;
}

/* A model file: its CID and contents. */
static int
load_model(const char *path, dml_model *m, char cidbuf[CID_MAXSTR])
{
	if (cid_of_file(path, cidbuf) < 0)
		return -1;
	return model_load(m, path);
}

static int
check_model(const dml_job *j, const dml_model *m, const char *mcid,
    long round)
{
	json_t *layers = json_object_get(json_object_get(j->rec, "algorithm"),
	    "layers");
	size_t i;
	json_t *x;

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

static uint64_t
derive_seed(uint64_t seed, const unsigned char pk[32], long round)
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

/* Seeds of the simulated labeller and attacker, apart from training's. */
#define LABEL_SALT 0x6c6162656c6c6572ULL	/* "labeller" */
#define NOISE_SALT 0x61747461636b6e7aULL	/* "attackn" */
#define CONTROL_SALT 0x636f6e74726f6c73ULL	/* "controls" */

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
	rng_seed(&lr, seed ^ LABEL_SALT);
	rng_seed(&pr, seed ^ CONTROL_SALT);
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

/* The opened algorithm of an assignment, in a private temporary file for
 * the rest of the run (removed at exit). */
static char *assigned_tmp;

static void
assigned_cleanup(void)
{
	if (assigned_tmp)
		unlink(assigned_tmp);
}

/* -a: check the assignment; a sealed algorithm becomes the model file. */
static const char *
assigned_model(const char *assignf, const dml_job *j, const dml_key *k,
    const char *modelf)
{
	const char *tmp = getenv("TMPDIR");
	unsigned char *m;
	size_t n;
	int fd;

	if (assign_open(assignf, j, k, modelf, &m, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!m)
		return modelf;
	assigned_tmp = xasprintf("%s/dml-run.XXXXXX", tmp && *tmp ? tmp :
	    "/tmp");
	if ((fd = mkstemp(assigned_tmp)) < 0)
		dml_die(DML_EXIT_USAGE, "%s: %s", assigned_tmp, strerror(errno));
	atexit(assigned_cleanup);
	if (dml_write_all(fd, m, n) < 0 || close(fd) < 0)
		dml_die(DML_EXIT_USAGE, "%s: %s", assigned_tmp, strerror(errno));
	sodium_free(m);
	return assigned_tmp;
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

static json_t *
run(const dml_job *j, const dml_model *m, const dml_data *d, long round,
    uint64_t seed, int bins, const char *mcid, const data_attack *atk)
{
	json_t *r = rec_new("dml.result"), *vals = json_object();
	long long n = (long long)d->n;

	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	switch (j->task) {
	case TASK_TRAIN: {
		json_t *t = json_object_get(j->rec, "train");
		int epochs = (int)json_integer_value(json_object_get(t, "epochs"));
		int batch = (int)json_integer_value(json_object_get(t, "batch"));
		double lr = json_number_value(json_object_get(t, "lr"));
		double *delta = xcalloc(m->nparams, sizeof *delta);
		float *d32 = xcalloc(m->nparams, sizeof *d32);
		int64_t shape[1] = {(int64_t)m->nparams};
		if (task_train_sgd(m, d, epochs, batch, lr, j->momentum,
		    j->weight_decay, seed, delta, NULL) < 0) {
			free(delta);
			free(d32);
			goto fail;
		}
		if (atk->kind != ATTACK_NONE && atk->kind != ATTACK_LABELFLIP) {
			dml_rng nr;
			rng_seed(&nr, seed ^ NOISE_SALT);
			data_attack_update(atk, delta, m->nparams, (double)d->n,
			    &nr);
		}
		for (size_t i = 0; i < m->nparams; i++)
			d32[i] = (float)delta[i];
		free(delta);
		delta = NULL;
		json_object_set_new(vals, "delta", tensor_to_json(DT_F32, 1,
		    shape, d32));
		free(d32);
		json_object_set_new(r, "model", json_string(mcid));
		break;
	}
	case TASK_PREDICT: {
		size_t C = (size_t)j->classes;
		double *hist = xcalloc(C, sizeof *hist),
		       *prob = xcalloc(C, sizeof *prob);
		int rc = task_predict(m, d, hist, prob) < 0 ? -1 : 0;
		if (rc == 0) {
			json_object_set_new(vals, "hist", f64(hist, C));
			json_object_set_new(vals, "prob", f64(prob, C));
		}
		free(hist);
		free(prob);
		if (rc < 0)
			goto fail;
		json_object_set_new(r, "model", json_string(mcid));
		break;
	}
	case TASK_STATS: {
		size_t F = (size_t)j->features, C = (size_t)j->classes;
		double *sum = xcalloc(F, sizeof *sum),
		       *sq = xcalloc(F, sizeof *sq),
		       *hist = xcalloc(F * (size_t)bins, sizeof *hist),
		       *lab = xcalloc(C, sizeof *lab);
		int rc = -1;
		if (d->features != F)
			dml_error("the data has %zu features, the job %zu",
			    d->features, F);
		else if (d->classes > (int)C)
			dml_error("the data has labels up to %d, the job %zu "
			    "classes", d->classes - 1, C);
		else
			rc = task_stats(d, bins, sum, sq, hist, lab) < 0 ? -1 : 0;
		if (rc == 0) {
			int64_t hs[2] = {(int64_t)F, bins};
			json_object_set_new(vals, "sum", f64(sum, F));
			json_object_set_new(vals, "sumsq", f64(sq, F));
			json_object_set_new(vals, "hist", tensor_to_json(DT_F64,
			    2, hs, hist));
			json_object_set_new(vals, "labels", f64(lab, C));
		}
		free(sum);
		free(sq);
		free(hist);
		free(lab);
		if (rc < 0)
			goto fail;
		break;
	}
	}
	json_object_set_new(r, "n", json_integer(n));
	json_object_set_new(r, "weight", json_integer(n));
	json_object_set_new(r, "values", vals);
	return r;
fail:
	json_decref(vals);
	json_decref(r);
	return NULL;
}

int
main(int argc, char **argv)
{
	enum { O_ROUND = 256, O_SEED, O_BINS, O_VERSION, O_CONTROL };
	static const struct option opts[] = {
		{"job", required_argument, 0, 'j'},
		{"key", required_argument, 0, 'k'},
		{"device", required_argument, 0, 'D'},
		{"model", required_argument, 0, 'm'},
		{"assignment", required_argument, 0, 'a'},
		{"round", required_argument, 0, O_ROUND},
		{"seed", required_argument, 0, O_SEED},
		{"bins", required_argument, 0, O_BINS},
		{"control", required_argument, 0, O_CONTROL},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *jobf = NULL, *keyf = getenv("DML_KEY"), *dev = NULL,
		   *modelf = NULL, *out = NULL, *why, *ctlf = NULL,
		   *assignf = NULL;
	long round = 0, bins = 10, seedv = -1;
	struct sim sim;
	struct ctl ctl;
	json_t *answers = NULL;
	char mcid[CID_MAXSTR] = "";
	dml_job job;
	dml_key k;
	dml_model m;
	dml_data d;
	json_t *profile, *r, *attrs;
	rec_out *o;
	uint64_t seed;
	int c, status = 0;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "j:k:D:m:a:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': jobf = optarg; break;
		case 'k': keyf = optarg; break;
		case 'D': dev = optarg; break;
		case 'm': modelf = optarg; break;
		case 'a': assignf = optarg; break;
		case O_ROUND:
			if (dml_parse_long(optarg, 0, 1000000, &round) < 0)
				dml_usage_error("--round: %s", dml_errmsg());
			break;
		case O_SEED:
			if (dml_parse_long(optarg, 0, 0x7fffffffffffffffL, &seedv) < 0)
				dml_usage_error("--seed: %s", dml_errmsg());
			break;
		case O_BINS:
			if (dml_parse_long(optarg, 1, 1024, &bins) < 0)
				dml_usage_error("--bins: %s", dml_errmsg());
			break;
		case O_CONTROL: ctlf = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!jobf || !keyf || !dev)
		dml_usage_error("-j JOB, -k KEY and -D DEVICE are required");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_STATS && !modelf)
		dml_usage_error("a %s job needs -m MODEL", task_name(job.task));
	if (round >= job.rounds)
		dml_die(DML_EXIT_REJECT, "round %ld: the job has %lld rounds",
		    round, job.rounds);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (assignf)
		modelf = assigned_model(assignf, &job, &k, modelf);
	if (ctlf && job.task != TASK_TRAIN)
		dml_usage_error("--control applies to train jobs");
	if (!(profile = data_profile_read(dev)))
		dml_fail(DML_EXIT_REJECT);
	if (sim_read(profile, &sim) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!(o = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	attrs = json_object_get(profile, "attrs");
	if (!consented(profile, job.data)) {
		r = declined(&job, "no consent for data type", job.data);
		status = DML_EXIT_REJECT;
	} else if (job_criteria_match(&job, attrs ? attrs : json_object(),
	    &why) != 1) {
		r = declined(&job, "criterion not met", why);
		status = DML_EXIT_REJECT;
	} else {
		if (data_load_dir(&d, dev) < 0)
			dml_fail(DML_EXIT_REJECT);
		if (d.n < (size_t)job.min_samples)
			dml_die(DML_EXIT_REJECT, "%s: %zu samples, the job needs "
			    "at least %lld", dev, d.n, job.min_samples);
		memset(&m, 0, sizeof m);
		if (job.enc.model) {	/* weights we may not see */
			if (cid_of_file(modelf, mcid) < 0)
				dml_fail(DML_EXIT_REJECT);
			if (strcmp(mcid, job.model) != 0)
				dml_die(DML_EXIT_REJECT, "%s: the model %s is not "
				    "the job's model %s", modelf, mcid, job.model);
			r = run_encrypted(&job, modelf, mcid, &d, round);
			if (!r)
				dml_die(DML_EXIT_REJECT, "%s: %s", dev,
				    dml_errmsg());
			data_free(&d);
			goto sign;
		}
		if (modelf) {
			if (load_model(modelf, &m, mcid) < 0)
				dml_fail(DML_EXIT_REJECT);
			if (check_model(&job, &m, mcid, round) < 0 ||
			    model_check_data(&m, &d) < 0)
				dml_die(DML_EXIT_REJECT, "%s: %s", modelf,
				    dml_errmsg());
		}
		if (seedv < 0)
			randombytes_buf(&seed, sizeof seed);
		else
			seed = derive_seed((uint64_t)seedv, k.pk, round);
		if (ctlf) {
			if (ctl_open(&ctl, ctlf, &job, round, k.pk) < 0)
				dml_fail(DML_EXIT_REJECT);
			if (ctl.cd.features != d.features)
				dml_die(DML_EXIT_REJECT, "%s: %zu features, the "
				    "device's data %zu", ctlf, ctl.cd.features,
				    d.features);
		}
		if (modelf && (ctlf || sim.lab.kind != LABEL_CAREFUL ||
		    sim.atk.kind == ATTACK_LABELFLIP))
			answers = sim_sequence(&sim, &d, m.sizes[m.nlayers],
			    seed, ctlf ? &ctl : NULL);
		r = run(&job, &m, &d, round, seed, (int)bins, mcid, &sim.atk);
		if (!r)
			dml_die(DML_EXIT_REJECT, "%s: %s", dev, dml_errmsg());
		if (ctlf) {
			json_object_set_new(r, "control", answers);
			data_free(&ctl.cd);
			free(ctl.order);
		}
		if (modelf)
			model_free(&m);
		data_free(&d);
	}
sign:
	if (status)
		dml_warn("declined: %s",
		    json_string_value(json_object_get(r, "reason")));
	if (rec_sign(r, &k) < 0 || rec_out_write(o, r, NULL) < 0 ||
	    rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	json_decref(r);
	json_decref(profile);
	job_free(&job);
	dml_close_stdout();
	return status;
}
