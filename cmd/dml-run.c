/* dml-run: one device runs a job on its own data and returns a signed
 * dml.result holding sums, counts and deltas only, never a row of data. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "devrun.h"
#include "distribute.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-run -j JOB [-k KEY] -D DEVICE [-m MODEL] [-a ASSIGNMENT]\n"
"               [--round R] [--seed S] [--bins B] [--control DIR] [-o FILE]\n"
"Run a job on this device's local data. The job's signature is checked; the\n"
"device must have consented to the job's data type and meet its criteria,\n"
"else a signed dml.declined is written and the exit status is 1. The\n"
"result holds only sums, counts and model deltas, signed with KEY.\n"
"For a predict job whose model is a dml.paillier.model (encrypted to the\n"
"customer), the result holds the encrypted class-score sums of the local\n"
"data, computed without seeing the weights. To encrypt a clear result to\n"
"a job's Paillier key, pipe it through dml-encrypt --scheme paillier.\n"
"  -j, --job FILE      the job\n"
"  -k, --key FILE      the device's secret key (default: $DML_KEY)\n"
"  -D, --device DIR    the device folder (profile.json and its data)\n"
"  -m, --model FILE    the model to run: the job's own model, or for\n"
"                      training rounds after the first the refined model\n"
"  -a, --assignment FILE  the distributing node's dml.assignment: it must\n"
"                      be for this job and this device; -m then names the\n"
"                      sealed algorithm dml-distribute wrote (opened with\n"
"                      KEY) or, in later training rounds, a plain model\n"
"      --round R       training round (default 0)\n"
"      --seed S        seed of the local shuffling (default random)\n"
"      --bins B        histogram bins per feature for stats (default 10)\n"
"      --control DIR   crowd fine-tuning (a train job naming a control\n"
"                      set): the job's control set folder (dml-split\n"
"                      --control); its items are asked adaptively, in\n"
"                      blocks shuffled among the device's own items, and\n"
"                      the answers ride in the result (see dml-run(1))\n"
"Simulation: a device folder's profile.json may name a \"label_profile\"\n"
"(careful, noisy, adversarial: applied to its labels and its control\n"
"answers) and a \"malicious\" attack (labelflip, signflip, scale, noise:\n"
"applied to its update); see dml-split(1).\n"
"  -o, --output FILE   write to FILE (whole or not at all)\n"
"  -h, --help, --version\n";

enum { O_ROUND = CLI_ID_BASE, O_BINS, O_CONTROL };

static const cli_opt opts[] = {
	CLI_JOB, CLI_KEY, CLI_MODEL, CLI_OUTPUT, CLI_SEEDOPT,
	{"device", 'D', 1, 0, NULL, 0, NULL},
	{"assignment", 'a', 1, 0, NULL, 0, NULL},
	{"round", 0, 1, O_ROUND, NULL, 0, NULL},
	{"bins", 0, 1, O_BINS, NULL, 0, NULL},
	{"control", 0, 1, O_CONTROL, NULL, 0, NULL},
	CLI_END};

/* The opened algorithm of an assignment, in a private temporary file for
 * the rest of the run (removed at exit). */
static char *assigned_tmp;

static void
assigned_cleanup(void)
{
	if (assigned_tmp)
		unlink(assigned_tmp);
}

/* -a: check the assignment; a sealed algorithm becomes the model file. */
static const char *
assigned_model(const char *assignf, const dml_job *j, const dml_key *k,
    const char *modelf)
{
	const char *tmp = getenv("TMPDIR");
	unsigned char *m;
	size_t n;
	int fd;

	if (assign_open(assignf, j, k, modelf, &m, &n) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (!m)
		return modelf;
	assigned_tmp = xasprintf("%s/dml-run.XXXXXX", tmp && *tmp ? tmp :
	    "/tmp");
	if ((fd = mkstemp(assigned_tmp)) < 0) {
		dml_error_sys("%s", assigned_tmp);
		dml_fail(DML_EXIT_USAGE);
	}
	atexit(assigned_cleanup);
	if (dml_write_all(fd, m, n) < 0 || close(fd) < 0) {
		dml_error_sys("%s", assigned_tmp);
		dml_fail(DML_EXIT_USAGE);
	}
	sodium_free(m);
	return assigned_tmp;
}

int
main(int argc, char **argv)
{
	devrun_opts ro = {.bins = 10};
	const char *jobf = NULL, *out = NULL, *assignf = NULL;
	dml_job job;
	dml_key k;
	json_t *r;
	int o, declined;
	cli c;

	cli_init(&c, argc, argv, opts, usage, NULL);
	while ((o = cli_next(&c)) != -1) {
		switch (o) {
		case 'j': jobf = c.arg; break;
		case 'D': ro.device = c.arg; break;
		case 'm': ro.model = c.arg; break;
		case 'a': assignf = c.arg; break;
		case O_ROUND: ro.round = cli_long(&c, 0, 1000000); break;
		case CLI_SEED: ro.seed = cli_u64(&c); ro.seeded = 1; break;
		case O_BINS: ro.bins = (int)cli_long(&c, 1, 1024); break;
		case O_CONTROL: ro.control = c.arg; break;
		case 'o': out = c.arg; break;
		}
	}
	cli_max_operands(&c, 0);
	if (!jobf || !ro.device)
		cli_usage_error("-j JOB and -D DEVICE are required");
	cli_need_key(&c);
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	if (job_load(jobf, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_STATS && !ro.model)
		cli_usage_error("a %s job needs -m MODEL", task_name(job.task));
	if (job.task == TASK_STATS && ro.model)
		cli_usage_error("a stats job runs no model: leave out -m");
	if (ro.round >= job.rounds)
		dml_die(DML_EXIT_REJECT, "round %ld: the job has %lld rounds",
		    ro.round, job.rounds);
	if (key_load(cli_key(&c), &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (assignf)
		ro.model = assigned_model(assignf, &job, &k, ro.model);
	if (ro.control && job.task != TASK_TRAIN)
		cli_usage_error("--control applies to train jobs");
	if (!(r = devrun(&job, k.pk, &ro, &declined)))
		dml_fail(DML_EXIT_REJECT);
	if (declined)
		dml_warn("declined: %s",
		    json_string_value(json_object_get(r, "reason")));
	if (rec_sign(r, &k) < 0 || rec_out_one(out, r, NULL) < 0)
		dml_fail(DML_EXIT_USAGE);
	key_free(&k);
	json_decref(r);
	job_free(&job);
	dml_close_stdout();
	return declined ? DML_EXIT_REJECT : 0;
}
