/* dmltest: what the unit tests of lib/ share beyond TAP: the text of the
 * last library error, replayable randomness (test_random), seeded random
 * datasets, the checks of a gradient and of an SGD step, and Fashion-MNIST
 * from the Debian package dataset-fashion-mnist. */
#ifndef DML_DMLTEST_H
#define DML_DMLTEST_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "data.h"
#include "model.h"
#include "tap.h"
#include "util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* Does the last error (dml_errmsg) say S? Prints it when not. */
static inline int
err_has(const char *s)
{
	int ok_ = strstr(dml_errmsg(), s) != NULL;

	if (!ok_)
		printf("#   error was: %s\n", dml_errmsg());
	return ok_;
}

/* Replayable randomness. test_random() takes the run's seed (tap_seed:
 * DML_TEST_SEED or a new one, printed) and makes it the source of every
 * randombytes draw of the test and of the library under test: draw K is
 * ChaCha20 (randombytes_buf_deterministic) keyed by the seed and K, so a
 * failing run replays exactly with DML_TEST_SEED=N. Call it before
 * sodium_init or dml_crypto_init: libsodium takes an implementation only
 * then. Thread-safe (the draw counter is atomic). Never for anything but
 * tests: the stream is as secret as its seed. */
static uint64_t test_rb_seed, test_rb_draws;

static inline void
test_rb_buf(void *const buf, const size_t n)
{
	unsigned char k[randombytes_SEEDBYTES] = {0};
	uint64_t draw = __atomic_fetch_add(&test_rb_draws, 1, __ATOMIC_RELAXED);

	for (int i = 0; i < 8; i++) {
		k[i] = (unsigned char)(test_rb_seed >> 8 * i);
		k[8 + i] = (unsigned char)(draw >> 8 * i);
	}
	randombytes_buf_deterministic(buf, n, k);
}

static inline uint32_t
test_rb_random(void)
{
	unsigned char b[4];

	test_rb_buf(b, sizeof b);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static inline const char *
test_rb_name(void)
{
	return "dmltest seeded";
}

static inline uint64_t
test_random(void)
{
	static randombytes_implementation impl = {
		test_rb_name, test_rb_random, NULL, NULL, test_rb_buf, NULL
	};

	test_rb_seed = tap_seed();
	randombytes_set_implementation(&impl);
	return test_rb_seed;
}

/* A random dataset: N rows of F features uniform in [0,1), labels below C,
 * from the seeded generator of data.h. */
static inline void
synth(dml_data *d, size_t n, size_t f, int c, uint64_t seed)
{
	dml_rng r;

	memset(d, 0, sizeof *d);
	rng_seed(&r, seed);
	d->n = n;
	d->features = f;
	d->classes = c;
	d->name = xstrdup("synth");
	d->x = xmalloc(n * f * sizeof *d->x);
	d->y = xmalloc(n * sizeof *d->y);
	for (size_t i = 0; i < n * f; i++)
		d->x[i] = (float)rng_uniform(&r);
	for (size_t i = 0; i < n; i++)
		d->y[i] = (int32_t)rng_below(&r, (uint64_t)c);
}

/* The largest gap between model_step's fused SGD step (learning rate LR,
 * weight decay WD, no momentum) on the first N rows of D and
 * params - LR (grad + WD params) from model_grad: 0 up to rounding. */
static inline double
step_error(const dml_model *m, const dml_data *d, int n, float lr, float wd)
{
	model_work *w = model_work_new(m, n);
	float *g = xmalloc(m->nparams * sizeof *g);
	dml_model s;
	double worst = 0;

	model_copy(&s, m);
	model_grad(m, w, d->x, d->y, n, g);
	model_step(&s, w, d->x, d->y, n, lr, 0, wd);
	for (size_t i = 0; i < m->nparams; i++)
		worst = fmax(worst, fabs(m->params[i] - (double)lr * (g[i] +
		    (double)wd * m->params[i]) - s.params[i]));
	free(g);
	model_work_free(w);
	model_free(&s);
	return worst;
}

/* The central difference of the mean loss over the first N rows of D in
 * parameter I with step H (SCRATCH holds m->nparams floats); *noise is
 * what float32 rounding of the two losses alone can put in it. */
static inline double
central_diff(dml_model *m, model_work *w, const dml_data *d, int n,
    size_t i, float h, float *scratch, double *noise)
{
	float keep = m->params[i], hi = keep + h, lo = keep - h;
	double up, down;

	m->params[i] = hi;
	up = model_grad(m, w, d->x, d->y, n, scratch);
	m->params[i] = lo;
	down = model_grad(m, w, d->x, d->y, n, scratch);
	m->params[i] = keep;
	/* the step actually taken is hi - lo as floats, not 2h */
	*noise = 64 * FLT_EPSILON * (fabs(up) + fabs(down)) /
	    ((double)hi - (double)lo);
	return (up - down) / ((double)hi - (double)lo);
}

/* How far G[I], model_grad's derivative of the mean loss over the first N
 * rows of D, is from the central difference with step H, in units of
 * what the check can resolve: 1 is the limit of agreement. The limit is
 * derived from float32 precision (the rounding noise of the losses over
 * the step) plus 2% of the derivative, and the step's h^2 error is
 * cancelled by extrapolating from H and H/2, so it holds for any correct BLAS
 * kernel. A parameter whose difference at H and at H/2 disagree beyond
 * that limit sits at a kink (a ReLU or a max-pool switching inside the
 * step), where a derivative check says nothing: -1, and the caller skips
 * it. SCRATCH holds m->nparams floats. */
static inline double
grad_error(dml_model *m, model_work *w, const dml_data *d, int n,
    const float *g, size_t i, float h, float *scratch)
{
	double n1, n2, d1, d2, lim;

	d1 = central_diff(m, w, d, n, i, h, scratch, &n1);
	d2 = central_diff(m, w, d, n, i, h / 2, scratch, &n2);
	lim = n1 + n2 + 0.02 * (fabs(d1) + fabs(g[i]));
	if (fabs(d1 - d2) > lim)
		return -1;
	/* Richardson's extrapolation cancels the h^2 term of both */
	return fabs((4 * d2 - d1) / 3 - g[i]) / lim;
}

/* Load Fashion-MNIST's training and t10k sets: 0 when loaded; 1 when the
 * package is not installed (one skip line printed; the caller returns);
 * -1 when a file does not load (a failed test printed). */
static inline int
fmnist_load(dml_data *tr, dml_data *te)
{
	if (access(FMNIST "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
		ok(1, "# skip Fashion-MNIST not installed");
		return 1;
	}
	if (data_load_idx(tr, FMNIST "/train-images-idx3-ubyte.gz",
	    FMNIST "/train-labels-idx1-ubyte.gz") < 0)
		goto bad;
	if (data_load_idx(te, FMNIST "/t10k-images-idx3-ubyte.gz",
	    FMNIST "/t10k-labels-idx1-ubyte.gz") < 0) {
		data_free(tr);
		goto bad;
	}
	return 0;
bad:
	ok(0, "Fashion-MNIST loads: %s", dml_errmsg());
	return -1;
}

#endif
