/* dml-weight: crowd fine-tuning's trainer weighting at the federated
 * node: score each trainer on the job's control set (or by agreement
 * with a reference update, FLTrust), drop the poor and the outliers, and
 * pass the kept results on with a dml.weight record per trainer. */
#include <stdlib.h>

#include "cli.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "util.h"
#include "weight.h"

static const char usage[] =
"usage: dml-weight -j JOBFILE [-k KEY] -w WEIGHTS (--answers ANSWERS |\n"
"                  --reference REF) [options] [FILE...]\n"
"Score the trainers whose signed dml.result records FILEs (default stdin)\n"
"hold, write the kept results unchanged to stdout and one signed dml.weight\n"
"record per trainer to WEIGHTS (dml-aggregate --scale WEIGHTS reads it).\n"
"  -j, --job FILE          the job the results answer\n"
"  -k, --key FILE          this node's secret key, to sign dml.weight\n"
"                          (default: $DML_KEY)\n"
"  -w, --weights FILE      where the dml.weight records go\n"
"      --answers FILE      control mode: the control answer key\n"
"                          (dml.control records) or the control set\n"
"                          folder; when the job names a control set, it\n"
"                          must be that set, and the adaptive test of\n"
"                          dml-run(1) is replayed for every trainer\n"
"                          (the old spelling -a still works, with a\n"
"                          warning)\n"
"      --reference FILE    FLTrust mode: a dml.result or dml.aggregate\n"
"                          computed on the common data; weight = ReLU of\n"
"                          the cosine of a trainer's mean update with it\n"
"      --min-accuracy P    minimum control accuracy (default: the job's\n"
"                          control.min_accuracy, else 0)\n"
"      --alpha A           binomial test level against chance (0.001)\n"
"      --z Z               robust z-score cut, low side (3.5)\n"
"      --classes C         chance is 1/C (default: the job's, else 10)\n"
"      --no-verify         do not check the results' signatures\n"
"  -o, --output FILE       kept results to FILE, not stdout\n"
"  -h, --help              this help\n"
"      --version           print the version\n";

enum { O_ANSWERS = CLI_ID_BASE, O_REF, O_MINACC, O_ALPHA, O_Z, O_CLASSES,
	O_NOVERIFY };

static const cli_opt opts[] = {
	CLI_JOB,
	CLI_KEY,
	CLI_OUTPUT,
	{"weights", 'w', 1, 0, NULL, 0, NULL},
	{"answers", 0, 1, O_ANSWERS, NULL, 'a', NULL},
	{"reference", 0, 1, O_REF, NULL, 0, NULL},
	{"min-accuracy", 0, 1, O_MINACC, NULL, 0, NULL},
	{"alpha", 0, 1, O_ALPHA, NULL, 0, NULL},
	{"z", 0, 1, O_Z, NULL, 0, NULL},
	{"classes", 0, 1, O_CLASSES, NULL, 0, NULL},
	{"no-verify", 0, 0, O_NOVERIFY, NULL, 0, NULL},
	CLI_END};

struct args {
	const char *job, *weights, *answers, *ref, *out;
	int verify;
	weight_opts wo;
};

static void
parse(cli *c, int argc, char **argv, struct args *a)
{
	int o;

	cli_init(c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(c)) != -1) {
		switch (o) {
		case 'j': a->job = c->arg; break;
		case 'w': a->weights = c->arg; break;
		case 'o': a->out = c->arg; break;
		case O_ANSWERS: a->answers = c->arg; break;
		case O_REF: a->ref = c->arg; break;
		case O_MINACC: a->wo.min_accuracy = cli_double(c, 0, 1); break;
		case O_ALPHA:
			a->wo.alpha = cli_double(c, 0, 1);
			if (a->wo.alpha == 0)
				cli_opt_error(c, "want (0, 1]");
			break;
		case O_Z:
			a->wo.z = cli_double(c, 0, 1e300);
			if (a->wo.z == 0)
				cli_opt_error(c, "want a positive number");
			break;
		case O_CLASSES: a->wo.classes = cli_long(c, 2, 1L << 20); break;
		case O_NOVERIFY: a->verify = 0; break;
		}
	}
	if (!a->job || !a->weights)
		cli_usage_error("-j JOBFILE and -w WEIGHTS are required");
	cli_need_key(c);
	if (!a->answers == !a->ref)
		cli_usage_error("give one of --answers ANSWERS (control mode) "
		    "and --reference REF (FLTrust mode)");
}

/* Score the round: control mode with the answer key ak, else FLTrust
 * against the reference (read now, as the results were). */
static int
score(weight_round *w, const weight_key *ak, const struct args *a)
{
	double *ref;
	size_t d = 0;

	if (ak) {
		weight_round_control(w, ak, &a->wo);
		return 0;
	}
	if (!(ref = weight_update_load(a->ref, &d)))
		return -1;
	weight_round_fltrust(w, ref, d);
	free(ref);
	return 0;
}

/* The kept results to o, every trainer's signed dml.weight to wout. -1
 * (rejected: nobody kept) or -2 (a write failed). */
static int
write_out(const weight_round *w, const struct args *a, const dml_key *key,
    rec_out *o, rec_out *wout)
{
	size_t kept = 0;

	for (size_t i = 0; i < w->n; i++) {
		const weight_trainer *t = &w->t[i].w;
		json_t *wr = weight_record(t, w->job->id,
		    weight_round_round(w), a->answers ? "control" : "fltrust");
		int rc = 0;
		if (t->kept) {
			kept++;
			rc = rec_out_write(o, w->t[i].result, NULL);
		} else {
			char hex[65];
			key_hex(t->key, 32, hex);
			dml_warn("excluded %.16s...: %s", hex, t->reason);
		}
		if (rc == 0)
			rc = rec_sign(wr, key) < 0 || rec_out_write(wout, wr,
			    NULL) < 0 ? -1 : 0;
		json_decref(wr);
		if (rc < 0)
			return -2;
	}
	if (!kept)
		return dml_error("every trainer was excluded");
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = {.verify = 1,
		.wo = {.min_accuracy = -1, .alpha = 1e-3, .z = 3.5}};
	rec_out *o = NULL, *wout = NULL;
	weight_key *ak = NULL;
	weight_round w;
	dml_job job;
	dml_key key;
	int rc;
	cli c;

	parse(&c, argc, argv, &a);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(a.job, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_TRAIN)
		dml_die(DML_EXIT_USAGE, "%s: the job's task is %s; dml-weight "
		    "weighs train updates", a.job, task_name(job.task));
	if (key_load(cli_key(&c), &key) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (a.wo.min_accuracy < 0)
		a.wo.min_accuracy = job.min_accuracy;
	if (!a.wo.classes)
		a.wo.classes = job.classes > 1 ? job.classes : 10;
	if (a.answers && !(ak = weight_key_load_set(a.answers, job.id,
	    job.control_set)))
		dml_fail(DML_EXIT_REJECT);
	weight_round_init(&w, &job, a.verify);
	rc = weight_round_feed_files(&w, c.nops, c.ops);
	if (rc == 0)
		rc = score(&w, ak, &a);
	if (rc == 0) {
		o = rec_out_open(a.out);
		wout = rec_out_open(a.weights);
		rc = o && wout ? write_out(&w, &a, &key, o, wout) : -2;
	}
	weight_round_free(&w);
	weight_key_free(ak);
	key_free(&key);
	job_free(&job);
	if (rc == 0 && (rec_out_commit(wout) < 0 || rec_out_commit(o) < 0))
		dml_fail(DML_EXIT_USAGE);
	if (rc != 0) {
		if (o)
			rec_out_abort(o);
		if (wout)
			rec_out_abort(wout);
		dml_fail(rc == -2 ? DML_EXIT_USAGE : DML_EXIT_REJECT);
	}
	dml_close_stdout();
	return 0;
}
