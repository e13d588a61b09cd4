/* report: the customer's report and its rendering. */
#include "report.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const fashion[] = {"T-shirt/top", "Trouser", "Pullover",
    "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *const *
report_class_names(const char *datatype, int *n)
{
	if (datatype && strcmp(datatype, "fashion-mnist") == 0) {
		*n = 10;
		return fashion;
	}
	*n = 0;
	return NULL;
}

/* Round to 6 decimals so reports read well and compare exactly. */
static double
r6(double x)
{
	double y = round(x * 1e6) / 1e6;
	return y == 0 ? 0 : y;
}

static json_t *
vec(const double *v, size_t n, double div)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(r6(v[i] / div)));
	return a;
}

static int
get_sum(const rec_in *in, const json_t *agg, const char *name, size_t want,
    dml_tensor *t)
{
	json_t *s = json_object_get(json_object_get(agg, "sum"), name);
	if (!s)
		return rec_err(in, "aggregate has no sum \"%s\"", name);
	if (tensor_from_json(in, s, name, t) < 0)
		return -1;
	if (want && t->n != want) {
		tensor_free(t);
		return rec_err(in, "sum \"%s\" has %zu values, the job needs %zu",
		    name, t->n, want);
	}
	if (t->dtype != DT_F64 && t->dtype != DT_F32) {
		tensor_free(t);
		return rec_err(in, "sum \"%s\" is not floating point", name);
	}
	if (t->dtype == DT_F32) {	/* widen */
		double *d = xmalloc(t->n * sizeof *d);
		for (size_t i = 0; i < t->n; i++)
			d[i] = ((float *)t->data)[i];
		free(t->data);
		t->data = d;
		t->dtype = DT_F64;
	}
	return 0;
}

/* Who contributed and how the inputs fared, copied from the aggregate. */
static void
report_provenance(json_t *r, const json_t *agg, long long dev)
{
	json_t *v;

	if ((v = json_object_get(agg, "members")))
		json_object_set(r, "contributors", v);
	json_object_set_new(r, "validation", json_pack("{s:I,s:O*}",
	    "accepted", (json_int_t)dev, "rejected",
	    json_object_get(agg, "rejected")));
	json_object_set_new(r, "aggregate_from",
	    json_incref(json_object_get(agg, "from")));
}

/* The min-devices rule, where a report is made: a report of fewer
 * devices could reveal one of them. report_make withholds it first; this
 * keeps a direct caller of report_build from forgetting it. */
static int
below_minimum(const dml_job *j, const rec_in *in, long long dev)
{
	if (dev < j->min_devices)
		return rec_err(in, "the aggregate counts %lld devices, below the "
		    "job's min_devices %lld: no report (report_make withholds "
		    "it)", dev, j->min_devices);
	return 0;
}

json_t *
report_build(const dml_job *j, const json_t *agg, const rec_in *in,
    const char *const *names, int nnames)
{
	json_t *r = rec_new("dml.report"), *res = json_object();
	long long n, dev, round = 0;
	double w;
	dml_tensor a, b, c;
	size_t C = (size_t)j->classes, F = (size_t)j->features;

	if (rec_get_int(in, agg, "n", 0, 1LL << 50, &n) < 0 ||
	    rec_get_int(in, agg, "devices", 0, 1LL << 40, &dev) < 0 ||
	    rec_get_num(in, agg, "weight", &w) < 0 ||
	    rec_opt_int(in, agg, "round", 0, 1 << 30, &round) < 0)
		goto fail;
	if (w <= 0 || n <= 0) {
		rec_err(in, "aggregate has no samples");
		goto fail;
	}
	if (below_minimum(j, in, dev) < 0)
		goto fail;
	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "devices", json_integer(dev));
	json_object_set_new(r, "samples", json_integer(n));
	json_object_set_new(r, "data", json_string(j->data));
	switch (j->task) {
	case TASK_PREDICT:
		if (j->enc.model) {	/* an encrypted model's class scores */
			if (get_sum(in, agg, "score", C, &a) < 0)
				goto fail;
			json_object_set_new(res, "mean_score", vec(a.data, C, w));
			tensor_free(&a);
			break;
		}
		if (get_sum(in, agg, "hist", C, &a) < 0)
			goto fail;
		if (get_sum(in, agg, "prob", C, &b) < 0) {
			tensor_free(&a);
			goto fail;
		}
		json_object_set_new(res, "counts", vec(a.data, C, 1));
		json_object_set_new(res, "distribution", vec(a.data, C, w));
		json_object_set_new(res, "mean_prob", vec(b.data, C, w));
		tensor_free(&a);
		tensor_free(&b);
		break;
	case TASK_STATS: {
		double *sd;
		if (get_sum(in, agg, "sum", F, &a) < 0)
			goto fail;
		if (get_sum(in, agg, "sumsq", F, &b) < 0) {
			tensor_free(&a);
			goto fail;
		}
		sd = xmalloc(F * sizeof *sd);
		for (size_t i = 0; i < F; i++) {
			double m = ((double *)a.data)[i] / w,
			       q = ((double *)b.data)[i] / w - m * m;
			sd[i] = sqrt(q > 0 ? q : 0);
		}
		json_object_set_new(res, "mean", vec(a.data, F, w));
		json_object_set_new(res, "std", vec(sd, F, 1));
		free(sd);
		tensor_free(&a);
		tensor_free(&b);
		if (json_object_get(json_object_get(agg, "sum"), "labels")) {
			if (get_sum(in, agg, "labels", C, &c) < 0)
				goto fail;
			json_object_set_new(res, "counts", vec(c.data, C, 1));
			json_object_set_new(res, "distribution", vec(c.data, C, w));
			tensor_free(&c);
		}
		break;
	}
	case TASK_TRAIN: {
		double norm = 0;
		if (get_sum(in, agg, "delta", (size_t)j->params, &a) < 0)
			goto fail;
		for (size_t i = 0; i < a.n; i++) {
			double x = ((double *)a.data)[i] / w;
			norm += x * x;
		}
		json_object_set_new(res, "mean_delta_norm", json_real(r6(sqrt(norm))));
		tensor_free(&a);
		break;
	}
	}
	if (names && nnames == (int)C && j->task != TASK_TRAIN) {
		json_t *nm = json_array();
		for (int i = 0; i < nnames; i++)
			json_array_append_new(nm, json_string(names[i]));
		json_object_set_new(res, "classes", nm);
	}
	json_object_set_new(r, "result", res);
	report_provenance(r, agg, dev);
	return r;
fail:
	json_decref(res);
	json_decref(r);
	return NULL;
}

json_t *
report_contributions(const dml_job *j, const json_t *agg,
    const char *report_node, const json_t *refining,
    const json_t *distributing)
{
	json_t *r = rec_new("dml.contributions"), *nodes = json_object(),
	       *fed = json_object_get(agg, "nodes");

	json_object_set_new(r, "job", json_string(j->id));
	json_object_set(r, "devices", json_object_get(agg, "members"));
	if (json_is_array(fed))
		json_object_set_new(nodes, "federated", json_deep_copy(fed));
	else	/* the aggregate came straight from a federated node */
		json_object_set_new(nodes, "federated", json_pack("[{s:O,s:O}]",
		    "key", json_object_get(agg, "from"), "devices",
		    json_object_get(agg, "devices")));
	json_object_set_new(nodes, "report", json_string(report_node));
	if (refining && json_array_size(refining))
		json_object_set(nodes, "refining", (json_t *)refining);
	if (distributing && json_array_size(distributing))
		json_object_set(nodes, "distributing", (json_t *)distributing);
	json_object_set_new(r, "nodes", nodes);
	if (j->has_developer) {
		char hex[65];
		key_hex(j->developer, 32, hex);
		json_object_set_new(r, "developer", json_string(hex));
	}
	return r;
}

static int
trainer_cmp(const void *x, const void *y)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)x,
	    "key")), json_string_value(json_object_get(*(json_t *const *)y,
	    "key")));
}

json_t *
report_trainers(const dml_job *j, const char *path)
{
	rec_in *in = rec_open(path);
	json_t *r, *out = json_array(), **v;
	const char *job, *dev;
	unsigned char pk[32];
	size_t n, i;
	int rc, kept;
	double w;

	if (!in) {
		json_decref(out);
		return NULL;
	}
	while ((rc = rec_next(in, &r)) > 0) {
		json_t *k;
		if (rec_check(in, r, "dml.weight") < 0 ||
		    rec_get_str(in, r, "job", &job) < 0 ||
		    rec_get_str(in, r, "device", &dev) < 0 ||
		    rec_get_num(in, r, "weight", &w) < 0 ||
		    rec_verify(r, in, NULL) < 0) {
			json_decref(r);
			rc = -1;
			break;
		}
		k = json_object_get(r, "kept");
		if (!json_is_boolean(k) || key_parse_hex(dev, pk) < 0 || w < 0) {
			rec_err(in, "a dml.weight needs a boolean \"kept\", a "
			    "device key and a weight >= 0");
			json_decref(r);
			rc = -1;
			break;
		}
		if (strcmp(job, j->id) != 0) {
			rec_err(in, "a weight for job %s, not %s", job, j->id);
			json_decref(r);
			rc = -1;
			break;
		}
		kept = json_is_true(k);
		if (kept && w > 0)
			json_array_append_new(out, json_pack("{s:s,s:f}", "key",
			    dev, "weight", w));
		json_decref(r);
	}
	if (rc == 0 && rec_count(in) == 0)
		rc = dml_error("%s: empty input: no dml.weight records",
		    rec_name(in));
	rec_close(in);
	if (rc < 0) {
		json_decref(out);
		return NULL;
	}
	n = json_array_size(out);
	v = xmalloc((n ? n : 1) * sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(out, i));
	qsort(v, n, sizeof *v, trainer_cmp);
	json_array_clear(out);
	for (i = 0; i < n; i++) {
		if (i && trainer_cmp(&v[i - 1], &v[i]) == 0) {
			dml_error("%s: trainer %.16s... is weighted twice", path,
			    json_string_value(json_object_get(v[i], "key")));
			for (; i < n; i++)
				json_decref(v[i]);
			free(v);
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, v[i]);
	}
	free(v);
	return out;
}

int
report_privacy_last(const dml_job *j, const char *path, json_t **last,
    long *line)
{
	rec_in *in = rec_open(path);
	json_t *r;
	const char *job;
	long long prev = -1, round;
	double e;
	int rc;

	*last = NULL;
	if (!in)
		return -1;
	rec_set_copy(in, 1);
	while ((rc = rec_next(in, &r)) > 0) {
		if (rec_check(in, r, "dml.privacy") < 0 ||
		    (json_object_get(r, "sig") && rec_verify(r, in, NULL) < 0) ||
		    rec_get_str(in, r, "job", &job) < 0 ||
		    rec_get_int(in, r, "round", 0, 1LL << 40, &round) < 0 ||
		    rec_get_num(in, r, "epsilon", &e) < 0)
			rc = -1;
		else if (strcmp(job, j->id) != 0)
			rc = rec_err(in, "a dml.privacy record of job %.60s, not "
			    "%s", job, j->id);
		else if (round <= prev)
			rc = rec_err(in, "round %lld after round %lld", round,
			    prev);
		if (rc < 0) {
			json_decref(r);
			break;
		}
		prev = round;
		json_decref(*last);
		*last = r;
	}
	*line = rec_line(in);
	rec_close(in);
	if (rc < 0) {
		json_decref(*last);
		*last = NULL;
		return -1;
	}
	return 0;
}

json_t *
report_privacy(const dml_job *j, const char *path)
{
	static const char *const keep[] = {"epsilon", "delta", "rounds",
	    "round", "mode", "noise", "clip", "sample_rate", "accountant",
	    "conversion", "budget"};
	json_t *last, *out;
	long line;

	if (report_privacy_last(j, path, &last, &line) < 0)
		return NULL;
	if (!last)
		return dml_error("%s: empty input: no dml.privacy record",
		    path && strcmp(path, "-") ? path : "<stdin>"), NULL;
	out = json_object();
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (json_object_get(last, keep[i]))
			json_object_set(out, keep[i], json_object_get(last,
			    keep[i]));
	json_decref(last);
	return out;
}

json_t *
report_withheld(const dml_job *j, const json_t *agg)
{
	json_t *r = rec_new("dml.withheld");
	json_object_set_new(r, "job", json_string(j->id));
	json_object_set(r, "devices", json_object_get(agg, "devices"));
	json_object_set_new(r, "min_devices", json_integer(j->min_devices));
	json_object_set_new(r, "reason", json_string("fewer devices than the "
	    "job's minimum: the result could reveal individual devices"));
	return r;
}

json_t *
report_read_aggregate(const dml_job *j, rec_in *in, const keyset *trust)
{
	json_t *agg = NULL, *extra;
	unsigned char from[32];
	const char *aid;
	int rc = rec_next(in, &agg);

	if (rc == 0)
		return dml_error("%s: empty input: no aggregate", rec_name(in)),
		    NULL;
	if (rc < 0 || rec_check(in, agg, "dml.aggregate") < 0 ||
	    rec_verify(agg, in, from) < 0 ||
	    rec_get_str(in, agg, "job", &aid) < 0)
		goto fail;
	if (strcmp(aid, j->id) != 0) {
		rec_err(in, "the aggregate is for job %s, not %s", aid, j->id);
		goto fail;
	}
	if (trust && !keyset_has(trust, from)) {
		rec_err(in, "the aggregate is signed by an untrusted node");
		goto fail;
	}
	if (rec_detach(in, agg) < 0)
		goto fail;
	if ((rc = rec_next(in, &extra)) > 0) {
		json_decref(extra);
		rec_err(in, "more than one aggregate: combine them with "
		    "dml-aggregate first");
	}
	if (rc == 0)
		return agg;
fail:
	json_decref(agg);
	return NULL;
}

json_t *
report_make(const dml_job *j, const json_t *agg, const rec_in *in,
    const unsigned char node[32], const char *privacy, int *withheld)
{
	const char *const *names;
	long long dev;
	json_t *rep, *p;
	int nnames;
	char hex[65];

	*withheld = 0;
	if (rec_get_int(in, agg, "devices", 0, 1LL << 40, &dev) < 0)
		return NULL;
	if (dev < j->min_devices) {
		*withheld = 1;
		return report_withheld(j, agg);
	}
	names = report_class_names(j->data, &nnames);
	/* a Paillier job's sums stay encrypted: only the customer can read */
	rep = j->enc.on ? report_encrypted(j, agg, in) :
	    report_build(j, agg, in, names, nnames);
	if (!rep)
		return NULL;
	if (privacy) {
		if (!(p = report_privacy(j, privacy))) {
			json_decref(rep);
			return NULL;
		}
		json_object_set_new(rep, "privacy", p);
	}
	if (!j->enc.on) {	/* the rendering names the signer */
		key_hex(node, 32, hex);
		json_object_set_new(rep, "from", json_string(hex));
		report_render(rep);
	}
	return rep;
}

struct sbuf {
	char *p;
	size_t n, cap;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->n + (size_t)k + 1 > b->cap) {
		b->cap = (b->n + (size_t)k + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)k;
}

/* XML-escape into a static-size buffer (names are short). */
static const char *
xml(const char *s, char *buf, size_t n)
{
	size_t o = 0;
	for (; *s && o + 7 < n; s++) {
		const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" :
		    *s == '&' ? "&amp;" : *s == '"' ? "&quot;" : NULL;
		if (e) {
			memcpy(buf + o, e, strlen(e));
			o += strlen(e);
		} else
			buf[o++] = *s;
	}
	buf[o] = 0;
	return buf;
}

static const char *
class_label(const json_t *res, size_t i, char *buf, size_t n)
{
	json_t *c = json_array_get(json_object_get(res, "classes"), i);
	if (json_is_string(c))
		snprintf(buf, n, "%s", json_string_value(c));
	else
		snprintf(buf, n, "class %zu", i);
	return buf;
}

char *
report_markdown(const json_t *r)
{
	struct sbuf b = {0};
	json_t *res = json_object_get(r, "result"),
	       *dist = json_object_get(res, "distribution"),
	       *mp = json_object_get(res, "mean_prob"),
	       *cnt = json_object_get(res, "counts");
	const char *task = json_string_value(json_object_get(r, "task"));
	char lab[128];
	size_t i;
	json_t *x;

	sb_printf(&b, "# DML report\n\n");
	sb_printf(&b, "- Job: `%s`\n", json_string_value(json_object_get(r, "job")));
	sb_printf(&b, "- Task: %s on %s data\n", task ? task : "?",
	    json_string_value(json_object_get(r, "data")));
	sb_printf(&b, "- Devices counted: %lld\n",
	    json_integer_value(json_object_get(r, "devices")));
	sb_printf(&b, "- Samples counted: %lld\n",
	    json_integer_value(json_object_get(r, "samples")));
	if (json_is_object(json_object_get(r, "privacy"))) {
		json_t *p = json_object_get(r, "privacy");
		sb_printf(&b, "- Differential privacy: (%.4g, %g)-DP after %lld "
		    "rounds (%s noise, multiplier %g)\n",
		    json_number_value(json_object_get(p, "epsilon")),
		    json_number_value(json_object_get(p, "delta")),
		    json_integer_value(json_object_get(p, "rounds")),
		    json_string_value(json_object_get(p, "mode")),
		    json_number_value(json_object_get(p, "noise")));
	}
	sb_printf(&b, "- Report node: `%s`\n\n",
	    json_string_value(json_object_get(r, json_object_get(r,
	    "report_node") ? "report_node" : "from")));
	if (json_is_array(dist)) {
		sb_printf(&b, "## Class distribution\n\n");
		sb_printf(&b, "| class | records | share |%s\n",
		    mp ? " mean probability |" : "");
		sb_printf(&b, "|---|---:|---:|%s\n", mp ? "---:|" : "");
		json_array_foreach(dist, i, x) {
			sb_printf(&b, "| %s | %.0f | %.2f%% |",
			    class_label(res, i, lab, sizeof lab),
			    json_number_value(json_array_get(cnt, i)),
			    100 * json_number_value(x));
			if (mp)
				sb_printf(&b, " %.4f |", json_number_value(
				    json_array_get(mp, i)));
			sb_printf(&b, "\n");
		}
		sb_printf(&b, "\n![class distribution](report.svg)\n\n");
	}
	if ((x = json_object_get(res, "mean_score"))) {
		json_t *y;
		sb_printf(&b, "## Mean class scores\n\n");
		sb_printf(&b, "Scores of the encrypted model (linear, before any "
		    "softmax), averaged over the samples; the weights were never "
		    "seen in the clear by devices or nodes.\n\n");
		sb_printf(&b, "| class | mean score |\n|---|---:|\n");
		json_array_foreach(x, i, y)
			sb_printf(&b, "| %s | %.6f |\n", class_label(res, i, lab,
			    sizeof lab), json_number_value(y));
		sb_printf(&b, "\n![mean class scores](report.svg)\n\n");
	}
	if (json_object_get(res, "mean")) {
		double lo = INFINITY, hi = -INFINITY, s = 0;
		size_t n = json_array_size(json_object_get(res, "mean"));
		json_array_foreach(json_object_get(res, "mean"), i, x) {
			double v = json_number_value(x);
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
			s += v;
		}
		sb_printf(&b, "## Feature statistics\n\n%zu features; mean of "
		    "feature means %.4f, smallest %.4f, largest %.4f.\n\n", n,
		    n ? s / (double)n : 0, lo, hi);
	}
	if ((x = json_object_get(res, "mean_delta_norm")))
		sb_printf(&b, "## Training\n\nNorm of the averaged update: "
		    "%.6f\n\n", json_number_value(x));
	sb_printf(&b, "Contributing devices: %zu. Results rejected: ",
	    json_array_size(json_object_get(r, "contributors")));
	{
		json_t *rej = json_object_get(json_object_get(r, "validation"),
		    "rejected");
		const char *k;
		long long tot = 0;
		json_object_foreach(rej, k, x)
			tot += json_integer_value(x);
		sb_printf(&b, "%lld.\n", tot);
	}
	return b.p;
}

/* A chart's head: the svg element of W x H, a white ground, and the
 * title at x = L with the report's device count. */
static void
svg_open(struct sbuf *b, int W, int H, int L, const char *title,
    const json_t *r)
{
	sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n", W, H, W, H);
	sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	sb_printf(b, "<text x=\"%d\" y=\"20\" font-size=\"14\">%s "
	    "(%lld devices)</text>\n", L, title,
	    json_integer_value(json_object_get(r, "devices")));
}

/* Bars of the mean class scores about a zero line (scores may be
 * negative). */
static char *
score_svg(const json_t *r)
{
	struct sbuf b = {0};
	json_t *res = json_object_get(r, "result"),
	       *ms = json_object_get(res, "mean_score"), *x;
	size_t n = json_array_size(ms), i;
	double max = 0, zero;
	const int W = 640, H = 360, L = 60, B = 110, T = 30;
	char lab[128], esc[256];

	json_array_foreach(ms, i, x)
		if (fabs(json_number_value(x)) > max)
			max = fabs(json_number_value(x));
	if (max <= 0)
		max = 1;
	zero = T + (double)(H - B - T) / 2;
	svg_open(&b, W, H, L, "Mean class score", r);
	sb_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
	    "stroke=\"black\"/>\n", L, zero, W - 10, zero);
	for (i = 0; i < n; i++) {
		double v = json_number_value(json_array_get(ms, i));
		double bw = (double)(W - L - 20) / (double)n;
		double h = fabs(v) / max * (H - B - T) / 2;
		double xx = L + (double)i * bw + bw * 0.1;
		sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#4477aa\"/>\n", xx, v >= 0 ?
		    zero - h : zero, bw * 0.8, h);
		sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "%.3g</text>\n", xx + bw * 0.4, v >= 0 ? zero - h - 4 :
		    zero + h + 12, v);
		sb_printf(&b, "<text transform=\"translate(%.1f,%d) rotate(45)\">"
		    "%s</text>\n", xx + bw * 0.3, H - B + 14,
		    xml(class_label(res, i, lab, sizeof lab), esc, sizeof esc));
	}
	sb_printf(&b, "</svg>\n");
	return b.p;
}

char *
report_svg(const json_t *r)
{
	struct sbuf b = {0};
	json_t *res = json_object_get(r, "result"),
	       *dist = json_object_get(res, "distribution"), *x;
	size_t n = json_array_size(dist), i;
	double max = 0;
	const int W = 640, H = 360, L = 60, B = 110, T = 30;
	char lab[128], esc[256];

	if (!dist && json_object_get(res, "mean_score"))
		return score_svg(r);
	json_array_foreach(dist, i, x)
		if (json_number_value(x) > max)
			max = json_number_value(x);
	if (max <= 0)
		max = 1;
	svg_open(&b, W, H, L, "Class distribution", r);
	sb_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"black\"/>\n", L, H - B, W - 10, H - B);
	for (i = 0; i < n; i++) {
		double v = json_number_value(json_array_get(dist, i));
		double bw = (double)(W - L - 20) / (double)n;
		double h = v / max * (H - B - T);
		double xx = L + (double)i * bw + bw * 0.1;
		sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#4477aa\"/>\n", xx, H - B - h,
		    bw * 0.8, h);
		sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "%.1f%%</text>\n", xx + bw * 0.4, H - B - h - 4, 100 * v);
		sb_printf(&b, "<text transform=\"translate(%.1f,%d) rotate(45)\">"
		    "%s</text>\n", xx + bw * 0.3, H - B + 14,
		    xml(class_label(res, i, lab, sizeof lab), esc, sizeof esc));
	}
	sb_printf(&b, "</svg>\n");
	return b.p;
}

void
report_render(json_t *rep)
{
	char *md = report_markdown(rep), *svg = report_svg(rep);

	json_object_set_new(rep, "render", json_pack("{s:s,s:s}", "markdown",
	    md, "svg", svg));
	free(md);
	free(svg);
}

/* ---- Paillier ----------------------------------------------------------- */

json_t *
report_encrypted(const dml_job *j, const json_t *agg, const rec_in *in)
{
	json_t *r, *sum, *enc = json_object(), *t, *v;
	const char *key;
	long long n, dev, round = 0;
	double w;

	if (!j->enc.on)
		return rec_err(in, "the job has no Paillier encryption"), NULL;
	if (rec_get_int(in, agg, "n", 0, 1LL << 50, &n) < 0 ||
	    rec_get_int(in, agg, "devices", 0, 1LL << 40, &dev) < 0 ||
	    rec_get_num(in, agg, "weight", &w) < 0 ||
	    rec_opt_int(in, agg, "round", 0, 1 << 30, &round) < 0 ||
	    !(sum = rec_get_obj(in, agg, "sum")))
		goto fail;
	if (w <= 0 || n <= 0) {
		rec_err(in, "aggregate has no samples");
		goto fail;
	}
	if (below_minimum(j, in, dev) < 0)
		goto fail;
	json_object_foreach(sum, key, t) {
		ptensor h;
		if (ptensor_header(in, t, key, &j->enc.pk, &h) < 0)
			goto fail;
		v = json_deep_copy(t);
		if (rec_detach(in, v) < 0) {
			json_decref(v);
			goto fail;
		}
		json_object_set_new(enc, key, v);
	}
	r = rec_new("dml.report");
	json_object_set_new(r, "encryption", json_string("paillier"));
	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "devices", json_integer(dev));
	json_object_set_new(r, "samples", json_integer(n));
	json_object_set_new(r, "weight", json_real(w));
	json_object_set_new(r, "data", json_string(j->data));
	json_object_set_new(r, "sum", enc);
	report_provenance(r, agg, dev);
	return r;
fail:
	json_decref(enc);
	return NULL;
}

/* Every ciphertext tensor of "sum" as an f64 tensor. */
static json_t *
decrypt_sums(const dml_job *j, const json_t *sum, const rec_in *in,
    const paillier_sk *sk)
{
	json_t *out = json_object(), *t;
	const char *key;

	if (!json_is_object(sum)) {
		json_decref(out);
		return rec_err(in, "field \"sum\" must be an object"), NULL;
	}
	json_object_foreach((json_t *)sum, key, t) {
		ptensor h;
		double *d;
		if (ptensor_header(in, t, key, &sk->pk, &h) < 0)
			goto fail;
		if (h.ndim != 1) {
			rec_err(in, "tensor \"%s\" has %d dimensions, not 1", key,
			    h.ndim);
			goto fail;
		}
		d = xmalloc((h.n ? h.n : 1) * sizeof *d);
		if (ptensor_decrypt(sk, in, key, &h,
		    fxp_max_value(&j->enc.layout), d) < 0) {
			free(d);
			goto fail;
		}
		json_object_set_new(out, key, tensor_to_json(DT_F64, 1, h.shape,
		    d));
		free(d);
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* The job's key must be the one we hold, and the record for the job. */
static int
check_for_job(const dml_job *j, const json_t *r, const rec_in *in,
    const paillier_sk *sk)
{
	const char *job;

	if (!j->enc.on)
		return rec_err(in, "the job has no Paillier encryption");
	if (strcmp(j->enc.pk.kid, sk->pk.kid) != 0)
		return rec_err(in, "the job's Paillier key %.16s... is not the "
		    "key given (%.16s...)", j->enc.pk.kid, sk->pk.kid);
	if (rec_get_str(in, r, "job", &job) < 0)
		return -1;
	if (strcmp(job, j->id) != 0)
		return rec_err(in, "the record is for job %.20s..., not %s", job,
		    j->id);
	return 0;
}

json_t *
report_decrypt_aggregate(const dml_job *j, const json_t *agg,
    const rec_in *in, const paillier_sk *sk)
{
	json_t *out, *sum, *v;
	const char *key;

	if (check_for_job(j, agg, in, sk) < 0 ||
	    !(sum = decrypt_sums(j, json_object_get(agg, "sum"), in, sk)))
		return NULL;
	out = json_object();
	json_object_foreach((json_t *)agg, key, v)
		if (strcmp(key, "sum") && strcmp(key, "sig") &&
		    strcmp(key, "from"))
			json_object_set(out, key, v);
	json_object_set_new(out, "sum", sum);
	if ((v = json_object_get(agg, "from")))
		json_object_set(out, "decrypted_from", v);
	return out;
}

json_t *
report_decrypt(const dml_job *j, const json_t *rep, const rec_in *in,
    const paillier_sk *sk, const char *const *names, int nnames)
{
	json_t *agg, *sum, *r, *val;
	const char *enc;
	long long dev;

	if (rec_check(in, rep, "dml.report") < 0 ||
	    rec_get_str(in, rep, "encryption", &enc) < 0 ||
	    check_for_job(j, rep, in, sk) < 0 ||
	    rec_get_int(in, rep, "devices", 0, 1LL << 40, &dev) < 0)
		return NULL;
	if (strcmp(enc, "paillier") != 0)
		return rec_err(in, "unknown report encryption \"%.40s\"", enc),
		    NULL;
	if (dev < j->min_devices)
		return rec_err(in, "the report counts %lld devices, below the "
		    "job's min_devices %lld", dev, j->min_devices), NULL;
	if (!(sum = decrypt_sums(j, json_object_get(rep, "sum"), in, sk)))
		return NULL;
	val = json_object_get(rep, "validation");
	agg = json_pack("{s:O*,s:O*,s:O*,s:O*,s:O*,s:O*,s:O*,s:o}",
	    "n", json_object_get(rep, "samples"),
	    "devices", json_object_get(rep, "devices"),
	    "weight", json_object_get(rep, "weight"),
	    "round", json_object_get(rep, "round"),
	    "members", json_object_get(rep, "contributors"),
	    "rejected", json_object_get(val, "rejected"),
	    "from", json_object_get(rep, "aggregate_from"),
	    "sum", sum);
	r = report_build(j, agg, in, names, nnames);
	json_decref(agg);
	if (r && json_object_get(rep, "from"))
		json_object_set(r, "report_node", json_object_get(rep, "from"));
	return r;
}

int
report_privacy_spent(const dml_job *j, const char *path, json_t **last,
    char **text, size_t *len)
{
	long line;
	double e;
	int rc = 0;

	*last = NULL;
	*text = NULL;
	*len = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (dml_read_file(path, text, len) < 0 ||
	    report_privacy_last(j, path, last, &line) < 0)
		rc = -1;
	else if (*last && rec_get_num(NULL, *last, "epsilon", &e) == 0 &&
	    !(e <= j->dp.epsilon))
		rc = dml_error("%s:%ld: the budget is already exceeded: "
		    "epsilon %g, the job's budget is %g", path, line, e,
		    j->dp.epsilon);
	if (rc < 0) {
		json_decref(*last);
		*last = NULL;
		free(*text);
		*text = NULL;
	}
	return rc;
}

int
report_privacy_append(const char *path, const char *text, size_t len,
    const json_t *pr)
{
	size_t n;
	char *s = canon_dump(pr, NULL, NULL, &n), *buf;
	int rc;

	buf = xmalloc(len + n + 1);
	if (len)
		memcpy(buf, text, len);
	memcpy(buf + len, s, n);
	buf[len + n] = '\n';
	free(s);
	rc = dml_write_file(path, buf, len + n + 1, 0644);
	free(buf);
	return rc;
}
