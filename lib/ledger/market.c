/* market: listings, licenses, the listing index and competitions. */
#include "market.h"
#include "eth.h"
#include "job.h"
#include "model.h"
#include "settle.h"
#include "sign.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

static const char *kinds[] = {"single", "subscription"};

const char *
market_kind_name(enum market_kind k)
{
	return kinds[k];
}

int
market_kind_parse(const char *s, enum market_kind *k)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(s, kinds[i]) == 0) {
			*k = (enum market_kind)i;
			return 0;
		}
	return dml_error("unknown license kind \"%.32s\" (single or "
	    "subscription)", s);
}

/* A field holding a CID. */
static int
get_cid(const rec_in *in, const json_t *r, const char *key, const char **out)
{
	cid c;

	if (rec_get_str(in, r, key, out) < 0)
		return -1;
	if (strlen(*out) >= CID_MAXSTR || cid_parse(&c, *out) < 0)
		return rec_err(in, "field \"%s\" is not a CID", key);
	return 0;
}

/* A field holding a hex public key. */
static int
get_key(const rec_in *in, const json_t *r, const char *key, const char **out)
{
	unsigned char pk[32];

	if (rec_get_str(in, r, key, out) < 0)
		return -1;
	if (key_parse_hex(*out, pk) < 0)
		return rec_err(in, "field \"%s\" is not a public key", key);
	return 0;
}

static int
get_time(const rec_in *in, const json_t *r, const char *key, long long *t)
{
	const char *s;

	if (rec_get_str(in, r, key, &s) < 0)
		return -1;
	if (timefmt_parse(s, t) < 0)
		return rec_err(in, "field \"%s\": %s", key, dml_errmsg());
	return 0;
}

/* Release a record that failed its checks, or a parsed one: -1. */
static int
drop(json_t **rec)
{
	json_decref(*rec);
	*rec = NULL;
	return -1;
}

/* Verify r's signature and that it is by the key in field `who`; set the
 * record's id. */
static int
signed_by(const rec_in *in, const json_t *r, const char *who, const char *key,
    char id[CID_MAXSTR])
{
	const char *from;

	if (rec_verify(r, in, NULL) < 0)
		return -1;
	from = json_string_value(json_object_get(r, "from"));
	if (!from || strcmp(from, key) != 0)
		return rec_err(in, "not signed by its %s", who);
	if (job_id(r, id) < 0)
		return rec_err(in, "%s", dml_errmsg());
	return 0;
}

/* ---- listings ----------------------------------------------------------- */

int
market_listing_from_record(const rec_in *in, json_t *r, market_listing *l)
{
	json_t *lic;
	const char *kind;

	memset(l, 0, sizeof *l);
	l->rec = r;
	if (rec_check(in, r, "dml.listing") < 0 ||
	    get_cid(in, r, "algorithm", &l->algorithm) < 0 ||
	    rec_get_str(in, r, "category", &l->category) < 0 ||
	    rec_get_str(in, r, "description", &l->description) < 0 ||
	    rec_get_amount(in, r, "price", &l->price) < 0 ||
	    get_key(in, r, "developer", &l->developer) < 0 ||
	    get_time(in, r, "created", &l->created) < 0 ||
	    !(lic = rec_get_obj(in, r, "license")) ||
	    rec_get_str(in, lic, "kind", &kind) < 0)
		goto fail;
	if (!*l->category || strlen(l->category) > MARKET_MAX_CATEGORY ||
	    strlen(l->description) > MARKET_MAX_TEXT) {
		rec_err(in, "the category must have 1 to %d bytes, the "
		    "description at most %d", MARKET_MAX_CATEGORY,
		    MARKET_MAX_TEXT);
		goto fail;
	}
	if (market_kind_parse(kind, &l->kind) < 0) {
		rec_err(in, "field \"license.kind\": %s", dml_errmsg());
		goto fail;
	}
	if (l->kind == LICENSE_SUBSCRIPTION &&
	    rec_get_int(in, lic, "period_days", 1, 36600, &l->period_days) < 0)
		goto fail;
	if (l->kind == LICENSE_SINGLE && json_object_get(lic, "period_days")) {
		rec_err(in, "a single-use license has no \"period_days\"");
		goto fail;
	}
	if (signed_by(in, r, "developer", l->developer, l->id) == 0)
		return 0;
fail:
	return drop(&l->rec);
}

void
market_listing_free(market_listing *l)
{
	drop(&l->rec);
}

void
market_listings_free(market_listing *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		market_listing_free(&v[i]);
	free(v);
}

int
market_listing_cmp(const market_listing *a, const market_listing *b)
{
	int c = strcmp(a->category, b->category);

	if (!c)
		c = amount_cmp(a->price, b->price);
	if (!c)
		c = strcmp(a->id, b->id);
	return c;
}

static int
listing_qcmp(const void *a, const void *b)
{
	return market_listing_cmp(a, b);
}

static int
has_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; *s; s++)
		if (strncasecmp(s, w, n) == 0)
			return 1;
	return n == 0;
}

int
market_listing_match(const market_listing *l, const market_query *q)
{
	if (q->category && strcmp(q->category, l->category) != 0)
		return 0;
	if (q->max_price && amount_cmp(l->price, q->max_price) > 0)
		return 0;
	if (q->keyword && !has_word(l->description, q->keyword) &&
	    !has_word(l->category, q->keyword))
		return 0;
	return 1;
}

/* ---- the index ---------------------------------------------------------- */

char *
market_index_default(void)
{
	const char *e = getenv(MARKET_ENV_INDEX), *h = getenv("HOME");

	if (e && *e)
		return xstrdup(e);
	return xasprintf("%s/.dml/market.ndjson", h && *h ? h : ".");
}

/* Read every listing of the index; a missing index is empty. */
static int
read_index(const char *path, market_listing **v, size_t *n)
{
	size_t cap = 0;
	rec_in *in;
	json_t *r;
	int rc;

	*v = NULL;
	*n = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (!(in = rec_open(path)))
		return -1;
	rec_set_copy(in, 1);
	while ((rc = rec_next(in, &r)) > 0) {
		market_listing l;
		if (market_listing_from_record(in, r, &l) < 0) {
			rc = -1;
			break;
		}
		if (*n == cap)
			*v = xrealloc(*v, (cap = cap ? 2 * cap : 64) * sizeof **v);
		(*v)[(*n)++] = l;
	}
	rec_close(in);
	if (rc < 0) {
		market_listings_free(*v, *n);
		*v = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int
market_index_load(const char *path, market_listing **v, size_t *n)
{
	/* no lock: a writer replaces the file whole (rename) */
	if (read_index(path, v, n) < 0)
		return -1;
	if (*n > 1)
		qsort(*v, *n, sizeof **v, listing_qcmp);
	return 0;
}

/* The listing i of the old ones followed by the new ones. */
static const market_listing *
nth(const market_listing *old, size_t nold, const market_listing *v,
    size_t i)
{
	return i < nold ? &old[i] : &v[i - nold];
}

int
market_index_add(const char *path, market_listing *v, size_t n,
    size_t *added)
{
	market_listing *old = NULL;
	size_t nold = 0, len = 0, cap = 0;
	char *buf = NULL, *lock = xasprintf("%s.lock", path);
	int fd = -1, rc = -1;

	*added = 0;
	if (dml_make_parent(path) < 0)
		goto out;
	/* writers take turns on a lock file beside the index */
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		dml_error_sys("%s", lock);
		goto out;
	}
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			dml_error_sys("%s: lock", lock);
			goto out;
		}
	if (read_index(path, &old, &nold) < 0)
		goto out;
	for (size_t i = 0; i < nold + n; i++) {
		const market_listing *l = nth(old, nold, v, i);
		int seen = 0;
		size_t k;
		char *line;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(nth(old, nold, v, j)->id, l->id) == 0;
		if (seen)
			continue;
		if (!(line = canon_dump(l->rec, NULL, NULL, &k)))
			goto out;
		if (len + k + 1 > cap)
			buf = xrealloc(buf, cap = 2 * (len + k + 1));
		memcpy(buf + len, line, k);
		buf[len + k] = '\n';
		len += k + 1;
		free(line);
		*added += i >= nold;
	}
	if (*added && dml_write_file(path, buf, len, 0644) < 0)
		goto out;
	rc = 0;
out:
	market_listings_free(old, nold);
	free(buf);
	free(lock);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- licenses ----------------------------------------------------------- */

json_t *
market_ledger_payment(long long seq, const char *hash)
{
	return json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "hash", hash);
}

json_t *
market_license_new(const market_listing *l, const char *licensee,
    long long t, json_t *payment)
{
	json_t *r = rec_new("dml.license");
	char buf[32];

	json_object_set_new(r, "listing", json_string(l->id));
	json_object_set_new(r, "algorithm", json_string(l->algorithm));
	json_object_set_new(r, "developer", json_string(l->developer));
	json_object_set_new(r, "licensee", json_string(licensee));
	json_object_set_new(r, "kind", json_string(market_kind_name(l->kind)));
	json_object_set_new(r, "price", json_string(l->price));
	timefmt_format(t, buf);
	json_object_set_new(r, "valid_from", json_string(buf));
	if (l->kind == LICENSE_SUBSCRIPTION) {
		timefmt_format(t + l->period_days * 86400, buf);
		json_object_set_new(r, "valid_until", json_string(buf));
	}
	json_object_set_new(r, "payment", payment);
	return r;
}

/* A license's payment: a ledger entry {"seq","hash"}, or a transfer on
 * chain {"chain","token","tx","block","from","to","amount"}. */
static int
license_payment(const rec_in *in, const json_t *pay, market_license *c)
{
	const char *s;
	long long v;
	unsigned char a[20];
	static const char *const addrs[] = {"token", "from", "to"};

	c->pay_seq = -1;
	if (!json_object_get(pay, "tx")) {
		if (rec_get_int(in, pay, "seq", 0, 1LL << 50, &c->pay_seq) < 0 ||
		    rec_get_str(in, pay, "hash", &c->pay_hash) < 0)
			return -1;
		if (strlen(c->pay_hash) != 64 ||
		    strspn(c->pay_hash, "0123456789abcdef") != 64)
			return rec_err(in, "field \"payment.hash\" is not a "
			    "ledger hash");
		return 0;
	}
	if (rec_get_int(in, pay, "chain", 1, 1LL << 50, &v) < 0 ||
	    rec_get_int(in, pay, "block", 0, 1LL << 50, &v) < 0 ||
	    rec_get_str(in, pay, "tx", &s) < 0)
		return -1;
	if (strlen(s) != 66 || strncmp(s, "0x", 2) != 0 ||
	    strspn(s + 2, "0123456789abcdef") != 64)
		return rec_err(in, "field \"payment.tx\" is not a transaction "
		    "hash");
	for (size_t i = 0; i < 3; i++) {
		if (rec_get_str(in, pay, addrs[i], &s) < 0)
			return -1;
		if (eth_address_parse(s, a) < 0)
			return rec_err(in, "field \"payment.%s\" is not an "
			    "address", addrs[i]);
	}
	if (rec_get_amount(in, pay, "amount", &s) < 0)
		return -1;
	if (strcmp(s, c->price) != 0)
		return rec_err(in, "field \"payment.amount\" is not the price");
	c->pay_chain = pay;
	return 0;
}

int
market_license_from_record(const rec_in *in, json_t *r, market_license *c)
{
	const char *kind;
	json_t *pay;

	memset(c, 0, sizeof *c);
	c->rec = r;
	c->valid_until = -1;
	if (rec_check(in, r, "dml.license") < 0 ||
	    get_cid(in, r, "listing", &c->listing) < 0 ||
	    get_cid(in, r, "algorithm", &c->algorithm) < 0 ||
	    get_key(in, r, "developer", &c->developer) < 0 ||
	    get_key(in, r, "licensee", &c->licensee) < 0 ||
	    rec_get_amount(in, r, "price", &c->price) < 0 ||
	    rec_get_str(in, r, "kind", &kind) < 0 ||
	    get_time(in, r, "valid_from", &c->valid_from) < 0 ||
	    !(pay = rec_get_obj(in, r, "payment")) ||
	    license_payment(in, pay, c) < 0)
		goto fail;
	if (market_kind_parse(kind, &c->kind) < 0) {
		rec_err(in, "field \"kind\": %s", dml_errmsg());
		goto fail;
	}
	if (c->kind == LICENSE_SUBSCRIPTION) {
		if (get_time(in, r, "valid_until", &c->valid_until) < 0)
			goto fail;
		if (c->valid_until <= c->valid_from) {
			rec_err(in, "\"valid_until\" is not after "
			    "\"valid_from\"");
			goto fail;
		}
	} else if (json_object_get(r, "valid_until")) {
		rec_err(in, "a single-use license has no \"valid_until\"");
		goto fail;
	}
	if (signed_by(in, r, "licensee", c->licensee, c->id) == 0)
		return 0;
fail:
	return drop(&c->rec);
}

/* The one record of a file: a license (comp 0) or a competition. */
static int
load_one(const char *path, int comp, void *out)
{
	rec_in *in;
	json_t *r;
	int rc;

	memset(out, 0, comp ? sizeof(market_comp) : sizeof(market_license));
	if (!(r = rec_read_one(path, &in)))
		return -1;
	rc = comp ? market_comp_from_record(in, r, out) :
	    market_license_from_record(in, r, out);
	rec_close(in);
	return rc;
}

int
market_license_load(const char *path, market_license *c)
{
	return load_one(path, 0, c);
}

void
market_license_free(market_license *c)
{
	drop(&c->rec);
}

int
market_license_allows(const market_license *c, const char *customer,
    const char *model, long long at)
{
	char t[32];

	if (strcmp(c->licensee, customer) != 0)
		return dml_error("license %s belongs to another customer (%.16s"
		    "...), not to %.16s...", c->id, c->licensee, customer);
	if (strcmp(c->algorithm, model) != 0)
		return dml_error("license %s is for algorithm %s, not %s",
		    c->id, c->algorithm, model);
	if (at < c->valid_from) {
		timefmt_format(c->valid_from, t);
		return dml_error("license %s is valid from %s only", c->id, t);
	}
	if (c->valid_until >= 0 && at >= c->valid_until) {
		timefmt_format(c->valid_until, t);
		return dml_error("license %s expired at %s", c->id, t);
	}
	return 0;
}

int
market_license_for_job(const market_license *c, const dml_job *j)
{
	const char *lic, *cr;
	long long created;
	char cust[65];
	int single;

	lic = job_license(j, &single);
	if (!lic || strcmp(lic, c->id) != 0)
		return dml_error("the job names %s%s, not license %s",
		    lic ? "license " : "", lic ? lic : "no license", c->id);
	if (single != (c->kind == LICENSE_SINGLE))
		return dml_error("the job calls license %s %s, it is %s", c->id,
		    single ? "single" : "subscription",
		    market_kind_name(c->kind));
	cr = json_string_value(json_object_get(j->rec, "created"));
	if (!cr || timefmt_parse(cr, &created) < 0)
		return dml_error("the job has no valid \"created\" time");
	key_hex(j->customer, 32, cust);
	return market_license_allows(c, cust, j->model, created);
}

struct paid_ctx {
	const market_license *c;
	int found;
};

static int
paid_visit(void *ctx, const json_t *e, const char *line, size_t len,
    const unsigned char hash[32])
{
	struct paid_ctx *p = ctx;
	const market_license *c = p->c;
	char hex[65];
	const char *s;

	if (json_integer_value(json_object_get(e, "seq")) != c->pay_seq)
		return 0;
	key_hex(hash, 32, hex);
	p->found = 1;
	if (strcmp(hex, c->pay_hash) != 0)
		return dml_error("license %s: ledger entry %lld has hash %s, "
		    "not %s", c->id, c->pay_seq, hex, c->pay_hash), 1;
	if (!(s = json_string_value(json_object_get(e, "op"))) ||
	    strcmp(s, "transfer") != 0 ||
	    !(s = json_string_value(json_object_get(e, "from"))) ||
	    strcmp(s, c->licensee) != 0 ||
	    !(s = json_string_value(json_object_get(e, "to"))) ||
	    strcmp(s, c->developer) != 0 ||
	    !(s = json_string_value(json_object_get(e, "amount"))) ||
	    strcmp(s, c->price) != 0)
		return dml_error("license %s: ledger entry %lld is not a "
		    "transfer of %s from the licensee to the developer",
		    c->id, c->pay_seq, c->price), 1;
	return 0;
}

int
market_license_paid(const market_license *c, const char *ledger_path)
{
	struct paid_ctx p = {c, 0};
	ledger *l;
	int rc;

	if (c->pay_chain)
		return dml_error("license %s was paid on chain (transaction %s), "
		    "not on the ledger: verify it with --rpc", c->id,
		    json_string_value(json_object_get(c->pay_chain, "tx"))),
		    LEDGER_REJECT;
	rc = ledger_open(&l, ledger_path, 0, paid_visit, &p);

	if (rc == 1)
		return LEDGER_REJECT;
	if (rc < 0)
		return rc;
	ledger_close(l);
	if (!p.found)
		return dml_error("license %s: the ledger has no entry %lld",
		    c->id, c->pay_seq), LEDGER_REJECT;
	return 0;
}

int
market_license_unused(const market_license *c, const char *ledger_path,
    const char *job)
{
	const char *by;
	long long seq;
	ledger *l;
	int rc;

	if (c->kind != LICENSE_SINGLE)
		return 0;
	if ((rc = ledger_open(&l, ledger_path, 0, NULL, NULL)) < 0)
		return rc;
	rc = 0;
	if (ledger_license_use(l, c->id, &by, &seq) == 0 &&
	    (!job || strcmp(by, job) != 0)) {
		dml_error("single-use license %s is used up: the escrow of "
		    "job %s (ledger entry %lld) names it", c->id, by, seq);
		rc = LEDGER_REJECT;
	}
	ledger_close(l);
	return rc;
}

/* ---- competitions ------------------------------------------------------- */

int
market_comp_from_record(const rec_in *in, json_t *r, market_comp *c)
{
	json_t *test, *split, *x;
	unsigned sum = 0;
	size_t i;

	memset(c, 0, sizeof *c);
	c->rec = r;
	if (rec_check(in, r, "dml.competition") < 0 ||
	    get_key(in, r, "customer", &c->customer) < 0 ||
	    !(test = rec_get_obj(in, r, "test")) ||
	    get_cid(in, test, "images", &c->images) < 0 ||
	    get_cid(in, test, "labels", &c->labels) < 0 ||
	    rec_get_str(in, r, "metric", &c->metric) < 0 ||
	    rec_get_amount(in, r, "prize", &c->prize) < 0 ||
	    get_time(in, r, "deadline", &c->deadline) < 0 ||
	    get_time(in, r, "award_by", &c->award_by) < 0 ||
	    !(split = rec_get_arr(in, r, "split")))
		goto fail;
	if (strcmp(c->metric, "accuracy") != 0 && strcmp(c->metric, "loss")) {
		rec_err(in, "unknown metric \"%.32s\" (accuracy or loss)",
		    c->metric);
		goto fail;
	}
	if (c->award_by <= c->deadline) {
		rec_err(in, "\"award_by\" is not after \"deadline\"");
		goto fail;
	}
	if (json_array_size(split) < 1 ||
	    json_array_size(split) > MARKET_MAX_SPLIT) {
		rec_err(in, "\"split\" needs 1 to %d shares", MARKET_MAX_SPLIT);
		goto fail;
	}
	json_array_foreach(split, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > 100) {
			rec_err(in, "\"split\"[%zu] must be a percentage from 1 "
			    "to 100", i);
			goto fail;
		}
		c->split[i] = (unsigned)json_integer_value(x);
		sum += c->split[i];
	}
	c->nsplit = json_array_size(split);
	if (sum > 100) {
		rec_err(in, "the shares of \"split\" add up to %u%%, more than "
		    "100%%", sum);
		goto fail;
	}
	if (signed_by(in, r, "customer", c->customer, c->id) == 0)
		return 0;
fail:
	return drop(&c->rec);
}

int
market_comp_load(const char *path, market_comp *c)
{
	return load_one(path, 1, c);
}

void
market_comp_free(market_comp *c)
{
	drop(&c->rec);
}

int
market_entry_from_record(const rec_in *in, json_t *r, const market_comp *c,
    market_entry *e)
{
	char t[32];

	memset(e, 0, sizeof *e);
	e->rec = r;
	if (rec_check(in, r, "dml.entry") < 0 ||
	    get_cid(in, r, "competition", &e->competition) < 0 ||
	    get_cid(in, r, "model", &e->model) < 0 ||
	    get_key(in, r, "entrant", &e->entrant) < 0 ||
	    get_time(in, r, "created", &e->created) < 0)
		goto fail;
	if (strcmp(e->competition, c->id) != 0) {
		rec_err(in, "the entry is for competition %s, not %s",
		    e->competition, c->id);
		goto fail;
	}
	if (e->created >= c->deadline) {
		timefmt_format(c->deadline, t);
		rec_err(in, "the entry was made after the deadline %s", t);
		goto fail;
	}
	if (signed_by(in, r, "entrant", e->entrant, e->id) == 0)
		return 0;
fail:
	return drop(&e->rec);
}

void
market_entry_free(market_entry *e)
{
	drop(&e->rec);
}

static int
score_cmp(const void *pa, const void *pb)
{
	const market_score *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->e->created != b->e->created)
		return a->e->created < b->e->created ? -1 : 1;
	return strcmp(a->e->id, b->e->id);
}

void
market_rank(market_score *s, size_t n)
{
	if (n > 1)
		qsort(s, n, sizeof *s, score_cmp);
}

int
market_prizes(const market_comp *c, const market_score *ranked, size_t n,
    settle_list *out, mpz_t refund)
{
	mpz_t prize, a;
	settle_list raw;

	mpz_inits(prize, a, NULL);
	settle_list_init(&raw);
	mpz_set_str(prize, c->prize, 10);
	for (size_t i = 0; i < n && i < c->nsplit; i++) {
		market_prize(c, i, a);
		settle_list_add(&raw, ranked[i].e->entrant, settle_role("developer"), a);
	}
	settle_list_sort(&raw);
	/* one payout per entrant: an entrant with two winning entries is
	 * paid their sum (the ledger takes each (to, role) pair once) */
	for (size_t i = 0; i < raw.n; i++) {
		mpz_set(a, raw.v[i].amount);
		while (i + 1 < raw.n && strcmp(raw.v[i].to, raw.v[i + 1].to) == 0)
			mpz_add(a, a, raw.v[++i].amount);
		settle_list_add(out, raw.v[i].to, raw.v[i].role, a);
	}
	mpz_sub(refund, prize, out->total);
	settle_list_clear(&raw);
	mpz_clears(prize, a, NULL);
	return 0;
}

void
market_prize(const market_comp *c, size_t rank0, mpz_t out)
{
	mpz_set_ui(out, 0);
	if (rank0 >= c->nsplit)
		return;
	mpz_set_str(out, c->prize, 10);
	mpz_mul_ui(out, out, c->split[rank0]);
	mpz_fdiv_q_ui(out, out, 100);
}

static int
entry_time_cmp(const void *pa, const void *pb)
{
	const market_entry *a = pa, *b = pb;

	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return strcmp(a->id, b->id);
}

void
market_entries_sort(market_entry *e, size_t n)
{
	if (n > 1)
		qsort(e, n, sizeof *e, entry_time_cmp);
}

static double
round6(double v)
{
	return round(v * 1e6) / 1e6;
}

int
market_model_score(const market_comp *c, const char *p, size_t n,
    const dml_data *d, market_score *s)
{
	json_error_t je;
	dml_model m;
	json_t *r = json_loadb(p, n, JSON_DISABLE_EOF_CHECK, &je);
	double acc, loss;
	int rc;

	if (!r)
		return dml_error("malformed JSON: %s", je.text);
	rc = model_from_record(&m, NULL, r);
	json_decref(r);
	if (rc < 0)
		return -1;
	rc = model_evaluate(&m, d, &acc, &loss);
	model_free(&m);
	if (rc < 0)
		return -1;
	s->acc = round6(acc);
	s->loss = round6(loss);
	s->score = strcmp(c->metric, "loss") == 0 ? -s->loss : s->acc;
	return 0;
}

json_t *
market_leaderboard_new(const market_comp *c, const market_score *ranked,
    size_t n, long long samples, json_t *disqualified, long long t)
{
	json_t *r = rec_new("dml.leaderboard"), *rank = json_array();
	char buf[32];
	mpz_t a;

	mpz_init(a);
	for (size_t i = 0; i < n; i++) {
		char *p;
		market_prize(c, i, a);
		p = mpz_get_str(NULL, 10, a);
		json_array_append_new(rank, json_pack("{s:I,s:s,s:s,s:s,s:f,"
		    "s:f,s:s}", "rank", (json_int_t)(i + 1), "entry",
		    ranked[i].e->id, "entrant", ranked[i].e->entrant, "model",
		    ranked[i].e->model, "accuracy", ranked[i].acc, "loss",
		    ranked[i].loss, "prize", p));
		free(p);
	}
	mpz_clear(a);
	json_object_set_new(r, "competition", json_string(c->id));
	json_object_set_new(r, "metric", json_string(c->metric));
	json_object_set_new(r, "test", json_pack("{s:s,s:s,s:I}", "images",
	    c->images, "labels", c->labels, "n", (json_int_t)samples));
	json_object_set_new(r, "ranking", rank);
	json_object_set_new(r, "disqualified", disqualified);
	timefmt_format(t, buf);
	json_object_set_new(r, "created", json_string(buf));
	json_object_set_new(r, "customer", json_string(c->customer));
	return r;
}

int
market_leaderboard_parse(const rec_in *in, const json_t *b,
    const market_comp *c, char id[CID_MAXSTR], market_entry **ents,
    size_t *n)
{
	const char *cust, *comp, *from;
	json_t *rank, *x;
	size_t i;

	*ents = NULL;
	*n = 0;
	if (rec_check(in, b, "dml.leaderboard") < 0 ||
	    get_cid(in, b, "competition", &comp) < 0 ||
	    get_key(in, b, "customer", &cust) < 0 ||
	    !(rank = rec_get_arr(in, b, "ranking")) ||
	    rec_verify(b, in, NULL) < 0)
		return -1;
	from = json_string_value(json_object_get(b, "from"));
	if (strcmp(comp, c->id) != 0 || strcmp(cust, c->customer) != 0 ||
	    !from || strcmp(from, cust) != 0)
		return rec_err(in, "not a leaderboard of competition %s signed "
		    "by its customer", c->id);
	if (job_id(b, id) < 0)
		return rec_err(in, "%s", dml_errmsg());
	*ents = xcalloc(json_array_size(rank) + 1, sizeof **ents);
	json_array_foreach(rank, i, x) {
		long long rk;
		if (!json_is_object(x) ||
		    rec_get_int(in, x, "rank", 1, 1LL << 40, &rk) < 0 ||
		    rk != (long long)i + 1 ||
		    get_key(in, x, "entrant", &(*ents)[i].entrant) < 0) {
			free(*ents);
			*ents = NULL;
			return rec_err(in, "\"ranking\"[%zu] needs \"rank\" %zu "
			    "and an \"entrant\" key", i, i + 1);
		}
	}
	*n = json_array_size(rank);
	return 0;
}

/* ---- awards: the prize paid by a leaderboard ---------------------------- */

int
market_award_list(const market_comp *c, const char *boardf,
    char bid[CID_MAXSTR], settle_list *pay, mpz_t refund)
{
	market_entry *ents;
	market_score *s;
	rec_in *in;
	json_t *b;
	size_t n;

	if (!(b = rec_read_one(boardf, &in)))
		return -1;
	if (market_leaderboard_parse(in, b, c, bid, &ents, &n) < 0) {
		json_decref(b);
		rec_close(in);
		return -1;
	}
	s = xcalloc(n + 1, sizeof *s);
	for (size_t i = 0; i < n; i++)
		s[i].e = &ents[i];
	market_prizes(c, s, n, pay, refund);
	free(ents);
	free(s);
	json_decref(b);
	rec_close(in);
	return 0;
}

int
market_award_ledger(const char *ledger_path, const market_comp *c,
    const char *boardf, const dml_key *k, const char *when, json_t **payouts,
    long long *seq, char hash[65])
{
	char bid[CID_MAXSTR];
	settle_list pay;
	ledger_escrow esc;
	json_t *body;
	ledger *led;
	mpz_t refund, prize;
	int rc;

	*payouts = NULL;
	settle_list_init(&pay);
	mpz_inits(refund, prize, NULL);
	if (market_award_list(c, boardf, bid, &pay, refund) < 0) {
		rc = LEDGER_REJECT;
		goto out;
	}
	if ((rc = ledger_open(&led, ledger_path, LEDGER_WRITE, NULL, NULL)) < 0)
		goto out;
	if (ledger_escrow_get(led, c->id, &esc) < 0) {
		dml_error("competition %s has no escrowed prize on %s", c->id,
		    ledger_path);
		rc = LEDGER_REJECT;
	} else {
		body = ledger_settle_body(c->id, bid, NULL, c->customer, &pay,
		    refund);
		if ((rc = ledger_submit(led, body, k, when)) == 0) {
			ledger_head(led, hash);
			*seq = ledger_entries(led) - 1;
		}
		json_decref(body);
	}
	ledger_close(led);
	if (rc == 0) {
		mpz_set_str(prize, c->prize, 10);
		*payouts = settle_record(c->id, bid, c->customer, prize, &pay,
		    refund, 0);
	}
out:
	settle_list_clear(&pay);
	mpz_clears(refund, prize, NULL);
	return rc;
}

int
market_pay_ledger(const char *ledger_path, const market_listing *l,
    const dml_key *k, const char *when, json_t **payment)
{
	char hex[65], head[65];
	json_t *body;
	ledger *led;
	mpz_t bal, price;
	int rc;

	*payment = NULL;
	key_hex(k->pk, 32, hex);
	if ((rc = ledger_open(&led, ledger_path, LEDGER_WRITE, NULL, NULL)) < 0)
		return rc;
	mpz_inits(bal, price, NULL);
	ledger_balance(led, hex, bal);
	mpz_set_str(price, l->price, 10);
	if (mpz_cmp(bal, price) < 0) {
		char *b = mpz_get_str(NULL, 10, bal);
		dml_error("insufficient funds: listing %s costs %s tokens, the "
		    "balance of %.16s... is %s", l->id, l->price, hex, b);
		free(b);
		rc = LEDGER_REJECT;
	} else {
		body = json_pack("{s:s,s:s,s:s}", "op", "transfer", "to",
		    l->developer, "amount", l->price);
		if ((rc = ledger_submit(led, body, k, when)) == 0) {
			ledger_head(led, head);
			*payment = market_ledger_payment(ledger_entries(led) - 1,
			    head);
		}
		json_decref(body);
	}
	mpz_clears(bal, price, NULL);
	ledger_close(led);
	return rc;
}

int
market_comp_escrow(const char *ledger_path, const market_comp *c,
    const dml_key *k, const char *when)
{
	json_t *body;
	ledger *led;
	int rc;

	if ((rc = ledger_open(&led, ledger_path, LEDGER_WRITE, NULL, NULL)) < 0)
		return rc;
	body = json_pack("{s:s,s:s,s:s,s:O,s:s}", "op", "escrow", "job", c->id,
	    "amount", c->prize, "deadline", json_object_get(c->rec,
	    "award_by"), "customer", c->customer);
	rc = ledger_submit(led, body, k, when);
	json_decref(body);
	ledger_close(led);
	return rc;
}
