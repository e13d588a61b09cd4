/* dml-market's private header: the options its commands read and the
 * helpers the command files share. main.c parses every option into `mk`
 * before it runs the command; market.c holds the helpers; listing.c,
 * license.c, compete.c and score.c one group of commands each. */
#ifndef DML_MARKET_CMD_H
#define DML_MARKET_CMD_H

#include "chain.h"
#include "cid.h"
#include "cli.h"
#include "market.h"
#include "record.h"

/* Every option's value (NULL: not given), checked where cli can. */
struct mk_opts {
	const char *ledger, *index, *repo, *api, *output;
	const char *algorithm, *category, *description, *price, *license;
	const char *keyword, *max_price, *listing, *job, *time;
	const char *images, *labels, *prize, *split, *deadline, *award_by;
	const char *metric, *competition, *model, *leaderboard, *nonce;
	const char *rpc, *escrow, *eth_key, *payees;
	long period;			/* --period, or 0 */
	long long now;			/* --time, or the clock */
	long long deadline_at, award_at;	/* --deadline, --award-by */
};
extern struct mk_opts mk;

/* The commands (cli_cmd run functions). */
int mk_publish(cli *c);
int mk_add(cli *c);
int mk_search(cli *c);
int mk_acquire(cli *c);
int mk_verify(cli *c);
int mk_compete(cli *c);
int mk_enter(cli *c);
int mk_score(cli *c);
int mk_award(cli *c);

/* An option's value, or a usage error "WHAT is required". */
const char *mk_need(const char *v, const char *what);
/* -i, else the default index; -L, else the default ledger. */
const char *mk_index(void);
const char *mk_ledger(void);
/* Write one record to -o (whole) or stdout. */
void mk_write(const json_t *r);
/* --rpc, --escrow, -K: a connection to the node (c->out unset); with
 * need_book, -P is required. */
void mk_chain(chain *c, int need_book);
/* A CID argument, or a file whose CID (of its bytes) is wanted. */
void mk_cid_arg(const char *arg, char out[CID_MAXSTR]);
/* Store a record's line on IPFS; its CID must be the record's id. */
void mk_store(const json_t *r, const char *id);
/* The bytes of a CID from the IPFS store, verified block by block (*p
 * malloc'd, NUL-terminated). */
void mk_fetch(const char *id, char **p, size_t *n);

/* Hand every record of the operands (none: standard input) to fn, which
 * returns -1 to refuse it; a bad record ends the program (exit 1). */
void mk_each_record(const cli *c,
    int (*fn)(const rec_in *, json_t *, void *), void *ctx);
/* A growing array of records of one kind. */
struct mk_many {
	void *v;
	size_t n, cap, size;
	const market_comp *comp;	/* entries: their competition */
};
/* The next free slot (count it with m->n++ once it is filled). */
void *mk_many_next(struct mk_many *m);

#endif
