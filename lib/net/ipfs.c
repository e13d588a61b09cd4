/* ipfs: a verified blockstore, streaming add, checked DAG walk, and the
 * same over a node's RPC API. */
#include "ipfs.h"
#include "kubo.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXDEPTH 64

struct ipfs_store {
	char *repo;		/* blockstore directory, or NULL */
	kubo *api;		/* or the node */
	int threads;
	int made;		/* repo directories exist */
	pthread_mutex_t mu;	/* guards made, syserr */
	unsigned long seq;	/* temporary file names (atomic) */
	unsigned long wrote;	/* blocks written since the last sync (atomic) */
	int syserr;		/* the last failed write was a system error */
};

ipfs_store *
ipfs_open(const char *repo, const char *api)
{
	ipfs_store *st;
	const char *e;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!api && !repo) {
		if ((e = getenv(IPFS_ENV_API)) && *e)
			api = e;
		else if ((e = getenv(IPFS_ENV_REPO)) && *e)
			repo = e;
	}
	st = xcalloc(1, sizeof *st);
	pthread_mutex_init(&st->mu, NULL);
	st->threads = ncpu >= 2 ? 2 : 1;
	if (api) {
		if (!(st->api = kubo_open(api))) {
			pthread_mutex_destroy(&st->mu);
			free(st);
			return NULL;
		}
		return st;
	}
	if (repo)
		st->repo = xstrdup(repo);
	else if ((e = getenv("HOME")) && *e)
		st->repo = xasprintf("%s/.dml/ipfs", e);
	else {
		pthread_mutex_destroy(&st->mu);
		free(st);
		return dml_error("no blockstore: set HOME or %s, or give a "
		    "repository", IPFS_ENV_REPO), NULL;
	}
	return st;
}

void
ipfs_close(ipfs_store *st)
{
	if (!st)
		return;
	kubo_close(st->api);
	free(st->repo);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *
ipfs_where(const ipfs_store *st)
{
	return st->api ? kubo_url(st->api) : st->repo;
}

int
ipfs_is_remote(const ipfs_store *st)
{
	return st->api != NULL;
}

void
ipfs_set_timeout(ipfs_store *st, int seconds)
{
	if (st->api)
		kubo_set_timeout(st->api, seconds);
}

void
ipfs_set_threads(ipfs_store *st, int n)
{
	st->threads = n < 1 ? 1 : n;
}

/* ---- the blockstore directory ---------------------------------------- */

char *
ipfs_block_path(const ipfs_store *st, const cid *c)
{
	char s[CID_MAXSTR];
	size_t n;

	if (!st->repo)
		return NULL;
	cid_str(c, s);
	n = strlen(s);
	return xasprintf("%s/blocks/%.2s/%s", st->repo, s + n - 3, s);
}

/* mkdir -p, new directories 0700 */
static int
mkdirs(const char *path)
{
	char *p = xstrdup(path);
	struct stat sb;
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				rc = dml_error_sys("%s", p);
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (rc == 0 && (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)))
		rc = dml_error("%s: not a directory", path);
	free(p);
	return rc;
}

static int
make_repo(ipfs_store *st)
{
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	if (!st->made) {
		char *blocks = xasprintf("%s/blocks", st->repo);
		char *tmp = xasprintf("%s/tmp", st->repo);
		char *ver = xasprintf("%s/version", st->repo);
		static const char v[] = "dml-blockstore 1\n";
		if (mkdirs(st->repo) < 0 || mkdirs(blocks) < 0 ||
		    mkdirs(tmp) < 0 ||
		    (access(ver, F_OK) < 0 &&
		    dml_write_file(ver, v, sizeof v - 1, 0600) < 0))
			rc = dml_error_prefix("cannot make the blockstore");
		else
			__atomic_store_n(&st->made, 1, __ATOMIC_RELEASE);
		free(blocks);
		free(tmp);
		free(ver);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int
syserr(ipfs_store *st)
{
	pthread_mutex_lock(&st->mu);
	st->syserr = 1;
	pthread_mutex_unlock(&st->mu);
	return -1;
}

/* the shard directory of a block's path, made if it is not there */
static int
shard_dir(const char *path)
{
	char *dir = xasprintf("%.*s", (int)(strrchr(path, '/') - path), path);
	int rc = mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 :
	    dml_error_sys("%s", dir);
	free(dir);
	return rc;
}

/* a named temporary file in DIR/tmp, renamed over path when complete */
static int
write_renamed(ipfs_store *st, const char *path, const void *p, size_t n)
{
	char *tmp = xasprintf("%s/tmp/%ld.%lu", st->repo, (long)getpid(),
	    __atomic_fetch_add(&st->seq, 1, __ATOMIC_RELAXED));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	int rc = -1;

	if (fd < 0) {
		dml_error_sys("%s", tmp);
		goto out;
	}
	if (dml_write_all(fd, p, n) < 0) {
		dml_error_prefix("%s", tmp);
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		dml_error_sys("%s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0 && (errno != ENOENT || shard_dir(path) < 0 ||
	    rename(tmp, path) < 0)) {
		dml_error_sys("%s", path);
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	unlink(tmp);
out:
	free(tmp);
	return rc;
}

/*
 * A new block file, whole or not at all: an unnamed file (O_TMPFILE) in
 * its shard directory, linked in under its name once written. Nothing is
 * left behind by a crash, and the two writing threads seldom share a
 * directory lock. Where the file system cannot, a renamed file.
 */
static int
write_block(ipfs_store *st, const char *path, const void *p, size_t n)
{
#ifdef O_TMPFILE
	char *dir = xasprintf("%.*s", (int)(strrchr(path, '/') - path), path);
	char proc[64];
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0444);

	if (fd < 0 && errno == ENOENT && shard_dir(path) == 0)
		fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0444);
	free(dir);
	if (fd < 0)
		return write_renamed(st, path, p, n);
	if (dml_write_all(fd, p, n) < 0) {
		close(fd);
		return dml_error_prefix("%s", path);
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 &&
	    errno != EEXIST) {	/* EEXIST: another writer was first */
		int e = errno;
		close(fd);
		if (e == ENOENT)	/* no /proc */
			return write_renamed(st, path, p, n);
		return dml_error("%s: %s", path, strerror(e));
	}
	if (close(fd) < 0)
		return dml_error_sys("%s", path);
	return 0;
#else
	return write_renamed(st, path, p, n);
#endif
}

static int
local_put(ipfs_store *st, const cid *c, const void *p, size_t n)
{
	struct stat sb;
	char *path;
	int rc;

	if (!__atomic_load_n(&st->made, __ATOMIC_ACQUIRE) && make_repo(st) < 0)
		return syserr(st);
	path = ipfs_block_path(st, c);
	/* immutable: a block present whole is never written again; one of
	 * the wrong size (cut short by a crash) is replaced */
	if (stat(path, &sb) == 0) {
		if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == n) {
			free(path);
			return 0;
		}
		rc = write_renamed(st, path, p, n);
	} else
		rc = write_block(st, path, p, n);
	free(path);
	if (rc < 0)
		return syserr(st);
	__atomic_fetch_add(&st->wrote, 1, __ATOMIC_RELAXED);
	return 0;
}

/* -1 missing (dml_error), -2 unreadable */
static int
local_get(ipfs_store *st, const cid *c, unsigned char **p, size_t *n)
{
	char *path = ipfs_block_path(st, c), s[CID_MAXSTR];
	struct stat sb;
	unsigned char *b;
	ssize_t got;
	int fd;

	cid_str(c, s);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(path);
		if (e == ENOENT || e == ENOTDIR)
			return dml_error("block %s is not in %s", s, st->repo);
		return dml_error("block %s: %s", s, strerror(e)) - 1;
	}
	free(path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return dml_error("block %s in %s is not a file", s, st->repo);
	}
	if (sb.st_size > IPFS_MAXBLOCK) {
		close(fd);
		return dml_error("block %s in %s is larger than %d bytes", s,
		    st->repo, IPFS_MAXBLOCK);
	}
	b = xmalloc((size_t)sb.st_size + 1);
	got = dml_read_full(fd, b, (size_t)sb.st_size + 1);
	close(fd);
	if (got < 0) {
		free(b);
		return dml_error_sys("block %s", s) - 1;
	}
	*p = b;
	*n = (size_t)got;
	return 0;
}

static int
check_block(const cid *c, const void *p, size_t n)
{
	cid got;
	char s[CID_MAXSTR];

	cid_of_block(&got, cid_codec(c), p, n);
	if (got.len != c->len || memcmp(got.bin, c->bin, c->len) != 0) {
		cid_str(c, s);
		return dml_error("block %s is corrupted: its %zu bytes do not "
		    "hash to its CID", s, n);
	}
	return 0;
}

int
ipfs_block_get(ipfs_store *st, const cid *c, unsigned char **p, size_t *n)
{
	int rc;

	if (st->api)
		rc = kubo_block_get(st->api, c, IPFS_MAXBLOCK, p, n);
	else
		rc = local_get(st, c, p, n);
	if (rc < 0)
		return rc;
	if (check_block(c, *p, *n) < 0) {
		dml_error_prefix("%s", ipfs_where(st));
		free(*p);
		*p = NULL;
		return -1;
	}
	return 0;
}

int
ipfs_block_put(ipfs_store *st, const cid *c, const void *p, size_t n)
{
	if (check_block(c, p, n) < 0)
		return -1;
	if (st->api)
		return kubo_block_put(st->api, c, p, n);
	st->syserr = 0;
	return local_put(st, c, p, n) < 0 ? -2 : 0;
}

int
ipfs_block_has(ipfs_store *st, const cid *c)
{
	char *path;
	struct stat sb;
	int r;

	if (st->api)
		return dml_error("%s: asking for a block is not done over the "
		    "API", kubo_url(st->api));
	path = ipfs_block_path(st, c);
	r = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	free(path);
	return r;
}

/* one syncfs of the store's file system: every block of the add is on
 * disk before its CID is reported */
static int
store_sync(ipfs_store *st)
{
	int fd, rc = 0;

	if (!__atomic_load_n(&st->wrote, __ATOMIC_RELAXED))
		return 0;
	fd = open(st->repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return dml_error_sys("%s", st->repo) - 1;
#ifdef __linux__
	if (syncfs(fd) < 0)
		rc = dml_error_sys("%s: sync", st->repo) - 1;
#else
	sync();
#endif
	close(fd);
	if (rc == 0)
		__atomic_store_n(&st->wrote, 0, __ATOMIC_RELAXED);
	return rc;
}

/* ---- adding ---------------------------------------------------------- */

static int
store_block(void *ctx, const cid *c, const void *p, size_t n)
{
	return local_put(ctx, c, p, n);
}

static int
finish_add(ipfs_store *st, cid_file *f, int flags, cid *out,
    uint64_t *size)
{
	if (cid_file_finish(f, out, size) < 0)
		return st->syserr ? -2 : -1;
	if (!(flags & (IPFS_ONLY_HASH | IPFS_NO_SYNC)) && st->repo &&
	    store_sync(st) < 0)
		return -2;
	return 0;
}

/* Uploading to a node: the bytes go to the node and through the CID
 * builder here at once. */
struct src {
	int fd;
	const unsigned char *mem;	/* or bytes in memory (size of them) */
	off_t start;		/* where a rewind goes; -1: cannot */
	int64_t size;		/* bytes declared to the node, or -1 */
	uint64_t sent;
	cid_file *f;
	const char *name;
};

static ssize_t
src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	ssize_t k;

	if (s->size >= 0 && (uint64_t)s->size - s->sent < n)
		n = (size_t)((uint64_t)s->size - s->sent);
	if (n == 0)
		return 0;
	if (s->mem) {
		k = (ssize_t)n;
		memcpy(buf, s->mem + s->sent, n);
	} else {
		do
			k = read(s->fd, buf, n);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return dml_error_sys("%s", s->name);
	}
	if (cid_file_write(s->f, buf, (size_t)k) < 0)
		return -1;
	s->sent += (uint64_t)k;
	if (s->size > 0)
		dml_progress("uploading bytes", (long long)s->sent,
		    (long long)s->size);
	return k;
}

static int
src_rewind(void *ctx)
{
	struct src *s = ctx;

	if (!s->mem && (s->start < 0 || lseek(s->fd, s->start, SEEK_SET) < 0))
		return -1;
	cid_file_free(s->f);
	s->f = cid_file_new(NULL, NULL);
	s->sent = 0;
	return 0;
}

static int
remote_add(ipfs_store *st, struct src *s, cid *out, uint64_t *size)
{
	cid node;
	char a[CID_MAXSTR], b[CID_MAXSTR];
	int rc;

	s->f = cid_file_new(NULL, NULL);
	rc = kubo_add(st->api, s->name, s->size, src_read, src_rewind, s,
	    &node);
	if (rc < 0) {
		cid_file_free(s->f);
		return -1;
	}
	if (s->size > 0 && s->sent != (uint64_t)s->size) {
		cid_file_free(s->f);
		return dml_error("%s: changed while it was read", s->name);
	}
	if (cid_file_finish(s->f, out, size) < 0)
		return -1;
	if (node.len != out->len || memcmp(node.bin, out->bin, out->len)) {
		cid_str(&node, a);
		cid_str(out, b);
		return dml_error("%s: the node made %s of %s, but its CID is %s",
		    kubo_url(st->api), a, s->name, b);
	}
	return 0;
}

int
ipfs_add_fd(ipfs_store *st, int fd, const char *name, int flags, cid *out,
    uint64_t *size)
{
	cid_file *f;

	if (!name)
		name = "-";
	if (st->api && !(flags & IPFS_ONLY_HASH)) {
		struct src s = {fd, NULL, -1, -1, 0, NULL, name};
		struct stat sb;
		s.start = lseek(fd, 0, SEEK_CUR);
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && s.start >= 0 &&
		    sb.st_size >= s.start)
			s.size = (int64_t)(sb.st_size - s.start);
		return remote_add(st, &s, out, size);
	}
	st->syserr = 0;
	f = cid_file_new(flags & IPFS_ONLY_HASH ? NULL : store_block, st);
	cid_file_set_threads(f, st->threads);
	if (cid_file_read_fd(f, fd) < 0) {
		cid_file_free(f);
		if (st->syserr)
			return -2;
		return dml_error_prefix("%s", name);
	}
	return finish_add(st, f, flags, out, size);
}

int
ipfs_add_file(ipfs_store *st, const char *path, int flags, cid *out,
    uint64_t *size)
{
	int fd, rc;
	struct stat sb;

	if (strcmp(path, "-") == 0)
		return ipfs_add_fd(st, 0, "-", flags, out, size);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dml_error_sys("%s", path);
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		return errno = EISDIR, dml_error_sys("%s", path);
	}
	rc = ipfs_add_fd(st, fd, path, flags, out, size);
	close(fd);
	return rc;
}

int
ipfs_add_bytes(ipfs_store *st, const void *p, size_t n, int flags, cid *out)
{
	cid_file *f;
	uint64_t size;

	if (st->api && !(flags & IPFS_ONLY_HASH)) {
		struct src s = {-1, p, 0, (int64_t)n, 0, NULL, "bytes"};
		if (!s.mem)
			s.mem = (const unsigned char *)"";
		return remote_add(st, &s, out, &size);
	}
	st->syserr = 0;
	f = cid_file_new(flags & IPFS_ONLY_HASH ? NULL : store_block, st);
	if (cid_file_write(f, p, n) < 0) {
		cid_file_free(f);
		return st->syserr ? -2 : -1;
	}
	return finish_add(st, f, flags, out, &size);
}

/* ---- the DAG walk ---------------------------------------------------- */

/* Protocol buffers, strictly: canonical varints, known fields only. */
struct pb {
	const unsigned char *p;
	size_t n, pos;
};

static int
pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		unsigned char c;
		if (b->pos == b->n)
			return -1;
		c = b->p[b->pos++];
		if (i == 9 && c > 1)
			return -1;	/* more than 64 bits */
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (c == 0 && i > 0)
				return -1;	/* padded: not canonical */
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
pb_key(struct pb *b, unsigned *field, unsigned *wt)
{
	uint64_t k;

	if (pb_varint(b, &k) < 0 || k >> 3 == 0 || k >> 3 > 0xffff)
		return -1;
	*field = (unsigned)(k >> 3);
	*wt = (unsigned)(k & 7);
	return 0;
}

static int
pb_bytes(struct pb *b, const unsigned char **p, size_t *n)
{
	uint64_t len;

	if (pb_varint(b, &len) < 0 || len > b->n - b->pos)
		return -1;
	*p = b->p + b->pos;
	*n = (size_t)len;
	b->pos += (size_t)len;
	return 0;
}

/* a link's target: a CIDv1 sha2-256 of a raw or dag-pb block */
static int
link_cid(const unsigned char *p, size_t n, cid *c)
{
	char s[CID_MAXSTR];

	if (n != 36)
		return -1;
	memcpy(c->bin, p, n);
	c->len = n;
	cid_str(c, s);
	return cid_parse(c, s) < 0 ? dml_error("bad CID in a link") : 0;
}

struct node {
	cid *links;
	uint64_t *sizes;	/* UnixFS blocksizes */
	size_t nlinks, nsizes;
	const unsigned char *data;	/* UnixFS Data: file bytes here */
	size_t ndata;
	int has_filesize;
	uint64_t filesize;
};

static int
parse_link(const unsigned char *p, size_t n, cid *c)
{
	struct pb b = {p, n, 0};
	unsigned field, wt, last = 0;
	const unsigned char *v;
	size_t vn;
	uint64_t x;
	int hash = 0;

	while (b.pos < b.n) {
		if (pb_key(&b, &field, &wt) < 0 || field <= last)
			return dml_error("malformed link");
		last = field;
		if (field == 1 && wt == 2) {		/* Hash */
			if (pb_bytes(&b, &v, &vn) < 0 || link_cid(v, vn, c) < 0)
				return dml_error("malformed link hash");
			hash = 1;
		} else if (field == 2 && wt == 2) {	/* Name */
			if (pb_bytes(&b, &v, &vn) < 0)
				return dml_error("malformed link name");
		} else if (field == 3 && wt == 0) {	/* Tsize */
			if (pb_varint(&b, &x) < 0)
				return dml_error("malformed link size");
		} else
			return dml_error("unknown field %u in a link", field);
	}
	return hash ? 0 : dml_error("link without a hash");
}

static int
parse_unixfs(const unsigned char *p, size_t n, struct node *nd)
{
	struct pb b = {p, n, 0};
	unsigned field, wt, last = 0;
	const unsigned char *v;
	size_t vn, cap = 0;
	uint64_t x, type = 99;
	int has_type = 0;

	while (b.pos < b.n) {
		if (pb_key(&b, &field, &wt) < 0 ||
		    (field < last) || (field == last && field != 4))
			return dml_error("malformed UnixFS data");
		last = field;
		if (field == 4 && (wt == 0 || wt == 2)) {	/* blocksizes */
			struct pb pk = {NULL, 0, 0};
			if (wt == 2) {			/* packed */
				if (pb_bytes(&b, &pk.p, &pk.n) < 0)
					return dml_error("malformed blocksizes");
			}
			do {
				if (pb_varint(wt == 2 ? &pk : &b, &x) < 0)
					return dml_error("malformed blocksizes");
				if (nd->nsizes == cap) {
					cap = cap ? 2 * cap : 16;
					nd->sizes = xrealloc(nd->sizes,
					    cap * sizeof *nd->sizes);
				}
				nd->sizes[nd->nsizes++] = x;
			} while (wt == 2 && pk.pos < pk.n);
			continue;
		}
		switch (field) {
		case 1:		/* Type */
		case 3:		/* filesize */
		case 7:		/* mode */
			if (wt != 0 || pb_varint(&b, &x) < 0)
				return dml_error("malformed UnixFS field %u",
				    field);
			if (field == 1) {
				type = x;
				has_type = 1;
			} else if (field == 3) {
				nd->filesize = x;
				nd->has_filesize = 1;
			}
			break;
		case 2:		/* Data */
		case 8:		/* mtime */
			if (wt != 2 || pb_bytes(&b, &v, &vn) < 0)
				return dml_error("malformed UnixFS field %u",
				    field);
			if (field == 2) {
				nd->data = v;
				nd->ndata = vn;
			}
			break;
		case 5:
		case 6:
			return dml_error("HAMT fields in a file node");
		default:
			return dml_error("unknown UnixFS field %u", field);
		}
	}
	if (!has_type)
		return dml_error("UnixFS data without a type");
	if (type == 1 || type == 5)
		return dml_error("a directory, not a file");
	if (type != 0 && type != 2)
		return dml_error("UnixFS type %llu, not a file",
		    (unsigned long long)type);
	return 0;
}

/* a dag-pb node: Links (field 2) first, then Data (field 1) */
static int
parse_node(const unsigned char *p, size_t n, struct node *nd)
{
	struct pb b = {p, n, 0};
	unsigned field, wt;
	const unsigned char *v, *data = NULL;
	size_t vn, ndata = 0, cap = 0;
	int seen_data = 0;

	while (b.pos < b.n) {
		if (pb_key(&b, &field, &wt) < 0 || wt != 2 ||
		    pb_bytes(&b, &v, &vn) < 0)
			return dml_error("malformed dag-pb node");
		if (field == 2) {
			if (seen_data)
				return dml_error("dag-pb links after the data");
			if (nd->nlinks == cap) {
				cap = cap ? 2 * cap : 16;
				nd->links = xrealloc(nd->links,
				    cap * sizeof *nd->links);
			}
			if (parse_link(v, vn, &nd->links[nd->nlinks]) < 0)
				return -1;
			nd->nlinks++;
		} else if (field == 1) {
			if (seen_data)
				return dml_error("dag-pb data twice");
			seen_data = 1;
			data = v;
			ndata = vn;
		} else
			return dml_error("unknown dag-pb field %u", field);
	}
	if (!seen_data)
		return dml_error("dag-pb node without UnixFS data");
	if (parse_unixfs(data, ndata, nd) < 0)
		return -1;
	if (nd->nsizes != nd->nlinks)
		return dml_error("%zu links but %zu blocksizes", nd->nlinks,
		    nd->nsizes);
	if (nd->has_filesize) {
		uint64_t sum = nd->ndata;
		for (size_t i = 0; i < nd->nsizes; i++) {
			if (sum + nd->sizes[i] < sum)
				return dml_error("blocksizes overflow");
			sum += nd->sizes[i];
		}
		if (sum != nd->filesize)
			return dml_error("filesize %llu is not the %llu bytes "
			    "of its data and blocksizes",
			    (unsigned long long)nd->filesize,
			    (unsigned long long)sum);
	}
	return 0;
}

struct walk {
	ipfs_store *st;
	ipfs_sink sink;
	void *ctx;
	uint64_t done, total;	/* bytes out; total from the root, if known */
	int sinkfail;
};

static int
emit(struct walk *w, const void *p, size_t n)
{
	if (n && w->sink(w->ctx, p, n) < 0) {
		w->sinkfail = 1;
		return -1;
	}
	w->done += n;
	if (w->total)
		dml_progress("bytes", (long long)w->done, (long long)w->total);
	return 0;
}

static int
walk(struct walk *w, const cid *c, int depth, uint64_t *bytes)
{
	struct node nd = {0};
	unsigned char *p;
	size_t n;
	char s[CID_MAXSTR];
	int rc;

	if (depth > MAXDEPTH)
		return dml_error("the DAG is deeper than %d levels", MAXDEPTH);
	if ((rc = ipfs_block_get(w->st, c, &p, &n)) < 0)
		return rc;
	if (cid_codec(c) == CID_RAW) {
		rc = emit(w, p, n);
		free(p);
		*bytes = n;
		return rc;
	}
	if (parse_node(p, n, &nd) < 0) {
		cid_str(c, s);
		rc = dml_error_prefix("block %s", s);
		goto out;
	}
	if (depth == 0 && nd.has_filesize)
		w->total = nd.filesize;
	if ((rc = emit(w, nd.data, nd.ndata)) < 0)
		goto out;
	*bytes = nd.ndata;
	free(p);
	p = NULL;
	for (size_t i = 0; i < nd.nlinks; i++) {
		uint64_t got = 0;
		if ((rc = walk(w, &nd.links[i], depth + 1, &got)) < 0)
			goto out;
		if (got != nd.sizes[i]) {
			cid_str(&nd.links[i], s);
			rc = dml_error("block %s holds %llu bytes of the file, "
			    "its parent says %llu", s, (unsigned long long)got,
			    (unsigned long long)nd.sizes[i]);
			goto out;
		}
		*bytes += got;
	}
out:
	free(p);
	free(nd.links);
	free(nd.sizes);
	return rc;
}

int
ipfs_cat(ipfs_store *st, const cid *c, ipfs_sink sink, void *ctx)
{
	struct walk w = {st, sink, ctx, 0, 0, 0};
	uint64_t bytes;
	int rc = walk(&w, c, 0, &bytes);

	if (rc < 0)
		return w.sinkfail ? -2 : rc;
	return 0;
}
