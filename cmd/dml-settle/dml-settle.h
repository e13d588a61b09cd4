/* dml-settle's private header: the options (read by main.c before a
 * command runs) and the commands, on the ledger (ledger.c) and on an
 * Ethereum node (chain.c). Not for: settlement rules (lib/ledger, lib/chain). */
#ifndef DML_SETTLE_CMD_H
#define DML_SETTLE_CMD_H

#include "cli.h"

struct opts {
	/* a settlement's inputs, on the ledger or the chain */
	const char *job, *stored, *contrib, *comp, *board;
	const char *output;		/* -o, or NULL: standard output */
	/* the ledger only */
	const char *ledger, *time;
	int dry, key_given;		/* --dry-run; -k given (not $DML_KEY) */
	/* the chain */
	const char *rpc, *escrow, *ethkey, *book, *payouts, *address, *role,
	    *contracts, *settler, *to, *amount, *owners, *reason, *supply,
	    *growth, *bounty;
	long chain_id, nonce, timeout, index, period, epoch;	/* -1: none */
	int proof_only, force;
	int chain_opt;			/* an option of the chain's given */
};
extern struct opts o;

/* A job's (or a competition's) settlement on the ledger. */
int ledger_run(cli *c);
/* The chain's commands (chain.c): settle (a job's or a competition's),
 * claim, deploy, deposit, status|refund|sweep, emit, bounty|transfer,
 * balance. */
int chain_settle_run(cli *c);
int claim_run(cli *c);
int deploy_run(cli *c);
int deposit_run(cli *c);
int job_run(cli *c);
int emit_run(cli *c);
int move_run(cli *c);
int balance_run(cli *c);

#endif
