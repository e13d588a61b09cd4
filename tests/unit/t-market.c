/* t-market: amounts, listing order and search, ranking and prize split
 * (market); run order, windows and the clearing price (auction). */
#include <stdlib.h>
#include <string.h>

#include "auction.h"
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

int
main(void)
{
	dml_setprog("t-market");
	test_amounts();
	test_listings();
	test_prizes();
	test_auction();
	return done_testing();
}
