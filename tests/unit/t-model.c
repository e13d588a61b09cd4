/* model and task: shapes, seeded init, the record, gradients against
 * finite differences, softmax stability, SGD steps, training
 * determinism, the sum-form delta, and accuracy on Fashion-MNIST. */
#include "model.h"
#include "task.h"
#include "tensor.h"
#include "util.h"
#include "dmltest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_shape_init(void)
{
	int mlp[] = {784, 200, 200, 10}, sm[] = {784, 10}, bad[] = {3, 0, 2};
	dml_model a, b;
	int same = 1, bounded = 1;

	ok(model_nparams(mlp, 4) == 199210, "P of 784-200-200-10 is 199210");
	ok(model_nparams(sm, 2) == 7850, "P of softmax 784-10 is 7850");
	ok(model_nparams(bad, 3) == 0, "a zero width is refused");
	ok(model_init(&a, MODEL_SOFTMAX, mlp, 4, ACT_RELU, 1) < 0,
	    "softmax with hidden layers refused");
	model_init(&a, MODEL_MLP, mlp, 4, ACT_RELU, 7);
	model_init(&b, MODEL_MLP, mlp, 4, ACT_RELU, 7);
	ok(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0,
	    "same seed, same initial weights");
	for (size_t i = 0; i < 784 * 200; i++)
		if (fabsf(a.params[i]) > sqrtf(6.0f / 784))
			bounded = 0;
	ok(bounded, "first layer within the He uniform bound");
	ok(a.params[784 * 200] == 0 && a.params[784 * 200 + 199] == 0,
	    "biases start at 0");
	model_free(&b);
	model_init(&b, MODEL_MLP, mlp, 4, ACT_RELU, 8);
	same = memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0;
	ok(!same, "another seed, other weights");
	model_free(&a);
	model_free(&b);
}

static json_t *
reparse(const json_t *r)
{
	char *s = canon_dump(r, NULL, NULL, NULL);
	json_t *j = json_loads(s, 0, NULL);

	free(s);
	return j;
}

static void
test_record(void)
{
	int sizes[] = {5, 4, 3};
	dml_model a, b;
	json_t *r, *j;

	model_init(&a, MODEL_MLP, sizes, 3, ACT_TANH, 3);
	a.name = xstrdup("tiny");
	a.parent = xstrdup("bafkreihgeqk6n3dzcfmp55yy3c266t5tgchsjdd7ftzjc6bfxm6wem6qlm");
	a.round = 4;
	r = model_to_record(&a);
	j = reparse(r);
	ok(model_from_record(&b, NULL, j) == 0 && b.nparams == a.nparams &&
	    memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0 &&
	    b.act == ACT_TANH && b.nlayers == 2 && b.round == 4 &&
	    strcmp(b.name, "tiny") == 0 && strcmp(b.parent, a.parent) == 0,
	    "record round trip keeps params, shape, name, parent, round");
	model_free(&b);
	json_decref(j);

	j = reparse(r);
	json_object_set_new(j, "arch", json_string("rnn"));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("unknown "
	    "architecture \"rnn\""), "unknown arch refused");
	json_decref(j);
	j = reparse(r);
	json_object_set_new(j, "layers", json_pack("[i,i,i]", 5, 4, 4));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("shape [44]"),
	    "layers not matching P refused");
	json_decref(j);
	j = reparse(r);
	json_object_set_new(j, "layers", json_pack("[i,s]", 5, "4"));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("\"layers\"[1]"),
	    "non-integer width refused");
	json_decref(j);
	j = reparse(r);
	json_object_del(j, "params");
	ok(model_from_record(&b, NULL, j) < 0 && err_has("missing field "
	    "\"params\""), "missing params refused");
	json_decref(j);
	j = reparse(r);
	json_object_set_new(j, "arch", json_string("softmax"));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("softmax model has "
	    "2"), "softmax with 3 widths refused");
	json_decref(j);
	j = reparse(r);
	json_object_set_new(j, "parent", json_string("Qmnotacid"));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("not a CID"),
	    "bad parent refused");
	json_decref(j);
	j = reparse(r);
	json_object_set_new(j, "type", json_string("dml.result"));
	ok(model_from_record(&b, NULL, j) < 0 && err_has("expected a "
	    "dml.model"), "wrong type refused");
	json_decref(j);
	{
		float inf[47] = {0};
		int64_t sh[1] = {47};
		inf[3] = INFINITY;
		j = reparse(r);
		json_object_set_new(j, "params", tensor_to_json(DT_F32, 1, sh,
		    inf));
		ok(model_from_record(&b, NULL, j) < 0 && err_has("not finite"),
		    "non-finite parameter refused");
		json_decref(j);
	}
	json_decref(r);
	model_free(&a);
}

static void
gradcheck(enum model_act act, const char *what)
{
	int sizes[] = {6, 5, 4, 3};
	dml_model m;
	dml_data d;
	model_work *w;
	float *g, *g2;
	double worst = 0;
	size_t kinks = 0;

	model_init(&m, MODEL_MLP, sizes, 4, act, 11);
	/* non-zero biases, and no pre-activation exactly at a relu kink */
	for (size_t i = 0; i < m.nparams; i++)
		m.params[i] += 0.05f * (float)((i * 7) % 5) - 0.093f;
	synth(&d, 8, 6, 3, 12);
	w = model_work_new(&m, 8);
	g = xmalloc(m.nparams * sizeof *g);
	g2 = xmalloc(m.nparams * sizeof *g2);
	model_grad(&m, w, d.x, d.y, 8, g);
	/* small steps: a relu unit near 0 must not cross its kink */
	for (size_t i = 0; i < m.nparams; i++) {
		double e = grad_error(&m, w, &d, 8, g, i, 1e-2f, g2);
		if (e < 0)
			kinks++;
		else
			worst = fmax(worst, e);
	}
	ok(worst <= 1 && kinks * 4 <= m.nparams, "%s: backward agrees with "
	    "central differences (worst %.2g of the float32 limit; %zu of "
	    "%zu at a kink)", what, worst, kinks, m.nparams);
	free(g);
	free(g2);
	model_work_free(w);
	model_free(&m);
	data_free(&d);
}

static void
test_softmax_stable(void)
{
	int sizes[] = {3, 4};
	dml_model m;
	model_work *w;
	float x[6] = {1e4f, -1e4f, 3e4f, 0, 0, 0};
	int32_t y[2] = {0, 3};
	const float *p;
	float *g;
	double loss, s = 0;
	int finite = 1;

	model_init(&m, MODEL_SOFTMAX, sizes, 2, ACT_RELU, 1);
	for (size_t i = 0; i < 12; i++)
		m.params[i] = (float)(i % 4) * 10.0f - 15.0f;
	w = model_work_new(&m, 2);
	p = model_forward(&m, w, x, 2);
	for (int i = 0; i < 8; i++) {
		if (!isfinite(p[i]) || p[i] < 0)
			finite = 0;
		if (i < 4)
			s += p[i];
	}
	ok(finite && fabs(s - 1) < 1e-6, "softmax of logits near 1e5 is "
	    "finite and sums to 1");
	g = xmalloc(m.nparams * sizeof *g);
	loss = model_grad(&m, w, x, y, 2, g);
	ok(isfinite(loss) && loss > 1e4, "loss of a confident wrong class is "
	    "large but finite (%.4g)", loss);
	free(g);
	model_work_free(w);
	model_free(&m);
}

static void
test_step(void)
{
	int sizes[] = {6, 5, 3};
	dml_model a, b;
	dml_data d;
	model_work *w;
	float *g;
	double worst = 0;

	model_init(&a, MODEL_MLP, sizes, 3, ACT_RELU, 5);
	synth(&d, 10, 6, 3, 6);
	worst = step_error(&a, &d, 10, 0.1f, 0.01f);
	ok(worst < 1e-6, "fused SGD step = params - lr (grad + wd params) "
	    "(%.2g)", worst);
	w = model_work_new(&a, 10);
	g = xmalloc(a.nparams * sizeof *g);
	model_copy(&b, &a);
	model_step(&b, w, d.x, d.y, 10, 0.1f, 0.9f, 0);
	model_step(&b, w, d.x, d.y, 10, 0.1f, 0.9f, 0);
	{
		/* by hand: v1 = g1, w1 = w0 - lr v1; v2 = 0.9 v1 + g2 */
		dml_model c;
		float *g2 = xmalloc(a.nparams * sizeof *g2);
		model_copy(&c, &a);
		model_grad(&c, w, d.x, d.y, 10, g);
		for (size_t i = 0; i < c.nparams; i++)
			c.params[i] -= 0.1f * g[i];
		model_grad(&c, w, d.x, d.y, 10, g2);
		worst = 0;
		for (size_t i = 0; i < c.nparams; i++) {
			double want = c.params[i] - 0.1 * (0.9 * g[i] + g2[i]);
			worst = fmax(worst, fabs(want - b.params[i]));
		}
		ok(worst < 1e-6, "momentum steps follow v = mu v + g (%.2g)",
		    worst);
		free(g2);
		model_free(&c);
	}
	free(g);
	model_work_free(w);
	model_free(&a);
	model_free(&b);
	data_free(&d);
}

static void
test_task(void)
{
	int sizes[] = {6, 5, 3};
	dml_model m;
	dml_data d;
	model_work *w;
	double *d1, *d2, hist[3], prob[3], worst = 0;
	float *g;
	long n;

	model_init(&m, MODEL_MLP, sizes, 3, ACT_RELU, 21);
	synth(&d, 50, 6, 3, 22);
	d1 = xmalloc(m.nparams * sizeof *d1);
	d2 = xmalloc(m.nparams * sizeof *d2);
	n = task_train(&m, &d, 2, 8, 0.1, 99, d1, NULL);
	task_train(&m, &d, 2, 8, 0.1, 99, d2, NULL);
	ok(n == 50 && memcmp(d1, d2, m.nparams * sizeof *d1) == 0,
	    "same seed, bit-identical delta");
	task_train(&m, &d, 2, 8, 0.1, 100, d2, NULL);
	ok(memcmp(d1, d2, m.nparams * sizeof *d1) != 0,
	    "another seed, another delta");

	/* one full-batch epoch: delta = n * (-lr * grad) */
	task_train(&m, &d, 1, 50, 0.1, 1, d1, NULL);
	w = model_work_new(&m, 50);
	g = xmalloc(m.nparams * sizeof *g);
	model_grad(&m, w, d.x, d.y, 50, g);
	for (size_t i = 0; i < m.nparams; i++)
		worst = fmax(worst, fabs(d1[i] - 50 * (-0.1 * g[i])));
	ok(worst < 1e-4, "delta is in sum form: n * (w_local - w_base) "
	    "(%.2g)", worst);
	ok(task_predict(&m, &d, hist, prob) == 50 &&
	    hist[0] + hist[1] + hist[2] == 50 &&
	    fabs(prob[0] + prob[1] + prob[2] - 50) < 1e-3,
	    "predict: histogram and probabilities each sum to n");
	d.y[3] = 3;
	ok(task_train(&m, &d, 1, 8, 0.1, 1, d1, NULL) < 0 &&
	    err_has("label 3, the model has 3 classes"),
	    "a label outside the model's classes refused");
	free(g);
	free(d1);
	free(d2);
	model_work_free(w);
	model_free(&m);
	data_free(&d);
}

static void
test_fmnist(void)
{
	int sizes[] = {784, 10};
	dml_model m;
	dml_data tr, te;
	double *delta, acc, loss;
	long n;

	if (fmnist_load(&tr, &te) != 0)
		return;
	ok(tr.n == 60000 && tr.features == 784 && tr.classes == 10,
	    "Fashion-MNIST train");
	ok(te.n == 10000, "Fashion-MNIST t10k");
	data_truncate(&tr, 10000);
	model_init(&m, MODEL_SOFTMAX, sizes, 2, ACT_RELU, 1);
	delta = xmalloc(m.nparams * sizeof *delta);
	/* batch 8, lr 0.02: 1250 steps; bigger steps end the epoch noisier */
	n = task_train(&m, &tr, 1, 8, 0.02, 1, delta, NULL);
	ok(model_apply_sum(&m, delta, (double)n, 1.0) == 0, "apply delta");
	ok(model_evaluate(&m, &te, &acc, &loss) == 0 && acc > 0.75 &&
	    loss < 0.8, "softmax after one epoch on 10000 samples: accuracy "
	    "%.4f > 0.75, loss %.4f", acc, loss);
	free(delta);
	model_free(&m);
	data_free(&tr);
	data_free(&te);
}

int
main(void)
{
	test_shape_init();
	test_record();
	gradcheck(ACT_TANH, "tanh MLP");
	gradcheck(ACT_RELU, "relu MLP");
	test_softmax_stable();
	test_step();
	test_task();
	test_fmnist();
	return done_testing();
}
