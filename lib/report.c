/* report: the customer's report and its rendering. */
#include "report.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

json_t *
report_build(const dml_job *j, const json_t *agg, const rec_in *in,
    const char *const *names, int nnames)
{
	json_t *r = rec_new("dml.report"), *res = json_object(), *v;
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
	json_object_set_new(r, "job", json_string(j->id));
	json_object_set_new(r, "task", json_string(task_name(j->task)));
	json_object_set_new(r, "round", json_integer(round));
	json_object_set_new(r, "devices", json_integer(dev));
	json_object_set_new(r, "samples", json_integer(n));
	json_object_set_new(r, "data", json_string(j->data));
	switch (j->task) {
	case TASK_PREDICT:
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
	if ((v = json_object_get(agg, "members")))
		json_object_set(r, "contributors", v);
	json_object_set_new(r, "validation", json_pack("{s:I,s:O*}",
	    "accepted", (json_int_t)dev, "rejected",
	    json_object_get(agg, "rejected")));
	json_object_set_new(r, "aggregate_from",
	    json_incref(json_object_get(agg, "from")));
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
	sb_printf(&b, "- Report node: `%s`\n\n",
	    json_string_value(json_object_get(r, "from")));
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

	json_array_foreach(dist, i, x)
		if (json_number_value(x) > max)
			max = json_number_value(x);
	if (max <= 0)
		max = 1;
	sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n", W, H, W, H);
	sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
	sb_printf(&b, "<text x=\"%d\" y=\"20\" font-size=\"14\">Class "
	    "distribution (%lld devices)</text>\n", L,
	    json_integer_value(json_object_get(r, "devices")));
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
