/* secagg unmask: the node's last step. It takes the devices' answers
 * (shares of the survivors' self-mask seeds and of the dropped devices'
 * mask keys), reconstructs each secret, checks it against the roster,
 * removes the masks from the sum and writes the dml.aggregate. Not for:
 * the steps before (node.c). */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_private.h"
#include "shamir.h"
#include "tensor.h"
#include "util.h"

static void
shareset_add(struct sa_shareset *ss, uint32_t cap, uint32_t x,
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

int
sa_unmask_feed(secagg_node *s, json_t *r, const rec_in *in)
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
	if (!(i = sa_device_of(s, r, in, "dml.secagg.unmask")))
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
			    sa_get_hex32(in, e, "share", sh[k]) < 0)
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

/* The Lagrange coefficients of the last holders a secret was
 * reconstructed from: most secrets of a round have the same first t
 * holders, so the coefficients are computed once. */
struct lagrange {
	uint32_t *x;		/* the holders, [t] */
	unsigned char *lambda;	/* their coefficients, t x 32 */
	int have;
};

/* Reconstruct a secret from the first t shares by holder index. */
static int
recover(secagg_node *s, struct sa_shareset *ss, unsigned char out[32],
    struct lagrange *lg)
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
	for (uint32_t a = 0; lg->have && a < t; a++)
		if (lg->x[a] != ss->x[ord[a]])
			lg->have = 0;
	if (!lg->have) {
		for (uint32_t a = 0; a < t; a++)
			lg->x[a] = ss->x[ord[a]];
		rc = shamir_lagrange(lg->x, (int)t, lg->lambda);
		lg->have = rc == 0;
	}
	if (rc == 0)
		rc = shamir_apply(lg->lambda, y, (int)t, out);
	sodium_memzero(y, 32 * (size_t)t);
	free(ord);
	free(y);
	return rc;
}

/* Every survivor's self-mask seed and every dropped device's mask key
 * must have t shares before any is reconstructed: the count of
 * survivors, of dropped devices and of the mask terms to take off, or -1
 * with dml_error. */
static int
unmask_count(secagg_node *s, size_t *nsurv, size_t *ndrop, size_t *nterms)
{
	*nsurv = *ndrop = *nterms = 0;
	for (uint32_t v = 1; v <= s->ro.n; v++) {
		struct sa_shareset *ss = s->fl[v] & F_MASKED ? &s->bs[v] :
		    s->fl[v] & F_DROPPED ? &s->ss[v] : NULL;
		if (!ss)
			continue;
		if (ss->count < s->ro.t)
			return dml_error("threshold not met: %u shares of device "
			    "%u's %s, %u needed; nothing is revealed", ss->count,
			    v, s->fl[v] & F_MASKED ? "self-mask seed" :
			    "mask key", s->ro.t);
		if (s->fl[v] & F_MASKED)
			(*nsurv)++;
		else {
			(*ndrop)++;
			*nterms += secagg_neighbours(&s->ro.g, v, s->nb);
		}
	}
	*nterms += *nsurv;
	return 0;
}

/* The survivors' self masks come off: each seed reconstructed into skd
 * (sodium memory) and checked against its commitment. */
static int
self_mask_keys(secagg_node *s, struct lagrange *lg, unsigned char *skd,
    unsigned char *keys, signed char *signs, size_t *nt)
{
	unsigned char chk[32];

	for (uint32_t v = 1; v <= s->ro.n; v++) {
		if (!(s->fl[v] & F_MASKED))
			continue;
		if (recover(s, &s->bs[v], skd, lg) < 0)
			return -1;
		sa_commit_b(chk, skd);
		if (sodium_memcmp(chk, s->ro.d[v - 1].bc, 32) != 0)
			return dml_error("the shares of device %u's self-mask seed "
			    "do not match its commitment (a wrong share)", v);
		secagg_self_key(keys + 32 * *nt, s->ro.session, skd);
		signs[(*nt)++] = -1;
	}
	return 0;
}

/* The dropped devices' pair masks with the survivors come off: each mask
 * key reconstructed into skd and checked against its public key. */
static int
pair_mask_keys(secagg_node *s, struct lagrange *lg, unsigned char *skd,
    unsigned char *keys, signed char *signs, size_t *nt)
{
	unsigned char chk[32];

	for (uint32_t u = 1; u <= s->ro.n; u++) {
		uint32_t nn;
		if (!(s->fl[u] & F_DROPPED))
			continue;
		if (recover(s, &s->ss[u], skd, lg) < 0)
			return -1;
		crypto_scalarmult_base(chk, skd);
		if (sodium_memcmp(chk, s->ro.d[u - 1].s, 32) != 0)
			return dml_error("the shares of device %u's mask key do not "
			    "match its public key (a wrong share)", u);
		nn = secagg_neighbours(&s->ro.g, u, s->nb);
		for (uint32_t q = 0; q < nn; q++) {
			uint32_t v = s->nb[q];
			if (!(s->fl[v] & F_MASKED))
				continue;
			if (secagg_pair_key(keys + 32 * *nt, s->ro.session, skd,
			    s->ro.d[v - 1].s) < 0)
				return -1;
			/* v added +PRG when v < u: take it off */
			signs[(*nt)++] = v < u ? -1 : 1;
		}
	}
	return 0;
}

/* The sum's tensors, by the layout, from the unmasked fixed-point sum. */
static json_t *
sum_json(const secagg_node *s, const uint32_t *acc)
{
	json_t *sum = json_object(), *e;
	size_t j, off = 0;

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
	return sum;
}

/* The round's dml.aggregate (unsigned) from the unmasked sum acc, whose
 * last element is the sample count. */
static json_t *
aggregate_record(const secagg_node *s, const uint32_t *acc, size_t nsurv,
    size_t ndrop)
{
	json_t *r = rec_new("dml.aggregate"), *mem, *rej;
	double total = (double)acc[s->len - 1];
	char hex[65];

	json_object_set_new(r, "job", json_string(s->ro.job));
	json_object_set_new(r, "round", json_integer(s->round));
	json_object_set_new(r, "task", json_string(s->task));
	json_object_set_new(r, "n", json_integer((json_int_t)acc[s->len - 1]));
	json_object_set_new(r, "weight", json_real(total));
	json_object_set_new(r, "devices", json_integer((json_int_t)nsurv));
	json_object_set_new(r, "results", json_integer((json_int_t)nsurv));
	if (s->model)
		json_object_set_new(r, "model", json_string(s->model));
	json_object_set_new(r, "sum", sum_json(s, acc));
	mem = json_array();
	for (uint32_t v = 1; v <= s->ro.n; v++)
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
	return r;
}

int
sa_unmask_finish(secagg_node *s, rec_out *o)
{
	struct lagrange lg = {xmalloc(s->ro.t * sizeof *lg.x),
	    xmalloc(32 * (size_t)s->ro.t), 0};
	unsigned char *skd = NULL, *keys = NULL;
	signed char *signs = NULL;
	size_t nt = 0, nterms, ndrop, nsurv;
	uint32_t *acc = NULL;
	int rc = -1;

	if (unmask_count(s, &nsurv, &ndrop, &nterms) < 0)
		goto out;
	keys = sodium_allocarray(nterms + 1, 32);
	skd = sodium_malloc(32);
	if (!keys || !skd) {
		dml_error("out of secure memory");
		goto out;
	}
	signs = xmalloc(nterms + 1);
	if (self_mask_keys(s, &lg, skd, keys, signs, &nt) < 0 ||
	    pair_mask_keys(s, &lg, skd, keys, signs, &nt) < 0)
		goto out;
	acc = xmalloc(s->len * 4);
	memcpy(acc, s->ysum, s->len * 4);
	secagg_masks(acc, s->len, keys, signs, nt);
	rc = sa_emit(s, o, aggregate_record(s, acc, nsurv, ndrop));
	if (rc == 0)
		json_object_set_new(s->st, "step", json_string("done"));
out:
	if (keys)
		sodium_free(keys);
	if (skd)
		sodium_free(skd);
	free(signs);
	free(acc);
	free(lg.x);
	free(lg.lambda);
	return rc;
}
