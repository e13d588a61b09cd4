/* mkresults: signed jobs and results for dml-aggregate's benchmark and
 * tests. Identities come from seed texts, so they are test identities
 * only: anyone who knows the text has the key.
 *
 *   mkresults job -o FILE [--task T] [--params P] [--classes C]
 *       [--features F] [--min-samples N] [--max-delta X] [--seed TEXT]
 *   mkresults bench -j JOB -n COUNT [--first I] [--round R] [--same]
 *       [-o FILE]
 *       COUNT train results with pseudo-random deltas from devices
 *       "device-I", "device-I+1", ... (--same: the same deltas and n
 *       for all, which only re-signs: fast, for memory runs)
 *   mkresults sign -j JOB [FILE]
 *       sign each template line: "job", "v" and (train) "model" default
 *       to the job's; "_key" is the signer's seed text (default
 *       "device-LINE"); arrays of numbers in "values" become f32 tensors
 *       and in "sum" f64 tensors ("_dtype" overrides).
 *   mkresults key TEXT
 *       print the hex public key of the seed text
 *
 * Built by contrib/bench/aggregate.sh and tests/t1400-aggregate.sh. */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "tensor.h"
#include "util.h"

static void
seed_key(const char *text, dml_key *k)
{
	unsigned char seed[32];

	crypto_generichash(seed, 32, (const unsigned char *)text, strlen(text),
	    (const unsigned char *)"mkresults", 9);
	if (key_generate(k, seed) < 0)
		dml_fail(2);
}

/* Layers whose parameter count is exactly p: [in, out] with
 * out * (in + 1) == p, out the largest divisor of p up to 100. */
static json_t *
layers_for(long long p, long long classes)
{
	long long out = classes;

	if (p % out != 0 || p / out < 2)
		for (out = 100; out > 1 && (p % out || p / out < 2); out--)
			;
	return json_pack("[I,I]", p / out - 1, out);
}

static int
cmd_job(int argc, char **argv)
{
	static const struct option opts[] = {
		{"task", required_argument, 0, 't'},
		{"params", required_argument, 0, 'p'},
		{"classes", required_argument, 0, 'c'},
		{"features", required_argument, 0, 'f'},
		{"min-samples", required_argument, 0, 'm'},
		{"max-delta", required_argument, 0, 'x'},
		{"seed", required_argument, 0, 's'},
		{0, 0, 0, 0}};
	const char *out = NULL, *task = "train", *seed = "customer";
	long long params = 200000, classes = 10, features = 4, mins = 1;
	double maxd = 10;
	json_t *r, *alg;
	char cidtext[CID_MAXSTR], hex[65];
	dml_key k;
	size_t n;
	char *line;
	int c;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1)
		switch (c) {
		case 'o': out = optarg; break;
		case 't': task = optarg; break;
		case 'p': params = atoll(optarg); break;
		case 'c': classes = atoll(optarg); break;
		case 'f': features = atoll(optarg); break;
		case 'm': mins = atoll(optarg); break;
		case 'x': maxd = atof(optarg); break;
		case 's': seed = optarg; break;
		default: dml_usage_error("bad job option");
		}
	if (!out)
		dml_usage_error("job: -o FILE is required");
	seed_key(seed, &k);
	key_hex(k.pk, 32, hex);
	cid_of_bytes("mkresults base model", 20, cidtext);
	r = rec_new("dml.job");
	json_object_set_new(r, "task", json_string(task));
	json_object_set_new(r, "data", json_string("fashion-mnist"));
	json_object_set_new(r, "min_devices", json_integer(1));
	json_object_set_new(r, "min_samples", json_integer(mins));
	json_object_set_new(r, "rounds", json_integer(1));
	json_object_set_new(r, "deadline", json_string("2030-01-01T00:00:00Z"));
	if (strcmp(task, "stats") == 0)
		json_object_set_new(r, "stats", json_pack("{s:I,s:I}",
		    "features", features, "classes", classes));
	else {
		/* predict: the layers fix features and classes */
		alg = json_pack("{s:s,s:s}", "model", cidtext, "arch", "mlp");
		if (strcmp(task, "predict") == 0) {
			json_object_set_new(alg, "layers",
			    json_pack("[I,I]", features, classes));
			params = classes * (features + 1);
		} else
			json_object_set_new(alg, "layers",
			    layers_for(params, classes));
		json_object_set_new(alg, "params", json_integer(params));
		json_object_set_new(r, "algorithm", alg);
	}
	if (strcmp(task, "train") == 0)
		json_object_set_new(r, "train", json_pack("{s:i,s:i,s:f}",
		    "epochs", 1, "batch", 32, "lr", 0.05));
	json_object_set_new(r, "limits", json_pack("{s:f}", "max_delta", maxd));
	json_object_set_new(r, "reward", json_pack(
	    "{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "budget", "1000",
	    "per_device", "1", "developer_fee", "0", "node_fees",
	    "distributing", "0", "federated", "0", "report", "0",
	    "refining", "0"));
	json_object_set_new(r, "customer", json_string(hex));
	if (rec_sign(r, &k) < 0 || !(line = canon_dump(r, NULL, NULL, &n)))
		dml_fail(2);
	line = xrealloc(line, n + 2);
	line[n++] = '\n';
	if (dml_write_file(out, line, n, 0644) < 0)
		dml_fail(2);
	free(line);
	json_decref(r);
	key_free(&k);
	return 0;
}

static void
load_job(const char *path, dml_job *j)
{
	if (!path)
		dml_usage_error("-j JOBFILE is required");
	if (job_load(path, j) < 0)
		dml_fail(2);
}

/* xorshift64*: fast, reproducible numbers for benchmark data */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{"first", required_argument, 0, 'f'},
		{"round", required_argument, 0, 'r'},
		{"same", no_argument, 0, 's'},
		{0, 0, 0, 0}};
	const char *jobf = NULL, *out = NULL;
	int same = 0;
	long long count = 0, first = 0, round = 1;
	dml_job job;
	FILE *f;
	float *d;
	int c;

	while ((c = getopt_long(argc, argv, "j:n:o:", opts, NULL)) != -1)
		switch (c) {
		case 'j': jobf = optarg; break;
		case 'n': count = atoll(optarg); break;
		case 'o': out = optarg; break;
		case 'f': first = atoll(optarg); break;
		case 'r': round = atoll(optarg); break;
		case 's': same = 1; break;
		default: dml_usage_error("bad bench option");
		}
	load_job(jobf, &job);
	if (job.task != TASK_TRAIN)
		dml_die(2, "bench: the job must be a train job");
	f = out ? fopen(out, "w") : stdout;
	if (!f)
		dml_die(2, "%s: cannot create", out);
	d = xmalloc((size_t)job.params * sizeof *d);
	for (long long i = first; i < first + count; i++) {
		char name[64];
		int64_t shape[1] = {job.params};
		long long n = same ? 100 : 100 + i % 50;
		uint64_t s = 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)(same ? 1 : i + 1);
		dml_key k;
		json_t *r, *vals;

		snprintf(name, sizeof name, "device-%lld", i);
		seed_key(name, &k);
		for (long long p = 0; p < job.params && (!same || i == first);
		    p++)	/* |d/n| < 0.01 */
			d[p] = (float)((double)(rnd(&s) >> 11) * 0x1p-53 * 2 -
			    1) * (float)n * 0.01f;
		r = rec_new("dml.result");
		json_object_set_new(r, "job", json_string(job.id));
		json_object_set_new(r, "round", json_integer(round));
		json_object_set_new(r, "task", json_string("train"));
		json_object_set_new(r, "n", json_integer(n));
		json_object_set_new(r, "weight", json_integer(n));
		json_object_set_new(r, "model", json_string(job.model));
		vals = json_object();
		json_object_set_new(vals, "delta", tensor_to_json(DT_F32, 1,
		    shape, d));
		json_object_set_new(r, "values", vals);
		if (rec_sign(r, &k) < 0 || rec_write(f, r, NULL) < 0)
			dml_fail(2);
		json_decref(r);
		key_free(&k);
	}
	free(d);
	if (fflush(f) != 0 || (out && fclose(f) != 0))
		dml_die(2, "write error");
	job_free(&job);
	return 0;
}

/* Arrays of numbers in a values object become tensors. */
static void
tensorize(json_t *vals, enum dml_dtype dt)
{
	const char *name;
	json_t *v;

	json_object_foreach(vals, name, v) {
		size_t i, n = json_array_size(v);
		json_t *x;
		int64_t shape[1] = {(int64_t)n};
		double *d;
		float *f;

		if (!json_is_array(v))
			continue;
		d = xcalloc(n ? n : 1, sizeof *d);
		f = xcalloc(n ? n : 1, sizeof *f);
		json_array_foreach(v, i, x) {
			if (json_is_string(x))	/* "nan", "inf", "-inf" */
				d[i] = strtod(json_string_value(x), NULL);
			else
				d[i] = json_number_value(x);
			f[i] = (float)d[i];
		}
		json_object_set_new(vals, name, tensor_to_json(dt, 1, shape,
		    dt == DT_F32 ? (void *)f : (void *)d));
		free(d);
		free(f);
	}
}

static int
cmd_sign(int argc, char **argv)
{
	const char *jobf = NULL;
	dml_job job;
	rec_in *in;
	json_t *r, *v;
	int c, rc;

	while ((c = getopt(argc, argv, "j:")) != -1)
		switch (c) {
		case 'j': jobf = optarg; break;
		default: dml_usage_error("bad sign option");
		}
	load_job(jobf, &job);
	if (!(in = rec_open(optind < argc ? argv[optind] : NULL)))
		dml_fail(2);
	rec_set_copy(in, 1);
	while ((rc = rec_next(in, &r)) > 0) {
		char name[64];
		const char *seed = name;
		dml_key k;
		enum dml_dtype dt = DT_NONE;

		snprintf(name, sizeof name, "device-%ld", rec_line(in));
		if (json_is_string(v = json_object_get(r, "_key")))
			seed = json_string_value(v);
		if (json_is_string(v = json_object_get(r, "_dtype")))
			dt = dtype_parse(json_string_value(v));
		seed_key(seed, &k);
		if (!json_object_get(r, "v"))
			json_object_set_new(r, "v", json_integer(1));
		if (!json_object_get(r, "job"))
			json_object_set_new(r, "job", json_string(job.id));
		if (!json_object_get(r, "model") && job.model &&
		    json_is_string(v = json_object_get(r, "task")) &&
		    strcmp(json_string_value(v), "train") == 0)
			json_object_set_new(r, "model", json_string(job.model));
		if (json_is_object(v = json_object_get(r, "values")))
			tensorize(v, dt == DT_NONE ? DT_F32 : dt);
		if (json_is_object(v = json_object_get(r, "sum")))
			tensorize(v, dt == DT_NONE ? DT_F64 : dt);
		json_object_del(r, "_key");
		json_object_del(r, "_dtype");
		if (rec_sign(r, &k) < 0 || rec_write(stdout, r, NULL) < 0)
			dml_fail(2);
		key_free(&k);
		json_decref(r);
	}
	if (rc < 0)
		dml_fail(2);
	rec_close(in);
	job_free(&job);
	return fflush(stdout) == 0 ? 0 : 2;
}

int
main(int argc, char **argv)
{
	dml_setprog("mkresults");
	if (dml_crypto_init() < 0)
		dml_fail(2);
	if (argc >= 2 && strcmp(argv[1], "job") == 0)
		return cmd_job(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "bench") == 0)
		return cmd_bench(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[1], "key") == 0) {
		dml_key k;
		char hex[65];
		seed_key(argv[2], &k);
		key_hex(k.pk, 32, hex);
		puts(hex);
		key_free(&k);
		return 0;
	}
	fputs("usage: mkresults job|bench|sign|key ... (see the source)\n",
	    stderr);
	return 2;
}
