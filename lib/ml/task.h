/*
 * task: what a device computes on its local data. Each function returns
 * sums, counts and deltas only, never a row of the data, so the results
 * can be added across devices (and encrypted, masked, aggregated) as they
 * are. The caller allocates every output array and the functions
 * overwrite it (they do not accumulate into it).
 *
 * The functions return the number of samples used, n, or -1 with a
 * dml_error when the data does not fit the model (feature count, a label
 * outside the model's classes) or the arguments are out of range.
 *
 * Not for: reading jobs, encrypting or signing results (see devrun).
 */
#ifndef DML_TASK_H
#define DML_TASK_H

#include <stdint.h>

#include "data.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* E epochs of minibatch SGD (no momentum, no weight decay) from `base`,
 * batches of `batch` rows (the last batch of an epoch may be smaller),
 * learning rate lr, sample order shuffled each epoch by a generator
 * seeded with `seed`. Writes the update in sum form,
 *   delta_out[i] = n * (w_local[i] - w_base[i]),   i < P,
 * so an aggregator adds deltas and divides by the summed n. loss_out
 * (may be NULL) receives the mean training loss of the last epoch. The
 * same model, data, arguments and seed give the same delta bit for bit
 * (with the same OpenBLAS build and thread count). */
long task_train(const dml_model *base, const dml_data *d, int epochs,
    int batch, double lr, uint64_t seed, double *delta_out,
    double *loss_out);

/* task_train with momentum mu and weight decay wd (model_step's rule:
 * g = grad + wd w; v = mu v + g; w -= lr v, v starting at 0 for each
 * call). mu = wd = 0 is task_train exactly. */
long task_train_sgd(const dml_model *base, const dml_data *d, int epochs,
    int batch, double lr, double momentum, double wd, uint64_t seed,
    double *delta_out, double *loss_out);

/* hist[c] = number of local samples whose most probable class is c,
 * prob[c] = sum over samples of the predicted probability of class c;
 * both of size C = the model's classes. */
long task_predict(const dml_model *m, const dml_data *d, double *hist,
    double *prob);

/* Per feature j < F (F = d->features): sum[j] = sum of x_j, sumsq[j] =
 * sum of x_j^2, and hist[j * bins + k] = count of samples with x_j in bin
 * k of [0, 1] cut into `bins` equal bins: k = floor(x_j * bins), with
 * x_j < 0 counted in bin 0 and x_j >= 1 in bin bins-1 (so bin bins-1 is
 * closed: [1 - 1/bins, 1]). labels[c] = count of label c for c < C
 * (C = d->classes); labels of C or more are not counted. bins >= 1. */
long task_stats(const dml_data *d, int bins, double *sum, double *sumsq,
    double *hist, double *labels);

#ifdef __cplusplus
}
#endif

#endif
