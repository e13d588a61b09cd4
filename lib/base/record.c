/* record: NDJSON reader with line numbers and zero-copy long strings,
 * canonical (RFC 8785) writer, and all-or-nothing output. */
#include "record.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct span {
	const char *p;
	size_t n;
};

struct rec_in {
	FILE *f;
	char *name;
	long line, count;
	char *buf;		/* current line */
	size_t cap, len;
	char *skel;		/* line with long strings replaced */
	size_t skelcap;
	struct span *spans;
	size_t nspan, spancap;
	int copy;
	char *iobuf;
};

rec_in *
rec_open(const char *path)
{
	rec_in *in;
	FILE *f;

	if (!path || strcmp(path, "-") == 0) {
		f = stdin;
		path = "<stdin>";
	} else {
		struct stat st;
		f = fopen(path, "re");
		if (!f)
			return dml_error_sys("%s", path), NULL;
		if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
			fclose(f);
			return errno = EISDIR, dml_error_sys("%s", path), NULL;
		}
	}
	in = xcalloc(1, sizeof *in);
	in->f = f;
	in->name = xstrdup(path);
	in->iobuf = xmalloc(1 << 20);
	setvbuf(f, in->iobuf, _IOFBF, 1 << 20);
	return in;
}

const char *rec_name(const rec_in *in) { return in ? in->name : "<input>"; }
long rec_line(const rec_in *in) { return in ? in->line : 0; }
long rec_count(const rec_in *in) { return in->count; }
void rec_set_copy(rec_in *in, int on) { in->copy = on; }

const char *
rec_raw(const rec_in *in, size_t *len)
{
	*len = in->len;
	return in->buf;
}

void
rec_close(rec_in *in)
{
	if (!in)
		return;
	if (in->f && in->f != stdin)
		fclose(in->f);
	else if (in->f == stdin)
		setvbuf(stdin, NULL, _IONBF, 0);
	free(in->iobuf);
	free(in->name);
	free(in->buf);
	free(in->skel);
	free(in->spans);
	free(in);
}

int
rec_err(const rec_in *in, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (in)
		return dml_error("%s:%ld: %s", in->name, in->line, msg);
	return dml_error("%s", msg);
}

static void
skel_reserve(rec_in *in, size_t n)
{
	if (n > in->skelcap) {
		in->skelcap = n + n / 2 + 64;
		in->skel = xrealloc(in->skel, in->skelcap);
	}
}

/* Length of the run of bytes that may sit unescaped in a zero-copy string:
 * printable ASCII other than '"' and '\\'. Eight bytes at a time. */
static size_t
plain_run(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *s = p;
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;

	while (end - p >= 8) {
		uint64_t w, q, b, lo;
		memcpy(&w, p, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		lo = w - ones * 0x20;	/* high bit set where byte < 0x20 */
		if (((q - ones) & ~q & high) || ((b - ones) & ~b & high) ||
		    ((lo | w) & high))
			break;
		p += 8;
	}
	while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
		p++;
	return (size_t)(p - s);
}

/* Copy the line into the skeleton, replacing long plain strings by
 * "\u0000<index>" and rejecting \u0000 escapes of the input itself. */
static int
make_skeleton(rec_in *in)
{
	const unsigned char *p = (const unsigned char *)in->buf,
			    *end = p + in->len;
	char *o;

	skel_reserve(in, in->len + 1);
	o = in->skel;
	in->nspan = 0;
	while (p < end) {
		const unsigned char *s;
		size_t run;

		if (*p != '"') {
			*o++ = (char)*p++;
			continue;
		}
		s = ++p;
		run = plain_run(p, end);
		if (run >= REC_BIG_STRING && !in->copy && s + run < end &&
		    s[run] == '"') {
			char tmp[32];
			int k;
			if (in->nspan == in->spancap) {
				in->spancap = in->spancap ? in->spancap * 2 : 8;
				in->spans = xrealloc(in->spans,
				    in->spancap * sizeof *in->spans);
			}
			in->spans[in->nspan].p = (const char *)s;
			in->spans[in->nspan].n = run;
			k = snprintf(tmp, sizeof tmp, "\"\\u0000%zu\"",
			    in->nspan++);
			memcpy(o, tmp, (size_t)k);	/* k < run + 2 */
			o += k;
			p = s + run + 1;
			continue;
		}
		/* ordinary string: copy through its closing quote */
		*o++ = '"';
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end) {
				if (p[1] == 'u' && end - p >= 6 &&
				    memcmp(p + 2, "0000", 4) == 0)
					return rec_err(in,
					    "NUL character in a string");
				*o++ = (char)*p++;
			}
			*o++ = (char)*p++;
		}
		if (p < end)
			*o++ = (char)*p++;
	}
	*o = 0;
	return (int)(o - in->skel);
}

/* The next non-blank line into in->buf: 1, 0 at the end, -1. */
static int
read_line(rec_in *in)
{
	ssize_t n;

	for (;;) {
		errno = 0;
		n = getline(&in->buf, &in->cap, in->f);
		if (n < 0) {
			if (ferror(in->f))
				return dml_error("%s: read error: %s", in->name,
				    strerror(errno ? errno : EIO));
			return 0;
		}
		in->line++;
		if (in->buf[n - 1] != '\n') {
			in->len = (size_t)n;
			return rec_err(in, "truncated record (no newline at "
			    "end of input)");
		}
		in->buf[--n] = 0;
		if (n && in->buf[n - 1] == '\r')
			in->buf[--n] = 0;
		in->len = (size_t)n;
		if (strspn(in->buf, " \t") != (size_t)n)
			return 1;
	}
}

/* The record of the line in in->buf. */
static int
parse_line(rec_in *in, json_t **out)
{
	json_error_t je;
	json_t *j;
	int sk;

	if (memchr(in->buf, 0, in->len))
		return rec_err(in, "NUL byte in input");
	sk = make_skeleton(in);
	if (sk < 0)
		return -1;
	j = json_loadb(in->skel, (size_t)sk,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!j)
		return rec_err(in, "malformed JSON at column %d: %s",
		    je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return rec_err(in, "a record must be a JSON object");
	}
	in->count++;
	*out = j;
	return 1;
}

int
rec_next(rec_in *in, json_t **out)
{
	int rc = read_line(in);

	return rc <= 0 ? rc : parse_line(in, out);
}

int
rec_next_if(rec_in *in, const char *needle, json_t **out)
{
	int rc = read_line(in);

	if (rc <= 0)
		return rc;
	if (!memmem(in->buf, in->len, needle, strlen(needle))) {
		*out = NULL;
		return 2;
	}
	return parse_line(in, out);
}

int
rec_str(const rec_in *in, const json_t *j, const char **p, size_t *n)
{
	const char *s;
	size_t len;

	if (!json_is_string(j))
		return -1;
	s = json_string_value(j);
	len = json_string_length(j);
	if (len > 1 && s[0] == 0) {
		size_t i = strtoul(s + 1, NULL, 10);
		if (!in || i >= in->nspan)
			return dml_error("internal: dangling string reference");
		*p = in->spans[i].p;
		*n = in->spans[i].n;
		return 0;
	}
	*p = s;
	*n = len;
	return 0;
}

/* A value with its zero-copy strings (a NUL and a reference into the
 * line buffer) made real: a new string for such a string, the value
 * itself (detached inside) otherwise; NULL on failure. */
static json_t *
detached(const rec_in *in, json_t *v)
{
	const char *p;
	size_t n;

	if (json_is_string(v) && json_string_length(v) > 1 &&
	    json_string_value(v)[0] == 0) {
		if (rec_str(in, v, &p, &n) < 0)
			return NULL;
		if (!(v = json_stringn(p, n)))
			dml_error("%s: a string is not UTF-8", rec_name(in));
		return v;
	}
	return rec_detach(in, v) < 0 ? NULL : v;
}

int
rec_detach(const rec_in *in, json_t *j)
{
	const char *k;
	size_t i;
	json_t *v, *c;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			if ((c = detached(in, v)) == NULL ||
			    (c != v && json_object_set_new(j, k, c) < 0))
				return -1;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if ((c = detached(in, v)) == NULL ||
			    (c != v && json_array_set_new(j, i, c) < 0))
				return -1;
	}
	return 0;
}

/* ---- field access ---------------------------------------------------- */

static const char *
jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static json_t *
need(const rec_in *in, const json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);
	if (!v)
		rec_err(in, "missing field \"%s\"", key);
	return v;
}

int
rec_check(const rec_in *in, const json_t *r, const char *type)
{
	json_t *t = json_object_get(r, "type"), *v = json_object_get(r, "v");

	if (!t)
		return rec_err(in, "missing field \"type\"");
	if (!json_is_string(t))
		return rec_err(in, "field \"type\" must be a string, not %s",
		    jtype(t));
	if (!v)
		return rec_err(in, "missing field \"v\"");
	if (!json_is_integer(v))
		return rec_err(in, "field \"v\" must be an integer, not %s",
		    jtype(v));
	if (type && strcmp(json_string_value(t), type) != 0)
		return rec_err(in, "expected a %s record, got %s", type,
		    json_string_value(t));
	if (json_integer_value(v) != DML_RECORD_V)
		return rec_err(in, "unsupported version %lld of %s",
		    json_integer_value(v), json_string_value(t));
	return 0;
}

int
rec_get_str(const rec_in *in, const json_t *r, const char *key,
    const char **out)
{
	json_t *v = need(in, r, key);
	if (!v)
		return -1;
	if (!json_is_string(v))
		return rec_err(in, "field \"%s\" must be a string, not %s", key,
		    jtype(v));
	if (json_string_length(v) > 1 && json_string_value(v)[0] == 0)
		return rec_err(in, "field \"%s\" is too long", key);
	*out = json_string_value(v);
	return 0;
}

int
rec_opt_str(const rec_in *in, const json_t *r, const char *key,
    const char **out)
{
	return json_object_get(r, key) ? rec_get_str(in, r, key, out) : 0;
}

int
rec_get_int(const rec_in *in, const json_t *r, const char *key, long long lo,
    long long hi, long long *out)
{
	json_t *v = need(in, r, key);
	long long x;

	if (!v)
		return -1;
	if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
	    fabs(json_real_value(v)) < 9e15)
		x = (long long)json_real_value(v);
	else if (!json_is_integer(v))
		return rec_err(in, "field \"%s\" must be an integer, not %s",
		    key, jtype(v));
	else
		x = json_integer_value(v);
	if (x < lo || x > hi)
		return rec_err(in, "field \"%s\" is %lld, outside [%lld, %lld]",
		    key, x, lo, hi);
	*out = x;
	return 0;
}

int
rec_opt_int(const rec_in *in, const json_t *r, const char *key, long long lo,
    long long hi, long long *out)
{
	return json_object_get(r, key) ? rec_get_int(in, r, key, lo, hi, out)
					: 0;
}

int
rec_get_num(const rec_in *in, const json_t *r, const char *key, double *out)
{
	json_t *v = need(in, r, key);
	if (!v)
		return -1;
	if (!json_is_number(v))
		return rec_err(in, "field \"%s\" must be a number, not %s", key,
		    jtype(v));
	*out = json_number_value(v);
	if (!isfinite(*out))
		return rec_err(in, "field \"%s\" is not finite", key);
	return 0;
}

int
rec_opt_num(const rec_in *in, const json_t *r, const char *key, double *out)
{
	return json_object_get(r, key) ? rec_get_num(in, r, key, out) : 0;
}

json_t *
rec_get_obj(const rec_in *in, const json_t *r, const char *key)
{
	json_t *v = need(in, r, key);
	if (v && !json_is_object(v))
		return rec_err(in, "field \"%s\" must be an object, not %s", key,
		    jtype(v)), NULL;
	return v;
}

json_t *
rec_get_arr(const rec_in *in, const json_t *r, const char *key)
{
	json_t *v = need(in, r, key);
	if (v && !json_is_array(v))
		return rec_err(in, "field \"%s\" must be an array, not %s", key,
		    jtype(v)), NULL;
	return v;
}

int
rec_get_amount(const rec_in *in, const json_t *r, const char *key,
    const char **out)
{
	const char *s;
	size_t n;

	if (rec_get_str(in, r, key, &s) < 0)
		return -1;
	n = strlen(s);
	if (n == 0 || n > 78 || strspn(s, "0123456789") != n ||
	    (s[0] == '0' && n > 1))
		return rec_err(in, "field \"%s\" must be a decimal token amount "
		    "(a string of digits), got \"%s\"", key, s);
	*out = s;
	return 0;
}

json_t *
rec_new(const char *type)
{
	json_t *r = json_object();
	json_object_set_new(r, "type", json_string(type));
	json_object_set_new(r, "v", json_integer(DML_RECORD_V));
	return r;
}

/* ---- canonical form (RFC 8785) ---------------------------------------- */

int
canon_double(double d, char *buf)
{
	char e[40], digits[24];
	int p, k = 0, exp10, n, neg = d < 0;
	char *s, *o = buf;

	if (!isfinite(d))
		return dml_error("a number is not finite (NaN or infinity)");
	if (d == 0) {
		strcpy(buf, "0");
		return 0;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	for (s = e + neg; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[k++] = *s;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = 0;
	exp10 = atoi(s + 1);
	n = exp10 + 1;		/* position of the decimal point */
	if (neg)
		*o++ = '-';
	if (k <= n && n <= 21) {
		memcpy(o, digits, (size_t)k);
		o += k;
		for (int i = k; i < n; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, digits, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, digits + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -n; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)k);
		o += k;
	} else {
		*o++ = digits[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	*o = 0;
	return 0;
}

/* Next UTF-16 code unit sequence of a UTF-8 string (already validated). */
static int
utf16_units(const unsigned char **s, const unsigned char *end, unsigned u[2])
{
	const unsigned char *p = *s;
	unsigned c;

	if (p[0] < 0x80) {
		c = p[0];
		p += 1;
	} else if ((p[0] & 0xe0) == 0xc0 && end - p >= 2) {
		c = (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu);
		p += 2;
	} else if ((p[0] & 0xf0) == 0xe0 && end - p >= 3) {
		c = (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu);
		p += 3;
	} else if (end - p >= 4) {
		c = (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 |
		    (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu);
		p += 4;
	} else {
		c = p[0];
		p += 1;
	}
	*s = p;
	if (c < 0x10000) {
		u[0] = c;
		return 1;
	}
	c -= 0x10000;
	u[0] = 0xd800 + (c >> 10);
	u[1] = 0xdc00 + (c & 0x3ff);
	return 2;
}

/* Compare two keys by their UTF-16 code units, as RFC 8785 sorts them. */
static int
key_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	const unsigned char *p = (const unsigned char *)x,
			    *q = (const unsigned char *)y;
	const unsigned char *pe = p + strlen(x), *qe = q + strlen(y);
	unsigned pu[2], qu[2];
	int pn = 0, qn = 0, pi = 0, qi = 0;

	for (;;) {
		if (pi == pn) {
			if (p == pe)
				break;
			pn = utf16_units(&p, pe, pu);
			pi = 0;
		}
		if (qi == qn) {
			if (q == qe)
				return 1;
			qn = utf16_units(&q, qe, qu);
			qi = 0;
		}
		if (pu[pi] != qu[qi])
			return pu[pi] < qu[qi] ? -1 : 1;
		pi++;
		qi++;
	}
	return (qi == qn && q == qe) ? 0 : -1;
}

static int
emit_string(const char *s, size_t n, canon_sink sink, void *ctx)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p,
			    *end = p + n;
	char esc[8];

	if (sink(ctx, "\"", 1) < 0)
		return -1;
	for (; p < end; p++) {
		const char *e = NULL;
		size_t el = 2;
		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (*p < 0x20) {
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0';
				esc[3] = '0'; esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				e = esc;
				el = 6;
			}
		}
		if (!e)
			continue;
		if (p > run && sink(ctx, run, (size_t)(p - run)) < 0)
			return -1;
		if (sink(ctx, e, el) < 0)
			return -1;
		run = p + 1;
	}
	if (p > run && sink(ctx, run, (size_t)(p - run)) < 0)
		return -1;
	return sink(ctx, "\"", 1);
}

static int
emit(const json_t *j, const rec_in *src, const char *skip, canon_sink sink,
    void *ctx, int depth)
{
	char num[40];

	if (depth > 64)
		return dml_error("JSON nested too deeply");
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0, m = 0;
		const char **keys = xmalloc((n ? n : 1) * sizeof *keys), *k;
		json_t *v;
		int rc = 0;

		json_object_foreach((json_t *)j, k, v) {
			if (skip && strcmp(k, skip) == 0)
				continue;
			keys[m++] = k;
		}
		qsort(keys, m, sizeof *keys, key_cmp);
		rc = sink(ctx, "{", 1);
		for (i = 0; rc == 0 && i < m; i++) {
			if (i && sink(ctx, ",", 1) < 0) {
				rc = -1;
				break;
			}
			if (emit_string(keys[i], strlen(keys[i]), sink, ctx) < 0 ||
			    sink(ctx, ":", 1) < 0 ||
			    emit(json_object_get(j, keys[i]), src, NULL, sink,
				ctx, depth + 1) < 0)
				rc = -1;
		}
		free(keys);
		return rc < 0 ? -1 : sink(ctx, "}", 1);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		if (sink(ctx, "[", 1) < 0)
			return -1;
		json_array_foreach(j, i, v) {
			if (i && sink(ctx, ",", 1) < 0)
				return -1;
			if (emit(v, src, NULL, sink, ctx, depth + 1) < 0)
				return -1;
		}
		return sink(ctx, "]", 1);
	}
	case JSON_STRING: {
		const char *p;
		size_t n;
		if (rec_str(src, j, &p, &n) < 0)
			return -1;
		if (p != json_string_value(j)) {	/* zero-copy: plain */
			if (sink(ctx, "\"", 1) < 0 || sink(ctx, p, n) < 0)
				return -1;
			return sink(ctx, "\"", 1);
		}
		return emit_string(p, n, sink, ctx);
	}
	case JSON_INTEGER: {
		int k = snprintf(num, sizeof num, "%lld", json_integer_value(j));
		return sink(ctx, num, (size_t)k);
	}
	case JSON_REAL:
		if (canon_double(json_real_value(j), num) < 0)
			return -1;
		return sink(ctx, num, strlen(num));
	case JSON_TRUE: return sink(ctx, "true", 4);
	case JSON_FALSE: return sink(ctx, "false", 5);
	default: return sink(ctx, "null", 4);
	}
}

int
canon_emit(const json_t *j, const rec_in *src, const char *skip,
    canon_sink sink, void *ctx)
{
	return emit(j, src, skip, sink, ctx, 0);
}

struct membuf {
	char *p;
	size_t n, cap;
};

static int
mem_sink(void *ctx, const void *p, size_t n)
{
	struct membuf *b = ctx;
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

char *
canon_dump(const json_t *j, const rec_in *src, const char *skip, size_t *len)
{
	struct membuf b = {0};

	b.cap = 256;
	b.p = xmalloc(b.cap);
	if (canon_emit(j, src, skip, mem_sink, &b) < 0) {
		free(b.p);
		return NULL;
	}
	b.p[b.n] = 0;
	if (len)
		*len = b.n;
	return b.p;
}

static int
file_sink(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

int
rec_write(FILE *f, const json_t *j, const rec_in *src)
{
	if (canon_emit(j, src, NULL, file_sink, f) < 0)
		return -1;
	return putc('\n', f) == EOF ? dml_error_sys("write error") : 0;
}

/* ---- all-or-nothing output ------------------------------------------- */

struct rec_out {
	FILE *f;
	char *path, *tmp;	/* tmp NULL: spool for stdout */
};

rec_out *
rec_out_open(const char *path)
{
	rec_out *o = xcalloc(1, sizeof *o);
	int fd;

	if (!path || strcmp(path, "-") == 0) {
		o->f = tmpfile();
		if (!o->f) {
			free(o);
			return dml_error_sys("cannot create a spool file"), NULL;
		}
		return o;
	}
	o->path = xstrdup(path);
	o->tmp = xasprintf("%s.tmp.XXXXXX", path);
	fd = mkstemp(o->tmp);
	if (fd < 0 || fchmod(fd, 0644) < 0 || !(o->f = fdopen(fd, "w"))) {
		dml_error_sys("%s", path);
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->path);
		free(o->tmp);
		free(o);
		return NULL;
	}
	return o;
}

int
rec_out_write(rec_out *o, const json_t *j, const rec_in *src)
{
	return rec_write(o->f, j, src);
}

int
rec_out_raw(rec_out *o, const void *p, size_t n)
{
	return fwrite(p, 1, n, o->f) == n ? 0 : dml_error_sys("write error");
}

int
rec_out_commit(rec_out *o)
{
	int rc = 0;

	if (fflush(o->f) != 0 || ferror(o->f)) {
		rec_out_abort(o);
		return dml_error_sys("write error");
	}
	if (o->tmp) {
		if (fsync(fileno(o->f)) < 0 || fclose(o->f) != 0 ||
		    rename(o->tmp, o->path) < 0) {
			rc = dml_error_sys("%s", o->path);
			unlink(o->tmp);
		}
	} else {
		char buf[1 << 16];
		size_t n;
		rewind(o->f);
		while ((n = fread(buf, 1, sizeof buf, o->f)) > 0)
			if (fwrite(buf, 1, n, stdout) != n) {
				rc = dml_error_sys("write error on stdout");
				break;
			}
		if (fflush(stdout) != 0 && rc == 0)
			rc = dml_error_sys("write error on stdout");
		fclose(o->f);
	}
	free(o->path);
	free(o->tmp);
	free(o);
	return rc;
}

void
rec_print_final(json_t *r)
{
	if (rec_write(stdout, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	dml_close_stdout();
}

int
rec_out_one(const char *path, const json_t *j, const rec_in *src)
{
	rec_out *o = rec_out_open(path);

	if (!o)
		return -1;
	if (rec_out_write(o, j, src) < 0) {
		rec_out_abort(o);
		return -1;
	}
	return rec_out_commit(o);
}

void
rec_out_abort(rec_out *o)
{
	if (!o)
		return;
	fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	free(o->path);
	free(o->tmp);
	free(o);
}

json_t *
rec_read_one(const char *path, rec_in **inp)
{
	rec_in *in = rec_open(path);
	json_t *r, *extra;
	int rc;

	*inp = NULL;
	if (!in)
		return NULL;
	rec_set_copy(in, 1);
	rc = rec_next(in, &r);
	if (rc == 0)
		dml_error("%s: empty input: no record", path);
	if (rc <= 0) {
		rec_close(in);
		return NULL;
	}
	rc = rec_next(in, &extra);
	if (rc != 0) {
		if (rc > 0) {
			rec_err(in, "more than one record");
			json_decref(extra);
		}
		json_decref(r);
		rec_close(in);
		return NULL;
	}
	*inp = in;
	return r;
}
