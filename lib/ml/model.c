/* model: MLP / softmax regression / cnn on OpenBLAS; the dml.model record. */
#include "model.h"
#include "cnn.h"
#include "cid.h"
#include "tensor.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *arch_names[] = {"softmax", "mlp", "cnn"};
static const char *act_names[] = {"relu", "tanh"};

const char *model_arch_name(enum model_arch a) { return arch_names[a]; }
const char *model_act_name(enum model_act a) { return act_names[a]; }

int
model_arch_parse(const char *s, enum model_arch *a)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, arch_names[i]) == 0) {
			*a = (enum model_arch)i;
			return 0;
		}
	return -1;
}

int
model_act_parse(const char *s, enum model_act *a)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(s, act_names[i]) == 0) {
			*a = (enum model_act)i;
			return 0;
		}
	return -1;
}

size_t
model_nparams(const int *sizes, int nsizes)
{
	size_t p = 0;

	if (nsizes < 2 || nsizes > MODEL_MAXLAYERS + 1)
		return 0;
	for (int i = 0; i < nsizes; i++)
		if (sizes[i] < 1 || sizes[i] > MODEL_MAXWIDTH)
			return 0;
	for (int i = 1; i < nsizes; i++) {
		p += (size_t)sizes[i] * (size_t)sizes[i - 1] + (size_t)sizes[i];
		if (p > (size_t)MODEL_MAXPARAMS)
			return 0;
	}
	return p;
}

static int
model_shape(dml_model *m, enum model_arch arch, const int *sizes, int nsizes,
    enum model_act act)
{
	memset(m, 0, sizeof *m);
	m->round = -1;
	if (arch == MODEL_SOFTMAX && nsizes != 2)
		return dml_error("a softmax model has 2 layer widths (inputs, "
		    "classes), not %d", nsizes);
	if (arch == MODEL_CNN && (nsizes != 2 || sizes[0] != CNN_INPUTS ||
	    sizes[1] < 1 || sizes[1] > MODEL_MAXWIDTH))
		return dml_error("a cnn model has 2 layer widths, %d (28 x 28 "
		    "inputs) and the classes", CNN_INPUTS);
	if (arch == MODEL_CNN && act != ACT_RELU)
		return dml_error("a cnn model uses relu, not %s",
		    model_act_name(act));
	m->nparams = arch == MODEL_CNN ? cnn_nparams(sizes[1]) :
	    model_nparams(sizes, nsizes);
	if (m->nparams == 0)
		return dml_error("bad layer widths: 2 to %d widths, each 1 to "
		    "%d, at most %lld parameters", MODEL_MAXLAYERS + 1,
		    MODEL_MAXWIDTH, MODEL_MAXPARAMS);
	m->arch = arch;
	m->act = act;
	m->nlayers = nsizes - 1;
	memcpy(m->sizes, sizes, (size_t)nsizes * sizeof *sizes);
	return 0;
}

int
model_init(dml_model *m, enum model_arch arch, const int *sizes, int nsizes,
    enum model_act act, uint64_t seed)
{
	dml_rng r;
	float *p;

	if (model_shape(m, arch, sizes, nsizes, act) < 0)
		return -1;
	p = m->params = xcalloc(m->nparams, sizeof *m->params);
	rng_seed(&r, seed);
	if (arch == MODEL_CNN) {
		cnn_init(p, sizes[1], &r);
		return 0;
	}
	for (int l = 0; l < m->nlayers; l++) {
		int ni = sizes[l], no = sizes[l + 1];
		int hidden = l < m->nlayers - 1;
		double lim = hidden && act == ACT_RELU ? sqrt(6.0 / ni) :
		    sqrt(6.0 / (ni + no));
		for (size_t i = 0; i < (size_t)ni * no; i++)
			p[i] = (float)((2 * rng_uniform(&r) - 1) * lim);
		p += (size_t)ni * no + no;	/* biases stay 0 */
	}
	return 0;
}

static int
layers_from_json(const rec_in *in, const json_t *arr, int *sizes, int *n)
{
	size_t i;
	json_t *v;

	if (json_array_size(arr) < 2 || json_array_size(arr) >
	    MODEL_MAXLAYERS + 1)
		return rec_err(in, "field \"layers\" must list 2 to %d widths",
		    MODEL_MAXLAYERS + 1);
	json_array_foreach(arr, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > MODEL_MAXWIDTH)
			return rec_err(in, "field \"layers\"[%zu] must be an "
			    "integer in [1, %d]", i, MODEL_MAXWIDTH);
		sizes[i] = (int)json_integer_value(v);
	}
	*n = (int)json_array_size(arr);
	return 0;
}

int
model_from_record(dml_model *m, const rec_in *in, const json_t *r)
{
	const char *s, *act = "relu", *name = NULL, *parent = NULL;
	enum model_arch arch;
	enum model_act a;
	int sizes[MODEL_MAXLAYERS + 1], n = 0;
	long long round = -1;
	json_t *arr, *pj;
	dml_tensor t;
	cid c;

	memset(m, 0, sizeof *m);
	if (rec_check(in, r, "dml.model") < 0 ||
	    rec_get_str(in, r, "arch", &s) < 0)
		return -1;
	if (model_arch_parse(s, &arch) < 0)
		return rec_err(in, "field \"arch\": unknown architecture \"%s\" "
		    "(mlp, softmax or cnn)", s);
	if (!(arr = rec_get_arr(in, r, "layers")) ||
	    layers_from_json(in, arr, sizes, &n) < 0)
		return -1;
	if (rec_opt_str(in, r, "act", &act) < 0)
		return -1;
	if (model_act_parse(act, &a) < 0)
		return rec_err(in, "field \"act\": unknown activation \"%s\" "
		    "(relu or tanh)", act);
	if (rec_opt_str(in, r, "name", &name) < 0 ||
	    rec_opt_str(in, r, "parent", &parent) < 0 ||
	    rec_opt_int(in, r, "round", 0, 1LL << 40, &round) < 0)
		return -1;
	if (parent && cid_parse(&c, parent) < 0)
		return rec_err(in, "field \"parent\" is not a CID");
	if (model_shape(m, arch, sizes, n, a) < 0)
		return rec_err(in, "field \"layers\": %s", dml_errmsg());
	if (!(pj = json_object_get(r, "params")))
		return rec_err(in, "missing field \"params\"");
	if (tensor_from_json(in, pj, "params", &t) < 0)
		return -1;
	if ((t.dtype != DT_F32 && t.dtype != DT_F64) || t.ndim != 1 ||
	    t.n != m->nparams) {
		tensor_free(&t);
		return rec_err(in, "field \"params\" must be a f32 tensor of "
		    "shape [%zu] for layers of this model", m->nparams);
	}
	if (t.dtype == DT_F32) {
		m->params = t.data;
	} else {
		m->params = xmalloc(m->nparams * sizeof *m->params);
		for (size_t i = 0; i < t.n; i++) {
			double v = ((double *)t.data)[i];
			if (fabs(v) > 3.4e38) {
				free(m->params);
				m->params = NULL;
				tensor_free(&t);
				return rec_err(in, "field \"params\": element %zu "
				    "out of f32 range", i);
			}
			m->params[i] = (float)v;
		}
		tensor_free(&t);
	}
	m->name = name ? xstrdup(name) : NULL;
	m->parent = parent ? xstrdup(parent) : NULL;
	m->round = round;
	return 0;
}

int
model_load(dml_model *m, const char *path)
{
	rec_in *in = rec_open(path);
	json_t *r = NULL;
	int rc;

	memset(m, 0, sizeof *m);
	if (!in)
		return -1;
	rc = rec_next(in, &r);
	if (rc == 0)
		rc = dml_error("%s: empty, expected a dml.model record",
		    rec_name(in));
	else if (rc == 1)
		rc = model_from_record(m, in, r);
	json_decref(r);
	r = NULL;
	if (rc == 0 && (rc = rec_next(in, &r)) != 0) {
		if (rc == 1)
			rec_err(in, "more than one record in a model file");
		json_decref(r);
		model_free(m);
		rc = -1;
	}
	rec_close(in);
	return rc;
}

json_t *
model_to_record(const dml_model *m)
{
	json_t *r = rec_new("dml.model"), *layers = json_array();
	int64_t shape[1] = {(int64_t)m->nparams};

	for (int i = 0; i <= m->nlayers; i++)
		json_array_append_new(layers, json_integer(m->sizes[i]));
	json_object_set_new(r, "arch", json_string(model_arch_name(m->arch)));
	json_object_set_new(r, "layers", layers);
	json_object_set_new(r, "act", json_string(model_act_name(m->act)));
	json_object_set_new(r, "params", tensor_to_json(DT_F32, 1, shape,
	    m->params));
	if (m->name)
		json_object_set_new(r, "name", json_string(m->name));
	if (m->parent)
		json_object_set_new(r, "parent", json_string(m->parent));
	if (m->round >= 0)
		json_object_set_new(r, "round", json_integer(m->round));
	return r;
}

void
model_copy(dml_model *dst, const dml_model *src)
{
	*dst = *src;
	dst->params = xmalloc(src->nparams * sizeof *dst->params);
	memcpy(dst->params, src->params, src->nparams * sizeof *dst->params);
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->parent = src->parent ? xstrdup(src->parent) : NULL;
}

void
model_free(dml_model *m)
{
	free(m->params);
	free(m->name);
	free(m->parent);
	memset(m, 0, sizeof *m);
}

int
model_apply_sum(dml_model *m, const double *delta, double weight, double eta)
{
	float *np;

	if (!(weight > 0) || !isfinite(weight) || !isfinite(eta))
		return dml_error("the weight must be a positive number");
	np = xmalloc(m->nparams * sizeof *np);
	for (size_t i = 0; i < m->nparams; i++) {
		double v = (double)m->params[i] + eta * delta[i] / weight;
		if (!isfinite(v) || fabs(v) > 3.4e38) {
			free(np);
			return dml_error("the update makes parameter %zu "
			    "overflow", i);
		}
		np[i] = (float)v;
	}
	free(m->params);
	m->params = np;
	return 0;
}

/* ---- batches ------------------------------------------------------------ */

struct model_work {
	int batch, nlayers;
	size_t nparams;
	float *act[MODEL_MAXLAYERS + 1];	/* [1..L]: [batch][n_l] */
	float *delta[MODEL_MAXLAYERS + 1];	/* [1..L-1]: [batch][n_l] */
	float *velocity;			/* [P], for momentum */
	float *colsum;				/* [max width] */
	float *ones;				/* [batch] of 1 */
	cnn_work *cnn;				/* arch cnn only */
	float *grad;				/* [P], cnn steps */
};

model_work *
model_work_new(const dml_model *m, int batch)
{
	model_work *w = xcalloc(1, sizeof *w);
	int maxw = 1;

	w->batch = batch < 1 ? 1 : batch;
	w->nlayers = m->nlayers;
	w->nparams = m->nparams;
	if (m->arch == MODEL_CNN) {
		w->nlayers = 0;		/* no mlp buffers */
		w->cnn = cnn_work_new(m->sizes[1], w->batch);
		return w;
	}
	for (int l = 1; l <= m->nlayers; l++) {
		size_t sz = (size_t)w->batch * m->sizes[l] * sizeof(float);
		w->act[l] = xmalloc(sz);
		if (l < m->nlayers)
			w->delta[l] = xmalloc(sz);
		if (m->sizes[l] > maxw)
			maxw = m->sizes[l];
	}
	w->colsum = xmalloc((size_t)maxw * sizeof(float));
	w->ones = xmalloc((size_t)w->batch * sizeof(float));
	for (int i = 0; i < w->batch; i++)
		w->ones[i] = 1.0f;
	return w;
}

void
model_work_free(model_work *w)
{
	if (!w)
		return;
	for (int l = 1; l <= w->nlayers; l++) {
		free(w->act[l]);
		free(w->delta[l]);
	}
	free(w->velocity);
	free(w->grad);
	cnn_work_free(w->cnn);
	free(w->colsum);
	free(w->ones);
	free(w);
}

/* max(v, 0) without a branch: clear the word when its sign bit is set
 * (a branch here mispredicts on half the units). -0 becomes +0. */
static void
relu(float *v, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		int32_t u;
		memcpy(&u, v + i, sizeof u);
		u &= -(int32_t)(u >= 0);
		memcpy(v + i, &u, sizeof u);
	}
}

/* d = a > 0 ? d : 0 for relu outputs a (which are +0 or positive), on
 * the bits and without a branch. */
static void
relu_mask(float *restrict d, const float *restrict a, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		int32_t u, m;
		memcpy(&m, a + i, sizeof m);
		memcpy(&u, d + i, sizeof u);
		u &= -(int32_t)(m != 0);
		memcpy(d + i, &u, sizeof u);
	}
}

/* Softmax of each row in place; returns the summed cross-entropy of the
 * rows against y (0 when y is NULL). Stable: exp(z - max z). */
static double
softmax_rows(float *z, int b, int c, const int32_t *y)
{
	double loss = 0;

	for (int r = 0; r < b; r++) {
		float *row = z + (size_t)r * c, mx = row[0], s = 0;
		for (int j = 1; j < c; j++)
			if (row[j] > mx)
				mx = row[j];
		if (y)
			loss -= row[y[r]] - mx;
		for (int j = 0; j < c; j++) {
			row[j] = expf(row[j] - mx);
			s += row[j];
		}
		if (y)
			loss += log(s);
		float inv = 1.0f / s;
		for (int j = 0; j < c; j++)
			row[j] *= inv;
	}
	return loss;
}

/* The probabilities of the last forward pass. */
static float *
probs(const dml_model *m, model_work *w)
{
	return m->arch == MODEL_CNN ? cnn_forward_out(w->cnn) :
	    w->act[m->nlayers];
}

/* Forward pass; probs() ends up holding probabilities. */
static double
forward(const dml_model *m, model_work *w, const float *x, const int32_t *y,
    int b)
{
	const float *in = x, *p = m->params;

	if (m->arch == MODEL_CNN)
		return softmax_rows(cnn_forward(m->params, m->sizes[1],
		    w->cnn, x, b), b, m->sizes[1], y);

	for (int l = 0; l < m->nlayers; l++) {
		int ni = m->sizes[l], no = m->sizes[l + 1];
		const float *W = p, *bias = p + (size_t)no * ni;
		float *out = w->act[l + 1];

		for (int r = 0; r < b; r++)
			memcpy(out + (size_t)r * no, bias, no * sizeof *out);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, no, ni,
		    1.0f, in, ni, W, ni, 1.0f, out, no);
		if (l < m->nlayers - 1) {
			size_t k = (size_t)b * no;
			if (m->act == ACT_RELU)
				relu(out, k);
			else
				for (size_t i = 0; i < k; i++)
					out[i] = tanhf(out[i]);
		}
		in = out;
		p += (size_t)no * ni + no;
	}
	return softmax_rows(w->act[m->nlayers], b, m->sizes[m->nlayers], y);
}

const float *
model_forward(const dml_model *m, model_work *w, const float *x, int b)
{
	forward(m, w, x, NULL, b);
	return probs(m, w);
}

enum { MODE_GRAD, MODE_SGD, MODE_MOMENTUM };

/* Backward pass after forward(). MODE_GRAD writes the gradient to out;
 * the SGD modes update the parameters in place (out unused). Each layer's
 * delta for the layer below is computed before its weights change. */
static void
backward(dml_model *m, model_work *w, const float *x, const int32_t *y,
    int b, int mode, float *out, float lr, float mu, float wd)
{
	int L = m->nlayers, c = m->sizes[L];
	float *d = w->act[L], invb = 1.0f / (float)b;
	size_t off = m->nparams;

	for (int r = 0; r < b; r++) {
		float *row = d + (size_t)r * c;
		row[y[r]] -= 1.0f;
		for (int j = 0; j < c; j++)
			row[j] *= invb;
	}
	for (int l = L - 1; l >= 0; l--) {
		int ni = m->sizes[l], no = m->sizes[l + 1];
		const float *in = l ? w->act[l] : x;
		float *W, *bias, *gW, *gb, *cs = w->colsum;

		off -= (size_t)no * ni + no;
		W = m->params + off;
		bias = W + (size_t)no * ni;
		if (l > 0) {
			float *dp = w->delta[l], *a = w->act[l];
			size_t k = (size_t)b * ni;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			    b, ni, no, 1.0f, d, no, W, ni, 0.0f, dp, ni);
			if (m->act == ACT_RELU)
				relu_mask(dp, a, k);
			else
				for (size_t i = 0; i < k; i++)
					dp[i] *= 1 - a[i] * a[i];
		}
		cblas_sgemv(CblasRowMajor, CblasTrans, b, no, 1.0f, d, no,
		    w->ones, 1, 0.0f, cs, 1);
		if (mode == MODE_GRAD) {
			gW = out + off;
			gb = gW + (size_t)no * ni;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no,
			    ni, b, 1.0f, d, no, in, ni, 0.0f, gW, ni);
			memcpy(gb, cs, (size_t)no * sizeof *gb);
		} else if (mode == MODE_SGD) {
			/* w = (1 - lr wd) w - lr d^T in, in one sgemm */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no,
			    ni, b, -lr, d, no, in, ni, 1.0f - lr * wd, W, ni);
			for (int j = 0; j < no; j++)
				bias[j] = (1.0f - lr * wd) * bias[j] - lr * cs[j];
		} else {
			size_t k = (size_t)no * ni + no;
			gW = w->velocity + off;
			gb = gW + (size_t)no * ni;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no,
			    ni, b, 1.0f, d, no, in, ni, mu, gW, ni);
			for (int j = 0; j < no; j++)
				gb[j] = mu * gb[j] + cs[j];
			for (size_t i = 0; i < k; i++) {
				gW[i] += wd * W[i];
				W[i] -= lr * gW[i];
			}
		}
		if (l > 0)
			d = w->delta[l];
	}
}

/* The cnn's step: the whole gradient first, then model_step's rule. */
static void
cnn_step(dml_model *m, model_work *w, const int32_t *y, int b, float lr,
    float mu, float wd)
{
	float *W = m->params, *g, *v = w->velocity;

	if (!w->grad)
		w->grad = xmalloc(m->nparams * sizeof *w->grad);
	g = w->grad;
	cnn_backward(m->params, m->sizes[1], w->cnn, y, b, g);
	if (mu == 0) {
		for (size_t i = 0; i < m->nparams; i++)
			W[i] -= lr * (g[i] + wd * W[i]);
		return;
	}
	for (size_t i = 0; i < m->nparams; i++) {
		v[i] = mu * v[i] + g[i] + wd * W[i];
		W[i] -= lr * v[i];
	}
}

double
model_grad(const dml_model *m, model_work *w, const float *x,
    const int32_t *y, int b, float *grad)
{
	double loss = forward(m, w, x, y, b);

	if (m->arch == MODEL_CNN)
		cnn_backward(m->params, m->sizes[1], w->cnn, y, b, grad);
	else
		backward((dml_model *)m, w, x, y, b, MODE_GRAD, grad, 0, 0, 0);
	return loss / b;
}

double
model_step(dml_model *m, model_work *w, const float *x, const int32_t *y,
    int b, float lr, float momentum, float wd)
{
	double loss = forward(m, w, x, y, b);

	if (momentum != 0 && !w->velocity)
		w->velocity = xcalloc(m->nparams, sizeof *w->velocity);
	if (m->arch == MODEL_CNN) {
		cnn_step(m, w, y, b, lr, momentum, wd);
		return loss / b;
	}
	backward(m, w, x, y, b, momentum != 0 ? MODE_MOMENTUM : MODE_SGD,
	    NULL, lr, momentum, wd);
	return loss / b;
}

int
model_check_data(const dml_model *m, const dml_data *d)
{
	int c = m->sizes[m->nlayers];

	if (d->features != (size_t)m->sizes[0])
		return dml_error("%s: %zu features per sample, the model takes "
		    "%d", d->name, d->features, m->sizes[0]);
	for (size_t i = 0; i < d->n; i++)
		if (d->y[i] < 0 || d->y[i] >= c)
			return dml_error("%s: sample %zu has label %d, the model "
			    "has %d classes", d->name, i + 1, d->y[i], c);
	return 0;
}

int
model_evaluate(const dml_model *m, const dml_data *d, double *accuracy,
    double *loss)
{
	enum { B = 256 };
	model_work *w;
	int c = m->sizes[m->nlayers];
	size_t right = 0;
	double sum = 0;

	if (model_check_data(m, d) < 0)
		return -1;
	w = model_work_new(m, B);
	for (size_t i = 0; i < d->n; i += B) {
		int b = d->n - i < B ? (int)(d->n - i) : B;
		const float *p;
		sum += forward(m, w, d->x + i * d->features, d->y + i, b);
		p = probs(m, w);
		for (int r = 0; r < b; r++) {
			const float *row = p + (size_t)r * c;
			int best = 0;
			for (int j = 1; j < c; j++)
				if (row[j] > row[best])
					best = j;
			right += best == d->y[i + r];
		}
	}
	model_work_free(w);
	*accuracy = d->n ? (double)right / d->n : 0;
	*loss = d->n ? sum / d->n : 0;
	return 0;
}
