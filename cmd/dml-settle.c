/* dml-settle: execute a job's contract: compute the payouts from the job's
 * reward terms, the report node's contributions and the escrow, and append
 * them to the ledger as one settle entry; or, with --rpc, commit them to
 * the JobEscrow contract on an Ethereum node as one Merkle root that each
 * payee claims against (and the few chain operations around it: deploy,
 * deposit, transfer, claim, balance, status, refund, sweep, and the
 * token's emit and bounty; they are lib/chain). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chain.h"
#include "cid.h"
#include "eth.h"
#include "job.h"
#include "ledger.h"
#include "market.h"
#include "record.h"
#include "settle.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-settle [-L LEDGER] -k KEY --job JOBFILE --stored STORED\n"
"                  --contributions FILE [--time TIME] [--dry-run]\n"
"Execute a job's contract: pay the developer, the nodes, the trainers and\n"
"the contributing devices from the job's escrow, exactly as its reward\n"
"terms say, return the rest to the customer, and append it all to the\n"
"ledger as one entry. A job settles once. Prints the dml.payouts record,\n"
"then the new entry's seq and hash.\n"
"  -L, --ledger FILE        the ledger (default $DML_LEDGER, else\n"
"                           $HOME/.dml/ledger.ndjson)\n"
"  -k, --key FILE           the submitter's secret key (any node)\n"
"  -j, --job FILE           the job (dml.job)\n"
"  -s, --stored FILE        the stored report's receipt (dml.stored)\n"
"  -c, --contributions FILE the report node's signed dml.contributions\n"
"      --time TIME          the entry's time, RFC 3339 UTC (default now)\n"
"  -n, --dry-run            compute and print the payouts, append nothing\n"
"  -h, --help, --version\n"
"\n"
"A competition's prize (see dml-market(1)):\n"
"usage: dml-settle [-L LEDGER] -k KEY --competition COMP --leaderboard LB\n"
"                  [--time TIME]\n"
"      --competition FILE   the dml.competition whose escrowed prize pays\n"
"      --leaderboard FILE   its dml.leaderboard, signed by its customer\n"
"\n"
"On an Ethereum node (see dml-settle(1), ETHEREUM):\n"
"usage: dml-settle --rpc URL --escrow ADDR --eth-key K --payees BOOK\n"
"                  --job JOBFILE --stored STORED --contributions FILE\n"
"       dml-settle --rpc URL claim --escrow ADDR --payouts FILE\n"
"                  (--index N | --address ADDR [--role R]) [--eth-key K]\n"
"                  [--proof-only]\n"
"       dml-settle --rpc URL deploy --eth-key K --contracts DIR\n"
"                  [--supply N] [--growth-pool N] [--bounty-pool N]\n"
"                  [--settler ADDR] [--claim-period S]\n"
"       dml-settle --rpc URL deposit|status|refund|sweep --escrow ADDR\n"
"                  --job J [--eth-key K] [--amount N]\n"
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
"  -r, --rpc URL            the node's JSON-RPC URL (default $DML_ETH_RPC)\n"
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

static int
exit_of(int rc)
{
	return rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT;
}


/* One option table: main reads the ledger options, chain_main the chain
 * ones, from the same command line. */
enum { O_TIME = 256, O_VERSION, O_CHAIN, O_NONCE, O_TIMEOUT,
	O_PAYOUTS, O_INDEX, O_ADDRESS, O_ROLE, O_PROOF, O_FORCE,
	O_CONTRACTS, O_SUPPLY, O_GROWTH, O_BOUNTY, O_SETTLER, O_TO,
	O_AMOUNT, O_CLAIM_PERIOD, O_EPOCH, O_OWNERS, O_REASON, O_COMP,
	O_BOARD };
static const struct option opts[] = {
	{"ledger", required_argument, 0, 'L'},
	{"key", required_argument, 0, 'k'},
	{"job", required_argument, 0, 'j'},
	{"stored", required_argument, 0, 's'},
	{"contributions", required_argument, 0, 'c'},
	{"time", required_argument, 0, O_TIME},
	{"dry-run", no_argument, 0, 'n'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{"rpc", required_argument, 0, 'r'},
	{"escrow", required_argument, 0, 'e'},
	{"eth-key", required_argument, 0, 'K'},
	{"payees", required_argument, 0, 'P'},
	{"chain-id", required_argument, 0, O_CHAIN},
	{"nonce", required_argument, 0, O_NONCE},
	{"timeout", required_argument, 0, O_TIMEOUT},
	{"payouts", required_argument, 0, O_PAYOUTS},
	{"index", required_argument, 0, O_INDEX},
	{"address", required_argument, 0, O_ADDRESS},
	{"role", required_argument, 0, O_ROLE},
	{"proof-only", no_argument, 0, O_PROOF},
	{"force", no_argument, 0, O_FORCE},
	{"contracts", required_argument, 0, O_CONTRACTS},
	{"supply", required_argument, 0, O_SUPPLY},
	{"growth-pool", required_argument, 0, O_GROWTH},
	{"bounty-pool", required_argument, 0, O_BOUNTY},
	{"settler", required_argument, 0, O_SETTLER},
	{"to", required_argument, 0, O_TO},
	{"amount", required_argument, 0, O_AMOUNT},
	{"claim-period", required_argument, 0, O_CLAIM_PERIOD},
	{"epoch", required_argument, 0, O_EPOCH},
	{"owners", required_argument, 0, O_OWNERS},
	{"reason", required_argument, 0, O_REASON},
	{"competition", required_argument, 0, O_COMP},
	{"leaderboard", required_argument, 0, O_BOARD},
	{0, 0, 0, 0}};

static int chain_main(int argc, char **argv, const char *jobf,
    const char *storedf, const char *contribf);

/* A competition's prize on the ledger: the payouts, then the entry. */
static int
award_main(const char *path, const char *keyf, const char *compf,
    const char *boardf, const char *when)
{
	market_comp c;
	json_t *pr, *r;
	char hash[65];
	long long seq;
	rec_out *out;
	dml_key k;
	int rc;

	if (market_comp_load(compf, &c) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	if ((rc = market_award_ledger(path, &c, boardf, &k, when, &pr, &seq,
	    hash)) < 0)
		dml_fail(exit_of(rc));
	key_free(&k);
	r = rec_new("dml.appended");
	json_object_set_new(r, "op", json_string("settle"));
	json_object_set_new(r, "seq", json_integer(seq));
	json_object_set_new(r, "hash", json_string(hash));
	if (rec_out_write(out, pr, NULL) < 0 || rec_out_write(out, r, NULL) < 0 ||
	    rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(r);
	json_decref(pr);
	market_comp_free(&c);
	dml_close_stdout();
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *keyf = NULL, *jobf = NULL, *storedf = NULL,
		   *contribf = NULL, *when = NULL, *compf = NULL, *boardf = NULL;
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], hex[65];
	static const char *state[] = {"open", "settled", "refunded"};
	static char *deflt;	/* the default ledger path, kept to the end */
	int ch, dry = 0, rc, chain_opts = 0, rpc_env = 1;
	const char *rpc = getenv("DML_ETH_RPC");
	settle_contrib c;
	settle_terms t;
	settle_list p;
	ledger_escrow e;
	ledger *l;
	json_t *rec, *body;
	dml_job j;
	dml_key k;
	mpz_t escrow, refund;
	rec_out *out;

	dml_setprog(argv[0]);
	/* chain options are read again by chain_main */
	while ((ch = getopt_long(argc, argv, "L:k:j:s:c:nhr:e:K:P:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r': case 'e': case 'K': case 'P': case O_CHAIN:
		case O_NONCE: case O_TIMEOUT: case O_PAYOUTS: case O_INDEX:
		case O_ADDRESS: case O_ROLE: case O_PROOF: case O_FORCE:
		case O_CONTRACTS: case O_SUPPLY: case O_GROWTH: case O_BOUNTY:
		case O_SETTLER: case O_TO: case O_AMOUNT: case O_CLAIM_PERIOD:
		case O_EPOCH: case O_OWNERS: case O_REASON:
			chain_opts = 1;
			if (ch == 'r')
				rpc = optarg, rpc_env = 0;
			break;
		case 'L': path = optarg; break;
		case 'k': keyf = optarg; break;
		case 'j': jobf = optarg; break;
		case 's': storedf = optarg; break;
		case 'c': contribf = optarg; break;
		case O_TIME: when = optarg; break;
		case O_COMP: compf = optarg; break;
		case O_BOARD: boardf = optarg; break;
		case 'n': dry = 1; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	/* $DML_ETH_RPC alone does not take a ledger settle to the chain */
	if (rpc && *rpc && rpc_env && (path || keyf || dry || when))
		rpc = NULL;
	if (rpc && *rpc) {
		if (path || keyf || dry || when)
			dml_usage_error("-L, -k, --time and --dry-run are for the "
			    "ledger, not --rpc");
		return chain_main(argc, argv, jobf, storedf, contribf);
	}
	if (chain_opts)
		dml_usage_error("chain options need --rpc URL");
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (when) {
		long long tt;
		if (timefmt_parse(when, &tt) < 0)
			dml_usage_error("--time: %s", dml_errmsg());
	}
	if (compf || boardf) {
		if (!compf || !boardf || !keyf)
			dml_usage_error("-k KEY, --competition and --leaderboard "
			    "are required");
		if (jobf || storedf || contribf || dry)
			dml_usage_error("--competition takes no --job, --stored, "
			    "--contributions or --dry-run");
		if (dml_crypto_init() < 0)
			dml_fail(DML_EXIT_USAGE);
		return award_main(path ? path : (deflt = ledger_default_path()),
		    keyf, compf, boardf, when);
	}
	if (!jobf || !storedf || !contribf || (!keyf && !dry))
		dml_usage_error("-k KEY, --job, --stored and --contributions are "
		    "required");
	if (!path)
		path = deflt = ledger_default_path();
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);

	/* everything that can be read without the lock is read first */
	if (job_load(jobf, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	settle_terms_init(&t);
	if (settle_terms_from_job(&t, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	if ((rc = settle_load_stored(storedf, report)) < 0 ||
	    (rc = settle_load_contrib(contribf, j.id, &c, cid_contrib)) < 0)
		dml_fail(rc == SETTLE_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT);
	if (keyf && key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);

	rc = ledger_open(&l, path, dry ? 0 : LEDGER_WRITE, NULL, NULL);
	if (rc < 0)
		dml_fail(exit_of(rc));
	if (ledger_escrow_get(l, j.id, &e) < 0)
		dml_die(DML_EXIT_REJECT, "job %s has no escrow in %s", j.id,
		    path);
	if (e.state != ESCROW_OPEN)
		dml_die(DML_EXIT_REJECT, "job %s is already %s", j.id,
		    state[e.state]);
	mpz_init_set(escrow, e.amount);
	mpz_init(refund);
	settle_list_init(&p);
	if (settle_compute(&t, &c, escrow, &p, refund) < 0)
		dml_die(DML_EXIT_REJECT, "job %s: %s", j.id, dml_errmsg());
	key_hex(j.customer, 32, hex);
	rec = settle_record(j.id, report, hex, escrow, &p, refund, c.ndevices);
	if (!(out = rec_out_open(NULL)) || rec_out_write(out, rec, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(rec);
	if (!dry) {
		json_t *r = rec_new("dml.appended");
		body = ledger_settle_body(j.id, report, cid_contrib, hex, &p,
		    refund);
		settle_list_clear(&p);
		settle_contrib_clear(&c);
		rc = ledger_submit(l, body, &k, when);
		key_free(&k);
		if (rc < 0) {
			rec_out_abort(out);
			dml_fail(exit_of(rc));
		}
		ledger_head(l, hex);
		json_object_set_new(r, "op", json_string("settle"));
		json_object_set_new(r, "seq", json_integer(ledger_entries(l) -
		    1));
		json_object_set_new(r, "hash", json_string(hex));
		json_decref(body);
		if (rec_out_write(out, r, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
		json_decref(r);
	} else {
		settle_list_clear(&p);
		settle_contrib_clear(&c);
		if (keyf)
			key_free(&k);
	}
	ledger_close(l);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	mpz_clears(escrow, refund, NULL);
	settle_terms_clear(&t);
	job_free(&j);
	free(deflt);
	dml_close_stdout();
	return 0;
}

/* The chain commands: options into a chain, then one lib/chain call. */
static int
chain_main(int argc, char **argv, const char *jobf, const char *storedf,
    const char *contribf)
{
	const char *rpc = getenv("DML_ETH_RPC"), *escrow = getenv(
	    "DML_ETH_ESCROW"), *keyf = NULL, *bookf = NULL, *payf = NULL,
		   *who = NULL, *role = NULL, *dir = NULL, *settler = NULL,
		   *to = NULL, *amount = NULL, *ownersf = NULL, *reason = NULL,
		   *compf = NULL, *boardf = NULL, *cmd;
	unsigned char st[20], ta[20];
	long idx = -1, v, epoch = -1, period = 7776000;
	int ch, proof_only = 0, force = 0, rc;
	char already[CID_MAXSTR];
	mpz_t supply, growth, bounty, amt;
	chain c;

	chain_init(&c);
	mpz_init_set_ui(supply, 0);
	mpz_init_set_ui(growth, 0);
	mpz_init_set_ui(bounty, 0);
	mpz_init(amt);
	optind = 0;	/* glibc: start over */
	while ((ch = getopt_long(argc, argv, "L:k:j:s:c:nhr:e:K:P:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r': rpc = optarg; break;
		case 'e': escrow = optarg; break;
		case 'K': keyf = optarg; break;
		case 'P': bookf = optarg; break;
		case O_CHAIN:
			if (dml_parse_long(optarg, 1, 0x7fffffffL, &v) < 0)
				dml_usage_error("--chain-id: %s", dml_errmsg());
			c.opt.chain_id = (uint64_t)v;
			break;
		case O_NONCE:
			if (dml_parse_long(optarg, 0, 0x7fffffffL, &v) < 0)
				dml_usage_error("--nonce: %s", dml_errmsg());
			c.opt.nonce = v;
			break;
		case O_TIMEOUT:
			if (dml_parse_long(optarg, 1, 86400, &v) < 0)
				dml_usage_error("--timeout: %s", dml_errmsg());
			c.opt.timeout = (double)v;
			break;
		case O_PAYOUTS: payf = optarg; break;
		case O_INDEX:
			if (dml_parse_long(optarg, 0, 0x7fffffffL, &idx) < 0)
				dml_usage_error("--index: %s", dml_errmsg());
			break;
		case O_ADDRESS: who = optarg; break;
		case O_ROLE: role = optarg; break;
		case O_PROOF: proof_only = 1; break;
		case O_FORCE: force = 1; break;
		case O_CONTRACTS: dir = optarg; break;
		case O_SUPPLY: case O_GROWTH: case O_BOUNTY:
			if (mpz_set_str(ch == O_SUPPLY ? supply : ch == O_GROWTH ?
			    growth : bounty, optarg, 10) < 0)
				dml_usage_error("--supply, --growth-pool, "
				    "--bounty-pool: token amounts");
			break;
		case O_SETTLER: settler = optarg; break;
		case O_TO: to = optarg; break;
		case O_AMOUNT: amount = optarg; break;
		case O_CLAIM_PERIOD:
			if (dml_parse_long(optarg, 0, 0x7fffffffL, &period) < 0)
				dml_usage_error("--claim-period: %s", dml_errmsg());
			break;
		case O_EPOCH:
			if (dml_parse_long(optarg, 0, LEDGER_MAX_EPOCH, &epoch) < 0)
				dml_usage_error("--epoch: %s", dml_errmsg());
			break;
		case O_OWNERS: ownersf = optarg; break;
		case O_COMP: compf = optarg; break;
		case O_BOARD: boardf = optarg; break;
		case O_REASON:
			if (strlen(optarg) > 1000)
				dml_usage_error("--reason: at most 1000 bytes");
			{
				json_t *t = json_string(optarg);
				if (!t)
					dml_usage_error("--reason is not UTF-8");
				json_decref(t);
			}
			reason = optarg;
			break;
		default: break;		/* checked by main */
		}
	}
	cmd = optind < argc ? argv[optind++] : "settle";
	if (strcmp(cmd, "balance") != 0 && optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (chain_connect(&c, rpc) < 0)
		dml_usage_error("--rpc: %s", dml_errmsg());
	if (escrow) {
		if (eth_address_parse(escrow, c.escrow) < 0)
			dml_usage_error("--escrow: %s", dml_errmsg());
		c.has_escrow = 1;
	}
	if (strcmp(cmd, "deploy") != 0 && !c.has_escrow)
		dml_usage_error("%s needs --escrow ADDR (or $DML_ETH_ESCROW)",
		    cmd);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (keyf) {
		if (eth_key_load(keyf, &c.key) < 0)
			dml_fail(DML_EXIT_USAGE);
		c.has_key = 1;
	}
	if (!(c.out = rec_out_open(NULL)))
		dml_fail(DML_EXIT_USAGE);
	if ((compf || boardf) && strcmp(cmd, "settle") != 0 &&
	    !(strcmp(cmd, "deposit") == 0 && !boardf))
		dml_usage_error("--competition is for settle and deposit, "
		    "--leaderboard for settle");
	if (compf && jobf)
		dml_usage_error("--job or --competition, not both");
	if (strcmp(cmd, "settle") == 0 && (compf || boardf)) {
		if (!compf || !boardf || !keyf)
			dml_usage_error("--eth-key, --competition and "
			    "--leaderboard are required");
		if (storedf || contribf)
			dml_usage_error("--competition takes no --stored or "
			    "--contributions");
		rc = chain_settle_competition(&c, compf, boardf, bookf, already);
		if (rc == 0 && *already)
			dml_warn("competition %s was already settled with these "
			    "payouts: nothing sent", already);
	} else if (strcmp(cmd, "deposit") == 0 && compf) {
		if (!keyf)
			dml_usage_error("deposit needs --eth-key FILE");
		market_comp mc;
		if (market_comp_load(compf, &mc) < 0)
			dml_fail(DML_EXIT_REJECT);
		/* the prize is escrowed until award_by, as on the ledger */
		rc = chain_deposit_id(&c, mc.id, mc.prize, mc.award_by);
		market_comp_free(&mc);
	} else if (strcmp(cmd, "settle") == 0) {
		if (!jobf || !storedf || !contribf || !keyf)
			dml_usage_error("--eth-key, --job, --stored and "
			    "--contributions are required");
		rc = chain_settle(&c, jobf, storedf, contribf, bookf, already);
		if (rc == 0 && *already)
			dml_warn("job %s was already settled with these payouts: "
			    "nothing sent", already);
	} else if (strcmp(cmd, "claim") == 0) {
		if (!payf || (idx < 0 && !who))
			dml_usage_error("claim needs --payouts FILE and --index N "
			    "or --address ADDR");
		if (!proof_only && !keyf)
			dml_usage_error("claim needs --eth-key FILE (or "
			    "--proof-only)");
		rc = chain_claim(&c, payf, idx, who, role, proof_only, force);
	} else if (strcmp(cmd, "deploy") == 0) {
		if (!dir)
			dir = getenv("DML_ETH_CONTRACTS");
		if (!dir)
			dml_usage_error("deploy needs --contracts DIR (the output "
			    "of contrib/ethereum/compile)");
		if (!keyf)
			dml_usage_error("deploy needs --eth-key FILE");
		if (settler && eth_address_parse(settler, st) < 0)
			dml_usage_error("--settler: %s", dml_errmsg());
		rc = chain_deploy(&c, dir, supply, growth, bounty,
		    settler ? st : NULL, (uint64_t)period);
	} else if (strcmp(cmd, "deposit") == 0 || strcmp(cmd, "status") == 0 ||
	    strcmp(cmd, "refund") == 0 || strcmp(cmd, "sweep") == 0) {
		if (!jobf)
			dml_usage_error("%s needs --job FILE", cmd);
		if (strcmp(cmd, "status") != 0 && !keyf)
			dml_usage_error("%s needs --eth-key FILE", cmd);
		rc = cmd[0] == 'd' ? chain_deposit(&c, jobf, amount) :
		    strcmp(cmd, "status") == 0 ? chain_status(&c, jobf) :
		    cmd[0] == 'r' ? chain_refund(&c, jobf) :
		    chain_sweep(&c, jobf);
	} else if (strcmp(cmd, "emit") == 0) {
		if (epoch < 0 || !ownersf)
			dml_usage_error("emit needs --epoch K and --owners FILE");
		if (!keyf)
			dml_usage_error("emit needs --eth-key FILE");
		rc = chain_emit_growth(&c, epoch, ownersf, bookf);
	} else if (strcmp(cmd, "transfer") == 0 || strcmp(cmd, "bounty") == 0) {
		if (!to || !amount)
			dml_usage_error("%s needs --to ADDRESS and --amount N",
			    cmd);
		if (eth_address_parse(to, ta) < 0)
			dml_usage_error("--to: %s", dml_errmsg());
		if (mpz_set_str(amt, amount, 10) < 0 || mpz_sgn(amt) < 0)
			dml_usage_error("--amount: not a token amount");
		if (!keyf)
			dml_usage_error("%s needs --eth-key FILE", cmd);
		rc = cmd[0] == 't' ? chain_transfer(&c, ta, amt) :
		    chain_bounty(&c, ta, amt, reason);
	} else if (strcmp(cmd, "balance") == 0)
		rc = chain_balance(&c, argv + optind, argc - optind);
	else
		dml_usage_error("unknown command '%s'", cmd);
	if (rc < 0)
		dml_fail(chain_exit(rc));
	if (rec_out_commit(c.out) < 0)
		dml_fail(DML_EXIT_USAGE);
	chain_close(&c);
	mpz_clears(supply, growth, bounty, amt, NULL);
	dml_close_stdout();
	return 0;
}
