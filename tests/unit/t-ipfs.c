/* ipfs: blockstore round trips, adds on several threads, the DAG walk's
 * strictness and corruption detection. */
#include "ipfs.h"
#include "tap.h"
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CH CID_CHUNK

static char dir[64];

/* ---- helpers --------------------------------------------------------- */

static unsigned char *
pattern(size_t n)
{
	unsigned char *b = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((i * 131 + (i >> 11) + (i >> 17)) & 0xff);
	return b;
}

struct mem {
	unsigned char *p;
	size_t n;
	int fail;
};

static int
to_mem(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;
	if (m->fail)
		return dml_error("the sink is full");
	m->p = realloc(m->p, m->n + n + 1);
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

struct pipew {
	int fd;
	const unsigned char *p;
	size_t n;
};

static void *
writer(void *arg)
{
	struct pipew *w = arg;
	dml_write_all(w->fd, w->p, w->n);
	close(w->fd);
	return NULL;
}

/* protocol buffer pieces, for hand-made dag-pb nodes */
static size_t
pv(unsigned char *o, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (unsigned char)v;
	return n;
}

static size_t
pbytes(unsigned char *o, unsigned field, const void *p, size_t len)
{
	size_t n = pv(o, field << 3 | 2);
	n += pv(o + n, len);
	memcpy(o + n, p, len);
	return n + len;
}

static size_t
pint(unsigned char *o, unsigned field, uint64_t v)
{
	size_t n = pv(o, field << 3);
	return n + pv(o + n, v);
}

static size_t
plink(unsigned char *o, const cid *c, uint64_t tsize)
{
	unsigned char l[128];
	size_t n = pbytes(l, 1, c->bin, c->len);
	n += pbytes(l + n, 2, "", 0);
	n += pint(l + n, 3, tsize);
	return pbytes(o, 2, l, n);
}

/* a UnixFS message: type, optional data, filesize (if >= 0), sizes */
static size_t
unixfs(unsigned char *o, int type, const char *data, long long filesize,
    const uint64_t *sizes, int nsizes)
{
	size_t n = pint(o, 1, (uint64_t)type);
	if (data)
		n += pbytes(o + n, 2, data, strlen(data));
	if (filesize >= 0)
		n += pint(o + n, 3, (uint64_t)filesize);
	for (int i = 0; i < nsizes; i++)
		n += pint(o + n, 4, sizes[i]);
	return n;
}

static ipfs_store *st;

static void
put_raw(const char *s, cid *c)
{
	cid_of_block(c, CID_RAW, s, strlen(s));
	ipfs_block_put(st, c, s, strlen(s));
}

static void
put_node(const unsigned char *p, size_t n, cid *c)
{
	cid_of_block(c, CID_DAGPB, p, n);
	ipfs_block_put(st, c, p, n);
}

/* cat a node; want NULL: must fail with a message containing err */
static void
cat_is(const cid *c, const char *want, const char *err, const char *what)
{
	struct mem m = {NULL, 0, 0};
	int rc = ipfs_cat(st, c, to_mem, &m);

	if (want)
		ok(rc == 0 && m.n == strlen(want) &&
		    memcmp(m.p, want, m.n) == 0, "%s", what);
	else {
		ok(rc == -1 && strstr(dml_errmsg(), err), "%s", what);
		if (rc != -1 || !strstr(dml_errmsg(), err))
			printf("#   rc %d, message: %s\n", rc, dml_errmsg());
	}
	free(m.p);
}

/* ---- the tests ------------------------------------------------------- */

static void
blockstore(void)
{
	cid c, bad;
	unsigned char *p;
	size_t n;
	char *path;
	struct stat sb;
	int fd;

	cid_of_block(&c, CID_RAW, "block", 5);
	ok(ipfs_block_has(st, &c) == 0, "a block not yet stored");
	ok(ipfs_block_put(st, &c, "block", 5) == 0, "put a block");
	ok(ipfs_block_has(st, &c) == 1, "then it is there");
	ok(ipfs_block_get(st, &c, &p, &n) == 0 && n == 5 &&
	    memcmp(p, "block", 5) == 0, "and comes back");
	free(p);
	path = ipfs_block_path(st, &c);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0444,
	    "stored read-only at %s", path + strlen(dir));
	ok(ipfs_block_put(st, &c, "block", 5) == 0, "putting it again is fine");
	cid_of_block(&bad, CID_RAW, "other", 5);
	ok(ipfs_block_put(st, &bad, "block", 5) == -1 &&
	    strstr(dml_errmsg(), "corrupted"), "bytes that do not match the CID "
	    "are refused");
	ok(ipfs_block_get(st, &bad, &p, &n) == -1 &&
	    strstr(dml_errmsg(), "is not in"), "a missing block");
	chmod(path, 0644);
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, "bl0ck", 5) == 5, "alter the block on disk");
	close(fd);
	ok(ipfs_block_get(st, &c, &p, &n) == -1 &&
	    strstr(dml_errmsg(), "corrupted"), "an altered block is refused");
	ok(truncate(path, 2) == 0 && ipfs_block_put(st, &c, "block", 5) == 0 &&
	    ipfs_block_get(st, &c, &p, &n) == 0 && n == 5,
	    "a block cut short is replaced by the next put");
	free(p);
	free(path);
}

static void
adds(void)
{
	static const size_t sizes[] = {0, 1, CH - 1, CH, CH + 1, 3 * CH + 5,
	    174 * CH, 174 * CH + 1, 175 * CH + 3};
	char path[128];

	snprintf(path, sizeof path, "%s/input", dir);
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		unsigned char *b = pattern(n);
		char want[CID_MAXSTR], got[CID_MAXSTR];
		struct mem m = {NULL, 0, 0};
		uint64_t size;
		cid c;
		int good = 1, fd, pfd[2];

		cid_of_bytes(b, n, want);
		ok(ipfs_add_bytes(st, b, n, 0, &c) == 0, "add %zu bytes", n);
		cid_str(&c, got);
		is_str(got, want, "  the CID of ipfs add");
		dml_write_file(path, b, n, 0600);
		for (int th = 1; th <= 3; th++) {
			ipfs_set_threads(st, th);
			fd = open(path, O_RDONLY);
			good &= ipfs_add_fd(st, fd, "input", 0, &c, &size) == 0 &&
			    size == n;
			close(fd);
			cid_str(&c, got);
			good &= strcmp(got, want) == 0;
		}
		ok(good, "  from a file on 1, 2 and 3 threads: the same CID");
		if (pipe(pfd) == 0) {
			struct pipew w = {pfd[1], b, n};
			pthread_t t;
			pthread_create(&t, NULL, writer, &w);
			ipfs_set_threads(st, 2);
			good = ipfs_add_fd(st, pfd[0], "pipe", 0, &c, &size) == 0 &&
			    size == n;
			pthread_join(t, NULL);
			close(pfd[0]);
			cid_str(&c, got);
			ok(good && strcmp(got, want) == 0, "  from a pipe, 2 threads");
		}
		ok(cid_parse(&c, want) == 0 && ipfs_cat(st, &c, to_mem, &m) == 0 &&
		    m.n == n && (n == 0 || memcmp(m.p, b, n) == 0),
		    "  cat gives the bytes back");
		free(m.p);
		free(b);
	}
}

/* Blocks handed to the callback by cid_file_read_fd on 1 and 2 threads. */
struct seen {
	pthread_mutex_t mu;
	size_t blocks;
	uint64_t bytes;
	unsigned char sum[32];	/* XOR of the block digests: order-free */
};

static int
count(void *ctx, const cid *c, const void *p, size_t n)
{
	struct seen *s = ctx;
	pthread_mutex_lock(&s->mu);
	s->blocks++;
	s->bytes += n;
	for (int i = 0; i < 32; i++)
		s->sum[i] ^= cid_digest(c)[i];
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int
refuse_third(void *ctx, const cid *c, const void *p, size_t n)
{
	int *k = ctx;
	return __atomic_add_fetch(k, 1, __ATOMIC_SEQ_CST) == 3 ?
	    dml_error("no room for block 3") : 0;
}

static void
read_fd(void)
{
	size_t n = 350 * CH + 7;	/* three levels of links */
	unsigned char *b = pattern(n);
	char path[128], want[CID_MAXSTR], got[CID_MAXSTR];
	struct seen s[2];
	int fd, k = 0;
	uint64_t size;
	cid c;

	snprintf(path, sizeof path, "%s/big", dir);
	dml_write_file(path, b, n, 0600);
	cid_of_bytes(b, n, want);
	for (int th = 1; th <= 2; th++) {
		cid_file *f;
		memset(&s[th - 1], 0, sizeof s[0]);
		pthread_mutex_init(&s[th - 1].mu, NULL);
		f = cid_file_new(count, &s[th - 1]);
		cid_file_set_threads(f, th);
		fd = open(path, O_RDONLY);
		ok(cid_file_read_fd(f, fd) == 0 && cid_file_finish(f, &c, &size) == 0 &&
		    size == n, "cid_file_read_fd on %d thread(s)", th);
		close(fd);
		cid_str(&c, got);
		is_str(got, want, "  the same CID as cid_of_bytes");
		pthread_mutex_destroy(&s[th - 1].mu);
	}
	ok(s[0].blocks == s[1].blocks && s[0].blocks == 351 + 3 + 1 &&
	    s[0].bytes == s[1].bytes && memcmp(s[0].sum, s[1].sum, 32) == 0,
	    "  the same %zu blocks on 1 and 2 threads", s[0].blocks);
	{
		cid_file *f = cid_file_new(refuse_third, &k);
		cid_file_set_threads(f, 2);
		fd = open(path, O_RDONLY);
		ok(cid_file_read_fd(f, fd) < 0 &&
		    strstr(dml_errmsg(), "no room for block 3"),
		    "a callback's error on a helper thread reaches the caller");
		close(fd);
		cid_file_free(f);
	}
	free(b);
}

/* Nodes and DAGs the walk refuses, built on walk's leaves h ("hello "),
 * w ("world\n") and their node `good`. */
static void
walk_bad(const cid *hp, const cid *wp, const cid *goodp)
{
	unsigned char nb[4096], uf[512];
	size_t nn, un;
	cid h = *hp, w = *wp, good = *goodp, c, deep;
	uint64_t s66[2] = {6, 6}, s6[1] = {6}, s56[2] = {5, 6};

	un = unixfs(uf, 2, NULL, 12, s6, 1);
	nn = plink(nb, &h, 6);
	nn += plink(nb + nn, &w, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "2 links but 1 blocksizes", "blocksizes must match links");

	un = unixfs(uf, 2, NULL, 13, s66, 2);
	nn = plink(nb, &h, 6);
	nn += plink(nb + nn, &w, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "filesize 13", "filesize must be the sum");

	un = unixfs(uf, 2, NULL, 11, s56, 2);
	nn = plink(nb, &h, 6);
	nn += plink(nb + nn, &w, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "its parent says 5", "a child must hold its blocksize");

	un = unixfs(uf, 2, NULL, 6, s6, 1);
	nn = pbytes(nb, 1, uf, un);
	nn += plink(nb + nn, &h, 6);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "links after the data", "dag-pb: links come first");

	un = unixfs(uf, 2, NULL, 6, s6, 1);
	nn = plink(nb, &h, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	nn += pbytes(nb + nn, 3, "?", 1);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "unknown dag-pb field 3", "dag-pb: unknown fields");

	un = unixfs(uf, 1, NULL, -1, NULL, 0);
	nn = pbytes(nb, 1, uf, un);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "a directory", "a directory is not a file");

	uf[0] = 0x08, uf[1] = 0x02, uf[2] = 0x18, uf[3] = 0x83, uf[4] = 0x00;
	nn = pbytes(nb, 1, uf, 5);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "malformed UnixFS field 3", "a padded varint");

	nn = plink(nb, &h, 6);
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "without UnixFS data", "a node without data");

	un = unixfs(uf, 2, NULL, 6, s6, 1);
	nn = plink(nb, &h, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	nb[nn++] = 0x0a;
	nb[nn++] = 0x05;
	put_node(nb, nn, &c);
	cat_is(&c, NULL, "malformed dag-pb", "a truncated field");

	{
		cid v0 = h;
		memmove(v0.bin, v0.bin + 2, 34);	/* bare multihash */
		v0.len = 34;
		un = unixfs(uf, 2, NULL, 6, s6, 1);
		nn = plink(nb, &v0, 6);
		nn += pbytes(nb + nn, 1, uf, un);
		put_node(nb, nn, &c);
		cat_is(&c, NULL, "malformed link hash", "CIDv0 links are refused");
	}

	deep = h;
	for (int i = 0; i < 70; i++) {
		un = unixfs(uf, 2, NULL, 6, s6, 1);
		nn = plink(nb, &deep, 6);
		nn += pbytes(nb + nn, 1, uf, un);
		put_node(nb, nn, &deep);
	}
	cat_is(&deep, NULL, "deeper than 64", "a DAG too deep");

	{
		struct mem m = {NULL, 0, 1};
		ok(ipfs_cat(st, &good, to_mem, &m) == -2 &&
		    strstr(dml_errmsg(), "the sink is full"),
		    "a failing sink: -2, its message kept");
	}
	{
		char *p = ipfs_block_path(st, &w);
		chmod(p, 0644);
		FILE *f = fopen(p, "w");
		fputs("World\n", f);
		fclose(f);
		free(p);
		cat_is(&good, NULL, "corrupted", "a corrupted leaf under a node");
		unlink((p = ipfs_block_path(st, &h)));
		free(p);
		cat_is(&good, NULL, "is not in", "a missing leaf under a node");
	}
}

static void
walk(void)
{
	unsigned char nb[4096], uf[512];
	size_t nn, un;
	cid h, w, d, x, good, c;
	uint64_t s66[2] = {6, 6}, s3[1] = {3};

	put_raw("hello ", &h);
	put_raw("world\n", &w);
	put_raw("def", &d);

	un = unixfs(uf, 2, NULL, 12, s66, 2);
	nn = plink(nb, &h, 6);
	nn += plink(nb + nn, &w, 6);
	nn += pbytes(nb + nn, 1, uf, un);
	put_node(nb, nn, &good);
	cat_is(&good, "hello world\n", NULL, "a node of two raw leaves");

	un = unixfs(uf, 2, "abc", 6, s3, 1);
	nn = plink(nb, &d, 3);
	nn += pbytes(nb + nn, 1, uf, un);
	put_node(nb, nn, &c);
	cat_is(&c, "abcdef", NULL, "a file node's own data comes first");

	un = unixfs(uf, 0, "xyz", -1, NULL, 0);
	nn = pbytes(nb, 1, uf, un);
	put_node(nb, nn, &x);
	cat_is(&x, "xyz", NULL, "a Raw UnixFS node without filesize");

	{
		uint64_t s2[2] = {12, 3};
		un = unixfs(uf, 2, NULL, 15, s2, 2);
		nn = plink(nb, &good, 100);
		nn += plink(nb + nn, &d, 3);
		nn += pbytes(nb + nn, 1, uf, un);
		put_node(nb, nn, &c);
		cat_is(&c, "hello world\ndef", NULL, "two levels");
	}
	walk_bad(&h, &w, &good);
}

static void
opening(void)
{
	ipfs_store *s;
	char *e = xasprintf("%s/env", dir);
	cid c;

	setenv("DML_IPFS_REPO", e, 1);
	s = ipfs_open(NULL, NULL);
	is_str(ipfs_where(s), e, "DML_IPFS_REPO names the blockstore");
	ok(ipfs_add_bytes(s, "x", 1, IPFS_ONLY_HASH, &c) == 0 &&
	    access(e, F_OK) < 0, "only-hash makes no blockstore");
	ipfs_close(s);
	setenv("DML_IPFS_API", "/ip4/127.0.0.1/tcp/1", 1);
	s = ipfs_open(NULL, NULL);
	ok(s && ipfs_is_remote(s), "DML_IPFS_API wins over DML_IPFS_REPO");
	is_str(s ? ipfs_where(s) : NULL, "http://127.0.0.1:1",
	    "a multiaddr becomes a URL");
	ok(ipfs_block_has(s, &c) == -1, "block_has is local only");
	cid_of_block(&c, CID_RAW, "x", 1);
	ok(ipfs_cat(s, &c, to_mem, NULL) == -1 &&
	    strstr(dml_errmsg(), "http://127.0.0.1:1: cannot connect"),
	    "a closed port: cannot connect (after retries)");
	ipfs_close(s);
	s = ipfs_open(e, NULL);
	ok(s && !ipfs_is_remote(s), "an explicit repository wins over both");
	ipfs_close(s);
	s = ipfs_open(NULL, "127.0.0.1:5001/");
	is_str(s ? ipfs_where(s) : NULL, "http://127.0.0.1:5001",
	    "host:port/ becomes a URL");
	ipfs_close(s);
	ok(ipfs_open(NULL, "ftp://127.0.0.1:21") == NULL &&
	    strstr(dml_errmsg(), "not an API URL"), "other schemes are refused");
	ok(ipfs_open(NULL, "/ip4/127.0.0.1/udp/1") == NULL, "a multiaddr "
	    "without tcp is refused");
	unsetenv("DML_IPFS_REPO");
	unsetenv("DML_IPFS_API");
	free(e);
}

int
main(void)
{
	char *repo, *cmd;

	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof dir, "/tmp/t-ipfs.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	repo = xasprintf("%s/repo", dir);
	st = ipfs_open(repo, NULL);
	blockstore();
	adds();
	read_fd();
	walk();
	opening();
	ipfs_close(st);
	cmd = xasprintf("chmod -R u+w %s && rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	free(repo);
	return done_testing();
}
