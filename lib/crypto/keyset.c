/* keyset: a set of 32-byte keys (see keyset.h). */
#include "keyset.h"
#include "sign.h"
#include "util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The keys sit in one dense array (32 bytes each, insertion order) and an
 * open-addressing table of 4-byte indices into it finds them: about 37
 * bytes a key. SipHash with a random key spreads keys an adversary chose;
 * the table's order never reaches the output (keyset_sorted sorts). */
struct keyset {
	unsigned char *key;
	size_t count, kcap;
	uint32_t *idx;		/* 0 empty, else 1 + index into key */
	size_t cap;		/* a power of two, at most 3/4 full */
	unsigned char hk[crypto_shorthash_KEYBYTES];
};

keyset *
keyset_new(void)
{
	keyset *s = xcalloc(1, sizeof *s);

	s->cap = 64;
	s->idx = xcalloc(s->cap, sizeof *s->idx);
	randombytes_buf(s->hk, sizeof s->hk);
	return s;
}

void
keyset_free(keyset *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->idx);
	free(s);
}

/* The table slot holding k, or the empty slot where it would go. */
static uint32_t *
probe(const keyset *s, const unsigned char k[32])
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t x;
	size_t i, mask = s->cap - 1;

	crypto_shorthash(h, k, 32, s->hk);
	memcpy(&x, h, sizeof x);
	for (i = (size_t)x & mask;; i = (i + 1) & mask) {
		uint32_t *p = &s->idx[i];
		if (!*p || memcmp(s->key + 32 * (size_t)(*p - 1), k, 32) == 0)
			return p;
	}
}

static void
reindex(keyset *s, size_t cap)
{
	free(s->idx);
	s->cap = cap;
	s->idx = xcalloc(cap, sizeof *s->idx);
	for (size_t i = 0; i < s->count; i++)
		*probe(s, s->key + 32 * i) = (uint32_t)(i + 1);
}

int
keyset_add(keyset *s, const unsigned char k[32])
{
	uint32_t *p;

	if (s->count >= UINT32_MAX - 1)
		dml_die(DML_EXIT_USAGE, "too many keys");
	if ((s->count + 1) * 4 > s->cap * 3)
		reindex(s, s->cap * 2);
	p = probe(s, k);
	if (*p)
		return 0;
	if (s->count == s->kcap) {
		s->kcap = s->kcap ? s->kcap + s->kcap / 2 : 64;
		s->key = xrealloc(s->key, s->kcap * 32);
	}
	memcpy(s->key + 32 * s->count++, k, 32);
	*p = (uint32_t)s->count;
	return 1;
}

int
keyset_has(const keyset *s, const unsigned char k[32])
{
	return *probe(s, k) != 0;
}

size_t
keyset_count(const keyset *s)
{
	return s->count;
}

static int
cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

const unsigned char *
keyset_sorted(keyset *s)
{
	qsort(s->key, s->count, 32, cmp32);
	reindex(s, s->cap);
	return s->key;
}

/* One line of a devices file: hex, dml.pubkey or a record with "device". */
static int
key_line(const char *line, unsigned char k[32])
{
	json_error_t je;
	json_t *r, *v;
	int rc;

	if (line[0] != '{')
		return key_parse_hex(line, k);
	r = json_loads(line, 0, &je);
	if (!r || !json_is_object(r)) {
		json_decref(r);
		return dml_error("not a key, a dml.pubkey record or a record "
		    "with \"device\"");
	}
	v = json_object_get(r, "device");
	if (!v && json_is_string(json_object_get(r, "type")) &&
	    strcmp(json_string_value(json_object_get(r, "type")),
		"dml.pubkey") == 0)
		v = json_object_get(r, "key");
	rc = json_is_string(v) ? key_parse_hex(json_string_value(v), k) :
	    dml_error("record has no \"device\" (nor is a dml.pubkey)");
	json_decref(r);
	return rc;
}

int
keyset_load(keyset *s, const char *path)
{
	char *buf, *line, *next, *end;
	size_t len;
	long ln = 0;
	unsigned char k[32];

	if (dml_read_file(path, &buf, &len) < 0)
		return -1;
	end = buf + len;
	for (line = buf; line < end; line = next) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *e;
		next = nl ? nl + 1 : end;
		e = nl ? nl : end;
		*e = 0;
		ln++;
		while (e > line && (e[-1] == '\r' || e[-1] == ' ' ||
		    e[-1] == '\t'))
			*--e = 0;
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (key_line(line, k) < 0) {
			dml_error_prefix("%s:%ld", path, ln);
			free(buf);
			return -1;
		}
		keyset_add(s, k);
	}
	free(buf);
	return 0;
}
