/* cid: CIDv1 sha2-256 and the UnixFS balanced layout of ipfs add. */
#include "cid.h"
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static size_t
put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static int
get_varint(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; *pos < len && shift < 64; shift += 7) {
		unsigned char b = p[(*pos)++];
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static void
cid_from_digest(cid *c, unsigned codec, const unsigned char d[32])
{
	size_t n = 0;
	n += put_varint(c->bin + n, 1);
	n += put_varint(c->bin + n, codec);
	c->bin[n++] = 0x12;	/* sha2-256 */
	c->bin[n++] = 0x20;
	memcpy(c->bin + n, d, 32);
	c->len = n + 32;
}

void
cid_of_block(cid *c, unsigned codec, const void *p, size_t n)
{
	unsigned char d[32];
	sha256(d, p, n);
	cid_from_digest(c, codec, d);
}

void
cid_str(const cid *c, char *out)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned buf = 0;
	int bits = 0;

	*out++ = 'b';
	for (size_t i = 0; i < c->len; i++) {
		buf = buf << 8 | c->bin[i];
		bits += 8;
		while (bits >= 5) {
			*out++ = a[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		*out++ = a[(buf << (5 - bits)) & 31];
	*out = 0;
}

int
cid_parse(cid *c, const char *s)
{
	unsigned buf = 0;
	int bits = 0;
	size_t len = 0, pos = 0;
	uint64_t v;

	if (s[0] != 'b')
		return dml_error("\"%.70s\" is not a base32 CIDv1", s);
	for (const char *p = s + 1; *p; p++) {
		int x;
		if (*p >= 'a' && *p <= 'z')
			x = *p - 'a';
		else if (*p >= '2' && *p <= '7')
			x = *p - '2' + 26;
		else
			return dml_error("\"%.70s\" is not a base32 CIDv1", s);
		buf = buf << 5 | (unsigned)x;
		bits += 5;
		if (bits >= 8) {
			if (len == CID_MAXBIN)
				return dml_error("CID too long");
			c->bin[len++] = (unsigned char)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	c->len = len;
	if (get_varint(c->bin, len, &pos, &v) < 0 || v != 1 ||
	    get_varint(c->bin, len, &pos, &v) < 0 ||
	    (v != CID_RAW && v != CID_DAGPB) || pos + 34 != len ||
	    c->bin[pos] != 0x12 || c->bin[pos + 1] != 0x20)
		return dml_error("\"%.70s\" is not a CIDv1 with a sha2-256 "
		    "hash of a raw or dag-pb block", s);
	return 0;
}

unsigned
cid_codec(const cid *c)
{
	size_t pos = 0;
	uint64_t v = 0;
	get_varint(c->bin, c->len, &pos, &v);
	get_varint(c->bin, c->len, &pos, &v);
	return (unsigned)v;
}

const unsigned char *
cid_digest(const cid *c)
{
	return c->bin + c->len - 32;
}

/* ---- UnixFS balanced builder ----------------------------------------- */

struct link {
	cid c;
	uint64_t tsize;		/* bytes of the subtree's blocks */
	uint64_t fsize;		/* file bytes below */
};

struct level {
	struct link l[CID_MAXLINKS];
	int n;
};

struct cid_file {
	unsigned char *chunk;
	size_t fill;
	uint64_t total;
	struct level *lv;
	int nlv;
	cid_block_fn fn;
	void *ctx;
	unsigned char *node;	/* scratch for encoding a node */
	int threads;		/* cid_file_read_fd: threads hashing leaves */
	int done;		/* cid_file_read_fd has read to the end */
	int has_single;		/* ... and found one chunk: single is the root */
	cid single;
};

cid_file *
cid_file_new(cid_block_fn fn, void *ctx)
{
	cid_file *f = xcalloc(1, sizeof *f);
	f->chunk = xmalloc(CID_CHUNK);
	f->fn = fn;
	f->ctx = ctx;
	f->node = xmalloc(CID_MAXLINKS * 64 + CID_MAXLINKS * 11 + 64);
	f->threads = 1;
	return f;
}

void
cid_file_free(cid_file *f)
{
	if (!f)
		return;
	free(f->chunk);
	free(f->lv);
	free(f->node);
	free(f);
}

static int
push(cid_file *f, int level, const struct link *l);

static int
emit_block(cid_file *f, unsigned codec, const unsigned char *p, size_t n,
    cid *c)
{
	cid_of_block(c, codec, p, n);
	return f->fn ? f->fn(f->ctx, c, p, n) : 0;
}

/* dag-pb node of a level: Links (field 2) first, then Data (field 1) with
 * the UnixFS message {Type=File, filesize, blocksizes...}. */
static int
close_level(cid_file *f, int level, struct link *out)
{
	struct level *L = &f->lv[level];
	unsigned char data[CID_MAXLINKS * 11 + 32], *o = f->node;
	size_t dn = 0;
	uint64_t fsize = 0, tsize = 0;

	for (int i = 0; i < L->n; i++)
		fsize += L->l[i].fsize;
	data[dn++] = 0x08;
	data[dn++] = 0x02;			/* Type: File */
	data[dn++] = 0x18;
	dn += put_varint(data + dn, fsize);	/* filesize */
	for (int i = 0; i < L->n; i++) {
		data[dn++] = 0x20;		/* blocksizes */
		dn += put_varint(data + dn, L->l[i].fsize);
	}
	for (int i = 0; i < L->n; i++) {
		unsigned char lb[64];
		size_t ln = 0;
		lb[ln++] = 0x0a;		/* Hash */
		ln += put_varint(lb + ln, L->l[i].c.len);
		memcpy(lb + ln, L->l[i].c.bin, L->l[i].c.len);
		ln += L->l[i].c.len;
		lb[ln++] = 0x12;		/* Name: "" */
		lb[ln++] = 0x00;
		lb[ln++] = 0x18;		/* Tsize */
		ln += put_varint(lb + ln, L->l[i].tsize);
		*o++ = 0x12;			/* PBNode.Links */
		o += put_varint(o, ln);
		memcpy(o, lb, ln);
		o += ln;
		tsize += L->l[i].tsize;
	}
	*o++ = 0x0a;				/* PBNode.Data */
	o += put_varint(o, dn);
	memcpy(o, data, dn);
	o += dn;
	if (emit_block(f, CID_DAGPB, f->node, (size_t)(o - f->node),
	    &out->c) < 0)
		return -1;
	out->tsize = tsize + (uint64_t)(o - f->node);
	out->fsize = fsize;
	L->n = 0;
	return 0;
}

static int
push(cid_file *f, int level, const struct link *l)
{
	if (level == f->nlv) {
		f->lv = xrealloc(f->lv, (size_t)(level + 1) * sizeof *f->lv);
		f->lv[level].n = 0;
		f->nlv = level + 1;
	}
	if (f->lv[level].n == CID_MAXLINKS) {
		struct link up;
		if (close_level(f, level, &up) < 0 || push(f, level + 1, &up) < 0)
			return -1;
	}
	f->lv[level].l[f->lv[level].n++] = *l;
	return 0;
}

static int
flush_chunk(cid_file *f)
{
	struct link l;

	if (emit_block(f, CID_RAW, f->chunk, f->fill, &l.c) < 0)
		return -1;
	l.tsize = l.fsize = f->fill;
	f->fill = 0;
	return push(f, 0, &l);
}

int
cid_file_write(cid_file *f, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (f->done)
		return dml_error("cid_file_write after cid_file_read_fd");
	while (n) {
		size_t k = CID_CHUNK - f->fill;
		if (k > n)
			k = n;
		/* a full chunk is flushed only when more data comes, so the
		 * last chunk is known to be the last */
		if (f->fill == CID_CHUNK) {
			if (flush_chunk(f) < 0)
				return -1;
			continue;
		}
		memcpy(f->chunk + f->fill, s, k);
		f->fill += k;
		f->total += k;
		s += k;
		n -= k;
	}
	return 0;
}

int
cid_file_finish(cid_file *f, cid *root, uint64_t *size)
{
	struct link l;
	int rc = -1;

	if (f->has_single) {		/* cid_file_read_fd saw one chunk */
		*root = f->single;
		*size = f->total;
		rc = 0;
		goto out;
	}
	if (f->nlv == 0) {		/* one chunk (maybe empty): raw leaf */
		if (emit_block(f, CID_RAW, f->chunk, f->fill, root) < 0)
			goto out;
		*size = f->total;
		rc = 0;
		goto out;
	}
	/* after cid_file_read_fd every leaf is pushed already */
	if (!f->done && flush_chunk(f) < 0)
		goto out;
	for (int i = 0; i < f->nlv; i++) {
		int above = 0;
		for (int j = i + 1; j < f->nlv; j++)
			above |= f->lv[j].n > 0;
		if (!above && f->lv[i].n == 1 && i > 0) {
			*root = f->lv[i].l[0].c;
			break;
		}
		if (close_level(f, i, &l) < 0)
			goto out;
		if (!above) {
			*root = l.c;
			break;
		}
		if (push(f, i + 1, &l) < 0)
			goto out;
	}
	*size = f->total;
	rc = 0;
out:
	cid_file_free(f);
	return rc;
}

/* ---- reading a file on several threads ------------------------------ */

/*
 * Each thread takes the next chunk of the input under a lock, reads it into
 * its own buffer (reads stay sequential, so pipes work), then hashes it and
 * hands it to the callback without the lock. Finished leaves wait in a
 * small window until every earlier one is done, and are linked into the
 * tree in file order by whichever thread completes the gap, so the DAG is
 * the same whatever the timing. The last leaf is held back (pend): only
 * when the input ends is it known whether the file was a single chunk.
 */
#define RD_WIN 16
#define RD_MAXTHREADS 8

struct rd {
	cid_file *f;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t next;		/* index of the next chunk to read */
	uint64_t linked;	/* leaves linked into the tree, in order */
	int eof, failed;
	char err[1024];
	struct {
		int ready;
		struct link l;
	} win[RD_WIN];
	struct link pend;	/* the latest leaf in order, not yet pushed */
	uint64_t nleaves;
};

/* with rd->mu held */
static void
rd_fail(struct rd *r, const char *msg)
{
	if (!r->failed)
		snprintf(r->err, sizeof r->err, "%s", msg);
	r->failed = 1;
	pthread_cond_broadcast(&r->cv);
}

/* with rd->mu held: link every leaf that is next in file order */
static int
rd_link_ready(struct rd *r)
{
	while (r->win[r->linked % RD_WIN].ready) {
		struct link l = r->win[r->linked % RD_WIN].l;
		r->win[r->linked % RD_WIN].ready = 0;
		r->linked++;
		if (r->nleaves++ > 0 && push(r->f, 0, &r->pend) < 0)
			return -1;
		r->pend = l;
	}
	return 0;
}

static void *
rd_worker(void *arg)
{
	struct rd *r = arg;
	cid_file *f = r->f;
	unsigned char *buf = xmalloc(CID_CHUNK);

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct link l;
		uint64_t k;
		ssize_t n;
		int rc;

		while (!r->failed && !r->eof && r->next - r->linked >= RD_WIN)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->failed || r->eof)
			break;
		k = r->next;
		n = dml_read_full(r->fd, buf, CID_CHUNK);
		if (n < 0) {
			rd_fail(r, strerror(errno));
			break;
		}
		if (n < CID_CHUNK)
			r->eof = 1;
		if (n == 0 && k > 0)
			break;
		r->next++;
		f->total += (uint64_t)n;
		pthread_mutex_unlock(&r->mu);

		cid_of_block(&l.c, CID_RAW, buf, (size_t)n);
		rc = f->fn ? f->fn(f->ctx, &l.c, buf, (size_t)n) : 0;
		l.tsize = l.fsize = (uint64_t)n;

		pthread_mutex_lock(&r->mu);
		if (rc < 0) {
			rd_fail(r, dml_errmsg());
			break;
		}
		r->win[k % RD_WIN].l = l;
		r->win[k % RD_WIN].ready = 1;
		if (rd_link_ready(r) < 0) {
			rd_fail(r, dml_errmsg());
			break;
		}
		pthread_cond_broadcast(&r->cv);
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	free(buf);
	return NULL;
}

void
cid_file_set_threads(cid_file *f, int n)
{
	f->threads = n < 1 ? 1 : n > RD_MAXTHREADS ? RD_MAXTHREADS : n;
}

int
cid_file_read_fd(cid_file *f, int fd)
{
	pthread_t th[RD_MAXTHREADS];
	struct rd *r;
	int nth = 0, rc = 0;

	if (f->total || f->fill || f->done)
		return dml_error("cid_file_read_fd needs a new builder");
	r = xcalloc(1, sizeof *r);
	r->f = f;
	r->fd = fd;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	for (; nth < f->threads - 1; nth++)
		if (pthread_create(&th[nth], NULL, rd_worker, r) != 0)
			break;	/* fewer threads is still correct */
	rd_worker(r);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	f->done = 1;
	if (r->failed)
		rc = dml_error("%s", r->err);
	else if (r->nleaves == 1) {
		f->has_single = 1;
		f->single = r->pend.c;
	} else if (r->nleaves > 1 && push(f, 0, &r->pend) < 0)
		rc = -1;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
	return rc;
}

int
cid_of_bytes(const void *p, size_t n, char out[CID_MAXSTR])
{
	cid_file *f = cid_file_new(NULL, NULL);
	cid c;
	uint64_t sz;

	if (cid_file_write(f, p, n) < 0) {
		cid_file_free(f);
		return -1;
	}
	if (cid_file_finish(f, &c, &sz) < 0)
		return -1;
	cid_str(&c, out);
	return 0;
}

int
cid_of_file(const char *path, char out[CID_MAXSTR])
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	cid_file *f;
	uint64_t sz;
	cid c;

	if (fd < 0)
		return dml_error_sys("%s", path);
	f = cid_file_new(NULL, NULL);
	cid_file_set_threads(f, 2);
	if (cid_file_read_fd(f, fd) < 0) {
		cid_file_free(f);
		if (fd)
			close(fd);
		return dml_error_prefix("%s", path);
	}
	if (fd)
		close(fd);
	if (cid_file_finish(f, &c, &sz) < 0)
		return -1;
	cid_str(&c, out);
	return 0;
}
