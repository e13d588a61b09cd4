/* dml-settle: execute a job's contract: compute the payouts from the job's
 * reward terms, the report node's contributions and the escrow, and append
 * them to the ledger as one settle entry. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "job.h"
#include "ledger.h"
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
"  -h, --help, --version\n";

/* The one record of a file, with its reader (for positions and strings). */
static json_t *
one_record(const char *path, rec_in **inp)
{
	rec_in *in = rec_open(path);
	json_t *r, *extra;
	int rc;

	if (!in)
		dml_fail(DML_EXIT_USAGE);
	rc = rec_next(in, &r);
	if (rc == 0)
		dml_die(DML_EXIT_REJECT, "%s: empty input: no record", path);
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	if (rec_detach(in, r) < 0)
		dml_fail(DML_EXIT_REJECT);
	rc = rec_next(in, &extra);
	if (rc > 0)
		dml_die(DML_EXIT_REJECT, "%s:%ld: more than one record", path,
		    rec_line(in));
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	*inp = in;
	return r;
}

/* The report's CID from its dml.stored receipt. */
static void
stored_cid(const char *path, char out[CID_MAXSTR])
{
	rec_in *in;
	json_t *r = one_record(path, &in);
	const char *s;
	cid c;

	if (rec_check(in, r, "dml.stored") < 0 ||
	    rec_get_str(in, r, "cid", &s) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (strlen(s) >= CID_MAXSTR || cid_parse(&c, s) < 0)
		dml_die(DML_EXIT_REJECT, "%s:1: field \"cid\" is not a CID", path);
	strcpy(out, s);
	json_decref(r);
	rec_close(in);
}

/* Read and verify the contributions; *id is the CID of their line. */
static void
contributions(const char *path, const char *job, settle_contrib *c,
    char id[CID_MAXSTR])
{
	rec_in *in;
	json_t *r = one_record(path, &in);
	size_t n;
	char *line;

	if (settle_contrib_parse(in, r, c) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (strcmp(c->job, job) != 0)
		dml_die(DML_EXIT_REJECT, "%s:1: the contributions are for job "
		    "%s, not %s", path, c->job, job);
	if (!(line = canon_dump(r, NULL, NULL, &n)))
		dml_fail(DML_EXIT_USAGE);
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	if (cid_of_bytes(line, n + 1, id) < 0)
		dml_fail(DML_EXIT_USAGE);
	free(line);
	json_decref(r);
	rec_close(in);
}

static int
exit_of(int rc)
{
	return rc == LEDGER_ESYS ? DML_EXIT_USAGE : DML_EXIT_REJECT;
}

int
main(int argc, char **argv)
{
	enum { O_TIME = 256, O_VERSION };
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
		{0, 0, 0, 0}};
	const char *path = NULL, *keyf = NULL, *jobf = NULL, *storedf = NULL,
		   *contribf = NULL, *when = NULL;
	char report[CID_MAXSTR], cid_contrib[CID_MAXSTR], hex[65];
	static const char *state[] = {"open", "settled", "refunded"};
	static char *deflt;	/* the default ledger path, kept to the end */
	int ch, dry = 0, rc;
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
	while ((ch = getopt_long(argc, argv, "L:k:j:s:c:nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'L': path = optarg; break;
		case 'k': keyf = optarg; break;
		case 'j': jobf = optarg; break;
		case 's': storedf = optarg; break;
		case 'c': contribf = optarg; break;
		case O_TIME: when = optarg; break;
		case 'n': dry = 1; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!jobf || !storedf || !contribf || (!keyf && !dry))
		dml_usage_error("-k KEY, --job, --stored and --contributions are "
		    "required");
	if (when) {
		long long tt;
		if (ledger_time_parse(when, &tt) < 0)
			dml_usage_error("--time: %s", dml_errmsg());
	}
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
	stored_cid(storedf, report);
	contributions(contribf, j.id, &c, cid_contrib);
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
