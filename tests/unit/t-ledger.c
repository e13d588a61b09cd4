/* The ledger's state machine and file: every rule, the emission schedule,
 * 10,000 random operations (valid and invalid) against a shadow model with
 * the invariants checked after each, replay of the file they make, and
 * recovery from a torn last line cut at every byte. */
#include "ledger.h"
#include "job.h"
#include "util.h"
#include "dmltest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NK 6			/* signing keys; K[0] is the authority */
#define ND 40			/* device accounts (never sign) */
#define T0 1767225600LL		/* 2026-01-01T00:00:00Z */

static dml_key K[NK];
static char khex[NK][65], dhex[ND][65];
static ledger *L;
static long long now_t = T0;
static FILE *lines;		/* every accepted line, for the replay test */

static unsigned long long rng = 20261125;

static unsigned long long
rnd(unsigned long long n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

static int
submit_at(json_t *body, int who, long long t)
{
	char ts[32];
	int rc;

	timefmt_format(t, ts);
	rc = ledger_submit(L, body, &K[who], ts);
	if (rc == 0) {
		size_t n;
		const char *s = ledger_last_line(L, &n);
		fwrite(s, 1, n, lines);
		fputc('\n', lines);
		now_t = t;
	}
	json_decref(body);
	return rc;
}

static char *
num(unsigned long long x)
{
	static char buf[8][24];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, 24, "%llu", x);
	return b;
}

static unsigned long long
bal(const char *acct)
{
	mpz_t b;
	unsigned long long x;

	mpz_init(b);
	ledger_balance(L, acct, b);
	x = mpz_get_ui(b);
	mpz_clear(b);
	return x;
}

static void
make_job_id(int n, char out[CID_MAXSTR])
{
	char b[32];
	snprintf(b, sizeof b, "job-%d", n);
	cid_of_bytes(b, strlen(b), out);
}

/* ---- the rules, one at a time ------------------------------------------- */

/* Genesis, transfers and time. */
static void
rules_genesis(void)
{
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[1],
	    "amount", "1"), 0, T0) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "no genesis"), "nothing before a genesis");
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s}", "op", "genesis", "supply",
	    "100", "growth_pool", "60", "bounty_pool", "50"), 0, T0) ==
	    LEDGER_REJECT && strstr(dml_errmsg(), "exceed the supply"),
	    "pools above the supply refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}",
	    "op", "genesis", "supply", "1000000", "growth_pool", "64000",
	    "bounty_pool", "1000", "alloc", "to", khex[2], "amount", "10",
	    "to", khex[1], "amount", "10"), 0, T0) == LEDGER_REJECT,
	    "unsorted allocations refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s}]}", "op",
	    "genesis", "supply", "1000000", "growth_pool", "64000",
	    "bounty_pool", "1000", "alloc", "to", khex[1], "amount", "5000"), 0,
	    T0) == 0, "genesis");
	ok(bal(khex[0]) == 1000000 - 64000 - 1000 - 5000 &&
	    bal(LEDGER_GROWTH) == 64000 && bal(LEDGER_BOUNTY) == 1000 &&
	    bal(khex[1]) == 5000, "the rest of the supply goes to the authority");
	ok(strcmp(ledger_authority(L), khex[0]) == 0, "the genesis signer is "
	    "the authority");
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s}", "op", "genesis", "supply",
	    "1", "growth_pool", "0", "bounty_pool", "0"), 0, T0) ==
	    LEDGER_REJECT, "a second genesis refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[2],
	    "amount", "5001"), 1, T0) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "insufficient funds"), "overdraft refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[2],
	    "amount", "0"), 1, T0) == LEDGER_REJECT, "zero transfer refused");
	ok(submit_at(json_pack("{s:s,s:s,s:i}", "op", "transfer", "to", khex[2],
	    "amount", 5), 1, T0) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "must be a string"), "a numeric amount refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to",
	    LEDGER_BOUNTY, "amount", "1"), 1, T0) == LEDGER_REJECT,
	    "transfers go to keys only");
	ok(submit_at(json_pack("{s:s,s:s}", "op", "mint", "amount", "1"), 0,
	    T0) == LEDGER_REJECT && strstr(dml_errmsg(), "unknown op"),
	    "an unknown op refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[2],
	    "amount", "5000"), 1, T0 + 10) == 0 && bal(khex[1]) == 0 &&
	    bal(khex[2]) == 5000, "transfer of a whole balance");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[1],
	    "amount", "1"), 2, T0 + 9) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "before"), "time never goes backwards");
}

/* Escrow, refund, settle. */
static void
rules_escrow(void)
{
	char id[CID_MAXSTR], report[CID_MAXSTR];
	json_t *b;
	settle_list p;
	mpz_t refund;

	make_job_id(1, id);
	make_job_id(99, report);
	b = json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "escrow", "job", id,
	    "amount", "300", "deadline", "2026-01-01T01:00:00Z", "customer",
	    khex[2]);
	ok(submit_at(json_deep_copy(b), 3, T0 + 10) == LEDGER_REJECT,
	    "an escrow signed by another than the customer refused");
	ok(submit_at(json_deep_copy(b), 2, T0 + 3600) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "passed"), "an escrow at its deadline refused");
	ok(submit_at(json_deep_copy(b), 2, T0 + 10) == 0 &&
	    bal(khex[2]) == 4700, "escrow locks the budget");
	ok(submit_at(b, 2, T0 + 11) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "already has"), "a second escrow for a job");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id,
	    "amount", "300"), 2, T0 + 3599) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "has not come"), "no refund before the deadline");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id,
	    "amount", "300"), 3, T0 + 3600) == LEDGER_REJECT,
	    "no refund to another than the customer");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id,
	    "amount", "299"), 2, T0 + 3600) == LEDGER_REJECT,
	    "a refund is the whole escrow");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id,
	    "amount", "300"), 2, T0 + 3600) == 0 && bal(khex[2]) == 5000,
	    "refund after the deadline");
	settle_list_init(&p);
	mpz_init_set_ui(refund, 0);
	{
		mpz_t a;
		mpz_init_set_ui(a, 300);
		settle_list_add(&p, dhex[0], settle_role("device"), a);
		mpz_clear(a);
	}
	ok(submit_at(ledger_settle_body(id, report, NULL, khex[2], &p, refund),
	    4, T0 + 3601) == LEDGER_REJECT && strstr(dml_errmsg(), "refunded"),
	    "no settle after a refund");
	make_job_id(2, id);
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "escrow", "job",
	    id, "amount", "300", "deadline", "2026-01-01T02:00:00Z", "customer",
	    khex[2]), 2, T0 + 3601) == 0, "second job escrowed");
	mpz_set_ui(refund, 1);
	ok(submit_at(ledger_settle_body(id, report, NULL, khex[2], &p, refund),
	    4, T0 + 3602) == LEDGER_REJECT && strstr(dml_errmsg(), "add up"),
	    "payouts + refund must equal the escrow");
	mpz_set_ui(refund, 0);
	ok(submit_at(ledger_settle_body(id, report, NULL, khex[3], &p, refund),
	    4, T0 + 3602) == LEDGER_REJECT, "the settle names the customer");
	ok(submit_at(ledger_settle_body(id, "bafy", NULL, khex[2], &p, refund),
	    4, T0 + 3602) == LEDGER_REJECT, "the report must be a CID");
	ok(submit_at(ledger_settle_body(id, report, NULL, khex[2], &p, refund),
	    4, T0 + 3602) == 0 && bal(dhex[0]) == 300 &&
	    bal("escrow:bafkreifn6a5ttp4jxhmkhmudnlbo4x7uyoeu2ckaorjt6a5ruhf"
	    "2cj5bhe") == 0, "settle by any node pays out the escrow");
	ok(submit_at(ledger_settle_body(id, report, NULL, khex[2], &p, refund),
	    4, T0 + 3602) == LEDGER_REJECT && strstr(dml_errmsg(), "settled"),
	    "a job settles once");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id,
	    "amount", "300"), 2, T0 + 7200) == LEDGER_REJECT,
	    "no refund after a settle");
	settle_list_clear(&p);
	mpz_clear(refund);
}

/* Bounty, emit. */
static void
rules_pools(void)
{
	json_t *b;

	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "bounty", "to", khex[3],
	    "amount", "10"), 1, T0 + 7200) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), "authority"), "only the authority pays bounties");
	ok(submit_at(json_pack("{s:s,s:s,s:s}", "op", "bounty", "to", khex[3],
	    "amount", "1001"), 0, T0 + 7200) == LEDGER_REJECT,
	    "a bounty above the pool refused");
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s}", "op", "bounty", "to",
	    khex[3], "amount", "1000", "reason", "CVE"), 0, T0 + 7200) == 0 &&
	    bal(LEDGER_BOUNTY) == 0 && bal(khex[3]) == 1000, "bounty paid");
	{
		char ow[3][65];
		memcpy(ow[0], khex[3], 65);
		memcpy(ow[1], dhex[1], 65);
		memcpy(ow[2], dhex[2], 65);
		qsort(ow, 3, 65, (int (*)(const void *, const void *))strcmp);
		ok(ledger_emit_body(L, 0, ow, 3, &b) == 0, "emit body");
		ok(strcmp(json_string_value(json_object_get(b, "amount")),
		    "1000") == 0, "epoch 0 emits P0/64");
		json_t *bad = json_deep_copy(b);
		json_object_set_new(json_array_get(json_object_get(bad,
		    "payouts"), 0), "amount", json_string("99999"));
		ok(submit_at(bad, 1, T0 + 7200) == LEDGER_REJECT,
		    "only the authority emits");
		bad = json_deep_copy(b);
		json_object_set_new(json_array_get(json_object_get(bad,
		    "payouts"), 0), "amount", json_string("99999"));
		ok(submit_at(bad, 0, T0 + 7200) == LEDGER_REJECT &&
		    strstr(dml_errmsg(), "payout"), "altered emission payouts "
		    "refused");
		ok(submit_at(b, 0, T0 + 7200) == 0, "emit epoch 0");
		/* 900 in equal shares of 300, 100 in 3 draws (3 owners) of
		 * 33; the 1 left stays in the pool */
		ok(bal(ow[0]) + bal(ow[1]) + bal(ow[2]) == 1000 + 999 &&
		    bal(LEDGER_GROWTH) == 63001, "the epoch's 1000: 3 x 300 + "
		    "3 draws of 33, 1 stays in the pool");
		ledger_emit_body(L, 0, ow, 3, &b);
		ok(submit_at(b, 0, T0 + 7200) == LEDGER_REJECT &&
		    strstr(dml_errmsg(), "not after"), "epochs strictly increase");
	}
}

static void
rules(void)
{
	char ts[32], head[65];

	L = ledger_new();
	rules_genesis();
	rules_escrow();
	rules_pools();
	ledger_head(L, head);
	ok(ledger_check(L) == 0, "invariants hold");
	timefmt_format(ledger_last_time(L), ts);
	is_str(ts, "2026-01-01T02:00:00Z", "last time kept");
	ledger_close(L);
}

static void
emission(void)
{
	mpz_t p0, e, sum, prev;
	settle_list a, b;
	unsigned char h[32] = {7};
	char ow[20][65];
	int dec = 1;

	mpz_inits(p0, e, sum, prev, NULL);
	mpz_set_str(p0, "1000000000000000000000", 10);
	ledger_emission(p0, 0, e);
	mpz_set_str(prev, "15625000000000000000", 10);
	ok(mpz_cmp(e, prev) == 0, "E0 = P0 / 64");
	ledger_emission(p0, 1, e);
	mpz_set_str(prev, "15380859375000000000", 10);
	ok(mpz_cmp(e, prev) == 0, "E1 = P0 * 63 / 64^2");
	ledger_emission(p0, 2, e);
	mpz_set_str(prev, "15140533447265625000", 10);
	ok(mpz_cmp(e, prev) == 0, "E2 = floor(P0 * 63^2 / 64^3)");
	mpz_set(prev, p0);
	for (long long k = 0; k < 4000; k++) {
		ledger_emission(p0, k, e);
		if (mpz_cmp(e, prev) > 0)
			dec = 0;
		mpz_set(prev, e);
		mpz_add(sum, sum, e);
	}
	ok(dec, "the schedule never increases");
	ok(mpz_cmp(sum, p0) <= 0, "4000 epochs never emit more than the pool");
	ledger_emission(p0, 4000, e);
	ok(mpz_sgn(e) == 0, "the pool is spent out in the end");
	ledger_emission(p0, LEDGER_MAX_EPOCH, e);
	ok(mpz_sgn(e) == 0, "far epochs emit nothing, quickly");

	for (int i = 0; i < 20; i++)
		snprintf(ow[i], 65, "%064x", i + 1);
	settle_list_init(&a);
	settle_list_init(&b);
	mpz_set_ui(e, 1001);
	ledger_emit_payouts(h, 5, e, ow, 20, &a);
	ledger_emit_payouts(h, 5, e, ow, 20, &b);
	int same = a.n == b.n;
	for (size_t i = 0; same && i < a.n; i++)
		same = !strcmp(a.v[i].to, b.v[i].to) &&
		    a.v[i].role == b.v[i].role &&
		    !mpz_cmp(a.v[i].amount, b.v[i].amount);
	ok(same, "draws are reproducible");
	/* 1001: base 900 -> 45 each (0 left); extra 101 -> 10 draws of 10 */
	ok(mpz_cmp_ui(a.total, 20 * 45 + 100) == 0, "owners 45 each, draws "
	    "10 each, remainder stays in the pool");
	settle_list_clear(&b);
	settle_list_init(&b);
	h[0] = 8;
	ledger_emit_payouts(h, 5, e, ow, 20, &b);
	same = a.n == b.n;
	for (size_t i = 0; same && i < a.n; i++)
		same = !strcmp(a.v[i].to, b.v[i].to) &&
		    a.v[i].role == b.v[i].role;
	ok(!same, "another chain head draws other owners");
	settle_list_clear(&a);
	settle_list_clear(&b);
	mpz_clears(p0, e, sum, prev, NULL);
}

/* ---- 10,000 random operations ------------------------------------------- */

#define MAXJOBS 4000
static struct {
	char id[CID_MAXSTR];
	int customer, state;		/* state: 0 open, 1 settled, 2 refunded */
	unsigned long long amount;
	long long deadline;
} jobs[MAXJOBS];
static int njobs;

/* shadow balances: keys, devices, growth, bounty */
static unsigned long long sk[NK], sd[ND], sgrowth, sbounty;
static int nbad, kinds[16];
enum { K_OK, K_FUNDS, K_FORMAT, K_SIGNER, K_STATE, K_TIME, K_DEADLINE,
	K_SUM, K_ORDER, K_EPOCH, K_FORGED, K_UNKNOWN, K_N };

static unsigned long long *
shadow(const char *acct)
{
	for (int i = 0; i < NK; i++)
		if (!strcmp(acct, khex[i]))
			return &sk[i];
	for (int i = 0; i < ND; i++)
		if (!strcmp(acct, dhex[i]))
			return &sd[i];
	if (!strcmp(acct, LEDGER_GROWTH))
		return &sgrowth;
	return &sbounty;
}

static const char *
anyone(void)
{
	return rnd(2) ? khex[rnd(NK)] : dhex[rnd(ND)];
}

static void
expect(int rc, int kind, long op)
{
	int want = kind == K_OK;

	kinds[kind]++;
	if ((rc == 0) != want) {
		if (nbad++ < 5)
			printf("# op %ld (kind %d): rc %d: %s\n", op, kind, rc,
			    dml_errmsg());
	}
}

static int
pstrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The random run's genesis: every key but the authority's gets 1000000. */
static void
random_genesis(void)
{
	json_t *a = json_array();
	char *al[NK];
	for (int i = 1; i < NK; i++)
		al[i] = khex[i];
	qsort(al + 1, NK - 1, sizeof *al, pstrcmp);
	for (int i = 1; i < NK; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "to",
		    al[i], "amount", "1000000"));
	ok(submit_at(json_pack("{s:s,s:s,s:s,s:s,s:o}", "op", "genesis",
	    "supply", "10000000000000000", "growth_pool", "1000000000000000",
	    "bounty_pool", "1000000", "alloc", a), 0, T0) == 0,
	    "random run: genesis");
	for (int i = 1; i < NK; i++)
		sk[i] = 1000000;
	sk[0] = 10000000000000000ULL - 1000000000000000ULL - 1000000 -
	    5000000;
	sgrowth = 1000000000000000ULL;
	sbounty = 1000000;
}

/* A transfer, sometimes of a bad amount, to a pool or overdrawn. */
static int
rand_transfer(long long t, int *kind)
{
	int rc;
	int f = (int)rnd(NK), to = (int)rnd(NK);
	unsigned long long a = 1 + rnd(sk[f] + sk[f] / 2 + 2);
	const char *as = num(a), *tos = khex[to];
	if (rnd(30) == 0) {
		as = rnd(2) ? "0" : "1.5";
		*kind = *kind ? *kind : K_FORMAT;
	} else if (rnd(30) == 0) {
		tos = LEDGER_GROWTH;
		*kind = *kind ? *kind : K_FORMAT;
	} else if (a > sk[f])
		*kind = *kind ? *kind : K_FUNDS;
	rc = submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer",
	    "to", tos, "amount", as), f, t);
	if (rc == 0) {
		sk[f] -= a;
		sk[to] += a;
	}
	return rc;
}

/* An escrow, sometimes by another, of a job escrowed before, past its deadline or overdrawn. */
static int
rand_escrow(long long t, int *kind)
{
	int rc, who;
	int c = (int)rnd(NK), j = njobs;
	unsigned long long a = rnd(sk[c] / 1000 + 2);
	long long dl = t + 1 + (long long)rnd(30);
	char ds[32];
	who = c;
	make_job_id(j, jobs[j].id);
	if (rnd(30) == 0) {
		who = (c + 1) % NK;
		*kind = *kind ? *kind : K_SIGNER;
	} else if (rnd(30) == 0 && njobs) {
		strcpy(jobs[j].id, jobs[rnd(njobs)].id);
		*kind = *kind ? *kind : K_STATE;
	} else if (rnd(30) == 0) {
		dl = t - (long long)rnd(2);
		*kind = *kind ? *kind : K_DEADLINE;
	} else if (a > sk[c])
		*kind = *kind ? *kind : K_FUNDS;
	timefmt_format(dl, ds);
	rc = submit_at(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op",
	    "escrow", "job", jobs[j].id, "amount", num(a),
	    "deadline", ds, "customer", khex[c]), who, t);
	if (rc == 0) {
		jobs[j].customer = c;
		jobs[j].amount = a;
		jobs[j].deadline = dl;
		jobs[j].state = 0;
		sk[c] -= a;
		njobs++;
	}
	return rc;
}

/* A settle of a random job, sometimes with a bad sum, customer or order. */
static int
rand_settle(long long t, int *kind, const char *report)
{
	json_t *b;
	int rc;
	int j = (int)rnd(njobs), m = (int)rnd(5);
	static const char *roles[] = {"device", "report",
	    "federated", "developer"};
	unsigned long long left = jobs[j].amount;
	settle_list p;
	mpz_t x, refund;
	settle_list_init(&p);
	mpz_inits(x, refund, NULL);
	for (int i = 0; i < m; i++) {
		unsigned long long a = rnd(left + 1);
		mpz_set_ui(x, a);
		settle_list_add(&p, dhex[(j * 7 + i) % ND],
		    settle_role(roles[rnd(4)]), x);
		left -= a;
	}
	settle_list_sort(&p);
	mpz_set_ui(refund, left);
	const char *cust = khex[jobs[j].customer];
	if (jobs[j].state)
		*kind = *kind ? *kind : K_STATE;
	if (rnd(25) == 0) {
		mpz_add_ui(refund, refund, 1);
		*kind = *kind ? *kind : K_SUM;
	} else if (rnd(25) == 0) {
		cust = khex[(jobs[j].customer + 1) % NK];
		*kind = *kind ? *kind : K_SIGNER;
	}
	b = ledger_settle_body(jobs[j].id, report, NULL, cust, &p,
	    refund);
	if (p.n >= 2 && rnd(20) == 0) {
		json_t *pa = json_object_get(b, "payouts");
		json_t *first = json_incref(json_array_get(pa, 0));
		json_array_remove(pa, 0);
		json_array_append_new(pa, first);
		*kind = *kind ? *kind : K_ORDER;
	}
	rc = submit_at(b, (int)rnd(NK), t);
	if (rc == 0) {
		for (size_t i = 0; i < p.n; i++)
			*shadow(p.v[i].to) += mpz_get_ui(
			    p.v[i].amount);
		sk[jobs[j].customer] += left;
		jobs[j].state = 1;
	}
	settle_list_clear(&p);
	mpz_clears(x, refund, NULL);
	return rc;
}

/* A refund, sometimes by another, of a settled job or before the deadline. */
static int
rand_refund(long long t, int *kind)
{
	int rc, who;
	int j = (int)rnd(njobs);
	who = jobs[j].customer;
	if (rnd(20) == 0) {
		who = (who + 1) % NK;
		*kind = *kind ? *kind : K_SIGNER;
	}
	if (jobs[j].state)
		*kind = *kind ? *kind : K_STATE;
	else if (t < jobs[j].deadline)
		*kind = *kind ? *kind : K_DEADLINE;
	rc = submit_at(json_pack("{s:s,s:s,s:s}", "op", "refund",
	    "job", jobs[j].id, "amount", num(jobs[j].amount)),
	    who, t);
	if (rc == 0) {
		sk[jobs[j].customer] += jobs[j].amount;
		jobs[j].state = 2;
	}
	return rc;
}

/* A bounty, sometimes by another than the authority or above the pool. */
static int
rand_bounty(long long t, int *kind)
{
	int rc, who;
	const char *to = anyone();
	unsigned long long a = 1 + rnd(sbounty / 20 + 2);
	who = 0;
	if (rnd(15) == 0) {
		who = 1 + (int)rnd(NK - 1);
		*kind = *kind ? *kind : K_SIGNER;
	} else if (a > sbounty)
		*kind = *kind ? *kind : K_FUNDS;
	rc = submit_at(json_pack("{s:s,s:s,s:s}", "op", "bounty",
	    "to", to, "amount", num(a)), who, t);
	if (rc == 0) {
		sbounty -= a;
		*shadow(to) += a;
	}
	return rc;
}

/* An emission to random owners, sometimes of an old epoch or forged; *stop when none can be made. */
static int
rand_emit(long long t, int *kind, int *stop)
{
	json_t *b;
	int rc;
	char ow[NK + ND][65];
	int n = 0;
	long long ep = ledger_last_epoch(L) + 1 +
	    (long long)rnd(2);
	json_t *pay;
	size_t i;
	for (int i2 = 0; i2 < NK + ND; i2++)
		if (rnd(4) == 0)
			memcpy(ow[n++], i2 < NK ? khex[i2] :
			    dhex[i2 - NK], 65);
	if (n == 0)
		memcpy(ow[n++], khex[1], 65);
	qsort(ow, (size_t)n, 65,
	    (int (*)(const void *, const void *))strcmp);
	if (rnd(20) == 0 && ledger_last_epoch(L) >= 0) {
		ep = ledger_last_epoch(L) - (long long)rnd(2);
		*kind = *kind ? *kind : K_EPOCH;
	}
	if (ledger_emit_body(L, ep, ow, (size_t)n, &b) < 0)
		return *stop = 1, 0;
	pay = json_object_get(b, "payouts");
	if (json_array_size(pay) == 0)
		*kind = *kind ? *kind : K_EPOCH;
	else if (rnd(20) == 0) {
		json_object_set_new(json_array_get(pay, 0),
		    "amount", json_string("1"));
		*kind = *kind ? *kind : K_FORGED;
	}
	json_incref(b);
	rc = submit_at(b, 0, t);
	if (rc == 0) {
		json_t *x;
		json_array_foreach(pay, i, x) {
			unsigned long long a = strtoull(
			    json_string_value(json_object_get(x,
			    "amount")), NULL, 10);
			*shadow(json_string_value(
			    json_object_get(x, "to"))) += a;
			sgrowth -= a;
		}
	}
	json_decref(b);
	return rc;
}

/* An unknown op or a second genesis. */
static int
rand_odd(long long t, int *kind)
{
	json_t *b;
	int rc;

	*kind = *kind ? *kind : K_UNKNOWN;
	if (rnd(2))
		b = json_pack("{s:s,s:s}", "op", "mint",
		    "amount", "5");
	else
		b = json_pack("{s:s,s:s,s:s,s:s}", "op",
		    "genesis", "supply", "5", "growth_pool",
		    "0", "bounty_pool", "0");
	rc = submit_at(b, 0, t);
	return rc;
}

/* After each operation: the invariants, nothing changed by a refusal,
 * the balances of the shadow model. Adds to *inv and *mism. */
static void
random_check(int rc, long long entries, const char *head, int *inv,
    int *mism)
{
	char head2[65];

	if (ledger_check(L) < 0)
		(*inv)++;
	ledger_head(L, head2);
	if (rc != 0 && (ledger_entries(L) != entries ||
	    strcmp(head, head2)))
		(*mism)++;
	for (int i = 0; i < NK; i++)
		if (bal(khex[i]) != sk[i])
			(*mism)++;
	for (int i = 0; i < ND; i++)
		if (bal(dhex[i]) != sd[i])
			(*mism)++;
	if (bal(LEDGER_GROWTH) != sgrowth ||
	    bal(LEDGER_BOUNTY) != sbounty)
		(*mism)++;
}

static void
random_ops(void)
{
	const int N = 10000;
	long long t;
	int inv = 0, mism = 0, stop = 0;
	char report[CID_MAXSTR];

	L = ledger_new();
	make_job_id(-1, report);
	memset(sk, 0, sizeof sk);
	random_genesis();
	for (long op = 0; op < N && !stop; op++) {
		char head[65];
		long long entries = ledger_entries(L);
		unsigned long long r = rnd(100);
		int kind = K_OK, rc;

		ledger_head(L, head);
		t = now_t + (long long)rnd(4);
		if (rnd(50) == 0) {
			t = now_t - 1 - (long long)rnd(5);
			kind = K_TIME;
		}
		if (r < 40)
			rc = rand_transfer(t, &kind);
		else if (r < 52 && njobs < MAXJOBS)
			rc = rand_escrow(t, &kind);
		else if (r < 67 && njobs)
			rc = rand_settle(t, &kind, report);
		else if (r < 77 && njobs)
			rc = rand_refund(t, &kind);
		else if (r < 87)
			rc = rand_bounty(t, &kind);
		else if (r < 95) {
			rc = rand_emit(t, &kind, &stop);
			if (stop)
				break;
		} else
			rc = rand_odd(t, &kind);
		expect(rc, kind, op);
		random_check(rc, entries, head, &inv, &mism);
	}
	ok(nbad == 0, "%d operations: each accepted or refused as expected "
	    "(%d wrong)", N, nbad);
	ok(inv == 0, "after every operation: no balance below zero, supply "
	    "conserved");
	ok(mism == 0, "balances follow the shadow model; a refused operation "
	    "changes nothing (%d mismatches)", mism);
	printf("# accepted %d; refused: funds %d, format %d, signer %d, "
	    "state %d, time %d, deadline %d, sum %d, order %d, epoch %d, "
	    "forged %d, unknown %d\n", kinds[K_OK], kinds[K_FUNDS],
	    kinds[K_FORMAT], kinds[K_SIGNER], kinds[K_STATE], kinds[K_TIME],
	    kinds[K_DEADLINE], kinds[K_SUM], kinds[K_ORDER], kinds[K_EPOCH],
	    kinds[K_FORGED], kinds[K_UNKNOWN]);
	int every = 1;
	for (int k = 1; k < K_N; k++)
		if (kinds[k] < 10)
			every = 0;
	ok(every && kinds[K_OK] > 4000, "every kind of invalid operation was "
	    "tried at least 10 times");
}

/* The accepted lines as a file replay to the same state, with every
 * signature and the canonical form checked. */
static void
replay_file(const char *path)
{
	ledger *R;
	char h1[65], h2[65];
	int same = 1;

	fflush(lines);
	ok(ledger_open(&R, path, LEDGER_VERIFY, NULL, NULL) == 0,
	    "the file of accepted entries verifies: %s",
	    R ? "" : dml_errmsg());
	if (!R)
		return;
	ledger_head(L, h1);
	ledger_head(R, h2);
	ok(ledger_entries(R) == ledger_entries(L) && !strcmp(h1, h2),
	    "same entries and head (%lld)", ledger_entries(R));
	for (int i = 0; i < NK; i++) {
		mpz_t a, b;
		mpz_inits(a, b, NULL);
		ledger_balance(L, khex[i], a);
		ledger_balance(R, khex[i], b);
		same &= mpz_cmp(a, b) == 0;
		mpz_clears(a, b, NULL);
	}
	ok(same, "same balances after replay");
	ledger_close(R);

	/* the same entries applied one by one to a ledger in memory */
	{
		FILE *f = fopen(path, "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int bad = 0;
		ledger *M = ledger_new();
		while ((n = getline(&line, &cap, f)) > 0) {
			json_t *e = json_loadb(line, (size_t)n, 0, NULL);
			if (!e || ledger_apply(M, e) != 0)
				bad++;
			json_decref(e);
		}
		ledger_head(M, h2);
		ok(bad == 0 && !strcmp(h1, h2), "ledger_apply takes the same "
		    "entries to the same head");
		json_t *e = json_loads(line, 0, NULL);
		ok(ledger_apply(M, e) == LEDGER_REJECT, "an entry applied twice "
		    "is refused (%s)", dml_errmsg());
		json_object_set_new(e, "seq", json_integer(ledger_entries(M)));
		ledger_head(M, h2);
		json_object_set_new(e, "prev", json_string(h2));
		ok(ledger_apply(M, e) == LEDGER_REJECT &&
		    strstr(dml_errmsg(), "bad signature"), "a re-chained entry "
		    "without a new signature is refused");
		json_decref(e);
		free(line);
		fclose(f);
		ledger_close(M);
	}
	ledger_close(L);
}

/* ---- torn tails --------------------------------------------------------- */

static void
write_bytes(const char *path, const char *a, size_t n, const char *b,
    size_t m)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dml_write_all(fd, a, n);
	dml_write_all(fd, b, m);
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
torn(const char *dir)
{
	char *path = xasprintf("%s/torn.ndjson", dir), *buf, *last;
	char ts[32];
	size_t len, plen, llen;
	ledger *W, *R;
	int bad_read = 0, bad_write = 0, writes = 0;

	unlink(path);
	ok(ledger_open(&W, path, LEDGER_WRITE, NULL, NULL) == LEDGER_ESYS,
	    "a missing ledger is a system error without LEDGER_CREATE");
	ok(ledger_open(&W, path, LEDGER_WRITE | LEDGER_CREATE, NULL, NULL) == 0,
	    "created");
	L = W;
	submit_at(json_pack("{s:s,s:s,s:s,s:s}", "op", "genesis", "supply",
	    "1000", "growth_pool", "640", "bounty_pool", "0"), 0, T0);
	submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[1],
	    "amount", "7"), 0, T0);
	submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to", khex[2],
	    "amount", "8"), 0, T0);
	ledger_close(W);
	dml_read_file(path, &buf, &len);
	last = memrchr(buf, '\n', len - 1) + 1;
	plen = (size_t)(last - buf);
	llen = len - plen - 1;		/* the last line without newline */
	for (size_t k = 1; k <= llen; k++) {
		write_bytes(path, buf, plen, last, k);
		if (ledger_open(&R, path, 0, NULL, NULL) != 0 ||
		    ledger_entries(R) != 2 || ledger_torn(R) != (off_t)k) {
			bad_read++;
			if (R)
				ledger_close(R);
			continue;
		}
		ledger_close(R);
		if (file_size(path) != (off_t)(plen + k))
			bad_read++;	/* a reader never cuts */
		if (k % 7 && k != llen)
			continue;
		writes++;
		L = NULL;
		if (ledger_open(&W, path, LEDGER_WRITE, NULL, NULL) != 0 ||
		    file_size(path) != (off_t)plen) {
			bad_write++;
			continue;
		}
		L = W;
		timefmt_format(T0 + 1, ts);
		if (submit_at(json_pack("{s:s,s:s,s:s}", "op", "transfer", "to",
		    khex[3], "amount", "9"), 0, T0 + 1) != 0)
			bad_write++;
		ledger_close(W);
		if (ledger_open(&R, path, LEDGER_VERIFY, NULL, NULL) != 0 ||
		    ledger_entries(R) != 3 || ledger_torn(R) != 0)
			bad_write++;
		else
			ledger_close(R);
	}
	ok(bad_read == 0, "a last line cut at each of its %zu bytes is seen as "
	    "torn and skipped by readers (%d bad)", llen, bad_read);
	ok(bad_write == 0 && writes > 10, "a writer discards it and the next "
	    "append verifies (%d cases, %d bad)", writes, bad_write);

	write_bytes(path, buf, len - 1, "x", 1);
	ok(ledger_open(&R, path, 0, NULL, NULL) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), ":3: a whole entry followed by"),
	    "a whole entry followed by junk is not a torn line: %s",
	    dml_errmsg());
	ok(ledger_open(&W, path, LEDGER_WRITE, NULL, NULL) == LEDGER_REJECT &&
	    file_size(path) == (off_t)len, "and a writer leaves it alone");
	write_bytes(path, buf, len, "", 0);
	ok(ledger_open(&R, path, LEDGER_VERIFY, NULL, NULL) == 0 &&
	    ledger_entries(R) == 3, "whole file verifies");
	ledger_close(R);
	write_bytes(path, "", 0, "", 0);
	ok(ledger_open(&R, path, LEDGER_VERIFY, NULL, NULL) == 0 &&
	    ledger_entries(R) == 0, "an empty ledger opens with no entries");
	ledger_close(R);
	write_bytes(path, buf, plen, "\n", 1);
	ok(ledger_open(&R, path, 0, NULL, NULL) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), ":3: empty line"), "an empty line refused");
	write_bytes(path, "{\"type\":\"dml.ledger\"}\n", 22, "", 0);
	ok(ledger_open(&R, path, 0, NULL, NULL) == LEDGER_REJECT &&
	    strstr(dml_errmsg(), ":1: missing field \"v\""),
	    "errors name file and line: %s", dml_errmsg());
	free(buf);
	unlink(path);
	free(path);
}


/* A file: one line. */
static void
write_line(const char *path, json_t *r)
{
	FILE *f = fopen(path, "w");

	rec_write(f, r, NULL);
	fclose(f);
	json_decref(r);
}

/* The settle transaction (ledger_settle_job) on a file ledger and the one
 * dml.appended builder every writer uses. */
static void
settle_job(const char *dir)
{
	static const char *cid0 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
	char *path = xasprintf("%s/settle.ndjson", dir),
	     *stored = xasprintf("%s/stored.json", dir),
	     *contrib = xasprintf("%s/contrib.json", dir), hex[65], ts[32];
	json_t *r, *pr, *ap, *want;
	ledger *W;
	dml_job j;
	long long n;
	int rc;

	ok(ledger_open(&W, path, LEDGER_WRITE | LEDGER_CREATE, NULL, NULL) == 0,
	    "a new file ledger");
	timefmt_format(T0, ts);
	r = json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s}]}", "op", "genesis",
	    "supply", "100000", "growth_pool", "0", "bounty_pool", "0", "alloc",
	    "to", khex[2], "amount", "5000");
	ok(ledger_submit(W, r, &K[0], ts) == 0, "genesis");
	json_decref(r);
	ap = ledger_appended(W, "genesis");
	ledger_head(W, hex);
	want = json_pack("{s:s,s:i,s:s,s:i,s:s}", "type", "dml.appended", "v", 1,
	    "op", "genesis", "seq", 0, "hash", hex);
	ok(json_equal(ap, want), "ledger_appended: type, v, op, seq, hash");
	json_decref(ap);
	json_decref(want);

	r = json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s,s:{s:s,s:s,s:[i,i],s:i},"
	    "s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}}", "type", "dml.job", "v", 1, "task",
	    "predict", "data", "toy", "min_devices", 2, "rounds", 1, "deadline",
	    "2026-02-01T00:00:00Z", "algorithm", "model", cid0, "arch", "mlp",
	    "layers", 4, 3, "params", 15, "reward", "budget", "1000",
	    "per_device", "7", "developer_fee", "0", "trainer_pool", "0",
	    "node_fees", "distributing", "0", "federated", "0", "report", "0",
	    "refining", "0");
	json_object_set_new(r, "customer", json_string(khex[2]));
	rec_sign(r, &K[2]);
	rc = job_from_record(NULL, r, &j);
	ok(rc == 0, "a signed job%s%s", rc ? ": " : "", rc ? dml_errmsg() : "");
	if (rc < 0)
		return;
	timefmt_format(T0 + 60, ts);
	r = ledger_escrow_body(&j);
	ok(ledger_submit(W, r, &K[2], ts) == 0, "its escrow");
	json_decref(r);
	ledger_close(W);

	write_line(stored, json_pack("{s:s,s:i,s:s,s:i,s:s}", "type",
	    "dml.stored", "v", 1, "cid", cid0, "size", 0, "name", "report"));
	r = json_pack("{s:s,s:i,s:s,s:[s,s,s]}", "type", "dml.contributions",
	    "v", 1, "job", j.id, "devices", dhex[0], dhex[1], dhex[2]);
	rec_sign(r, &K[3]);
	write_line(contrib, r);

	timefmt_format(T0 + 120, ts);
	ok(ledger_settle_job(path, &j, stored, contrib, NULL, ts, &pr, &ap) == 0 &&
	    pr && !ap, "a dry run: the payouts, no entry");
	ok(strcmp(json_string_value(json_object_get(pr, "paid")), "21") == 0 &&
	    strcmp(json_string_value(json_object_get(pr, "refund")), "979") == 0,
	    "3 devices at 7 paid, the rest refunded");
	json_decref(pr);
	ok(ledger_open(&W, path, 0, NULL, NULL) == 0 &&
	    ledger_entries(W) == 2, "the dry run appended nothing");
	ledger_close(W);

	ok(ledger_settle_job(path, &j, stored, contrib, &K[3], ts, &pr, &ap) == 0 &&
	    pr && ap, "settled: the payouts and the entry");
	ok(ledger_open(&W, path, 0, NULL, NULL) == 0, "reopened");
	n = ledger_entries(W);
	ledger_head(W, hex);
	want = ledger_appended_record("settle", n - 1, hex);
	ok(n == 3 && json_equal(ap, want), "its dml.appended names the entry");
	ledger_close(W);
	json_decref(want);
	json_decref(ap);
	json_decref(pr);

	ok(ledger_settle_job(path, &j, stored, contrib, &K[3], ts, &pr, &ap) ==
	    LEDGER_REJECT && !pr && !ap &&
	    strstr(dml_errmsg(), "is already settled"),
	    "a job settles once");
	unlink(contrib);
	ok(ledger_settle_job(path, &j, stored, contrib, &K[3], ts, &pr, &ap) ==
	    LEDGER_ESYS && !pr && !ap, "missing contributions: a system error");
	unlink(stored);
	unlink(path);
	job_free(&j);
	free(path);
	free(stored);
	free(contrib);
}

int
main(void)
{
	char dir[] = "/tmp/t-ledger.XXXXXX", *lpath;

	test_random();
	if (dml_crypto_init() < 0 || !mkdtemp(dir))
		return 1;
	for (int i = 0; i < NK; i++) {
		unsigned char seed[32] = {(unsigned char)(i + 1)};
		key_generate(&K[i], seed);
		key_hex(K[i].pk, 32, khex[i]);
	}
	for (int i = 0; i < ND; i++)
		snprintf(dhex[i], 65, "%064x", 0xde0000 + i);
	lpath = xasprintf("%s/random.ndjson", dir);
	lines = fopen("/dev/null", "w");
	rules();
	emission();
	fclose(lines);
	lines = fopen(lpath, "w");
	now_t = T0;
	random_ops();
	replay_file(lpath);
	fclose(lines);
	lines = fopen("/dev/null", "w");
	torn(dir);
	settle_job(dir);
	fclose(lines);
	unlink(lpath);
	rmdir(dir);
	free(lpath);
	for (int i = 0; i < NK; i++)
		key_free(&K[i]);
	return done_testing();
}
