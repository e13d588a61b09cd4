/* dml-report: the report node. Turns the final aggregate of a job into the
 * customer's report, sealed to the customer, or withholds it when too few
 * devices took part. With --render, writes a report's Markdown and SVG. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "envelope.h"
#include "job.h"
#include "record.h"
#include "report.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-report -j JOB -k KEY [--trust KEYS] [--no-seal] [-o FILE] [AGGREGATE]\n"
"       dml-report --render DIR [REPORT]\n"
"Read the job's final dml.aggregate, check its signature, and write the\n"
"customer's dml.report, signed with KEY and sealed to the job's customer\n"
"(open it with dml-encrypt -d). Below the job's min_devices the report is\n"
"withheld: a dml.withheld record is written and the exit status is 1.\n"
"For a job whose results are Paillier-encrypted the report holds the\n"
"encrypted sums and the clear counts; the customer decrypts it with\n"
"dml-encrypt -d --paillier-key.\n"
"  -j, --job FILE      the job (its signature is checked)\n"
"  -k, --key FILE      the report node's secret key\n"
"      --trust FILE    accept aggregates signed only by these keys (one hex\n"
"                      key or dml.pubkey record per line)\n"
"      --no-seal       write the signed report in the clear\n"
"      --contributions FILE  also write the signed dml.contributions record\n"
"                      settlement pays from (devices and nodes)\n"
"      --refining KEY, --distributing KEY  name those nodes in it\n"
"      --weights FILE  the trainers' dml.weight records: the kept ones are\n"
"                      paid from the trainer pool by their weight\n"
"                      (repeatable)\n"
"      --render DIR    write DIR/report.md and DIR/report.svg of a report\n"
"      --privacy FILE  the dml.privacy records of the job (dml-privacy\n"
"                      account): the last one's epsilon and delta go into\n"
"                      the report's \"privacy\"\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

static int
trusted(const char *path, const char *from)
{
	char *buf, *line, *save;
	size_t n;
	int found = 0;

	if (dml_read_file(path, &buf, &n) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *k = strstr(line, "\"key\":\"");
		if (k)
			k += 7;
		else
			k = line;
		if (strncmp(k, from, 64) == 0)
			found = 1;
	}
	free(buf);
	return found;
}

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
		dml_error("%s: %s", dir, strerror(errno));
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

int
main(int argc, char **argv)
{
	enum { O_TRUST = 256, O_NOSEAL, O_RENDER, O_VERSION, O_CONTRIB, O_WEIGHTS,
		O_REFN,
		O_DISTN };
	enum { O_PRIVACY = 512 };
	static const struct option opts[] = {
		{"job", required_argument, 0, 'j'},
		{"key", required_argument, 0, 'k'},
		{"trust", required_argument, 0, O_TRUST},
		{"no-seal", no_argument, 0, O_NOSEAL},
		{"render", required_argument, 0, O_RENDER},
		{"contributions", required_argument, 0, O_CONTRIB},
		{"weights", required_argument, 0, O_WEIGHTS},
		{"refining", required_argument, 0, O_REFN},
		{"distributing", required_argument, 0, O_DISTN},
		{"privacy", required_argument, 0, O_PRIVACY},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *jobf = NULL, *keyf = getenv("DML_KEY"), *trust = NULL,
		   *out = NULL, *rdir = NULL, *aid, *contribf = NULL,
		   *weightsf = NULL, *privf = NULL;
	json_t *refining = json_array(), *distributing = json_array();
	int seal = 1, c, rc;
	dml_job job;
	dml_key k;
	rec_in *in;
	json_t *agg, *rep, *extra, *cr = NULL;
	rec_out *o;
	const char *const *names;
	int nnames;
	long long devices;

	dml_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "j:k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': jobf = optarg; break;
		case 'k': keyf = optarg; break;
		case O_TRUST: trust = optarg; break;
		case O_NOSEAL: seal = 0; break;
		case O_RENDER: rdir = optarg; break;
		case O_CONTRIB: contribf = optarg; break;
		case O_WEIGHTS: weightsf = optarg; break;
		case O_PRIVACY: privf = optarg; break;
		case O_REFN: case O_DISTN: {
			unsigned char pk[32];
			char hex[65];
			if (pubkey_load(optarg, pk) < 0)
				dml_usage_error("%s", dml_errmsg());
			key_hex(pk, 32, hex);
			json_array_append_new(c == O_REFN ? refining : distributing,
			    json_string(hex));
			break;
		}
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (argc - optind > 1)
		dml_usage_error("one input at most");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (rdir) {
		json_decref(refining);
		json_decref(distributing);
		if (render(rdir, optind < argc ? argv[optind] : NULL) < 0)
			dml_fail(DML_EXIT_REJECT);
		return 0;
	}
	if (!jobf || !keyf)
		dml_usage_error("-j JOB and -k KEY are required");
	if (job_load(jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	in = rec_open(optind < argc ? argv[optind] : NULL);
	if (!in)
		dml_fail(DML_EXIT_REJECT);
	rc = rec_next(in, &agg);
	if (rc == 0)
		dml_die(DML_EXIT_REJECT, "%s: empty input: no aggregate",
		    rec_name(in));
	if (rc < 0 || rec_check(in, agg, "dml.aggregate") < 0 ||
	    rec_verify(agg, in, NULL) < 0 ||
	    rec_get_str(in, agg, "job", &aid) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (strcmp(aid, job.id) != 0)
		dml_die(DML_EXIT_REJECT, "%s:%ld: the aggregate is for job %s, "
		    "not %s", rec_name(in), rec_line(in), aid, job.id);
	if (trust) {
		int t = trusted(trust, json_string_value(json_object_get(agg,
		    "from")));
		if (t < 0)
			dml_fail(DML_EXIT_USAGE);
		if (!t)
			dml_die(DML_EXIT_REJECT, "%s:%ld: the aggregate is "
			    "signed by an untrusted node", rec_name(in),
			    rec_line(in));
	}
	if (rec_detach(in, agg) < 0)
		dml_fail(DML_EXIT_REJECT);
	rc = rec_next(in, &extra);
	if (rc != 0) {
		if (rc > 0)
			dml_die(DML_EXIT_REJECT, "%s:%ld: more than one "
			    "aggregate: combine them with dml-aggregate first",
			    rec_name(in), rec_line(in));
		dml_fail(DML_EXIT_REJECT);
	}
	if (!(o = rec_out_open(out)))
		dml_fail(DML_EXIT_USAGE);
	if (rec_get_int(in, agg, "devices", 0, 1LL << 40, &devices) < 0) {
		rec_out_abort(o);
		dml_fail(DML_EXIT_REJECT);
	}
	if (devices < job.min_devices) {
		rep = report_withheld(&job, agg);
		if (rec_sign(rep, &k) < 0 || rec_out_write(o, rep, NULL) < 0 ||
		    rec_out_commit(o) < 0)
			dml_fail(DML_EXIT_USAGE);
		dml_warn("report withheld: %lld devices, the job needs %lld",
		    devices, job.min_devices);
		dml_close_stdout();
		return DML_EXIT_REJECT;
	}
	names = report_class_names(job.data, &nnames);
	/* a Paillier job's sums stay encrypted: only the customer can read */
	rep = job.enc.on ? report_encrypted(&job, agg, in) :
	    report_build(&job, agg, in, names, nnames);
	if (!rep) {
		rec_out_abort(o);
		dml_fail(DML_EXIT_REJECT);
	}
	rec_close(in);
	if (privf) {
		json_t *p = report_privacy(&job, privf);
		if (!p)
			dml_fail(DML_EXIT_REJECT);
		json_object_set_new(rep, "privacy", p);
	}
	if (!job.enc.on) {
		char hex[65];
		key_hex(k.pk, 32, hex);
		json_object_set_new(rep, "from", json_string(hex));
		report_render(rep);
	}
	if (rec_sign(rep, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (weightsf && !contribf)
		dml_usage_error("--weights goes with --contributions");
	if (contribf) {
		cr = report_contributions(&job, agg,
		    json_string_value(json_object_get(rep, "from")), refining,
		    distributing);
		if (weightsf) {
			json_t *tr = report_trainers(&job, weightsf);
			if (!tr)
				dml_fail(DML_EXIT_REJECT);
			json_object_set_new(cr, "trainers", tr);
		}
		if (rec_sign(cr, &k) < 0)
			dml_fail(DML_EXIT_USAGE);
	}
	json_decref(refining);
	json_decref(distributing);
	if (seal) {
		json_t *e = envelope_seal(rep, NULL, job.customer, &k);
		if (!e)
			dml_fail(DML_EXIT_USAGE);
		json_decref(rep);
		rep = e;
	}
	key_free(&k);
	if (rec_out_write(o, rep, NULL) < 0 || rec_out_commit(o) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (cr) {	/* after the report, so it never exists without one */
		rec_out *co = rec_out_open(contribf);
		if (!co || rec_out_write(co, cr, NULL) < 0 ||
		    rec_out_commit(co) < 0)
			dml_fail(DML_EXIT_USAGE);
		json_decref(cr);
	}
	json_decref(rep);
	json_decref(agg);
	job_free(&job);
	dml_close_stdout();
	return 0;
}
