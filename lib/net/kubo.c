/* kubo: the IPFS RPC API over libcurl, bounded in time, retried, checked. */
#include "kubo.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_MAX (1 << 20)	/* JSON answers are small */

struct kubo {
	CURL *h;
	char *url;		/* "http://host:port" */
	int timeout;
	char errbuf[CURL_ERROR_SIZE];
};

struct buf {
	unsigned char *p;
	size_t n, cap, max;
	int over;
};

/* An upload in progress: the caller's source behind curl's callbacks. */
struct upload {
	kubo_read_fn rd;
	void *ctx;
	int64_t sent;
	int failed;		/* the source itself failed: no retry */
	char err[512];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
init_curl(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* "http://host:port" from the forms kubo_open accepts */
static char *
normalise(const char *u)
{
	char host[256], proto[8], tail[64];
	unsigned port;
	size_t n;

	if (u[0] == '/') {	/* multiaddr */
		if (sscanf(u, "/%7[a-z0-9]/%255[^/]/tcp/%u%63s", proto, host,
		    &port, tail) < 3 || port == 0 || port > 65535)
			return NULL;
		if (strcmp(proto, "ip4") != 0 && strcmp(proto, "dns") != 0 &&
		    strcmp(proto, "dns4") != 0 && strcmp(proto, "dns6") != 0 &&
		    strcmp(proto, "ip6") != 0)
			return NULL;
		if (strcmp(proto, "ip6") == 0)
			return xasprintf("http://[%s]:%u", host, port);
		return xasprintf("http://%s:%u", host, port);
	}
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return NULL;
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		n--;
	if (n <= 8 || strchr(u, ' ') || strchr(u, '?') || strchr(u, '#'))
		return NULL;
	return xasprintf("%.*s", (int)n, u);
}

kubo *
kubo_open(const char *url)
{
	kubo *k;
	char *u = NULL;

	pthread_once(&curl_once, init_curl);
	if (curl_init_rc != CURLE_OK)
		return dml_error("cannot initialise libcurl: %s",
		    curl_easy_strerror(curl_init_rc)), NULL;
	/* a scheme-less URL goes through normalise twice; free the copy */
	if (url[0] != '/' && !strstr(url, "://")) {
		char *full = xasprintf("http://%s", url);
		u = normalise(full);
		free(full);
	} else
		u = normalise(url);
	if (!u)
		return dml_error("%s: not an API URL (http://HOST:PORT or "
		    "/ip4/ADDR/tcp/PORT)", url), NULL;
	k = xcalloc(1, sizeof *k);
	k->url = u;
	k->timeout = KUBO_DEFAULT_TIMEOUT;
	if (!(k->h = curl_easy_init())) {
		free(k->url);
		free(k);
		return dml_error("cannot initialise libcurl"), NULL;
	}
	return k;
}

void
kubo_close(kubo *k)
{
	if (!k)
		return;
	curl_easy_cleanup(k->h);
	free(k->url);
	free(k);
}

const char *
kubo_url(const kubo *k)
{
	return k->url;
}

void
kubo_set_timeout(kubo *k, int seconds)
{
	k->timeout = seconds < 1 ? 1 : seconds;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->n + n > b->max) {
		b->over = 1;
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	}
	if (b->n + n > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->cap < b->n + n)
			b->cap *= 2;
		if (b->cap > b->max)
			b->cap = b->max;
		b->p = xrealloc(b->p, b->cap + 1);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return n;
}

static size_t
on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	ssize_t n = u->rd(u->ctx, p, size * nmemb);

	if (n < 0) {
		u->failed = 1;
		snprintf(u->err, sizeof u->err, "%s", dml_errmsg());
		return CURL_READFUNC_ABORT;
	}
	u->sent += n;
	return (size_t)n;
}

/* curl asks to rewind only to resend (we never follow redirects): refuse
 * anything but the start of an untouched source */
static int
on_seek(void *arg, curl_off_t off, int origin)
{
	struct upload *u = arg;

	return off == 0 && origin == SEEK_SET && u->sent == 0 ?
	    CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
}

/* The node's own error message from a JSON error answer, if it is one. */
static char *
node_message(const struct buf *b)
{
	json_t *j;
	char *m = NULL;

	if (!b->n)
		return NULL;
	j = json_loadb((const char *)b->p, b->n, 0, NULL);
	if (j && json_is_string(json_object_get(j, "Message")))
		m = xstrdup(json_string_value(json_object_get(j, "Message")));
	json_decref(j);
	return m;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

enum { DONE, RETRY, FAIL };

/*
 * One POST of path?query: the answer into *b (status 200 only). mime, if
 * not NULL, is the body. long_wait: an upload, bounded by the low-speed
 * limit only, not by a total time. Returns DONE, RETRY (a failure that may
 * pass, dml_error set) or FAIL.
 */
static int
post_once(kubo *k, const char *pq, curl_mime *mime, int long_wait,
    struct buf *b, const struct upload *up)
{
	char *url = xasprintf("%s/api/v0/%s", k->url, pq);
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURLcode rc;
	char *msg;

	curl_easy_reset(k->h);
	k->errbuf[0] = 0;
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(k->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(k->h, CURLOPT_CONNECTTIMEOUT,
	    (long)(k->timeout < 10 ? k->timeout : 10));
	/* a node that stops sending or receiving for `timeout` seconds */
	curl_easy_setopt(k->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(k->h, CURLOPT_LOW_SPEED_TIME, (long)k->timeout);
	if (!long_wait)
		curl_easy_setopt(k->h, CURLOPT_TIMEOUT, (long)k->timeout + 5);
	curl_easy_setopt(k->h, CURLOPT_USERAGENT, "dml/" DML_VERSION);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, b);
	if (mime) {
		/* no "Expect: 100-continue": a node that does not answer it
		 * would cost a second per upload */
		hdr = curl_slist_append(NULL, "Expect:");
		curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(k->h, CURLOPT_MIMEPOST, mime);
	} else {
		curl_easy_setopt(k->h, CURLOPT_POST, 1L);
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	rc = curl_easy_perform(k->h);
	curl_slist_free_all(hdr);
	free(url);
	if (rc == CURLE_OK)
		curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &status);
	if (up && up->failed) {
		dml_error("%s", up->err);
		return FAIL;
	}
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR:
		if (b->over) {
			dml_error("%s: the node's answer is longer than %zu bytes",
			    k->url, b->max);
			return FAIL;
		}
		dml_error("%s: %s", k->url, k->errbuf[0] ? k->errbuf :
		    curl_easy_strerror(rc));
		return FAIL;
	case CURLE_COULDNT_CONNECT:
		dml_error("%s: cannot connect: %s", k->url, k->errbuf[0] ?
		    k->errbuf : curl_easy_strerror(rc));
		return RETRY;
	case CURLE_OPERATION_TIMEDOUT:
		dml_error("%s: no answer in time: %s", k->url, k->errbuf[0] ?
		    k->errbuf : curl_easy_strerror(rc));
		return RETRY;
	case CURLE_PARTIAL_FILE:
		dml_error("%s: truncated answer: %s", k->url, k->errbuf[0] ?
		    k->errbuf : curl_easy_strerror(rc));
		return RETRY;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		dml_error("%s: connection failed: %s", k->url, k->errbuf[0] ?
		    k->errbuf : curl_easy_strerror(rc));
		return RETRY;
	default:
		dml_error("%s: %s", k->url, k->errbuf[0] ? k->errbuf :
		    curl_easy_strerror(rc));
		return FAIL;
	}
	if (status == 200)
		return DONE;
	msg = node_message(b);
	if (msg) {
		/* the node ran the command and refused: asking again would
		 * get the same answer */
		dml_error("%s: the node says: %s", k->url, msg);
		free(msg);
		return FAIL;
	}
	dml_error("%s: HTTP status %ld", k->url, status);
	return status == 502 || status == 503 || status == 504 ||
	    status == 500 ? RETRY : FAIL;
}

/* POST with retries; for uploads, mkmime builds a fresh body per attempt
 * after rewinding the source. */
static int
post(kubo *k, const char *pq, struct buf *b, struct upload *up,
    curl_mime *(*mkmime)(kubo *, void *), void *mctx,
    kubo_rewind_fn rewind, void *rctx)
{
	long wait = 250;

	for (int attempt = 1;; attempt++) {
		curl_mime *mime = mkmime ? mkmime(k, mctx) : NULL;
		int r;

		b->n = 0;
		b->over = 0;
		if (up) {
			up->sent = 0;
			up->failed = 0;
		}
		r = post_once(k, pq, mime, mime != NULL, b, up);
		curl_mime_free(mime);
		if (r == DONE)
			return 0;
		if (r == FAIL || attempt == KUBO_ATTEMPTS)
			return -1;
		/* an upload can be sent again only from the start */
		if (up && up->sent > 0 && (!rewind || rewind(rctx) < 0))
			return -1;
		pause_ms(wait);
		wait *= 2;
	}
}

/* base58btc (bitcoin alphabet) to bytes; -1 if not base58 or too long */
static int
base58_decode(const char *s, unsigned char *out, size_t max, size_t *len)
{
	static const char a[] =
	    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	unsigned char tmp[64];
	size_t n = 0, zeros = 0;

	memset(tmp, 0, sizeof tmp);
	while (s[zeros] == '1')
		zeros++;
	for (const char *p = s; *p; p++) {
		const char *q = strchr(a, *p);
		unsigned carry;
		if (!q)
			return -1;
		carry = (unsigned)(q - a);
		for (size_t i = 0; i < n || carry; i++) {
			if (i == sizeof tmp)
				return -1;
			carry += 58u * tmp[i];
			tmp[i] = (unsigned char)carry;
			carry >>= 8;
			if (i >= n)
				n = i + 1;
		}
	}
	if (zeros + n > max)
		return -1;
	memset(out, 0, zeros);
	for (size_t i = 0; i < n; i++)
		out[zeros + i] = tmp[n - 1 - i];
	*len = zeros + n;
	return 0;
}

/*
 * The sha2-256 digest of a CID as a node prints it: CIDv1 in base32 ("b")
 * or base58btc ("z"), or CIDv0 ("Qm...", a bare multihash). js-ipfs
 * answers in base58 unless asked, and some commands ignore the asking.
 */
static int
answer_digest(const char *s, unsigned char d[32])
{
	unsigned char bin[64];
	size_t n;
	cid c;

	if (s[0] == 'b') {
		if (cid_parse(&c, s) < 0)
			return -1;
		memcpy(d, cid_digest(&c), 32);
		return 0;
	}
	if (s[0] == 'Q' && strlen(s) == 46) {
		if (base58_decode(s, bin, sizeof bin, &n) < 0 || n != 34 ||
		    bin[0] != 0x12 || bin[1] != 0x20)
			return -1;
		memcpy(d, bin + 2, 32);
		return 0;
	}
	if (s[0] == 'z') {
		/* 0x01 codec(1 or 2 bytes) 0x12 0x20 digest */
		if (base58_decode(s + 1, bin, sizeof bin, &n) < 0 || n < 36 ||
		    bin[0] != 0x01 || bin[n - 34] != 0x12 || bin[n - 33] != 0x20)
			return -1;
		memcpy(d, bin + n - 32, 32);
		return 0;
	}
	return -1;
}

/* A CIDv1 as a node prints it: base32, or base58btc from a node that
 * ignores cid-base=base32. */
static int
answer_cid(const char *s, cid *c)
{
	char text[CID_MAXSTR];
	size_t n;

	if (s[0] == 'b')
		return cid_parse(c, s);
	/* 36 bytes: version, codec, 0x12 0x20, digest; more would not fit
	 * the text buffer */
	if (s[0] != 'z' || base58_decode(s + 1, c->bin, 36, &n) < 0)
		return -1;
	c->len = n;
	cid_str(c, text);	/* cid_parse checks what the bytes say */
	return cid_parse(c, text);
}

/* The last JSON object of an NDJSON answer (add may send several). */
static json_t *
last_object(kubo *k, const struct buf *b)
{
	size_t end = b->n, start;
	json_error_t e;
	json_t *j;

	while (end > 0 && (b->p[end - 1] == '\n' || b->p[end - 1] == '\r' ||
	    b->p[end - 1] == ' '))
		end--;
	if (end == 0)
		return dml_error("%s: empty answer", k->url), NULL;
	start = end;
	while (start > 0 && b->p[start - 1] != '\n')
		start--;
	j = json_loadb((const char *)b->p + start, end - start, 0, &e);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return dml_error("%s: the answer is not JSON: %s", k->url,
		    e.text), NULL;
	}
	return j;
}

struct addmime {
	const char *name;
	int64_t size;
	struct upload *up;
};

static curl_mime *
add_mime(kubo *k, void *arg)
{
	struct addmime *m = arg;
	curl_mime *mime = curl_mime_init(k->h);
	curl_mimepart *part = curl_mime_addpart(mime);

	curl_mime_name(part, "file");
	curl_mime_filename(part, m->name);
	/* js-ipfs refuses a part without a content type */
	curl_mime_type(part, "application/octet-stream");
	curl_mime_data_cb(part, m->size, on_read, on_seek, NULL, m->up);
	return mime;
}

int
kubo_add(kubo *k, const char *name, int64_t size, kubo_read_fn rd,
    kubo_rewind_fn rewind, void *ctx, cid *out)
{
	struct upload up = {rd, ctx, 0, 0, ""};
	struct addmime m = {name && *name ? name : "file", size, &up};
	struct buf b = {NULL, 0, 0, ANSWER_MAX, 0};
	json_t *j = NULL, *h;
	int rc = -1;

	if (post(k, "add?cid-version=1&raw-leaves=true&cid-base=base32"
	    "&pin=true&progress=false", &b, &up, add_mime, &m, rewind,
	    ctx) < 0)
		goto out;
	if (!(j = last_object(k, &b)))
		goto out;
	h = json_object_get(j, "Hash");
	if (!json_is_string(h)) {
		dml_error("%s: add: the answer has no \"Hash\"", k->url);
		goto out;
	}
	/* Size (the DAG's size) is a string from Kubo, a number from
	 * js-ipfs; not needed, but a present one must be one of those */
	if (json_object_get(j, "Size") &&
	    !json_is_string(json_object_get(j, "Size")) &&
	    !json_is_integer(json_object_get(j, "Size"))) {
		dml_error("%s: add: \"Size\" is neither a number nor a string",
		    k->url);
		goto out;
	}
	if (answer_cid(json_string_value(h), out) < 0) {
		dml_error("%s: add: the node answered \"%.70s\", not a CIDv1 "
		    "with a sha2-256 hash", k->url, json_string_value(h));
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	free(b.p);
	return rc;
}

int
kubo_block_get(kubo *k, const cid *c, size_t max, unsigned char **p,
    size_t *n)
{
	char s[CID_MAXSTR], *pq;
	struct buf b = {NULL, 0, 0, max, 0};
	int rc;

	cid_str(c, s);
	pq = xasprintf("block/get?arg=%s&timeout=%ds", s, k->timeout);
	rc = post(k, pq, &b, NULL, NULL, NULL, NULL, NULL);
	free(pq);
	if (rc < 0) {
		free(b.p);
		return dml_error_prefix("block %s", s);
	}
	*p = b.p ? b.p : xmalloc(1);
	*n = b.n;
	return 0;
}

struct mem {
	const unsigned char *p;
	size_t n, off;
};

static ssize_t
mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;

	if (n > m->n - m->off)
		n = m->n - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int
mem_rewind(void *ctx)
{
	((struct mem *)ctx)->off = 0;
	return 0;
}

int
kubo_block_put(kubo *k, const cid *c, const void *p, size_t n)
{
	struct mem m = {p, n, 0};
	struct upload up = {mem_read, &m, 0, 0, ""};
	struct addmime am = {"block", (int64_t)n, &up};
	struct buf b = {NULL, 0, 0, ANSWER_MAX, 0};
	char *pq;
	json_t *j = NULL, *key;
	unsigned char d[32];
	int rc = -1;

	/* cid-codec for Kubo; js-ipfs ignores it and answers a CIDv0 of the
	 * same multihash, which is all a blockstore keys on */
	pq = xasprintf("block/put?cid-codec=%s&mhtype=sha2-256&pin=false",
	    cid_codec(c) == CID_RAW ? "raw" : "dag-pb");
	rc = post(k, pq, &b, &up, add_mime, &am, mem_rewind, &m);
	free(pq);
	if (rc < 0)
		goto out;
	rc = -1;
	if (!(j = last_object(k, &b)))
		goto out;
	key = json_object_get(j, "Key");
	if (!json_is_string(key) ||
	    answer_digest(json_string_value(key), d) < 0) {
		dml_error("%s: block/put: no CID in the answer", k->url);
		goto out;
	}
	if (memcmp(d, cid_digest(c), 32) != 0) {
		dml_error("%s: block/put: the node stored the block as %.70s",
		    k->url, json_string_value(key));
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	free(b.p);
	return rc;
}

int
kubo_version(kubo *k, char **version)
{
	struct buf b = {NULL, 0, 0, ANSWER_MAX, 0};
	json_t *j, *v;
	int rc = -1;

	if (post(k, "version", &b, NULL, NULL, NULL, NULL, NULL) < 0)
		goto out;
	if (!(j = last_object(k, &b)))
		goto out;
	v = json_object_get(j, "Version");
	if (json_is_string(v)) {
		*version = xstrdup(json_string_value(v));
		rc = 0;
	} else
		dml_error("%s: version: no \"Version\" in the answer", k->url);
	json_decref(j);
out:
	free(b.p);
	return rc;
}
