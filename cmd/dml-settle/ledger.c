/* dml-settle on the ledger: a job's settlement (lib/ledger's
 * ledger_settle_job) or a competition's prize (lib/ledger's market), the
 * dml.payouts record, then the entry's dml.appended. */
#include <stdlib.h>

#include "dml-settle.h"
#include "job.h"
#include "ledger.h"
#include "market.h"
#include "record.h"
#include "sign.h"
#include "util.h"

/* Write the records whole, then close stdout. Takes both. */
static void
print_two(json_t *a, json_t *b)
{
	rec_out *out = rec_out_open(o.output);

	if (!out || rec_out_write(out, a, NULL) < 0 ||
	    (b && rec_out_write(out, b, NULL) < 0) || rec_out_commit(out) < 0)
		dml_fail(DML_EXIT_USAGE);
	json_decref(a);
	json_decref(b);
	dml_close_stdout();
}

/* A competition's prize on the ledger: the payouts, then the entry. */
static int
award(const char *path, const char *keyf)
{
	market_comp mc;
	json_t *pr;
	char hash[65];
	long long seq;
	dml_key k;
	int rc;

	if (market_comp_load(o.comp, &mc) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if ((rc = market_award_ledger(path, &mc, o.board, &k, o.time, &pr,
	    &seq, hash)) < 0)
		dml_fail(dml_exit_of(rc));
	key_free(&k);
	market_comp_free(&mc);
	print_two(pr, ledger_appended_record("settle", seq, hash));
	return 0;
}

int
ledger_run(cli *c)
{
	const char *keyf = cli_key(c);
	char *path = o.ledger ? xstrdup(o.ledger) : ledger_default_path();
	json_t *pr, *ap;
	dml_key k;
	dml_job j;
	int rc;

	cli_max_operands(c, 0);
	if (o.comp || o.board) {
		if (!o.comp || !o.board || !keyf)
			cli_usage_error("-k KEY, --competition and --leaderboard "
			    "are required");
		if (o.job || o.stored || o.contrib || o.dry)
			cli_usage_error("--competition takes no --job, --stored, "
			    "--contributions or --dry-run");
		rc = award(path, keyf);
		free(path);
		return rc;
	}
	if (!o.job || !o.stored || !o.contrib || (!keyf && !o.dry))
		cli_usage_error("-k KEY, --job, --stored and --contributions are "
		    "required");
	if (job_load(o.job, &j) < 0)
		dml_fail(DML_EXIT_REJECT);
	/* a dry run signs nothing: no key is read */
	if (!o.dry && key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	rc = ledger_settle_job(path, &j, o.stored, o.contrib, o.dry ? NULL : &k,
	    o.time, &pr, &ap);
	if (!o.dry)
		key_free(&k);
	if (rc < 0)
		dml_fail(dml_exit_of(rc));
	print_two(pr, ap);
	job_free(&j);
	free(path);
	return 0;
}
