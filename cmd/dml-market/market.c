/* dml-market: the helpers its commands share (see dml-market.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dml-market.h"
#include "ipfs.h"
#include "ledger.h"
#include "util.h"

const char *
mk_need(const char *v, const char *what)
{
	if (!v)
		cli_usage_error("%s is required", what);
	return v;
}

const char *
mk_index(void)
{
	if (!mk.index)
		mk.index = market_index_default();	/* kept */
	return mk.index;
}

const char *
mk_ledger(void)
{
	if (!mk.ledger)
		mk.ledger = ledger_default_path();	/* kept */
	return mk.ledger;
}

void
mk_write(const json_t *r)
{
	if (rec_out_one(mk.output, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
}

void
mk_chain(chain *c, int need_book)
{
	const char *escrow = mk.escrow ? mk.escrow : getenv("DML_ETH_ESCROW");

	chain_init(c);
	if (chain_connect(c, mk.rpc) < 0)
		cli_usage_error("--rpc: %s", dml_errmsg());
	if (!escrow || eth_address_parse(escrow, c->escrow) < 0)
		cli_usage_error("--escrow ADDR (or $DML_ETH_ESCROW): the "
		    "JobEscrow whose token pays%s%s", escrow ? ": " : "",
		    escrow ? dml_errmsg() : "");
	c->has_escrow = 1;
	if (mk.eth_key) {
		if (eth_key_load(mk.eth_key, &c->key) < 0)
			dml_fail(DML_EXIT_USAGE);
		c->has_key = 1;
	}
	if (need_book && !mk.payees)
		cli_usage_error("--rpc needs -P BOOK (the address book)");
}

void
mk_cid_arg(const char *arg, char out[CID_MAXSTR])
{
	cid c;

	if (access(arg, F_OK) == 0) {
		if (cid_of_file(arg, out) < 0)
			dml_fail(DML_EXIT_USAGE);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		cli_usage_error("'%s' is neither a file nor a CID", arg);
	strcpy(out, arg);
}

void
mk_store(const json_t *r, const char *id)
{
	ipfs_store *st = ipfs_open(mk.repo, mk.api);
	char *line, s[CID_MAXSTR];
	size_t n;
	cid c;
	int rc;

	if (!st)
		dml_fail(DML_EXIT_USAGE);
	if (!(line = canon_dump(r, NULL, NULL, &n)))
		dml_fail(DML_EXIT_USAGE);
	line[n++] = '\n';
	if ((rc = ipfs_add_bytes(st, line, n, 0, &c)) < 0)
		dml_fail(dml_exit_of(rc));
	cid_str(&c, s);
	if (strcmp(s, id) != 0)
		dml_die(DML_EXIT_REJECT, "%s: stored as %s, not as its id %s",
		    ipfs_where(st), s, id);
	free(line);
	ipfs_close(st);
}

static int
file_sink(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : dml_error("out of memory");
}

void
mk_fetch(const char *id, char **p, size_t *n)
{
	ipfs_store *st = ipfs_open(mk.repo, mk.api);
	FILE *f = open_memstream(p, n);
	cid c;
	int rc;

	if (!st || !f || cid_parse(&c, id) < 0)
		dml_fail(DML_EXIT_USAGE);
	if ((rc = ipfs_cat(st, &c, file_sink, f)) < 0)
		dml_die(dml_exit_of(rc), "%s: %s", id, dml_errmsg());
	if (fclose(f) != 0)
		dml_die(DML_EXIT_USAGE, "out of memory");
	ipfs_close(st);
}

void
mk_each_record(const cli *c, int (*fn)(const rec_in *, json_t *, void *),
    void *ctx)
{
	for (int i = 0; i < (c->nops ? c->nops : 1); i++) {
		rec_in *in = rec_open(cli_operand(c, i));
		json_t *r;
		int rc;

		if (!in)
			dml_fail(DML_EXIT_USAGE);
		rec_set_copy(in, 1);
		while ((rc = rec_next(in, &r)) > 0)
			if (fn(in, r, ctx) < 0)
				dml_fail(DML_EXIT_REJECT);
		if (rc < 0)
			dml_fail(DML_EXIT_REJECT);
		rec_close(in);
	}
}

void *
mk_many_next(struct mk_many *m)
{
	if (m->n == m->cap)
		m->v = xrealloc(m->v, (m->cap = m->cap ? 2 * m->cap : 16) *
		    m->size);
	return (char *)m->v + m->n * m->size;
}
