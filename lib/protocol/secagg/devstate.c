/* secagg device state: what a device keeps between its steps (its
 * secrets, the roster's view of its neighbours, the shares it received),
 * in a state file of mode 0600 and in sodium memory, wiped when freed; the
 * file is deleted once the device has answered the unmask request. Not
 * for: the steps themselves (device.c). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secagg_private.h"
#include "shamir.h"
#include "util.h"

/* the state file's names of the secrets and of the step done last */
static const char *const secname[SEC_N] = {"c_sk", "s_sk", "b", "seed",
	"own_b", "own_s"};
static const char *const donename[] = {"advertised", "shared", "masked"};

size_t
secagg_dev_clipped(const secagg_dev *d)
{
	return d->clipped;
}

/* Overwrite the secrets a device's state holds, then free it. */
static void
wipe_state(json_t *st)
{
	json_t *e;
	size_t i;

	for (int j = 0; j < SEC_N; j++)
		sa_wipe_field(st, secname[j]);
	json_array_foreach(json_object_get(st, "recv"), i, e) {
		sa_wipe_field(e, "b");
		sa_wipe_field(e, "s");
	}
	json_decref(st);
}

int
sa_nbr_slot(const secagg_dev *d, uint32_t v)
{
	uint32_t *p = bsearch(&v, d->nbr, d->nn, sizeof v, sa_cmp_u32);
	return p ? (int)(p - d->nbr) : -1;
}

static int
dev_load(secagg_dev *d)
{
	json_t *st = sa_state_read(d->path, "dml.secagg.state"), *a, *e;
	const char *s, *step;
	unsigned char pk[32];
	long long v;
	size_t i;
	int rc = -1;

	if (!st)
		return -1;
#define SF(x) do { if ((x) < 0) goto out; } while (0)
	SF(rec_get_str(NULL, st, "step", &step));
	SF(sa_get_hex32(NULL, st, "key", pk));
	if (memcmp(pk, d->key->pk, 32) != 0) {
		dml_error("%s: the state of another device's key", d->path);
		goto out;
	}
	SF(rec_get_str(NULL, st, "job", &s));
	d->job = xstrdup(s);
	SF(rec_get_int(NULL, st, "round", 0, 1LL << 53, &d->round));
	SF(sa_get_hex32(NULL, st, "c", d->me.c));
	SF(sa_get_hex32(NULL, st, "s", d->me.s));
	SF(sa_get_hex32(NULL, st, "bc", d->me.bc));
	memcpy(d->me.pk, d->key->pk, 32);
	for (int j = 0; j < SEC_N; j++) {
		if (!json_object_get(st, secname[j]))
			continue;
		SF(sa_get_hex32(NULL, st, secname[j], d->sec + 32 * j));
		if (j == SEC_SEED)
			d->have_seed = 1;
	}
	if (strcmp(step, donename[d->step - 1]) != 0) {
		dml_error("%s: the state is at step \"%s\": the %s step comes "
		    "after \"%s\"", d->path, step, sa_dstep_name[d->step],
		    donename[d->step - 1]);
		goto out;
	}
	if (d->step >= SA_MASK) {
		long long n, t, k, f;
		SF(sa_get_hex32(NULL, st, "session", d->session));
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
			SF(sa_get_hex32(NULL, e, "c", d->nc + 32 * i));
			SF(sa_get_hex32(NULL, e, "s", d->ns + 32 * i));
		}
		d->shared = 1;
	}
	if (d->step == SA_UNMASK) {
		if (!(d->recv = sodium_malloc(64 * ((size_t)d->nn + 1)))) {
			dml_error("out of secure memory");
			goto out;
		}
		d->have_recv = xcalloc(d->nn + 1, 1);
		SF(sa_get_idx(NULL, st, "shared", d->n, &d->u2, &d->nu2));
		if (!(a = rec_get_arr(NULL, st, "recv")))
			goto out;
		json_array_foreach(a, i, e) {
			int sl;
			SF(rec_get_int(NULL, e, "i", 1, SHAMIR_MAXX, &v));
			if ((sl = sa_nbr_slot(d, (uint32_t)v)) < 0) {
				dml_error("%s: a share from a non-neighbour",
				    d->path);
				goto out;
			}
			SF(sa_get_hex32(NULL, e, "b", d->recv + 64 * sl));
			SF(sa_get_hex32(NULL, e, "s", d->recv + 64 * sl + 32));
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
		if (sa_state_absent(state) < 0)
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
	sa_set_hex32(st, "c", d->me.c);
	sa_set_hex32(st, "s", d->me.s);
	sa_set_hex32(st, "bc", d->me.bc);
	for (int j = 0; j < SEC_N; j++) {
		if (j == SEC_SEED && !d->have_seed)
			continue;
		if ((j == SEC_OWNB || j == SEC_OWNS) && d->step < SA_SHARE)
			continue;
		sa_set_hex32(st, secname[j], d->sec + 32 * j);
	}
	if (d->step >= SA_SHARE) {
		sa_set_hex32(st, "session", d->session);
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
			sa_set_hex32(e, "c", d->nc + 32 * j);
			sa_set_hex32(e, "s", d->ns + 32 * j);
			json_array_append_new(a, e);
		}
		json_object_set_new(st, "nbrs", a);
	}
	if (d->step >= SA_MASK) {
		json_object_set_new(st, "shared", sa_idx_json(d->u2, d->nu2));
		a = json_array();
		for (uint32_t j = 0; j < d->nn; j++) {
			json_t *e;
			if (!d->have_recv[j])
				continue;
			e = json_object();
			json_object_set_new(e, "i", json_integer(d->nbr[j]));
			sa_set_hex32(e, "b", d->recv + 64 * j);
			sa_set_hex32(e, "s", d->recv + 64 * j + 32);
			json_array_append_new(a, e);
		}
		json_object_set_new(st, "recv", a);
	}
	rc = sa_state_write(d->path, st);
	wipe_state(st);
	return rc;
}
