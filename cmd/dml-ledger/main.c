/* dml-ledger: the embedded smart contract: an append-only, hash-chained,
 * signed ledger file of token movements (see lib/ledger/ledger.h). This
 * file reads the command line; write.c and read.c are the commands. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amount.h"
#include "dml-ledger.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-ledger [-L FILE] [--time TIME] COMMAND [options]\n"
"The embedded smart contract: an append-only, hash-chained, signed ledger\n"
"of tokens (default $DML_LEDGER, else $HOME/.dml/ledger.ndjson).\n"
"Writing commands (each prints the new entry's seq and hash):\n"
"  genesis  -k AUTH --supply N --growth-pool N --bounty-pool N\n"
"           [--alloc KEY=AMOUNT]...   the rest of the supply goes to AUTH\n"
"  transfer -k KEY --to KEY --amount N\n"
"  escrow   -k CUSTOMER -j FILE       lock the job's budget\n"
"  refund   -k CUSTOMER -j ID|FILE    after the deadline, if not settled\n"
"  bounty   -k AUTH --to KEY --amount N [--reason TEXT]\n"
"  emit     -k AUTH --epoch K --owners FILE   growth pool emission\n"
"Reading commands:\n"
"  verify                   replay: hashes, signatures, rules, supply\n"
"  balance [ACCOUNT]        one account, or all of them sorted\n"
"  history [ACCOUNT | -j ID|FILE]   the entries that touch it\n"
"Options:\n"
"  -L, --ledger FILE    the ledger file\n"
"      --time TIME      the entry's time, RFC 3339 UTC (default now)\n"
"  -k, --key FILE       the submitter's secret key (dml-keygen; default\n"
"                       $DML_KEY)\n"
"  -j, --job ID|FILE    the job (escrow: its file)\n"
"  -o, --output FILE    write the records to FILE (whole or not at all)\n"
"  KEY is a hex public key, a dml.pubkey file or a secret key file;\n"
"  amounts are decimal integers of tokens.\n"
"  -h, --help, --version\n";

enum { O_TIME = CLI_ID_BASE, O_SUPPLY, O_GROWTH, O_BOUNTY, O_ALLOC, O_TO,
	O_AMOUNT, O_REASON, O_EPOCH, O_OWNERS };

#define WRITERS "genesis transfer escrow refund bounty emit"
static const cli_opt opts[] = {
	{"ledger", 'L', 1, 0, NULL, 0, NULL},
	{"time", 0, 1, O_TIME, NULL, 0, NULL},
	{"key", 'k', 1, 0, WRITERS, 0, NULL},
	{"job", 'j', 1, 0, "escrow refund history", 0, NULL},
	CLI_OUTPUT,
	{"supply", 0, 1, O_SUPPLY, "genesis", 0, NULL},
	{"growth-pool", 0, 1, O_GROWTH, "genesis", 0, NULL},
	{"bounty-pool", 0, 1, O_BOUNTY, "genesis", 0, NULL},
	{"alloc", 0, 1, O_ALLOC, "genesis", 0, NULL},
	{"to", 0, 1, O_TO, "transfer bounty", 0, NULL},
	{"amount", 0, 1, O_AMOUNT, "transfer bounty", 0, NULL},
	{"reason", 0, 1, O_REASON, "bounty", 0, NULL},
	{"epoch", 0, 1, O_EPOCH, "emit", 0, NULL},
	{"owners", 0, 1, O_OWNERS, "emit", 0, NULL},
	CLI_END};

static const cli_cmd cmds[] = {
	{"genesis", cmd_genesis, NULL}, {"transfer", cmd_transfer, NULL},
	{"escrow", cmd_escrow, NULL}, {"refund", cmd_refund, NULL},
	{"bounty", cmd_bounty, NULL}, {"emit", cmd_emit, NULL},
	{"verify", cmd_verify, NULL}, {"balance", cmd_balance, NULL},
	{"history", cmd_history, NULL}, {NULL, NULL, NULL}};

struct ledger_opts o;

ledger *
open_ledger(int flags, ledger_visit_fn visit, void *ctx)
{
	static char *deflt;
	ledger *l;
	int rc;

	if (!o.ledger)
		o.ledger = deflt = ledger_default_path();
	if ((rc = ledger_open(&l, o.ledger, flags, visit, ctx)) < 0)
		dml_fail(dml_exit_of(rc));
	if (ledger_torn(l))
		dml_warn("%s: warning: a torn last line (%lld bytes, an "
		    "interrupted append) %s", o.ledger,
		    (long long)ledger_torn(l), flags & LEDGER_WRITE ?
		    "was discarded" : "is ignored; the next write discards it");
	return l;
}

void
print_final(json_t *r)
{
	if (!o.output) {
		rec_print_final(r);
		return;
	}
	if (rec_out_one(o.output, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	dml_close_stdout();
}

void
key_arg(const char *opt, const char *arg, char hex[65])
{
	unsigned char pk[32];

	if (pubkey_load(arg, pk) < 0)
		cli_usage_error("%s%s%s", opt ? opt : "", opt ? ": " : "",
		    dml_errmsg());
	key_hex(pk, 32, hex);
}

void
job_arg(const char *arg, char id[CID_MAXSTR])
{
	cid c;
	dml_job j;

	if (access(arg, F_OK) == 0) {
		if (job_load(arg, &j) < 0)
			dml_fail(DML_EXIT_REJECT);
		strcpy(id, j.id);
		job_free(&j);
		return;
	}
	if (strlen(arg) >= CID_MAXSTR || cid_parse(&c, arg) < 0)
		cli_usage_error("--job: '%s' is neither a job file nor a job id",
		    arg);
	strcpy(id, arg);
}

void
account_arg(const char *arg, char *out, size_t n)
{
	char hex[65];

	if (ledger_account_ok(arg)) {
		snprintf(out, n, "%s", arg);
		return;
	}
	if (strncmp(arg, "pool:", 5) == 0 || strncmp(arg, "escrow:", 7) == 0)
		cli_usage_error("'%s' is not an account", arg);
	key_arg(NULL, arg, hex);
	snprintf(out, n, "%s", hex);
}

/* --alloc KEY=AMOUNT, checked now. */
static void
alloc_opt(cli *c)
{
	const char *eq = strchr(c->arg, '=');
	char hex[65], *k;

	if (!eq)
		cli_opt_error(c, "wants KEY=AMOUNT");
	if (!amount_ok(eq + 1))
		cli_opt_error(c, "'%.80s' is not a token amount (a decimal "
		    "integer without leading zeros)", eq + 1);
	k = xasprintf("%.*s", (int)(eq - c->arg), c->arg);
	key_arg("--alloc", k, hex);
	free(k);
	json_array_append_new(o.alloc, json_pack("{s:s,s:s}", "to", hex,
	    "amount", eq + 1));
}

int
main(int argc, char **argv)
{
	int op;
	cli c;

	o.alloc = json_array();
	o.epoch = -1;
	cli_init(&c, argc, argv, opts, usage, cmds);
	while ((op = cli_next(&c)) != -1) {
		switch (op) {
		case 'L': o.ledger = c.arg; break;
		case O_TIME: o.time = cli_time(&c, NULL); break;
		case 'j': o.job = c.arg; break;
		case 'o': o.output = c.arg; break;
		case O_SUPPLY: o.supply = cli_amount(&c); break;
		case O_GROWTH: o.growth = cli_amount(&c); break;
		case O_BOUNTY: o.bounty = cli_amount(&c); break;
		case O_ALLOC: alloc_opt(&c); break;
		case O_TO: o.to = c.arg; break;
		case O_AMOUNT: o.amount = cli_amount(&c); break;
		case O_REASON: o.reason = cli_text(&c, 1000); break;
		case O_EPOCH: o.epoch = cli_long(&c, 0, LEDGER_MAX_EPOCH); break;
		case O_OWNERS: o.owners = c.arg; break;
		}
	}
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	return cli_run(&c);
}
