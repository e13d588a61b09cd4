/* dml-settle: execute a job's contract: compute the payouts from the job's
 * reward terms, the report node's contributions and the escrow, and append
 * them to the ledger as one settle entry; or, with --rpc, commit them to
 * the JobEscrow contract on an Ethereum node as one Merkle root that each
 * payee claims against (and the few chain operations around it: deploy,
 * deposit, transfer, claim, balance, status, refund, sweep, and the
 * token's emit and bounty; they are lib/chain). This file reads the
 * command line and picks the ledger (ledger.c) or the chain (chain.c). */
#include <stdlib.h>
#include <string.h>

#include "amount.h"
#include "dml-settle.h"
#include "ledger.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-settle [-L LEDGER] -k KEY -j JOBFILE --stored STORED\n"
"                  --contributions FILE [--time TIME] [--dry-run]\n"
"Execute a job's contract: pay the developer, the nodes, the trainers and\n"
"the contributing devices from the job's escrow, exactly as its reward\n"
"terms say, return the rest to the customer, and append it all to the\n"
"ledger as one entry. A job settles once. Prints the dml.payouts record,\n"
"then the new entry's seq and hash.\n"
"  -L, --ledger FILE        the ledger (default $DML_LEDGER, else\n"
"                           $HOME/.dml/ledger.ndjson)\n"
"  -k, --key FILE           the submitter's secret key, any node's\n"
"                           (default $DML_KEY)\n"
"  -j, --job FILE           the job (dml.job)\n"
"      --stored FILE        the stored report's receipt (dml.stored)\n"
"      --contributions FILE the report node's signed dml.contributions\n"
"      --time TIME          the entry's time, RFC 3339 UTC (default now)\n"
"  -n, --dry-run            compute and print the payouts, append nothing\n"
"  -o, --output FILE        write the records to FILE (whole or not at all)\n"
"  -h, --help, --version\n"
"  (-s, -c and -r, the old spellings of --stored, --contributions and\n"
"  --rpc, still work in this release, with a warning)\n"
"\n"
"A competition's prize (see dml-market(1)):\n"
"usage: dml-settle [-L LEDGER] -k KEY --competition COMP --leaderboard LB\n"
"                  [--time TIME]\n"
"      --competition FILE   the dml.competition whose escrowed prize pays\n"
"      --leaderboard FILE   its dml.leaderboard, signed by its customer\n"
"\n"
"On an Ethereum node (see dml-settle(1), ETHEREUM):\n"
"usage: dml-settle --rpc URL --escrow ADDR --eth-key K --payees BOOK\n"
"                  -j JOBFILE --stored STORED --contributions FILE\n"
"       dml-settle --rpc URL claim --escrow ADDR --payouts FILE\n"
"                  (--index N | --address ADDR [--role R]) [--eth-key K]\n"
"                  [--proof-only]\n"
"       dml-settle --rpc URL deploy --eth-key K --contracts DIR\n"
"                  [--supply N] [--growth-pool N] [--bounty-pool N]\n"
"                  [--settler ADDR] [--claim-period S]\n"
"       dml-settle --rpc URL deposit|status|refund|sweep --escrow ADDR\n"
"                  -j J [--eth-key K] [--amount N]\n"
"       dml-settle --rpc URL deposit --escrow ADDR --eth-key K\n"
"                  --competition COMP\n"
"       dml-settle --rpc URL --escrow ADDR --eth-key K --payees BOOK\n"
"                  --competition COMP --leaderboard LB\n"
"       dml-settle --rpc URL emit --escrow ADDR --eth-key K --epoch K\n"
"                  --owners FILE --payees BOOK\n"
"       dml-settle --rpc URL bounty --escrow ADDR --eth-key K --to ADDR\n"
"                  --amount N [--reason TEXT]\n"
"       dml-settle --rpc URL transfer --escrow ADDR --eth-key K --to ADDR\n"
"                  --amount N\n"
"       dml-settle --rpc URL balance --escrow ADDR ADDRESS...\n"
"      --rpc URL            the node's JSON-RPC URL (default $DML_ETH_RPC)\n"
"  -e, --escrow ADDR        the JobEscrow contract (default $DML_ETH_ESCROW)\n"
"  -K, --eth-key FILE       the sender's key (dml-keygen --eth)\n"
"  -P, --payees FILE        the address book: signed dml.eth.payee records\n"
"      --chain-id N         refuse a node on another chain\n"
"      --nonce N            send with this nonce (default: the next one)\n"
"      --timeout S          seconds to wait for a receipt (default 60)\n"
"      --payouts FILE       claim: dml-settle's dml.eth.payouts output\n"
"      --index N, --address ADDR, --role R   claim: which leaf\n"
"      --proof-only         claim: print the proof, send nothing\n"
"      --force              claim: skip the local checks (tests)\n"
"      --claim-period S     deploy: seconds claims stay open after a\n"
"                           settlement (default 7776000: 90 days)\n"
"      --epoch K, --owners FILE   emit: the epoch, the owners' keys\n"
"      --reason TEXT        bounty: what it rewards\n";

enum { O_STORED = CLI_ID_BASE, O_CONTRIB, O_TIME, O_COMP, O_BOARD, O_RPC,
	O_CHAIN, O_NONCE, O_TIMEOUT, O_PAYOUTS, O_INDEX, O_ADDRESS, O_ROLE,
	O_PROOF, O_FORCE, O_CONTRACTS, O_SUPPLY, O_GROWTH, O_BOUNTY,
	O_SETTLER, O_TO, O_AMOUNT, O_PERIOD, O_EPOCH, O_OWNERS, O_REASON };

/* "-" is the default command: settle, as "settle" is. */
#define SETTLE "- settle"
static const cli_opt opts[] = {
	{"ledger", 'L', 1, 0, SETTLE, 0, NULL},
	{"key", 'k', 1, 0, SETTLE, 0, NULL},
	{"job", 'j', 1, 0, SETTLE " deposit status refund sweep", 0, NULL},
	{"stored", 0, 1, O_STORED, SETTLE, 's', NULL},
	{"contributions", 0, 1, O_CONTRIB, SETTLE, 'c', NULL},
	{"time", 0, 1, O_TIME, SETTLE, 0, NULL},
	{"dry-run", 'n', 0, 0, SETTLE, 0, NULL},
	CLI_OUTPUT,
	{"competition", 0, 1, O_COMP, SETTLE " deposit", 0, NULL},
	{"leaderboard", 0, 1, O_BOARD, SETTLE, 0, NULL},
	{"rpc", 0, 1, O_RPC, NULL, 'r', NULL},
	{"escrow", 'e', 1, 0, NULL, 0, NULL},
	{"eth-key", 'K', 1, 0, NULL, 0, NULL},
	{"payees", 'P', 1, 0, SETTLE " emit", 0, NULL},
	{"chain-id", 0, 1, O_CHAIN, NULL, 0, NULL},
	{"nonce", 0, 1, O_NONCE, NULL, 0, NULL},
	{"timeout", 0, 1, O_TIMEOUT, NULL, 0, NULL},
	{"payouts", 0, 1, O_PAYOUTS, "claim", 0, NULL},
	{"index", 0, 1, O_INDEX, "claim", 0, NULL},
	{"address", 0, 1, O_ADDRESS, "claim", 0, NULL},
	{"role", 0, 1, O_ROLE, "claim", 0, NULL},
	{"proof-only", 0, 0, O_PROOF, "claim", 0, NULL},
	{"force", 0, 0, O_FORCE, "claim", 0, NULL},
	{"contracts", 0, 1, O_CONTRACTS, "deploy", 0, NULL},
	{"supply", 0, 1, O_SUPPLY, "deploy", 0, NULL},
	{"growth-pool", 0, 1, O_GROWTH, "deploy", 0, NULL},
	{"bounty-pool", 0, 1, O_BOUNTY, "deploy", 0, NULL},
	{"settler", 0, 1, O_SETTLER, "deploy", 0, NULL},
	{"claim-period", 0, 1, O_PERIOD, "deploy", 0, NULL},
	{"to", 0, 1, O_TO, "bounty transfer", 0, NULL},
	{"amount", 0, 1, O_AMOUNT, "bounty transfer deposit", 0, NULL},
	{"epoch", 0, 1, O_EPOCH, "emit", 0, NULL},
	{"owners", 0, 1, O_OWNERS, "emit", 0, NULL},
	{"reason", 0, 1, O_REASON, "bounty", 0, NULL},
	CLI_END};

static int settle_run(cli *c);

static const cli_cmd cmds[] = {
	{"", settle_run, NULL}, {"settle", settle_run, NULL},
	{"claim", claim_run, NULL}, {"deploy", deploy_run, NULL},
	{"deposit", deposit_run, NULL}, {"status", job_run, NULL},
	{"refund", job_run, NULL}, {"sweep", job_run, NULL},
	{"emit", emit_run, NULL}, {"bounty", move_run, NULL},
	{"transfer", move_run, NULL}, {"balance", balance_run, NULL},
	{NULL, NULL, NULL}};

struct opts o;

/* settle: on the chain with --rpc (or $DML_ETH_RPC, unless an option of
 * the ledger's is given: the environment alone does not take a ledger
 * settle to the chain), else on the ledger. */
static int
settle_run(cli *c)
{
	int ledger_opt = o.ledger || o.key_given || o.dry || o.time;
	const char *env = getenv("DML_ETH_RPC");

	if (!o.rpc && env && *env && !ledger_opt)
		o.rpc = env;
	if (o.rpc && *o.rpc) {
		if (ledger_opt)
			cli_usage_error("-L, -k, --time and --dry-run are for the "
			    "ledger, not --rpc");
		return chain_settle_run(c);
	}
	if (o.chain_opt)
		cli_usage_error("chain options need --rpc URL");
	return ledger_run(c);
}

/* The options of the chain. */
static void
chain_opt(cli *c, int id)
{
	o.chain_opt = 1;
	switch (id) {
	case O_RPC: o.rpc = c->arg; break;
	case 'e': o.escrow = c->arg; break;
	case 'K': o.ethkey = c->arg; break;
	case 'P': o.book = c->arg; break;
	case O_CHAIN: o.chain_id = cli_long(c, 1, 0x7fffffffL); break;
	case O_NONCE: o.nonce = cli_long(c, 0, 0x7fffffffL); break;
	case O_TIMEOUT: o.timeout = cli_long(c, 1, 86400); break;
	case O_PAYOUTS: o.payouts = c->arg; break;
	case O_INDEX: o.index = cli_long(c, 0, 0x7fffffffL); break;
	case O_ADDRESS: o.address = c->arg; break;
	case O_ROLE: o.role = c->arg; break;
	case O_PROOF: o.proof_only = 1; break;
	case O_FORCE: o.force = 1; break;
	case O_CONTRACTS: o.contracts = c->arg; break;
	case O_SUPPLY: o.supply = cli_amount(c); break;
	case O_GROWTH: o.growth = cli_amount(c); break;
	case O_BOUNTY: o.bounty = cli_amount(c); break;
	case O_SETTLER: o.settler = c->arg; break;
	case O_PERIOD: o.period = cli_long(c, 0, 0x7fffffffL); break;
	case O_TO: o.to = c->arg; break;
	case O_AMOUNT: o.amount = cli_amount(c); break;
	case O_EPOCH: o.epoch = cli_long(c, 0, LEDGER_MAX_EPOCH); break;
	case O_OWNERS: o.owners = c->arg; break;
	case O_REASON: o.reason = cli_text(c, 1000); break;
	}
}

int
main(int argc, char **argv)
{
	int op;
	cli c;

	o.chain_id = o.nonce = o.timeout = o.index = o.period = o.epoch = -1;
	cli_init(&c, argc, argv, opts, usage, cmds);
	while ((op = cli_next(&c)) != -1) {
		switch (op) {
		case 'L': o.ledger = c.arg; break;
		case 'k': o.key_given = 1; break;
		case 'j': o.job = c.arg; break;
		case O_STORED: o.stored = c.arg; break;
		case O_CONTRIB: o.contrib = c.arg; break;
		case O_TIME: o.time = cli_time(&c, NULL); break;
		case 'n': o.dry = 1; break;
		case 'o': o.output = c.arg; break;
		case O_COMP: o.comp = c.arg; break;
		case O_BOARD: o.board = c.arg; break;
		default: chain_opt(&c, op); break;
		}
	}
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	return cli_run(&c);
}
