/* weight: control-set and FLTrust scoring and exclusion of crowd trainers
 * (see weight.h for the tests). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aggregate.h"
#include "cid.h"
#include "data.h"
#include "record.h"
#include "robust.h"
#include "tensor.h"
#include "sign.h"
#include "util.h"
#include "weight.h"

struct item {
	char *id;
	long label;
};

struct weight_key {
	struct item *v;
	size_t n;
};

static int
item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->id,
	    ((const struct item *)b)->id);
}

/* The key of a data folder: item "c%06zu" (its index) has its label. */
static weight_key *
key_of_dir(const char *dir)
{
	weight_key *k;
	dml_data d;
	char id[32];

	if (data_load_dir(&d, dir) < 0)
		return NULL;
	k = xcalloc(1, sizeof *k);
	k->v = xmalloc((d.n ? d.n : 1) * sizeof *k->v);
	for (size_t i = 0; i < d.n; i++) {
		snprintf(id, sizeof id, "c%06zu", i);
		k->v[i].id = xstrdup(id);
		k->v[i].label = d.y[i];
	}
	k->n = d.n;	/* ids in index order are sorted */
	data_free(&d);
	if (!k->n) {
		weight_key_free(k);
		dml_error("%s: the control set is empty", dir);
		return NULL;
	}
	return k;
}

int
weight_control_set_cid(const char *dir, char out[CID_MAXSTR])
{
	json_t *p = data_profile_read(dir), *f;
	char *path;
	int rc;

	if (!p)
		return -1;
	f = json_array_get(json_object_get(json_object_get(p, "data"),
	    "files"), 0);
	if (!json_is_string(f)) {
		json_decref(p);
		return dml_error("%s/profile.json: no data files", dir);
	}
	path = xasprintf("%s/%s", dir, json_string_value(f));
	json_decref(p);
	rc = cid_of_file(path, out);
	free(path);
	return rc;
}

weight_key *
weight_key_load(const char *path, const char *job)
{
	return weight_key_load_set(path, job, NULL);
}

weight_key *
weight_key_load_set(const char *path, const char *job, const char *set)
{
	weight_key *k;
	rec_in *in;
	size_t cap = 0;
	json_t *r;
	int rc;
	struct stat st;

	if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		char c[CID_MAXSTR];
		if (set && weight_control_set_cid(path, c) < 0)
			return NULL;
		if (set && strcmp(c, set) != 0) {
			dml_error("%s: the control set is %s, the job's control "
			    "set is %s", path, c, set);
			return NULL;
		}
		return key_of_dir(path);
	}
	k = xcalloc(1, sizeof *k);
	if (!(in = rec_open(path))) {
		free(k);
		return NULL;
	}
	while ((rc = rec_next(in, &r)) > 0) {
		const char *id, *j = NULL, *ks = NULL;
		json_t *ans, *v;
		if (rec_check(in, r, "dml.control") < 0 ||
		    rec_opt_str(in, r, "job", &j) < 0 ||
		    rec_opt_str(in, r, "set", &ks) < 0 ||
		    !(ans = rec_get_obj(in, r, "answers")))
			goto fail;
		if (job && j && strcmp(j, job) != 0) {
			rec_err(in, "dml.control for another job");
			goto fail;
		}
		if (set && (!ks || strcmp(ks, set) != 0)) {
			rec_err(in, "the answer key is for control set %s, the "
			    "job's control set is %s", ks ? ks : "(none named)",
			    set);
			goto fail;
		}
		json_object_foreach(ans, id, v) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1 << 20) {
				rec_err(in, "control item \"%.40s\": the class "
				    "must be an integer >= 0", id);
				goto fail;
			}
			if (k->n == cap) {
				cap = cap ? 2 * cap : 64;
				k->v = xrealloc(k->v, cap * sizeof *k->v);
			}
			k->v[k->n].id = xstrdup(id);
			k->v[k->n++].label = (long)json_integer_value(v);
		}
		json_decref(r);
	}
	if (rc < 0)
		goto fail_nor;
	rec_close(in);
	qsort(k->v, k->n, sizeof *k->v, item_cmp);
	for (size_t i = 1; i < k->n; i++)
		if (strcmp(k->v[i - 1].id, k->v[i].id) == 0) {
			dml_error("%s: control item \"%.40s\" is listed twice",
			    path ? path : "<stdin>", k->v[i].id);
			weight_key_free(k);
			return NULL;
		}
	if (!k->n) {
		dml_error("%s: the control key holds no items",
		    path ? path : "<stdin>");
		weight_key_free(k);
		return NULL;
	}
	return k;
fail:
	json_decref(r);
fail_nor:
	rec_close(in);
	weight_key_free(k);
	return NULL;
}

void
weight_key_free(weight_key *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].id);
	free(k->v);
	free(k);
}

size_t
weight_key_count(const weight_key *k)
{
	return k->n;
}

long
weight_key_label(const weight_key *k, const char *id)
{
	struct item q = {(char *)id, 0}, *p;

	p = bsearch(&q, k->v, k->n, sizeof *k->v, item_cmp);
	return p ? p->label : -1;
}

void
weight_score(const weight_key *k, const json_t *control, weight_trainer *t)
{
	const char *id;
	json_t *v;

	t->answered = t->correct = 0;
	t->reason[0] = 0;
	t->adaptive = t->outcome = 0;
	if (!json_is_object(control) || json_object_size(control) == 0) {
		snprintf(t->reason, sizeof t->reason, "no control answers");
		return;
	}
	json_object_foreach((json_t *)control, id, v) {
		long want = weight_key_label(k, id);
		if (want < 0) {
			snprintf(t->reason, sizeof t->reason, "answered unknown "
			    "control item \"%.40s\"", id);
			t->answered = t->correct = 0;
			return;
		}
		if (!json_is_integer(v)) {
			snprintf(t->reason, sizeof t->reason, "control item "
			    "\"%.40s\": the answer is not an integer", id);
			t->answered = t->correct = 0;
			return;
		}
		t->answered++;
		t->correct += json_integer_value(v) == want;
	}
	t->score = (double)t->correct / (double)t->answered;
}

/* log of the binomial coefficient, by lgamma. */
static double
lchoose(long long m, long long k)
{
	return lgamma((double)m + 1) - lgamma((double)k + 1) -
	    lgamma((double)(m - k) + 1);
}

double
weight_binom_sf(long long k, long long m, double p)
{
	double s = 0;

	if (k <= 0)
		return 1;
	if (k > m)
		return 0;
	if (p <= 0 || p >= 1)
		return p >= 1;
	for (long long i = k; i <= m; i++)
		s += exp(lchoose(m, i) + (double)i * log(p) +
		    (double)(m - i) * log1p(-p));
	return s > 1 ? 1 : s;
}

static int
dcmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
weight_decide(weight_trainer *t, size_t n, const weight_opts *o)
{
	double p0 = 1.0 / (double)(o->classes > 1 ? o->classes : 2);
	double *acc = xmalloc((n ? n : 1) * sizeof *acc), med = 0, mad = 0;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (!t[i].reason[0])
			acc[m++] = t[i].score;
	if (m) {
		med = median(acc, m);
		for (size_t i = 0; i < m; i++)
			acc[i] = fabs(acc[i] - med);
		mad = 1.4826 * median(acc, m);
	}
	free(acc);
	for (size_t i = 0; i < n; i++) {
		weight_trainer *x = &t[i];
		double alpha;
		x->kept = 0;
		x->weight = 0;
		x->factor = 0;
		x->pvalue = 1;
		x->zscore = 0;
		if (x->reason[0]) {
			x->score = 0;
			continue;
		}
		x->pvalue = weight_binom_sf(x->correct, x->answered, p0);
		alpha = x->adaptive ? x->level : o->alpha;
		if (mad > 0) {	/* the spread, and this trainer's own noise */
			double na = (double)x->answered,
			       q = (med * na + 1) / (na + 2);
			x->zscore = (x->score - med) / sqrt(mad * mad +
			    q * (1 - q) / na);
		}
		if (x->adaptive && x->outcome < 0)
			snprintf(x->reason, sizeof x->reason, "the adaptive "
			    "control test excluded it: %lld of %lld right",
			    x->correct, x->answered);
		else if (x->score < o->min_accuracy)
			snprintf(x->reason, sizeof x->reason, "control accuracy "
			    "%.4f below the job's minimum %.4f", x->score,
			    o->min_accuracy);
		else if (x->pvalue > alpha)
			snprintf(x->reason, sizeof x->reason, "not better than "
			    "chance: binomial p-value %.3g > %g", x->pvalue,
			    alpha);
		else if (mad > 0 && x->zscore < -o->z)
			snprintf(x->reason, sizeof x->reason, "outlier: robust "
			    "z-score %.2f < -%g", x->zscore, o->z);
		else if (!(x->score > p0))
			snprintf(x->reason, sizeof x->reason, "control accuracy "
			    "%.4f not above chance %.4f", x->score, p0);
		if (x->reason[0])
			continue;
		x->kept = 1;
		x->weight = (x->score - p0) / (1 - p0);
		x->factor = lround(1000 * x->weight);
		if (x->factor < 1)
			x->factor = 1;
	}
}

json_t *
weight_record(const weight_trainer *t, const char *job, long long round,
    const char *mode)
{
	json_t *r = rec_new("dml.weight");
	char hex[65];

	key_hex(t->key, 32, hex);
	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "device", json_string(hex));
	json_object_set_new(r, "mode", json_string(mode));
	json_object_set_new(r, "n", json_integer(t->n));
	json_object_set_new(r, "kept", json_boolean(t->kept));
	json_object_set_new(r, "score", json_real(t->score));
	json_object_set_new(r, "weight", json_real(t->weight));
	json_object_set_new(r, "factor", json_integer(t->factor));
	if (!strcmp(mode, "control")) {
		json_object_set_new(r, "answered", json_integer(t->answered));
		json_object_set_new(r, "correct", json_integer(t->correct));
		json_object_set_new(r, "pvalue", json_real(t->pvalue));
		if (t->adaptive)
			json_object_set_new(r, "test", json_string(t->outcome >
			    0 ? "keep" : t->outcome < 0 ? "exclude" :
			    "undecided"));
	}
	if (t->reason[0])
		json_object_set_new(r, "reason", json_string(t->reason));
	return r;
}

/* The mean update (delta / weight) of a result or aggregate, as f64. */
double *
weight_mean_update(const rec_in *in, const json_t *r, size_t *len)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *vals = json_object_get(r, type && !strcmp(type,
	    "dml.aggregate") ? "sum" : "values");
	dml_tensor t;
	double w, *out;

	if (rec_get_num(in, r, "weight", &w) < 0)
		return NULL;
	if (!(w > 0))
		return rec_err(in, "weight %g is not positive", w), NULL;
	if (!json_is_object(vals))
		return rec_err(in, "no \"delta\" update"), NULL;
	if (tensor_from_json(in, json_object_get(vals, "delta"), "delta",
	    &t) < 0)
		return NULL;
	out = xmalloc((t.n ? t.n : 1) * sizeof *out);
	for (size_t i = 0; i < t.n; i++)
		out[i] = tensor_get(&t, i) / w;
	*len = t.n;
	tensor_free(&t);
	return out;
}

double *
weight_update_load(const char *path, size_t *len)
{
	rec_in *in = rec_open(path);
	json_t *r = NULL;
	double *u = NULL;
	int rc;

	if (!in)
		return NULL;
	rec_set_copy(in, 1);
	if ((rc = rec_next(in, &r)) == 0)
		dml_error("%s: no reference update", path ? path : "<stdin>");
	if (rc > 0)
		u = weight_mean_update(in, r, len);
	json_decref(r);
	rec_close(in);
	return u;
}

double
weight_binom_cdf(long long k, long long m, double p)
{
	double s = 0;

	if (k < 0)
		return 0;
	if (k >= m)
		return 1;
	if (p <= 0 || p >= 1)
		return p <= 0;
	for (long long i = 0; i <= k; i++)
		s += exp(lchoose(m, i) + (double)i * log(p) +
		    (double)(m - i) * log1p(-p));
	return s > 1 ? 1 : s;
}

void
weight_rule_init(weight_rule *r, const dml_job *j, size_t K)
{
	long long looks;
	double chance = 1.0 / (double)(j->classes > 1 ? j->classes : 2);

	r->block = j->control_block > 0 ? j->control_block : 10;
	r->cap = j->control_max > 0 ? j->control_max : 50;
	if ((size_t)r->cap > K)
		r->cap = (long long)K;
	looks = r->cap ? (r->cap + r->block - 1) / r->block : 1;
	r->level = (j->control_alpha > 0 ? j->control_alpha : 0.05) /
	    (double)looks;
	r->standard = j->min_accuracy > chance ? j->min_accuracy : chance;
}

int
weight_rule_look(const weight_rule *r, long long m, long long k)
{
	double acc;

	if (m <= 0)
		return 0;
	acc = (double)k / (double)m;
	if (acc > r->standard &&
	    weight_binom_sf(k, m, r->standard) <= r->level)
		return 1;
	if (acc < r->standard &&
	    weight_binom_cdf(k, m, r->standard) <= r->level)
		return -1;
	return 0;
}

void
weight_control_order(const char *job, long long round,
    const unsigned char pk[32], size_t K, size_t *perm)
{
	crypto_generichash_state st;
	unsigned char out[8], rb[8];
	uint64_t seed = 0;
	dml_rng r;

	for (int i = 0; i < 8; i++)
		rb[i] = (unsigned char)((unsigned long long)round >> (8 * i));
	crypto_generichash_init(&st, NULL, 0, sizeof out);
	crypto_generichash_update(&st, (const unsigned char *)job,
	    strlen(job) + 1);
	crypto_generichash_update(&st, rb, sizeof rb);
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, out, sizeof out);
	for (int i = 0; i < 8; i++)
		seed |= (uint64_t)out[i] << (8 * i);
	rng_seed(&r, seed);
	for (size_t i = 0; i < K; i++)
		perm[i] = i;
	rng_shuffle(&r, perm, K);
}

void
weight_score_adaptive(const weight_key *k, const weight_rule *r,
    const char *job, long long round, const json_t *control,
    weight_trainer *t)
{
	size_t *perm, *pos;
	long long m, right = 0, stop = -1;
	const char *id;
	json_t *v;

	weight_score(k, control, t);
	if (!r || t->reason[0])
		return;
	m = t->answered;
	perm = xmalloc(k->n * sizeof *perm);
	pos = xmalloc(k->n * sizeof *pos);
	weight_control_order(job, round, t->key, k->n, perm);
	for (size_t p = 0; p < k->n; p++)
		pos[perm[p]] = p;
	json_object_foreach((json_t *)control, id, v) {
		struct item q = {(char *)id, 0}, *it;
		it = bsearch(&q, k->v, k->n, sizeof *k->v, item_cmp);
		if ((long long)pos[it - k->v] >= m) {
			snprintf(t->reason, sizeof t->reason, "answered control "
			    "item \"%.40s\", not among the %lld of its sequence",
			    id, m);
			goto out;
		}
	}
	for (long long p = 0; p < m; p++) {
		const struct item *it = &k->v[perm[p]];
		right += json_integer_value(json_object_get(control, it->id)) ==
		    it->label;
		if ((p + 1) % r->block == 0 || p + 1 >= r->cap) {
			if (weight_rule_look(r, p + 1, right) != 0 ||
			    p + 1 >= r->cap) {
				stop = p + 1;
				break;
			}
		}
	}
	if (stop == m) {
		t->adaptive = 1;
		t->outcome = weight_rule_look(r, m, right);
		t->level = r->level;
	} else
		snprintf(t->reason, sizeof t->reason, stop < 0 ? "answered "
		    "%lld control items; the adaptive test asks more" :
		    "answered %lld control items; the adaptive test stops at "
		    "%lld", m, stop);
out:
	if (t->reason[0])
		t->answered = t->correct = 0;
	free(perm);
	free(pos);
}

/* ---- FLTrust mode --------------------------------------------------------- */

void
weight_score_fltrust(weight_trainer *t, const double *g, size_t dg,
    const double *ref, size_t d)
{
	double c, trust;

	if (dg != d) {
		snprintf(t->reason, sizeof t->reason, "update has %zu values, "
		    "the reference %zu", dg, d);
		return;
	}
	trust = robust_trust(g, ref, d, &c);
	for (size_t j = 0; trust == 0 && j < d; j++)
		if (!isfinite(g[j])) {	/* say where, not "no trust" */
			snprintf(t->reason, sizeof t->reason, "update element "
			    "%zu is not finite", j);
			return;
		}
	t->score = c;
	if (trust == 0) {
		snprintf(t->reason, sizeof t->reason, "cosine %.4f with the "
		    "reference: no trust", c);
		return;
	}
	t->kept = 1;
	t->weight = trust;
	t->factor = lround(1000 * trust);
	if (t->factor < 1)
		t->factor = 1;
}

/* ---- a round of trainers -------------------------------------------------- */

void
weight_round_init(weight_round *w, const dml_job *j, int verify)
{
	agg_opts o = {.round = -1, .no_verify = !verify};

	memset(w, 0, sizeof *w);
	w->job = j;
	w->intake = agg_intake_new(j, &o);
}

void
weight_round_free(weight_round *w)
{
	for (size_t i = 0; i < w->n; i++)
		json_decref(w->t[i].result);
	free(w->t);
	agg_intake_free(w->intake);
	memset(w, 0, sizeof *w);
}

long long
weight_round_round(const weight_round *w)
{
	return agg_intake_round(w->intake);
}

/* One record: a train result, taken by the intake, kept with its n. */
static int
round_take(weight_round *w, rec_in *in, json_t *r)
{
	const char *task;
	long long n;
	enum agg_reject why;
	weight_entry *e;
	unsigned char pk[32];

	if (rec_check(in, r, "dml.result") < 0 ||
	    rec_get_str(in, r, "task", &task) < 0 ||
	    rec_get_int(in, r, "n", 0, 1LL << 53, &n) < 0)
		return -1;
	if (strcmp(task, "train") != 0)
		return rec_err(in, "task is %s, dml-weight weighs train "
		    "updates", task);
	if (agg_intake_result(w->intake, in, r, pk, &why) < 0)
		return -1;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->t = xrealloc(w->t, w->cap * sizeof *w->t);
	}
	e = &w->t[w->n++];
	memset(e, 0, sizeof *e);
	memcpy(e->w.key, pk, 32);
	e->w.n = n;
	e->result = json_incref(r);
	return 0;
}

int
weight_round_feed(weight_round *w, rec_in *in)
{
	json_t *r;
	int got;

	rec_set_copy(in, 1);	/* the records outlive their lines */
	while ((got = rec_next(in, &r)) > 0) {
		int rc = round_take(w, in, r);
		json_decref(r);
		if (rc < 0)
			return -1;
	}
	return got < 0 ? -1 : 0;
}

int
weight_round_feed_files(weight_round *w, int nfiles, char *const *files)
{
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		int rc;
		if (!in)
			return -1;
		rc = weight_round_feed(w, in);
		rec_close(in);
		if (rc < 0)
			return -1;
	}
	if (!w->n)
		return dml_error("no results");
	return 0;
}

void
weight_round_control(weight_round *w, const weight_key *k,
    const weight_opts *o)
{
	const dml_job *j = w->job;
	weight_trainer *t = xmalloc((w->n ? w->n : 1) * sizeof *t);
	weight_rule rule;

	weight_rule_init(&rule, j, weight_key_count(k));
	for (size_t i = 0; i < w->n; i++) {
		/* the adaptive test is replayed when the job names the set */
		weight_score_adaptive(k, j->control_set ? &rule : NULL, j->id,
		    weight_round_round(w), json_object_get(w->t[i].result,
		    "control"), &w->t[i].w);
		t[i] = w->t[i].w;
	}
	weight_decide(t, w->n, o);
	for (size_t i = 0; i < w->n; i++)
		w->t[i].w = t[i];
	free(t);
}

void
weight_round_fltrust(weight_round *w, const double *ref, size_t d)
{
	for (size_t i = 0; i < w->n; i++) {
		weight_trainer *t = &w->t[i].w;
		size_t dg = 0;
		double *g = weight_mean_update(NULL, w->t[i].result, &dg);
		if (!g) {
			snprintf(t->reason, sizeof t->reason, "%s",
			    dml_errmsg());
			continue;
		}
		weight_score_fltrust(t, g, dg, ref, d);
		free(g);
	}
}
