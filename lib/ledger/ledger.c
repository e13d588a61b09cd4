/* ledger: the hash-chained, signed, append-only ledger file and the state
 * machine that replays it. */
#include "ledger.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASHLEN 32

enum op { OP_GENESIS, OP_TRANSFER, OP_ESCROW, OP_SETTLE, OP_REFUND,
	OP_BOUNTY, OP_EMIT, OP_N };
static const char *op_names[OP_N] = {"genesis", "transfer", "escrow",
    "settle", "refund", "bounty", "emit"};

/* ---- a string-keyed hash map of structs whose first member is the key --- */

struct map {
	void **v;
	size_t cap, n;		/* cap: a power of two, or 0 */
};

static unsigned char map_key[crypto_shorthash_KEYBYTES];
static int map_keyed;

static uint64_t
map_hash(const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t x;

	if (!map_keyed) {
		/* a keyed hash: account names come from other people */
		randombytes_buf(map_key, sizeof map_key);
		map_keyed = 1;
	}
	crypto_shorthash(h, (const unsigned char *)s, strlen(s), map_key);
	memcpy(&x, h, sizeof x);
	return x;
}

#define MAP_KEY(p) (*(char *const *)(p))

static size_t
map_slot(const struct map *m, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	while (m->v[i] && strcmp(MAP_KEY(m->v[i]), key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void *
map_get(const struct map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	return m->v[map_slot(m, key, map_hash(key))];
}

static void
map_put(struct map *m, void *v)
{
	if ((m->n + 1) * 10 > m->cap * 7) {
		struct map g = {NULL, m->cap ? m->cap * 2 : 64, 0};
		g.v = xcalloc(g.cap, sizeof *g.v);
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i])
				g.v[map_slot(&g, MAP_KEY(m->v[i]),
				    map_hash(MAP_KEY(m->v[i])))] = m->v[i];
		g.n = m->n;
		free(m->v);
		*m = g;
	}
	m->v[map_slot(m, MAP_KEY(v), map_hash(MAP_KEY(v)))] = v;
	m->n++;
}

/* ---- state -------------------------------------------------------------- */

struct acct {
	char *name;
	mpz_t bal;
};

struct escrow {
	char *job;
	char customer[65];
	mpz_t amount;
	long long deadline, seq;
	enum ledger_escrow_state state;
};

/* A license named by an escrow: the first job it was used for, and
 * whether an escrow named it single-use. */
struct license_use {
	char *license;
	char job[CID_MAXSTR];
	long long seq;
	int single;
};

struct credit {
	const char *to;
	mpz_t amt;
};

struct ledger {
	char *path;
	int fd, flags, broken;
	struct map accts, escrows, licenses;
	long long seq, last_time, last_epoch;
	unsigned char head[HASHLEN];
	char authority[65];
	mpz_t supply, growth0;
	off_t size, torn;
	char *lastline;
	size_t lastlen;
	/* scratch for checking an entry: its credits */
	struct credit *cr;
	size_t ncr, crcap;
};

/* What an entry will do, worked out before anything changes. */
struct pending {
	enum op op;
	long long seq, time;
	const char *debit;		/* NULL: none (genesis) */
	mpz_t damt;
	char escrow_acct[CID_MAXSTR + 8];
	struct escrow *esc;		/* settle, refund: the job's escrow */
	const char *job, *customer;	/* escrow */
	const char *license;		/* escrow: the license it names */
	int single;			/* ... as a single-use license */
	long long deadline, epoch;
	const char *from;
	mpz_t supply, growth;		/* genesis */
};

ledger *
ledger_new(void)
{
	ledger *l = xcalloc(1, sizeof *l);

	if (sodium_init() < 0) {
		free(l);
		return dml_error("libsodium failed to start"), NULL;
	}
	l->fd = -1;
	l->last_time = -1;
	l->last_epoch = -1;
	mpz_inits(l->supply, l->growth0, NULL);
	return l;
}

/* Free a map and, with fn, each of its values. */
static void
map_clear(struct map *m, void (*fn)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i])
			fn(m->v[i]);
	free(m->v);
}

static void
acct_free(void *p)
{
	struct acct *a = p;

	free(a->name);
	mpz_clear(a->bal);
	free(a);
}

static void
escrow_free(void *p)
{
	struct escrow *e = p;

	free(e->job);
	mpz_clear(e->amount);
	free(e);
}

static void
license_use_free(void *p)
{
	free(*(char **)p);	/* the key: the license */
	free(p);
}

void
ledger_close(ledger *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);	/* releases the lock */
	map_clear(&l->accts, acct_free);
	map_clear(&l->escrows, escrow_free);
	map_clear(&l->licenses, license_use_free);
	for (size_t i = 0; i < l->crcap; i++)
		mpz_clear(l->cr[i].amt);
	free(l->cr);
	mpz_clears(l->supply, l->growth0, NULL);
	free(l->lastline);
	free(l->path);
	free(l);
}

char *
ledger_default_path(void)
{
	const char *e = getenv("DML_LEDGER"), *home = getenv("HOME");

	if (e && *e)
		return xstrdup(e);
	return xasprintf("%s/.dml/ledger.ndjson", home && *home ? home : ".");
}

/* ---- small checks ------------------------------------------------------- */

static int
key_ok(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int
ledger_account_ok(const char *s)
{
	cid c;

	if (key_ok(s) || strcmp(s, LEDGER_GROWTH) == 0 ||
	    strcmp(s, LEDGER_BOUNTY) == 0)
		return 1;
	return strncmp(s, LEDGER_ESCROW_PREFIX, 7) == 0 &&
	    strlen(s + 7) < CID_MAXSTR && cid_parse(&c, s + 7) == 0;
}

static void
hash_line(const char *p, size_t n, unsigned char h[HASHLEN])
{
	crypto_generichash(h, HASHLEN, (const unsigned char *)p, n, NULL, 0);
}

static int
get_amount(const json_t *e, const char *key, mpz_t out)
{
	const char *s;

	if (rec_get_amount(NULL, e, key, &s) < 0)
		return -1;
	mpz_set_str(out, s, 10);
	return 0;
}

static int
get_positive(const json_t *e, const char *key, mpz_t out)
{
	if (get_amount(e, key, out) < 0)
		return -1;
	if (mpz_sgn(out) == 0)
		return dml_error("field \"%s\" must be more than 0", key);
	return 0;
}

static int
get_key(const json_t *e, const char *key, const char **out)
{
	if (rec_get_str(NULL, e, key, out) < 0)
		return -1;
	if (!key_ok(*out))
		return dml_error("field \"%s\" is not a public key (64 "
		    "lowercase hex digits)", key);
	return 0;
}

static int
get_cid(const json_t *e, const char *key, const char **out)
{
	cid c;

	if (rec_get_str(NULL, e, key, out) < 0)
		return -1;
	if (strlen(*out) >= CID_MAXSTR || cid_parse(&c, *out) < 0)
		return dml_error("field \"%s\" is not a CID", key);
	return 0;
}

static struct acct *
acct_get(const ledger *l, const char *name)
{
	return map_get(&l->accts, name);
}

void
ledger_balance(const ledger *l, const char *account, mpz_t out)
{
	struct acct *a = acct_get(l, account);

	if (a)
		mpz_set(out, a->bal);
	else
		mpz_set_ui(out, 0);
}

static struct acct *
acct_make(ledger *l, const char *name)
{
	struct acct *a = acct_get(l, name);

	if (!a) {
		a = xmalloc(sizeof *a);
		a->name = xstrdup(name);
		mpz_init(a->bal);
		map_put(&l->accts, a);
	}
	return a;
}

static mpz_ptr
credit_add(ledger *l, const char *to)
{
	if (l->ncr == l->crcap) {
		size_t c = l->crcap ? l->crcap * 2 : 16;
		l->cr = xrealloc(l->cr, c * sizeof *l->cr);
		for (size_t i = l->crcap; i < c; i++)
			mpz_init(l->cr[i].amt);
		l->crcap = c;
	}
	l->cr[l->ncr].to = to;
	return l->cr[l->ncr++].amt;
}

static int
debit_check(const ledger *l, const char *acct, const mpz_t amt)
{
	struct acct *a = acct_get(l, acct);

	if (mpz_cmp_ui(amt, 0) == 0)
		return 0;
	if (!a || mpz_cmp(a->bal, amt) < 0) {
		char *have = a ? mpz_get_str(NULL, 10, a->bal) : xstrdup("0"),
		     *need = mpz_get_str(NULL, 10, amt);
		dml_error("insufficient funds: %.72s has %s, needs %s", acct,
		    have, need);
		free(have);
		free(need);
		return -1;
	}
	return 0;
}

/* ---- emission ----------------------------------------------------------- */

void
ledger_emission(const mpz_t p0, long long epoch, mpz_t out)
{
	/* (63/64)^k < 2^-(k * 0.0227): past the pool's bit length it is 0 */
	if (epoch < 0 || (double)epoch * 0.0227 > (double)mpz_sizeinbase(p0,
	    2) + 2) {
		mpz_set_ui(out, 0);
		return;
	}
	mpz_ui_pow_ui(out, LEDGER_EMIT_NUM, (unsigned long)epoch);
	mpz_mul(out, out, p0);
	mpz_fdiv_q_2exp(out, out, 6 * ((mp_bitcnt_t)epoch + 1));
}

void
ledger_emit_payouts(const unsigned char prev[32], long long epoch,
    const mpz_t amount, char (*owners)[65], size_t n, settle_list *out)
{
	const char *owner = settle_role("owner"), *extra = settle_role("extra");
	size_t k = n < LEDGER_DRAWS ? n : LEDGER_DRAWS, drawn[LEDGER_DRAWS];
	mpz_t base, share, xpool, xshare, x, idx;

	if (n == 0)
		return;
	mpz_inits(base, share, xpool, xshare, x, idx, NULL);
	mpz_mul_ui(base, amount, 9);
	mpz_fdiv_q_ui(base, base, 10);
	mpz_fdiv_q_ui(share, base, n);
	mpz_sub(xpool, amount, base);
	mpz_fdiv_q_ui(xshare, xpool, k);
	for (size_t i = 0; i < k; i++) {
		/* BLAKE2b-256(prev || epoch as 8 bytes BE || i as 4 bytes BE) */
		unsigned char m[HASHLEN + 12], h[HASHLEN];
		memcpy(m, prev, HASHLEN);
		for (int b = 0; b < 8; b++)
			m[HASHLEN + b] = (unsigned char)((unsigned long long)epoch >>
			    (56 - 8 * b));
		for (int b = 0; b < 4; b++)
			m[HASHLEN + 8 + b] = (unsigned char)(i >> (24 - 8 * b));
		crypto_generichash(h, HASHLEN, m, sizeof m, NULL, 0);
		mpz_import(idx, HASHLEN, 1, 1, 1, 0, h);
		drawn[i] = mpz_fdiv_ui(idx, n);
	}
	for (size_t j = 0; j < n; j++) {
		unsigned long c = 0;
		for (size_t i = 0; i < k; i++)
			c += drawn[i] == j;
		mpz_mul_ui(x, xshare, c);
		settle_list_add(out, owners[j], extra, x);
		settle_list_add(out, owners[j], owner, share);
	}
	settle_list_sort(out);
	mpz_clears(base, share, xpool, xshare, x, idx, NULL);
}

static int
hex_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 64);
}

int
ledger_read_owners(const char *path, char (**out)[65], size_t *n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char (*v)[65] = NULL, *line = NULL;
	size_t cap = 0, lcap = 0;
	ssize_t len;
	long ln = 0;
	int rc = LEDGER_REJECT;

	if (!f)
		return dml_error_sys("%s", path), LEDGER_ESYS;
	*n = 0;
	while ((len = getline(&line, &lcap, f)) > 0) {
		ln++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == ' ' ||
		    line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		if (len != 64 || strspn(line, "0123456789abcdef") != 64) {
			dml_error("%s:%ld: not a public key (64 lowercase hex "
			    "digits)", path, ln);
			goto out;
		}
		if (*n == cap)
			v = xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
		memcpy(v[(*n)++], line, 65);
	}
	if (ferror(f)) {
		dml_error("%s: read error", path);
		rc = LEDGER_ESYS;
		goto out;
	}
	if (*n == 0) {
		dml_error("%s: no owners", path);
		goto out;
	}
	qsort(v, *n, sizeof *v, hex_cmp);
	for (size_t i = 1; i < *n; i++)
		if (memcmp(v[i - 1], v[i], 64) == 0) {
			dml_error("%s: owner %.16s... is named twice", path, v[i]);
			goto out;
		}
	*out = v;
	v = NULL;
	rc = 0;
out:
	free(v);
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* ---- checking an entry against the state -------------------------------- */

static int
check_genesis(ledger *l, const json_t *e, struct pending *p)
{
	json_t *alloc = json_object_get(e, "alloc"), *x;
	mpz_t b, sum;
	const char *prev = NULL;
	size_t i;
	int rc = -1;

	if (p->seq != 0)
		return dml_error("genesis: the ledger already has a genesis");
	mpz_inits(b, sum, NULL);
	if (get_amount(e, "supply", p->supply) < 0 ||
	    get_amount(e, "growth_pool", p->growth) < 0 ||
	    get_amount(e, "bounty_pool", b) < 0)
		goto out;
	mpz_set(credit_add(l, LEDGER_GROWTH), p->growth);
	mpz_set(credit_add(l, LEDGER_BOUNTY), b);
	mpz_add(sum, p->growth, b);
	if (alloc && !json_is_array(alloc)) {
		dml_error("field \"alloc\" must be an array");
		goto out;
	}
	json_array_foreach(alloc, i, x) {
		const char *to;
		mpz_ptr a;
		if (!json_is_object(x) || get_key(x, "to", &to) < 0) {
			dml_error("\"alloc\"[%zu] needs \"to\", a public key", i);
			goto out;
		}
		if (prev && strcmp(prev, to) >= 0) {
			dml_error("\"alloc\" must be sorted by \"to\", each key "
			    "once");
			goto out;
		}
		prev = to;
		a = credit_add(l, to);
		if (get_positive(x, "amount", a) < 0) {
			dml_error_prefix("\"alloc\"[%zu]", i);
			goto out;
		}
		mpz_add(sum, sum, a);
	}
	if (mpz_cmp(sum, p->supply) > 0) {
		dml_error("genesis: the pools and allocations exceed the supply");
		goto out;
	}
	mpz_sub(credit_add(l, p->from), p->supply, sum);
	rc = 0;
out:
	mpz_clears(b, sum, NULL);
	return rc;
}

static int
check_transfer(ledger *l, const json_t *e, struct pending *p)
{
	const char *to;

	if (get_key(e, "to", &to) < 0 || get_positive(e, "amount", p->damt) < 0)
		return -1;
	p->debit = p->from;
	mpz_set(credit_add(l, to), p->damt);
	return 0;
}

/* The license an escrow names, if any: {"id": CID, "kind": single or
 * subscription}. A single-use license escrows one job only: an escrow
 * naming a license named before is refused when either names it
 * single-use (a job cannot dodge the rule by calling its license a
 * subscription; dml-market verify --job compares the kinds). */
static int
escrow_license(ledger *l, const json_t *e, struct pending *p)
{
	json_t *x = json_object_get(e, "license");
	const char *kind;
	struct license_use *u;

	p->license = NULL;
	if (!x)
		return 0;
	if (!json_is_object(x) || get_cid(x, "id", &p->license) < 0 ||
	    rec_get_str(NULL, x, "kind", &kind) < 0 ||
	    (strcmp(kind, "single") != 0 && strcmp(kind, "subscription") != 0))
		return dml_error("escrow: field \"license\" needs \"id\" (a "
		    "CID) and \"kind\" (single or subscription)");
	p->single = strcmp(kind, "single") == 0;
	if ((u = map_get(&l->licenses, p->license)) && (u->single || p->single))
		return dml_error("escrow: single-use license %s is already "
		    "used by job %s (entry %lld)", p->license, u->job, u->seq);
	return 0;
}

static int
check_escrow(ledger *l, const json_t *e, struct pending *p)
{
	const char *dl;

	if (get_cid(e, "job", &p->job) < 0 ||
	    get_amount(e, "amount", p->damt) < 0 ||
	    get_key(e, "customer", &p->customer) < 0 ||
	    rec_get_str(NULL, e, "deadline", &dl) < 0)
		return -1;
	if (timefmt_parse(dl, &p->deadline) < 0)
		return dml_error_prefix("field \"deadline\"");
	if (strcmp(p->customer, p->from) != 0)
		return dml_error("escrow: must be submitted by the job's "
		    "customer");
	if (map_get(&l->escrows, p->job))
		return dml_error("escrow: job %s already has an escrow", p->job);
	if (escrow_license(l, e, p) < 0)
		return -1;
	if (p->time >= p->deadline)
		return dml_error("escrow: the job's deadline %s has passed", dl);
	p->debit = p->from;
	snprintf(p->escrow_acct, sizeof p->escrow_acct, "%s%s",
	    LEDGER_ESCROW_PREFIX, p->job);
	mpz_set(credit_add(l, p->escrow_acct), p->damt);
	return 0;
}

/* The job's escrow, which must still be open. */
static int
open_escrow(ledger *l, const json_t *e, struct pending *p, const char *what)
{
	static const char *state[] = {"open", "settled", "refunded"};

	if (get_cid(e, "job", &p->job) < 0)
		return -1;
	p->esc = map_get(&l->escrows, p->job);
	if (!p->esc)
		return dml_error("%s: job %s has no escrow", what, p->job);
	if (p->esc->state != ESCROW_OPEN)
		return dml_error("%s: job %s is already %s", what, p->job,
		    state[p->esc->state]);
	snprintf(p->escrow_acct, sizeof p->escrow_acct, "%s%s",
	    LEDGER_ESCROW_PREFIX, p->job);
	p->debit = p->escrow_acct;
	mpz_set(p->damt, p->esc->amount);
	return 0;
}

static int
check_settle(ledger *l, const json_t *e, struct pending *p)
{
	json_t *pay, *x;
	const char *s, *cust, *pto = NULL, *prole = NULL;
	mpz_t sum;
	mpz_ptr r;
	size_t i;
	int rc = -1;

	if (open_escrow(l, e, p, "settle") < 0 || get_cid(e, "report", &s) < 0 ||
	    get_key(e, "customer", &cust) < 0)
		return -1;
	if (json_object_get(e, "contributions") &&
	    get_cid(e, "contributions", &s) < 0)
		return -1;
	if (strcmp(cust, p->esc->customer) != 0)
		return dml_error("settle: \"customer\" is not the customer of "
		    "the escrow");
	if (!(pay = rec_get_arr(NULL, e, "payouts")))
		return -1;
	mpz_init(sum);
	json_array_foreach(pay, i, x) {
		const char *to, *role, *rs;
		mpz_ptr a;
		if (!json_is_object(x) || get_key(x, "to", &to) < 0 ||
		    rec_get_str(NULL, x, "role", &rs) < 0) {
			dml_error_prefix("\"payouts\"[%zu]", i);
			goto out;
		}
		role = settle_role(rs);
		if (!role || strcmp(role, "owner") == 0 ||
		    strcmp(role, "extra") == 0) {
			dml_error("\"payouts\"[%zu]: unknown role \"%.32s\"", i,
			    rs);
			goto out;
		}
		if (pto) {
			int c = strcmp(pto, to);
			if (c > 0 || (c == 0 && strcmp(prole, role) >= 0)) {
				dml_error("\"payouts\" must be sorted by \"to\" "
				    "and \"role\", each pair once (at %zu)", i);
				goto out;
			}
		}
		pto = to;
		prole = role;
		a = credit_add(l, to);
		if (get_positive(x, "amount", a) < 0) {
			dml_error_prefix("\"payouts\"[%zu]", i);
			goto out;
		}
		mpz_add(sum, sum, a);
	}
	r = credit_add(l, p->esc->customer);
	if (get_amount(e, "refund", r) < 0)
		goto out;
	mpz_add(sum, sum, r);
	if (mpz_cmp(sum, p->damt) != 0) {
		char *a = mpz_get_str(NULL, 10, sum),
		     *b = mpz_get_str(NULL, 10, p->damt);
		dml_error("settle: payouts and refund add up to %s, the escrow "
		    "is %s", a, b);
		free(a);
		free(b);
		goto out;
	}
	rc = 0;
out:
	mpz_clear(sum);
	return rc;
}

static int
check_refund(ledger *l, const json_t *e, struct pending *p)
{
	mpz_t a;
	char dl[32];
	int same;

	if (open_escrow(l, e, p, "refund") < 0)
		return -1;
	if (strcmp(p->from, p->esc->customer) != 0)
		return dml_error("refund: only the job's customer may ask for "
		    "the refund");
	if (p->time < p->esc->deadline) {
		timefmt_format(p->esc->deadline, dl);
		return dml_error("refund: the job's deadline %s has not come",
		    dl);
	}
	mpz_init(a);
	same = get_amount(e, "amount", a) == 0 && mpz_cmp(a, p->damt) == 0;
	mpz_clear(a);
	if (!same)
		return dml_error("refund: \"amount\" must be the whole escrow");
	mpz_set(credit_add(l, p->esc->customer), p->damt);
	return 0;
}

static int
check_bounty(ledger *l, const json_t *e, struct pending *p)
{
	const char *to, *reason;

	if (strcmp(p->from, l->authority) != 0)
		return dml_error("bounty: only the ledger's authority pays "
		    "bounties");
	if (get_key(e, "to", &to) < 0 || get_positive(e, "amount", p->damt) < 0 ||
	    rec_opt_str(NULL, e, "reason", &reason) < 0)
		return -1;
	p->debit = LEDGER_BOUNTY;
	mpz_set(credit_add(l, to), p->damt);
	return 0;
}

static int
check_emit(ledger *l, const json_t *e, struct pending *p)
{
	json_t *ow, *pay, *x;
	char (*owners)[65] = NULL;
	settle_list want;
	mpz_t amount, a;
	size_t i, n;
	int rc = -1;

	if (strcmp(p->from, l->authority) != 0)
		return dml_error("emit: only the ledger's authority runs "
		    "emissions");
	if (rec_get_int(NULL, e, "epoch", 0, LEDGER_MAX_EPOCH, &p->epoch) < 0)
		return -1;
	if (p->epoch <= l->last_epoch)
		return dml_error("emit: epoch %lld is not after epoch %lld",
		    p->epoch, l->last_epoch);
	if (!(ow = rec_get_arr(NULL, e, "owners")) ||
	    !(pay = rec_get_arr(NULL, e, "payouts")))
		return -1;
	n = json_array_size(ow);
	if (n == 0)
		return dml_error("emit: no owners");
	mpz_inits(amount, a, NULL);
	settle_list_init(&want);
	owners = xmalloc(n * sizeof *owners);
	json_array_foreach(ow, i, x) {
		if (!json_is_string(x) || !key_ok(json_string_value(x))) {
			dml_error("\"owners\"[%zu] is not a public key", i);
			goto out;
		}
		memcpy(owners[i], json_string_value(x), 65);
		if (i && strcmp(owners[i - 1], owners[i]) >= 0) {
			dml_error("\"owners\" must be sorted, each key once "
			    "(at %zu)", i);
			goto out;
		}
	}
	ledger_emission(l->growth0, p->epoch, amount);
	if (mpz_sgn(amount) == 0) {
		dml_error("emit: epoch %lld emits nothing", p->epoch);
		goto out;
	}
	if (get_amount(e, "amount", a) < 0)
		goto out;
	if (mpz_cmp(a, amount) != 0) {
		dml_error("emit: \"amount\" is not the emission of epoch %lld",
		    p->epoch);
		goto out;
	}
	ledger_emit_payouts(l->head, p->epoch, amount, owners, n, &want);
	if (want.n == 0) {
		dml_error("emit: epoch %lld's amount pays none of %zu owners a "
		    "whole token", p->epoch, n);
		goto out;
	}
	if (json_array_size(pay) != want.n) {
		dml_error("emit: \"payouts\" are not the epoch's payouts");
		goto out;
	}
	json_array_foreach(pay, i, x) {
		const char *to, *role;
		mpz_ptr c;
		if (!json_is_object(x) || rec_get_str(NULL, x, "to", &to) < 0 ||
		    rec_get_str(NULL, x, "role", &role) < 0)
			goto bad;
		c = credit_add(l, to);
		if (get_amount(x, "amount", c) < 0 ||
		    strcmp(to, want.v[i].to) != 0 ||
		    strcmp(role, want.v[i].role) != 0 ||
		    mpz_cmp(c, want.v[i].amount) != 0)
			goto bad;
	}
	p->debit = LEDGER_GROWTH;
	mpz_set(p->damt, want.total);
	rc = 0;
	goto out;
bad:
	dml_error("emit: \"payouts\"[%zu] is not the epoch's payout", i);
out:
	free(owners);
	settle_list_clear(&want);
	mpz_clears(amount, a, NULL);
	return rc;
}

static int (*const checks[OP_N])(ledger *, const json_t *, struct pending *) = {
	check_genesis, check_transfer, check_escrow, check_settle,
	check_refund, check_bounty, check_emit};

/* Work out what entry e does to the state, changing nothing. */
static int
check(ledger *l, const json_t *e, struct pending *p)
{
	const char *s, *t;
	char head[65];
	int i;

	l->ncr = 0;
	p->debit = NULL;
	p->esc = NULL;
	if (rec_check(NULL, e, "dml.ledger") < 0 ||
	    rec_get_int(NULL, e, "seq", 0, LLONG_MAX, &p->seq) < 0 ||
	    rec_get_str(NULL, e, "prev", &s) < 0 ||
	    rec_get_str(NULL, e, "time", &t) < 0 ||
	    rec_get_str(NULL, e, "op", &s) < 0 ||
	    get_key(e, "from", &p->from) < 0)
		return -1;
	if (p->seq != l->seq)
		return dml_error("\"seq\" is %lld, the next entry is %lld",
		    p->seq, l->seq);
	key_hex(l->head, HASHLEN, head);
	if (strcmp(json_string_value(json_object_get(e, "prev")), head) != 0)
		return dml_error("\"prev\" is not the hash of the entry before "
		    "(the chain is broken)");
	if (timefmt_parse(t, &p->time) < 0)
		return dml_error_prefix("field \"time\"");
	if (p->time < l->last_time)
		return dml_error("time %s is before the previous entry's", t);
	for (i = 0; i < OP_N && strcmp(s, op_names[i]) != 0; i++)
		;
	if (i == OP_N)
		return dml_error("unknown op \"%.32s\"", s);
	p->op = (enum op)i;
	if (p->op != OP_GENESIS && l->seq == 0)
		return dml_error("%s: the ledger has no genesis", s);
	if (checks[p->op](l, e, p) < 0)
		return -1;
	if (p->debit) {
		/* conservation: what an entry pays out it takes from one
		 * account */
		mpz_t sum;
		int bad;
		mpz_init(sum);
		for (size_t k = 0; k < l->ncr; k++)
			mpz_add(sum, sum, l->cr[k].amt);
		bad = mpz_cmp(sum, p->damt) != 0;
		mpz_clear(sum);
		if (bad)
			return dml_error("%s: credits do not equal the debit", s);
		if (debit_check(l, p->debit, p->damt) < 0)
			return dml_error_prefix("%s", s);
	}
	return 0;
}

static void
commit(ledger *l, struct pending *p, const unsigned char hash[HASHLEN])
{
	if (p->debit && mpz_sgn(p->damt) > 0) {
		struct acct *a = acct_get(l, p->debit);
		mpz_sub(a->bal, a->bal, p->damt);
	}
	for (size_t i = 0; i < l->ncr; i++) {
		struct acct *a = acct_make(l, l->cr[i].to);
		mpz_add(a->bal, a->bal, l->cr[i].amt);
	}
	switch (p->op) {
	case OP_GENESIS:
		memcpy(l->authority, p->from, 65);
		mpz_set(l->supply, p->supply);
		mpz_set(l->growth0, p->growth);
		break;
	case OP_ESCROW: {
		struct escrow *x = xcalloc(1, sizeof *x);
		x->job = xstrdup(p->job);
		memcpy(x->customer, p->customer, 65);
		mpz_init_set(x->amount, p->damt);
		x->deadline = p->deadline;
		x->seq = p->seq;
		x->state = ESCROW_OPEN;
		map_put(&l->escrows, x);
		if (p->license && !map_get(&l->licenses, p->license)) {
			struct license_use *u = xcalloc(1, sizeof *u);
			u->license = xstrdup(p->license);
			snprintf(u->job, sizeof u->job, "%s", p->job);
			u->seq = p->seq;
			u->single = p->single;
			map_put(&l->licenses, u);
		}
		break;
	}
	case OP_SETTLE: p->esc->state = ESCROW_SETTLED; break;
	case OP_REFUND: p->esc->state = ESCROW_REFUNDED; break;
	case OP_EMIT: l->last_epoch = p->epoch; break;
	default: break;
	}
	l->seq++;
	l->last_time = p->time;
	memcpy(l->head, hash, HASHLEN);
}

static void
pending_init(struct pending *p)
{
	memset(p, 0, sizeof *p);
	mpz_inits(p->damt, p->supply, p->growth, NULL);
}

static void
pending_clear(struct pending *p)
{
	mpz_clears(p->damt, p->supply, p->growth, NULL);
}

/* ---- the file ----------------------------------------------------------- */

static int
sys_error(const char *path, const char *what)
{
	dml_error_sys("%s%s%s", path, what ? ": " : "", what ? what : "");
	return LEDGER_ESYS;
}

/* Append line + newline with one write(), then make it durable. On failure
 * the file is cut back to where it was. */
static int
append_line(ledger *l, char *line, size_t n)
{
	ssize_t w;

	line[n] = '\n';
	w = write(l->fd, line, n + 1);
	line[n] = 0;
	if (w != (ssize_t)(n + 1) || fdatasync(l->fd) < 0) {
		int e = w < 0 ? errno : w != (ssize_t)(n + 1) ? ENOSPC : errno;
		if (ftruncate(l->fd, l->size) == 0)
			(void)fsync(l->fd);
		l->broken = 1;
		errno = e;
		return sys_error(l->path, "append");
	}
	return 0;
}

/* Check, append (file ledgers) and apply an entry whose line is known. */
static int
add_entry(ledger *l, const json_t *e, char *line, size_t n)
{
	struct pending p;
	unsigned char h[HASHLEN];
	int rc;

	if (l->broken)
		return dml_error("%s: an earlier append failed; reopen the "
		    "ledger", l->path ? l->path : "ledger"), LEDGER_ESYS;
	pending_init(&p);
	if (check(l, e, &p) < 0) {
		pending_clear(&p);
		return LEDGER_REJECT;
	}
	if (l->fd >= 0 && (rc = append_line(l, line, n)) < 0) {
		pending_clear(&p);
		return rc;
	}
	hash_line(line, n, h);
	commit(l, &p, h);
	pending_clear(&p);
	l->size += (off_t)n + 1;
	free(l->lastline);
	l->lastline = line;
	l->lastlen = n;
	return 0;
}

static char *
entry_line(const json_t *e, size_t *n)
{
	char *s = canon_dump(e, NULL, NULL, n);

	if (s)
		s = xrealloc(s, *n + 2);	/* room for the newline */
	return s;
}

int
ledger_submit(ledger *l, json_t *body, const dml_key *k, const char *when)
{
	char head[65], now[32], *line;
	long long t;
	size_t n;
	int rc;

	if (!when) {
		timefmt_format((long long)time(NULL), now);
		when = now;
	}
	if (timefmt_parse(when, &t) < 0)
		return LEDGER_REJECT;
	key_hex(l->head, HASHLEN, head);
	json_object_set_new(body, "type", json_string("dml.ledger"));
	json_object_set_new(body, "v", json_integer(DML_RECORD_V));
	json_object_set_new(body, "seq", json_integer(l->seq));
	json_object_set_new(body, "prev", json_string(head));
	json_object_set_new(body, "time", json_string(when));
	if (rec_sign(body, k) < 0 || !(line = entry_line(body, &n)))
		return LEDGER_ESYS;
	rc = add_entry(l, body, line, n);
	if (rc < 0)
		free(line);
	return rc;
}

int
ledger_apply(ledger *l, const json_t *entry)
{
	char *line;
	size_t n;
	int rc;

	if (rec_verify(entry, NULL, NULL) < 0)
		return LEDGER_REJECT;
	if (!(line = entry_line(entry, &n)))
		return LEDGER_REJECT;
	rc = add_entry(l, entry, line, n);
	if (rc < 0)
		free(line);
	return rc;
}

/* ---- opening and replaying ---------------------------------------------- */

/* Complete lines of [0, end) of a file, read in large blocks. */
struct lines {
	int fd;
	off_t off, end;
	char *buf;
	size_t cap, start, len, scanned;
};

/* 1: *p, *n hold the next line (without its newline); 0: no more complete
 * lines; -1: read error. */
static int
next_line(struct lines *r, char **p, size_t *n)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start + r->scanned, '\n',
		    r->len - r->scanned);
		size_t want;
		ssize_t k;

		if (nl) {
			*p = r->buf + r->start;
			*n = (size_t)(nl - *p);
			r->start += *n + 1;
			r->len -= *n + 1;
			r->scanned = 0;
			return 1;
		}
		r->scanned = r->len;
		if (r->off >= r->end)
			return 0;
		memmove(r->buf, r->buf + r->start, r->len);
		r->start = 0;
		if (r->len == r->cap)
			r->buf = xrealloc(r->buf, r->cap *= 2);
		want = r->cap - r->len;
		if ((off_t)want > r->end - r->off)
			want = (size_t)(r->end - r->off);
		do
			k = pread(r->fd, r->buf + r->len, want, r->off);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return -1;
		if (k == 0)
			return 0;
		r->off += k;
		r->len += (size_t)k;
	}
}

/* In verify mode: the line must be the entry's canonical form, and the
 * entry signed by its "from". */
static int
verify_entry(const json_t *e, const char *line, size_t n)
{
	size_t cn;
	char *c = canon_dump(e, NULL, NULL, &cn);
	int same = c && cn == n && memcmp(c, line, n) == 0;

	free(c);
	if (!same)
		return dml_error("the entry is not in canonical form");
	return rec_verify(e, NULL, NULL);
}

static int
replay(ledger *l, off_t good, long *lineno, ledger_visit_fn visit, void *ctx)
{
	struct lines r = {l->fd, 0, good, NULL, 1 << 20, 0, 0, 0};
	struct pending p;
	char *s;
	size_t n;
	int k, rc = 0;

	r.buf = xmalloc(r.cap);
	pending_init(&p);
	while ((k = next_line(&r, &s, &n)) > 0) {
		json_error_t je;
		json_t *e;
		unsigned char h[HASHLEN];

		++*lineno;
		if (n == 0) {
			rc = dml_error("%s:%ld: empty line", l->path, *lineno);
			break;
		}
		if (!(e = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je))) {
			rc = dml_error("%s:%ld: malformed JSON at column %d: %s",
			    l->path, *lineno, je.column, je.text);
			break;
		}
		if (!json_is_object(e) || check(l, e, &p) < 0 ||
		    ((l->flags & LEDGER_VERIFY) && verify_entry(e, s, n) < 0)) {
			if (!json_is_object(e))
				dml_error("an entry must be a JSON object");
			rc = dml_error_prefix("%s:%ld", l->path, *lineno);
			json_decref(e);
			break;
		}
		hash_line(s, n, h);
		commit(l, &p, h);
		l->size += (off_t)n + 1;
		if (visit && (rc = visit(ctx, e, s, n, h)) != 0) {
			json_decref(e);
			break;
		}
		json_decref(e);
	}
	if (k < 0)
		rc = sys_error(l->path, "read");
	pending_clear(&p);
	free(r.buf);
	return rc < 0 ? (rc == LEDGER_ESYS ? LEDGER_ESYS : LEDGER_REJECT) : rc;
}

/* Offset just past the last newline of the file (0 if none). */
static int
complete_end(int fd, off_t size, off_t *good)
{
	char buf[65536];
	off_t pos = size;

	while (pos > 0) {
		size_t want = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
		ssize_t k = pread(fd, buf, want, pos - (off_t)want);
		char *nl;
		if (k < 0 && errno == EINTR)
			continue;
		if (k != (ssize_t)want)
			return -1;
		if ((nl = memrchr(buf, '\n', want))) {
			*good = pos - (off_t)want + (nl - buf) + 1;
			return 0;
		}
		pos -= (off_t)want;
	}
	*good = 0;
	return 0;
}

/* A line without its newline at the end of the file. An append that was
 * cut short leaves a prefix of an entry: incomplete JSON, or a whole entry
 * missing only its newline. Anything else (a whole entry followed by more
 * bytes) did not come from an append. */
static int
tail_torn(int fd, off_t from, off_t n, int *torn)
{
	char *buf = xmalloc((size_t)n + 1);
	ssize_t k;
	json_error_t je;
	json_t *j;

	do
		k = pread(fd, buf, (size_t)n, from);
	while (k < 0 && errno == EINTR);
	if (k != (ssize_t)n) {
		free(buf);
		return -1;
	}
	j = json_loadb(buf, (size_t)n, JSON_DISABLE_EOF_CHECK, &je);
	*torn = !j || je.position >= n;
	json_decref(j);
	free(buf);
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');
	int fd, rc = 0;

	if (slash == d)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(d, ".");
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

static int
make_parent(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');
	int rc = 0;

	if (slash && slash != d) {
		*slash = 0;
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			rc = -1;
	}
	free(d);
	return rc;
}

static int
open_file(ledger *l, const char *path, int flags)
{
	int o = (flags & LEDGER_WRITE ? O_RDWR | O_APPEND : O_RDONLY) |
	    O_CLOEXEC;

	l->fd = open(path, o);
	if (l->fd < 0 && errno == ENOENT && (flags & LEDGER_CREATE) &&
	    (flags & LEDGER_WRITE)) {
		if (make_parent(path) < 0)
			return sys_error(path, "cannot make its directory");
		l->fd = open(path, o | O_CREAT | O_EXCL, 0644);
		if (l->fd < 0 && errno == EEXIST)
			l->fd = open(path, o);
		else if (l->fd >= 0 && fsync_dir_of(path) < 0)
			return sys_error(path, "fsync of its directory");
	}
	if (l->fd < 0)
		return sys_error(path, NULL);
	while (flock(l->fd, flags & LEDGER_WRITE ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return sys_error(path, "lock");
	return 0;
}

int
ledger_open(ledger **out, const char *path, int flags,
    ledger_visit_fn visit, void *ctx)
{
	ledger *l;
	struct stat st;
	off_t good;
	long lineno = 0;
	int rc, torn;

	*out = NULL;
	if (!(l = ledger_new()))
		return LEDGER_ESYS;
	l->path = xstrdup(path);
	l->flags = flags;
	if ((rc = open_file(l, path, flags)) < 0)
		goto fail;
	if (fstat(l->fd, &st) < 0) {
		rc = sys_error(path, NULL);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		dml_error("%s: not a regular file", path);
		rc = LEDGER_ESYS;
		goto fail;
	}
	if (complete_end(l->fd, st.st_size, &good) < 0) {
		rc = sys_error(path, "read");
		goto fail;
	}
	if ((rc = replay(l, good, &lineno, visit, ctx)) != 0)
		goto fail;
	if (st.st_size > good) {
		if (tail_torn(l->fd, good, st.st_size - good, &torn) < 0) {
			rc = sys_error(path, "read");
			goto fail;
		}
		if (!torn) {
			dml_error("%s:%ld: a whole entry followed by other bytes "
			    "and no newline: not a torn append", path,
			    lineno + 1);
			rc = LEDGER_REJECT;
			goto fail;
		}
		l->torn = st.st_size - good;
		if ((flags & LEDGER_WRITE) && (ftruncate(l->fd, good) < 0 ||
		    fsync(l->fd) < 0)) {
			rc = sys_error(path, "discarding a torn last line");
			goto fail;
		}
	}
	if ((flags & LEDGER_VERIFY) && ledger_check(l) < 0) {
		dml_error_prefix("%s", path);
		rc = LEDGER_REJECT;
		goto fail;
	}
	*out = l;
	return 0;
fail:
	ledger_close(l);
	return rc;
}

/* ---- queries ------------------------------------------------------------ */

int
ledger_license_use(const ledger *l, const char *license, const char **job,
    long long *seq)
{
	struct license_use *u = map_get(&l->licenses, license);

	if (!u)
		return -1;
	*job = u->job;
	if (seq)
		*seq = u->seq;
	return 0;
}

int
ledger_escrow_get(const ledger *l, const char *job, ledger_escrow *e)
{
	struct escrow *x = map_get(&l->escrows, job);

	if (!x)
		return -1;
	e->customer = x->customer;
	e->amount = x->amount;
	e->deadline = x->deadline;
	e->seq = x->seq;
	e->state = x->state;
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
ledger_accounts(const ledger *l, size_t *n)
{
	const char **v = xmalloc((l->accts.n ? l->accts.n : 1) * sizeof *v);
	size_t k = 0;

	for (size_t i = 0; i < l->accts.cap; i++)
		if (l->accts.v[i])
			v[k++] = MAP_KEY(l->accts.v[i]);
	qsort(v, k, sizeof *v, str_cmp);
	*n = k;
	return v;
}

void
ledger_total(const ledger *l, mpz_t out)
{
	mpz_set_ui(out, 0);
	for (size_t i = 0; i < l->accts.cap; i++)
		if (l->accts.v[i])
			mpz_add(out, out, ((struct acct *)l->accts.v[i])->bal);
}

int
ledger_check(const ledger *l)
{
	mpz_t t;
	int bad;

	for (size_t i = 0; i < l->accts.cap; i++) {
		struct acct *a = l->accts.v[i];
		if (a && mpz_sgn(a->bal) < 0)
			return dml_error("account %.72s is below zero", a->name);
	}
	mpz_init(t);
	ledger_total(l, t);
	bad = mpz_cmp(t, l->supply) != 0;
	mpz_clear(t);
	if (bad)
		return dml_error("the balances do not add up to the supply");
	return 0;
}

mpz_srcptr ledger_supply(const ledger *l) { return l->supply; }
long long ledger_entries(const ledger *l) { return l->seq; }
long long ledger_last_time(const ledger *l) { return l->last_time; }
const char *ledger_authority(const ledger *l) { return l->authority; }
long long ledger_last_epoch(const ledger *l) { return l->last_epoch; }
off_t ledger_torn(const ledger *l) { return l->torn; }

void
ledger_head(const ledger *l, char hex[65])
{
	key_hex(l->head, HASHLEN, hex);
}

const char *
ledger_last_line(const ledger *l, size_t *len)
{
	*len = l->lastlen;
	return l->lastline;
}

static int
str_is(const json_t *j, const char *s)
{
	return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}

static int
list_names(const json_t *a, const char *key, const char *account)
{
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x)
		if (str_is(key ? json_object_get(x, key) : x, account))
			return 1;
	return 0;
}

int
ledger_entry_touches(const json_t *e, const char *account)
{
	const char *op = json_string_value(json_object_get(e, "op")),
		   *job = json_string_value(json_object_get(e, "job"));

	if (!op)
		return 0;
	if (str_is(json_object_get(e, "from"), account) ||
	    str_is(json_object_get(e, "to"), account) ||
	    str_is(json_object_get(e, "customer"), account))
		return 1;
	if (job && strncmp(account, LEDGER_ESCROW_PREFIX, 7) == 0 &&
	    strcmp(account + 7, job) == 0)
		return 1;
	if (strcmp(account, LEDGER_GROWTH) == 0)
		return strcmp(op, "genesis") == 0 || strcmp(op, "emit") == 0;
	if (strcmp(account, LEDGER_BOUNTY) == 0)
		return strcmp(op, "genesis") == 0 || strcmp(op, "bounty") == 0;
	return list_names(json_object_get(e, "alloc"), "to", account) ||
	    list_names(json_object_get(e, "payouts"), "to", account) ||
	    list_names(json_object_get(e, "owners"), NULL, account);
}

/* ---- bodies ------------------------------------------------------------- */

json_t *
ledger_escrow_body(const dml_job *j)
{
	json_t *r = j->rec, *rw = json_object_get(r, "reward");

	json_t *b = json_pack("{s:s,s:s,s:O,s:O,s:O}", "op", "escrow", "job",
	    j->id, "amount", json_object_get(rw, "budget"), "deadline",
	    json_object_get(r, "deadline"), "customer",
	    json_object_get(r, "customer"));

	/* the license the job names: a single-use one escrows one job */
	if (json_object_get(r, "license"))
		json_object_set(b, "license", json_object_get(r, "license"));
	return b;
}

json_t *
ledger_settle_body(const char *job, const char *report,
    const char *contributions, const char *customer, const settle_list *p,
    const mpz_t refund)
{
	json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "op", "settle", "job", job,
	    "report", report, "customer", customer);

	if (contributions)
		json_object_set_new(b, "contributions",
		    json_string(contributions));
	json_object_set_new(b, "payouts", settle_list_json(p));
	json_object_set_new(b, "refund", settle_amount_json(refund));
	return b;
}

int
ledger_emit_body(const ledger *l, long long epoch, char (*owners)[65],
    size_t n, json_t **out)
{
	settle_list p;
	mpz_t amount;
	json_t *ow;

	if (!l->authority[0])
		return dml_error("emit: the ledger has no genesis");
	mpz_init(amount);
	settle_list_init(&p);
	ledger_emission(l->growth0, epoch, amount);
	ledger_emit_payouts(l->head, epoch, amount, owners, n, &p);
	ow = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ow, json_stringn(owners[i], 64));
	*out = json_pack("{s:s,s:I,s:o,s:o,s:o}", "op", "emit", "epoch",
	    (json_int_t)epoch, "amount", settle_amount_json(amount), "owners", ow,
	    "payouts", settle_list_json(&p));
	settle_list_clear(&p);
	mpz_clear(amount);
	return 0;
}

/* ---- what a writer prints, and the settle transaction -------------------- */

json_t *
ledger_appended_record(const char *op, long long seq, const char hash[65])
{
	json_t *r = rec_new("dml.appended");

	json_object_set_new(r, "op", json_string(op));
	json_object_set_new(r, "seq", json_integer(seq));
	json_object_set_new(r, "hash", json_string(hash));
	return r;
}

json_t *
ledger_appended(const ledger *l, const char *op)
{
	char hex[65];

	ledger_head(l, hex);
	return ledger_appended_record(op, ledger_entries(l) - 1, hex);
}

static const char *const escrow_state_name[] = {"open", "settled",
    "refunded"};

/* The payouts of job j against its open escrow in l: 0 with *out and
 * refund set, or LEDGER_REJECT. */
static int
settle_payouts(const ledger *l, const char *path, const dml_job *j,
    const settle_terms *t, const settle_contrib *c, settle_list *out,
    mpz_t escrow, mpz_t refund)
{
	ledger_escrow e;

	if (ledger_escrow_get(l, j->id, &e) < 0) {
		dml_error("job %s has no escrow in %s", j->id, path);
		return LEDGER_REJECT;
	}
	if (e.state != ESCROW_OPEN) {
		dml_error("job %s is already %s", j->id,
		    escrow_state_name[e.state]);
		return LEDGER_REJECT;
	}
	mpz_set(escrow, e.amount);
	if (settle_compute(t, c, escrow, out, refund) < 0) {
		dml_error_prefix("job %s", j->id);
		return LEDGER_REJECT;
	}
	return 0;
}

int
ledger_settle_job(const char *path, const dml_job *j, const char *storedf,
    const char *contribf, const dml_key *k, const char *when,
    json_t **payouts, json_t **appended)
{
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], customer[65];
	settle_contrib c;
	settle_terms t;
	settle_list p;
	mpz_t escrow, refund;
	json_t *pr = NULL, *body;
	ledger *l = NULL;
	int rc;

	*payouts = NULL;
	if (appended)
		*appended = NULL;
	/* everything that can be read without the lock is read first */
	settle_terms_init(&t);
	if (settle_terms_from_job(&t, j) < 0) {
		settle_terms_clear(&t);
		return LEDGER_REJECT;
	}
	if ((rc = settle_load_stored(storedf, report)) < 0 ||
	    (rc = settle_load_contrib(contribf, j->id, &c, cid_contrib)) < 0) {
		settle_terms_clear(&t);
		return rc;
	}
	settle_list_init(&p);
	mpz_inits(escrow, refund, NULL);
	if ((rc = ledger_open(&l, path, k ? LEDGER_WRITE : 0, NULL, NULL)) < 0 ||
	    (rc = settle_payouts(l, path, j, &t, &c, &p, escrow, refund)) < 0)
		goto out;
	key_hex(j->customer, 32, customer);
	pr = settle_record(j->id, report, customer, escrow, &p, refund,
	    c.ndevices);
	if (k) {
		body = ledger_settle_body(j->id, report, cid_contrib, customer,
		    &p, refund);
		rc = ledger_submit(l, body, k, when);
		json_decref(body);
		if (rc < 0)
			goto out;
		if (appended)
			*appended = ledger_appended(l, "settle");
	}
	*payouts = pr;
	pr = NULL;
out:
	json_decref(pr);
	if (l)
		ledger_close(l);
	settle_list_clear(&p);
	settle_contrib_clear(&c);
	settle_terms_clear(&t);
	mpz_clears(escrow, refund, NULL);
	return rc;
}
