/*
 * model: the dml.model record and the math of the models it describes.
 *
 * A model is a multilayer perceptron: layers [n0, n1, ..., nL] are the
 * widths from the input (n0 features) to the output (nL classes); every
 * hidden layer applies the activation (relu or tanh), the output a
 * softmax, and the loss is the mean cross-entropy. arch "softmax" is the
 * mlp without a hidden layer (layers [n0, nL], multinomial logistic
 * regression).
 *
 * arch "cnn" is a fixed LeNet-style network for 28 x 28 single-channel
 * images (row-major pixels, 784 features): conv 1->6 5x5, relu, max-pool
 * 2x2, conv 6->16 5x5, relu, max-pool 2x2 (valid convolutions, stride 1:
 * 28->24->12->8->4), then dense 256->120, relu, 120->84, relu, 84->C and
 * the softmax. Its layers are [784, C] (nlayers 1; C classes); act must
 * be relu. Its flat parameters, in this order:
 *   conv1 W [6][5][5]       then b [6]        (offset 0, 150; 6)
 *   conv2 W [16][5][5][6]   then b [16]       (offset 156, 2400; 16)
 *   fc1   W [120][256]      then b [120]      (offset 2572)
 *   fc2   W [84][120]       then b [84]       (offset 33412)
 *   fc3   W [C][84]         then b [C]        (offset 43576)
 * conv2 W is [out][ky][kx][in] (PyTorch's [out][in][ky][kx] permuted);
 * fc1's input is the pooled map channel-major, c * 16 + y * 4 + x, as
 * PyTorch's flatten of [16][4][4]. P = 43576 + 85 C (44426 for 10
 * classes). Its initialisation follows the rule below with fan-in 25,
 * 150, 256, 120 and, for fc3, Glorot over 84 + C.
 *
 * Parameters of the mlp and softmax are one flat float vector, layer by layer: for l = 1..L,
 * W_l as [n_l][n_{l-1}] row-major (row = output unit), then b_l [n_l].
 * P = sum over l of n_l * n_{l-1} + n_l.
 *
 * The record:
 *   {"type":"dml.model","v":1,"arch":"mlp"|"softmax"|"cnn","layers":[...],
 *    "act":"relu"|"tanh","params":<tensor f32 [P]>,
 *    "name":str?, "parent":CID?, "round":int?}
 *
 * Batches are row-major [b][n0] floats; the products run on OpenBLAS
 * sgemm (the cnn's convolutions as im2col products, see cnn.h). A model_work holds every buffer a batch needs, so training
 * allocates nothing per step. A model_work is tied to one model's shape
 * and is not shared between threads.
 *
 * Initialisation: weights of a layer followed by relu are He uniform,
 * U(-sqrt(6/n_in), sqrt(6/n_in)); other layers (tanh, output) Glorot
 * uniform, U(-sqrt(6/(n_in+n_out)), +); biases 0. Draws come from the
 * seeded generator of data.h in parameter order, so a seed gives the same
 * model everywhere.
 *
 * Not for: reading datasets (see data) or device tasks (see task).
 */
#ifndef DML_MODEL_H
#define DML_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_MAXLAYERS 16	/* weight layers */
#define MODEL_MAXWIDTH (1 << 20)
#define MODEL_MAXPARAMS (1LL << 31)

enum model_arch { MODEL_SOFTMAX, MODEL_MLP, MODEL_CNN };
enum model_act { ACT_RELU, ACT_TANH };

typedef struct dml_model {
	enum model_arch arch;
	enum model_act act;
	int nlayers;			/* weight layers L */
	int sizes[MODEL_MAXLAYERS + 1];	/* n0 .. nL */
	size_t nparams;			/* P */
	float *params;			/* [P], owned */
	char *name;			/* owned, or NULL */
	char *parent;			/* owned CID text, or NULL */
	long long round;		/* -1 when absent */
} dml_model;

const char *model_arch_name(enum model_arch a);
const char *model_act_name(enum model_act a);
int model_arch_parse(const char *s, enum model_arch *a);
int model_act_parse(const char *s, enum model_act *a);

/* P of an mlp or softmax of the widths sizes[0..nsizes); 0 if a width
 * is out of range. (A cnn's P is in its layout above.) */
size_t model_nparams(const int *sizes, int nsizes);

/* A new model with seeded weights. softmax needs nsizes == 2, mlp >= 2,
 * cnn sizes {784, C} and ACT_RELU.
 * -1 with dml_error on a bad shape. */
int model_init(dml_model *m, enum model_arch arch, const int *sizes,
    int nsizes, enum model_act act, uint64_t seed);
/* Validate a dml.model record (type, v, arch, layers, act, P, finite
 * params) and decode it. Errors name the input: "file:line: what". */
int model_from_record(dml_model *m, const rec_in *in, const json_t *r);
/* Read a file holding exactly one dml.model record. */
int model_load(dml_model *m, const char *path);
/* The record (new reference); optional fields only when set. */
json_t *model_to_record(const dml_model *m);
/* Deep copy. */
void model_copy(dml_model *dst, const dml_model *src);
void model_free(dml_model *m);

/* The refining step: w[i] += eta * delta[i] / weight for i < P, with the
 * sum-form delta of task_train (summed over devices) and the summed
 * weight. -1 (model unchanged) if weight <= 0 or a result is not finite
 * in f32. */
int model_apply_sum(dml_model *m, const double *delta, double weight,
    double eta);

/* Buffers for batches of up to `batch` rows. */
typedef struct model_work model_work;
model_work *model_work_new(const dml_model *m, int batch);
void model_work_free(model_work *w);

/* Class probabilities of b rows (b <= batch): [b][nL], valid until the
 * next call with w. */
const float *model_forward(const dml_model *m, model_work *w, const float *x,
    int b);
/* Gradient of the mean cross-entropy of b rows with labels y (each in
 * [0, nL)) into grad[P]; returns the mean loss. */
double model_grad(const dml_model *m, model_work *w, const float *x,
    const int32_t *y, int b, float *grad);
/* One SGD step on b rows, in place: with g = grad + wd * w,
 *   momentum 0:  w -= lr * g
 *   momentum mu: v = mu * v + g; w -= lr * v   (v starts at 0, kept in w)
 * Returns the mean loss of the batch before the step. */
double model_step(dml_model *m, model_work *w, const float *x,
    const int32_t *y, int b, float lr, float momentum, float wd);

/* Accuracy (argmax, ties to the lower class) and mean cross-entropy on a
 * dataset. -1 if the features or a label do not fit the model. */
int model_evaluate(const dml_model *m, const dml_data *d, double *accuracy,
    double *loss);
/* Does the dataset fit the model (features, labels < classes)? */
int model_check_data(const dml_model *m, const dml_data *d);

#ifdef __cplusplus
}
#endif

#endif
