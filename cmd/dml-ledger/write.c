/* dml-ledger's writing commands: each builds an entry's body from the
 * options, signs it with the caller's key and appends it (lib/ledger). */
#include <stdlib.h>
#include <string.h>

#include "dml-ledger.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "util.h"

/* The caller's secret key: -k, else $DML_KEY. */
static void
load_secret(cli *c, dml_key *k)
{
	if (key_load(cli_need_key(c), k) < 0)
		dml_fail(DML_EXIT_USAGE);
}

/* Sign, append, print the dml.appended record, close. */
static int
submit(ledger *l, json_t *body, dml_key *k)
{
	int rc = ledger_submit(l, body, k, o.time);
	json_t *r;

	key_free(k);
	if (rc < 0) {
		ledger_close(l);
		dml_fail(dml_exit_of(rc));
	}
	r = ledger_appended(l, json_string_value(json_object_get(body, "op")));
	ledger_close(l);
	json_decref(body);
	print_final(r);
	return 0;
}

static void
need(const char *v, const char *what)
{
	if (!v)
		cli_usage_error("%s is required", what);
}

static int
alloc_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a,
	    "to")), json_string_value(json_object_get(*(json_t *const *)b,
	    "to")));
}

int
cmd_genesis(cli *c)
{
	json_t *body, **v;
	size_t n;
	dml_key k;

	cli_max_operands(c, 0);
	need(o.supply, "--supply");
	need(o.growth, "--growth-pool");
	need(o.bounty, "--bounty-pool");
	n = json_array_size(o.alloc);
	v = xmalloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(o.alloc, i);
	qsort(v, n, sizeof *v, alloc_cmp);
	body = json_pack("{s:s,s:s,s:s,s:s}", "op", "genesis", "supply",
	    o.supply, "growth_pool", o.growth, "bounty_pool", o.bounty);
	if (n) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++) {
			if (i && alloc_cmp(&v[i - 1], &v[i]) == 0)
				cli_usage_error("--alloc names a key twice");
			json_array_append(a, v[i]);
		}
		json_object_set_new(body, "alloc", a);
	}
	free(v);
	load_secret(c, &k);
	return submit(open_ledger(LEDGER_WRITE | LEDGER_CREATE, NULL, NULL),
	    body, &k);
}

/* transfer and bounty: --to KEY --amount N */
static json_t *
movement(const char *op)
{
	char to[65];

	need(o.to, "--to KEY");
	key_arg("--to", o.to, to);
	need(o.amount, "--amount");
	return json_pack("{s:s,s:s,s:s}", "op", op, "to", to, "amount",
	    o.amount);
}

int
cmd_transfer(cli *c)
{
	json_t *b;
	dml_key k;

	cli_max_operands(c, 0);
	b = movement("transfer");
	load_secret(c, &k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), b, &k);
}

int
cmd_bounty(cli *c)
{
	json_t *b;
	dml_key k;

	cli_max_operands(c, 0);
	b = movement("bounty");
	if (o.reason)
		json_object_set_new(b, "reason", json_string(o.reason));
	load_secret(c, &k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), b, &k);
}

int
cmd_escrow(cli *c)
{
	dml_job j;
	json_t *b;
	dml_key k;

	cli_max_operands(c, 0);
	need(o.job, "-j FILE");
	if (job_load(o.job, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	b = ledger_escrow_body(&j);
	job_free(&j);
	load_secret(c, &k);
	return submit(open_ledger(LEDGER_WRITE, NULL, NULL), b, &k);
}

int
cmd_refund(cli *c)
{
	char id[CID_MAXSTR], *amt;
	ledger_escrow e;
	ledger *l;
	json_t *b;
	dml_key k;

	cli_max_operands(c, 0);
	need(o.job, "-j ID|FILE");
	job_arg(o.job, id);
	load_secret(c, &k);
	l = open_ledger(LEDGER_WRITE, NULL, NULL);
	amt = ledger_escrow_get(l, id, &e) == 0 ?
	    mpz_get_str(NULL, 10, e.amount) : xstrdup("0");
	b = json_pack("{s:s,s:s,s:s}", "op", "refund", "job", id, "amount", amt);
	free(amt);
	return submit(l, b, &k);
}

int
cmd_emit(cli *c)
{
	char (*owners)[65];
	size_t n;
	int rc;
	ledger *l;
	json_t *b;
	dml_key k;

	cli_max_operands(c, 0);
	if (o.epoch < 0 || !o.owners)
		cli_usage_error("--epoch K and --owners FILE are required");
	if ((rc = ledger_read_owners(o.owners, &owners, &n)) < 0)
		dml_fail(dml_exit_of(rc));
	load_secret(c, &k);
	l = open_ledger(LEDGER_WRITE, NULL, NULL);
	if (ledger_emit_body(l, o.epoch, owners, n, &b) < 0) {
		ledger_close(l);
		dml_fail(DML_EXIT_REJECT);
	}
	free(owners);
	return submit(l, b, &k);
}
