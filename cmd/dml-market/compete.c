/* dml-market compete and enter: a competition posted with its prize
 * escrowed, and the entries to it. */
#include <stdlib.h>
#include <string.h>

#include "dml-market.h"
#include "ipfs.h"
#include "model.h"
#include "sign.h"
#include "timefmt.h"
#include "util.h"

static void
parse_split(const char *s, json_t *a)
{
	char *d = xstrdup(s), *save, *tok;
	long v;

	for (tok = strtok_r(d, ",", &save); tok; tok = strtok_r(NULL, ",",
	    &save)) {
		if (dml_parse_long(tok, 1, 100, &v) < 0)
			cli_usage_error("--split: '%s' is not a percentage "
			    "from 1 to 100", tok);
		json_array_append_new(a, json_integer(v));
	}
	free(d);
}

static void
set_time(json_t *r, const char *field, long long t)
{
	char buf[32];

	timefmt_format(t, buf);
	json_object_set_new(r, field, json_string(buf));
}

/* The unsigned dml.competition the options describe. */
static json_t *
competition_new(void)
{
	char img[CID_MAXSTR], lab[CID_MAXSTR], nb[33];
	unsigned char nonce[16];
	json_t *r, *split = json_array();

	if (cid_of_file(mk_need(mk.images, "--images FILE"), img) < 0 ||
	    cid_of_file(mk_need(mk.labels, "--labels FILE"), lab) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (strcmp(mk_need(mk.prize, "--prize N"), "0") == 0)
		cli_usage_error("--prize: want a positive decimal token amount");
	mk_need(mk.deadline, "--deadline TIME");
	if (mk.deadline_at <= mk.now)
		cli_usage_error("--deadline is not after the creation time");
	if (!mk.award_by)
		mk.award_at = mk.deadline_at + 7 * 86400;
	parse_split(mk.split ? mk.split : "100", split);
	r = rec_new("dml.competition");
	json_object_set_new(r, "test", json_pack("{s:s,s:s}", "images", img,
	    "labels", lab));
	json_object_set_new(r, "metric", json_string(mk.metric ? mk.metric :
	    "accuracy"));
	json_object_set_new(r, "prize", json_string(mk.prize));
	json_object_set_new(r, "split", split);
	set_time(r, "created", mk.now);
	set_time(r, "deadline", mk.deadline_at);
	set_time(r, "award_by", mk.award_at);
	if (mk.description)
		json_object_set_new(r, "description",
		    json_string(mk.description));
	if (mk.nonce)
		json_object_set_new(r, "nonce", json_string(mk.nonce));
	else {
		randombytes_buf(nonce, sizeof nonce);
		key_hex(nonce, sizeof nonce, nb);
		json_object_set_new(r, "nonce", json_string(nb));
	}
	if (!json_object_get(r, "nonce"))
		cli_usage_error("--nonce must be UTF-8");
	return r;
}

/* On chain: the prize deposited on JobEscrow under the competition's id. */
static void
deposit_chain(const market_comp *comp)
{
	chain ch;
	int rc;

	mk_chain(&ch, 0);
	if (!mk.eth_key)
		cli_usage_error("--rpc needs -K ETHKEY (the depositor)");
	if (!(ch.out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	if ((rc = chain_deposit_id(&ch, comp->id, comp->prize,
	    comp->award_by)) < 0)
		dml_fail(dml_exit_of(rc));
	rec_out_abort(ch.out);
	chain_close(&ch);
}

int
mk_compete(cli *c)
{
	market_comp comp;
	json_t *r;
	rec_out *out;
	char hex[65];
	dml_key k;
	int rc;

	cli_max_operands(c, 0);
	if (mk.rpc && mk.ledger)
		cli_usage_error("-L (the ledger) or --rpc (a chain), not both");
	r = competition_new();
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "customer", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (market_comp_from_record(NULL, json_incref(r), &comp) < 0)
		cli_usage_error("%s", dml_errmsg());
	if (!(out = rec_out_open(mk.output)) || rec_out_write(out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	/* the prize is escrowed under the competition's id until award_by */
	if (mk.rpc)
		deposit_chain(&comp);
	else if ((rc = market_comp_escrow(mk_ledger(), &comp, &k,
	    mk.time)) < 0)
		dml_fail(dml_exit_of(rc));
	key_free(&k);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_comp_free(&comp);
	json_decref(r);
	return 0;
}

/* Store the entry's model on IPFS under the CID the entry names. */
static void
store_model(const char *path, const char *want)
{
	char got[CID_MAXSTR];
	ipfs_store *st;
	uint64_t size;
	cid id;
	int rc;

	if (!(st = ipfs_open(mk.repo, mk.api)))
		dml_fail(DML_EXIT_USAGE);
	if ((rc = ipfs_add_file(st, path, 0, &id, &size)) < 0)
		dml_fail(dml_exit_of(rc));
	ipfs_close(st);
	cid_str(&id, got);
	if (strcmp(got, want) != 0)
		dml_die(DML_EXIT_USAGE, "%s changed while it was stored", path);
}

int
mk_enter(cli *c)
{
	char hex[65], mc[CID_MAXSTR];
	market_comp comp;
	market_entry e;
	dml_model m;
	json_t *r;
	dml_key k;

	cli_max_operands(c, 0);
	if (market_comp_load(mk_need(mk.competition, "--competition FILE"),
	    &comp) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (model_load(&m, mk_need(mk.model, "--model FILE")) < 0)
		dml_fail(DML_EXIT_REJECT);
	model_free(&m);
	if (cid_of_file(mk.model, mc) < 0)
		dml_fail(DML_EXIT_USAGE);
	r = rec_new("dml.entry");
	json_object_set_new(r, "competition", json_string(comp.id));
	json_object_set_new(r, "model", json_string(mc));
	set_time(r, "created", mk.now);
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, hex);
	json_object_set_new(r, "entrant", json_string(hex));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	if (market_entry_from_record(NULL, json_incref(r), &comp, &e) < 0)
		dml_die(DML_EXIT_REJECT, "%s", dml_errmsg());
	/* only a valid entry's model is stored, under the CID it names */
	store_model(mk.model, mc);
	mk_write(r);
	market_entry_free(&e);
	market_comp_free(&comp);
	json_decref(r);
	return 0;
}
