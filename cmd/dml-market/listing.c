/* dml-market publish, add and search: the listings and their index. */
#include <stdlib.h>
#include <string.h>

#include "dml-market.h"
#include "sign.h"
#include "timefmt.h"
#include "util.h"

/* The unsigned dml.listing the options describe. */
static json_t *
listing_new(void)
{
	char alg[CID_MAXSTR], t[32];
	const char *price, *desc;
	enum market_kind kind;
	json_t *r, *lic;

	mk_cid_arg(mk_need(mk.algorithm, "--algorithm FILE|CID"), alg);
	price = mk_need(mk.price, "--price N");
	if (strcmp(price, "0") == 0)
		cli_usage_error("--price: '0' is not a positive decimal token "
		    "amount");
	if (market_kind_parse(mk_need(mk.license, "--license KIND"),
	    &kind) < 0)
		cli_usage_error("--license: %s", dml_errmsg());
	if (kind == LICENSE_SUBSCRIPTION && !mk.period)
		cli_usage_error("a subscription needs --period DAYS (1 to "
		    "36600)");
	if (kind == LICENSE_SINGLE && mk.period)
		cli_usage_error("--period applies to subscriptions");
	desc = mk_need(mk.description, "--description TEXT");
	lic = json_pack("{s:s}", "kind", market_kind_name(kind));
	if (mk.period)
		json_object_set_new(lic, "period_days", json_integer(mk.period));
	r = rec_new("dml.listing");
	json_object_set_new(r, "algorithm", json_string(alg));
	json_object_set_new(r, "category",
	    json_string(mk_need(mk.category, "--category C")));
	json_object_set_new(r, "description", json_string(desc));
	if (!json_object_get(r, "description") ||
	    !json_object_get(r, "category"))
		cli_usage_error("--category and --description must be UTF-8");
	json_object_set_new(r, "price", json_string(price));
	json_object_set_new(r, "license", lic);
	timefmt_format(mk.now, t);
	json_object_set_new(r, "created", json_string(t));
	return r;
}

int
mk_publish(cli *c)
{
	market_listing l;
	json_t *r;
	size_t added;
	char hex[65];
	dml_key k;

	cli_max_operands(c, 0);
	r = listing_new();
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "developer", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	/* what we sign must be what every reader accepts */
	if (market_listing_from_record(NULL, json_incref(r), &l) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	mk_store(r, l.id);
	if (market_index_add(mk_index(), &l, 1, &added) < 0)
		dml_fail(DML_EXIT_USAGE);
	mk_write(r);
	market_listing_free(&l);
	json_decref(r);
	return 0;
}

static int
add_listing(const rec_in *in, json_t *r, void *ctx)
{
	struct mk_many *m = ctx;

	if (market_listing_from_record(in, r, mk_many_next(m)) < 0)
		return -1;
	m->n++;
	return 0;
}

int
mk_add(cli *c)
{
	struct mk_many m = {NULL, 0, 0, sizeof(market_listing), NULL};
	market_listing *v;
	size_t added;
	rec_out *out;

	mk_each_record(c, add_listing, &m);
	v = m.v;
	if (!(out = rec_out_open(mk.output)))
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < m.n; i++)
		if (rec_out_write(out, v[i].rec, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
	if (market_index_add(mk_index(), v, m.n, &added) < 0 ||
	    rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_listings_free(v, m.n);
	return 0;
}

int
mk_search(cli *c)
{
	market_query q = {mk.category, mk.keyword, mk.max_price};
	market_listing *v;
	size_t n;
	rec_out *out;

	cli_max_operands(c, 0);
	if (market_index_load(mk_index(), &v, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!(out = rec_out_open(mk.output)))
		dml_fail(DML_EXIT_USAGE);
	for (size_t i = 0; i < n; i++)
		if (market_listing_match(&v[i], &q) &&
		    rec_out_write(out, v[i].rec, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_listings_free(v, n);
	return 0;
}
