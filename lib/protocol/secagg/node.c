/* secagg node: the federated node's first three steps (collect the keys
 * into the roster, route the shares, collect the masked inputs into one
 * sum) and its state between steps. Not for: the last step, which
 * reconstructs the masks and writes the aggregate (unmask.c). */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secagg_private.h"
#include "shamir.h"
#include "util.h"

/* The shares are secrets until the round is done: wiped. */
static void
shareset_free(struct sa_shareset *ss)
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

	if (sa_get_idx(NULL, s->st, key, s->ro.n, &x, &nx) < 0)
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

	if (!(s->st = sa_state_read(s->path, "dml.secagg.node")))
		return -1;
	if (rec_get_str(NULL, s->st, "step", &step) < 0)
		return dml_error_prefix("state %s", s->path);
	if (strcmp(step, want[s->step - 1]) != 0)
		return dml_error("%s: the round is at step \"%s\": %s comes "
		    "after \"%s\"", s->path, step, sa_nstep_name[s->step],
		    want[s->step - 1]);
	if (!(ro = json_object_get(s->st, "roster")) ||
	    sa_roster_parse(&s->ro, NULL, ro, NULL) < 0)
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
		if (sa_get_b64(NULL, s->st, "ysum", s->ysum, s->len * 4) < 0)
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
		if (sa_state_absent(state) < 0) {
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
		sa_roster_free(&s->ro);
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
uint32_t
sa_device_of(secagg_node *s, const json_t *r, const rec_in *in,
    const char *type)
{
	unsigned char who[32];
	uint32_t i;
	char hex[65];

	if (rec_check(in, r, type) < 0 || rec_verify(r, in, who) < 0)
		return 0;
	if (!(i = sa_roster_index(&s->ro, who))) {
		key_hex(who, 32, hex);
		return rec_err(in, "device %.16s... is not in the round's "
		    "roster", hex), 0;
	}
	if (sa_check_round(in, r, s->ro.job, s->round, s->ro.session) < 0)
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
	    sa_get_hex32(in, r, "c", c) < 0 ||
	    sa_get_hex32(in, r, "s", sk) < 0 ||
	    sa_get_hex32(in, r, "bc", bc) < 0)
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

int
sa_emit(secagg_node *s, rec_out *o, json_t *r)
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
	if (sa_check_threshold(t, k + 1) < 0)
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
	if (sa_roster_session(r, session) < 0) {
		json_decref(r);
		return -1;
	}
	sa_set_hex32(r, "session", session);
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
	uint32_t i = sa_device_of(s, r, in, "dml.secagg.shares"), nn;
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
		m = sa_holders(&s->ro, u, s->nb);
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
	return sa_round_rec(type, s->ro.job, s->round, s->ro.session);
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
		if (sa_emit(s, o, r) < 0) {
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
	uint32_t i = sa_device_of(s, r, in, "dml.secagg.masked"), *y;
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
	if (sa_b64_field(in, r, "y", (size_t)len * 4, &ys, &yl) < 0)
		return -1;
	y = xmalloc((size_t)len * 4);
	if (sa_get_b64(in, r, "y", y, (size_t)len * 4) < 0) {
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
	if (sa_emit(s, o, r) < 0)
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
	json_object_set_new(s->st, "ysum", sa_b64_json(s->ysum, s->len * 4));
	return 0;
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
		return sa_unmask_feed(s, r, in);
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
		return sa_unmask_finish(s, o);
	}
}

int
secagg_node_save(secagg_node *s)
{
	return sa_state_write(s->path, s->st);
}
