/*
 * tensor: dense arrays as they travel in records, and base64.
 *
 * On the wire a tensor is {"dtype":"f32","shape":[...],"data":"<base64 of
 * the little-endian bytes>"}. The base64 codec here is table driven and
 * several times faster than a constant-time one; tensor data is not secret
 * (secrets use sodium's codec).
 *
 * Not for: arithmetic on tensors (model, aggregate do that).
 */
#ifndef DML_TENSOR_H
#define DML_TENSOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dml_dtype { DT_F32, DT_F64, DT_I32, DT_U8, DT_NONE = -1 };

#define TENSOR_MAXDIM 8

typedef struct dml_tensor {
	enum dml_dtype dtype;
	int ndim;
	int64_t shape[TENSOR_MAXDIM];
	size_t n;		/* number of elements */
	void *data;		/* owned; host byte order (little endian) */
} dml_tensor;

const char *dtype_name(enum dml_dtype t);
enum dml_dtype dtype_parse(const char *s);
size_t dtype_size(enum dml_dtype t);

/* Parse the header (dtype, shape) and locate the base64 text without
 * decoding. *b64 points into the tree or the reader's line buffer. */
int tensor_header(const rec_in *in, const json_t *j, const char *field,
    dml_tensor *hdr, const char **b64, size_t *b64len);
/* Decode a tensor record field into t (t->data malloc'd). */
int tensor_from_json(const rec_in *in, const json_t *j, const char *field,
    dml_tensor *t);
/* Decode the base64 of a tensor whose header is known into dst (n bytes). */
int tensor_decode_data(const char *b64, size_t b64len, void *dst, size_t n);
/* New JSON tensor from raw little-endian data. */
json_t *tensor_to_json(enum dml_dtype dtype, int ndim, const int64_t *shape,
    const void *data);
json_t *tensor_json(const dml_tensor *t);
/* Allocate a zeroed tensor. */
void tensor_alloc(dml_tensor *t, enum dml_dtype dtype, int ndim,
    const int64_t *shape);
void tensor_free(dml_tensor *t);
/* Element i as double, whatever the dtype. */
double tensor_get(const dml_tensor *t, size_t i);

/* base64 (RFC 4648 standard alphabet, padded). Encode writes
 * b64_enclen(n) bytes and a NUL. Decode rejects bad characters, bad
 * padding and non-zero unused bits (one text per byte string); returns
 * the decoded length or -1. dst must hold b64_declen(len) bytes. */
size_t b64_enclen(size_t n);
size_t b64_declen(size_t len);
void b64_encode(char *dst, const void *src, size_t n);
long long b64_decode(void *dst, const char *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif
