/* task: local training, prediction and statistics, as sums. */
#include "task.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

long
task_train(const dml_model *base, const dml_data *d, int epochs, int batch,
    double lr, uint64_t seed, double *delta_out, double *loss_out)
{
	return task_train_sgd(base, d, epochs, batch, lr, 0, 0, seed,
	    delta_out, loss_out);
}

long
task_train_sgd(const dml_model *base, const dml_data *d, int epochs,
    int batch, double lr, double momentum, double wd, uint64_t seed,
    double *delta_out, double *loss_out)
{
	dml_model m;
	model_work *w;
	dml_rng r;
	size_t *order, F = d->features;
	float *xb;
	int32_t *yb;
	double loss = 0;

	if (epochs < 0 || batch < 1 || !(lr >= 0) || !(momentum >= 0 &&
	    momentum < 1) || !(wd >= 0))
		return dml_error("task_train: bad epochs, batch, rate, momentum "
		    "or weight decay");
	if (d->n == 0)
		return dml_error("%s: no samples to train on", d->name);
	if (model_check_data(base, d) < 0)
		return -1;
	if ((size_t)batch > d->n)
		batch = (int)d->n;	/* one batch per epoch; no larger buffers */
	model_copy(&m, base);
	w = model_work_new(&m, batch);
	order = xmalloc(d->n * sizeof *order);
	xb = xmalloc((size_t)batch * F * sizeof *xb);
	yb = xmalloc((size_t)batch * sizeof *yb);
	for (size_t i = 0; i < d->n; i++)
		order[i] = i;
	rng_seed(&r, seed);
	for (int e = 0; e < epochs; e++) {
		rng_shuffle(&r, order, d->n);
		loss = 0;
		for (size_t i = 0; i < d->n; i += (size_t)batch) {
			int b = d->n - i < (size_t)batch ? (int)(d->n - i) :
			    batch;
			for (int k = 0; k < b; k++) {
				size_t s = order[i + k];
				memcpy(xb + (size_t)k * F, d->x + s * F,
				    F * sizeof *xb);
				yb[k] = d->y[s];
			}
			loss += b * model_step(&m, w, xb, yb, b, (float)lr,
			    (float)momentum, (float)wd);
		}
		loss /= d->n;
	}
	for (size_t i = 0; i < m.nparams; i++)
		delta_out[i] = (double)d->n * ((double)m.params[i] -
		    (double)base->params[i]);
	if (loss_out)
		*loss_out = loss;
	free(order);
	free(xb);
	free(yb);
	model_work_free(w);
	model_free(&m);
	return (long)d->n;
}

long
task_predict(const dml_model *m, const dml_data *d, double *hist,
    double *prob)
{
	enum { B = 256 };
	int c = m->sizes[m->nlayers];
	model_work *w;

	if (model_check_data(m, d) < 0)
		return -1;
	memset(hist, 0, (size_t)c * sizeof *hist);
	memset(prob, 0, (size_t)c * sizeof *prob);
	w = model_work_new(m, B);
	for (size_t i = 0; i < d->n; i += B) {
		int b = d->n - i < B ? (int)(d->n - i) : B;
		const float *p = model_forward(m, w, d->x + i * d->features, b);
		for (int r = 0; r < b; r++) {
			const float *row = p + (size_t)r * c;
			int best = 0;
			for (int j = 0; j < c; j++) {
				prob[j] += row[j];
				if (row[j] > row[best])
					best = j;
			}
			hist[best] += 1;
		}
	}
	model_work_free(w);
	return (long)d->n;
}

long
task_stats(const dml_data *d, int bins, double *sum, double *sumsq,
    double *hist, double *labels)
{
	size_t F = d->features;

	if (bins < 1)
		return dml_error("task_stats: bins must be at least 1");
	memset(sum, 0, F * sizeof *sum);
	memset(sumsq, 0, F * sizeof *sumsq);
	memset(hist, 0, F * (size_t)bins * sizeof *hist);
	memset(labels, 0, (size_t)d->classes * sizeof *labels);
	for (size_t i = 0; i < d->n; i++) {
		const float *x = d->x + i * F;
		for (size_t j = 0; j < F; j++) {
			double v = x[j];
			int k = v < 0 ? 0 : v >= 1 ? bins - 1 : (int)(v * bins);
			if (k >= bins)
				k = bins - 1;
			sum[j] += v;
			sumsq[j] += v * v;
			hist[j * (size_t)bins + (size_t)k] += 1;
		}
		if (d->y[i] >= 0 && d->y[i] < d->classes)
			labels[d->y[i]] += 1;
	}
	return (long)d->n;
}
