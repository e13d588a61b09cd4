/* settle: payout lists from a job's terms and its contributions. */
#include "settle.h"
#include "sign.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *node_names[SETTLE_NODES] = {"distributing", "federated",
    "report", "refining"};

/* Every role a payout may carry, as the static strings payouts point at. */
static const char *roles[] = {"developer", "distributing", "federated",
    "report", "refining", "trainer", "device", "owner", "extra"};
enum { R_DEVELOPER, R_NODE0, R_TRAINER = 5, R_DEVICE, R_N = 9 };

const char *
settle_node_name(enum settle_node r)
{
	return node_names[r];
}

const char *
settle_role(const char *s)
{
	for (int i = 0; i < R_N; i++)
		if (strcmp(s, roles[i]) == 0)
			return roles[i];
	return NULL;
}

/* ---- payout lists ------------------------------------------------------- */

void
settle_list_init(settle_list *l)
{
	memset(l, 0, sizeof *l);
	mpz_init(l->total);
}

void
settle_list_clear(settle_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		mpz_clear(l->v[i].amount);
	free(l->v);
	mpz_clear(l->total);
	memset(l, 0, sizeof *l);
}

void
settle_list_add(settle_list *l, const char *to, const char *role,
    const mpz_t amount)
{
	settle_payout *p;

	if (mpz_sgn(amount) <= 0)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	p = &l->v[l->n++];
	memcpy(p->to, to, 64);
	p->to[64] = 0;
	p->role = role;
	mpz_init_set(p->amount, amount);
	mpz_add(l->total, l->total, amount);
}

static int
payout_cmp(const void *a, const void *b)
{
	const settle_payout *x = a, *y = b;
	int c = memcmp(x->to, y->to, 64);
	return c ? c : strcmp(x->role, y->role);
}

void
settle_list_sort(settle_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, payout_cmp);
}

json_t *
settle_list_json(const settle_list *l)
{
	json_t *a = json_array();
	char small[32], *s;

	for (size_t i = 0; i < l->n; i++) {
		const settle_payout *p = &l->v[i];
		json_t *o = json_object();
		/* most amounts are small: avoid an allocation for them */
		if (mpz_sizeinbase(p->amount, 10) + 2 <= sizeof small)
			s = mpz_get_str(small, 10, p->amount);
		else
			s = mpz_get_str(NULL, 10, p->amount);
		json_object_set_new(o, "amount", json_string(s));
		if (s != small)
			free(s);
		json_object_set_new(o, "role", json_string(p->role));
		json_object_set_new(o, "to", json_stringn(p->to, 64));
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- terms -------------------------------------------------------------- */

void
settle_terms_init(settle_terms *t)
{
	mpz_inits(t->per_device, t->developer_fee, t->trainer_pool, NULL);
	for (int i = 0; i < SETTLE_NODES; i++)
		mpz_init(t->node_fee[i]);
	t->min_devices = 0;
	t->developer[0] = 0;
}

void
settle_terms_clear(settle_terms *t)
{
	mpz_clears(t->per_device, t->developer_fee, t->trainer_pool, NULL);
	for (int i = 0; i < SETTLE_NODES; i++)
		mpz_clear(t->node_fee[i]);
}

static int
get_amount(const json_t *o, const char *key, mpz_t out, int optional)
{
	const char *s;

	if (optional && !json_object_get(o, key)) {
		mpz_set_ui(out, 0);
		return 0;
	}
	if (rec_get_amount(NULL, o, key, &s) < 0)
		return -1;
	mpz_set_str(out, s, 10);
	return 0;
}

int
settle_terms_from_job(settle_terms *t, const dml_job *j)
{
	json_t *rw = json_object_get(j->rec, "reward"), *nf;

	if (!rw || !(nf = json_object_get(rw, "node_fees")))
		return dml_error("job %s: no reward terms", j->id);
	if (get_amount(rw, "per_device", t->per_device, 0) < 0 ||
	    get_amount(rw, "developer_fee", t->developer_fee, 0) < 0 ||
	    get_amount(rw, "trainer_pool", t->trainer_pool, 1) < 0)
		return dml_error_prefix("job %s: reward", j->id);
	for (int i = 0; i < SETTLE_NODES; i++)
		if (get_amount(nf, node_names[i], t->node_fee[i], 0) < 0)
			return dml_error_prefix("job %s: reward.node_fees",
			    j->id);
	t->min_devices = j->min_devices;
	if (j->has_developer)
		key_hex(j->developer, 32, t->developer);
	else
		t->developer[0] = 0;
	return 0;
}

/* ---- contributions ------------------------------------------------------ */

static int
key_ok(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int
hex_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 64);
}

/* A key list: an array of hex strings, or (one_ok) a single string. */
static int
parse_keys(const rec_in *in, const json_t *v, const char *what, int one_ok,
    char (**out)[65], size_t *n)
{
	size_t i, m;
	json_t *x;
	char (*k)[65];

	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (one_ok && json_is_string(v)) {
		if (!key_ok(json_string_value(v)))
			return rec_err(in, "\"%s\" is not a public key (64 "
			    "lowercase hex digits)", what);
		*out = xmalloc(sizeof **out);
		memcpy((*out)[0], json_string_value(v), 65);
		*n = 1;
		return 0;
	}
	if (!json_is_array(v))
		return rec_err(in, "field \"%s\" must be an array of keys", what);
	m = json_array_size(v);
	k = xmalloc((m ? m : 1) * sizeof *k);
	json_array_foreach(v, i, x) {
		if (!json_is_string(x) || !key_ok(json_string_value(x))) {
			free(k);
			return rec_err(in, "\"%s\"[%zu] is not a public key (64 "
			    "lowercase hex digits)", what, i);
		}
		memcpy(k[i], json_string_value(x), 65);
	}
	qsort(k, m, sizeof *k, hex_cmp);
	for (i = 1; i < m; i++)
		if (memcmp(k[i - 1], k[i], 64) == 0) {
			rec_err(in, "\"%s\": key %.16s... appears twice", what,
			    k[i]);
			free(k);
			return -1;
		}
	*out = k;
	*n = m;
	return 0;
}

struct keyed {
	char key[65];
	const json_t *obj;
};

static int
keyed_cmp(const void *a, const void *b)
{
	return memcmp(((const struct keyed *)a)->key,
	    ((const struct keyed *)b)->key, 64);
}

/* An array of objects with a "key": sorted copies, duplicates refused. */
static struct keyed *
parse_keyed(const rec_in *in, const json_t *v, const char *what, size_t *n)
{
	size_t i, m;
	json_t *x, *k;
	struct keyed *out;

	*n = 0;
	if (!json_is_array(v))
		return rec_err(in, "field \"%s\" must be an array", what), NULL;
	m = json_array_size(v);
	out = xmalloc((m ? m : 1) * sizeof *out);
	json_array_foreach(v, i, x) {
		if (!json_is_object(x) || !(k = json_object_get(x, "key")) ||
		    !json_is_string(k) || !key_ok(json_string_value(k))) {
			free(out);
			return rec_err(in, "\"%s\"[%zu] needs a \"key\" (64 "
			    "lowercase hex digits)", what, i), NULL;
		}
		memcpy(out[i].key, json_string_value(k), 65);
		out[i].obj = x;
	}
	qsort(out, m, sizeof *out, keyed_cmp);
	for (i = 1; i < m; i++)
		if (memcmp(out[i - 1].key, out[i].key, 64) == 0) {
			rec_err(in, "\"%s\": key %.16s... appears twice", what,
			    out[i].key);
			free(out);
			return NULL;
		}
	*n = m;
	return out;
}

static int
parse_federated(const rec_in *in, const json_t *v, settle_contrib *c)
{
	struct keyed *k;
	size_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!(k = parse_keyed(in, v, "nodes.federated", &n)))
		return -1;
	c->nodes[SETTLE_FEDERATED] = xmalloc((n ? n : 1) * sizeof(char[65]));
	c->fed_devices = xmalloc((n ? n : 1) * sizeof *c->fed_devices);
	for (size_t i = 0; i < n; i++) {
		long long d;
		if (rec_get_int(NULL, k[i].obj, "devices", 0, 1LL << 53, &d) < 0) {
			rec_err(in, "\"nodes.federated\" %.16s...: %s", k[i].key,
			    dml_errmsg());
			free(k);
			return -1;
		}
		memcpy(c->nodes[SETTLE_FEDERATED][i], k[i].key, 65);
		c->fed_devices[i] = (unsigned long long)d;
	}
	c->nnodes[SETTLE_FEDERATED] = n;
	free(k);
	return 0;
}

static int
parse_trainers(const rec_in *in, const json_t *v, settle_contrib *c)
{
	struct keyed *k;
	size_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!(k = parse_keyed(in, v, "trainers", &n)))
		return -1;
	c->trainers = xcalloc(n ? n : 1, sizeof *c->trainers);
	for (size_t i = 0; i < n; i++) {
		json_t *w = json_object_get(k[i].obj, "weight");
		settle_trainer *t = &c->trainers[i];

		memcpy(t->key, k[i].key, 65);
		mpq_init(t->weight);
		c->ntrainers = i + 1;
		if (!json_is_number(w) || !isfinite(json_number_value(w)) ||
		    json_number_value(w) < 0) {
			rec_err(in, "\"trainers\" %.16s...: \"weight\" must be a "
			    "non-negative number", t->key);
			free(k);
			return -1;
		}
		if (json_is_integer(w))
			mpq_set_si(t->weight, (long)json_integer_value(w), 1);
		else
			mpq_set_d(t->weight, json_real_value(w));
	}
	free(k);
	return 0;
}

int
settle_contrib_parse(const rec_in *in, const json_t *r, settle_contrib *c)
{
	const char *s;
	json_t *nodes, *v;
	unsigned char pk[32];
	cid id;

	memset(c, 0, sizeof *c);
	if (rec_check(in, r, "dml.contributions") < 0 ||
	    rec_get_str(in, r, "job", &s) < 0)
		goto fail;
	if (strlen(s) >= CID_MAXSTR || cid_parse(&id, s) < 0) {
		rec_err(in, "field \"job\" is not a job id (CID)");
		goto fail;
	}
	strcpy(c->job, s);
	if (!(v = rec_get_arr(in, r, "devices")) ||
	    parse_keys(in, v, "devices", 0, &c->devices, &c->ndevices) < 0)
		goto fail;
	nodes = json_object_get(r, "nodes");
	if (nodes && !json_is_null(nodes)) {
		if (!json_is_object(nodes)) {
			rec_err(in, "field \"nodes\" must be an object");
			goto fail;
		}
		for (int i = 0; i < SETTLE_NODES; i++) {
			char what[32];
			v = json_object_get(nodes, node_names[i]);
			snprintf(what, sizeof what, "nodes.%s", node_names[i]);
			if (i == SETTLE_FEDERATED) {
				if (parse_federated(in, v, c) < 0)
					goto fail;
			} else if (parse_keys(in, v, what, i == SETTLE_REPORT,
			    &c->nodes[i], &c->nnodes[i]) < 0)
				goto fail;
		}
	}
	if (rec_opt_str(in, r, "developer", &s) < 0)
		goto fail;
	if (json_object_get(r, "developer")) {
		if (!key_ok(s)) {
			rec_err(in, "field \"developer\" is not a public key "
			    "(64 lowercase hex digits)");
			goto fail;
		}
		strcpy(c->developer, s);
	}
	if (parse_trainers(in, json_object_get(r, "trainers"), c) < 0)
		goto fail;
	if (rec_verify(r, in, pk) < 0)
		goto fail;
	key_hex(pk, 32, c->from);
	if (c->nnodes[SETTLE_REPORT]) {
		size_t i;
		for (i = 0; i < c->nnodes[SETTLE_REPORT]; i++)
			if (strcmp(c->nodes[SETTLE_REPORT][i], c->from) == 0)
				break;
		if (i == c->nnodes[SETTLE_REPORT]) {
			rec_err(in, "the contributions are signed by %.16s..., "
			    "not by the report node", c->from);
			goto fail;
		}
	}
	return 0;
fail:
	settle_contrib_clear(c);
	return -1;
}

void
settle_contrib_clear(settle_contrib *c)
{
	free(c->devices);
	for (int i = 0; i < SETTLE_NODES; i++)
		free(c->nodes[i]);
	free(c->fed_devices);
	for (size_t i = 0; i < c->ntrainers; i++)
		mpq_clear(c->trainers[i].weight);
	free(c->trainers);
	memset(c, 0, sizeof *c);
}

/* ---- the formula -------------------------------------------------------- */

/* allot = min(fee, left); left -= allot */
static void
allot_from(mpz_t allot, const mpz_t fee, mpz_t left)
{
	if (mpz_cmp(fee, left) < 0)
		mpz_set(allot, fee);
	else
		mpz_set(allot, left);
	mpz_sub(left, left, allot);
}

static void
pay_nodes(settle_list *out, const settle_contrib *c, int role,
    const mpz_t allot)
{
	size_t k = c->nnodes[role];
	mpz_t share, w;

	if (k == 0)
		return;
	mpz_inits(share, w, NULL);
	if (role == SETTLE_FEDERATED) {
		for (size_t i = 0; i < k; i++)
			mpz_add_ui(w, w, c->fed_devices[i]);
	}
	for (size_t i = 0; i < k; i++) {
		if (mpz_sgn(w) > 0) {
			/* in proportion to the devices each one aggregated */
			mpz_mul_ui(share, allot, c->fed_devices[i]);
			mpz_fdiv_q(share, share, w);
		} else
			mpz_fdiv_q_ui(share, allot, k);
		settle_list_add(out, c->nodes[role][i], roles[R_NODE0 + role],
		    share);
	}
	mpz_clears(share, w, NULL);
}

static void
pay_trainers(settle_list *out, const settle_contrib *c, const mpz_t allot)
{
	mpq_t w, x;
	mpz_t share;

	if (c->ntrainers == 0)
		return;
	mpq_inits(w, x, NULL);
	mpz_init(share);
	for (size_t i = 0; i < c->ntrainers; i++)
		mpq_add(w, w, c->trainers[i].weight);
	if (mpq_sgn(w) > 0)
		for (size_t i = 0; i < c->ntrainers; i++) {
			mpq_set_z(x, allot);
			mpq_mul(x, x, c->trainers[i].weight);
			mpq_div(x, x, w);
			mpz_fdiv_q(share, mpq_numref(x), mpq_denref(x));
			settle_list_add(out, c->trainers[i].key,
			    roles[R_TRAINER], share);
		}
	mpq_clears(w, x, NULL);
	mpz_clear(share);
}

int
settle_compute(const settle_terms *t, const settle_contrib *c,
    const mpz_t escrow, settle_list *out, mpz_t refund)
{
	mpz_t left, allot;

	if ((long long)c->ndevices < t->min_devices)
		return dml_error("%zu devices contributed; the job pays only "
		    "when at least %lld do", c->ndevices, t->min_devices);
	if (mpz_sgn(escrow) < 0)
		return dml_error("negative escrow");
	mpz_init_set(left, escrow);
	mpz_init(allot);

	/* the developer the customer signed for comes first */
	allot_from(allot, t->developer_fee, left);
	if (t->developer[0])
		settle_list_add(out, t->developer, roles[R_DEVELOPER], allot);
	else if (c->developer[0])
		settle_list_add(out, c->developer, roles[R_DEVELOPER], allot);
	for (int r = 0; r < SETTLE_NODES; r++) {
		allot_from(allot, t->node_fee[r], left);
		pay_nodes(out, c, r, allot);
	}
	allot_from(allot, t->trainer_pool, left);
	pay_trainers(out, c, allot);
	if (c->ndevices) {
		/* each device: per_device, or its floor share of what is left */
		mpz_fdiv_q_ui(allot, left, c->ndevices);
		if (mpz_cmp(t->per_device, allot) < 0)
			mpz_set(allot, t->per_device);
		for (size_t i = 0; i < c->ndevices; i++)
			settle_list_add(out, c->devices[i], roles[R_DEVICE],
			    allot);
	}
	settle_list_sort(out);
	mpz_sub(refund, escrow, out->total);
	mpz_clears(left, allot, NULL);
	if (mpz_sgn(refund) < 0)	/* cannot happen: every step is bounded */
		return dml_error("internal: payouts exceed the escrow");
	return 0;
}

json_t *
settle_amount_json(const mpz_t x)
{
	char *s = mpz_get_str(NULL, 10, x);
	json_t *j = json_string(s);
	free(s);
	return j;
}

json_t *
settle_record(const char *job, const char *report, const char *customer,
    const mpz_t escrow, const settle_list *l, const mpz_t refund,
    size_t devices)
{
	json_t *r = rec_new("dml.payouts"), *tot = json_object();
	mpz_t sum[R_N];

	for (int i = 0; i < R_N; i++)
		mpz_init(sum[i]);
	for (size_t i = 0; i < l->n; i++)
		for (int k = 0; k < R_N; k++)
			if (l->v[i].role == roles[k])
				mpz_add(sum[k], sum[k], l->v[i].amount);
	for (int k = 0; k <= R_DEVICE; k++)
		json_object_set_new(tot, roles[k], settle_amount_json(sum[k]));
	for (int i = 0; i < R_N; i++)
		mpz_clear(sum[i]);
	json_object_set_new(r, "job", json_string(job));
	json_object_set_new(r, "report", json_string(report));
	json_object_set_new(r, "customer", json_string(customer));
	json_object_set_new(r, "escrow", settle_amount_json(escrow));
	json_object_set_new(r, "paid", settle_amount_json(l->total));
	json_object_set_new(r, "refund", settle_amount_json(refund));
	json_object_set_new(r, "devices", json_integer((json_int_t)devices));
	json_object_set_new(r, "payouts", settle_list_json(l));
	json_object_set_new(r, "totals", tot);
	return r;
}

/* ---- the inputs of a settlement ----------------------------------------- */

/* The one record of a file, detached from its reader (for positions). */
static int
one_record(const char *path, rec_in **inp, json_t **out)
{
	rec_in *in = rec_open(path);
	json_t *r, *extra;
	int rc;

	if (!in)
		return SETTLE_ESYS;
	rc = rec_next(in, &r);
	if (rc == 0)
		dml_error("%s: empty input: no record", path);
	if (rc <= 0)
		goto bad;
	if (rec_detach(in, r) < 0)
		goto bad_r;
	rc = rec_next(in, &extra);
	if (rc > 0) {
		dml_error("%s:%ld: more than one record", path, rec_line(in));
		json_decref(extra);
	}
	if (rc != 0)
		goto bad_r;
	*inp = in;
	*out = r;
	return 0;
bad_r:
	json_decref(r);
bad:
	rec_close(in);
	return SETTLE_REJECT;
}

int
settle_load_stored(const char *path, char out[CID_MAXSTR])
{
	rec_in *in;
	json_t *r;
	const char *s;
	cid c;
	int rc;

	if ((rc = one_record(path, &in, &r)) < 0)
		return rc;
	rc = SETTLE_REJECT;
	if (rec_check(in, r, "dml.stored") < 0 ||
	    rec_get_str(in, r, "cid", &s) < 0)
		goto out;
	if (strlen(s) >= CID_MAXSTR || cid_parse(&c, s) < 0) {
		dml_error("%s:1: field \"cid\" is not a CID", path);
		goto out;
	}
	strcpy(out, s);
	rc = 0;
out:
	json_decref(r);
	rec_close(in);
	return rc;
}

int
settle_load_contrib(const char *path, const char *job, settle_contrib *c,
    char id[CID_MAXSTR])
{
	rec_in *in;
	json_t *r;
	size_t n;
	char *line = NULL;
	int rc;

	if ((rc = one_record(path, &in, &r)) < 0)
		return rc;
	rc = SETTLE_REJECT;
	if (settle_contrib_parse(in, r, c) < 0)
		goto out;
	if (strcmp(c->job, job) != 0) {
		dml_error("%s:1: the contributions are for job %s, not %s", path,
		    c->job, job);
		settle_contrib_clear(c);
		goto out;
	}
	rc = SETTLE_ESYS;
	if (!(line = canon_dump(r, NULL, NULL, &n)))
		goto clear;
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	if (cid_of_bytes(line, n + 1, id) < 0)
		goto clear;
	rc = 0;
	goto out;
clear:
	settle_contrib_clear(c);
out:
	free(line);
	json_decref(r);
	rec_close(in);
	return rc;
}
