/* train_cnn_c: the C side of contrib/bench/train-cnn.sh.
 *
 * Loads the Fashion-MNIST training and test sets into memory, then times
 * task_train_sgd (what dml-run does on a device) for E epochs of
 * minibatch SGD with momentum and weight decay of the arch "cnn" model
 * (model.h), and prints one TSV line: tool, seconds per epoch, accuracy on
 * t10k after training. Data loading is outside the timing, as in
 * train_cnn_torch.py.
 *
 * usage: train_cnn_c [DATADIR [EPOCHS [BATCH [LR [SEED]]]]]
 *        (momentum 0.9, weight decay 5e-4)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "data.h"
#include "model.h"
#include "task.h"
#include "util.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
load(dml_data *d, const char *dir, const char *part)
{
	char *a = xasprintf("%s/%s-images-idx3-ubyte.gz", dir, part);
	char *b = xasprintf("%s/%s-labels-idx1-ubyte.gz", dir, part);

	if (data_load_idx(d, a, b) < 0)
		dml_fail(2);
	free(a);
	free(b);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	int epochs = argc > 2 ? atoi(argv[2]) : 1;
	int batch = argc > 3 ? atoi(argv[3]) : 32;
	double lr = argc > 4 ? atof(argv[4]) : 0.05;
	unsigned long long seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
	int sizes[] = {784, 10};
	dml_data tr, te;
	dml_model m;
	double *delta, t0, secs, acc, loss;
	long n;

	dml_setprog("train_cnn_c");
	load(&tr, dir, "train");
	load(&te, dir, "t10k");
	if (model_init(&m, MODEL_CNN, sizes, 2, ACT_RELU, seed) < 0)
		dml_fail(2);
	delta = xmalloc(m.nparams * sizeof *delta);

	t0 = now();
	n = task_train_sgd(&m, &tr, epochs, batch, lr, 0.9, 5e-4, seed, delta,
	    &loss);
	secs = (now() - t0) / (epochs > 0 ? epochs : 1);
	if (n < 0)
		dml_fail(2);

	for (size_t i = 0; i < m.nparams; i++)
		m.params[i] += (float)(delta[i] / (double)n);
	if (model_evaluate(&m, &te, &acc, &loss) < 0)
		dml_fail(2);
	printf("dml\t%.3f\t%.4f\n", secs, acc);
	free(delta);
	model_free(&m);
	data_free(&tr);
	data_free(&te);
	return 0;
}
