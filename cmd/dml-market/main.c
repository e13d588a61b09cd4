/* dml-market: the marketplace (developers list algorithms, customers search
 * and buy licenses through the ledger) and its competitions (a customer
 * posts a problem with a hidden test set, entrants submit models, the
 * customer scores them, ranks them and pays the winners). This file: the
 * options and the command table; the commands are in the other files. */
#include <stdlib.h>
#include <time.h>

#include "dml-market.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-market COMMAND [options]\n"
"The marketplace of algorithms and its competitions (see dml-market(1)).\n"
"  publish -k DEVKEY --algorithm FILE|CID --category C --description D\n"
"          --price N --license single|subscription [--period DAYS]\n"
"                       sign a dml.listing, store it on IPFS, index it\n"
"  add [FILE...]        index listings published elsewhere (verified)\n"
"  search [--category C] [--keyword W] [--max-price N]\n"
"                       the matching listings: category, price, id order\n"
"  acquire -k CUSTKEY --listing CID|FILE\n"
"                       pay the developer on the ledger, write a dml.license\n"
"  acquire -k CUSTKEY --listing CID|FILE --rpc URL --escrow ADDR\n"
"          -K ETHKEY -P BOOK   pay in DML tokens on an Ethereum node instead\n"
"  verify --license FILE [-j JOBFILE] [-L LEDGER | --rpc URL\n"
"          --escrow ADDR -P BOOK]\n"
"                       check a license (and that the job may use it), its\n"
"                       payment on the ledger or on chain\n"
"  compete -k CUSTKEY --images FILE --labels FILE --prize N --deadline T\n"
"          [--split P,P,...] [--award-by T] [--metric accuracy|loss]\n"
"          [--description D] [--nonce TEXT] [--rpc URL --escrow ADDR\n"
"          -K ETHKEY]   post a competition, escrow its prize on the ledger\n"
"                       (or deposit it on chain)\n"
"  enter -k KEY --competition FILE -m MODEL\n"
"                       store the model on IPFS, write a dml.entry\n"
"  score -k CUSTKEY --competition FILE --images FILE --labels FILE\n"
"          [ENTRIES...]  score the entries, write a dml.leaderboard\n"
"  award -k KEY --competition FILE --leaderboard FILE\n"
"                       pay the winners from the escrowed prize on the\n"
"                       ledger (as dml-settle --competition; on chain:\n"
"                       dml-settle --rpc --competition --leaderboard)\n"
"Options:\n"
"  -k, --key FILE       your own secret key (dml-keygen; default $DML_KEY)\n"
"  -L, --ledger FILE    the ledger (default $DML_LEDGER, else\n"
"                       $HOME/.dml/ledger.ndjson)\n"
"  -i, --index FILE     the listing index (default $DML_MARKET_INDEX, else\n"
"                       $HOME/.dml/market.ndjson)\n"
"      --repo DIR, --api URL   the IPFS store, as dml-ipfs-put (the old\n"
"                       spellings -r and -a still work, with a warning)\n"
"  -j, --job FILE       verify: the job that uses the license\n"
"  -m, --model FILE     enter: the model entered\n"
"      --time TIME      the record's and the ledger entry's time, RFC 3339\n"
"                       UTC (default now)\n"
"  -o, --output FILE    write the record to FILE (whole or not at all)\n"
"      --rpc URL        an Ethereum node's JSON-RPC URL (as dml-settle)\n"
"      --escrow ADDR    the JobEscrow contract whose token pays (default\n"
"                       $DML_ETH_ESCROW)\n"
"  -K, --eth-key FILE   the paying Ethereum key (dml-keygen --eth)\n"
"  -P, --payees FILE    the address book: signed dml.eth.payee records\n"
"  -h, --help           this help (also after a command)\n"
"      --version        print the version\n";

enum { O_REPO = CLI_ID_BASE, O_API, O_ALG, O_CAT, O_DESC, O_PRICE, O_LIC,
	O_PERIOD, O_KEYWORD, O_MAXP, O_LISTING, O_TIME, O_IMAGES, O_LABELS,
	O_PRIZE, O_SPLIT, O_DEADLINE, O_AWARD, O_METRIC, O_COMP, O_BOARD,
	O_NONCE, O_RPC, O_ESCROW };

/* The commands that take an option (cli_opt.subs). */
#define SIGNERS "publish acquire compete enter score award"
#define WRITERS "publish add search acquire compete enter score award"
#define STORERS "publish acquire enter score"
#define PAYERS "acquire verify compete"

static const cli_opt opts[] = {
	{"key", 'k', 1, 0, SIGNERS, 0, NULL},
	{"ledger", 'L', 1, 0, "acquire verify compete award", 0, NULL},
	{"index", 'i', 1, 0, "publish add search acquire", 0, NULL},
	{"repo", 0, 1, O_REPO, STORERS, 'r', NULL},
	{"api", 0, 1, O_API, STORERS, 'a', NULL},
	{"output", 'o', 1, 0, WRITERS, 0, NULL},
	{"algorithm", 0, 1, O_ALG, "publish", 0, NULL},
	{"category", 0, 1, O_CAT, "publish search", 0, NULL},
	{"description", 0, 1, O_DESC, "publish compete", 0, NULL},
	{"price", 0, 1, O_PRICE, "publish", 0, NULL},
	{"license", 0, 1, O_LIC, "publish verify", 0, NULL},
	{"period", 0, 1, O_PERIOD, "publish", 0, NULL},
	{"keyword", 0, 1, O_KEYWORD, "search", 0, NULL},
	{"max-price", 0, 1, O_MAXP, "search", 0, NULL},
	{"listing", 0, 1, O_LISTING, "acquire", 0, NULL},
	{"job", 'j', 1, 0, "verify", 0, NULL},
	{"time", 0, 1, O_TIME, SIGNERS, 0, NULL},
	{"images", 0, 1, O_IMAGES, "compete score", 0, NULL},
	{"labels", 0, 1, O_LABELS, "compete score", 0, NULL},
	{"prize", 0, 1, O_PRIZE, "compete", 0, NULL},
	{"split", 0, 1, O_SPLIT, "compete", 0, NULL},
	{"deadline", 0, 1, O_DEADLINE, "compete", 0, NULL},
	{"award-by", 0, 1, O_AWARD, "compete", 0, NULL},
	{"metric", 0, 1, O_METRIC, "compete", 0, NULL},
	{"nonce", 0, 1, O_NONCE, "compete", 0, NULL},
	{"competition", 0, 1, O_COMP, "enter score award", 0, NULL},
	{"model", 'm', 1, 0, "enter", 0, NULL},
	{"leaderboard", 0, 1, O_BOARD, "award", 0, NULL},
	{"rpc", 0, 1, O_RPC, PAYERS, 0, NULL},
	{"escrow", 0, 1, O_ESCROW, PAYERS, 0, NULL},
	{"eth-key", 'K', 1, 0, "acquire compete", 0, NULL},
	{"payees", 'P', 1, 0, "acquire verify", 0, NULL},
	CLI_END};

static const cli_cmd cmds[] = {
	{"publish", mk_publish, NULL},
	{"add", mk_add, NULL},
	{"search", mk_search, NULL},
	{"acquire", mk_acquire, NULL},
	{"verify", mk_verify, NULL},
	{"compete", mk_compete, NULL},
	{"enter", mk_enter, NULL},
	{"score", mk_score, NULL},
	{"award", mk_award, NULL},
	{NULL, NULL, NULL}};

struct mk_opts mk;

/* Keep the value of option o (the one cli_next just returned). */
static void
store(cli *c, int o)
{
	switch (o) {
	case 'L': mk.ledger = c->arg; break;
	case 'i': mk.index = c->arg; break;
	case O_REPO: mk.repo = c->arg; break;
	case O_API: mk.api = c->arg; break;
	case 'o': mk.output = c->arg; break;
	case O_ALG: mk.algorithm = c->arg; break;
	case O_CAT: mk.category = c->arg; break;
	case O_DESC: mk.description = c->arg; break;
	case O_PRICE: mk.price = cli_amount(c); break;
	case O_LIC: mk.license = c->arg; break;
	case O_PERIOD: mk.period = cli_long(c, 1, 36600); break;
	case O_KEYWORD: mk.keyword = c->arg; break;
	case O_MAXP: mk.max_price = cli_amount(c); break;
	case O_LISTING: mk.listing = c->arg; break;
	case 'j': mk.job = c->arg; break;
	case O_TIME: mk.time = cli_time(c, &mk.now); break;
	case O_IMAGES: mk.images = c->arg; break;
	case O_LABELS: mk.labels = c->arg; break;
	case O_PRIZE: mk.prize = cli_amount(c); break;
	case O_SPLIT: mk.split = c->arg; break;
	case O_DEADLINE: mk.deadline = cli_time(c, &mk.deadline_at); break;
	case O_AWARD: mk.award_by = cli_time(c, &mk.award_at); break;
	case O_METRIC: mk.metric = c->arg; break;
	case O_NONCE: mk.nonce = c->arg; break;
	case O_COMP: mk.competition = c->arg; break;
	case 'm': mk.model = c->arg; break;
	case O_BOARD: mk.leaderboard = c->arg; break;
	case O_RPC: mk.rpc = c->arg; break;
	case O_ESCROW: mk.escrow = c->arg; break;
	case 'K': mk.eth_key = c->arg; break;
	case 'P': mk.payees = c->arg; break;
	}
}

int
main(int argc, char **argv)
{
	int o, rc;
	cli c;

	cli_init(&c, argc, argv, opts, usage, cmds);
	while ((o = cli_next(&c)) != -1)
		store(&c, o);
	if (!mk.time)
		mk.now = (long long)time(NULL);
	if (c.cmd && dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	rc = cli_run(&c);
	dml_close_stdout();
	return rc;
}
