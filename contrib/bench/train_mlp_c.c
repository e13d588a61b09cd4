/* train_mlp_c: the C side of contrib/bench/train-mlp.sh.
 *
 * Loads the Fashion-MNIST training and test sets into memory, then times
 * task_train (what dml-run does on a device) for E epochs of minibatch SGD
 * of the 784-200-200-10 ReLU MLP, and prints one TSV line: tool, seconds
 * per epoch, accuracy on t10k after training. Data loading is outside the
 * timing, as in train_mlp_torch.py.
 *
 * usage: train_mlp_c [DATADIR [EPOCHS [BATCH [LR [SEED]]]]]
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

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	int epochs = argc > 2 ? atoi(argv[2]) : 1;
	int batch = argc > 3 ? atoi(argv[3]) : 32;
	double lr = argc > 4 ? atof(argv[4]) : 0.05;
	unsigned long long seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
	int sizes[] = {784, 200, 200, 10};
	dml_data tr, te;
	dml_model m;
	double *delta, t0, secs, acc, loss;
	char *a, *b;
	long n;

	dml_setprog("train_mlp_c");
	a = xasprintf("%s/train-images-idx3-ubyte.gz", dir);
	b = xasprintf("%s/train-labels-idx1-ubyte.gz", dir);
	if (data_load_idx(&tr, a, b) < 0)
		dml_fail(2);
	free(a);
	free(b);
	a = xasprintf("%s/t10k-images-idx3-ubyte.gz", dir);
	b = xasprintf("%s/t10k-labels-idx1-ubyte.gz", dir);
	if (data_load_idx(&te, a, b) < 0)
		dml_fail(2);
	free(a);
	free(b);
	if (model_init(&m, MODEL_MLP, sizes, 4, ACT_RELU, seed) < 0)
		dml_fail(2);
	delta = xmalloc(m.nparams * sizeof *delta);

	t0 = now();
	n = task_train(&m, &tr, epochs, batch, lr, seed, delta, &loss);
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
