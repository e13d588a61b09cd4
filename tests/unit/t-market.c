/* t-market: amounts, listing order and search, ranking and prize split
 * (market); run order, windows and the clearing price, and the rules that
 * admit or refuse a waiting job: reserve, capacity, deadline, the escrow
 * covering the bid, one job per single-use license, each job once
 * (auction). */
#include <stdlib.h>
#include <string.h>

#include "auction.h"
#include "job.h"
#include "ledger.h"
#include "market.h"
#include "settle.h"
#include "sign.h"
#include "tap.h"
#include "util.h"

static char *
bid_str(const mpz_t b)
{
	static char buf[100];
	mpz_get_str(buf, 10, b);
	return buf;
}

static void
test_amounts(void)
{
	ok(amount_cmp("9", "10") < 0, "9 < 10 as numbers");
	ok(amount_cmp("100", "99") > 0, "100 > 99");
	ok(amount_cmp("42", "42") == 0, "42 = 42");
	ok(amount_ok("0") && amount_ok("123"), "amounts");
	ok(!amount_ok("01") && !amount_ok("") &&
	    !amount_ok("-1") && !amount_ok("1.5"),
	    "no leading zero, sign, point or empty amount");
}

static void
test_listings(void)
{
	market_listing a = {0}, b = {0}, c = {0};
	market_query q = {0};

	a.category = "vision"; a.price = "9"; strcpy(a.id, "bz");
	a.description = "Shirt detector";
	b.category = "vision"; b.price = "10"; strcpy(b.id, "ba");
	b.description = "shoes";
	c.category = "audio"; c.price = "500"; strcpy(c.id, "bb");
	c.description = "speech";
	ok(market_listing_cmp(&c, &a) < 0, "category first");
	ok(market_listing_cmp(&a, &b) < 0, "then price as a number (9 < 10)");
	b.price = "9";
	ok(market_listing_cmp(&b, &a) < 0, "then the id");
	q.keyword = "SHIRT";
	ok(market_listing_match(&a, &q) && !market_listing_match(&b, &q),
	    "keyword ignores case");
	q.keyword = "vis";
	ok(market_listing_match(&b, &q), "keyword in the category");
	q.keyword = NULL;
	q.max_price = "9";
	ok(market_listing_match(&a, &q) && !market_listing_match(&c, &q),
	    "max price");
	q.max_price = NULL;
	q.category = "audio";
	ok(market_listing_match(&c, &q) && !market_listing_match(&a, &q),
	    "category exactly");
}

static void
test_prizes(void)
{
	market_entry e[4] = {{0}};
	market_score s[4];
	market_comp c = {0};
	settle_list l;
	mpz_t refund;
	const char *who[4] = {
	    "1111111111111111111111111111111111111111111111111111111111111111",
	    "2222222222222222222222222222222222222222222222222222222222222222",
	    "3333333333333333333333333333333333333333333333333333333333333333",
	    "1111111111111111111111111111111111111111111111111111111111111111"};
	double score[4] = {0.5, 0.8, 0.8, 0.7};
	long long created[4] = {10, 30, 20, 5};

	for (int i = 0; i < 4; i++) {
		e[i].entrant = who[i];
		e[i].created = created[i];
		snprintf(e[i].id, sizeof e[i].id, "b%d", i);
		s[i].e = &e[i];
		s[i].score = score[i];
	}
	market_rank(s, 4);
	ok(s[0].e == &e[2] && s[1].e == &e[1] && s[2].e == &e[3] &&
	    s[3].e == &e[0], "rank: score, then the earlier entry");
	c.prize = "1001";
	c.split[0] = 50; c.split[1] = 30; c.split[2] = 10;
	c.nsplit = 3;
	settle_list_init(&l);
	mpz_init(refund);
	market_prizes(&c, s, 4, &l, refund);
	/* ranks: 3333 500, 2222 300, 1111 100 (floor of 1001 x %) */
	ok(l.n == 3, "three payouts");
	ok(l.n == 3 && strcmp(l.v[0].to, who[0]) == 0 &&
	    mpz_cmp_ui(l.v[0].amount, 100) == 0 &&
	    mpz_cmp_ui(l.v[1].amount, 300) == 0 &&
	    mpz_cmp_ui(l.v[2].amount, 500) == 0, "sorted by account, floors");
	ok(mpz_cmp_ui(refund, 101) == 0, "refund: 1001 - 900 = %s",
	    bid_str(refund));
	settle_list_clear(&l);
	/* the same entrant in ranks 1 and 2: one payout, the sum */
	s[0].e = &e[0]; s[1].e = &e[3];
	settle_list_init(&l);
	market_prizes(&c, s, 2, &l, refund);
	ok(l.n == 1 && mpz_cmp_ui(l.v[0].amount, 800) == 0 &&
	    mpz_cmp_ui(refund, 201) == 0, "two winning entries paid as one");
	settle_list_clear(&l);
	mpz_clear(refund);
}

static void
job(auction_job *j, const char *id, const char *bid, long long created,
    long long devices)
{
	memset(j, 0, sizeof *j);
	strcpy(j->id, id);
	j->bid = xstrdup(bid);
	j->created = created;
	j->devices = devices;
}

static void
test_auction(void)
{
	auction_job *v = xcalloc(5, sizeof *v);
	long long w[5];
	size_t ahead;
	mpz_t b;

	job(&v[0], "bA", "10", 2, 3);
	job(&v[1], "bB", "20", 3, 2);
	job(&v[2], "bC", "10", 1, 4);
	job(&v[3], "bD", "5", 1, 5);
	job(&v[4], "bE", "30", 4, 6);
	auction_sort(v, 5);
	ok(strcmp(v[0].id, "bE") == 0 && strcmp(v[1].id, "bB") == 0 &&
	    strcmp(v[2].id, "bC") == 0 && strcmp(v[3].id, "bA") == 0 &&
	    strcmp(v[4].id, "bD") == 0, "bid, then arrival");
	auction_windows(v, 5, 10, w);
	ok(w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] == 1 && w[4] == 2,
	    "windows filled strictly in order");
	mpz_init(b);
	ok(auction_suggest(v, 5, 10, 1, "0", b, &ahead) == 0 &&
	    mpz_cmp_ui(b, 11) == 0 && ahead == 2, "1 device: 11 (%s), 2 ahead",
	    bid_str(b));
	ok(auction_suggest(v, 5, 10, 4, "0", b, &ahead) == 0 &&
	    mpz_cmp_ui(b, 21) == 0 && ahead == 1, "4 devices: 21 (%s)",
	    bid_str(b));
	ok(auction_suggest(v, 5, 100, 1, "3", b, &ahead) == 0 &&
	    mpz_cmp_ui(b, 3) == 0 && ahead == 5,
	    "room for all: the reserve (%s)", bid_str(b));
	ok(auction_suggest(v, 0, 10, 10, "0", b, &ahead) == 0 &&
	    mpz_cmp_ui(b, 0) == 0 && ahead == 0, "no jobs waiting");
	ok(auction_suggest(v, 5, 10, 11, "0", b, &ahead) < 0 &&
	    strstr(dml_errmsg(), "never fits"), "too many devices");
	mpz_clear(b);
	auction_jobs_free(v, 5);
}

static dml_key cust, other, auth;
static char lic[CID_MAXSTR];

/* A job as job_from_escrowed leaves it, for the fields the auction reads:
 * its record (created, deadline, reward, license), id, customer and
 * min_devices. Free with job_free. */
static void
fake_job(dml_job *j, const char *nonce, const dml_key *k, const char *bid,
    long long devices, const char *budget, const char *license)
{
	char hex[65];

	memset(j, 0, sizeof *j);
	key_hex(k->pk, 32, hex);
	j->rec = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "type",
	    "dml.job", "v", 1, "nonce", nonce, "customer", hex, "created",
	    "2026-01-02T00:00:00Z", "deadline", "2026-03-01T00:00:00Z",
	    "reward", "per_device", bid, "budget", budget);
	if (license)
		json_object_set_new(j->rec, "license", json_pack("{s:s,s:s}",
		    "id", license, "kind", "single"));
	job_id(j->rec, j->id);
	memcpy(j->customer, k->pk, 32);
	j->min_devices = devices;
}

/* Escrow job j's budget, signed by k (who must be its customer for the
 * ledger to take it). */
static int
escrow(ledger *l, const dml_job *j, const dml_key *k)
{
	json_t *b = ledger_escrow_body(j);
	int rc;

	if (k != &cust) {
		char hex[65];
		key_hex(k->pk, 32, hex);
		json_object_set_new(b, "customer", json_string(hex));
	}
	rc = ledger_submit(l, b, k, "2026-01-10T00:00:00Z");
	json_decref(b);
	return rc;
}

static ledger *
auction_ledger(void)
{
	ledger *l = ledger_new();
	char c[65], o[65];
	json_t *b;

	key_hex(cust.pk, 32, c);
	key_hex(other.pk, 32, o);
	b = json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "op",
	    "genesis", "supply", "100000", "growth_pool", "0", "bounty_pool",
	    "0", "alloc", "to", strcmp(c, o) < 0 ? c : o, "amount", "1000",
	    "to", strcmp(c, o) < 0 ? o : c, "amount", "1000");
	if (ledger_submit(l, b, &auth, "2026-01-01T00:00:00Z") < 0)
		dml_die(1, "genesis: %s", dml_errmsg());
	json_decref(b);
	return l;
}

static void
test_escrow_rule(void)
{
	ledger *l = auction_ledger();
	dml_job a, b, c, d;

	fake_job(&a, "a", &cust, "10", 3, "30", NULL);
	ok(auction_escrow_covers(l, &a, "10") < 0 &&
	    strcmp(dml_errmsg(), "no escrow on the ledger") == 0,
	    "no escrow: refused");
	ok(escrow(l, &a, &cust) == 0, "escrow of 30");
	ok(auction_escrow_covers(l, &a, "10") == 0,
	    "an escrow of 30 covers a bid of 10 x 3 devices");
	ok(auction_escrow_covers(l, &a, "11") < 0 && strcmp(dml_errmsg(),
	    "escrow 30 does not cover the bid 11 x 3 devices = 33") == 0,
	    "nor a bid of 11: %s", dml_errmsg());
	/* an escrow of the job's id made by someone else backs nothing */
	fake_job(&b, "b", &cust, "10", 3, "30", NULL);
	ok(escrow(l, &b, &other) == 0, "another customer escrows job b");
	ok(auction_escrow_covers(l, &b, "10") < 0 && strcmp(dml_errmsg(),
	    "the escrow is not the job's customer's") == 0,
	    "not the customer's escrow: refused");
	/* a single-use license: the ledger escrows the first job only */
	fake_job(&c, "c", &cust, "10", 3, "30", lic);
	fake_job(&d, "d", &cust, "10", 3, "30", lic);
	ok(escrow(l, &c, &cust) == 0 && escrow(l, &d, &cust) == LEDGER_REJECT,
	    "the ledger escrows one job per single-use license");
	ok(auction_escrow_covers(l, &c, "10") == 0, "the first job runs");
	ok(auction_escrow_covers(l, &d, "10") < 0 &&
	    strstr(dml_errmsg(), "single-use license") &&
	    strstr(dml_errmsg(), c.id), "the second is told which job holds "
	    "the license: %s", dml_errmsg());
	job_free(&a);
	job_free(&b);
	job_free(&c);
	job_free(&d);
	ledger_close(l);
}

static void
test_admit(void)
{
	ledger *l = auction_ledger();
	auction_terms t = {l, 10, 1767830400LL /* 2026-01-08 */, "5"};
	auction_job a;
	dml_job j;

	fake_job(&j, "ok", &cust, "10", 3, "30", lic);
	escrow(l, &j, &cust);
	ok(auction_admit(&t, NULL, &j, &a) == 0 && strcmp(a.id, j.id) == 0 &&
	    strcmp(a.bid, "10") == 0 && a.devices == 3 &&
	    a.created == 1767312000LL && a.license &&
	    strcmp(a.license, lic) == 0 && !a.line,
	    "admitted: id, bid, devices, created, single-use license");
	free(a.bid);
	free(a.license);
	t.reserve = "11";
	ok(auction_admit(&t, NULL, &j, &a) == AUCTION_REFUSED &&
	    strstr(dml_errmsg(), "below the reserve"), "below the reserve");
	t.reserve = "0";
	t.cap = 2;
	ok(auction_admit(&t, NULL, &j, &a) == AUCTION_REFUSED &&
	    strstr(dml_errmsg(), "more devices than a window"),
	    "more devices than a window");
	t.cap = 10;
	t.now = 1772323200LL;	/* 2026-03-01, the deadline */
	ok(auction_admit(&t, NULL, &j, &a) == AUCTION_REFUSED &&
	    strstr(dml_errmsg(), "deadline has passed"), "the deadline passed");
	t.now = 1767830400LL;
	json_object_set_new(j.rec, "created", json_string("yesterday"));
	ok(auction_admit(&t, NULL, &j, &a) == -1 &&
	    strstr(dml_errmsg(), "\"created\""),
	    "a bad created time is a bad record, not a refusal");
	job_free(&j);
	ledger_close(l);
}

struct told {
	int n;
	char last[512];
};

static void
told(void *ctx, const auction_job *j, const char *why)
{
	struct told *t = ctx;

	t->n++;
	snprintf(t->last, sizeof t->last, "%s: %s", j->id, why);
}

static void
test_single_use(void)
{
	auction_job *v = xcalloc(5, sizeof *v);
	struct told t = {0};
	size_t n;
	int seen[5] = {0};

	job(&v[0], "bA", "30", 5, 1);
	job(&v[1], "bB", "10", 2, 1);	/* the first to name license L */
	job(&v[2], "bC", "50", 3, 1);	/* names L later: refused */
	job(&v[3], "bD", "10", 2, 1);	/* names L as early, id after bB */
	job(&v[4], "bE", "10", 1, 1);	/* names license M */
	v[1].license = xstrdup("L");
	v[2].license = xstrdup("L");
	v[3].license = xstrdup("L");
	v[4].license = xstrdup("M");
	n = auction_single_use(v, 5, told, &t);
	ok(n == 3 && t.n == 2, "two jobs refused, three kept");
	for (size_t i = 0; i < n; i++)
		seen[v[i].id[1] - 'A'] = 1;
	ok(seen[0] && seen[1] && !seen[2] && !seen[3] && seen[4],
	    "kept: no license, the first to name L, the one naming M");
	ok(strcmp(t.last, "bD: single-use license L is bound to job bB") == 0 ||
	    strcmp(t.last, "bC: single-use license L is bound to job bB") == 0,
	    "the refusal names the job holding it: %s", t.last);
	auction_jobs_free(v, n);
	v = xcalloc(3, sizeof *v);
	job(&v[0], "bA", "1", 1, 1);
	job(&v[1], "bB", "1", 1, 1);
	job(&v[2], "bA", "2", 2, 1);
	ok(auction_unique(v, 2) == 0, "distinct jobs");
	ok(auction_unique(v, 3) < 0 &&
	    strcmp(dml_errmsg(), "job bA is listed twice") == 0,
	    "a job listed twice");
	auction_jobs_free(v, 3);
}

static void
test_license_for_job(void)
{
	market_license c = {0};
	char hex[65];
	dml_job j;

	key_hex(cust.pk, 32, hex);
	strcpy(c.id, lic);
	c.kind = LICENSE_SINGLE;
	c.licensee = hex;
	c.algorithm = "algX";
	c.valid_from = 1767225600LL;		/* 2026-01-01 */
	c.valid_until = -1;
	fake_job(&j, "l", &cust, "10", 3, "30", lic);
	j.model = "algX";
	ok(market_license_for_job(&c, &j) == 0, "the job may use the license");
	j.model = "algY";
	ok(market_license_for_job(&c, &j) < 0 &&
	    strstr(dml_errmsg(), "is for algorithm algX, not algY"),
	    "another algorithm: %s", dml_errmsg());
	j.model = "algX";
	c.kind = LICENSE_SUBSCRIPTION;
	c.valid_until = 1767312000LL;		/* 2026-01-02, its creation */
	ok(market_license_for_job(&c, &j) < 0 &&
	    strstr(dml_errmsg(), "single, it is subscription"),
	    "the job calls a subscription single-use: %s", dml_errmsg());
	json_object_set_new(json_object_get(j.rec, "license"), "kind",
	    json_string("subscription"));
	ok(market_license_for_job(&c, &j) < 0 &&
	    strstr(dml_errmsg(), "expired at 2026-01-02T00:00:00Z"),
	    "an expired subscription: %s", dml_errmsg());
	json_object_del(j.rec, "license");
	ok(market_license_for_job(&c, &j) < 0 &&
	    strstr(dml_errmsg(), "the job names no license"),
	    "a job naming no license");
	job_free(&j);
}

int
main(void)
{
	dml_setprog("t-market");
	test_amounts();
	test_listings();
	test_prizes();
	test_auction();
	if (dml_crypto_init() < 0 || key_generate(&cust, NULL) < 0 ||
	    key_generate(&other, NULL) < 0 || key_generate(&auth, NULL) < 0)
		dml_die(1, "keys: %s", dml_errmsg());
	cid_of_bytes("a license", 9, lic);
	test_escrow_rule();
	test_admit();
	test_single_use();
	test_license_for_job();
	key_free(&cust);
	key_free(&other);
	key_free(&auth);
	return done_testing();
}
