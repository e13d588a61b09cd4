/* dml-ledger's reading commands: verify, balance, history. They take the
 * ledger's shared lock and write records whole or not at all. */
#include <stdlib.h>
#include <string.h>

#include "dml-ledger.h"
#include "record.h"
#include "util.h"

int
cmd_verify(cli *c)
{
	ledger *l;
	json_t *r;
	char hex[65], *s;
	size_t n;

	cli_max_operands(c, 0);
	l = open_ledger(LEDGER_VERIFY, NULL, NULL);
	if (ledger_entries(l) == 0)
		dml_warn("%s: warning: empty ledger (no genesis)", o.ledger);
	free(ledger_accounts(l, &n));
	ledger_head(l, hex);
	s = mpz_get_str(NULL, 10, ledger_supply(l));
	r = rec_new("dml.verified");
	json_object_set_new(r, "entries", json_integer(ledger_entries(l)));
	json_object_set_new(r, "head", json_string(hex));
	json_object_set_new(r, "supply", json_string(s));
	json_object_set_new(r, "accounts", json_integer((json_int_t)n));
	json_object_set_new(r, "torn", json_integer(ledger_torn(l)));
	free(s);
	ledger_close(l);
	print_final(r);
	return 0;
}

/* One dml.balance record per name. */
static void
write_balances(const ledger *l, const char **names, size_t n, rec_out *out)
{
	mpz_t b;

	mpz_init(b);
	for (size_t i = 0; i < n; i++) {
		json_t *r = rec_new("dml.balance");
		char *s;
		ledger_balance(l, names[i], b);
		s = mpz_get_str(NULL, 10, b);
		json_object_set_new(r, "account", json_string(names[i]));
		json_object_set_new(r, "amount", json_string(s));
		free(s);
		if (rec_out_write(out, r, NULL) < 0)
			dml_fail(DML_EXIT_USAGE);
		json_decref(r);
	}
	mpz_clear(b);
}

int
cmd_balance(cli *c)
{
	char acct[CID_MAXSTR + 8];
	const char **names, *one[1];
	size_t n;
	ledger *l;
	rec_out *out;

	cli_max_operands(c, 1);
	if (cli_operand(c, 0))
		account_arg(cli_operand(c, 0), acct, sizeof acct);
	l = open_ledger(0, NULL, NULL);
	if (cli_operand(c, 0)) {
		one[0] = acct;
		names = one;
		n = 1;
	} else
		names = ledger_accounts(l, &n);
	if (!(out = rec_out_open(o.output)))
		dml_fail(DML_EXIT_USAGE);
	write_balances(l, names, n, out);
	if (names != one)
		free(names);
	ledger_close(l);
	if (rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

struct hist {
	const char *account, *job;
	rec_out *out;
};

static int
history_visit(void *ctx, const json_t *e, const char *line, size_t len,
    const unsigned char hash[32])
{
	struct hist *h = ctx;
	const char *job = json_string_value(json_object_get(e, "job"));
	int hit = h->job ? job && strcmp(job, h->job) == 0 :
	    ledger_entry_touches(e, h->account);

	if (hit && (rec_out_raw(h->out, line, len) < 0 ||
	    rec_out_raw(h->out, "\n", 1) < 0))
		return LEDGER_ESYS;
	return 0;
}

int
cmd_history(cli *c)
{
	char acct[CID_MAXSTR + 8], id[CID_MAXSTR];
	struct hist h = {NULL, NULL, NULL};
	ledger *l;

	if (c->nops > 1 || (o.job && c->nops))
		cli_usage_error("give one ACCOUNT or --job ID");
	if (o.job) {
		job_arg(o.job, id);
		h.job = id;
	} else if (c->nops) {
		account_arg(cli_operand(c, 0), acct, sizeof acct);
		h.account = acct;
	} else
		cli_usage_error("give an ACCOUNT or --job ID");
	if (!(h.out = rec_out_open(o.output)))
		dml_fail(DML_EXIT_USAGE);
	l = open_ledger(0, history_visit, &h);
	ledger_close(l);
	if (rec_out_commit(h.out) < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}
