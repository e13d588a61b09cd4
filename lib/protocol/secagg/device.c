/* secagg device: a device's four steps (advertise its keys, share its
 * secrets with its neighbours, mask its result, answer the unmask
 * request), each checking what the node sent before it answers. Not for:
 * keeping state between steps (devstate.c). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_private.h"
#include "shamir.h"
#include "tensor.h"
#include "util.h"

static void
derive(unsigned char out[32], const secagg_dev *d, const char *what,
    uint32_t ctr)
{
	unsigned char c[4];

	sa_put32(c, ctr);
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
	sa_commit_b(d->me.bc, sec + 32 * SEC_B);
	memcpy(d->me.pk, d->key->pk, 32);
	r = sa_keys_record(d->job, d->round, &d->me);
	return sa_signed_rec(r, d->key);
}

static int
share_feed(secagg_dev *d, json_t *r, const rec_in *in)
{
	struct sa_roster ro;
	uint32_t *h, m;
	unsigned char *bsh = NULL, *ssh = NULL, rngkey[32], pt[SHARE_PT],
		      ct[SHARE_CT], nonce[crypto_box_NONCEBYTES];
	json_t *out, *arr;
	int rc = -1;

	if (d->got_main)
		return rec_err(in, "a second roster");
	if (rec_check(in, r, "dml.secagg.roster") < 0 ||
	    node_signed(d, in, r) < 0 ||
	    sa_roster_parse(&ro, in, r, d->key->pk) < 0)
		return -1;
	if (strcmp(ro.job, d->job) != 0 || ro.round != d->round) {
		rec_err(in, "the roster is for another job or round than this "
		    "device's keys");
		goto out0;
	}
	if (!(d->index = sa_roster_index(&ro, d->key->pk))) {
		rec_err(in, "this device is not in the roster");
		goto out0;
	}
	{
		const struct sa_devkeys *e = &ro.d[d->index - 1];
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
	m = sa_holders(&ro, d->index, h);
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
	out = sa_round_rec("dml.secagg.shares", d->job, d->round, d->session);
	arr = json_array();
	for (uint32_t j = 0; j < m; j++) {
		if (h[j] == d->index) {
			memcpy(d->sec + 32 * SEC_OWNB, bsh + 32 * j, 32);
			memcpy(d->sec + 32 * SEC_OWNS, ssh + 32 * j, 32);
			continue;
		}
		sa_put32(pt, d->index);
		sa_put32(pt + 4, h[j]);
		memcpy(pt + 8, bsh + 32 * j, 32);
		memcpy(pt + 40, ssh + 32 * j, 32);
		sa_share_nonce(nonce, d->session, d->index, h[j]);
		if (crypto_box_easy(ct, pt, SHARE_PT, nonce,
		    ro.d[h[j] - 1].c, d->sec + 32 * SEC_CSK) != 0) {
			json_decref(arr);
			json_decref(out);
			dml_error("device %u's share key is unusable", h[j]);
			goto out;
		}
		json_array_append_new(arr, json_pack("{s:i,s:o}", "to",
		    (json_int_t)h[j], "ct", sa_b64_json(ct, sizeof ct)));
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
	sa_roster_free(&ro);
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
	    sa_check_round(in, r, d->job, d->round, d->session) < 0 ||
	    rec_get_int(in, r, "to", 1, SHAMIR_MAXX, &to) < 0 ||
	    sa_get_hex32(in, r, "key", pk) < 0)
		return -1;
	if ((uint32_t)to != d->index || memcmp(pk, d->key->pk, 32) != 0)
		return rec_err(in, "an inbox for another device (index %lld)",
		    to);
	if (sa_get_idx(in, r, "shared", d->n, &d->u2, &d->nu2) < 0)
		return -1;
	if (!sa_in_list(d->u2, d->nu2, d->index))
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
		    sa_get_b64(in, e, "ct", ct, sizeof ct) < 0)
			return -1;
		if ((sl = sa_nbr_slot(d, (uint32_t)from)) < 0)
			return rec_err(in, "a share from device %lld, which is "
			    "not a neighbour of this device", from);
		if (!sa_in_list(d->u2, d->nu2, (uint32_t)from))
			return rec_err(in, "a share from device %lld, which "
			    "is not listed as having shared", from);
		if (d->have_recv[sl])
			return rec_err(in, "two shares from device %lld", from);
		sa_share_nonce(nonce, d->session, (uint32_t)from, d->index);
		if (crypto_box_open_easy(pt, ct, sizeof ct, nonce,
		    d->nc + 32 * sl, d->sec + 32 * SEC_CSK) != 0)
			return rec_err(in, "the share from device %lld does not "
			    "open: it is not addressed to this device or was "
			    "altered", from);
		if (sa_get32(pt) != (uint32_t)from ||
		    sa_get32(pt + 4) != d->index) {
			sodium_memzero(pt, sizeof pt);
			return rec_err(in, "the share from device %lld names "
			    "other devices inside", from);
		}
		memcpy(d->recv + 64 * sl, pt + 8, 64);
		sodium_memzero(pt, sizeof pt);
		d->have_recv[sl] = 1;
	}
	for (uint32_t j = 0; j < d->nn; j++) {
		int sh = sa_in_list(d->u2, d->nu2, d->nbr[j]);
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
		if (!sa_in_list(d->u2, d->nu2, d->nbr[j]))
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
	r = sa_round_rec("dml.secagg.masked", d->job, d->round, d->session);
	json_object_set_new(r, "task", json_string(d->task));
	if (d->model)
		json_object_set_new(r, "model", json_string(d->model));
	json_object_set_new(r, "layout", json_incref(d->layout));
	json_object_set_new(r, "length", json_integer((json_int_t)d->len));
	json_object_set_new(r, "y", sa_b64_json(d->q, d->len * 4));
	return sa_signed_rec(r, d->key);
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
	    sa_check_round(in, r, d->job, d->round, d->session) < 0 ||
	    sa_get_idx(in, r, "survivors", d->n, &S, &ns) < 0 ||
	    sa_get_idx(in, r, "dropped", d->n, &D, &nd) < 0)
		goto out;
	for (i = 0; i < nd; i++)
		if (sa_in_list(S, ns, D[i])) {
			rec_err(in, "the request asks for both the self-mask "
			    "seed and the mask key of device %u: refused",
			    D[i]);
			goto out;
		}
	if (sa_in_list(D, nd, d->index)) {
		rec_err(in, "the request lists this device as dropped: "
		    "refused");
		goto out;
	}
	if (!sa_in_list(S, ns, d->index)) {
		rec_err(in, "the request does not list this device among the "
		    "survivors: refused");
		goto out;
	}
	for (i = j = 0; i < d->nu2; i++)
		if (!sa_in_list(S, ns, d->u2[i]) &&
		    !sa_in_list(D, nd, d->u2[i]))
			j++;
	if (j || ns + nd != d->nu2) {
		rec_err(in, "the request's survivors and dropped devices are "
		    "not the devices that shared: refused");
		goto out;
	}
	for (i = 0; i < d->nn; i++)
		live += sa_in_list(S, ns, d->nbr[i]);
	if (live < d->t) {
		rec_err(in, "threshold not met: %u of this device's %u share "
		    "holders survive, %u needed: refused", live, d->m, d->t);
		goto out;
	}
	out = sa_round_rec("dml.secagg.unmask", d->job, d->round, d->session);
	ba = json_array();
	sa = json_array();
	/* the neighbours' shares, then the device's own share of b */
	for (i = 0; i < d->nn; i++) {
		uint32_t v = d->nbr[i];
		int surv = sa_in_list(S, ns, v);
		json_t *e;
		if (!sa_in_list(d->u2, d->nu2, v))
			continue;
		e = json_object();
		json_object_set_new(e, "of", json_integer(v));
		sa_set_hex32(e, "share", d->recv + 64 * i + (surv ? 0 : 32));
		json_array_append_new(surv ? ba : sa, e);
	}
	{
		json_t *e = json_object();
		json_object_set_new(e, "of", json_integer(d->index));
		sa_set_hex32(e, "share", d->sec + 32 * SEC_OWNB);
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
	return sa_signed_rec(r, d->key);
}
