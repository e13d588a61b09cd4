/* tensor: wire form of dense arrays; fast base64. */
#include "tensor.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *names[] = {"f32", "f64", "i32", "u8"};

const char *
dtype_name(enum dml_dtype t)
{
	return t >= 0 && t <= DT_U8 ? names[t] : "?";
}

enum dml_dtype
dtype_parse(const char *s)
{
	for (int i = 0; i <= DT_U8; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum dml_dtype)i;
	return DT_NONE;
}

size_t
dtype_size(enum dml_dtype t)
{
	switch (t) {
	case DT_F32: case DT_I32: return 4;
	case DT_F64: return 8;
	case DT_U8: return 1;
	default: return 0;
	}
}

/* ---- base64 ---------------------------------------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
#define BAD 0x01000000u
static uint32_t dec0[256], dec1[256], dec2[256], dec3[256];
static uint16_t enc12[4096];
static int tables_ready;

static void
tables(void)
{
	if (__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE))
		return;
	for (int i = 0; i < 256; i++)
		dec0[i] = dec1[i] = dec2[i] = dec3[i] = BAD;
	for (uint32_t i = 0; i < 64; i++) {
		unsigned char c = (unsigned char)b64chars[i];
		dec0[c] = i << 18;
		dec1[c] = i << 12;
		dec2[c] = i << 6;
		dec3[c] = i;
	}
	for (int i = 0; i < 4096; i++) {
		unsigned char pair[2] = {(unsigned char)b64chars[i >> 6],
		    (unsigned char)b64chars[i & 63]};
		memcpy(&enc12[i], pair, 2);
	}
	__atomic_store_n(&tables_ready, 1, __ATOMIC_RELEASE);
}

size_t b64_enclen(size_t n) { return (n + 2) / 3 * 4; }
size_t b64_declen(size_t len) { return len / 4 * 3 + 3; }

void
b64_encode(char *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t i = 0;

	tables();
	for (; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
		    s[i + 2];
		memcpy(dst, &enc12[w >> 12], 2);
		memcpy(dst + 2, &enc12[w & 4095], 2);
		dst += 4;
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)s[i] << 16;
		*dst++ = b64chars[w >> 18];
		*dst++ = b64chars[(w >> 12) & 63];
		*dst++ = '=';
		*dst++ = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*dst++ = b64chars[w >> 18];
		*dst++ = b64chars[(w >> 12) & 63];
		*dst++ = b64chars[(w >> 6) & 63];
		*dst++ = '=';
	}
	*dst = 0;
}

long long
b64_decode(void *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	unsigned char *d = dst, *d0 = dst;
	size_t full, i = 0;
	int pad = 0;

	tables();
	if (len % 4)
		return -1;
	if (len && s[len - 1] == '=')
		pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
	full = len / 4 - (pad ? 1 : 0);
	/* two groups per round; each writes 4 bytes of which 3 count */
	for (; i + 2 <= full; i += 2) {
		const unsigned char *p = s + i * 4;
		uint32_t a = dec0[p[0]] | dec1[p[1]] | dec2[p[2]] | dec3[p[3]];
		uint32_t b = dec0[p[4]] | dec1[p[5]] | dec2[p[6]] | dec3[p[7]];
		if ((a | b) & BAD)
			return -1;
		d[0] = (unsigned char)(a >> 16);
		d[1] = (unsigned char)(a >> 8);
		d[2] = (unsigned char)a;
		d[3] = (unsigned char)(b >> 16);
		d[4] = (unsigned char)(b >> 8);
		d[5] = (unsigned char)b;
		d += 6;
	}
	for (; i < full; i++) {
		const unsigned char *p = s + i * 4;
		uint32_t a = dec0[p[0]] | dec1[p[1]] | dec2[p[2]] | dec3[p[3]];
		if (a & BAD)
			return -1;
		*d++ = (unsigned char)(a >> 16);
		*d++ = (unsigned char)(a >> 8);
		*d++ = (unsigned char)a;
	}
	if (pad) {
		const unsigned char *p = s + full * 4;
		uint32_t a = dec0[p[0]] | dec1[p[1]];
		if (pad == 1)
			a |= dec2[p[2]];
		if (a & BAD)
			return -1;
		if (pad == 2 && (a & 0xffff))
			return -1;	/* non-zero unused bits */
		if (pad == 1 && (a & 0xff))
			return -1;
		*d++ = (unsigned char)(a >> 16);
		if (pad == 1)
			*d++ = (unsigned char)(a >> 8);
	}
	return (long long)(d - d0);
}

/* ---- tensors --------------------------------------------------------- */

int
tensor_header(const rec_in *in, const json_t *j, const char *field,
    dml_tensor *hdr, const char **b64, size_t *b64len)
{
	const char *dt;
	json_t *shape, *data, *v;
	size_t i, n = 1;

	memset(hdr, 0, sizeof *hdr);
	if (!json_is_object(j))
		return rec_err(in, "tensor \"%s\" must be an object", field);
	if (rec_get_str(in, j, "dtype", &dt) < 0)
		return dml_error_prefix("tensor \"%s\"", field);
	hdr->dtype = dtype_parse(dt);
	if (hdr->dtype == DT_NONE)
		return rec_err(in, "tensor \"%s\": unknown dtype \"%s\"", field,
		    dt);
	shape = json_object_get(j, "shape");
	if (!json_is_array(shape))
		return rec_err(in, "tensor \"%s\": \"shape\" must be an array",
		    field);
	if (json_array_size(shape) > TENSOR_MAXDIM)
		return rec_err(in, "tensor \"%s\": more than %d dimensions",
		    field, TENSOR_MAXDIM);
	json_array_foreach(shape, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (1LL << 40))
			return rec_err(in, "tensor \"%s\": bad dimension %zu",
			    field, i);
		hdr->shape[i] = json_integer_value(v);
		n *= (size_t)hdr->shape[i];
		if (n > (1ULL << 40))
			return rec_err(in, "tensor \"%s\": too large", field);
	}
	hdr->ndim = (int)json_array_size(shape);
	hdr->n = n;
	data = json_object_get(j, "data");
	if (!data)
		return rec_err(in, "tensor \"%s\": missing field \"data\"",
		    field);
	if (rec_str(in, data, b64, b64len) < 0)
		return rec_err(in, "tensor \"%s\": \"data\" must be a string",
		    field);
	if (*b64len != b64_enclen(n * dtype_size(hdr->dtype)))
		return rec_err(in, "tensor \"%s\": data holds %zu base64 "
		    "characters, shape [%zu elements of %s] needs %zu", field,
		    *b64len, n, dt, b64_enclen(n * dtype_size(hdr->dtype)));
	return 0;
}

int
tensor_decode_data(const char *b64, size_t b64len, void *dst, size_t n)
{
	long long r;
	unsigned char *tmp;

	if (b64len != b64_enclen(n))
		return dml_error("base64 length does not match");
	/* the decoder may need up to 3 bytes of slack only for padding; it
	 * writes exactly the decoded length, so decode in place */
	if (b64_declen(b64len) <= n + 3) {
		r = b64_decode(dst, b64, b64len);
		if (r != (long long)n)
			return dml_error("bad base64");
		return 0;
	}
	tmp = xmalloc(b64_declen(b64len));
	r = b64_decode(tmp, b64, b64len);
	if (r == (long long)n)
		memcpy(dst, tmp, n);
	free(tmp);
	return r == (long long)n ? 0 : dml_error("bad base64");
}

int
tensor_from_json(const rec_in *in, const json_t *j, const char *field,
    dml_tensor *t)
{
	const char *b64;
	size_t len, bytes;

	if (tensor_header(in, j, field, t, &b64, &len) < 0)
		return -1;
	bytes = t->n * dtype_size(t->dtype);
	t->data = xmalloc(bytes + 3);
	if (b64_decode(t->data, b64, len) != (long long)bytes) {
		free(t->data);
		t->data = NULL;
		return rec_err(in, "tensor \"%s\": bad base64 in \"data\"",
		    field);
	}
	if (t->dtype == DT_F32 || t->dtype == DT_F64)
		for (size_t i = 0; i < t->n; i++)
			if (!isfinite(tensor_get(t, i))) {
				free(t->data);
				t->data = NULL;
				return rec_err(in, "tensor \"%s\": element %zu "
				    "is not finite", field, i);
			}
	return 0;
}

json_t *
tensor_to_json(enum dml_dtype dtype, int ndim, const int64_t *shape,
    const void *data)
{
	json_t *j = json_object(), *sh = json_array();
	size_t n = 1, bytes;
	char *b;

	for (int i = 0; i < ndim; i++) {
		json_array_append_new(sh, json_integer(shape[i]));
		n *= (size_t)shape[i];
	}
	bytes = n * dtype_size(dtype);
	b = xmalloc(b64_enclen(bytes) + 1);
	b64_encode(b, data, bytes);
	json_object_set_new(j, "dtype", json_string(dtype_name(dtype)));
	json_object_set_new(j, "shape", sh);
	json_object_set_new(j, "data", json_stringn_nocheck(b,
	    b64_enclen(bytes)));
	free(b);
	return j;
}

json_t *
tensor_json(const dml_tensor *t)
{
	return tensor_to_json(t->dtype, t->ndim, t->shape, t->data);
}

void
tensor_alloc(dml_tensor *t, enum dml_dtype dtype, int ndim,
    const int64_t *shape)
{
	memset(t, 0, sizeof *t);
	t->dtype = dtype;
	t->ndim = ndim;
	t->n = 1;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		t->n *= (size_t)shape[i];
	}
	t->data = xcalloc(t->n ? t->n : 1, dtype_size(dtype) + 0);
}

void
tensor_free(dml_tensor *t)
{
	free(t->data);
	t->data = NULL;
}

double
tensor_get(const dml_tensor *t, size_t i)
{
	switch (t->dtype) {
	case DT_F32: return ((const float *)t->data)[i];
	case DT_F64: return ((const double *)t->data)[i];
	case DT_I32: return ((const int32_t *)t->data)[i];
	case DT_U8: return ((const uint8_t *)t->data)[i];
	default: return 0;
	}
}
