/* dml-ledger's private header: the options every command reads (filled
 * by main.c before the command runs) and the argument helpers the command
 * files share. Not for: anything another program could use (lib/ledger). */
#ifndef DML_LEDGER_CMD_H
#define DML_LEDGER_CMD_H

#include "cid.h"
#include "cli.h"
#include "ledger.h"

/* Every option of every command, checked as read; cli's table says which
 * command takes which. */
struct ledger_opts {
	const char *ledger, *time, *output, *supply, *growth, *bounty, *to, *amount,
	    *job, *reason, *owners;
	long epoch;			/* -1: not given */
	json_t *alloc;			/* [{"to","amount"}...] in given order */
};
extern struct ledger_opts o;

/* Open the ledger (-L, else the default path) or exit; warns about a torn
 * last line. */
ledger *open_ledger(int flags, ledger_visit_fn visit, void *ctx);
/* Main's last step when its answer is one record: R to -o's file (whole)
 * or standard output; takes R. */
void print_final(json_t *r);
/* A public key argument of option `opt` as hex, or a usage error. */
void key_arg(const char *opt, const char *arg, char hex[65]);
/* --job: a job file or a job id, as the job's id. */
void job_arg(const char *arg, char id[CID_MAXSTR]);
/* An ACCOUNT operand: a reserved name, or anything naming a key. */
void account_arg(const char *arg, char *out, size_t n);

/* The commands (write.c, read.c). */
int cmd_genesis(cli *c);
int cmd_transfer(cli *c);
int cmd_escrow(cli *c);
int cmd_refund(cli *c);
int cmd_bounty(cli *c);
int cmd_emit(cli *c);
int cmd_verify(cli *c);
int cmd_balance(cli *c);
int cmd_history(cli *c);

#endif
