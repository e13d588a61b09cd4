/* dml-settle on an Ethereum node: each command checks its options, sets
 * up the connection (chain_start) and makes one lib/chain call, whose
 * records go to standard output whole. */
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "dml-settle.h"
#include "eth.h"
#include "market.h"
#include "util.h"

/* What a message starts with: nothing after a command's name (every
 * diagnostic then reads "dml-settle: COMMAND: ..."), "settle " for the
 * default command. */
static const char *
pre(const cli *c)
{
	return c->cmd && c->cmd->name[0] ? "" : "settle ";
}

static void
need_ethkey(const cli *c)
{
	if (!o.ethkey)
		cli_usage_error("%sneeds --eth-key FILE", pre(c));
}

/* Connect with the options (--rpc, else $DML_ETH_RPC; --escrow, else
 * $DML_ETH_ESCROW), load --eth-key, open standard output. */
static void
chain_start(const cli *c, chain *ch, int need_escrow)
{
	const char *rpc = o.rpc ? o.rpc : getenv("DML_ETH_RPC");
	const char *escrow = o.escrow ? o.escrow : getenv("DML_ETH_ESCROW");

	if (!rpc || !*rpc)
		cli_usage_error("%sneeds --rpc URL (or $DML_ETH_RPC)", pre(c));
	chain_init(ch);
	if (o.chain_id > 0)
		ch->opt.chain_id = (uint64_t)o.chain_id;
	if (o.nonce >= 0)
		ch->opt.nonce = o.nonce;
	if (o.timeout > 0)
		ch->opt.timeout = (double)o.timeout;
	if (chain_connect(ch, rpc) < 0)
		cli_usage_error("--rpc: %s", dml_errmsg());
	if (escrow) {
		if (eth_address_parse(escrow, ch->escrow) < 0)
			cli_usage_error("--escrow: %s", dml_errmsg());
		ch->has_escrow = 1;
	}
	if (need_escrow && !ch->has_escrow)
		cli_usage_error("%sneeds --escrow ADDR (or $DML_ETH_ESCROW)",
		    pre(c));
	if (o.ethkey) {
		if (eth_key_load(o.ethkey, &ch->key) < 0)
			dml_fail(DML_EXIT_USAGE);
		ch->has_key = 1;
	}
	if (!(ch->out = rec_out_open(o.output)))
		dml_fail(DML_EXIT_USAGE);
}

/* The command's result: its records committed, or its error. */
static int
chain_finish(chain *ch, int rc)
{
	if (rc < 0)
		dml_fail(dml_exit_of(rc));
	if (rec_out_commit(ch->out) < 0)
		dml_fail(DML_EXIT_USAGE);
	chain_close(ch);
	dml_close_stdout();
	return 0;
}

int
chain_settle_run(cli *c)
{
	char already[CID_MAXSTR];
	chain ch;
	int rc;

	cli_max_operands(c, 0);
	if (o.comp && o.job)
		cli_usage_error("--job or --competition, not both");
	if (o.comp || o.board) {
		if (!o.comp || !o.board || !o.ethkey)
			cli_usage_error("--eth-key, --competition and "
			    "--leaderboard are required");
		if (o.stored || o.contrib)
			cli_usage_error("--competition takes no --stored or "
			    "--contributions");
	} else if (!o.job || !o.stored || !o.contrib || !o.ethkey)
		cli_usage_error("--eth-key, --job, --stored and "
		    "--contributions are required");
	chain_start(c, &ch, 1);
	if (o.comp) {
		rc = chain_settle_competition(&ch, o.comp, o.board, o.book,
		    already);
		if (rc == 0 && *already)
			dml_warn("competition %s was already settled with these "
			    "payouts: nothing sent", already);
	} else {
		rc = chain_settle(&ch, o.job, o.stored, o.contrib, o.book,
		    already);
		if (rc == 0 && *already)
			dml_warn("job %s was already settled with these payouts: "
			    "nothing sent", already);
	}
	return chain_finish(&ch, rc);
}

int
claim_run(cli *c)
{
	chain ch;

	cli_max_operands(c, 0);
	if (!o.payouts || (o.index < 0 && !o.address))
		cli_usage_error("needs --payouts FILE and --index N or "
		    "--address ADDR");
	if (!o.proof_only && !o.ethkey)
		cli_usage_error("needs --eth-key FILE (or --proof-only)");
	chain_start(c, &ch, 1);
	return chain_finish(&ch, chain_claim(&ch, o.payouts, o.index,
	    o.address, o.role, o.proof_only, o.force));
}

int
deploy_run(cli *c)
{
	const char *dir = o.contracts ? o.contracts :
	    getenv("DML_ETH_CONTRACTS");
	unsigned char st[20];
	mpz_t supply, growth, bounty;
	chain ch;
	int rc;

	cli_max_operands(c, 0);
	if (!dir)
		cli_usage_error("needs --contracts DIR (the output of "
		    "contrib/ethereum/compile)");
	need_ethkey(c);
	if (o.settler && eth_address_parse(o.settler, st) < 0)
		cli_usage_error("--settler: %s", dml_errmsg());
	mpz_init_set_str(supply, o.supply ? o.supply : "0", 10);
	mpz_init_set_str(growth, o.growth ? o.growth : "0", 10);
	mpz_init_set_str(bounty, o.bounty ? o.bounty : "0", 10);
	chain_start(c, &ch, 0);
	rc = chain_deploy(&ch, dir, supply, growth, bounty,
	    o.settler ? st : NULL, (uint64_t)(o.period >= 0 ? o.period :
	    7776000));
	mpz_clears(supply, growth, bounty, NULL);
	return chain_finish(&ch, rc);
}

int
deposit_run(cli *c)
{
	market_comp mc;
	chain ch;
	int rc;

	cli_max_operands(c, 0);
	if (o.comp && o.job)
		cli_usage_error("--job or --competition, not both");
	if (!o.comp && !o.job)
		cli_usage_error("needs --job FILE (or --competition FILE)");
	need_ethkey(c);
	chain_start(c, &ch, 1);
	if (!o.comp)
		return chain_finish(&ch, chain_deposit(&ch, o.job, o.amount));
	if (market_comp_load(o.comp, &mc) < 0)
		dml_fail(DML_EXIT_REJECT);
	/* the prize is escrowed until award_by, as on the ledger */
	rc = chain_deposit_id(&ch, mc.id, mc.prize, mc.award_by);
	market_comp_free(&mc);
	return chain_finish(&ch, rc);
}

/* status, refund, sweep: one job's escrow. */
int
job_run(cli *c)
{
	const char *cmd = c->cmd->name;
	chain ch;

	cli_max_operands(c, 0);
	if (!o.job)
		cli_usage_error("needs --job FILE");
	if (strcmp(cmd, "status") != 0)
		need_ethkey(c);
	chain_start(c, &ch, 1);
	return chain_finish(&ch, strcmp(cmd, "status") == 0 ?
	    chain_status(&ch, o.job) : strcmp(cmd, "refund") == 0 ?
	    chain_refund(&ch, o.job) : chain_sweep(&ch, o.job));
}

int
emit_run(cli *c)
{
	chain ch;

	cli_max_operands(c, 0);
	if (o.epoch < 0 || !o.owners)
		cli_usage_error("needs --epoch K and --owners FILE");
	need_ethkey(c);
	chain_start(c, &ch, 1);
	return chain_finish(&ch, chain_emit_growth(&ch, o.epoch, o.owners,
	    o.book));
}

/* transfer, bounty: tokens to an address. */
int
move_run(cli *c)
{
	const char *cmd = c->cmd->name;
	unsigned char to[20];
	chain ch;
	mpz_t amount;
	int rc;

	cli_max_operands(c, 0);
	if (!o.to || !o.amount)
		cli_usage_error("needs --to ADDRESS and --amount N");
	if (eth_address_parse(o.to, to) < 0)
		cli_usage_error("--to: %s", dml_errmsg());
	need_ethkey(c);
	chain_start(c, &ch, 1);
	mpz_init_set_str(amount, o.amount, 10);
	rc = strcmp(cmd, "transfer") == 0 ? chain_transfer(&ch, to, amount) :
	    chain_bounty(&ch, to, amount, o.reason);
	mpz_clear(amount);
	return chain_finish(&ch, rc);
}

int
balance_run(cli *c)
{
	chain ch;

	chain_start(c, &ch, 1);
	return chain_finish(&ch, chain_balance(&ch, c->ops, c->nops));
}
