/*
 * cnn: the arithmetic of arch "cnn" models, for model.c. model.h
 * documents the network and its parameter layout; this module only runs
 * it: im2col and OpenBLAS sgemm for the convolutions, 2x2 max pooling,
 * sgemm for the dense layers. Backward through a convolution visits only
 * the positions its max pooling passed on (a quarter, fewer after relu)
 * instead of a dense product.
 *
 * Not for: the record, the softmax, the loss or the SGD update (model.c
 * owns those), or any other image size than 28 x 28 x 1.
 */
#ifndef DML_CNN_H
#define DML_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CNN_INPUTS 784		/* 28 x 28 x 1 */

/* P for a cnn of `classes` outputs. */
size_t cnn_nparams(int classes);
/* Seeded weights into p[P] (model.h: He uniform before a relu, Glorot
 * uniform for the output layer, biases 0, drawn in parameter order). */
void cnn_init(float *p, int classes, dml_rng *r);

/* Buffers for batches of up to `batch` rows; owned by the caller. */
typedef struct cnn_work cnn_work;
cnn_work *cnn_work_new(int classes, int batch);
void cnn_work_free(cnn_work *w);

/* The logits [b][classes] of b images x [b][784], in a buffer of w. The
 * caller turns them into probabilities in place before cnn_backward. */
float *cnn_forward(const float *p, int classes, cnn_work *w, const float *x,
    int b);
/* That buffer: the probabilities after the caller's softmax. */
float *cnn_forward_out(cnn_work *w);
/* Gradient of the mean cross-entropy into grad[P], from the
 * probabilities cnn_forward's buffer holds and the labels y. Overwrites
 * that buffer. */
void cnn_backward(const float *p, int classes, cnn_work *w, const int32_t *y,
    int b, float *grad);

#ifdef __cplusplus
}
#endif

#endif
