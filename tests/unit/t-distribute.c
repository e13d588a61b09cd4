/* distribute: device records, registry snapshots (newest record wins,
 * lines filtered but counted), selection and the spreading rule. */
#include "distribute.h"
#include "util.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NDEV 20

static dml_key keys[NDEV];
static char dir[] = "/tmp/t-distribute.XXXXXX";

static char *
path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Device i: consents to images when i is even, ram_gb i, region eu for
 * multiples of 3, else na. */
static json_t *
profile(int i)
{
	return json_pack("{s:[s,s],s:{s:i,s:s}}", "consent",
	    i % 2 ? "text" : "images", "health", "attrs", "ram_gb", i,
	    "region", i % 3 ? "na" : "eu");
}

static int
write_records(const char *file, json_t **r, int n)
{
	rec_out *o = rec_out_open(file);

	for (int i = 0; i < n; i++)
		if (rec_out_write(o, r[i], NULL) < 0)
			return -1;
	return rec_out_commit(o);
}

static int
run(dist_opts *o, const char *reg, dist_out *d, size_t *per)
{
	int rc = dist_run(o, reg, d);

	memset(per, 0, 3 * sizeof *per);
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		per[d->node[i]]++;
	return rc;
}

/* Device i's key from seed i + 1, and its record (dist's key from seed 0). */
static void
make_devices(dml_key *dist, json_t **recs)
{
	unsigned char seed[32] = {0};
	json_t *p;

	key_generate(dist, seed);
	for (int i = 0; i < NDEV; i++) {
		seed[0] = (unsigned char)(i + 1);
		key_generate(&keys[i], seed);
		p = profile(i);
		recs[i] = dev_record(&keys[i], p, NULL, 1,
		    "2026-01-01T00:00:00Z", NULL);
		json_decref(p);
	}
}

static void
check_record(json_t *rec)
{
	dev_info d;

	ok(dev_parse(NULL, rec, &d) == 0 && memcmp(d.pk, keys[3].pk, 32)
	    == 0 && d.capacity == 1, "a device record parses, from the device");
	is_str(d.region, "eu", "the region comes from attrs.region");
	ok(!dev_consents(&d, "images") && dev_consents(&d, "text"),
	    "consent as in the profile");
	ok(rec_verify(rec, NULL, NULL) == 0, "signed by the device");
}

/* Admit every device to a new snapshot, read it back, filtered too. */
static void
check_admit(json_t **recs, const dml_key *dist, char *devf,
    const char *regf)
{
	json_t *r;
	dev_info d;
	reg_in *g;
	long added;
	int n, parsed;

	ok(write_records(devf, recs, NDEV) == 0 &&
	    reg_admit(NULL, dist->pk, &devf, 1, dist, "2026-01-02T00:00:00Z",
	    regf, &added) == 0 && added == NDEV, "admit %d devices", NDEV);
	g = reg_open(regf, dist->pk);
	for (n = 0; g && reg_next(g, &r, &d) == 1; n++)
		;
	ok(g && n == NDEV, "the snapshot reads back, its hash matching");
	reg_close(g);
	g = reg_open(regf, keys[0].pk);
	ok(!g && strstr(dml_errmsg(), "not by the registrar"),
	    "another registrar's snapshot is refused");
	g = reg_open(regf, dist->pk);
	reg_only(g, "images");
	for (parsed = 0; reg_next(g, &r, &d) == 1; parsed++)
		ok(dev_consents(&d, "images"), "a filtered line names images");
	ok(parsed == NDEV / 2 && reg_lines(g) == NDEV,
	    "filtered: %d parsed of %lld lines", parsed, reg_lines(g));
	reg_close(g);
}

/* Device 0 withdraws consent to images: the newer record wins, an older
 * one is refused. */
static void
check_revocation(const dml_key *dist, const char *regf, char *newf,
    char *oldf)
{
	char *rv[] = {"images", NULL};
	json_t *p, *r, *x;
	dev_info d;
	reg_in *g;
	long added;
	int n;

	p = profile(0);
	x = dev_record(&keys[0], p, NULL, 1, "2026-01-05T00:00:00Z", rv);
	ok(write_records(newf, &x, 1) == 0 && reg_admit(regf, dist->pk,
	    &newf, 1, dist, "2026-01-06T00:00:00Z", regf, &added) == 0 &&
	    added == 1, "a newer record replaces the old one");
	json_decref(x);
	x = dev_record(&keys[0], p, NULL, 1, "2026-01-03T00:00:00Z",
	    NULL);
	ok(write_records(oldf, &x, 1) == 0 && reg_admit(regf, dist->pk,
	    &oldf, 1, dist, "2026-01-06T00:00:00Z", regf, &added) < 0 &&
	    strstr(dml_errmsg(), "already has a record of 2026-01-05"),
	    "an older record is refused: %s", dml_errmsg());
	json_decref(x);
	json_decref(p);

	g = reg_open(regf, dist->pk);
	for (n = 0; g && reg_next(g, &r, &d) == 1; n++)
		if (memcmp(d.pk, keys[0].pk, 32) == 0)
			ok(!dev_consents(&d, "images"), "the registry holds the "
			    "revocation");
	ok(n == NDEV, "still one line per device");
	reg_close(g);
}

/* Without regions: who is selected, balanced over the nodes, the same
 * way every time. */
static void
check_spread(dist_opts *o, const char *regf)
{
	dist_out out, again;
	size_t per[3], per2[3];
	int same = 1;

	/* even i >= 4, device 0 revoked anyway: 4 6 8 ... 18 */
	ok(run(o, regf, &out, per) == 0 && out.n == 8 &&
	    out.eligible == 8 && out.read == NDEV,
	    "selected: consent and ram_gb >= 4 (%zu)", out.n);
	ok(per[0] + per[1] + per[2] == 8 && per[0] <= 3 && per[1] <= 3 &&
	    per[2] <= 3 && per[0] >= 2 && per[1] >= 2 && per[2] >= 2,
	    "balanced without regions: %zu %zu %zu", per[0], per[1],
	    per[2]);
	ok(run(o, regf, &again, per2) == 0 && again.n == out.n,
	    "again");
	for (size_t i = 0; i < out.n; i++)
		same &= out.node[i] == again.node[i];
	ok(same, "the same job spreads the same way");
	dist_out_free(&again);
	dist_out_free(&out);
}

/* Nodes a and b of regions eu and na: each device to its region's. */
static void
check_regions(dist_opts *o, dist_node *nodes, const char *regf)
{
	dist_out out;
	size_t per[3];
	int regional = 1;

	nodes[0].region = "eu";
	nodes[1].region = "na";
	ok(run(o, regf, &out, per) == 0 && per[2] == 0,
	    "every device has a node of its region: %zu %zu %zu",
	    per[0], per[1], per[2]);
	for (size_t i = 0; i < out.n; i++) {
		const char *dev = json_string_value(json_object_get(
		    out.assign[i], "device"));
		for (int k = 0; k < NDEV; k++) {
			char hex[65];
			key_hex(keys[k].pk, 32, hex);
			if (strcmp(hex, dev) == 0)
				regional &= out.node[i] ==
				    (k % 3 ? 1u : 0u);
		}
	}
	ok(regional, "eu devices to the eu node, na to na");
	dist_out_free(&out);
}

/* --max caps the selection; the job's min_devices refuses too few. */
static void
check_limits(dist_opts *o, dml_job *job, const char *regf)
{
	dist_out out;
	size_t per[3];

	o->max = 3;
	ok(run(o, regf, &out, per) == 0 && out.n == 3 &&
	    out.eligible == 8, "--max 3: 3 of the 8 eligible");
	dist_out_free(&out);

	o->max = 0;
	job->min_devices = 9;
	ok(dist_run(o, regf, &out) < 0 && strcmp(dml_errmsg(),
	    "8 eligible devices, the job needs at least 9") == 0,
	    "fewer devices than the job's min_devices: refused (%s)",
	    dml_errmsg());
	dist_out_free(&out);
	job->min_devices = 0;
}

/* A job wanting ram_gb >= 4 and images, spread over nodes a, b, c. */
static void
check_selection(dml_key *dist, const char *regf)
{
	dml_job job;
	dist_node nodes[3];
	dist_opts o = {0};

	memset(&job, 0, sizeof job);
	job.rec = json_pack("{s:[{s:s,s:s,s:i}]}", "criteria", "attr",
	    "ram_gb", "op", "ge", "value", 4);
	strcpy(job.id, "bafkreitestjob");
	job.data = "images";
	memset(nodes, 0, sizeof nodes);
	for (int k = 0; k < 3; k++)
		nodes[k].pk[0] = (unsigned char)(k + 1);
	nodes[0].name = "a";
	nodes[1].name = "b";
	nodes[2].name = "c";
	o.job = &job;
	o.key = dist;
	o.registrar = dist->pk;
	o.nodes = nodes;
	o.nnodes = 3;
	check_spread(&o, regf);
	check_regions(&o, nodes, regf);
	check_limits(&o, &job, regf);
	json_decref(job.rec);
}

/* A node argument: KEY=REGION, and the region may not be empty. */
static void
check_node_arg(void)
{
	dist_node nd;
	char hex[65], *arg;

	key_hex(keys[1].pk, 32, hex);
	arg = xasprintf("%s=eu", hex);
	ok(dist_node_parse(&nd, arg) == 0 && nd.region &&
	    strcmp(nd.region, "eu") == 0 && strcmp(nd.name, hex) == 0 &&
	    memcmp(nd.pk, keys[1].pk, 32) == 0,
	    "a node: KEY=REGION");
	dist_node_free(&nd);
	arg[64 + 1] = 0;
	ok(dist_node_parse(&nd, arg) < 0 && strstr(dml_errmsg(),
	    "empty region"), "a node with an empty region: refused");
	free(arg);
}

int
main(void)
{
	json_t *recs[NDEV];
	char *devf = NULL, *regf = NULL, *newf = NULL, *oldf = NULL;
	dml_key dist;

	if (dml_crypto_init() < 0 || !mkdtemp(dir))
		return 1;
	devf = path("devices");
	regf = path("registry");
	newf = path("revoked");
	oldf = path("older");
	make_devices(&dist, recs);
	check_record(recs[3]);
	check_admit(recs, &dist, devf, regf);
	check_revocation(&dist, regf, newf, oldf);
	check_selection(&dist, regf);
	check_node_arg();

	for (int i = 0; i < NDEV; i++) {
		json_decref(recs[i]);
		key_free(&keys[i]);
	}
	key_free(&dist);
	unlink(devf);
	unlink(regf);
	unlink(newf);
	unlink(oldf);
	rmdir(dir);
	free(devf);
	free(regf);
	free(newf);
	free(oldf);
	return done_testing();
}
