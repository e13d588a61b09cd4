/* secagg: secure aggregation with dropouts; see secagg.h. */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secagg.h"
#include "shamir.h"
#include "tensor.h"
#include "util.h"

#define SHARE_PT 72		/* from(4) to(4) b-share(32) s-share(32) */
#define SHARE_CT (SHARE_PT + crypto_box_MACBYTES)

static const char *const dstep_name[] = {"advertise", "share", "mask",
	"unmask"};
static const char *const nstep_name[] = {"collect-keys", "route-shares",
	"collect-masked", "unmask"};

static int
step_index(const char *const names[4], const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
secagg_dstep_parse(const char *s)
{
	return step_index(dstep_name, s);
}

int
secagg_nstep_parse(const char *s)
{
	return step_index(nstep_name, s);
}

/* ---- primitives ------------------------------------------------------ */

static void
hash3(unsigned char out[32], const char *domain, const unsigned char *a,
    size_t an, const unsigned char *b, size_t bn)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)domain,
	    strlen(domain) + 1);
	crypto_generichash_update(&st, a, an);
	if (b)
		crypto_generichash_update(&st, b, bn);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof st);
}

void
secagg_self_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char b[32])
{
	hash3(key, "dml-secagg-self-v1", session, 32, b, 32);
}

int
secagg_pair_key(unsigned char key[32], const unsigned char session[32],
    const unsigned char sk[32], const unsigned char pk[32])
{
	unsigned char sh[32];

	if (crypto_scalarmult(sh, sk, pk) != 0)
		return dml_error("a mask key is a low-order point");
	hash3(key, "dml-secagg-pair-v1", session, 32, sh, 32);
	sodium_memzero(sh, sizeof sh);
	return 0;
}

static void
commit_b(unsigned char bc[32], const unsigned char b[32])
{
	hash3(bc, "dml-secagg-commit-v1", b, 32, NULL, 0);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_MASKS 1

#define ADD(a, b) _mm512_add_epi32(a, b)
#define QR(a, b, c, d) do { \
	a = ADD(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16); \
	c = ADD(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12); \
	a = ADD(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8); \
	c = ADD(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7); \
} while (0)

/* acc[16 b0 ...] +=/-= the ChaCha20 keystream (nonce 0) of blocks
 * b0 .. b0 + 16 g - 1 under key: 16 blocks at once, one per lane, the
 * result transposed to the keystream's order and added in place. The
 * same keystream as crypto_stream_chacha20, without the buffer. */
__attribute__((target("avx512f"))) static void
masks_avx512(uint32_t *acc, uint64_t b0, size_t g, const unsigned char *key,
    int sign)
{
	uint32_t k[8];
	__m512i in[16], x[16], t[16], u[16];

	memcpy(k, key, 32);
	in[0] = _mm512_set1_epi32(0x61707865);
	in[1] = _mm512_set1_epi32(0x3320646e);
	in[2] = _mm512_set1_epi32(0x79622d32);
	in[3] = _mm512_set1_epi32(0x6b206574);
	for (int i = 0; i < 8; i++)
		in[4 + i] = _mm512_set1_epi32((int)k[i]);
	in[14] = in[15] = _mm512_setzero_si512();
	for (size_t q = 0; q < g; q++, b0 += 16) {
		in[12] = ADD(_mm512_set1_epi32((int)(uint32_t)b0),
		    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
		    12, 13, 14, 15));
		in[13] = _mm512_set1_epi32((int)(uint32_t)(b0 >> 32));
		for (int i = 0; i < 16; i++)
			x[i] = in[i];
		for (int r = 0; r < 10; r++) {
			QR(x[0], x[4], x[8], x[12]);
			QR(x[1], x[5], x[9], x[13]);
			QR(x[2], x[6], x[10], x[14]);
			QR(x[3], x[7], x[11], x[15]);
			QR(x[0], x[5], x[10], x[15]);
			QR(x[1], x[6], x[11], x[12]);
			QR(x[2], x[7], x[8], x[13]);
			QR(x[3], x[4], x[9], x[14]);
		}
		for (int i = 0; i < 16; i++)
			x[i] = ADD(x[i], in[i]);
		/* transpose: u[4 s + r], 128-bit lane L, holds words 4 s ..
		 * 4 s + 3 of block 4 L + r */
		for (int i = 0; i < 16; i += 4) {
			t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
			t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
			t[i + 2] = _mm512_unpacklo_epi32(x[i + 2], x[i + 3]);
			t[i + 3] = _mm512_unpackhi_epi32(x[i + 2], x[i + 3]);
			u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
			u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
			u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
			u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
		}
		for (int r = 0; r < 4; r++) {
			__m512i p0 = _mm512_shuffle_i32x4(u[r], u[4 + r], 0x44),
				p1 = _mm512_shuffle_i32x4(u[r], u[4 + r], 0xee),
				p2 = _mm512_shuffle_i32x4(u[8 + r], u[12 + r],
				    0x44),
				p3 = _mm512_shuffle_i32x4(u[8 + r], u[12 + r],
				    0xee), row[4];
			row[0] = _mm512_shuffle_i32x4(p0, p2, 0x88);
			row[1] = _mm512_shuffle_i32x4(p0, p2, 0xdd);
			row[2] = _mm512_shuffle_i32x4(p1, p3, 0x88);
			row[3] = _mm512_shuffle_i32x4(p1, p3, 0xdd);
			for (int l = 0; l < 4; l++) {
				uint32_t *a = acc + 16 * (4 * (size_t)l + (size_t)r);
				__m512i v = _mm512_loadu_si512(a);
				v = sign > 0 ? ADD(v, row[l]) :
				    _mm512_sub_epi32(v, row[l]);
				_mm512_storeu_si512(a, v);
			}
		}
		acc += 256;
	}
	sodium_memzero(k, sizeof k);
}
#undef QR
#undef ADD
#endif

/* acc[0 .. m) +=/-= the keystream from u32 offset off (a multiple of 16)
 * on, through libsodium's buffer. */
static void
masks_sodium(uint32_t *acc, size_t off, size_t m, const unsigned char *key,
    int sign, uint32_t *ks)
{
	static const unsigned char nonce[8];
	static const uint32_t zero[SECAGG_CHUNK];

	crypto_stream_chacha20_xor_ic((unsigned char *)ks,
	    (const unsigned char *)zero, m * 4, nonce, off / 16, key);
	if (sign > 0)
		for (size_t i = 0; i < m; i++)
			acc[i] += ks[i];
	else
		for (size_t i = 0; i < m; i++)
			acc[i] -= ks[i];
}

void
secagg_masks(uint32_t *acc, size_t len, const unsigned char *keys,
    const signed char *signs, size_t nterms)
{
	uint32_t *ks = xmalloc(SECAGG_CHUNK * sizeof *ks);
	int wide = 0;

#ifdef HAVE_AVX512_MASKS
	wide = __builtin_cpu_supports("avx512f");
#endif
	/* chunk-major: the accumulator's chunk stays in cache while every
	 * term's keystream for it is made and added */
	for (size_t off = 0; off < len; off += SECAGG_CHUNK) {
		size_t m = len - off < SECAGG_CHUNK ? len - off : SECAGG_CHUNK,
		       g = wide ? m / 256 : 0;
		for (size_t j = 0; j < nterms; j++) {
#ifdef HAVE_AVX512_MASKS
			if (g)
				masks_avx512(acc + off, off / 16, g,
				    keys + 32 * j, signs[j]);
#endif
			if (m > 256 * g)
				masks_sodium(acc + off + 256 * g, off + 256 * g,
				    m - 256 * g, keys + 32 * j, signs[j], ks);
		}
	}
	sodium_memzero(ks, SECAGG_CHUNK * sizeof *ks);
	free(ks);
}

int
secagg_auto_frac(long long n, double clip)
{
	for (int f = 24; f >= 0; f--)
		if ((double)n * floor(ldexp(clip, f)) < 2147483648.0)
			return f;
	return dml_error("%lld devices cannot sum values clipped to %g in "
	    "32 bits: lower --clip", n, clip);
}

int
secagg_quantize(const double *x, size_t n, double clip, int frac,
    uint32_t *q, size_t *clipped)
{
	double m = floor(ldexp(clip, frac));

	*clipped = 0;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (!isfinite(v))
			return dml_error("value %zu is not finite", i);
		if (v > clip || v < -clip) {
			v = v > 0 ? clip : -clip;
			(*clipped)++;
		}
		v = round(ldexp(v, frac));
		if (v > m)
			v = m;
		if (v < -m)
			v = -m;
		q[i] = (uint32_t)(int64_t)v;
	}
	return 0;
}

int
secagg_default_threshold(uint32_t m)
{
	int t = (int)(2 * m / 3 + 1);

	if (t <= (int)m / 2)
		t = (int)m / 2 + 1;
	return t > (int)m ? (int)m : t;
}

void
secagg_graph_init(secagg_graph *g, const unsigned char session[32],
    uint32_t n, uint32_t k)
{
	unsigned char key[32];
	uint32_t *r;

	memset(g, 0, sizeof *g);
	g->n = n;
	if (k == 0 || k >= n - 1) {
		g->full = 1;
		g->k = n - 1;
		return;
	}
	g->k = k + (k & 1);
	if (g->k >= n - 1) {
		g->full = 1;
		g->k = n - 1;
		return;
	}
	/* Fisher-Yates on a keystream under the session's hash */
	hash3(key, "dml-secagg-graph-v1", session, 32, NULL, 0);
	g->perm = xmalloc(n * sizeof *g->perm);
	g->pos = xmalloc((n + 1) * sizeof *g->pos);
	r = xmalloc(n * sizeof *r);
	{
		static const unsigned char nonce[8];
		memset(r, 0, n * sizeof *r);
		crypto_stream_chacha20_xor((unsigned char *)r,
		    (unsigned char *)r, n * sizeof *r, nonce, key);
	}
	for (uint32_t i = 0; i < n; i++)
		g->perm[i] = i + 1;
	for (uint32_t i = n - 1; i > 0; i--) {
		/* 32 random bits mod (i + 1): bias below 2^-8 for n < 2^24,
		 * and the graph is public anyway */
		uint32_t j = (uint32_t)(((uint64_t)r[i] * (i + 1)) >> 32), t;
		t = g->perm[i];
		g->perm[i] = g->perm[j];
		g->perm[j] = t;
	}
	for (uint32_t i = 0; i < n; i++)
		g->pos[g->perm[i]] = i;
	free(r);
}

void
secagg_graph_free(secagg_graph *g)
{
	free(g->perm);
	free(g->pos);
	g->perm = g->pos = NULL;
}

int
secagg_adjacent(const secagg_graph *g, uint32_t a, uint32_t b)
{
	uint32_t d;

	if (a == b)
		return 0;
	if (g->full)
		return 1;
	d = g->pos[a] > g->pos[b] ? g->pos[a] - g->pos[b] :
	    g->pos[b] - g->pos[a];
	if (d > g->n - d)
		d = g->n - d;
	return d <= g->k / 2;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

uint32_t
secagg_neighbours(const secagg_graph *g, uint32_t i, uint32_t *out)
{
	uint32_t c = 0;

	if (g->full) {
		for (uint32_t j = 1; j <= g->n; j++)
			if (j != i)
				out[c++] = j;
		return c;
	}
	for (uint32_t d = 1; d <= g->k / 2; d++) {
		out[c++] = g->perm[(g->pos[i] + d) % g->n];
		out[c++] = g->perm[(g->pos[i] + g->n - d) % g->n];
	}
	qsort(out, c, sizeof *out, cmp_u32);
	return c;
}

/* ---- record helpers -------------------------------------------------- */

static int
get_hex32(const rec_in *in, const json_t *r, const char *key,
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

static void
set_hex32(json_t *r, const char *key, const unsigned char b[32])
{
	char hex[65];

	sodium_bin2hex(hex, sizeof hex, b, 32);
	json_object_set_new(r, key, json_string(hex));
	sodium_memzero(hex, sizeof hex);
}

/* Overwrite a secret string held by the tree before it is freed. */
static void
wipe_field(json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);

	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v),
		    json_string_length(v));
}

/* A strictly ascending array of indices in 1..n. *out malloc'd. */
static int
get_idx(const rec_in *in, const json_t *r, const char *key, uint32_t n,
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

static json_t *
idx_json(const uint32_t *x, uint32_t n)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(x[i]));
	return a;
}

static int
in_list(const uint32_t *x, uint32_t n, uint32_t v)
{
	return bsearch(&v, x, n, sizeof *x, cmp_u32) != NULL;
}

/* The record's job, round and (from the share step on) session must be
 * the round's. */
static int
check_round(const rec_in *in, const json_t *r, const char *job,
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
		if (get_hex32(in, r, "session", s) < 0)
			return -1;
		if (memcmp(s, session, 32) != 0)
			return rec_err(in, "a record of another secure "
			    "aggregation session");
	}
	return 0;
}

/* A new record of a round's step: its job, round and session. */
static json_t *
round_rec(const char *type, const char *job, long long round,
    const unsigned char session[32])
{
	json_t *r = rec_new(type);

	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	set_hex32(r, "session", session);
	return r;
}

/* ---- the roster ------------------------------------------------------ */

struct devkeys {
	unsigned char pk[32], c[32], s[32], bc[32];
};

struct roster {
	char *job;
	long long round;
	unsigned char session[32];
	uint32_t n, t, k;
	double clip;
	int frac;
	struct devkeys *d;	/* [n], index i at d[i - 1], sorted by pk */
	secagg_graph g;
};

static void
roster_free(struct roster *ro)
{
	free(ro->job);
	free(ro->d);
	secagg_graph_free(&ro->g);
	memset(ro, 0, sizeof *ro);
}

/* BLAKE2b-256 of the roster's canonical form without session, from and
 * sig: every key and parameter of the round. */
static int
roster_session(const json_t *r, unsigned char out[32])
{
	json_t *c = json_copy((json_t *)r);
	char *s;
	size_t n;

	json_object_del(c, "session");
	json_object_del(c, "from");
	json_object_del(c, "sig");
	s = canon_dump(c, NULL, NULL, &n);
	json_decref(c);
	if (!s)
		return -1;
	hash3(out, "dml-secagg-session-v1", (unsigned char *)s, n, NULL, 0);
	free(s);
	return 0;
}

static json_t *
keys_record(const char *job, long long round, const struct devkeys *d)
{
	json_t *r = rec_new("dml.secagg.keys");

	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	set_hex32(r, "c", d->c);
	set_hex32(r, "s", d->s);
	set_hex32(r, "bc", d->bc);
	return r;
}

static uint32_t
roster_index(const struct roster *ro, const unsigned char pk[32])
{
	uint32_t lo = 0, hi = ro->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = memcmp(ro->d[mid].pk, pk, 32);
		if (c == 0)
			return mid + 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
check_threshold(uint32_t t, uint32_t m)
{
	if (t > m || 2 * t <= m)
		return dml_error("threshold %u: with %u share holders it must "
		    "be above %u and at most %u", t, m, m / 2, m);
	return 0;
}

static uint32_t holders(const struct roster *ro, uint32_t i, uint32_t *out);

/* Device j's signature on its keys, as the roster carries it. */
static int
roster_check_sig(const struct roster *ro, const rec_in *in, json_t *devs,
    uint32_t j)
{
	json_t *kr = keys_record(ro->job, ro->round, &ro->d[j - 1]);
	const char *sig;
	char hex[65];
	unsigned char who[32];
	int rc;

	if (rec_get_str(in, json_array_get(devs, j - 1), "sig", &sig) < 0) {
		json_decref(kr);
		return -1;
	}
	key_hex(ro->d[j - 1].pk, 32, hex);
	json_object_set_new(kr, "from", json_string(hex));
	json_object_set_new(kr, "sig", json_string(sig));
	rc = rec_verify(kr, NULL, who);
	json_decref(kr);
	if (rc < 0)
		return rec_err(in, "device %u's keys carry a bad signature", j);
	return 0;
}

/* Parse a roster. me: a device's key, to check the signatures of the
 * keys it will use (its neighbours' and its own); NULL for the node,
 * which reads the roster it wrote from its state. */
static int
roster_parse(struct roster *ro, const rec_in *in, const json_t *r,
    const unsigned char *me)
{
	json_t *devs, *e;
	const char *job;
	long long rd, t, k, frac, mb;
	unsigned char s[32];
	size_t i;

	memset(ro, 0, sizeof *ro);
	if (rec_check(in, r, "dml.secagg.roster") < 0 ||
	    rec_get_str(in, r, "job", &job) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &rd) < 0 ||
	    rec_get_int(in, r, "threshold", 1, SHAMIR_MAXX, &t) < 0 ||
	    rec_get_int(in, r, "neighbours", 1, SHAMIR_MAXX, &k) < 0 ||
	    rec_get_num(in, r, "clip", &ro->clip) < 0 ||
	    rec_get_int(in, r, "frac_bits", 0, 24, &frac) < 0 ||
	    rec_get_int(in, r, "modulus_bits", 32, 32, &mb) < 0 ||
	    get_hex32(in, r, "session", ro->session) < 0 ||
	    !(devs = rec_get_arr(in, r, "devices")))
		return -1;
	if (json_array_size(devs) < 2 || json_array_size(devs) > SHAMIR_MAXX)
		return rec_err(in, "a roster needs 2 to %u devices",
		    SHAMIR_MAXX);
	if (!(ro->clip > 0) || !isfinite(ro->clip))
		return rec_err(in, "field \"clip\" must be positive");
	ro->job = xstrdup(job);
	ro->round = rd;
	ro->n = (uint32_t)json_array_size(devs);
	ro->t = (uint32_t)t;
	ro->frac = (int)frac;
	ro->d = xcalloc(ro->n, sizeof *ro->d);
	json_array_foreach(devs, i, e) {
		struct devkeys *d = &ro->d[i];
		if (get_hex32(in, e, "key", d->pk) < 0 ||
		    get_hex32(in, e, "c", d->c) < 0 ||
		    get_hex32(in, e, "s", d->s) < 0 ||
		    get_hex32(in, e, "bc", d->bc) < 0)
			goto bad;
		if (i && memcmp(ro->d[i - 1].pk, d->pk, 32) >= 0) {
			rec_err(in, "roster devices must be sorted by key, "
			    "without repeats (at %zu)", i);
			goto bad;
		}
	}
	if (roster_session(r, s) < 0 || memcmp(s, ro->session, 32) != 0) {
		rec_err(in, "the roster's session is not the hash of its "
		    "contents");
		goto bad;
	}
	secagg_graph_init(&ro->g, ro->session, ro->n, (uint32_t)k);
	ro->k = ro->g.k;
	if ((long long)ro->k != k) {
		rec_err(in, "field \"neighbours\" %lld is not a degree of this "
		    "roster's graph (%u)", k, ro->k);
		goto bad;
	}
	if (check_threshold(ro->t, ro->k + 1) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto bad;
	}
	if (me) {
		uint32_t mi = roster_index(ro, me), *h, m;
		if (!mi)
			return 0;	/* the caller says so */
		h = xmalloc((ro->k + 1) * sizeof *h);
		m = holders(ro, mi, h);
		for (uint32_t j = 0; j < m; j++)
			if (roster_check_sig(ro, in, devs, h[j]) < 0) {
				free(h);
				goto bad;
			}
		free(h);
	}
	return 0;
bad:
	roster_free(ro);
	return -1;
}

/* The holders of i's shares: its neighbours and itself, ascending. */
static uint32_t
holders(const struct roster *ro, uint32_t i, uint32_t *out)
{
	uint32_t c = secagg_neighbours(&ro->g, i, out);

	out[c++] = i;
	qsort(out, c, sizeof *out, cmp_u32);
	return c;
}

static void
share_nonce(unsigned char nonce[crypto_box_NONCEBYTES],
    const unsigned char session[32], uint32_t from, uint32_t to)
{
	unsigned char ft[8];
	crypto_generichash_state st;

	for (int i = 0; i < 4; i++) {
		ft[i] = (unsigned char)(from >> (8 * i));
		ft[4 + i] = (unsigned char)(to >> (8 * i));
	}
	crypto_generichash_init(&st, NULL, 0, crypto_box_NONCEBYTES);
	crypto_generichash_update(&st, (const unsigned char *)
	    "dml-secagg-share-v1", 20);
	crypto_generichash_update(&st, session, 32);
	crypto_generichash_update(&st, ft, 8);
	crypto_generichash_final(&st, nonce, crypto_box_NONCEBYTES);
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static json_t *
b64_json(const void *p, size_t n)
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
static int
b64_field(const rec_in *in, const json_t *r, const char *key, size_t n,
    const char **s, size_t *sl)
{
	if (rec_str(in, json_object_get(r, key), s, sl) < 0)
		return rec_err(in, "field \"%s\" must be a base64 string", key);
	if (*sl != b64_enclen(n))
		return rec_err(in, "field \"%s\" must hold %zu bytes", key, n);
	return 0;
}

/* Decode a base64 string field of exactly n bytes into dst. */
static int
get_b64(const rec_in *in, const json_t *r, const char *key, void *dst,
    size_t n)
{
	const char *s;
	size_t sl;
	unsigned char *tmp;
	long long got;

	if (b64_field(in, r, key, n, &s, &sl) < 0)
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

/* ---- state files ----------------------------------------------------- */

static int
state_write(const char *path, json_t *st)
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

static json_t *
state_read(const char *path, const char *type)
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

static int
state_absent(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0)
		return dml_error("%s: a state file exists already (a round in "
		    "progress?)", path);
	return 0;
}

/* ---- the device ------------------------------------------------------ */

enum { SEC_CSK, SEC_SSK, SEC_B, SEC_SEED, SEC_OWNB, SEC_OWNS, SEC_N };
/* the state file's names of the secrets and of the step done last */
static const char *const secname[SEC_N] = {"c_sk", "s_sk", "b", "seed",
	"own_b", "own_s"};
static const char *const donename[] = {"advertised", "shared", "masked"};

struct secagg_dev {
	enum secagg_dstep step;
	const char *path;
	const dml_key *key;
	unsigned char node[32];
	int have_node, have_seed;
	char *seedtext;
	unsigned char *sec;		/* SEC_N x 32, sodium_malloc */
	struct devkeys me;
	char *job;
	long long round;
	/* from the share step on */
	int shared;
	unsigned char session[32];
	uint32_t index, n, t, k, m;
	double clip;
	int frac;
	uint32_t nn, *nbr;		/* neighbours, ascending */
	unsigned char *nc, *ns;		/* their c and s keys, nn x 32 */
	/* from the mask step on */
	uint32_t nu2, *u2;		/* who shared */
	unsigned char *recv;		/* nn x 64 (b, s shares), sodium */
	unsigned char *have_recv;	/* nn flags */
	/* inputs of this step */
	int got_main, got_result;
	uint32_t *q;			/* quantized result, len */
	size_t len, clipped;
	json_t *layout;
	char *task, *model;
	json_t *out;
	int answered;
};

size_t
secagg_dev_clipped(const secagg_dev *d)
{
	return d->clipped;
}

static void
derive(unsigned char out[32], const secagg_dev *d, const char *what,
    uint32_t ctr)
{
	unsigned char c[4];

	put32(c, ctr);
	{
		crypto_generichash_state st;
		crypto_generichash_init(&st, d->sec + 32 * SEC_SEED, 32, 32);
		crypto_generichash_update(&st, (const unsigned char *)what,
		    strlen(what) + 1);
		crypto_generichash_update(&st, c, 4);
		crypto_generichash_final(&st, out, 32);
		sodium_memzero(&st, sizeof st);
	}
}

/* Overwrite the secrets a device's state holds, then free it. */
static void
wipe_state(json_t *st)
{
	json_t *e;
	size_t i;

	for (int j = 0; j < SEC_N; j++)
		wipe_field(st, secname[j]);
	json_array_foreach(json_object_get(st, "recv"), i, e) {
		wipe_field(e, "b");
		wipe_field(e, "s");
	}
	json_decref(st);
}

static int
nbr_slot(const secagg_dev *d, uint32_t v)
{
	uint32_t *p = bsearch(&v, d->nbr, d->nn, sizeof v, cmp_u32);
	return p ? (int)(p - d->nbr) : -1;
}

static int
dev_load(secagg_dev *d)
{
	json_t *st = state_read(d->path, "dml.secagg.state"), *a, *e;
	const char *s, *step;
	unsigned char pk[32];
	long long v;
	size_t i;
	int rc = -1;

	if (!st)
		return -1;
#define SF(x) do { if ((x) < 0) goto out; } while (0)
	SF(rec_get_str(NULL, st, "step", &step));
	SF(get_hex32(NULL, st, "key", pk));
	if (memcmp(pk, d->key->pk, 32) != 0) {
		dml_error("%s: the state of another device's key", d->path);
		goto out;
	}
	SF(rec_get_str(NULL, st, "job", &s));
	d->job = xstrdup(s);
	SF(rec_get_int(NULL, st, "round", 0, 1LL << 53, &d->round));
	SF(get_hex32(NULL, st, "c", d->me.c));
	SF(get_hex32(NULL, st, "s", d->me.s));
	SF(get_hex32(NULL, st, "bc", d->me.bc));
	memcpy(d->me.pk, d->key->pk, 32);
	for (int j = 0; j < SEC_N; j++) {
		if (!json_object_get(st, secname[j]))
			continue;
		SF(get_hex32(NULL, st, secname[j], d->sec + 32 * j));
		if (j == SEC_SEED)
			d->have_seed = 1;
	}
	if (strcmp(step, donename[d->step - 1]) != 0) {
		dml_error("%s: the state is at step \"%s\": the %s step comes "
		    "after \"%s\"", d->path, step, dstep_name[d->step],
		    donename[d->step - 1]);
		goto out;
	}
	if (d->step >= SA_MASK) {
		long long n, t, k, f;
		SF(get_hex32(NULL, st, "session", d->session));
		SF(rec_get_int(NULL, st, "index", 1, SHAMIR_MAXX, &v));
		d->index = (uint32_t)v;
		SF(rec_get_int(NULL, st, "n", 2, SHAMIR_MAXX, &n));
		SF(rec_get_int(NULL, st, "threshold", 1, SHAMIR_MAXX, &t));
		SF(rec_get_int(NULL, st, "neighbours", 1, SHAMIR_MAXX, &k));
		SF(rec_get_int(NULL, st, "frac_bits", 0, 24, &f));
		SF(rec_get_num(NULL, st, "clip", &d->clip));
		d->n = (uint32_t)n;
		d->t = (uint32_t)t;
		d->k = (uint32_t)k;
		d->frac = (int)f;
		d->m = d->k + 1;
		if (!(a = rec_get_arr(NULL, st, "nbrs")))
			goto out;
		d->nn = (uint32_t)json_array_size(a);
		d->nbr = xmalloc((d->nn + 1) * sizeof *d->nbr);
		d->nc = xmalloc((d->nn + 1) * 32);
		d->ns = xmalloc((d->nn + 1) * 32);
		json_array_foreach(a, i, e) {
			SF(rec_get_int(NULL, e, "i", 1, SHAMIR_MAXX, &v));
			d->nbr[i] = (uint32_t)v;
			SF(get_hex32(NULL, e, "c", d->nc + 32 * i));
			SF(get_hex32(NULL, e, "s", d->ns + 32 * i));
		}
		d->shared = 1;
	}
	if (d->step == SA_UNMASK) {
		if (!(d->recv = sodium_malloc(64 * ((size_t)d->nn + 1)))) {
			dml_error("out of secure memory");
			goto out;
		}
		d->have_recv = xcalloc(d->nn + 1, 1);
		SF(get_idx(NULL, st, "shared", d->n, &d->u2, &d->nu2));
		if (!(a = rec_get_arr(NULL, st, "recv")))
			goto out;
		json_array_foreach(a, i, e) {
			int sl;
			SF(rec_get_int(NULL, e, "i", 1, SHAMIR_MAXX, &v));
			if ((sl = nbr_slot(d, (uint32_t)v)) < 0) {
				dml_error("%s: a share from a non-neighbour",
				    d->path);
				goto out;
			}
			SF(get_hex32(NULL, e, "b", d->recv + 64 * sl));
			SF(get_hex32(NULL, e, "s", d->recv + 64 * sl + 32));
			d->have_recv[sl] = 1;
		}
	}
	rc = 0;
out:
#undef SF
	if (rc < 0 && !strstr(dml_errmsg(), d->path))
		dml_error_prefix("state %s", d->path);
	wipe_state(st);
	return rc;
}

secagg_dev *
secagg_dev_new(enum secagg_dstep step, const char *state, const dml_key *k,
    const unsigned char *node, const char *seedtext)
{
	secagg_dev *d = xcalloc(1, sizeof *d);

	d->step = step;
	d->path = state;
	d->key = k;
	if (node) {
		memcpy(d->node, node, 32);
		d->have_node = 1;
	}
	if (!(d->sec = sodium_malloc(32 * SEC_N))) {
		free(d);
		return dml_error("out of secure memory"), NULL;
	}
	sodium_memzero(d->sec, 32 * SEC_N);
	if (seedtext)
		d->seedtext = xstrdup(seedtext);
	if (step == SA_ADVERTISE) {
		if (state_absent(state) < 0)
			goto bad;
		return d;
	}
	if (dev_load(d) < 0)
		goto bad;
	return d;
bad:
	secagg_dev_free(d);
	return NULL;
}

void
secagg_dev_free(secagg_dev *d)
{
	if (!d)
		return;
	if (d->sec)
		sodium_free(d->sec);
	if (d->recv)
		sodium_free(d->recv);
	if (d->seedtext) {
		sodium_memzero(d->seedtext, strlen(d->seedtext));
		free(d->seedtext);
	}
	free(d->have_recv);
	free(d->job);
	free(d->nbr);
	free(d->nc);
	free(d->ns);
	free(d->u2);
	free(d->q);
	free(d->task);
	free(d->model);
	json_decref(d->layout);
	json_decref(d->out);
	free(d);
}

/* r signed with k, or NULL (r freed) with dml_error. */
static json_t *
signed_rec(json_t *r, const dml_key *k)
{
	if (rec_sign(r, k) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static int
node_signed(const secagg_dev *d, const rec_in *in, const json_t *r)
{
	unsigned char who[32];

	if (rec_verify(r, in, who) < 0)
		return -1;
	if (memcmp(who, d->node, 32) != 0)
		return rec_err(in, "signed by another key than the node's");
	return 0;
}

/* The device's own signed result of the round. */
static int
own_result(const secagg_dev *d, const rec_in *in, const json_t *r,
    const char **job, long long *round)
{
	unsigned char who[32];

	if (rec_verify(r, in, who) < 0)
		return -1;
	if (memcmp(who, d->key->pk, 32) != 0)
		return rec_err(in, "not this device's result (signed by "
		    "another key)");
	if (rec_get_str(in, r, "job", job) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, round) < 0)
		return -1;
	return 0;
}

static int
adv_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	const char *job;
	long long round;

	if (d->got_main)
		return rec_err(in, "one dml.result is advertised for, this is "
		    "a second record");
	if (rec_check(in, r, "dml.result") < 0 ||
	    own_result(d, in, r, &job, &round) < 0)
		return -1;
	d->job = xstrdup(job);
	d->round = round;
	d->got_main = 1;
	return 0;
}

/* A secret that is a field element (shared with Shamir's scheme): drawn
 * from the seed (the counter *i goes on from draw to draw) or from
 * libsodium's randomness. */
static void
draw_element(secagg_dev *d, int slot, const char *what, uint32_t *i)
{
	unsigned char *p = d->sec + 32 * slot;

	do {
		if (d->have_seed)
			derive(p, d, what, (*i)++);
		else
			randombytes_buf(p, 32);
	} while (!shamir_fix_element(p));
}

static json_t *
adv_finish(secagg_dev *d)
{
	unsigned char *sec = d->sec, ctr[8];
	json_t *r;
	uint32_t i = 0;

	if (d->seedtext) {
		crypto_generichash_state st;
		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st, (const unsigned char *)
		    "dml-secagg-seed-v1", 19);
		crypto_generichash_update(&st, (const unsigned char *)
		    d->seedtext, strlen(d->seedtext) + 1);
		crypto_generichash_update(&st, d->key->pk, 32);
		crypto_generichash_update(&st, (const unsigned char *)d->job,
		    strlen(d->job) + 1);
		for (int j = 0; j < 8; j++)
			ctr[j] = (unsigned char)(d->round >> (8 * j));
		crypto_generichash_update(&st, ctr, 8);
		crypto_generichash_final(&st, sec + 32 * SEC_SEED, 32);
		sodium_memzero(&st, sizeof st);
		d->have_seed = 1;
		derive(sec + 32 * SEC_CSK, d, "c", 0);
	} else
		randombytes_buf(sec + 32 * SEC_CSK, 32);
	draw_element(d, SEC_SSK, "s", &i);
	draw_element(d, SEC_B, "b", &i);
	crypto_scalarmult_base(d->me.c, sec + 32 * SEC_CSK);
	crypto_scalarmult_base(d->me.s, sec + 32 * SEC_SSK);
	commit_b(d->me.bc, sec + 32 * SEC_B);
	memcpy(d->me.pk, d->key->pk, 32);
	r = keys_record(d->job, d->round, &d->me);
	return signed_rec(r, d->key);
}

static int
share_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	struct roster ro;
	uint32_t *h, m;
	unsigned char *bsh = NULL, *ssh = NULL, rngkey[32], pt[SHARE_PT],
		      ct[SHARE_CT], nonce[crypto_box_NONCEBYTES];
	json_t *out, *arr;
	int rc = -1;

	if (d->got_main)
		return rec_err(in, "a second roster");
	if (rec_check(in, r, "dml.secagg.roster") < 0 ||
	    node_signed(d, in, r) < 0 ||
	    roster_parse(&ro, in, r, d->key->pk) < 0)
		return -1;
	if (strcmp(ro.job, d->job) != 0 || ro.round != d->round) {
		rec_err(in, "the roster is for another job or round than this "
		    "device's keys");
		goto out0;
	}
	if (!(d->index = roster_index(&ro, d->key->pk))) {
		rec_err(in, "this device is not in the roster");
		goto out0;
	}
	{
		const struct devkeys *e = &ro.d[d->index - 1];
		if (memcmp(e->c, d->me.c, 32) || memcmp(e->s, d->me.s, 32) ||
		    memcmp(e->bc, d->me.bc, 32)) {
			rec_err(in, "the roster carries other keys for this "
			    "device than it advertised");
			goto out0;
		}
	}
	memcpy(d->session, ro.session, 32);
	d->n = ro.n;
	d->t = ro.t;
	d->k = ro.k;
	d->m = ro.k + 1;
	d->clip = ro.clip;
	d->frac = ro.frac;
	h = xmalloc((ro.k + 1) * sizeof *h);
	m = holders(&ro, d->index, h);
	d->nbr = xmalloc(m * sizeof *d->nbr);
	d->nc = xmalloc(m * 32);
	d->ns = xmalloc(m * 32);
	d->nn = secagg_neighbours(&ro.g, d->index, d->nbr);
	for (uint32_t j = 0; j < d->nn; j++) {
		memcpy(d->nc + 32 * j, ro.d[d->nbr[j] - 1].c, 32);
		memcpy(d->ns + 32 * j, ro.d[d->nbr[j] - 1].s, 32);
	}
	bsh = sodium_malloc(32 * (size_t)m);
	ssh = sodium_malloc(32 * (size_t)m);
	if (!bsh || !ssh) {
		dml_error("out of secure memory");
		goto out;
	}
	if (d->have_seed)
		derive(rngkey, d, "coef-b", 0);
	if (shamir_split(d->sec + 32 * SEC_B, (int)d->t, h, (int)m,
	    d->have_seed ? rngkey : NULL, bsh) < 0)
		goto out;
	if (d->have_seed)
		derive(rngkey, d, "coef-s", 0);
	if (shamir_split(d->sec + 32 * SEC_SSK, (int)d->t, h, (int)m,
	    d->have_seed ? rngkey : NULL, ssh) < 0)
		goto out;
	out = round_rec("dml.secagg.shares", d->job, d->round, d->session);
	arr = json_array();
	for (uint32_t j = 0; j < m; j++) {
		if (h[j] == d->index) {
			memcpy(d->sec + 32 * SEC_OWNB, bsh + 32 * j, 32);
			memcpy(d->sec + 32 * SEC_OWNS, ssh + 32 * j, 32);
			continue;
		}
		put32(pt, d->index);
		put32(pt + 4, h[j]);
		memcpy(pt + 8, bsh + 32 * j, 32);
		memcpy(pt + 40, ssh + 32 * j, 32);
		share_nonce(nonce, d->session, d->index, h[j]);
		if (crypto_box_easy(ct, pt, SHARE_PT, nonce,
		    ro.d[h[j] - 1].c, d->sec + 32 * SEC_CSK) != 0) {
			json_decref(arr);
			json_decref(out);
			dml_error("device %u's share key is unusable", h[j]);
			goto out;
		}
		json_array_append_new(arr, json_pack("{s:i,s:o}", "to",
		    (json_int_t)h[j], "ct", b64_json(ct, sizeof ct)));
	}
	json_object_set_new(out, "shares", arr);
	d->out = out;
	d->got_main = 1;
	rc = 0;
out:
	sodium_memzero(pt, sizeof pt);
	sodium_memzero(rngkey, sizeof rngkey);
	if (bsh)
		sodium_free(bsh);
	if (ssh)
		sodium_free(ssh);
	free(h);
out0:
	roster_free(&ro);
	return rc;
}

static int
inbox_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	json_t *arr, *e;
	long long to;
	unsigned char pk[32], ct[SHARE_CT], pt[SHARE_PT],
		      nonce[crypto_box_NONCEBYTES];
	size_t i;
	uint32_t live = 1;

	if (d->got_main)
		return rec_err(in, "a second inbox");
	if (node_signed(d, in, r) < 0 ||
	    check_round(in, r, d->job, d->round, d->session) < 0 ||
	    rec_get_int(in, r, "to", 1, SHAMIR_MAXX, &to) < 0 ||
	    get_hex32(in, r, "key", pk) < 0)
		return -1;
	if ((uint32_t)to != d->index || memcmp(pk, d->key->pk, 32) != 0)
		return rec_err(in, "an inbox for another device (index %lld)",
		    to);
	if (get_idx(in, r, "shared", d->n, &d->u2, &d->nu2) < 0)
		return -1;
	if (!in_list(d->u2, d->nu2, d->index))
		return rec_err(in, "the inbox does not count this device "
		    "among those that shared");
	d->recv = sodium_malloc(64 * ((size_t)d->nn + 1));
	d->have_recv = xcalloc(d->nn + 1, 1);
	if (!d->recv)
		return dml_error("out of secure memory");
	if (!(arr = rec_get_arr(in, r, "shares")))
		return -1;
	json_array_foreach(arr, i, e) {
		long long from;
		int sl;
		if (rec_get_int(in, e, "from", 1, d->n, &from) < 0 ||
		    get_b64(in, e, "ct", ct, sizeof ct) < 0)
			return -1;
		if ((sl = nbr_slot(d, (uint32_t)from)) < 0)
			return rec_err(in, "a share from device %lld, which is "
			    "not a neighbour of this device", from);
		if (!in_list(d->u2, d->nu2, (uint32_t)from))
			return rec_err(in, "a share from device %lld, which "
			    "is not listed as having shared", from);
		if (d->have_recv[sl])
			return rec_err(in, "two shares from device %lld", from);
		share_nonce(nonce, d->session, (uint32_t)from, d->index);
		if (crypto_box_open_easy(pt, ct, sizeof ct, nonce,
		    d->nc + 32 * sl, d->sec + 32 * SEC_CSK) != 0)
			return rec_err(in, "the share from device %lld does not "
			    "open: it is not addressed to this device or was "
			    "altered", from);
		if (get32(pt) != (uint32_t)from || get32(pt + 4) != d->index) {
			sodium_memzero(pt, sizeof pt);
			return rec_err(in, "the share from device %lld names "
			    "other devices inside", from);
		}
		memcpy(d->recv + 64 * sl, pt + 8, 64);
		sodium_memzero(pt, sizeof pt);
		d->have_recv[sl] = 1;
	}
	for (uint32_t j = 0; j < d->nn; j++) {
		int sh = in_list(d->u2, d->nu2, d->nbr[j]);
		if (sh && !d->have_recv[j])
			return rec_err(in, "no share from device %u, listed as "
			    "having shared", d->nbr[j]);
		live += sh;
	}
	if (live < d->t)
		return rec_err(in, "threshold not met: %u of this device's %u "
		    "share holders are left, %u needed", live, d->m, d->t);
	d->got_main = 1;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The result's values, in the order of their names, then n. */
static int
result_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	const char *job, *task, *key, **names, *model;
	long long round, n;
	json_t *vals, *v;
	size_t nv = 0, len = 0, off = 0;
	double *x;
	int rc = -1;

	if (d->got_result)
		return rec_err(in, "a second dml.result");
	if (own_result(d, in, r, &job, &round) < 0)
		return -1;
	if (strcmp(job, d->job) != 0 || round != d->round)
		return rec_err(in, "a result for another job or round than "
		    "this device's keys");
	if (rec_get_str(in, r, "task", &task) < 0 ||
	    rec_get_int(in, r, "n", 0, 1LL << 53, &n) < 0 ||
	    !(vals = rec_get_obj(in, r, "values")))
		return -1;
	if ((double)n * d->n >= 2147483648.0)
		return rec_err(in, "n = %lld: %u devices' sample counts would "
		    "not fit the modulus", n, d->n);
	names = xmalloc((json_object_size(vals) + 1) * sizeof *names);
	json_object_foreach(vals, key, v)
		names[nv++] = key;
	qsort(names, nv, sizeof *names, cmp_str);
	d->layout = json_array();
	for (size_t i = 0; i < nv; i++) {
		dml_tensor h;
		const char *b;
		size_t bl;
		if (tensor_header(in, json_object_get(vals, names[i]), names[i],
		    &h, &b, &bl) < 0)
			goto out;
		len += h.n;
		json_array_append_new(d->layout, json_pack("{s:s,s:I}",
		    "name", names[i], "length", (json_int_t)h.n));
	}
	x = xmalloc((len + 1) * sizeof *x);
	for (size_t i = 0; i < nv; i++) {
		dml_tensor t;
		if (tensor_from_json(in, json_object_get(vals, names[i]),
		    names[i], &t) < 0) {
			free(x);
			goto out;
		}
		for (size_t j = 0; j < t.n; j++)
			x[off++] = tensor_get(&t, j);
		tensor_free(&t);
	}
	d->len = len + 1;
	d->q = xmalloc(d->len * sizeof *d->q);
	if (secagg_quantize(x, len, d->clip, d->frac, d->q, &d->clipped) <
	    0) {
		free(x);
		rec_err(in, "%s", dml_errmsg());
		goto out;
	}
	free(x);
	d->q[len] = (uint32_t)n;	/* the sample count, exact */
	d->task = xstrdup(task);
	model = NULL;
	if (rec_opt_str(in, r, "model", &model) < 0)
		goto out;
	d->model = model ? xstrdup(model) : NULL;
	d->got_result = 1;
	rc = 0;
out:
	free(names);
	return rc;
}

static json_t *
mask_finish(secagg_dev *d)
{
	unsigned char *keys;
	signed char *signs;
	size_t nt = 0;
	json_t *r;

	if (!d->got_main)
		return dml_error("no dml.secagg.inbox in the input"), NULL;
	if (!d->got_result)
		return dml_error("no dml.result of the device in the input"),
		    NULL;
	if (!(keys = sodium_malloc(32 * ((size_t)d->nn + 1))))
		return dml_error("out of secure memory"), NULL;
	signs = xmalloc(d->nn + 1);
	secagg_self_key(keys, d->session, d->sec + 32 * SEC_B);
	signs[nt++] = 1;
	for (uint32_t j = 0; j < d->nn; j++) {
		if (!in_list(d->u2, d->nu2, d->nbr[j]))
			continue;	/* dropped before sharing: no mask */
		if (secagg_pair_key(keys + 32 * nt, d->session,
		    d->sec + 32 * SEC_SSK, d->ns + 32 * j) < 0) {
			sodium_free(keys);
			free(signs);
			return dml_error_prefix("device %u", d->nbr[j]), NULL;
		}
		signs[nt++] = d->index < d->nbr[j] ? 1 : -1;
	}
	secagg_masks(d->q, d->len, keys, signs, nt);
	sodium_free(keys);
	free(signs);
	r = round_rec("dml.secagg.masked", d->job, d->round, d->session);
	json_object_set_new(r, "task", json_string(d->task));
	if (d->model)
		json_object_set_new(r, "model", json_string(d->model));
	json_object_set_new(r, "layout", json_incref(d->layout));
	json_object_set_new(r, "length", json_integer((json_int_t)d->len));
	json_object_set_new(r, "y", b64_json(d->q, d->len * 4));
	return signed_rec(r, d->key);
}

static int
unmask_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	uint32_t *S = NULL, *D = NULL, ns, nd, live = 1;
	json_t *out, *ba, *sa;
	int rc = -1;
	size_t i, j;

	if (d->got_main)
		return rec_err(in, "a second unmask request");
	if (rec_check(in, r, "dml.secagg.unmask-request") < 0 ||
	    node_signed(d, in, r) < 0 ||
	    check_round(in, r, d->job, d->round, d->session) < 0 ||
	    get_idx(in, r, "survivors", d->n, &S, &ns) < 0 ||
	    get_idx(in, r, "dropped", d->n, &D, &nd) < 0)
		goto out;
	for (i = 0; i < nd; i++)
		if (in_list(S, ns, D[i])) {
			rec_err(in, "the request asks for both the self-mask "
			    "seed and the mask key of device %u: refused",
			    D[i]);
			goto out;
		}
	if (in_list(D, nd, d->index)) {
		rec_err(in, "the request lists this device as dropped: "
		    "refused");
		goto out;
	}
	if (!in_list(S, ns, d->index)) {
		rec_err(in, "the request does not list this device among the "
		    "survivors: refused");
		goto out;
	}
	for (i = j = 0; i < d->nu2; i++)
		if (!in_list(S, ns, d->u2[i]) && !in_list(D, nd, d->u2[i]))
			j++;
	if (j || ns + nd != d->nu2) {
		rec_err(in, "the request's survivors and dropped devices are "
		    "not the devices that shared: refused");
		goto out;
	}
	for (i = 0; i < d->nn; i++)
		live += in_list(S, ns, d->nbr[i]);
	if (live < d->t) {
		rec_err(in, "threshold not met: %u of this device's %u share "
		    "holders survive, %u needed: refused", live, d->m, d->t);
		goto out;
	}
	out = round_rec("dml.secagg.unmask", d->job, d->round, d->session);
	ba = json_array();
	sa = json_array();
	/* the neighbours' shares, then the device's own share of b */
	for (i = 0; i < d->nn; i++) {
		uint32_t v = d->nbr[i];
		int surv = in_list(S, ns, v);
		json_t *e;
		if (!in_list(d->u2, d->nu2, v))
			continue;
		e = json_object();
		json_object_set_new(e, "of", json_integer(v));
		set_hex32(e, "share", d->recv + 64 * i + (surv ? 0 : 32));
		json_array_append_new(surv ? ba : sa, e);
	}
	{
		json_t *e = json_object();
		json_object_set_new(e, "of", json_integer(d->index));
		set_hex32(e, "share", d->sec + 32 * SEC_OWNB);
		json_array_append_new(ba, e);
	}
	json_object_set_new(out, "b", ba);
	json_object_set_new(out, "s", sa);
	d->out = out;
	d->got_main = 1;
	d->answered = 1;
	rc = 0;
out:
	free(S);
	free(D);
	return rc;
}

int
secagg_dev_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	const char *type;

	if (rec_check(in, r, NULL) < 0)
		return -1;
	type = json_string_value(json_object_get(r, "type"));
	switch (d->step) {
	case SA_ADVERTISE:
		return adv_feed(d, r, in);
	case SA_SHARE:
		return share_feed(d, r, in);
	case SA_MASK:
		if (strcmp(type, "dml.secagg.inbox") == 0)
			return inbox_feed(d, r, in);
		if (strcmp(type, "dml.result") == 0)
			return result_feed(d, r, in);
		return rec_err(in, "the mask step reads the device's "
		    "dml.secagg.inbox and its dml.result, not %s", type);
	default:
		return unmask_feed(d, r, in);
	}
}

json_t *
secagg_dev_finish(secagg_dev *d)
{
	json_t *r;

	if (d->step == SA_MASK)
		return mask_finish(d);
	if (!d->got_main)
		return dml_error("no %s in the input", d->step == SA_ADVERTISE ?
		    "dml.result" : d->step == SA_SHARE ? "dml.secagg.roster" :
		    "dml.secagg.unmask-request"), NULL;
	if (d->step == SA_ADVERTISE)
		return adv_finish(d);
	r = d->out;
	d->out = NULL;
	return signed_rec(r, d->key);
}

int
secagg_dev_save(secagg_dev *d)
{
	json_t *st, *a;
	char hex[65];
	int rc;

	if (d->answered) {	/* the device answers once: forget all */
		if (unlink(d->path) < 0 && errno != ENOENT)
			return dml_error_sys("%s", d->path);
		return 0;
	}
	st = rec_new("dml.secagg.state");
	json_object_set_new(st, "step", json_string(donename[d->step]));
	key_hex(d->key->pk, 32, hex);
	json_object_set_new(st, "key", json_string(hex));
	json_object_set_new(st, "job", json_string(d->job));
	json_object_set_new(st, "round", json_integer(d->round));
	set_hex32(st, "c", d->me.c);
	set_hex32(st, "s", d->me.s);
	set_hex32(st, "bc", d->me.bc);
	for (int j = 0; j < SEC_N; j++) {
		if (j == SEC_SEED && !d->have_seed)
			continue;
		if ((j == SEC_OWNB || j == SEC_OWNS) && d->step < SA_SHARE)
			continue;
		set_hex32(st, secname[j], d->sec + 32 * j);
	}
	if (d->step >= SA_SHARE) {
		set_hex32(st, "session", d->session);
		json_object_set_new(st, "index", json_integer(d->index));
		json_object_set_new(st, "n", json_integer(d->n));
		json_object_set_new(st, "threshold", json_integer(d->t));
		json_object_set_new(st, "neighbours", json_integer(d->k));
		json_object_set_new(st, "frac_bits", json_integer(d->frac));
		json_object_set_new(st, "clip", json_real(d->clip));
		a = json_array();
		for (uint32_t j = 0; j < d->nn; j++) {
			json_t *e = json_object();
			json_object_set_new(e, "i", json_integer(d->nbr[j]));
			set_hex32(e, "c", d->nc + 32 * j);
			set_hex32(e, "s", d->ns + 32 * j);
			json_array_append_new(a, e);
		}
		json_object_set_new(st, "nbrs", a);
	}
	if (d->step >= SA_MASK) {
		json_object_set_new(st, "shared", idx_json(d->u2, d->nu2));
		a = json_array();
		for (uint32_t j = 0; j < d->nn; j++) {
			json_t *e;
			if (!d->have_recv[j])
				continue;
			e = json_object();
			json_object_set_new(e, "i", json_integer(d->nbr[j]));
			set_hex32(e, "b", d->recv + 64 * j);
			set_hex32(e, "s", d->recv + 64 * j + 32);
			json_array_append_new(a, e);
		}
		json_object_set_new(st, "recv", a);
	}
	rc = state_write(d->path, st);
	wipe_state(st);
	return rc;
}

/* ---- the federated node ---------------------------------------------- */

enum { F_SHARED = 1, F_MASKED = 2, F_SEEN = 4, F_DROPPED = 8 };

struct shareset {		/* shares of one device's secret */
	uint32_t count, *x;
	unsigned char *y;	/* count x 32 */
};

struct secagg_node {
	enum secagg_nstep step;
	const char *path;
	const dml_job *job;
	const dml_key *k;
	secagg_params p;
	json_t *st;			/* the state, from route-shares on */
	struct roster ro;
	int have_ro;
	unsigned char *fl;		/* [n + 1] F_ flags by index */
	long long round;
	json_t *entries;		/* collect-keys */
	keyset *seen;
	json_t **inbox;			/* route-shares: [n + 1] */
	json_t *layout;			/* collect-masked on */
	char *task, *model;
	uint32_t *ysum;
	size_t len;
	struct shareset *bs, *ss;	/* unmask: [n + 1] */
	uint32_t *nb;			/* scratch: k neighbours */
};

/* The shares are secrets until the round is done: wiped. */
static void
shareset_free(struct shareset *ss)
{
	if (ss->y)
		sodium_memzero(ss->y, 32 * (size_t)ss->count);
	free(ss->x);
	free(ss->y);
}

static uint32_t
eff_k(uint32_t n, long long k)
{
	if (k <= 0 || k >= (long long)n - 1)
		return n - 1;
	k += k & 1;
	return k >= (long long)n - 1 ? n - 1 : (uint32_t)k;
}

/* Set flag on the devices the state lists under key. */
static int
flag_from(secagg_node *s, const char *key, int flag)
{
	uint32_t *x, nx;

	if (get_idx(NULL, s->st, key, s->ro.n, &x, &nx) < 0)
		return dml_error_prefix("state %s", s->path);
	for (uint32_t i = 0; i < nx; i++)
		s->fl[x[i]] |= flag;
	free(x);
	return 0;
}

static int
node_load(secagg_node *s)
{
	static const char *const want[] = {"keys", "shares", "masked"};
	const char *step;
	json_t *ro;

	if (!(s->st = state_read(s->path, "dml.secagg.node")))
		return -1;
	if (rec_get_str(NULL, s->st, "step", &step) < 0)
		return dml_error_prefix("state %s", s->path);
	if (strcmp(step, want[s->step - 1]) != 0)
		return dml_error("%s: the round is at step \"%s\": %s comes "
		    "after \"%s\"", s->path, step, nstep_name[s->step],
		    want[s->step - 1]);
	if (!(ro = json_object_get(s->st, "roster")) ||
	    roster_parse(&s->ro, NULL, ro, NULL) < 0)
		return dml_error_prefix("state %s", s->path);
	s->have_ro = 1;
	if (strcmp(s->ro.job, s->job->id) != 0)
		return dml_error("%s: the round of another job", s->path);
	s->round = s->ro.round;
	s->fl = xcalloc(s->ro.n + 1, 1);
	s->nb = xmalloc((s->ro.k + 2) * sizeof *s->nb);
	if (s->step >= SA_COLLECT_MASKED && flag_from(s, "shared", F_SHARED) < 0)
		return -1;
	if (s->step == SA_NODE_UNMASK) {
		const char *task, *model = NULL;
		long long len;
		if (flag_from(s, "survivors", F_MASKED) < 0 ||
		    flag_from(s, "dropped", F_DROPPED) < 0)
			return -1;
		if (rec_get_str(NULL, s->st, "task", &task) < 0 ||
		    rec_opt_str(NULL, s->st, "model", &model) < 0 ||
		    rec_get_int(NULL, s->st, "length", 1, 1LL << 31, &len) < 0 ||
		    !(s->layout = rec_get_arr(NULL, s->st, "layout")))
			return dml_error_prefix("state %s", s->path);
		json_incref(s->layout);
		s->task = xstrdup(task);
		s->model = model ? xstrdup(model) : NULL;
		s->len = (size_t)len;
		s->ysum = xmalloc(s->len * 4);
		if (get_b64(NULL, s->st, "ysum", s->ysum, s->len * 4) < 0)
			return dml_error_prefix("state %s", s->path);
		s->bs = xcalloc(s->ro.n + 1, sizeof *s->bs);
		s->ss = xcalloc(s->ro.n + 1, sizeof *s->ss);
	}
	return 0;
}

secagg_node *
secagg_node_new(enum secagg_nstep step, const char *state, const dml_job *job,
    const dml_key *k, const secagg_params *p)
{
	secagg_node *s = xcalloc(1, sizeof *s);

	s->step = step;
	s->path = state;
	s->job = job;
	s->k = k;
	s->p = *p;
	if (step == SA_COLLECT_KEYS) {
		if (state_absent(state) < 0) {
			free(s);
			return NULL;
		}
		s->entries = json_array();
		s->seen = keyset_new();
		s->round = p->round;
		return s;
	}
	if (node_load(s) < 0) {
		secagg_node_free(s);
		return NULL;
	}
	if (step == SA_ROUTE_SHARES)
		s->inbox = xcalloc(s->ro.n + 1, sizeof *s->inbox);
	return s;
}

void
secagg_node_free(secagg_node *s)
{
	if (!s)
		return;
	if (s->inbox)
		for (uint32_t i = 0; i <= s->ro.n; i++)
			json_decref(s->inbox[i]);
	free(s->inbox);
	if (s->bs)
		for (uint32_t i = 0; i <= s->ro.n; i++) {
			shareset_free(&s->bs[i]);
			shareset_free(&s->ss[i]);
		}
	free(s->bs);
	free(s->ss);
	if (s->have_ro)
		roster_free(&s->ro);
	json_decref(s->st);
	json_decref(s->entries);
	json_decref(s->layout);
	keyset_free(s->seen);
	free(s->fl);
	free(s->nb);
	free(s->task);
	free(s->model);
	free(s->ysum);
	free(s);
}

/* A device's signed record of this round: its index, or 0 + dml_error. */
static uint32_t
device_of(secagg_node *s, const json_t *r, const rec_in *in,
    const char *type)
{
	unsigned char who[32];
	uint32_t i;
	char hex[65];

	if (rec_check(in, r, type) < 0 || rec_verify(r, in, who) < 0)
		return 0;
	if (!(i = roster_index(&s->ro, who))) {
		key_hex(who, 32, hex);
		return rec_err(in, "device %.16s... is not in the round's "
		    "roster", hex), 0;
	}
	if (check_round(in, r, s->ro.job, s->round, s->ro.session) < 0)
		return 0;
	if (s->fl[i] & F_SEEN)
		return rec_err(in, "a second %s record from device %u "
		    "(duplicate)", type + 11, i), 0;
	return i;
}

static int
keys_feed(secagg_node *s, json_t *r, const rec_in *in)
{
	unsigned char who[32], c[32], sk[32], bc[32];
	const char *job, *sig;
	long long round;
	char hex[65];

	if (rec_check(in, r, "dml.secagg.keys") < 0 ||
	    rec_verify(r, in, who) < 0 ||
	    rec_get_str(in, r, "job", &job) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &round) < 0 ||
	    rec_get_str(in, r, "sig", &sig) < 0 ||
	    get_hex32(in, r, "c", c) < 0 || get_hex32(in, r, "s", sk) < 0 ||
	    get_hex32(in, r, "bc", bc) < 0)
		return -1;
	key_hex(who, 32, hex);
	if (s->p.devices && !keyset_has(s->p.devices, who))
		return rec_err(in, "device %.16s... is not one of the job's "
		    "devices", hex);
	if (strcmp(job, s->job->id) != 0)
		return rec_err(in, "keys for another job");
	if (s->round < 0)
		s->round = round;
	if (round != s->round)
		return rec_err(in, "keys of round %lld, this is round %lld "
		    "(replayed?)", round, s->round);
	if (keyset_has(s->seen, who))
		return rec_err(in, "a second dml.secagg.keys from device "
		    "%.16s... (duplicate)", hex);
	keyset_add(s->seen, who);
	json_array_append_new(s->entries, json_pack("{s:s,s:O,s:O,s:O,s:s}",
	    "key", hex, "c", json_object_get(r, "c"), "s",
	    json_object_get(r, "s"), "bc", json_object_get(r, "bc"), "sig",
	    sig));
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a,
	    "key")), json_string_value(json_object_get(*(json_t *const *)b,
	    "key")));
}

static int
emit(secagg_node *s, rec_out *o, json_t *r)
{
	int rc = rec_sign(r, s->k) < 0 || rec_out_write(o, r, NULL) < 0 ?
	    -1 : 0;
	json_decref(r);
	return rc;
}

static int
keys_finish(secagg_node *s, rec_out *o)
{
	size_t n = json_array_size(s->entries);
	json_t **e, *devs, *r;
	uint32_t k, t;
	int frac;
	unsigned char session[32];

	if (n < 2)
		return dml_error("%zu device%s advertised keys: secure "
		    "aggregation needs at least 2", n, n == 1 ? "" : "s");
	if (n > SHAMIR_MAXX)
		return dml_error("too many devices (%zu)", n);
	k = eff_k((uint32_t)n, s->p.neighbours);
	t = s->p.threshold ? (uint32_t)s->p.threshold :
	    (uint32_t)secagg_default_threshold(k + 1);
	if (check_threshold(t, k + 1) < 0)
		return -1;
	if (s->p.frac_bits >= 0) {
		frac = s->p.frac_bits;
		if ((double)n * floor(ldexp(s->p.clip, frac)) >= 2147483648.0)
			return dml_error("--frac-bits %d: %zu devices' values "
			    "clipped to %g would overflow 32 bits", frac, n,
			    s->p.clip);
	} else if ((frac = secagg_auto_frac((long long)n, s->p.clip)) < 0)
		return -1;
	e = xmalloc(n * sizeof *e);
	for (size_t i = 0; i < n; i++)
		e[i] = json_array_get(s->entries, i);
	qsort(e, n, sizeof *e, cmp_entry);
	devs = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(devs, e[i]);
	free(e);
	r = rec_new("dml.secagg.roster");
	json_object_set_new(r, "job", json_string(s->job->id));
	json_object_set_new(r, "round", json_integer(s->round));
	json_object_set_new(r, "threshold", json_integer(t));
	json_object_set_new(r, "neighbours", json_integer(k));
	json_object_set_new(r, "clip", json_real(s->p.clip));
	json_object_set_new(r, "frac_bits", json_integer(frac));
	json_object_set_new(r, "modulus_bits", json_integer(SECAGG_MODBITS));
	json_object_set_new(r, "devices", devs);
	if (roster_session(r, session) < 0) {
		json_decref(r);
		return -1;
	}
	set_hex32(r, "session", session);
	if (rec_sign(r, s->k) < 0 || rec_out_write(o, r, NULL) < 0) {
		json_decref(r);
		return -1;
	}
	s->st = rec_new("dml.secagg.node");
	json_object_set_new(s->st, "step", json_string("keys"));
	json_object_set_new(s->st, "roster", r);
	return 0;
}

static int
shares_feed(secagg_node *s, json_t *r, const rec_in *in)
{
	uint32_t i = device_of(s, r, in, "dml.secagg.shares"), nn;
	json_t *arr, *e;
	size_t j;

	if (!i)
		return -1;
	if (!(arr = rec_get_arr(in, r, "shares")))
		return -1;
	nn = secagg_neighbours(&s->ro.g, i, s->nb);
	json_array_foreach(arr, j, e) {
		long long to;
		const char *ct;
		if (rec_get_int(in, e, "to", 1, SHAMIR_MAXX, &to) < 0 ||
		    rec_get_str(in, e, "ct", &ct) < 0)
			return -1;
		if (to > s->ro.n || !secagg_adjacent(&s->ro.g, i,
		    (uint32_t)to))
			return rec_err(in, "device %u addresses a share to "
			    "device %lld, which is not one of its neighbours "
			    "(wrong device)", i, to);
		if (j >= nn || s->nb[j] != (uint32_t)to)
			return rec_err(in, "device %u's shares must go to its "
			    "neighbours once each, in index order (at %zu)", i,
			    j);
		if (strlen(ct) != b64_enclen(SHARE_CT))
			return rec_err(in, "a share's \"ct\" must be the base64 "
			    "of %d bytes", SHARE_CT);
	}
	if (json_array_size(arr) != nn)
		return rec_err(in, "device %u sent %zu shares for its %u "
		    "neighbours", i, json_array_size(arr), nn);
	json_array_foreach(arr, j, e) {
		uint32_t to = s->nb[j];
		if (!s->inbox[to])
			s->inbox[to] = json_array();
		json_array_append_new(s->inbox[to], json_pack("{s:i,s:O}",
		    "from", (json_int_t)i, "ct", json_object_get(e, "ct")));
	}
	s->fl[i] |= F_SEEN | F_SHARED;
	return 0;
}

/* Every device of `among` (flag) must keep t holders with flag `live`. */
static int
viable(secagg_node *s, int among, int live, const char *what)
{
	for (uint32_t u = 1; u <= s->ro.n; u++) {
		uint32_t c = 0, m;
		if (!(s->fl[u] & among))
			continue;
		if (s->ro.g.full) {
			for (uint32_t v = 1; v <= s->ro.n; v++)
				c += (s->fl[v] & live) != 0;
			if (c < s->ro.t)
				return dml_error("threshold not met: %u devices "
				    "%s, %u needed; nothing is revealed", c,
				    what, s->ro.t);
			return 0;
		}
		m = holders(&s->ro, u, s->nb);
		for (uint32_t j = 0; j < m; j++)
			c += (s->fl[s->nb[j]] & live) != 0;
		if (c < s->ro.t)
			return dml_error("threshold not met: %u of device %u's "
			    "%u share holders %s, %u needed; nothing is "
			    "revealed", c, u, m, what, s->ro.t);
	}
	return 0;
}

static json_t *
flag_list(const secagg_node *s, int flag, int not)
{
	json_t *a = json_array();

	for (uint32_t i = 1; i <= s->ro.n; i++)
		if ((s->fl[i] & flag) && !(s->fl[i] & not))
			json_array_append_new(a, json_integer(i));
	return a;
}

static int
cmp_from(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a,
	    "from")), y = json_integer_value(json_object_get(
	    *(json_t *const *)b, "from"));
	return x < y ? -1 : x > y;
}

static json_t *
node_rec(const secagg_node *s, const char *type)
{
	return round_rec(type, s->ro.job, s->round, s->ro.session);
}

static int
shares_finish(secagg_node *s, rec_out *o)
{
	json_t *shared = flag_list(s, F_SHARED, 0);
	char hex[65];

	if (json_array_size(shared) == 0) {
		json_decref(shared);
		return dml_error("no device sent its shares");
	}
	if (viable(s, F_SHARED, F_SHARED, "shared their keys") < 0) {
		json_decref(shared);
		return -1;
	}
	for (uint32_t v = 1; v <= s->ro.n; v++) {
		json_t *r, *box = json_array(), **e;
		size_t n = s->inbox[v] ? json_array_size(s->inbox[v]) : 0;
		if (!(s->fl[v] & F_SHARED)) {
			json_decref(box);
			continue;
		}
		e = xmalloc((n + 1) * sizeof *e);
		for (size_t i = 0; i < n; i++)
			e[i] = json_array_get(s->inbox[v], i);
		qsort(e, n, sizeof *e, cmp_from);
		for (size_t i = 0; i < n; i++)
			json_array_append(box, e[i]);
		free(e);
		r = node_rec(s, "dml.secagg.inbox");
		json_object_set_new(r, "to", json_integer(v));
		key_hex(s->ro.d[v - 1].pk, 32, hex);
		json_object_set_new(r, "key", json_string(hex));
		json_object_set(r, "shared", shared);
		json_object_set_new(r, "shares", box);
		if (emit(s, o, r) < 0) {
			json_decref(shared);
			return -1;
		}
	}
	json_object_set_new(s->st, "step", json_string("shares"));
	json_object_set_new(s->st, "shared", shared);
	return 0;
}

static int
masked_feed(secagg_node *s, json_t *r, const rec_in *in)
{
	uint32_t i = device_of(s, r, in, "dml.secagg.masked"), *y;
	const char *task, *model = NULL, *ys;
	json_t *layout, *e;
	long long len, sum = 1;
	size_t j, yl;

	if (!i)
		return -1;
	if (!(s->fl[i] & F_SHARED))
		return rec_err(in, "device %u did not share its keys: its "
		    "masked input is refused", i);
	if (rec_get_str(in, r, "task", &task) < 0 ||
	    rec_opt_str(in, r, "model", &model) < 0 ||
	    rec_get_int(in, r, "length", 1, 1LL << 31, &len) < 0 ||
	    !(layout = rec_get_arr(in, r, "layout")))
		return -1;
	if (strcmp(task, task_name(s->job->task)) != 0)
		return rec_err(in, "a %s result, the job's task is %s", task,
		    task_name(s->job->task));
	if (s->job->task == TASK_TRAIN && !model)
		return rec_err(in, "a train result names its \"model\"");
	json_array_foreach(layout, j, e) {
		long long l;
		const char *name;
		if (rec_get_str(in, e, "name", &name) < 0 ||
		    rec_get_int(in, e, "length", 0, 1LL << 31, &l) < 0)
			return -1;
		sum += l;
	}
	if (sum != len)
		return rec_err(in, "\"length\" %lld is not the layout's %lld "
		    "values and the count", len, sum);
	if (s->job->task == TASK_TRAIN && (json_array_size(layout) != 1 ||
	    strcmp(json_string_value(json_object_get(json_array_get(layout,
	    0), "name")), "delta") != 0 || len != s->job->params + 1))
		return rec_err(in, "a train input holds \"delta\" with the "
		    "job's %lld parameters", s->job->params);
	if (s->layout && (!json_equal(layout, s->layout) || (s->model &&
	    model && strcmp(model, s->model))))
		return rec_err(in, "device %u's values or base model differ "
		    "from the first masked input's", i);
	if (b64_field(in, r, "y", (size_t)len * 4, &ys, &yl) < 0)
		return -1;
	y = xmalloc((size_t)len * 4);
	if (get_b64(in, r, "y", y, (size_t)len * 4) < 0) {
		free(y);
		return -1;
	}
	if (!s->layout) {	/* the first good input sets the layout */
		s->layout = json_deep_copy(layout);
		s->task = xstrdup(task);
		s->model = model ? xstrdup(model) : NULL;
		s->len = (size_t)len;
		s->ysum = xcalloc(s->len, 4);
	}
	for (size_t k = 0; k < s->len; k++)
		s->ysum[k] += y[k];
	free(y);
	s->fl[i] |= F_SEEN | F_MASKED;
	return 0;
}

static int
masked_finish(secagg_node *s, rec_out *o)
{
	json_t *r;

	if (!s->layout)
		return dml_error("no masked input: nothing to sum");
	if (viable(s, F_SHARED, F_MASKED, "sent masked inputs") < 0)
		return -1;
	r = node_rec(s, "dml.secagg.unmask-request");
	json_object_set_new(r, "survivors", flag_list(s, F_MASKED, 0));
	json_object_set_new(r, "dropped", flag_list(s, F_SHARED, F_MASKED));
	if (emit(s, o, r) < 0)
		return -1;
	json_object_set_new(s->st, "step", json_string("masked"));
	json_object_set_new(s->st, "survivors", flag_list(s, F_MASKED, 0));
	json_object_set_new(s->st, "dropped", flag_list(s, F_SHARED,
	    F_MASKED));
	json_object_set_new(s->st, "task", json_string(s->task));
	if (s->model)
		json_object_set_new(s->st, "model", json_string(s->model));
	json_object_set(s->st, "layout", s->layout);
	json_object_set_new(s->st, "length", json_integer((json_int_t)s->len));
	json_object_set_new(s->st, "ysum", b64_json(s->ysum, s->len * 4));
	return 0;
}

static void
shareset_add(struct shareset *ss, uint32_t cap, uint32_t x,
    const unsigned char y[32])
{
	if (!ss->x) {
		ss->x = xmalloc(cap * sizeof *ss->x);
		ss->y = xmalloc(32 * (size_t)cap);
	}
	ss->x[ss->count] = x;
	memcpy(ss->y + 32 * (size_t)ss->count, y, 32);
	ss->count++;
}

static int
unmask_node_feed(secagg_node *s, json_t *r, const rec_in *in)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	json_t *ba, *sa, *e;
	uint32_t i, nn, eb = 1, es = 0;
	unsigned char *mark, (*sh)[32];
	uint32_t *of;
	size_t j, nent, k = 0;
	int rc = -1;

	if (type && strcmp(type, "dml.secagg.masked") == 0)
		return rec_err(in, "a masked input after the unmasking round "
		    "started: refused");
	if (!(i = device_of(s, r, in, "dml.secagg.unmask")))
		return -1;
	if (s->fl[i] & F_DROPPED)
		return rec_err(in, "device %u is counted as dropped (no masked "
		    "input in time): its unmask answer is refused", i);
	if (!(s->fl[i] & F_MASKED))
		return rec_err(in, "device %u sent no masked input: its unmask "
		    "answer is refused", i);
	if (!(ba = rec_get_arr(in, r, "b")) || !(sa = rec_get_arr(in, r, "s")))
		return -1;
	nn = secagg_neighbours(&s->ro.g, i, s->nb);
	for (uint32_t q = 0; q < nn; q++) {
		eb += (s->fl[s->nb[q]] & F_MASKED) != 0;
		es += (s->fl[s->nb[q]] & F_DROPPED) != 0;
	}
	nent = json_array_size(ba) + json_array_size(sa);
	if (json_array_size(ba) != eb || json_array_size(sa) != es)
		return rec_err(in, "device %u gives %zu self-mask and %zu mask-"
		    "key shares; %u and %u are due", i, json_array_size(ba),
		    json_array_size(sa), eb, es);
	mark = xcalloc(s->ro.n + 1, 1);
	of = xmalloc((nent + 1) * sizeof *of);
	sh = xmalloc((nent + 1) * 32);
	for (int pass = 0; pass < 2; pass++) {
		json_t *a = pass ? sa : ba;
		int want = pass ? F_DROPPED : F_MASKED;
		json_array_foreach(a, j, e) {
			long long v;
			if (rec_get_int(in, e, "of", 1, s->ro.n, &v) < 0 ||
			    get_hex32(in, e, "share", sh[k]) < 0)
				goto out;
			if (mark[v]++) {
				rec_err(in, "device %u gives two shares for "
				    "device %lld", i, v);
				goto out;
			}
			if (!(s->fl[v] & want) || (v != i &&
			    !secagg_adjacent(&s->ro.g, i, (uint32_t)v)) ||
			    (pass && v == i)) {
				rec_err(in, "device %u gives a %s share for "
				    "device %lld, which is not due", i, pass ?
				    "mask-key" : "self-mask", v);
				goto out;
			}
			of[k++] = (uint32_t)v;
		}
	}
	for (j = 0; j < k; j++)
		shareset_add(j < eb ? &s->bs[of[j]] : &s->ss[of[j]], s->ro.k + 1,
		    i, sh[j]);
	s->fl[i] |= F_SEEN;
	rc = 0;
out:
	sodium_memzero(sh, (nent + 1) * 32);
	free(mark);
	free(of);
	free(sh);
	return rc;
}

/* Reconstruct a secret from the first t shares by holder index, reusing
 * the coefficients when the holders are those of the last call. */
static int
recover(secagg_node *s, struct shareset *ss, unsigned char out[32],
    uint32_t *lastx, unsigned char *lambda, int *have)
{
	uint32_t t = s->ro.t, *ord = xmalloc(ss->count * sizeof *ord);
	unsigned char *y = xmalloc(32 * (size_t)t);
	int rc = 0;

	/* sort positions by holder index (insertion: counts are small or
	 * already in order) */
	for (uint32_t a = 0; a < ss->count; a++) {
		uint32_t b = a;
		while (b > 0 && ss->x[ord[b - 1]] > ss->x[a]) {
			ord[b] = ord[b - 1];
			b--;
		}
		ord[b] = a;
	}
	for (uint32_t a = 0; a < t; a++)
		memcpy(y + 32 * a, ss->y + 32 * (size_t)ord[a], 32);
	for (uint32_t a = 0; *have && a < t; a++)
		if (lastx[a] != ss->x[ord[a]])
			*have = 0;
	if (!*have) {
		for (uint32_t a = 0; a < t; a++)
			lastx[a] = ss->x[ord[a]];
		rc = shamir_lagrange(lastx, (int)t, lambda);
		*have = rc == 0;
	}
	if (rc == 0)
		rc = shamir_apply(lambda, y, (int)t, out);
	sodium_memzero(y, 32 * (size_t)t);
	free(ord);
	free(y);
	return rc;
}

static int
unmask_node_finish(secagg_node *s, rec_out *o)
{
	uint32_t n = s->ro.n, t = s->ro.t, *lastx = xmalloc(t * sizeof *lastx);
	unsigned char *lambda = xmalloc(32 * (size_t)t), *skd, *keys,
		      chk[32];
	signed char *signs;
	size_t nt = 0, nterms = 0, ndrop = 0, nsurv = 0;
	int have = 0, rc = -1;
	uint32_t *acc = NULL;
	json_t *r = NULL, *sum, *mem, *rej, *e;
	size_t j, off = 0;
	char hex[65];
	double total;

	for (uint32_t v = 1; v <= n; v++) {
		struct shareset *ss = s->fl[v] & F_MASKED ? &s->bs[v] :
		    s->fl[v] & F_DROPPED ? &s->ss[v] : NULL;
		if (!ss)
			continue;
		if (ss->count < t) {
			dml_error("threshold not met: %u shares of device %u's "
			    "%s, %u needed; nothing is revealed", ss->count, v,
			    s->fl[v] & F_MASKED ? "self-mask seed" : "mask key",
			    t);
			goto out0;
		}
		if (s->fl[v] & F_MASKED)
			nsurv++;
		else {
			ndrop++;
			nterms += secagg_neighbours(&s->ro.g, v, s->nb);
		}
	}
	nterms += nsurv;
	keys = sodium_allocarray(nterms + 1, 32);
	skd = sodium_malloc(32);
	if (!keys || !skd) {
		dml_error("out of secure memory");
		if (keys)
			sodium_free(keys);
		if (skd)
			sodium_free(skd);
		goto out0;
	}
	signs = xmalloc(nterms + 1);
	/* survivors: their self masks come off */
	for (uint32_t v = 1; v <= n; v++) {
		if (!(s->fl[v] & F_MASKED))
			continue;
		if (recover(s, &s->bs[v], skd, lastx, lambda, &have) < 0)
			goto out;
		commit_b(chk, skd);
		if (sodium_memcmp(chk, s->ro.d[v - 1].bc, 32) != 0) {
			dml_error("the shares of device %u's self-mask seed do "
			    "not match its commitment (a wrong share)", v);
			goto out;
		}
		secagg_self_key(keys + 32 * nt, s->ro.session, skd);
		signs[nt++] = -1;
	}
	/* dropped devices: their pair masks with survivors come off */
	for (uint32_t u = 1; u <= n; u++) {
		uint32_t nn;
		if (!(s->fl[u] & F_DROPPED))
			continue;
		if (recover(s, &s->ss[u], skd, lastx, lambda, &have) < 0)
			goto out;
		crypto_scalarmult_base(chk, skd);
		if (sodium_memcmp(chk, s->ro.d[u - 1].s, 32) != 0) {
			dml_error("the shares of device %u's mask key do not "
			    "match its public key (a wrong share)", u);
			goto out;
		}
		nn = secagg_neighbours(&s->ro.g, u, s->nb);
		for (uint32_t q = 0; q < nn; q++) {
			uint32_t v = s->nb[q];
			if (!(s->fl[v] & F_MASKED))
				continue;
			if (secagg_pair_key(keys + 32 * nt, s->ro.session, skd,
			    s->ro.d[v - 1].s) < 0)
				goto out;
			/* v added +PRG when v < u: take it off */
			signs[nt++] = v < u ? -1 : 1;
		}
	}
	acc = xmalloc(s->len * 4);
	memcpy(acc, s->ysum, s->len * 4);
	secagg_masks(acc, s->len, keys, signs, nt);
	r = rec_new("dml.aggregate");
	total = (double)acc[s->len - 1];
	json_object_set_new(r, "job", json_string(s->ro.job));
	json_object_set_new(r, "round", json_integer(s->round));
	json_object_set_new(r, "task", json_string(s->task));
	json_object_set_new(r, "n", json_integer((json_int_t)acc[s->len - 1]));
	json_object_set_new(r, "weight", json_real(total));
	json_object_set_new(r, "devices", json_integer((json_int_t)nsurv));
	json_object_set_new(r, "results", json_integer((json_int_t)nsurv));
	if (s->model)
		json_object_set_new(r, "model", json_string(s->model));
	sum = json_object();
	json_array_foreach(s->layout, j, e) {
		long long l = json_integer_value(json_object_get(e, "length"));
		double *x = xmalloc(((size_t)l + 1) * sizeof *x);
		int64_t shape[1] = {l};
		for (long long q = 0; q < l; q++)
			x[q] = ldexp((double)(int32_t)acc[off + (size_t)q],
			    -s->ro.frac);
		off += (size_t)l;
		json_object_set_new(sum, json_string_value(json_object_get(e,
		    "name")), tensor_to_json(DT_F64, 1, shape, x));
		free(x);
	}
	json_object_set_new(r, "sum", sum);
	mem = json_array();
	for (uint32_t v = 1; v <= n; v++)
		if (s->fl[v] & F_MASKED) {
			key_hex(s->ro.d[v - 1].pk, 32, hex);
			json_array_append_new(mem, json_string(hex));
		}
	json_object_set_new(r, "members", mem);
	rej = json_object();
	for (int q = 0; q < AGG_NREJECT; q++)
		json_object_set_new(rej, agg_reject_name[q], json_integer(0));
	json_object_set_new(r, "rejected", rej);
	json_object_set_new(r, "secagg", json_pack("{s:f,s:I,s:i,s:I,s:I,s:I}",
	    "clip", s->ro.clip, "dropped", (json_int_t)ndrop, "frac_bits",
	    s->ro.frac, "modulus_bits", (json_int_t)SECAGG_MODBITS,
	    "neighbours", (json_int_t)s->ro.k, "threshold",
	    (json_int_t)s->ro.t));
	rc = emit(s, o, r);
	r = NULL;
	if (rc == 0)
		json_object_set_new(s->st, "step", json_string("done"));
out:
	sodium_free(keys);
	free(signs);
	sodium_free(skd);
	free(acc);
out0:
	free(lastx);
	free(lambda);
	return rc;
}

int
secagg_node_feed(secagg_node *s, json_t *r, const rec_in *in)
{
	switch (s->step) {
	case SA_COLLECT_KEYS:
		return keys_feed(s, r, in);
	case SA_ROUTE_SHARES:
		return shares_feed(s, r, in);
	case SA_COLLECT_MASKED:
		return masked_feed(s, r, in);
	default:
		if (rec_check(in, r, NULL) < 0)
			return -1;
		return unmask_node_feed(s, r, in);
	}
}

int
secagg_node_finish(secagg_node *s, rec_out *o)
{
	switch (s->step) {
	case SA_COLLECT_KEYS:
		return keys_finish(s, o);
	case SA_ROUTE_SHARES:
		return shares_finish(s, o);
	case SA_COLLECT_MASKED:
		return masked_finish(s, o);
	default:
		return unmask_node_finish(s, o);
	}
}

int
secagg_node_save(secagg_node *s)
{
	return state_write(s->path, s->st);
}

/* ---- a step over input files ----------------------------------------- */

static int
run_feed(secagg_dev *d, secagg_node *s, json_t *r, const rec_in *in)
{
	return d ? secagg_dev_feed(d, r, in) : secagg_node_feed(s, r, in);
}

/* Every record of the files to the step; -1 at the first bad one (or
 * unreadable input) unless skip takes it. */
static int
run_inputs(secagg_dev *d, secagg_node *s, void (*skip)(const char *),
    int nfiles, char **files)
{
	json_t *r;
	int got = 0;

	for (int i = 0; got >= 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? files[i] : NULL);
		if (!in)
			return -1;
		while ((got = rec_next(in, &r)) > 0) {
			int bad = run_feed(d, s, r, in) < 0;
			json_decref(r);
			if (bad && skip)
				skip(dml_errmsg());
			else if (bad) {
				got = -1;
				break;
			}
		}
		rec_close(in);
	}
	return got < 0 ? -1 : 0;
}

int
secagg_run_files(secagg_dev *d, secagg_node *s, const char *out,
    void (*skip)(const char *), int nfiles, char **files)
{
	rec_out *o = NULL;
	json_t *r = NULL;

	if (run_inputs(d, s, skip, nfiles, files) < 0)
		return AGG_EREJECT;
	if (d && !(r = secagg_dev_finish(d)))
		return AGG_EREJECT;
	if (!(o = rec_out_open(out))) {
		json_decref(r);
		return AGG_ESYSTEM;
	}
	if (s && secagg_node_finish(s, o) < 0) {
		rec_out_abort(o);
		return AGG_EREJECT;
	}
	if (d && rec_out_write(o, r, NULL) < 0) {
		json_decref(r);
		rec_out_abort(o);
		return AGG_ESYSTEM;
	}
	json_decref(r);
	if ((d ? secagg_dev_save(d) : secagg_node_save(s)) < 0) {
		rec_out_abort(o);
		return AGG_ESYSTEM;
	}
	/* rec_out_commit frees o, whether it succeeds or not */
	return rec_out_commit(o) < 0 ? AGG_ESYSTEM : 0;
}
