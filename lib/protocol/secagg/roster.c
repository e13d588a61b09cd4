/* secagg roster: the node's signed list of the round's devices and their
 * keys, its parameters and the session (the hash of it all); whom a
 * device's shares go to. Not for: making the roster (node.c). */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_private.h"
#include "shamir.h"
#include "util.h"

void
sa_roster_free(struct sa_roster *ro)
{
	free(ro->job);
	free(ro->d);
	secagg_graph_free(&ro->g);
	memset(ro, 0, sizeof *ro);
}

/* BLAKE2b-256 of the roster's canonical form without session, from and
 * sig: every key and parameter of the round. */
int
sa_roster_session(const json_t *r, unsigned char out[32])
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
	sa_hash3(out, "dml-secagg-session-v1", (unsigned char *)s, n, NULL, 0);
	free(s);
	return 0;
}

json_t *
sa_keys_record(const char *job, long long round, const struct sa_devkeys *d)
{
	json_t *r = rec_new("dml.secagg.keys");

	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "round", json_integer(round));
	sa_set_hex32(r, "c", d->c);
	sa_set_hex32(r, "s", d->s);
	sa_set_hex32(r, "bc", d->bc);
	return r;
}

uint32_t
sa_roster_index(const struct sa_roster *ro, const unsigned char pk[32])
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

int
sa_check_threshold(uint32_t t, uint32_t m)
{
	if (t > m || 2 * t <= m)
		return dml_error("threshold %u: with %u share holders it must "
		    "be above %u and at most %u", t, m, m / 2, m);
	return 0;
}


/* Device j's signature on its keys, as the roster carries it. */
static int
roster_check_sig(const struct sa_roster *ro, const rec_in *in, json_t *devs,
    uint32_t j)
{
	json_t *kr = sa_keys_record(ro->job, ro->round, &ro->d[j - 1]);
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
int
sa_roster_parse(struct sa_roster *ro, const rec_in *in, const json_t *r,
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
	    sa_get_hex32(in, r, "session", ro->session) < 0 ||
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
		struct sa_devkeys *d = &ro->d[i];
		if (sa_get_hex32(in, e, "key", d->pk) < 0 ||
		    sa_get_hex32(in, e, "c", d->c) < 0 ||
		    sa_get_hex32(in, e, "s", d->s) < 0 ||
		    sa_get_hex32(in, e, "bc", d->bc) < 0)
			goto bad;
		if (i && memcmp(ro->d[i - 1].pk, d->pk, 32) >= 0) {
			rec_err(in, "roster devices must be sorted by key, "
			    "without repeats (at %zu)", i);
			goto bad;
		}
	}
	if (sa_roster_session(r, s) < 0 || memcmp(s, ro->session, 32) != 0) {
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
	if (sa_check_threshold(ro->t, ro->k + 1) < 0) {
		rec_err(in, "%s", dml_errmsg());
		goto bad;
	}
	if (me) {
		uint32_t mi = sa_roster_index(ro, me), *h, m;
		if (!mi)
			return 0;	/* the caller says so */
		h = xmalloc((ro->k + 1) * sizeof *h);
		m = sa_holders(ro, mi, h);
		for (uint32_t j = 0; j < m; j++)
			if (roster_check_sig(ro, in, devs, h[j]) < 0) {
				free(h);
				goto bad;
			}
		free(h);
	}
	return 0;
bad:
	sa_roster_free(ro);
	return -1;
}

/* The holders of i's shares: its neighbours and itself, ascending. */
uint32_t
sa_holders(const struct sa_roster *ro, uint32_t i, uint32_t *out)
{
	uint32_t c = secagg_neighbours(&ro->g, i, out);

	out[c++] = i;
	qsort(out, c, sizeof *out, sa_cmp_u32);
	return c;
}

void
sa_share_nonce(unsigned char nonce[crypto_box_NONCEBYTES],
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
