/* dml-report: the report node. Turns the final aggregate of a job into the
 * customer's report, sealed to the customer, or withholds it when too few
 * devices took part (report_make). With --render, writes a report's
 * Markdown and SVG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "envelope.h"
#include "job.h"
#include "keyset.h"
#include "record.h"
#include "report.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-report -j JOB [-k KEY] [--trust KEYS] [--no-seal] [-o FILE]\n"
"                  [AGGREGATE]\n"
"       dml-report --render DIR [REPORT]\n"
"Read the job's final dml.aggregate, check its signature, and write the\n"
"customer's dml.report, signed with KEY and sealed to the job's customer\n"
"(open it with dml-encrypt -d). Below the job's min_devices the report is\n"
"withheld: a dml.withheld record is written and the exit status is 1.\n"
"For a job whose results are Paillier-encrypted the report holds the\n"
"encrypted sums and the clear counts; the customer decrypts it with\n"
"dml-encrypt -d --paillier-key.\n"
"  -j, --job FILE      the job (its signature is checked)\n"
"  -k, --key FILE      the report node's secret key (default: $DML_KEY)\n"
"      --trust FILE    accept aggregates signed only by these keys (one hex\n"
"                      key or dml.pubkey record per line)\n"
"      --no-seal       write the signed report in the clear\n"
"      --contributions FILE  also write the signed dml.contributions record\n"
"                      settlement pays from (devices and nodes)\n"
"      --refining KEY, --distributing KEY  name those nodes in it\n"
"      --weights FILE  the trainers' dml.weight records: the kept ones are\n"
"                      paid from the trainer pool by their weight\n"
"                      (with --contributions)\n"
"      --render DIR    write DIR/report.md and DIR/report.svg of a report\n"
"      --privacy FILE  the dml.privacy records of the job (dml-privacy\n"
"                      account): the last one's epsilon and delta go into\n"
"                      the report's \"privacy\"\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help          this help\n"
"      --version       print the version\n";

enum { O_TRUST = CLI_ID_BASE, O_NOSEAL, O_RENDER, O_CONTRIB, O_WEIGHTS,
	O_REFN, O_DISTN, O_PRIVACY };

static const cli_opt opts[] = {
	CLI_JOB,
	CLI_KEY,
	CLI_OUTPUT,
	{"trust", 0, 1, O_TRUST, NULL, 0, NULL},
	{"no-seal", 0, 0, O_NOSEAL, NULL, 0, NULL},
	{"render", 0, 1, O_RENDER, NULL, 0, NULL},
	{"contributions", 0, 1, O_CONTRIB, NULL, 0, NULL},
	{"weights", 0, 1, O_WEIGHTS, NULL, 0, NULL},
	{"refining", 0, 1, O_REFN, NULL, 0, NULL},
	{"distributing", 0, 1, O_DISTN, NULL, 0, NULL},
	{"privacy", 0, 1, O_PRIVACY, NULL, 0, NULL},
	CLI_END};

struct args {
	const char *job, *trust, *out, *render, *contrib, *weights, *privacy;
	int seal;
	json_t *refining, *distributing;	/* hex keys */
};

static void
parse(cli *c, int argc, char **argv, struct args *a)
{
	unsigned char pk[32];
	char hex[65];
	int o;

	cli_init(c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(c)) != -1) {
		switch (o) {
		case 'j': a->job = c->arg; break;
		case 'o': a->out = c->arg; break;
		case O_TRUST: a->trust = c->arg; break;
		case O_NOSEAL: a->seal = 0; break;
		case O_RENDER: a->render = c->arg; break;
		case O_CONTRIB: a->contrib = c->arg; break;
		case O_WEIGHTS: a->weights = c->arg; break;
		case O_PRIVACY: a->privacy = c->arg; break;
		case O_REFN: case O_DISTN:
			if (pubkey_load(c->arg, pk) < 0)
				cli_opt_error(c, "%s", dml_errmsg());
			key_hex(pk, 32, hex);
			json_array_append_new(o == O_REFN ? a->refining :
			    a->distributing, json_string(hex));
			break;
		}
	}
	cli_max_operands(c, 1);
	if (a->render)
		return;
	if (!a->job)
		cli_usage_error("-j JOB is required");
	cli_need_key(c);
	if (a->weights && !a->contrib)
		cli_usage_error("--weights goes with --contributions");
}

/* --render: a report's Markdown and SVG into dir. */
static int
render(const char *dir, const char *path)
{
	rec_in *in = rec_open(path);
	json_t *r = NULL;
	const char *md, *svg;
	char *p;
	int rc = -1;

	if (!in)
		return -1;
	if (rec_next(in, &r) <= 0) {
		if (rec_count(in) == 0 && !r)
			dml_error("%s: empty input: no report", rec_name(in));
		goto out;
	}
	if (rec_check(in, r, "dml.report") < 0 || rec_verify(r, in, NULL) < 0)
		goto out;
	if (json_object_get(r, "encryption")) {
		rec_err(in, "the report is encrypted: decrypt it first with "
		    "dml-encrypt -d --paillier-key KEY -j JOB");
		goto out;
	}
	md = json_string_value(json_object_get(json_object_get(r, "render"),
	    "markdown"));
	svg = json_string_value(json_object_get(json_object_get(r, "render"),
	    "svg"));
	if (!md || !svg) {
		rec_err(in, "the report has no \"render\" with \"markdown\" "
		    "and \"svg\"");
		goto out;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		dml_error_sys("%s", dir);
		goto out;
	}
	p = xasprintf("%s/report.md", dir);
	rc = dml_write_file(p, md, strlen(md), 0644);
	free(p);
	if (rc == 0) {
		p = xasprintf("%s/report.svg", dir);
		rc = dml_write_file(p, svg, strlen(svg), 0644);
		free(p);
	}
out:
	json_decref(r);
	rec_close(in);
	return rc;
}

/* The signed dml.contributions of the report (signed as rep is) and the
 * trainers of --weights. Exits on failure. */
static json_t *
contributions(const struct args *a, const dml_job *job, const json_t *agg,
    const json_t *rep, const dml_key *k)
{
	json_t *cr = report_contributions(job, agg,
	    json_string_value(json_object_get(rep, "from")), a->refining,
	    a->distributing), *tr;

	if (a->weights) {
		if (!(tr = report_trainers(job, a->weights)))
			dml_fail(DML_EXIT_REJECT);
		json_object_set_new(cr, "trainers", tr);
	}
	if (rec_sign(cr, k) < 0)
		dml_fail(DML_EXIT_USAGE);
	return cr;
}

/* Write one record to path (NULL: stdout) whole; exits on failure. */
static void
write_one(const char *path, const json_t *r)
{
	rec_out *o = rec_out_open(path);

	if (!o || rec_out_write(o, r, NULL) < 0 || rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
}

/* The report of the aggregate of `in`, or the withheld record. An exit
 * status. */
static int
report_main(const struct args *a, const dml_job *job, const dml_key *k,
    rec_in *in)
{
	keyset *trust = NULL;
	json_t *agg, *rep, *cr = NULL, *e;
	int withheld;

	if (a->trust && keyset_load(trust = keyset_new(), a->trust) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(agg = report_read_aggregate(job, in, trust)) ||
	    !(rep = report_make(job, agg, in, k->pk, a->privacy, &withheld)))
		dml_fail(DML_EXIT_REJECT);
	keyset_free(trust);
	if (rec_sign(rep, k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (withheld) {
		write_one(a->out, rep);
		dml_warn("report withheld: %lld devices, the job needs %lld",
		    (long long)json_integer_value(json_object_get(rep,
		    "devices")), job->min_devices);
		json_decref(rep);
		json_decref(agg);
		return DML_EXIT_REJECT;
	}
	if (a->contrib)
		cr = contributions(a, job, agg, rep, k);
	if (a->seal) {
		if (!(e = envelope_seal(rep, NULL, job->customer, k)))
			dml_fail(DML_EXIT_USAGE);
		json_decref(rep);
		rep = e;
	}
	write_one(a->out, rep);
	if (cr) {	/* after the report, so it never exists without one */
		write_one(a->contrib, cr);
		json_decref(cr);
	}
	json_decref(rep);
	json_decref(agg);
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = {.seal = 1, .refining = json_array(),
		.distributing = json_array()};
	dml_job job;
	dml_key k;
	rec_in *in;
	int status;
	cli c;

	parse(&c, argc, argv, &a);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (a.render) {
		if (render(a.render, cli_operand(&c, 0)) < 0)
			dml_fail(DML_EXIT_REJECT);
		dml_close_stdout();
		return 0;
	}
	if (job_load(a.job, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(cli_key(&c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(in = rec_open(cli_operand(&c, 0))))
		dml_fail(DML_EXIT_REJECT);
	status = report_main(&a, &job, &k, in);
	rec_close(in);
	key_free(&k);
	job_free(&job);
	json_decref(a.refining);
	json_decref(a.distributing);
	dml_close_stdout();
	return status;
}
