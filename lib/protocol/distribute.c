/* distribute: device records, the registry snapshot, selecting devices for
 * a job, spreading them over the federated nodes, sealing the algorithm. */
#include "distribute.h"
#include "cid.h"
#include "data.h"
#include "timefmt.h"
#include "tensor.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HASHLEN 32

/* ---- dml.device ------------------------------------------------------ */

static int
listed(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

json_t *
dev_record(const dml_key *k, const json_t *profile, const char *region,
    long long capacity, const char *created, char *const *revoke)
{
	json_t *r = rec_new("dml.device"), *consent = json_array(), *x,
	       *attrs = json_object_get(profile, "attrs");
	size_t i;

	json_array_foreach(json_object_get(profile, "consent"), i, x)
		if (json_is_string(x) && !listed(revoke, json_string_value(x)))
			json_array_append(consent, x);
	if (!region)
		region = json_string_value(json_object_get(attrs, "region"));
	json_object_set_new(r, "consent", consent);
	json_object_set_new(r, "attrs", json_is_object(attrs) ?
	    json_deep_copy(attrs) : json_object());
	if (region)
		json_object_set_new(r, "region", json_string(region));
	json_object_set_new(r, "capacity", json_integer(capacity));
	json_object_set_new(r, "created", json_string(created));
	if (rec_sign(r, k) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

int
dev_parse(const rec_in *in, const json_t *r, dev_info *d)
{
	const char *from;
	long long t;
	size_t i;
	json_t *x;

	memset(d, 0, sizeof *d);
	if (rec_check(in, r, "dml.device") < 0 ||
	    rec_get_str(in, r, "from", &from) < 0 ||
	    !(d->consent = rec_get_arr(in, r, "consent")) ||
	    !(d->attrs = rec_get_obj(in, r, "attrs")) ||
	    rec_get_int(in, r, "capacity", 0, 1LL << 30, &d->capacity) < 0 ||
	    rec_opt_str(in, r, "region", &d->region) < 0 ||
	    rec_get_str(in, r, "created", &d->created) < 0)
		return -1;
	if (key_parse_hex(from, d->pk) < 0)
		return rec_err(in, "field \"from\": %s", dml_errmsg());
	json_array_foreach(d->consent, i, x)
		if (!json_is_string(x))
			return rec_err(in, "field \"consent\" must hold data "
			    "type names (strings)");
	if (timefmt_parse(d->created, &t) < 0)
		return rec_err(in, "field \"created\": %s", dml_errmsg());
	return 0;
}

int
dev_consents(const dev_info *d, const char *type)
{
	size_t i;
	json_t *x;

	json_array_foreach(d->consent, i, x)
		if (strcmp(json_string_value(x), type) == 0)
			return 1;
	return 0;
}

/* ---- the registry ---------------------------------------------------- */

struct reg_in {
	rec_in *in;
	crypto_generichash_state st;
	unsigned char hash[HASHLEN];
	long long devices, seen;
	json_t *cur;
	char *needle;		/* parse only the lines holding it */
};

reg_in *
reg_open(const char *path, const unsigned char registrar[32])
{
	reg_in *g = xcalloc(1, sizeof *g);
	const char *h;
	unsigned char pk[32];
	size_t n;
	int rc;

	if (!(g->in = rec_open(path))) {
		free(g);
		return NULL;
	}
	rc = rec_next(g->in, &g->cur);
	if (rc == 0)
		rec_err(g->in, "empty registry: no dml.registry header");
	if (rc <= 0)
		goto fail;
	if (rec_check(g->in, g->cur, "dml.registry") < 0 ||
	    rec_get_int(g->in, g->cur, "devices", 0, 1LL << 40,
		&g->devices) < 0 ||
	    rec_get_str(g->in, g->cur, "hash", &h) < 0 ||
	    rec_verify(g->cur, g->in, pk) < 0)
		goto fail;
	if (strlen(h) != 2 * HASHLEN || sodium_hex2bin(g->hash, HASHLEN, h,
	    2 * HASHLEN, NULL, &n, NULL) != 0 || n != HASHLEN) {
		rec_err(g->in, "field \"hash\" is not a BLAKE2b-256 digest");
		goto fail;
	}
	if (memcmp(pk, registrar, 32) != 0) {
		rec_err(g->in, "the registry is signed by %.16s..., not by the "
		    "registrar", json_string_value(json_object_get(g->cur,
		    "from")));
		goto fail;
	}
	json_decref(g->cur);
	g->cur = NULL;
	crypto_generichash_init(&g->st, NULL, 0, HASHLEN);
	return g;
fail:
	reg_close(g);
	return NULL;
}

int
reg_next(reg_in *g, json_t **r, dev_info *d)
{
	unsigned char h[HASHLEN];
	const char *raw;
	size_t n;
	int rc;

	json_decref(g->cur);
	g->cur = NULL;
again:
	rc = g->needle ? rec_next_if(g->in, g->needle, &g->cur) :
	    rec_next(g->in, &g->cur);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		crypto_generichash_final(&g->st, h, HASHLEN);
		if (g->seen != g->devices)
			return dml_error("%s: the registry holds %lld devices, "
			    "its header says %lld (altered after admission)",
			    rec_name(g->in), g->seen, g->devices);
		if (sodium_memcmp(h, g->hash, HASHLEN) != 0)
			return dml_error("%s: the registry's hash does not match "
			    "its header (altered after admission)",
			    rec_name(g->in));
		return 0;
	}
	raw = rec_raw(g->in, &n);
	crypto_generichash_update(&g->st, (const unsigned char *)raw, n);
	crypto_generichash_update(&g->st, (const unsigned char *)"\n", 1);
	g->seen++;
	if (rc == 2)
		goto again;
	if (dev_parse(g->in, g->cur, d) < 0)
		return -1;
	*r = g->cur;
	return 1;
}

rec_in *
reg_rec(reg_in *g)
{
	return g->in;
}

void
reg_only(reg_in *g, const char *s)
{
	json_t *j = json_string(s);

	free(g->needle);
	g->needle = canon_dump(j, NULL, NULL, NULL);
	json_decref(j);
}

long long
reg_lines(const reg_in *g)
{
	return g->seen;
}

void
reg_close(reg_in *g)
{
	if (!g)
		return;
	json_decref(g->cur);
	rec_close(g->in);
	free(g->needle);
	free(g);
}

/* One device line of an admission: from the old registry (src < 0) or
 * from input file src, line `line`; seq orders arrival. */
struct entry {
	unsigned char pk[32];
	char created[24];
	char *text;
	size_t len;
	int src;
	long line;
	size_t seq;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void
entries_add(struct entries *e, const dev_info *d, char *text, size_t len,
    int src, long line)
{
	struct entry *x;

	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 1024;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	x = &e->v[e->n];
	memcpy(x->pk, d->pk, 32);
	snprintf(x->created, sizeof x->created, "%s", d->created);
	x->text = text;
	x->len = len;
	x->src = src;
	x->line = line;
	x->seq = e->n++;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->pk, y->pk, 32);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
read_old(struct entries *e, const char *path, const unsigned char reg[32])
{
	reg_in *g = reg_open(path, reg);
	const char *raw;
	dev_info d;
	json_t *r;
	size_t n;
	int rc;

	if (!g)
		return -1;
	while ((rc = reg_next(g, &r, &d)) == 1) {
		char *t;
		raw = rec_raw(reg_rec(g), &n);
		t = xmalloc(n + 1);
		memcpy(t, raw, n);
		t[n] = '\n';
		entries_add(e, &d, t, n + 1, -1, rec_line(reg_rec(g)));
	}
	reg_close(g);
	return rc;
}

static int
read_new(struct entries *e, const char *path, int src)
{
	rec_in *in = rec_open(path);
	dev_info d;
	json_t *r;
	int rc;

	if (!in)
		return -1;
	while ((rc = rec_next(in, &r)) == 1) {
		size_t n;
		char *t;
		if (dev_parse(in, r, &d) < 0 || rec_verify(r, in, NULL) < 0 ||
		    !(t = canon_dump(r, in, NULL, &n))) {
			json_decref(r);
			rc = -1;
			break;
		}
		t[n++] = '\n';
		entries_add(e, &d, t, n, src, rec_line(in));
		json_decref(r);
	}
	rec_close(in);
	return rc;
}

/* The newest record of each device, in key order; refuses older or
 * conflicting records. Keeps in e->v[0..*kept), frees the rest. */
static int
newest(struct entries *e, char *const *files, size_t *kept, long *added)
{
	size_t i = 0, k = 0;

	qsort(e->v, e->n, sizeof *e->v, entry_cmp);
	while (i < e->n) {
		struct entry cur = e->v[i++];
		int changed = cur.src >= 0;
		for (; i < e->n && memcmp(e->v[i].pk, cur.pk, 32) == 0; i++) {
			struct entry *x = &e->v[i];
			int c = strcmp(x->created, cur.created);
			if (c == 0 && x->len == cur.len &&
			    memcmp(x->text, cur.text, cur.len) == 0) {
				free(x->text);	/* the same record again */
				continue;
			}
			if (x->src < 0 || c <= 0) {
				char hex[65];
				key_hex(x->pk, 32, hex);
				dml_error("%s:%ld: device %.16s... already has a "
				    "record of %s: only a newer one replaces it",
				    x->src < 0 ? "registry" : files[x->src],
				    x->line, hex, cur.created);
				e->v[k++] = cur;
				for (; i < e->n; i++)
					e->v[k++] = e->v[i];
				*kept = k;
				return -1;
			}
			free(cur.text);
			cur = *x;
			changed = 1;
		}
		*added += changed;
		e->v[k++] = cur;
	}
	*kept = k;
	return 0;
}

int
reg_admit(const char *old, const unsigned char registrar[32],
    char *const *files, int n, const dml_key *k, const char *created,
    const char *out, long *added)
{
	struct entries e = {0};
	unsigned char h[HASHLEN];
	char hex[2 * HASHLEN + 1];
	crypto_generichash_state st;
	size_t kept = 0;
	json_t *hd = NULL;
	rec_out *o = NULL;
	int rc = -1;

	*added = 0;
	if (old && read_old(&e, old, registrar) < 0)
		goto unread;
	for (int i = 0; i < n; i++)
		if (read_new(&e, files[i], i) < 0)
			goto unread;
	kept = e.n;
	if (newest(&e, files, &kept, added) < 0)
		goto done;
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	for (size_t i = 0; i < kept; i++)
		crypto_generichash_update(&st, (unsigned char *)e.v[i].text,
		    e.v[i].len);
	crypto_generichash_final(&st, h, HASHLEN);
	sodium_bin2hex(hex, sizeof hex, h, HASHLEN);
	hd = rec_new("dml.registry");
	json_object_set_new(hd, "devices", json_integer((json_int_t)kept));
	json_object_set_new(hd, "hash", json_string(hex));
	json_object_set_new(hd, "created", json_string(created));
	if (rec_sign(hd, k) < 0 || !(o = rec_out_open(out)) ||
	    rec_out_write(o, hd, NULL) < 0)
		goto done;
	for (size_t i = 0; i < kept; i++)
		if (rec_out_raw(o, e.v[i].text, e.v[i].len) < 0)
			goto done;
	rc = rec_out_commit(o);
	o = NULL;
done:
	if (o)
		rec_out_abort(o);
	json_decref(hd);
	for (size_t i = 0; i < kept; i++)
		free(e.v[i].text);
	free(e.v);
	return rc;
unread:
	kept = e.n;
	goto done;
}

/* ---- selecting and assigning ----------------------------------------- */

struct cand {
	unsigned char pk[32];
	char *text;			/* the registry line */
	size_t len;
	long line;
	char *region;
};

static int
cand_line_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

static void
cand_free(struct cand *c)
{
	free(c->text);
	free(c->region);
}

/* The seed's 8 bytes, little-endian on every platform. */
static void
seed_bytes(uint64_t v, unsigned char b[8])
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> 8 * i);
}

/* A secret of the run: random, or derived from the seed and the job. */
static void
run_secret(const dist_opts *o, const char *what, uint64_t i,
    unsigned char *out, size_t n)
{
	crypto_generichash_state st;
	unsigned char sb[8], ib[8];

	if (!o->seeded) {
		randombytes_buf(out, n);
		return;
	}
	seed_bytes(o->seed, sb);
	seed_bytes(i, ib);
	crypto_generichash_init(&st, NULL, 0, n);
	crypto_generichash_update(&st, (const unsigned char *)"dml-distribute",
	    14);
	crypto_generichash_update(&st, sb, 8);
	crypto_generichash_update(&st, (const unsigned char *)o->job->id,
	    strlen(o->job->id) + 1);
	crypto_generichash_update(&st, (const unsigned char *)what,
	    strlen(what) + 1);
	crypto_generichash_update(&st, ib, 8);
	crypto_generichash_final(&st, out, n);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(sb, sizeof sb);
}

/* The permutation's seed: the job id and the seed, so an unseeded run of
 * the same job over the same registry spreads devices the same way. */
static uint64_t
spread_seed(const dist_opts *o)
{
	unsigned char h[8], sb[8];
	crypto_generichash_state st;
	uint64_t s = 0;

	crypto_generichash_init(&st, NULL, 0, 8);
	crypto_generichash_update(&st, (const unsigned char *)o->job->id,
	    strlen(o->job->id));
	if (o->seeded) {
		seed_bytes(o->seed, sb);
		crypto_generichash_update(&st, sb, 8);
	}
	crypto_generichash_final(&st, h, 8);
	for (int i = 0; i < 8; i++)
		s = s << 8 | h[i];
	return s;
}

/* Stream the registry: keep the eligible devices (at most o->max, a
 * uniform sample of them by reservoir sampling). */
static int
select_devices(const dist_opts *o, const char *registry, dml_rng *rng,
    struct cand **out, size_t *nout, dist_out *res)
{
	reg_in *g = reg_open(registry, o->registrar);
	struct cand *c = NULL;
	size_t n = 0, cap = 0;
	const char *why;
	dev_info d;
	json_t *r;
	int rc;

	if (!g)
		return -1;
	reg_only(g, o->job->data);
	while ((rc = reg_next(g, &r, &d)) == 1) {
		struct cand x, *slot;
		const char *raw;
		if (d.capacity < 1 || !dev_consents(&d, o->job->data) ||
		    job_criteria_match(o->job, d.attrs, &why) != 1)
			continue;
		res->eligible++;
		slot = NULL;
		if (o->max == 0 || n < (size_t)o->max) {
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				c = xrealloc(c, cap * sizeof *c);
			}
			slot = &c[n++];
		} else {
			uint64_t j = rng_below(rng,
			    (uint64_t)res->eligible);
			if (j < (uint64_t)o->max) {
				slot = &c[j];
				cand_free(slot);
			}
		}
		if (!slot)
			continue;
		raw = rec_raw(reg_rec(g), &x.len);
		x.text = xmalloc(x.len + 1);
		memcpy(x.text, raw, x.len);
		x.text[x.len] = 0;
		memcpy(x.pk, d.pk, 32);
		x.line = rec_line(reg_rec(g));
		x.region = d.region ? xstrdup(d.region) : NULL;
		*slot = x;
	}
	res->read = reg_lines(g);
	reg_close(g);
	*out = c;
	*nout = n;
	return rc;
}

/* The selected devices' own signatures, and one record per device. */
static int
check_devices(const char *registry, struct cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_error_t je;
		unsigned char pk[32];
		json_t *r = json_loadb(c[i].text, c[i].len, 0, &je);
		int rc = r ? rec_verify(r, NULL, pk) : -1;
		json_decref(r);
		if (rc < 0 && !r)
			return dml_error("%s:%ld: malformed JSON", registry,
			    c[i].line);
		if (rc < 0)
			return dml_error_prefix("%s:%ld", registry, c[i].line);
		if (i && memcmp(c[i - 1].pk, c[i].pk, 32) == 0)
			return dml_error("%s:%ld: the device is listed twice",
			    registry, c[i].line);
	}
	return 0;
}

static int
cand_pk_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int k = memcmp(x->pk, y->pk, 32);
	return k ? k : cand_line_cmp(a, b);
}

/* Spread: devices in a seeded random order, each to the least loaded node
 * of its region (the first of them on a tie), or of all nodes when no
 * node serves its region. */
static void
spread(const dist_opts *o, const struct cand *c, size_t n, dml_rng *rng,
    size_t *node)
{
	size_t *perm = xmalloc((n ? n : 1) * sizeof *perm),
	       *load = xcalloc(o->nnodes, sizeof *load);

	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	rng_shuffle(rng, perm, n);
	for (size_t p = 0; p < n; p++) {
		size_t i = perm[p], best = o->nnodes;
		int regional = 0;
		for (size_t k = 0; c[i].region && k < o->nnodes; k++)
			if (o->nodes[k].region &&
			    strcmp(o->nodes[k].region, c[i].region) == 0)
				regional = 1;
		for (size_t k = 0; k < o->nnodes; k++) {
			if (regional && (!o->nodes[k].region ||
			    strcmp(o->nodes[k].region, c[i].region) != 0))
				continue;
			if (best == o->nnodes || load[k] < load[best])
				best = k;
		}
		node[i] = best;
		load[best]++;
	}
	free(perm);
	free(load);
}

/* libsodium's sealed box with a given ephemeral key seed (so --seed gives
 * the same bytes): epk || box(m, nonce = BLAKE2b-192(epk || pk)); opened
 * by crypto_box_seal_open (box_open). */
static int
seal_seeded(const unsigned char pk[32], const unsigned char *m, size_t n,
    const unsigned char eseed[32], unsigned char *ct)
{
	unsigned char x[32], epk[32], nonce[24], *esk = sodium_malloc(32);
	crypto_generichash_state st;
	int rc;

	if (!esk)
		return dml_error("out of secure memory");
	if (crypto_sign_ed25519_pk_to_curve25519(x, pk) != 0) {
		sodium_free(esk);
		return dml_error("the device key is not a valid Ed25519 key");
	}
	crypto_box_seed_keypair(epk, esk, eseed);
	crypto_generichash_init(&st, NULL, 0, sizeof nonce);
	crypto_generichash_update(&st, epk, 32);
	crypto_generichash_update(&st, x, 32);
	crypto_generichash_final(&st, nonce, sizeof nonce);
	memcpy(ct, epk, 32);
	rc = crypto_box_easy(ct + 32, m, n, nonce, x, esk);
	sodium_free(esk);
	return rc ? dml_error("sealing failed") : 0;
}

/* The content key sealed to a device, base64. */
static json_t *
seal_key(const dist_opts *o, const unsigned char pk[32],
    const unsigned char *ckey, size_t i)
{
	unsigned char ct[32 + crypto_box_SEALBYTES], eseed[32], *p = ct;
	size_t ctn = sizeof ct;
	char b64[128];

	if (o->seeded) {
		int rc;
		run_secret(o, "ephemeral", i, eseed, 32);
		rc = seal_seeded(pk, ckey, 32, eseed, ct);
		sodium_memzero(eseed, sizeof eseed);
		if (rc < 0)
			return NULL;
	} else if (box_seal(pk, ckey, 32, &p, &ctn) < 0)
		return NULL;
	b64_encode(b64, p, ctn);
	if (p != ct)
		free(p);
	return json_string(b64);
}

/* The algorithm encrypted once: MAGIC || nonce || XChaCha20-Poly1305 of
 * the model file, the job id as associated data. */
static int
encrypt_alg(const dist_opts *o, const unsigned char *ckey, dist_out *res)
{
	unsigned char *m, nonce[24];
	char mcid[CID_MAXSTR];
	size_t n;
	unsigned long long cl;

	if (dml_read_file(o->model, (char **)&m, &n) < 0)
		return -1;
	if (cid_of_bytes(m, n, mcid) < 0 || strcmp(mcid, o->job->model) != 0) {
		free(m);
		return dml_error("%s: the model %s is not the job's model %s",
		    o->model, mcid, o->job->model);
	}
	run_secret(o, "nonce", 0, nonce, sizeof nonce);
	res->alglen = 8 + sizeof nonce + n +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES;
	res->alg = xmalloc(res->alglen);
	memcpy(res->alg, DIST_ALG_MAGIC, 8);
	memcpy(res->alg + 8, nonce, sizeof nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(res->alg + 8 + sizeof nonce,
	    &cl, m, n, (const unsigned char *)o->job->id, strlen(o->job->id),
	    NULL, nonce, ckey);
	free(m);
	return 0;
}

static json_t *
assignment(const dist_opts *o, const struct cand *c, size_t node,
    const unsigned char *ckey, const char *algcid, size_t i)
{
	json_t *a = rec_new("dml.assignment"), *k;
	char hex[65];

	json_object_set_new(a, "job", json_string(o->job->id));
	key_hex(c->pk, 32, hex);
	json_object_set_new(a, "device", json_string(hex));
	key_hex(o->nodes[node].pk, 32, hex);
	json_object_set_new(a, "node", json_string(hex));
	if (ckey) {
		if (!(k = seal_key(o, c->pk, ckey, i))) {
			json_decref(a);
			return NULL;
		}
		json_object_set_new(a, "algorithm", json_pack("{s:s,s:s,s:o}",
		    "model", o->job->model, "sealed", algcid, "key", k));
	}
	if (rec_sign(a, o->key) < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int
dist_run(const dist_opts *o, const char *registry, dist_out *res)
{
	struct cand *c = NULL;
	unsigned char *ckey = NULL;
	char algcid[CID_MAXSTR];
	size_t n = 0;
	dml_rng rng;
	int rc = -1;

	memset(res, 0, sizeof *res);
	rng_seed(&rng, spread_seed(o));
	if (select_devices(o, registry, &rng, &c, &n, res) < 0)
		goto done;
	qsort(c, n, sizeof *c, cand_pk_cmp);
	if (check_devices(registry && strcmp(registry, "-") != 0 ?
	    registry : "<stdin>", c, n) < 0)
		goto done;
	qsort(c, n, sizeof *c, cand_line_cmp);	/* registry order */
	if (o->model) {
		if (!(ckey = sodium_malloc(32))) {
			dml_error("out of secure memory");
			goto done;
		}
		run_secret(o, "content key", 0, ckey, 32);
		if (encrypt_alg(o, ckey, res) < 0 ||
		    cid_of_bytes(res->alg, res->alglen, algcid) < 0)
			goto done;
	}
	res->node = xmalloc((n ? n : 1) * sizeof *res->node);
	res->assign = xcalloc(n ? n : 1, sizeof *res->assign);
	spread(o, c, n, &rng, res->node);
	for (size_t i = 0; i < n; i++) {
		if (!(res->assign[i] = assignment(o, &c[i], res->node[i], ckey,
		    algcid, i)))
			goto done;
		res->n = i + 1;
	}
	/* checked last, so that a bad registry or model is named first */
	if ((long long)n < o->job->min_devices) {
		dml_error("%zu eligible devices, the job needs at least %lld",
		    n, o->job->min_devices);
		goto done;
	}
	rc = 0;
done:
	if (ckey)
		sodium_free(ckey);
	for (size_t i = 0; i < n; i++)
		cand_free(&c[i]);
	free(c);
	return rc;
}

void
dist_out_free(dist_out *res)
{
	for (size_t i = 0; i < res->n; i++)
		json_decref(res->assign[i]);
	free(res->assign);
	free(res->node);
	free(res->alg);
	memset(res, 0, sizeof *res);
}

int
dist_node_parse(dist_node *n, const char *arg)
{
	char *path = xstrdup(arg), *eq = strrchr(path, '='), *name, *dot;
	struct stat st;
	int rc = -1;

	memset(n, 0, sizeof *n);
	if (eq && stat(path, &st) != 0) {
		*eq = 0;
		if (!eq[1]) {
			dml_error("%s: empty region", arg);
			goto done;
		}
		n->region = xstrdup(eq + 1);
	}
	if (pubkey_load(path, n->pk) < 0) {
		dml_error_prefix("%s", arg);
		goto done;
	}
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if ((dot = strrchr(name, '.')) && strcmp(dot, ".pub") == 0)
		*dot = 0;
	n->name = xstrdup(name);
	rc = 0;
done:
	free(path);
	if (rc < 0)
		dist_node_free(n);
	return rc;
}

void
dist_node_free(dist_node *n)
{
	free((char *)n->name);
	free((char *)n->region);
	n->name = n->region = NULL;
}

/* The assignments of one node (or all: node (size_t)-1) to a file. */
static int
write_node(const dist_out *d, size_t node, const char *path, rec_out **o)
{
	if (!(*o = rec_out_open(path)))
		return -1;
	for (size_t i = 0; i < d->n; i++)
		if ((node == (size_t)-1 || d->node[i] == node) &&
		    rec_out_write(*o, d->assign[i], NULL) < 0)
			return -1;
	return 0;
}

int
dist_write(const dist_out *d, const dist_node *nodes, size_t nnodes,
    const char *dir, const char *alg)
{
	size_t nout = dir ? nnodes : 1;
	rec_out **o;
	char *own = NULL;
	int rc = -1;

	if (dir && mkdir(dir, 0777) < 0 && errno != EEXIST)
		return dml_error_sys("%s", dir);
	if (d->alg && !alg)
		alg = own = xasprintf("%s/algorithm.sealed", dir);
	o = xcalloc(nout, sizeof *o);
	for (size_t i = 0; i < nout; i++) {
		char *p = dir ? xasprintf("%s/%s.ndjson", dir, nodes[i].name) :
		    NULL;
		int bad = write_node(d, dir ? i : (size_t)-1, p, &o[i]) < 0;
		free(p);
		if (bad)
			goto done;
	}
	if (d->alg && dml_write_file(alg, d->alg, d->alglen, 0644) < 0)
		goto done;
	rc = 0;
	for (size_t i = 0; i < nout; i++) {
		if (rc == 0 && rec_out_commit(o[i]) < 0)
			rc = -1;
		else if (rc < 0)
			rec_out_abort(o[i]);
		o[i] = NULL;
	}
done:
	for (size_t i = 0; i < nout; i++)
		if (o[i])
			rec_out_abort(o[i]);
	free(o);
	free(own);
	return rc;
}

/* ---- the device's and the nodes' side ---------------------------------- */

/* The verified assignment's job and device. */
static int
assign_check(const rec_in *in, const json_t *a, const dml_job *j,
    const unsigned char *distributor, unsigned char dev[32])
{
	const char *job, *d;
	unsigned char from[32];

	if (rec_check(in, a, "dml.assignment") < 0 ||
	    rec_get_str(in, a, "job", &job) < 0 ||
	    rec_get_str(in, a, "device", &d) < 0 ||
	    rec_verify(a, in, from) < 0)
		return -1;
	if (distributor && memcmp(from, distributor, 32) != 0)
		return rec_err(in, "the assignment is not signed by the "
		    "distributing node");
	if (strcmp(job, j->id) != 0)
		return rec_err(in, "the assignment is for job %.60s, not for "
		    "this job %s", job, j->id);
	if (key_parse_hex(d, dev) < 0)
		return rec_err(in, "field \"device\": %s", dml_errmsg());
	return 0;
}

static int
open_alg(const rec_in *in, const json_t *a, const dml_job *j,
    const dml_key *k, const unsigned char *f, size_t fn,
    unsigned char **model, size_t *mlen)
{
	json_t *alg = rec_get_obj(in, a, "algorithm");
	const char *sealed, *kb;
	unsigned char kct[128], *ckey = NULL;
	char cidbuf[CID_MAXSTR];
	unsigned long long ml;
	size_t kn, cn;
	long long dn;
	int rc = -1;

	if (!alg || rec_get_str(in, alg, "sealed", &sealed) < 0 ||
	    rec_get_str(in, alg, "key", &kb) < 0)
		return -1;
	if (cid_of_bytes(f, fn, cidbuf) < 0)
		return -1;
	if (strcmp(cidbuf, sealed) != 0)
		return rec_err(in, "the algorithm file %s is not the "
		    "assignment's %.60s", cidbuf, sealed);
	kn = strlen(kb);
	if (kn > 4 * sizeof kct / 3 || (dn = b64_decode(kct, kb, kn)) < 0)
		return rec_err(in, "field \"algorithm.key\" is not base64");
	if (box_open(k, kct, (size_t)dn, &ckey, &cn) < 0)
		return rec_err(in, "%s", dml_errmsg());
	if (cn != 32 || fn < 8 + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
		rec_err(in, "malformed sealed algorithm");
		goto out;
	}
	*mlen = fn - 8 - 24 - crypto_aead_xchacha20poly1305_ietf_ABYTES;
	if (!(*model = sodium_malloc(*mlen ? *mlen : 1))) {
		dml_error("out of secure memory");
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(*model, &ml, NULL,
	    f + 32, fn - 32, (const unsigned char *)j->id, strlen(j->id),
	    f + 8, ckey) != 0) {
		sodium_free(*model);
		*model = NULL;
		rec_err(in, "the algorithm does not open with its key (altered)");
		goto out;
	}
	rc = 0;
out:
	sodium_free(ckey);
	return rc;
}

int
assign_open(const char *path, const dml_job *j, const dml_key *k,
    const char *algf, unsigned char **model, size_t *mlen)
{
	rec_in *in = rec_open(path);
	unsigned char dev[32], *f = NULL;
	json_t *a = NULL, *extra;
	size_t fn;
	int rc;

	*model = NULL;
	*mlen = 0;
	if (!in)
		return -1;
	rc = rec_next(in, &a);
	if (rc == 0)
		rc = dml_error("%s: empty: expected a dml.assignment", path);
	if (rc < 0)
		goto out;
	rc = -1;
	if (rec_detach(in, a) < 0 || assign_check(in, a, j, NULL, dev) < 0)
		goto out;
	if (memcmp(dev, k->pk, 32) != 0) {
		rec_err(in, "the assignment is for device %.16s..., not for "
		    "this device", json_string_value(json_object_get(a,
		    "device")));
		goto out;
	}
	if (algf) {
		if (dml_read_file(algf, (char **)&f, &fn) < 0)
			goto out;
		if (fn >= 8 && memcmp(f, DIST_ALG_MAGIC, 8) == 0 &&
		    open_alg(in, a, j, k, f, fn, model, mlen) < 0)
			goto out;
	}
	if ((rc = rec_next(in, &extra)) != 0) {
		if (rc > 0) {
			json_decref(extra);
			rec_err(in, "more than one record in an assignment "
			    "file");
		}
		rc = -1;
		if (*model)
			sodium_free(*model);
		*model = NULL;
		goto out;
	}
	rc = 0;
out:
	free(f);
	json_decref(a);
	rec_close(in);
	return rc;
}

int
assign_keys_load(keyset *s, const char *path, const dml_job *j,
    const unsigned char *distributor)
{
	rec_in *in = rec_open(path);
	unsigned char dev[32];
	json_t *a;
	int rc;

	if (!in)
		return -1;
	while ((rc = rec_next(in, &a)) == 1) {
		rc = assign_check(in, a, j, distributor, dev);
		json_decref(a);
		if (rc < 0)
			break;
		keyset_add(s, dev);
	}
	rec_close(in);
	return rc;
}
