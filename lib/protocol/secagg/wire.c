/* secagg wire: the fields of the protocol's records (32-byte keys in hex,
 * lists of device indices, base64 blobs), the job, round and session every
 * record of a round carries, and the state files that keep secrets between
 * steps. Not for: what the fields mean (roster.c, device.c, node.c). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "secagg_private.h"
#include "util.h"

int
sa_get_hex32(const rec_in *in, const json_t *r, const char *key,
    unsigned char out[32])
{
	const char *s;
	size_t bl;

	if (rec_get_str(in, r, key, &s) < 0)
		return -1;
	if (strlen(s) != 64 || sodium_hex2bin(out, 32, s, 64, NULL, &bl,
	    NULL) != 0 || bl != 32)
		return rec_err(in, "field \"%s\" must be 64 hex digits", key);
	return 0;
}

void
sa_set_hex32(json_t *r, const char *key, const unsigned char b[32])
{
	char hex[65];

	sodium_bin2hex(hex, sizeof hex, b, 32);
	json_object_set_new(r, key, json_string(hex));
	sodium_memzero(hex, sizeof hex);
}

/* Overwrite a secret string held by the tree before it is freed. */
void
sa_wipe_field(json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);

	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v),
		    json_string_length(v));
}

/* A strictly ascending array of indices in 1..n. *out malloc'd. */
int
sa_get_idx(const rec_in *in, const json_t *r, const char *key, uint32_t n,
    uint32_t **out, uint32_t *count)
{
	json_t *a = rec_get_arr(in, r, key), *v;
	size_t i;
	uint32_t *x;

	if (!a)
		return -1;
	x = xmalloc((json_array_size(a) + 1) * sizeof *x);
	json_array_foreach(a, i, v) {
		json_int_t j = json_integer_value(v);
		if (!json_is_integer(v) || j < 1 || j > (json_int_t)n ||
		    (i && (uint32_t)j <= x[i - 1])) {
			free(x);
			return rec_err(in, "\"%s\"[%zu] must be a device index "
			    "in 1..%u, ascending, without repeats", key, i, n);
		}
		x[i] = (uint32_t)j;
	}
	*out = x;
	*count = (uint32_t)json_array_size(a);
	return 0;
}

json_t *
sa_idx_json(const uint32_t *x, uint32_t n)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(x[i]));
	return a;
}

int
sa_in_list(const uint32_t *x, uint32_t n, uint32_t v)
{
	return bsearch(&v, x, n, sizeof *x, sa_cmp_u32) != NULL;
}

/* The record's job, round and (from the share step on) session must be
 * the round's. */
int
sa_check_round(const rec_in *in, const json_t *r, const char *job,
    long long round, const unsigned char *session)
{
	const char *j;
	long long rd;
	unsigned char s[32];

	if (rec_get_str(in, r, "job", &j) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &rd) < 0)
		return -1;
	if (strcmp(j, job) != 0)
		return rec_err(in, "a record for another job");
	if (rd != round)
		return rec_err(in, "a record of round %lld, this is round %lld "
		    "(replayed?)", rd, round);
	if (session) {
		if (sa_get_hex32(in, r, "session", s) < 0)
			return -1;
		if (memcmp(s, session, 32) != 0)
			return rec_err(in, "a record of another secure "
			    "aggregation session");
	}
	return 0;
}

/* A new record of a round's step: its job, round and session. */
json_t *
sa_round_rec(const char *type, const char *job, long long round,
    const unsigned char session[32])
{
	json_t *r = rec_new(type);

	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	sa_set_hex32(r, "session", session);
	return r;
}

void
sa_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t
sa_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

json_t *
sa_b64_json(const void *p, size_t n)
{
	char *s = xmalloc(b64_enclen(n) + 1);
	json_t *j;

	b64_encode(s, p, n);
	j = json_string(s);
	free(s);
	return j;
}

/* A base64 string field that holds n bytes: its text. Check it before
 * making room for n bytes the record only claims. */
int
sa_b64_field(const rec_in *in, const json_t *r, const char *key, size_t n,
    const char **s, size_t *sl)
{
	if (rec_str(in, json_object_get(r, key), s, sl) < 0)
		return rec_err(in, "field \"%s\" must be a base64 string", key);
	if (*sl != b64_enclen(n))
		return rec_err(in, "field \"%s\" must hold %zu bytes", key, n);
	return 0;
}

/* Decode a base64 string field of exactly n bytes into dst. */
int
sa_get_b64(const rec_in *in, const json_t *r, const char *key, void *dst,
    size_t n)
{
	const char *s;
	size_t sl;
	unsigned char *tmp;
	long long got;

	if (sa_b64_field(in, r, key, n, &s, &sl) < 0)
		return -1;
	tmp = xmalloc(b64_declen(sl) + 4);
	got = b64_decode(tmp, s, sl);
	if (got == (long long)n)
		memcpy(dst, tmp, n);
	free(tmp);
	if (got != (long long)n)
		return rec_err(in, "field \"%s\": bad base64", key);
	return 0;
}

int
sa_state_write(const char *path, json_t *st)
{
	size_t n;
	char *s = canon_dump(st, NULL, NULL, &n);
	int rc;

	if (!s)
		return -1;
	s = xrealloc(s, n + 2);
	s[n++] = '\n';
	rc = dml_write_file(path, s, n, 0600);
	sodium_memzero(s, n);
	free(s);
	if (rc < 0)
		return dml_error_prefix("%s", path);
	return 0;
}

json_t *
sa_state_read(const char *path, const char *type)
{
	char *buf;
	size_t n;
	json_t *st;
	json_error_t e;
	const char *t;

	if (dml_read_file(path, &buf, &n) < 0)
		return dml_error_prefix("state %s", path), NULL;
	st = json_loadb(buf, n, 0, &e);
	sodium_memzero(buf, n);
	free(buf);
	if (!st || !json_is_object(st) ||
	    !(t = json_string_value(json_object_get(st, "type"))) ||
	    strcmp(t, type) != 0) {
		json_decref(st);
		return dml_error("%s: not a %s state file", path, type), NULL;
	}
	return st;
}

int
sa_state_absent(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0)
		return dml_error("%s: a state file exists already (a round in "
		    "progress?)", path);
	return 0;
}

/* r signed with k, or NULL (r freed) with dml_error. */
json_t *
sa_signed_rec(json_t *r, const dml_key *k)
{
	if (rec_sign(r, k) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}
