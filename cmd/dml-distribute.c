/* dml-distribute: the distributing node. Devices register (a signed
 * dml.device), the node admits them into a signed registry snapshot, and
 * for a job selects the consenting, qualifying devices, spreads them over
 * the federated nodes and writes a signed dml.assignment per device with
 * the algorithm sealed to it. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "distribute.h"
#include "job.h"
#include "ledger.h"
#include "record.h"
#include "sign.h"
#include "util.h"

static const char usage[] =
"usage: dml-distribute -j JOB -k KEY --node FILE[=REGION]... [-m MODEL]\n"
"                      [-o DIR | -A FILE] [options] [REGISTRY]\n"
"       dml-distribute register -k DEVKEY -D DEVICE [--region R]\n"
"                      [--capacity N] [--revoke TYPE]... [--created T]\n"
"                      [-o FILE]\n"
"       dml-distribute admit -k KEY [-r REGISTRY] [--registrar PUB]\n"
"                      [--created T] [-o FILE] [DEVICEFILE...]\n"
"Select the devices of REGISTRY (default stdin, a snapshot written by\n"
"admit) that consented to the job's data type and meet its criteria,\n"
"spread them over the federated nodes and write a signed dml.assignment\n"
"per device, the algorithm's key sealed to that device. register writes\n"
"a device's signed dml.device from its profile.json; admit verifies\n"
"device records and writes the registry snapshot, signed by KEY.\n"
"  -j, --job FILE        the job (its signature is checked)\n"
"  -k, --key FILE        this node's secret key (register: the device's)\n"
"      --node FILE[=REGION]  a federated node's public key (repeat)\n"
"  -m, --model FILE      the job's model, encrypted once for the devices\n"
"  -A, --algorithm FILE  where the encrypted model goes (default with -o:\n"
"                        DIR/algorithm.sealed)\n"
"  -o, --output DIR      one file of assignments per node, DIR/NAME.ndjson\n"
"                        (NAME: the node file's name less .pub); default:\n"
"                        every assignment on stdout\n"
"  -R, --registrar PUB   who signs the registry (default: KEY itself)\n"
"  -n, --max N           at most N devices, a uniform sample of the\n"
"                        eligible ones (default: all)\n"
"      --seed S          reproducible keys and nonces (tests and demos)\n"
"  -v, --verbose         counts on stderr\n"
"register and admit:\n"
"  -D, --device DIR      the device folder (profile.json)\n"
"      --region R        the device's region (default: attrs.region)\n"
"      --capacity N      jobs the device runs at a time (default 1; 0\n"
"                        pauses it)\n"
"      --revoke TYPE     withdraw consent to a data type (repeat)\n"
"      --created T       the record's time, YYYY-MM-DDTHH:MM:SSZ (now)\n"
"  -r, --registry FILE   the registry to add to, rewritten in place unless\n"
"                        -o is given (a missing file is an empty registry)\n"
"  -h, --help, --version\n";

enum { O_NODE = 256, O_SEED, O_REGION, O_CAP, O_REVOKE, O_CREATED,
    O_VERSION };

static const struct option opts[] = {
	{"job", required_argument, 0, 'j'},
	{"key", required_argument, 0, 'k'},
	{"node", required_argument, 0, O_NODE},
	{"model", required_argument, 0, 'm'},
	{"algorithm", required_argument, 0, 'A'},
	{"output", required_argument, 0, 'o'},
	{"registrar", required_argument, 0, 'R'},
	{"max", required_argument, 0, 'n'},
	{"seed", required_argument, 0, O_SEED},
	{"verbose", no_argument, 0, 'v'},
	{"device", required_argument, 0, 'D'},
	{"region", required_argument, 0, O_REGION},
	{"capacity", required_argument, 0, O_CAP},
	{"revoke", required_argument, 0, O_REVOKE},
	{"created", required_argument, 0, O_CREATED},
	{"registry", required_argument, 0, 'r'},
	{"help", no_argument, 0, 'h'},
	{"version", no_argument, 0, O_VERSION},
	{0, 0, 0, 0}};

struct args {
	const char *job, *key, *model, *alg, *out, *registrar, *dev, *region,
	      *created, *registry;
	dist_node *nodes;
	size_t nnodes;
	char **revoke;
	size_t nrevoke;
	long max, seed, capacity;
	int seeded, verbose;
	char now[32];
};

/* FILE or FILE=REGION (a file whose name holds '=' is taken whole). */
static void
add_node(struct args *a, const char *arg)
{
	char *path = xstrdup(arg), *eq = strrchr(path, '='), *name, *dot;
	dist_node *n;
	struct stat st;

	a->nodes = xrealloc(a->nodes, (a->nnodes + 1) * sizeof *a->nodes);
	n = &a->nodes[a->nnodes++];
	n->region = NULL;
	if (eq && stat(path, &st) != 0) {
		*eq = 0;
		n->region = eq + 1;
		if (!*n->region)
			dml_usage_error("--node %s: empty region", arg);
	}
	if (pubkey_load(path, n->pk) < 0)
		dml_usage_error("--node %s: %s", arg, dml_errmsg());
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if ((dot = strrchr(name, '.')) && strcmp(dot, ".pub") == 0)
		*dot = 0;
	n->name = xstrdup(name);
	if (n->region)
		n->region = xstrdup(n->region);
	free(path);
	for (size_t i = 0; i + 1 < a->nnodes; i++)
		if (strcmp(a->nodes[i].name, n->name) == 0 ||
		    memcmp(a->nodes[i].pk, n->pk, 32) == 0)
			dml_usage_error("--node %s: the same node twice", arg);
}

static void
parse(int argc, char **argv, struct args *a)
{
	int c;

	while ((c = getopt_long(argc, argv, "j:k:m:A:o:R:n:vD:r:h", opts,
	    NULL)) != -1) {
		switch (c) {
		case 'j': a->job = optarg; break;
		case 'k': a->key = optarg; break;
		case O_NODE: add_node(a, optarg); break;
		case 'm': a->model = optarg; break;
		case 'A': a->alg = optarg; break;
		case 'o': a->out = optarg; break;
		case 'R': a->registrar = optarg; break;
		case 'n':
			if (dml_parse_long(optarg, 1, 1L << 40, &a->max) < 0)
				dml_usage_error("--max: %s", dml_errmsg());
			break;
		case O_SEED:
			if (dml_parse_long(optarg, 0, 0x7fffffffffffffffL,
			    &a->seed) < 0)
				dml_usage_error("--seed: %s", dml_errmsg());
			a->seeded = 1;
			break;
		case 'v': a->verbose = 1; break;
		case 'D': a->dev = optarg; break;
		case O_REGION: a->region = optarg; break;
		case O_CAP:
			if (dml_parse_long(optarg, 0, 1L << 30, &a->capacity) < 0)
				dml_usage_error("--capacity: %s", dml_errmsg());
			break;
		case O_REVOKE:
			a->revoke = xrealloc(a->revoke, (a->nrevoke + 2) *
			    sizeof *a->revoke);
			a->revoke[a->nrevoke++] = optarg;
			a->revoke[a->nrevoke] = NULL;
			break;
		case O_CREATED: {
			long long t;
			if (timefmt_parse(optarg, &t) < 0)
				dml_usage_error("--created: %s", dml_errmsg());
			a->created = optarg;
			break;
		}
		case 'r': a->registry = optarg; break;
		case 'h': fputs(usage, stdout); dml_close_stdout(); exit(0);
		case O_VERSION: dml_version();
		default: dml_usage_error("unknown option");
		}
	}
	timefmt_format((long long)time(NULL), a->now);
	if (!a->created)
		a->created = a->now;
}

static int
cmd_register(struct args *a, int argc, char **argv)
{
	dml_key k;
	json_t *profile, *r;
	int rc;

	if (optind != argc)
		dml_usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->key || !a->dev)
		dml_usage_error("register needs -k DEVKEY and -D DEVICE");
	if (key_load(a->key, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(profile = data_profile_read(a->dev)))
		dml_fail(DML_EXIT_REJECT);
	r = dev_record(&k, profile, a->region, a->capacity, a->created,
	    a->revoke);
	json_decref(profile);
	key_free(&k);
	if (!r)
		dml_fail(DML_EXIT_USAGE);
	rc = rec_out_one(a->out, r, NULL);
	json_decref(r);
	if (rc < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

static void
registrar_of(const struct args *a, const dml_key *k, unsigned char pk[32])
{
	if (!a->registrar)
		memcpy(pk, k->pk, 32);
	else if (pubkey_load(a->registrar, pk) < 0)
		dml_usage_error("--registrar: %s", dml_errmsg());
}

static int
cmd_admit(struct args *a, int argc, char **argv)
{
	unsigned char reg[32];
	const char *old = NULL, *out = a->out;
	dml_key k;
	long added;
	int rc;

	if (!a->key)
		dml_usage_error("admit needs -k KEY");
	if (key_load(a->key, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	registrar_of(a, &k, reg);
	if (a->registry) {
		if (access(a->registry, F_OK) == 0)
			old = a->registry;
		else if (errno != ENOENT)
			dml_die(DML_EXIT_USAGE, "%s: %s", a->registry,
			    strerror(errno));
		if (!out)
			out = a->registry;
	}
	rc = reg_admit(old, reg, argv + optind, argc - optind, &k, a->created,
	    out, &added);
	key_free(&k);
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	if (a->verbose)
		dml_warn("%ld device records admitted", added);
	dml_close_stdout();
	return 0;
}

/* Every output is made in memory first and written only if all is well. */
static int
write_out(const struct args *a, const dist_out *d)
{
	const char *algf = a->alg;
	char *own = NULL;
	rec_out **o;
	size_t nout = a->out ? a->nnodes : 1;
	int rc = -1;

	if (a->out && mkdir(a->out, 0777) < 0 && errno != EEXIST)
		return dml_error("%s: %s", a->out, strerror(errno));
	if (d->alg && !algf)
		algf = own = xasprintf("%s/algorithm.sealed", a->out);
	o = xcalloc(nout, sizeof *o);
	for (size_t i = 0; i < nout; i++) {
		char *p = a->out ? xasprintf("%s/%s.ndjson", a->out,
		    a->nodes[i].name) : NULL;
		o[i] = rec_out_open(p);
		free(p);
		if (!o[i])
			goto done;
	}
	for (size_t i = 0; i < d->n; i++)
		if (rec_out_write(o[a->out ? d->node[i] : 0], d->assign[i],
		    NULL) < 0)
			goto done;
	if (d->alg && dml_write_file(algf, d->alg, d->alglen, 0644) < 0)
		goto done;
	rc = 0;
	for (size_t i = 0; i < nout; i++) {
		if (rc == 0 && rec_out_commit(o[i]) < 0)
			rc = -1;
		else if (rc < 0)
			rec_out_abort(o[i]);
		o[i] = NULL;
	}
done:
	for (size_t i = 0; i < nout; i++)
		if (o[i])
			rec_out_abort(o[i]);
	free(o);
	free(own);
	return rc;
}

static int
cmd_distribute(struct args *a, int argc, char **argv)
{
	unsigned char reg[32];
	dist_opts o = {0};
	dist_out d;
	dml_job job;
	dml_key k;

	if (argc - optind > 1)
		dml_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (!a->job || !a->key || !a->nnodes)
		dml_usage_error("-j JOB, -k KEY and at least one --node are "
		    "required");
	if (job_load(a->job, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_STATS && !a->model)
		dml_usage_error("a %s job needs -m MODEL", task_name(job.task));
	if (job.task == TASK_STATS && a->model)
		dml_usage_error("a stats job has no model");
	if (a->model && !a->out && !a->alg)
		dml_usage_error("-m MODEL needs -o DIR or -A FILE for the "
		    "encrypted model");
	if (a->max && a->max < job.min_devices)
		dml_usage_error("--max %ld is below the job's %lld devices",
		    a->max, job.min_devices);
	if (key_load(a->key, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	registrar_of(a, &k, reg);
	o.job = &job;
	o.key = &k;
	o.registrar = reg;
	o.nodes = a->nodes;
	o.nnodes = a->nnodes;
	o.model = a->model;
	o.max = a->max;
	o.seeded = a->seeded;
	o.seed = (uint64_t)a->seed;
	if (dist_run(&o, argc > optind ? argv[optind] : NULL, &d) < 0)
		dml_fail(DML_EXIT_REJECT);
	if ((long long)d.n < job.min_devices)
		dml_die(DML_EXIT_REJECT, "%zu eligible devices, the job needs "
		    "at least %lld", d.n, job.min_devices);
	if (a->verbose) {
		size_t *per = xcalloc(a->nnodes, sizeof *per);
		for (size_t i = 0; i < d.n; i++)
			per[d.node[i]]++;
		dml_warn("%lld devices read, %lld eligible, %zu assigned",
		    d.read, d.eligible, d.n);
		for (size_t i = 0; i < a->nnodes; i++)
			dml_warn("  %s: %zu", a->nodes[i].name, per[i]);
		free(per);
	}
	if (write_out(a, &d) < 0)
		dml_fail(DML_EXIT_USAGE);
	dist_out_free(&d);
	key_free(&k);
	job_free(&job);
	dml_close_stdout();
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a = {.capacity = 1};
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	dml_setprog(argv[0]);
	if (strcmp(sub, "register") == 0 || strcmp(sub, "admit") == 0) {
		argv++;
		argc--;
	} else
		sub = "";
	if (dml_crypto_init() < 0)
		dml_fail(DML_EXIT_USAGE);
	parse(argc, argv, &a);
	if (strcmp(sub, "register") == 0)
		rc = cmd_register(&a, argc, argv);
	else if (strcmp(sub, "admit") == 0)
		rc = cmd_admit(&a, argc, argv);
	else
		rc = cmd_distribute(&a, argc, argv);
	for (size_t i = 0; i < a.nnodes; i++)
		free((char *)a.nodes[i].name), free((char *)a.nodes[i].region);
	free(a.nodes);
	free(a.revoke);
	return rc;
}
