/* train_c: the C side of contrib/bench/train.sh.
 *
 * Loads the Fashion-MNIST training and test sets into memory, then times
 * libdml's training (what dml-run does on a device) for E epochs and
 * prints one TSV line: tool, seconds per epoch, accuracy on t10k after
 * training. Data loading is outside the timing, as in train_torch.py.
 *   mlp  the 784-200-200-10 ReLU MLP, plain minibatch SGD (task_train)
 *   cnn  the arch "cnn" model (model.h), SGD with momentum 0.9 and weight
 *        decay 5e-4 (task_train_sgd)
 *
 * usage: train_c mlp|cnn [DATADIR [EPOCHS [BATCH [LR [SEED]]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	int cnn = argc > 1 && strcmp(argv[1], "cnn") == 0;
	const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
	int epochs = argc > 3 ? atoi(argv[3]) : 1;
	int batch = argc > 4 ? atoi(argv[4]) : 32;
	double lr = argc > 5 ? atof(argv[5]) : 0.05;
	unsigned long long seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 1;
	int mlp_sizes[] = {784, 200, 200, 10}, cnn_sizes[] = {784, 10};
	dml_data tr, te;
	dml_model m;
	double *delta, t0, secs, acc, loss;
	long n;

	dml_setprog("train_c");
	if (argc < 2 || (!cnn && strcmp(argv[1], "mlp") != 0)) {
		fprintf(stderr, "usage: train_c mlp|cnn [DATADIR [EPOCHS [BATCH "
		    "[LR [SEED]]]]]\n");
		return 2;
	}
	load(&tr, dir, "train");
	load(&te, dir, "t10k");
	if ((cnn ? model_init(&m, MODEL_CNN, cnn_sizes, 2, ACT_RELU, seed) :
	    model_init(&m, MODEL_MLP, mlp_sizes, 4, ACT_RELU, seed)) < 0)
		dml_fail(2);
	delta = xmalloc(m.nparams * sizeof *delta);

	t0 = now();
	n = cnn ? task_train_sgd(&m, &tr, epochs, batch, lr, 0.9, 5e-4, seed,
	    delta, &loss) : task_train(&m, &tr, epochs, batch, lr, seed, delta,
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
