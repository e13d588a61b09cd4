/* dml-weight: crowd fine-tuning's trainer weighting at the federated
 * node: score each trainer on the job's control set (or by agreement
 * with a reference update, FLTrust), drop the poor and the outliers, and
 * pass the kept results on with a dml.weight record per trainer. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "job.h"
#include "record.h"
#include "robust.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"
#include "weight.h"

static const char usage[] =
"usage: dml-weight -j JOBFILE -k KEY -w WEIGHTS (-a ANSWERS | --reference REF)\n"
"                  [options] [FILE...]\n"
"Score the trainers whose signed dml.result records FILEs (default stdin)\n"
"hold, write the kept results unchanged to stdout and one signed dml.weight\n"
"record per trainer to WEIGHTS (dml-aggregate --scale WEIGHTS reads it).\n"
"  -j, --job FILE          the job the results answer\n"
"  -k, --key FILE          this node's secret key, to sign dml.weight\n"
"  -w, --weights FILE      where the dml.weight records go\n"
"  -a, --answers FILE      control mode: the control answer key\n"
"                          (dml.control records) or the control set\n"
"                          folder; when the job names a control set, it\n"
"                          must be that set, and the adaptive test of\n"
"                          dml-run(1) is replayed for every trainer\n"
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

struct trainer {
	json_t *r;
	weight_trainer w;
};

struct run {
	const dml_job *job;
	int verify;
	struct trainer *t;
	size_t n, cap;
	long long round;
};

/* One result: verified, for this job and round, one per device. */
static int
take(struct run *R, rec_in *in, json_t *r)
{
	const char *job, *task;
	unsigned char pk[32];
	long long round, n;
	struct trainer *t;

	if (rec_check(in, r, "dml.result") < 0 ||
	    rec_get_str(in, r, "job", &job) < 0 ||
	    rec_get_str(in, r, "task", &task) < 0 ||
	    rec_get_int(in, r, "round", 0, 1LL << 53, &round) < 0 ||
	    rec_get_int(in, r, "n", 0, 1LL << 53, &n) < 0)
		return -1;
	if (strcmp(job, R->job->id) != 0)
		return rec_err(in, "result for another job");
	if (strcmp(task, "train") != 0)
		return rec_err(in, "task is %s, dml-weight weighs train "
		    "updates", task);
	if (R->round < 0)
		R->round = round;
	else if (round != R->round)
		return rec_err(in, "result of round %lld, this is round %lld",
		    round, R->round);
	if (R->verify) {
		if (rec_verify(r, in, pk) < 0)
			return rec_err(in, "forged: %s", dml_errmsg());
	} else {
		const char *from;
		if (rec_get_str(in, r, "from", &from) < 0)
			return -1;
		if (key_parse_hex(from, pk) < 0)
			return rec_err(in, "field \"from\" is not a key");
	}
	for (size_t i = 0; i < R->n; i++)
		if (!memcmp(R->t[i].w.key, pk, 32))
			return rec_err(in, "duplicate: a second result from "
			    "this device");
	if (R->n == R->cap) {
		R->cap = R->cap ? 2 * R->cap : 64;
		R->t = xrealloc(R->t, R->cap * sizeof *R->t);
	}
	t = &R->t[R->n++];
	memset(t, 0, sizeof *t);
	memcpy(t->w.key, pk, 32);
	t->w.n = n;
	t->r = json_incref(r);
	return 0;
}

static int
fltrust(struct run *R, const char *reff)
{
	double *ref;
	size_t d = 0;

	if (!(ref = weight_update_load(reff, &d)))
		return -1;
	for (size_t i = 0; i < R->n; i++) {
		weight_trainer *w = &R->t[i].w;
		size_t di = 0;
		double *g = weight_mean_update(NULL, R->t[i].r, &di), c;
		if (!g) {
			snprintf(w->reason, sizeof w->reason, "%s", dml_errmsg());
			continue;
		}
		if (di != d) {
			snprintf(w->reason, sizeof w->reason, "update has %zu "
			    "values, the reference %zu", di, d);
			free(g);
			continue;
		}
		c = robust_cosine(g, ref, d);
		for (size_t j = 0; j < d; j++)
			if (!isfinite(g[j])) {
				snprintf(w->reason, sizeof w->reason, "update "
				    "element %zu is not finite", j);
				break;
			}
		free(g);
		if (w->reason[0])
			continue;
		w->score = c;
		if (!(c > 0)) {
			snprintf(w->reason, sizeof w->reason, "cosine %.4f with "
			    "the reference: no trust", c);
			continue;
		}
		w->kept = 1;
		w->weight = c;
		w->factor = lround(1000 * c);
		if (w->factor < 1)
			w->factor = 1;
	}
	free(ref);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_REF = 256, O_MINACC, O_ALPHA, O_Z, O_CLASSES, O_NOVERIFY,
		O_VERSION };
	static const struct option opts[] = {
		{"job", required_argument, 0, 'j'},
		{"key", required_argument, 0, 'k'},
		{"weights", required_argument, 0, 'w'},
		{"answers", required_argument, 0, 'a'},
		{"reference", required_argument, 0, O_REF},
		{"min-accuracy", required_argument, 0, O_MINACC},
		{"alpha", required_argument, 0, O_ALPHA},
		{"z", required_argument, 0, O_Z},
		{"classes", required_argument, 0, O_CLASSES},
		{"no-verify", no_argument, 0, O_NOVERIFY},
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	const char *jobf = NULL, *keyf = NULL, *wf = NULL, *ansf = NULL,
		   *reff = NULL, *out = NULL;
	weight_opts wo = {.min_accuracy = -1, .alpha = 1e-3, .z = 3.5};
	struct run R = {.verify = 1, .round = -1};
	weight_key *ak = NULL;
	rec_out *o = NULL, *wout = NULL;
	dml_job job;
	dml_key key;
	size_t kept = 0;
	int ch, nfiles, rc = 0;
	long v;

	dml_setprog(argv[0]);
	while ((ch = getopt_long(argc, argv, "j:k:w:a:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': jobf = optarg; break;
		case 'k': keyf = optarg; break;
		case 'w': wf = optarg; break;
		case 'a': ansf = optarg; break;
		case 'o': out = optarg; break;
		case O_REF: reff = optarg; break;
		case O_MINACC:
			if (dml_parse_double(optarg, &wo.min_accuracy) < 0 ||
			    !(wo.min_accuracy >= 0 && wo.min_accuracy <= 1))
				dml_usage_error("--min-accuracy: want 0..1");
			break;
		case O_ALPHA:
			if (dml_parse_double(optarg, &wo.alpha) < 0 ||
			    !(wo.alpha > 0 && wo.alpha <= 1))
				dml_usage_error("--alpha: want (0, 1]");
			break;
		case O_Z:
			if (dml_parse_double(optarg, &wo.z) < 0 || !(wo.z > 0))
				dml_usage_error("--z: want a positive number");
			break;
		case O_CLASSES:
			if (dml_parse_long(optarg, 2, 1L << 20, &v) < 0)
				dml_usage_error("--classes: %s", dml_errmsg());
			wo.classes = v;
			break;
		case O_NOVERIFY: R.verify = 0; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); return 0;
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	if (!jobf || !keyf || !wf)
		dml_usage_error("-j JOBFILE, -k KEY and -w WEIGHTS are required");
	if (!ansf == !reff)
		dml_usage_error("give one of -a ANSWERS (control mode) and "
		    "--reference REF (FLTrust mode)");
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_TRAIN)
		dml_die(DML_EXIT_USAGE, "%s: the job's task is %s; dml-weight "
		    "weighs train updates", jobf, task_name(job.task));
	if (key_load(keyf, &key) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (wo.min_accuracy < 0)
		wo.min_accuracy = job.min_accuracy;
	if (!wo.classes)
		wo.classes = job.classes > 1 ? job.classes : 10;
	if (ansf && !(ak = weight_key_load_set(ansf, job.id, job.control_set)))
		dml_fail(DML_EXIT_REJECT);
	R.job = &job;
	nfiles = argc - optind;
	for (int i = 0; rc == 0 && i < (nfiles ? nfiles : 1); i++) {
		rec_in *in = rec_open(nfiles ? argv[optind + i] : NULL);
		json_t *r;
		int got;
		if (!in) {
			rc = -1;
			break;
		}
		rec_set_copy(in, 1);	/* the records outlive their lines */
		while ((got = rec_next(in, &r)) > 0) {
			rc = take(&R, in, r);
			json_decref(r);
			if (rc < 0)
				break;
		}
		if (got < 0)
			rc = -1;
		rec_close(in);
	}
	if (rc == 0 && !R.n)
		rc = dml_error("no results");
	if (rc == 0 && ak) {
		weight_rule rule;
		weight_rule_init(&rule, &job, weight_key_count(ak));
		for (size_t i = 0; i < R.n; i++)	/* replay the test when the
							   job names the set */
			weight_score_adaptive(ak, job.control_set ? &rule : NULL,
			    job.id, R.round, json_object_get(R.t[i].r,
			    "control"), &R.t[i].w);
		{
			weight_trainer *w = xmalloc(R.n * sizeof *w);
			for (size_t i = 0; i < R.n; i++)
				w[i] = R.t[i].w;
			weight_decide(w, R.n, &wo);
			for (size_t i = 0; i < R.n; i++)
				R.t[i].w = w[i];
			free(w);
		}
	} else if (rc == 0 && fltrust(&R, reff) < 0)
		rc = -1;
	if (rc == 0) {
		o = rec_out_open(out);
		wout = rec_out_open(wf);
		if (!o || !wout)
			rc = -2;
	}
	for (size_t i = 0; rc == 0 && i < R.n; i++) {
		weight_trainer *w = &R.t[i].w;
		json_t *wr = weight_record(w, job.id, R.round, ak ? "control" :
		    "fltrust");
		if (w->kept) {
			kept++;
			if (rec_out_write(o, R.t[i].r, NULL) < 0)
				rc = -2;
		} else {
			char hex[65];
			key_hex(w->key, 32, hex);
			dml_warn("excluded %.16s...: %s", hex, w->reason);
		}
		if (rc == 0 && (rec_sign(wr, &key) < 0 ||
		    rec_out_write(wout, wr, NULL) < 0))
			rc = -2;
		json_decref(wr);
	}
	if (rc == 0 && !kept)
		rc = dml_error("every trainer was excluded");
	for (size_t i = 0; i < R.n; i++)
		json_decref(R.t[i].r);
	free(R.t);
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
