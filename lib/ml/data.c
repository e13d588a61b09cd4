/* data: IDX, CSV and device-folder datasets; simulated labellers and
 * attackers. */
#include "data.h"
#include "record.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- IDX ---------------------------------------------------------------- */

static int
gz_fail(gzFile f, const char *path)
{
	int zerr;
	const char *msg = gzerror(f, &zerr);

	if (zerr == Z_ERRNO)
		return dml_error_sys("%s: read error", path);
	return dml_error("%s: bad gzip data: %s", path, msg);
}

/* Read exactly n bytes; *got receives how many arrived. */
static int
gz_read_all(gzFile f, const char *path, void *buf, size_t n, size_t *got)
{
	unsigned char *p = buf;

	*got = 0;
	while (*got < n) {
		size_t want = n - *got;
		int r = gzread(f, p + *got, want > (1u << 30) ? 1u << 30 :
		    (unsigned)want);
		if (r < 0)
			return gz_fail(f, path);
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* One IDX file of unsigned bytes: dims[0] is the item count. */
static int
idx_read(const char *path, int maxdim, int *ndim, uint32_t *dims,
    unsigned char **out)
{
	unsigned char hdr[4], be[4], extra;
	size_t got, total = 1;
	gzFile f;
	int rc = -1;

	*out = NULL;
	if (is_dir(path))
		return errno = EISDIR, dml_error_sys("%s", path);
	f = gzopen(path, "rb");
	if (!f)
		return errno ? dml_error_sys("%s", path) :
		    dml_error("%s: cannot open", path);
	if (gz_read_all(f, path, hdr, 4, &got) < 0)
		goto out;
	if (got < 4 || hdr[0] != 0 || hdr[1] != 0) {
		dml_error("%s: not an IDX file (bad magic number)", path);
		goto out;
	}
	if (hdr[2] != 0x08) {
		dml_error("%s: IDX element type 0x%02x not supported (only "
		    "0x08, unsigned byte)", path, hdr[2]);
		goto out;
	}
	if (hdr[3] < 1 || hdr[3] > maxdim) {
		dml_error("%s: IDX file has %d dimensions, expected 1 to %d",
		    path, hdr[3], maxdim);
		goto out;
	}
	*ndim = hdr[3];
	for (int i = 0; i < *ndim; i++) {
		if (gz_read_all(f, path, be, 4, &got) < 0)
			goto out;
		if (got < 4) {
			dml_error("%s: truncated IDX header", path);
			goto out;
		}
		dims[i] = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 |
		    (uint32_t)be[2] << 8 | be[3];
		if (dims[i] == 0) {
			dml_error("%s: IDX dimension %d is zero", path, i);
			goto out;
		}
		if (total > (1ULL << 36) / dims[i]) {
			dml_error("%s: IDX file too large", path);
			goto out;
		}
		total *= dims[i];
	}
	*out = xmalloc(total);
	if (gz_read_all(f, path, *out, total, &got) < 0)
		goto out;
	if (got < total) {
		size_t per = total / dims[0];
		dml_error("%s: truncated: item %zu of %u is incomplete (%zu of "
		    "%zu data bytes)", path, got / per + 1, dims[0], got,
		    total);
		goto out;
	}
	if (gz_read_all(f, path, &extra, 1, &got) < 0)
		goto out;
	if (got) {
		dml_error("%s: trailing bytes after %u items", path, dims[0]);
		goto out;
	}
	rc = 0;
out:
	gzclose(f);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int
data_load_idx(dml_data *d, const char *images, const char *labels)
{
	uint32_t idim[DATA_MAXDIM + 1], ldim[1];
	unsigned char *img = NULL, *lab = NULL;
	int ni, nl, maxl = 0;

	memset(d, 0, sizeof *d);
	if (idx_read(images, DATA_MAXDIM + 1, &ni, idim, &img) < 0)
		return -1;
	if (idx_read(labels, 1, &nl, ldim, &lab) < 0) {
		free(img);
		return -1;
	}
	if (ldim[0] != idim[0]) {
		dml_error("%s: %u labels for the %u images of %s", labels,
		    ldim[0], idim[0], images);
		free(img);
		free(lab);
		return -1;
	}
	d->format = DATA_IDX;
	d->n = idim[0];
	d->features = 1;
	d->ndims = ni - 1;
	for (int i = 1; i < ni; i++) {
		d->dims[i - 1] = idim[i];
		d->features *= idim[i];
	}
	d->x = xmalloc(d->n * d->features * sizeof *d->x);
	d->y = xmalloc(d->n * sizeof *d->y);
	for (size_t i = 0; i < d->n * d->features; i++)
		d->x[i] = (float)img[i] / 255.0f;
	for (size_t i = 0; i < d->n; i++) {
		d->y[i] = lab[i];
		if (lab[i] > maxl)
			maxl = lab[i];
	}
	d->classes = maxl + 1;
	d->name = xstrdup(base_name(images));
	free(img);
	free(lab);
	return 0;
}

/* ---- CSV ---------------------------------------------------------------- */

typedef struct field {
	const char *p;
	size_t n;
} field;

/* Split a line at commas; trims blanks and one pair of quotes. */
static size_t
split_fields(const char *p, size_t len, field **f, size_t *cap)
{
	size_t k = 0;
	const char *end = p + len;

	for (;;) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		const char *e = q ? q : end, *s = p;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - s >= 2 && *s == '"' && e[-1] == '"') {
			s++;
			e--;
		}
		if (k == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*f = xrealloc(*f, *cap * sizeof **f);
		}
		(*f)[k].p = s;
		(*f)[k].n = (size_t)(e - s);
		k++;
		if (!q)
			return k;
		p = q + 1;
	}
}

static int
parse_num(const field *f, double *v)
{
	char buf[128], *end;

	if (f->n == 0 || f->n >= sizeof buf)
		return -1;
	memcpy(buf, f->p, f->n);
	buf[f->n] = 0;
	errno = 0;
	*v = strtod(buf, &end);
	if (end != buf + f->n || !isfinite(*v))
		return -1;
	return 0;
}

/* A decimal index (digits only). */
static int
parse_index(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > SIZE_MAX / 2)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int
csv_label_column(dml_data *d, const char *path, const field *hf, int header,
    const char *label)
{
	size_t i;

	if (!label) {
		d->label_col = d->ncols - 1;
	} else {
		for (i = 0; header && i < d->ncols; i++)
			if (hf[i].n == strlen(label) &&
			    memcmp(hf[i].p, label, hf[i].n) == 0)
				break;
		if (header && i < d->ncols)
			d->label_col = i;
		else if (parse_index(label, &d->label_col) < 0)
			return header ? dml_error("%s: no column named \"%s\" "
			    "in the header", path, label) :
			    dml_error("%s: no header line: give the label "
			    "column as a 0-based index, not \"%s\"", path,
			    label);
		else if (d->label_col >= d->ncols)
			return dml_error("%s: label column %zu out of range "
			    "(%zu columns)", path, d->label_col, d->ncols);
	}
	if (header)
		d->label_name = xasprintf("%.*s", (int)hf[d->label_col].n,
		    hf[d->label_col].p);
	return 0;
}

static int
csv_row(dml_data *d, const char *path, long line, const field *f, size_t k,
    size_t row, int *maxl)
{
	float *x = d->x + row * d->features;
	double v;

	if (k != d->ncols)
		return dml_error("%s:%ld: %zu fields, expected %zu", path, line,
		    k, d->ncols);
	for (size_t i = 0; i < k; i++) {
		if (i == d->label_col) {
			if (parse_num(&f[i], &v) < 0 || v != floor(v) ||
			    v < 0 || v >= DATA_MAXCLASSES)
				return dml_error("%s:%ld: label \"%.*s\" is not "
				    "an integer in [0, %d)", path, line,
				    (int)(f[i].n > 40 ? 40 : f[i].n), f[i].p,
				    DATA_MAXCLASSES);
			d->y[row] = (int32_t)v;
			if (d->y[row] > *maxl)
				*maxl = d->y[row];
			continue;
		}
		if (parse_num(&f[i], &v) < 0 || fabs(v) > 3.4e38)
			return dml_error("%s:%ld: column %zu: \"%.*s\" is not a "
			    "finite number", path, line, i,
			    (int)(f[i].n > 40 ? 40 : f[i].n), f[i].p);
		*x++ = (float)v;
	}
	return 0;
}

int
data_load_csv(dml_data *d, const char *path, const char *label)
{
	char *text;
	size_t len, pos = 0, cap = 0, rowcap = 0, k;
	field *f = NULL, *hf = NULL;
	long line = 0;
	int maxl = 0, first = 1;
	double v;

	memset(d, 0, sizeof *d);
	if (is_dir(path))
		return errno = EISDIR, dml_error_sys("%s", path);
	if (dml_read_file(path, &text, &len) < 0)
		return -1;
	d->text = text;
	d->format = DATA_CSV;
	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos, off = pos;

		pos += n + (nl ? 1 : 0);
		line++;
		if (memchr(p, 0, n)) {
			dml_error("%s:%ld: NUL byte", path, line);
			goto fail;
		}
		if (n && p[n - 1] == '\r')
			n--;
		if (strspn(p, " \t") >= n)
			continue;
		k = split_fields(p, n, &f, &cap);
		if (first) {
			int header = 0;
			first = 0;
			d->ncols = k;
			if (k < 2) {
				dml_error("%s:%ld: need at least 2 columns (a "
				    "feature and the label)", path, line);
				goto fail;
			}
			for (size_t i = 0; i < k; i++)
				if (parse_num(&f[i], &v) < 0)
					header = 1;
			if (header) {
				d->header = p;
				d->header_len = n;
				hf = xmalloc(k * sizeof *hf);
				memcpy(hf, f, k * sizeof *hf);
			}
			d->features = k - 1;
			if (csv_label_column(d, path, hf, header, label) < 0)
				goto fail;
			if (header)
				continue;
		}
		if (d->n == rowcap) {
			rowcap = rowcap ? rowcap * 2 : 256;
			d->x = xrealloc(d->x, rowcap * d->features *
			    sizeof *d->x);
			d->y = xrealloc(d->y, rowcap * sizeof *d->y);
			d->row_off = xrealloc(d->row_off, rowcap *
			    sizeof *d->row_off);
			d->row_len = xrealloc(d->row_len, rowcap *
			    sizeof *d->row_len);
		}
		if (csv_row(d, path, line, f, k, d->n, &maxl) < 0)
			goto fail;
		d->row_off[d->n] = off;
		d->row_len[d->n] = n;
		d->n++;
	}
	if (d->n == 0) {
		dml_error("%s: no samples", path);
		goto fail;
	}
	d->classes = maxl + 1;
	d->name = xstrdup(base_name(path));
	free(f);
	free(hf);
	return 0;
fail:
	free(f);
	free(hf);
	data_free(d);
	return -1;
}

/* ---- device folders ----------------------------------------------------- */

static int
plain_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/* Fields of a profile's "data" object, named as "data"."key". */
static int
data_str(const rec_in *in, const json_t *data, const char *key,
    const char **out)
{
	json_t *v = json_object_get(data, key);

	if (!json_is_string(v))
		return rec_err(in, "field \"data\".\"%s\" must be a string",
		    key);
	*out = json_string_value(v);
	return 0;
}

static int
data_int(const rec_in *in, const json_t *data, const char *key,
    long long lo, long long hi)
{
	json_t *v = json_object_get(data, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return rec_err(in, "field \"data\".\"%s\" must be an integer "
		    "in [%lld, %lld]", key, lo, hi);
	return 0;
}

static int
profile_check(const rec_in *in, json_t *r)
{
	const char *s;
	json_t *data, *files, *v;
	size_t i;

	if (rec_check(in, r, "dml.profile") < 0 ||
	    rec_get_str(in, r, "id", &s) < 0)
		return -1;
	if (!(data = rec_get_obj(in, r, "data")))
		return -1;
	if (data_str(in, data, "type", &s) < 0 ||
	    data_str(in, data, "format", &s) < 0)
		return -1;
	if (strcmp(s, "idx") != 0 && strcmp(s, "csv") != 0)
		return rec_err(in, "data format \"%s\" unknown (idx or csv)",
		    s);
	files = json_object_get(data, "files");
	if (!json_is_array(files) || json_array_size(files) !=
	    (strcmp(s, "idx") == 0 ? 2u : 1u))
		return rec_err(in, "field \"data\".\"files\" must list %d "
		    "file(s) for format %s", strcmp(s, "idx") == 0 ? 2 : 1, s);
	json_array_foreach(files, i, v)
		if (!json_is_string(v) || !plain_name(json_string_value(v)))
			return rec_err(in, "\"data\".\"files\"[%zu] must be a "
			    "file name in the folder", i);
	if (data_int(in, data, "n", 1, 1LL << 40) < 0 ||
	    data_int(in, data, "features", 1, 1LL << 30) < 0 ||
	    data_int(in, data, "classes", 1, DATA_MAXCLASSES) < 0)
		return -1;
	v = json_object_get(data, "label");
	if (v && !json_is_string(v) && !(json_is_integer(v) &&
	    json_integer_value(v) >= 0))
		return rec_err(in, "\"data\".\"label\" must be a column name "
		    "or index");
	return 0;
}

json_t *
data_profile_read(const char *dir)
{
	char *path = xasprintf("%s/profile.json", dir);
	rec_in *in = rec_open(path);
	json_t *r = NULL, *extra = NULL;
	int rc;

	free(path);
	if (!in)
		return NULL;
	rc = rec_next(in, &r);
	if (rc == 0)
		dml_error("%s: empty, expected a dml.profile record",
		    rec_name(in));
	if (rc == 1 && (rec_detach(in, r) < 0 || profile_check(in, r) < 0))
		rc = -1;
	if (rc == 1 && (rc = rec_next(in, &extra)) != 0) {
		if (rc == 1)
			rec_err(in, "more than one record in a profile");
		json_decref(extra);
		rc = -1;
	} else if (rc == 0) {
		rc = 1;
	}
	rec_close(in);
	if (rc != 1) {
		json_decref(r);
		return NULL;
	}
	return r;
}

int
data_profile_consents(const json_t *profile, const char *type)
{
	json_t *c = json_object_get(profile, "consent"), *x;
	size_t i;

	json_array_foreach(c, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), type) == 0)
			return 1;
	return 0;
}

int
data_load_dir(dml_data *d, const char *dir)
{
	json_t *p = data_profile_read(dir), *data, *files, *lab;
	const char *fmt;
	char *a = NULL, *b = NULL, lbuf[32];
	const char *label = NULL;
	long long n, features, classes;
	int rc;

	memset(d, 0, sizeof *d);
	if (!p)
		return -1;
	data = json_object_get(p, "data");
	files = json_object_get(data, "files");
	fmt = json_string_value(json_object_get(data, "format"));
	n = json_integer_value(json_object_get(data, "n"));
	features = json_integer_value(json_object_get(data, "features"));
	classes = json_integer_value(json_object_get(data, "classes"));
	a = xasprintf("%s/%s", dir, json_string_value(json_array_get(files,
	    0)));
	if (strcmp(fmt, "idx") == 0) {
		b = xasprintf("%s/%s", dir, json_string_value(
		    json_array_get(files, 1)));
		rc = data_load_idx(d, a, b);
	} else {
		lab = json_object_get(data, "label");
		if (json_is_string(lab)) {
			label = json_string_value(lab);
		} else if (lab) {
			snprintf(lbuf, sizeof lbuf, "%lld",
			    (long long)json_integer_value(lab));
			label = lbuf;
		}
		rc = data_load_csv(d, a, label);
	}
	if (rc == 0 && (d->n != (size_t)n || d->features != (size_t)features)) {
		rc = dml_error("%s/profile.json: data holds %zu samples of %zu "
		    "features, the profile says %lld of %lld", dir, d->n,
		    d->features, n, features);
		data_free(d);
	}
	if (rc == 0) {
		if (classes > d->classes)
			d->classes = (int)classes;
		free(d->name);
		d->name = xstrdup(json_string_value(json_object_get(p, "id")));
	}
	free(a);
	free(b);
	json_decref(p);
	return rc;
}

int
data_load(dml_data *d, const char *path)
{
	size_t n = strlen(path);

	memset(d, 0, sizeof *d);
	if (is_dir(path))
		return data_load_dir(d, path);
	if (n > 4 && strcmp(path + n - 4, ".csv") == 0)
		return data_load_csv(d, path, NULL);
	return dml_error("%s: not a device folder or a .csv file", path);
}

void
data_free(dml_data *d)
{
	free(d->x);
	free(d->y);
	free(d->name);
	free(d->text);
	free(d->row_off);
	free(d->row_len);
	free(d->label_name);
	memset(d, 0, sizeof *d);
}

void
data_truncate(dml_data *d, size_t k)
{
	if (k < d->n)
		d->n = k;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int
data_encode_subset(const dml_data *d, const size_t *idx, size_t k,
    unsigned char **img, size_t *imglen, unsigned char **lab,
    size_t *lablen)
{
	unsigned char *p;

	*img = *lab = NULL;
	*imglen = *lablen = 0;
	if (k > UINT32_MAX)
		return dml_error("subset of %zu samples too large", k);
	if (d->format == DATA_CSV) {
		size_t len = d->header ? d->header_len + 1 : 0;
		for (size_t i = 0; i < k; i++)
			len += d->row_len[idx[i]] + 1;
		p = *img = xmalloc(len ? len : 1);
		if (d->header) {
			memcpy(p, d->header, d->header_len);
			p += d->header_len;
			*p++ = '\n';
		}
		for (size_t i = 0; i < k; i++) {
			memcpy(p, d->text + d->row_off[idx[i]],
			    d->row_len[idx[i]]);
			p += d->row_len[idx[i]];
			*p++ = '\n';
		}
		*imglen = len;
		return 0;
	}
	for (size_t i = 0; i < k; i++)
		if (d->y[idx[i]] > 255)
			return dml_error("label %d does not fit an IDX byte",
			    d->y[idx[i]]);
	*imglen = 4 + 4 * (size_t)(d->ndims + 1) + k * d->features;
	p = *img = xmalloc(*imglen);
	p[0] = p[1] = 0;
	p[2] = 0x08;
	p[3] = (unsigned char)(d->ndims + 1);
	put_be32(p + 4, (uint32_t)k);
	for (int i = 0; i < d->ndims; i++)
		put_be32(p + 8 + 4 * i, d->dims[i]);
	p += 8 + 4 * d->ndims;
	for (size_t i = 0; i < k; i++) {
		const float *x = d->x + idx[i] * d->features;
		for (size_t j = 0; j < d->features; j++) {
			float v = x[j] * 255.0f;
			*p++ = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 :
			    lrintf(v));
		}
	}
	*lablen = 8 + k;
	p = *lab = xmalloc(*lablen);
	p[0] = p[1] = 0;
	p[2] = 0x08;
	p[3] = 1;
	put_be32(p + 4, (uint32_t)k);
	for (size_t i = 0; i < k; i++)
		p[8 + i] = (unsigned char)d->y[idx[i]];
	return 0;
}

/* ---- random numbers ------------------------------------------------------ */

/* ---- partitions --------------------------------------------------------- */

static const char *part_names[] = {"iid", "dirichlet", "classes"};

int
data_partition_parse(const char *s, enum data_partition *p)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, part_names[i]) == 0) {
			*p = (enum data_partition)i;
			return 0;
		}
	return -1;
}

const char *
data_partition_name(enum data_partition p)
{
	return part_names[p];
}

/* The samples of class c, shuffled. *m receives the count. */
static size_t *
class_members(const dml_data *d, int c, dml_rng *r, size_t *m)
{
	size_t *idx = xmalloc((d->n ? d->n : 1) * sizeof *idx);

	*m = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->y[i] == c)
			idx[(*m)++] = i;
	rng_shuffle(r, idx, *m);
	return idx;
}

static void
part_dirichlet(const dml_data *d, int k, double alpha, dml_rng *r, int *dev)
{
	double *p = xmalloc((size_t)k * sizeof *p);

	for (int c = 0; c < d->classes; c++) {
		size_t m, *idx = class_members(d, c, r, &m), start = 0;
		double total = 0, acc = 0;
		for (int j = 0; j < k; j++)
			total += p[j] = rng_gamma(r, alpha);
		if (!(total > 0)) {	/* every draw underflowed */
			memset(p, 0, (size_t)k * sizeof *p);
			p[rng_below(r, (uint64_t)k)] = total = 1;
		}
		for (int j = 0; j < k; j++) {
			size_t end;
			acc += p[j];
			end = j == k - 1 ? m : (size_t)floor(acc / total *
			    (double)m);
			if (end > m)
				end = m;
			for (; start < end; start++)
				dev[idx[start]] = j;
		}
		free(idx);
	}
	free(p);
}

static void
part_classes(const dml_data *d, int k, int cpd, dml_rng *r, int *dev)
{
	int K = d->classes, *holders = xmalloc((size_t)k * sizeof *holders);
	size_t *perm = xmalloc((size_t)K * sizeof *perm), off;

	for (int c = 0; c < K; c++)
		perm[c] = (size_t)c;
	rng_shuffle(r, perm, (size_t)K);
	off = (size_t)rng_below(r, (uint64_t)K);
	for (int c = 0; c < K; c++) {
		size_t m, *idx = class_members(d, c, r, &m);
		int h = 0;
		for (int j = 0; j < k; j++)
			for (int t = 0; t < cpd; t++)
				if ((int)perm[(off + (size_t)j * cpd + t) % K] ==
				    c)
					holders[h++] = j;
		for (int i = 0; i < h; i++)
			for (size_t s = m * i / h; s < m * (i + 1) / h; s++)
				dev[idx[s]] = holders[i];
		free(idx);
	}
	free(holders);
	free(perm);
}

/* Every empty device takes one sample from the fullest; when no device
 * can spare one (the classes partition left samples out), one of those. */
static void
fill_empty(size_t n, int k, int *dev)
{
	size_t *count = xcalloc((size_t)k, sizeof *count);

	for (size_t i = 0; i < n; i++)
		if (dev[i] >= 0)
			count[dev[i]]++;
	for (int j = 0; j < k; j++) {
		int big = 0;
		if (count[j])
			continue;
		for (int t = 1; t < k; t++)
			if (count[t] > count[big])
				big = t;
		if (count[big] < 2)
			big = -1;	/* take a sample left out instead */
		for (size_t i = n; i-- > 0;)
			if (dev[i] == big) {
				dev[i] = j;
				if (big >= 0)
					count[big]--;
				count[j]++;
				break;
			}
	}
	free(count);
}

int
data_partition(const dml_data *d, int k, enum data_partition how,
    double alpha, int cpd, uint64_t seed, int *dev)
{
	dml_rng r;
	size_t *perm;

	if (k < 1 || (size_t)k > d->n)
		return dml_error("cannot split %zu samples among %d devices",
		    d->n, k);
	if (how == DATA_PART_DIRICHLET && !(alpha > 0 && alpha < 1e6))
		return dml_error("alpha must be positive");
	if (how == DATA_PART_CLASSES && (cpd < 1 || cpd > d->classes))
		return dml_error("classes per device must be 1 to %d",
		    d->classes);
	rng_seed(&r, seed);
	for (size_t i = 0; i < d->n; i++)
		dev[i] = -1;
	switch (how) {
	case DATA_PART_IID:
		perm = xmalloc(d->n * sizeof *perm);
		for (size_t i = 0; i < d->n; i++)
			perm[i] = i;
		rng_shuffle(&r, perm, d->n);
		for (int j = 0; j < k; j++)
			for (size_t s = d->n * j / k; s < d->n * (j + 1) / k; s++)
				dev[perm[s]] = j;
		free(perm);
		break;
	case DATA_PART_DIRICHLET:
		part_dirichlet(d, k, alpha, &r, dev);
		break;
	case DATA_PART_CLASSES:
		part_classes(d, k, cpd, &r, dev);
		break;
	}
	fill_empty(d->n, k, dev);
	return 0;
}

/* ---- simulated labellers and attackers ---------------------------------- */

int
data_labeller_parse(const char *s, data_labeller *l)
{
	char *end;

	memset(l, 0, sizeof *l);
	if (strcmp(s, "careful") == 0)
		return 0;
	if (strcmp(s, "adversarial") == 0) {
		l->kind = LABEL_ADVERSARIAL;
		return 0;
	}
	if (strncmp(s, "noisy:", 6) == 0) {
		l->kind = LABEL_NOISY;
		l->rate = strtod(s + 6, &end);
		if (end != s + 6 && !*end && l->rate >= 0 && l->rate <= 1)
			return 0;
	}
	return dml_error("labelling profile \"%s\": want careful, noisy:P "
	    "(0 <= P <= 1) or adversarial", s);
}

json_t *
data_labeller_json(const data_labeller *l)
{
	static const char *const names[] = {"careful", "noisy", "adversarial"};
	json_t *o = json_pack("{s:s}", "kind", names[l->kind]);

	if (l->kind == LABEL_NOISY)
		json_object_set_new(o, "rate", json_real(l->rate));
	return o;
}

int
data_labeller_from_json(const json_t *o, data_labeller *l)
{
	const char *k = json_string_value(json_object_get(o, "kind"));
	json_t *rate = json_object_get(o, "rate");

	memset(l, 0, sizeof *l);
	if (!o)
		return 0;
	if (!k)
		return dml_error("\"label_profile\": no \"kind\"");
	if (strcmp(k, "noisy") == 0) {
		l->kind = LABEL_NOISY;
		l->rate = json_number_value(rate);
		if (!json_is_number(rate) || !(l->rate >= 0 && l->rate <= 1))
			return dml_error("\"label_profile\": noisy needs a "
			    "\"rate\" in [0, 1]");
		return 0;
	}
	if (strcmp(k, "careful") == 0)
		return 0;
	if (strcmp(k, "adversarial") == 0) {
		l->kind = LABEL_ADVERSARIAL;
		return 0;
	}
	return dml_error("\"label_profile\": unknown kind \"%s\"", k);
}

int32_t
data_labeller_apply(const data_labeller *l, int32_t y, int classes,
    dml_rng *r)
{
	switch (l->kind) {
	case LABEL_CAREFUL:
		return y;
	case LABEL_ADVERSARIAL:
		return classes - 1 - y;
	case LABEL_NOISY:
		if (classes > 1 && rng_uniform(r) < l->rate) {
			int32_t o = (int32_t)rng_below(r,
			    (uint64_t)classes - 1);
			return o >= y ? o + 1 : o;
		}
		return y;
	}
	return y;
}

static const char *const attack_names[] = {"none", "labelflip", "signflip",
    "scale", "noise"};

int
data_attack_parse(const char *s, data_attack *a)
{
	char *end;

	memset(a, 0, sizeof *a);
	if (strcmp(s, "labelflip") == 0)
		a->kind = ATTACK_LABELFLIP;
	else if (strcmp(s, "signflip") == 0)
		a->kind = ATTACK_SIGNFLIP;
	else if (strncmp(s, "scale:", 6) == 0 || strncmp(s, "noise:", 6) == 0) {
		a->kind = s[0] == 's' ? ATTACK_SCALE : ATTACK_NOISE;
		a->param = strtod(s + 6, &end);
		if (end == s + 6 || *end || !isfinite(a->param) ||
		    (a->kind == ATTACK_NOISE && !(a->param > 0)))
			return dml_error("attack \"%s\": want a number after "
			    "the colon (sigma > 0)", s);
	} else
		return dml_error("attack \"%s\": want labelflip, signflip, "
		    "scale:LAMBDA or noise:SIGMA", s);
	return 0;
}

json_t *
data_attack_json(const data_attack *a)
{
	json_t *o = json_pack("{s:s}", "attack", attack_names[a->kind]);

	if (a->kind == ATTACK_SCALE)
		json_object_set_new(o, "lambda", json_real(a->param));
	if (a->kind == ATTACK_NOISE)
		json_object_set_new(o, "sigma", json_real(a->param));
	return o;
}

int
data_attack_from_json(const json_t *o, data_attack *a)
{
	const char *k = json_string_value(json_object_get(o, "attack"));

	memset(a, 0, sizeof *a);
	if (!o)
		return 0;
	for (int i = 1; k && i < 5; i++)
		if (strcmp(k, attack_names[i]) == 0) {
			json_t *p = json_object_get(o, i == ATTACK_SCALE ?
			    "lambda" : "sigma");
			a->kind = (enum data_attack_kind)i;
			if (i == ATTACK_SCALE || i == ATTACK_NOISE) {
				if (!json_is_number(p))
					return dml_error("\"malicious\": %s "
					    "needs \"%s\"", k, i == ATTACK_SCALE ?
					    "lambda" : "sigma");
				a->param = json_number_value(p);
			}
			return 0;
		}
	return dml_error("\"malicious\": unknown attack");
}

void
data_attack_update(const data_attack *a, double *delta, size_t P, double n,
    dml_rng *r)
{
	for (size_t i = 0; i < P; i++)
		switch (a->kind) {
		case ATTACK_SIGNFLIP: delta[i] = -delta[i]; break;
		case ATTACK_SCALE: delta[i] *= a->param; break;
		case ATTACK_NOISE:
			delta[i] = n * a->param * rng_normal(r);
			break;
		default: break;
		}
}
