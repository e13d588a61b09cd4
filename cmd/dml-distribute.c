/* dml-distribute: the distributing node. Devices register (dml.device),
 * the node admits them into a signed registry, and assigns a job to the
 * consenting, qualifying devices (dml.assignment, the algorithm sealed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "distribute.h"
#include "job.h"
#include "record.h"
#include "sign.h"
#include "timefmt.h"
#include "util.h"

static const char usage[] =
"usage: dml-distribute -j JOB -k KEY --node FILE[=REGION]... [-m MODEL]\n"
"                      [-o DIR | -A FILE] [options] [REGISTRY]\n"
"       dml-distribute register -k DEVKEY -D DEVICE [--region R]\n"
"                      [--capacity N] [--revoke TYPE]... [--created T]\n"
"                      [-o FILE]\n"
"       dml-distribute admit -k KEY [--registry FILE] [--registrar PUB]\n"
"                      [--created T] [-o FILE] [DEVICEFILE...]\n"
"Select the devices of REGISTRY (default stdin, a snapshot written by\n"
"admit) that consented to the job's data type and meet its criteria,\n"
"spread them over the federated nodes and write a signed dml.assignment\n"
"per device, the algorithm's key sealed to that device. register writes\n"
"a device's signed dml.device from its profile.json; admit verifies\n"
"device records and writes the registry snapshot, signed by KEY.\n"
"  -j, --job FILE        the job (its signature is checked)\n"
"  -k, --key FILE        this node's secret key (register: the device's;\n"
"                        default $DML_KEY)\n"
"      --node FILE[=REGION]  a federated node's public key (repeat)\n"
"  -m, --model FILE      the job's model, encrypted once for the devices\n"
"  -A, --algorithm FILE  where the encrypted model goes (default with -o:\n"
"                        DIR/algorithm.sealed)\n"
"  -o, --output DIR      one file of assignments per node, DIR/NAME.ndjson\n"
"                        (NAME: the node file's name less .pub); default:\n"
"                        every assignment on stdout\n"
"      --registrar PUB   who signs the registry (default: KEY itself)\n"
"      --max N           at most N devices, a uniform sample (default all)\n"
"      --seed N          reproducible keys and nonces (tests and demos)\n"
"  -v, --verbose         counts on stderr\n"
"register and admit:\n"
"  -D, --device DIR      the device folder (profile.json)\n"
"      --region R        the device's region (default: attrs.region)\n"
"      --capacity N      jobs run at a time (default 1; 0 pauses it)\n"
"      --revoke TYPE     withdraw consent to a data type (repeat)\n"
"      --created T       the record's time, YYYY-MM-DDTHH:MM:SSZ (now)\n"
"      --registry FILE   the registry to add to, rewritten in place unless\n"
"                        -o is given (a missing file is an empty registry)\n"
"  (old spellings, with a warning: -R --registrar, -n --max, -r --registry)\n"
"  -h, --help, --version\n";

enum { O_NODE = CLI_ID_BASE, O_REGISTRAR, O_MAX, O_REGION, O_CAP, O_REVOKE,
	O_CREATED, O_REGISTRY };

/* "-" is the default command, the distribution itself */
static const cli_opt opts[] = {
	{"job", 'j', 1, 0, "-", 0, NULL},
	CLI_KEY,
	{"node", 0, 1, O_NODE, "-", 0, NULL},
	{"model", 'm', 1, 0, "-", 0, NULL},
	{"algorithm", 'A', 1, 0, "-", 0, NULL},
	CLI_OUTPUT,
	{"registrar", 0, 1, O_REGISTRAR, "- admit", 'R', NULL},
	{"max", 0, 1, O_MAX, "-", 'n', NULL},
	{"seed", 0, 1, CLI_SEED, "-", 0, NULL},
	{"verbose", 'v', 0, 0, "- admit", 0, NULL},
	{"device", 'D', 1, 0, "register", 0, NULL},
	{"region", 0, 1, O_REGION, "register", 0, NULL},
	{"capacity", 0, 1, O_CAP, "register", 0, NULL},
	{"revoke", 0, 1, O_REVOKE, "register", 0, NULL},
	{"created", 0, 1, O_CREATED, "register admit", 0, NULL},
	{"registry", 0, 1, O_REGISTRY, "admit", 'r', NULL},
	CLI_END};

struct args {
	const char *job, *model, *alg, *out, *registrar, *dev, *region,
	      *created, *registry;
	dist_node *nodes;
	size_t nnodes;
	char **revoke;
	size_t nrevoke;
	long max, capacity;
	uint64_t seed;
	int seeded, verbose;
	char now[32];
};

static struct args a = {.capacity = 1};

static void
add_node(cli *c)
{
	dist_node n;

	if (dist_node_parse(&n, c->arg) < 0)
		cli_opt_error(c, "%s", dml_errmsg());
	for (size_t i = 0; i < a.nnodes; i++)
		if (strcmp(a.nodes[i].name, n.name) == 0 ||
		    memcmp(a.nodes[i].pk, n.pk, 32) == 0)
			cli_opt_error(c, "%s: the same node twice", c->arg);
	a.nodes = xrealloc(a.nodes, (a.nnodes + 1) * sizeof *a.nodes);
	a.nodes[a.nnodes++] = n;
}

static void
parse(cli *c)
{
	int o;

	if (dml_crypto_init() < 0)	/* --node reads keys */
		dml_fail(DML_EXIT_USAGE);
	while ((o = cli_next(c)) != -1) {
		switch (o) {
		case 'j': a.job = c->arg; break;
		case O_NODE: add_node(c); break;
		case 'm': a.model = c->arg; break;
		case 'A': a.alg = c->arg; break;
		case 'o': a.out = c->arg; break;
		case O_REGISTRAR: a.registrar = c->arg; break;
		case O_MAX: a.max = cli_long(c, 1, 1L << 40); break;
		case CLI_SEED: a.seed = cli_u64(c); a.seeded = 1; break;
		case 'v': a.verbose = 1; break;
		case 'D': a.dev = c->arg; break;
		case O_REGION: a.region = c->arg; break;
		case O_CAP: a.capacity = cli_long(c, 0, 1L << 30); break;
		case O_REVOKE:
			a.revoke = xrealloc(a.revoke, (a.nrevoke + 2) *
			    sizeof *a.revoke);
			a.revoke[a.nrevoke++] = (char *)c->arg;
			a.revoke[a.nrevoke] = NULL;
			break;
		case O_CREATED: a.created = cli_time(c, NULL); break;
		case O_REGISTRY: a.registry = c->arg; break;
		}
	}
	timefmt_format((long long)time(NULL), a.now);
	if (!a.created)
		a.created = a.now;
}

static int
cmd_register(cli *c)
{
	const char *keyf;
	dml_key k;
	json_t *profile, *r;
	int rc;

	cli_max_operands(c, 0);
	keyf = cli_need_key(c);
	if (!a.dev)
		cli_usage_error("give the device folder with -D DIR");
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	if (!(profile = data_profile_read(a.dev)))
		dml_fail(DML_EXIT_REJECT);
	r = dev_record(&k, profile, a.region, a.capacity, a.created,
	    a.revoke);
	json_decref(profile);
	key_free(&k);
	if (!r)
		dml_fail(DML_EXIT_USAGE);
	rc = rec_out_one(a.out, r, NULL);
	json_decref(r);
	if (rc < 0)
		dml_fail(DML_EXIT_USAGE);
	dml_close_stdout();
	return 0;
}

static void
registrar_of(const dml_key *k, unsigned char pk[32])
{
	if (!a.registrar)
		memcpy(pk, k->pk, 32);
	else if (pubkey_load(a.registrar, pk) < 0)
		cli_usage_error("--registrar: %s", dml_errmsg());
}

static int
cmd_admit(cli *c)
{
	unsigned char reg[32];
	const char *old = NULL, *out, *keyf;
	dml_key k;
	long added;
	int rc;

	keyf = cli_need_key(c);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	registrar_of(&k, reg);
	out = a.out;
	if (a.registry) {
		if (access(a.registry, F_OK) == 0)
			old = a.registry;
		else if (errno != ENOENT)
			dml_die(DML_EXIT_USAGE, "%s: %s", a.registry,
			    strerror(errno));
		if (!out)
			out = a.registry;
	}
	rc = reg_admit(old, reg, c->ops, c->nops, &k, a.created, out, &added);
	key_free(&k);
	if (rc < 0)
		dml_fail(DML_EXIT_REJECT);
	if (a.verbose)
		dml_warn("%ld device records admitted", added);
	dml_close_stdout();
	return 0;
}

static void
counts(const dist_out *d)
{
	size_t *per = xcalloc(a.nnodes, sizeof *per);

	for (size_t i = 0; i < d->n; i++)
		per[d->node[i]]++;
	dml_warn("%lld devices read, %lld eligible, %zu assigned", d->read,
	    d->eligible, d->n);
	for (size_t i = 0; i < a.nnodes; i++)
		dml_warn("  %s: %zu", a.nodes[i].name, per[i]);
	free(per);
}

static int
cmd_distribute(cli *c)
{
	unsigned char reg[32];
	const char *keyf;
	dist_opts o = {0};
	dist_out d;
	dml_job job;
	dml_key k;

	cli_max_operands(c, 1);
	if (!a.job || !a.nnodes)
		cli_usage_error("-j JOB and at least one --node are required");
	keyf = cli_need_key(c);
	if (job_load(a.job, &job) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (job.task != TASK_STATS && !a.model)
		cli_usage_error("a %s job needs -m MODEL", task_name(job.task));
	if (job.task == TASK_STATS && a.model)
		cli_usage_error("a stats job has no model");
	if (a.model && !a.out && !a.alg)
		cli_usage_error("-m MODEL needs -o DIR or -A FILE for the "
		    "encrypted model");
	if (a.max && a.max < job.min_devices)
		cli_usage_error("--max %ld is below the job's %lld devices",
		    a.max, job.min_devices);
	if (key_load(keyf, &k) < 0)
		dml_fail(DML_EXIT_USAGE);
	registrar_of(&k, reg);
	o = (dist_opts){.job = &job, .key = &k, .registrar = reg,
	    .nodes = a.nodes, .nnodes = a.nnodes, .model = a.model,
	    .max = a.max, .seeded = a.seeded, .seed = a.seed};
	if (dist_run(&o, cli_operand(c, 0), &d) < 0)
		dml_fail(DML_EXIT_REJECT);
	if (a.verbose)
		counts(&d);
	if (dist_write(&d, a.nodes, a.nnodes, a.out, a.alg) < 0)
		dml_fail(DML_EXIT_USAGE);
	dist_out_free(&d);
	key_free(&k);
	job_free(&job);
	dml_close_stdout();
	return 0;
}

static const cli_cmd cmds[] = {
	{"", cmd_distribute, NULL},
	{"register", cmd_register, NULL},
	{"admit", cmd_admit, NULL},
	{NULL, NULL, NULL}};

int
main(int argc, char **argv)
{
	cli c;
	int rc;

	cli_init(&c, argc, argv, opts, usage, cmds);
	parse(&c);
	rc = cli_run(&c);
	for (size_t i = 0; i < a.nnodes; i++)
		dist_node_free(&a.nodes[i]);
	free(a.nodes);
	free(a.revoke);
	return rc;
}
