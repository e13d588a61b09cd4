/* dml-market acquire and verify: licenses, paid on the ledger or on
 * chain. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dml-market.h"
#include "ipfs.h"
#include "job.h"
#include "sign.h"
#include "util.h"

/* A listing named by a CID: from the index, else from the IPFS store. */
static void
listing_by_cid(const char *arg, const cid *c, market_listing *l)
{
	market_listing *v;
	json_error_t je;
	size_t n, len;
	char *buf;
	json_t *r;

	if (market_index_load(mk_index(), &v, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, arg) == 0) {
			*l = v[i];
			v[i].rec = NULL;
			market_listings_free(v, n);
			return;
		}
	market_listings_free(v, n);
	{	/* a blockstore answers at once whether it has the block */
		ipfs_store *st = ipfs_open(mk.repo, mk.api);
		int has = st && !ipfs_is_remote(st) ?
		    ipfs_block_has(st, c) : 1;
		ipfs_close(st);
		if (has != 1)
			dml_die(DML_EXIT_REJECT, "unknown listing %s: not in "
			    "the index %s nor in the IPFS store", arg,
			    mk_index());
	}
	mk_fetch(arg, &buf, &len);
	r = json_loadb(buf, len, 0, &je);
	free(buf);
	if (!r)
		dml_die(DML_EXIT_REJECT, "%s:%d: malformed JSON: %s", arg,
		    je.line, je.text);
	if (market_listing_from_record(NULL, r, l) < 0)
		dml_die(DML_EXIT_REJECT, "%s: %s", arg, dml_errmsg());
	if (strcmp(l->id, arg) != 0)
		dml_die(DML_EXIT_REJECT, "%s: the record stored there is not "
		    "canonical (its id is %s)", arg, l->id);
}

/* A listing: a file, or a CID found in the index or else on IPFS. */
static void
find_listing(const char *arg, market_listing *l)
{
	json_t *r;
	cid c;

	if (access(arg, F_OK) == 0) {
		rec_in *in;
		if (!(r = rec_read_one(arg, &in)) ||
		    market_listing_from_record(in, r, l) < 0)
			dml_fail(DML_EXIT_REJECT);
		rec_close(in);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		cli_usage_error("--listing: '%s' is neither a file nor a CID",
		    arg);
	listing_by_cid(arg, &c, l);
}

/* Pay listing l's price in tokens on chain: the transaction. */
static json_t *
pay_chain(const market_listing *l, const char *hex)
{
	json_t *pay;
	chain c;
	int rc;

	mk_chain(&c, 1);
	if (!mk.eth_key)
		cli_usage_error("--rpc needs -K ETHKEY (the payer)");
	if ((rc = chain_pay_listing(&c, l, hex, mk.payees, &pay)) < 0)
		dml_fail(dml_exit_of(rc));
	chain_close(&c);
	return pay;
}

/* Pay listing l's price on the ledger: the entry's seq and hash. */
static json_t *
pay_ledger(const market_listing *l, const dml_key *k)
{
	json_t *pay;
	int rc;

	if ((rc = market_pay_ledger(mk_ledger(), l, k, mk.time, &pay)) < 0)
		dml_fail(dml_exit_of(rc));
	return pay;
}

int
mk_acquire(cli *c)
{
	market_listing l;
	market_license lic;
	json_t *r;
	char hex[65];
	rec_out *out;
	dml_key k;

	cli_max_operands(c, 0);
	if (mk.rpc && mk.ledger)
		cli_usage_error("-L (the ledger) or --rpc (a chain), not both");
	if (!mk.rpc && (mk.escrow || mk.eth_key || mk.payees))
		cli_usage_error("--escrow, -K and -P need --rpc URL");
	find_listing(mk_need(mk.listing, "--listing CID|FILE"), &l);
	if (key_load(cli_need_key(c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_hex(k.pk, 32, hex);
	if (strcmp(hex, l.developer) == 0)
		dml_die(DML_EXIT_REJECT, "listing %s is your own", l.id);
	if (!(out = rec_out_open(mk.output)))
		dml_fail(DML_EXIT_USAGE);
	r = market_license_new(&l, hex, mk.now, mk.rpc ? pay_chain(&l, hex) :
	    pay_ledger(&l, &k));
	if (rec_sign(r, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	if (market_license_from_record(NULL, json_incref(r), &lic) < 0)
		dml_die(DML_EXIT_USAGE, "%s", dml_errmsg());
	if (rec_out_write(out, r, NULL) < 0 || rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	market_license_free(&lic);
	market_listing_free(&l);
	json_decref(r);
	return 0;
}

/* -j: the job must be one the license allows; its id in jid. */
static void
check_job(const market_license *lic, char jid[CID_MAXSTR])
{
	dml_job j;

	if (job_load(mk.job, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (market_license_for_job(lic, &j) < 0)
		dml_die(DML_EXIT_REJECT, "%s: %s", mk.job, dml_errmsg());
	strcpy(jid, j.id);
	job_free(&j);
}

int
mk_verify(cli *c)
{
	market_license lic;
	char jid[CID_MAXSTR] = "";
	int rc;

	cli_max_operands(c, 0);
	if (!mk.rpc && (mk.escrow || mk.payees))
		cli_usage_error("--escrow and -P need --rpc URL");
	if (market_license_load(mk_need(mk.license, "--license FILE"),
	    &lic) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (mk.job)
		check_job(&lic, jid);
	/* -L: the payment (unless it is on chain and --rpc checks it) and,
	 * for a single-use license, the escrow that used it */
	if (mk.ledger && !(lic.pay_chain && mk.rpc) &&
	    (rc = market_license_paid(&lic, mk.ledger)) < 0)
		dml_fail(dml_exit_of(rc));
	if (mk.ledger && (rc = market_license_unused(&lic, mk.ledger, *jid ?
	    jid : NULL)) < 0)
		dml_fail(dml_exit_of(rc));
	if (mk.rpc) {
		chain ch;
		mk_chain(&ch, 1);
		if ((rc = chain_license_paid(&lic, &ch, mk.payees)) < 0)
			dml_fail(dml_exit_of(rc));
		chain_close(&ch);
	}
	market_license_free(&lic);
	return 0;
}
