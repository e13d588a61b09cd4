/* data: IDX, CSV and device-folder loading, bad files, the seeded
 * generator, partitions, the control set held out of a split, and the
 * device statistics task. */
#include "data.h"
#include "split.h"
#include "task.h"
#include "util.h"
#include "dmltest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[] = "/tmp/t-data.XXXXXX";

static char *
path_of(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void
put(const char *name, const void *p, size_t n)
{
	char *path = path_of(name);
	FILE *f = fopen(path, "wb");

	fwrite(p, 1, n, f);
	fclose(f);
	free(path);
}

static void
put_gz(const char *name, const void *p, size_t n)
{
	char *path = path_of(name);
	gzFile f = gzopen(path, "wb");

	gzwrite(f, p, (unsigned)n);
	gzclose(f);
	free(path);
}

static void
puts_file(const char *name, const char *s)
{
	put(name, s, strlen(s));
}

/* 3 images of 2x2 and their labels */
static const unsigned char img[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0,
    0, 2, 0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0};
static const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 2};

static int
load_idx(dml_data *d, const char *a, const char *b)
{
	char *pa = path_of(a), *pb = path_of(b);
	int rc = data_load_idx(d, pa, pb);

	free(pa);
	free(pb);
	return rc;
}

static int
load_csv(dml_data *d, const char *a, const char *label)
{
	char *pa = path_of(a);
	int rc = data_load_csv(d, pa, label);

	free(pa);
	return rc;
}

static void
test_idx(void)
{
	dml_data d;
	unsigned char bad[sizeof img];

	put("img", img, sizeof img);
	put("lab", lab, sizeof lab);
	put_gz("img.gz", img, sizeof img);
	put_gz("lab.gz", lab, sizeof lab);
	ok(load_idx(&d, "img", "lab") == 0 && d.n == 3 && d.features == 4 &&
	    d.classes == 8 && d.ndims == 2 && d.dims[0] == 2, "IDX pair loads");
	ok(d.x[1] == 1.0f && d.x[2] == 0.2f && d.x[3] == 0.4f && d.x[0] == 0,
	    "pixels scaled by /255");
	ok(d.y[0] == 7 && d.y[1] == 0 && d.y[2] == 2, "labels read");
	is_str(d.name, "img", "name is the images file's base name");
	data_free(&d);
	ok(load_idx(&d, "img.gz", "lab.gz") == 0 && d.n == 3 &&
	    d.x[2] == 0.2f, "gzipped IDX pair loads");
	data_free(&d);

	memcpy(bad, img, sizeof img);
	bad[0] = 0x1f;
	put("badmagic", bad, sizeof bad);
	ok(load_idx(&d, "badmagic", "lab") < 0 && err_has("badmagic: not an "
	    "IDX file"), "bad magic refused with the file name");
	bad[0] = 0;
	bad[2] = 0x0d;
	put("float", bad, sizeof bad);
	ok(load_idx(&d, "float", "lab") < 0 && err_has("type 0x0d"),
	    "non-byte IDX refused");
	put("short", img, sizeof img - 3);
	ok(load_idx(&d, "short", "lab") < 0 && err_has("short: truncated: "
	    "item 3 of 3"), "truncated images refused, naming the item");
	put_gz("short.gz", img, sizeof img - 3);
	ok(load_idx(&d, "short.gz", "lab") < 0 && err_has("truncated"),
	    "truncated gzipped images refused");
	put("long", img, sizeof img);
	{
		unsigned char l2[sizeof img + 1];
		memcpy(l2, img, sizeof img);
		l2[sizeof img] = 9;
		put("long", l2, sizeof l2);
	}
	ok(load_idx(&d, "long", "lab") < 0 && err_has("trailing bytes"),
	    "trailing bytes refused");
	{
		unsigned char l2[] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2};
		put("lab2", l2, sizeof l2);
	}
	ok(load_idx(&d, "img", "lab2") < 0 && err_has("2 labels for the 3 "
	    "images"), "label count mismatch refused");
	ok(load_idx(&d, "missing", "lab") < 0 && err_has("missing: No such "
	    "file"), "missing file refused");
	put("gzjunk", "\x1f\x8b\x08\x00garbagegarbage", 18);
	ok(load_idx(&d, "gzjunk", "lab") < 0, "corrupt gzip refused");
	put("empty", "", 0);
	ok(load_idx(&d, "empty", "lab") < 0 && err_has("not an IDX"),
	    "empty file refused");
}

static void
test_csv(void)
{
	dml_data d;

	puts_file("a.csv", "f1,f2,label\n0.5,1,3\n\n-2,4e1,0\r\n");
	ok(load_csv(&d, "a.csv", NULL) == 0 && d.n == 2 && d.features == 2 &&
	    d.classes == 4 && d.header, "CSV with header, label last");
	ok(d.x[0] == 0.5f && d.x[1] == 1 && d.x[2] == -2 && d.x[3] == 40 &&
	    d.y[0] == 3 && d.y[1] == 0, "CSV values and labels");
	is_str(d.label_name, "label", "label column named");
	data_free(&d);
	ok(load_csv(&d, "a.csv", "f2") == 0 && d.label_col == 1 &&
	    d.x[0] == 0.5f && d.x[1] == 3 && d.y[1] == 40 && d.classes == 41,
	    "label by name");
	data_free(&d);
	puts_file("b.csv", "1,\"2\",0.25\n3, 4 ,0.5\n");
	ok(load_csv(&d, "b.csv", "1") == 0 && !d.header && d.y[0] == 2 &&
	    d.x[1] == 0.25f && d.classes == 5, "no header, label by index, "
	    "quotes and blanks");
	data_free(&d);
	ok(load_csv(&d, "b.csv", "x") < 0 && err_has("no header line"),
	    "label name without a header refused");
	ok(load_csv(&d, "b.csv", "3") < 0 && err_has("out of range"),
	    "label index out of range refused");
	ok(load_csv(&d, "a.csv", "nope") < 0 && err_has("no column named "
	    "\"nope\""), "unknown label column refused");
	puts_file("c.csv", "x,y\n1,2\n1,abc\n");
	ok(load_csv(&d, "c.csv", "x") < 0 && err_has("c.csv:3: column 1: "
	    "\"abc\" is not a finite number"), "bad number names file:line");
	puts_file("d.csv", "x,y\n1,2\n1,2,3\n");
	ok(load_csv(&d, "d.csv", NULL) < 0 && err_has("d.csv:3: 3 fields, "
	    "expected 2"), "wrong field count names file:line");
	puts_file("e.csv", "x,y\n1,2\n1,-1\n");
	ok(load_csv(&d, "e.csv", NULL) < 0 && err_has("e.csv:3: label \"-1\""),
	    "negative label refused");
	puts_file("f.csv", "x,y\n1,2.5\n");
	ok(load_csv(&d, "f.csv", NULL) < 0 && err_has("f.csv:2: label"),
	    "fractional label refused");
	puts_file("g.csv", "x,y\n");
	ok(load_csv(&d, "g.csv", NULL) < 0 && err_has("no samples"),
	    "header only refused");
	puts_file("h.csv", "");
	ok(load_csv(&d, "h.csv", NULL) < 0 && err_has("no samples"),
	    "empty CSV refused");
	puts_file("i.csv", "x,y\n1,nan\n");
	ok(load_csv(&d, "i.csv", "y") < 0 && err_has("i.csv:2:"),
	    "NaN refused");
	puts_file("j.csv", "5\n");
	ok(load_csv(&d, "j.csv", NULL) < 0 && err_has("at least 2 columns"),
	    "one column refused");
}

static void
test_dir(void)
{
	dml_data d, e;
	size_t idx[2] = {2, 0};
	unsigned char *a, *b;
	size_t alen, blen;
	char *dir = path_of("dev");

	mkdir(dir, 0777);
	ok(load_idx(&d, "img", "lab") == 0, "load for the subset");
	ok(data_encode_subset(&d, idx, 2, &a, &alen, &b, &blen) == 0 &&
	    alen == 16 + 2 * 4 && blen == 10, "IDX subset encoded");
	put("dev/i", a, alen);
	put("dev/l", b, blen);
	free(a);
	free(b);
	puts_file("dev/profile.json", "{\"type\":\"dml.profile\",\"v\":1,"
	    "\"id\":\"dev-0007\",\"consent\":[],\"data\":{\"type\":\"t\","
	    "\"format\":\"idx\",\"files\":[\"i\",\"l\"],\"n\":2,\"features\":4,"
	    "\"classes\":10}}\n");
	ok(data_load_dir(&e, dir) == 0 && e.n == 2 && e.classes == 10 &&
	    e.y[0] == 2 && e.y[1] == 7, "device folder loads");
	ok(e.n == 2 && memcmp(e.x, d.x + 8, 4 * sizeof(float)) == 0 &&
	    memcmp(e.x + 4, d.x, 4 * sizeof(float)) == 0,
	    "subset pixels survive the u8 round trip exactly");
	is_str(e.name, "dev-0007", "name is the device id");
	data_free(&e);
	ok(data_load(&e, dir) == 0 && e.n == 2, "data_load takes a folder");
	data_free(&e);
	data_free(&d);

	puts_file("dev/profile.json", "{\"type\":\"dml.profile\",\"v\":1,"
	    "\"id\":\"x\",\"data\":{\"type\":\"t\",\"format\":\"idx\","
	    "\"files\":[\"i\",\"l\"],\"n\":3,\"features\":4,\"classes\":10}}\n");
	ok(data_load_dir(&e, dir) < 0 && err_has("profile says 3"),
	    "count mismatch with the profile refused");
	puts_file("dev/profile.json", "{\"type\":\"dml.profile\",\"v\":1,"
	    "\"id\":\"x\",\"data\":{\"type\":\"t\",\"format\":\"idx\","
	    "\"files\":[\"../i\",\"l\"],\"n\":2,\"features\":4,\"classes\":10}}"
	    "\n");
	ok(data_load_dir(&e, dir) < 0 && err_has("profile.json:1:"),
	    "a file name outside the folder refused");
	puts_file("dev/profile.json", "{\"type\":\"dml.profile\",\"v\":1,"
	    "\"id\":\"x\",\"data\":{\"type\":\"t\",\"format\":\"idx\","
	    "\"files\":[\"i\",\"l\"],\"n\":\"2\",\"features\":4,"
	    "\"classes\":10}}\n");
	ok(data_load_dir(&e, dir) < 0 && err_has("profile.json:1: field "
	    "\"data\".\"n\" must be an integer"), "a string count refused");
	puts_file("dev/profile.json", "{\"type\":\"dml.profile\",\"v\":1}\n");
	ok(data_load_dir(&e, dir) < 0 && err_has("profile.json:1: missing "
	    "field \"id\""), "profile without id refused");
	puts_file("dev/profile.json", "{\"type\":\"dml.profile\"");
	ok(data_load_dir(&e, dir) < 0 && err_has("truncated"),
	    "truncated profile refused");

	ok(load_csv(&d, "a.csv", NULL) == 0, "load a CSV for a subset");
	idx[0] = 1;
	ok(data_encode_subset(&d, idx, 1, &a, &alen, &b, &blen) == 0 && !b &&
	    alen == strlen("f1,f2,label\n-2,4e1,0\n") &&
	    memcmp(a, "f1,f2,label\n-2,4e1,0\n", alen) == 0,
	    "CSV subset keeps the header and the original line");
	free(a);
	data_free(&d);
	free(dir);
}

static void
test_rng(void)
{
	dml_rng r, s;
	double sum = 0, sq = 0;
	int same = 1, inrange = 1;

	rng_seed(&r, 0);
	ok(rng_next(&r) == 0x99ec5f36cb75f2b4ULL &&
	    rng_next(&r) == 0xbf6e1f784956452aULL,
	    "xoshiro256** from splitmix64(0) gives the reference stream");
	rng_seed(&r, 42);
	ok(rng_next(&r) == 0x15780b2e0c2ec716ULL, "seed 42 reference");
	rng_seed(&r, 5);
	rng_seed(&s, 5);
	for (int i = 0; i < 1000; i++)
		if (rng_next(&r) != rng_next(&s))
			same = 0;
	ok(same, "same seed, same stream");
	for (int i = 0; i < 10000; i++) {
		uint64_t v = rng_below(&r, 7);
		double u = rng_uniform(&r);
		if (v >= 7 || u < 0 || u >= 1)
			inrange = 0;
	}
	ok(inrange, "below and uniform stay in range");
	for (int i = 0; i < 20000; i++) {
		double g = rng_gamma(&r, 0.5);
		sum += g;
		sq += g * g;
	}
	ok(fabs(sum / 20000 - 0.5) < 0.03 && fabs(sq / 20000 - 0.75) < 0.1,
	    "Gamma(0.5) has mean 0.5 and second moment 0.75 (%.3f, %.3f)",
	    sum / 20000, sq / 20000);
	sum = 0;
	for (int i = 0; i < 20000; i++)
		sum += rng_gamma(&r, 3);
	ok(fabs(sum / 20000 - 3) < 0.08, "Gamma(3) has mean 3 (%.3f)",
	    sum / 20000);
}

/* n samples of 1 feature, labels i % classes. */
static void
synth_labels(dml_data *d, size_t n, int classes)
{
	memset(d, 0, sizeof *d);
	d->n = n;
	d->features = 1;
	d->classes = classes;
	d->x = xcalloc(n, sizeof *d->x);
	d->y = xmalloc(n * sizeof *d->y);
	d->name = xstrdup("synth");
	for (size_t i = 0; i < n; i++)
		d->y[i] = (int32_t)(i % (size_t)classes);
}

static void
test_partition(void)
{
	dml_data d;
	int *dev, *dev2, k = 7, allset = 1, even = 1, nonempty = 1, same = 1;
	size_t count[50] = {0}, lo = (size_t)-1, hi = 0;

	synth_labels(&d, 1000, 10);
	dev = xmalloc(d.n * sizeof *dev);
	dev2 = xmalloc(d.n * sizeof *dev2);
	ok(data_partition(&d, k, DATA_PART_IID, 0, 0, 3, dev) == 0, "iid");
	for (size_t i = 0; i < d.n; i++) {
		if (dev[i] < 0 || dev[i] >= k)
			allset = 0;
		else
			count[dev[i]]++;
	}
	for (int j = 0; j < k; j++) {
		lo = count[j] < lo ? count[j] : lo;
		hi = count[j] > hi ? count[j] : hi;
	}
	even = hi - lo <= 1;
	ok(allset && even, "iid assigns every sample, sizes within 1");

	ok(data_partition(&d, 50, DATA_PART_DIRICHLET, 0.01, 0, 9, dev) == 0,
	    "dirichlet with alpha 0.01 among 50 devices");
	memset(count, 0, sizeof count);
	for (size_t i = 0; i < d.n; i++)
		if (dev[i] >= 0)
			count[dev[i]]++;
	for (int j = 0; j < 50; j++)
		if (!count[j])
			nonempty = 0;
	ok(nonempty, "every device has a sample even at tiny alpha");
	data_partition(&d, 50, DATA_PART_DIRICHLET, 0.01, 0, 9, dev2);
	for (size_t i = 0; i < d.n; i++)
		if (dev[i] != dev2[i])
			same = 0;
	ok(same, "same seed, same partition");
	data_partition(&d, 50, DATA_PART_DIRICHLET, 0.01, 0, 10, dev2);
	same = 1;
	for (size_t i = 0; i < d.n; i++)
		if (dev[i] != dev2[i])
			same = 0;
	ok(!same, "another seed, another partition");

	ok(data_partition(&d, 4, DATA_PART_CLASSES, 0, 2, 1, dev) == 0,
	    "classes: 2 per device among 4");
	{
		int held[4][10] = {{0}}, fine = 1;
		for (size_t i = 0; i < d.n; i++)
			if (dev[i] >= 0)
				held[dev[i]][d.y[i]] = 1;
		for (int j = 0; j < 4; j++) {
			int c = 0;
			for (int t = 0; t < 10; t++)
				c += held[j][t];
			if (c != 2)
				fine = 0;
		}
		ok(fine, "each device holds exactly 2 classes");
	}
	ok(data_partition(&d, 1001, DATA_PART_IID, 0, 0, 1, dev) < 0 &&
	    err_has("1000 samples among 1001"), "more devices than samples "
	    "refused");
	ok(data_partition(&d, 2, DATA_PART_CLASSES, 0, 11, 1, dev) < 0,
	    "more classes per device than classes refused");
	free(dev);
	free(dev2);
	data_free(&d);
}

/* A split's control set is held out of every device: a seeded choice of
 * distinct samples, in input order, no device holding one. */
static void
test_split(void)
{
	json_t *p = json_pack("{s:[s,s]}", "consent", "a", "b");
	split_opts o, o2;
	dml_data d;
	int *dev = xmalloc(100 * sizeof *dev), held_ok = 1;
	size_t held = 0;
	char *missing = path_of("no-such-dir");

	ok(data_profile_consents(p, "b") && !data_profile_consents(p, "c"),
	    "a profile consents to the data types it lists, no others");
	json_decref(p);
	synth_labels(&d, 100, 10);
	split_opts_init(&o);
	o.devices = 5;
	o.control = 20;
	o.seed = 3;
	ok(split_partition(&o, &d, dev) == 0 && o.nheld == 20,
	    "20 samples held out of 100");
	for (size_t i = 0; i < d.n; i++)
		held += dev[i] < 0;
	for (size_t i = 0; i < o.nheld; i++)
		if (dev[o.held[i]] >= 0 || (i && o.held[i] <= o.held[i - 1]))
			held_ok = 0;
	ok(held == 20 && held_ok, "exactly the held samples are on no device, "
	    "listed in input order");
	split_opts_init(&o2);
	o2.devices = 5;
	o2.control = 96;
	ok(split_partition(&o2, &d, dev) < 0 &&
	    strstr(dml_errmsg(), "fewer than one per device"),
	    "a control set that leaves a device empty is refused");
	ok(split_check_output(missing) == 0, "an absent output folder is fine");
	ok(split_check_output(tmpdir) < 0 &&
	    strstr(dml_errmsg(), "exists and is not empty"),
	    "a folder with files in it is refused");
	free(missing);
	split_free(&o);
	split_free(&o2);
	data_free(&d);
	free(dev);
}

static void
test_stats(void)
{
	dml_data d;
	double sum[2], sumsq[2], hist[8], labels[3];

	puts_file("s.csv", "a,b,y\n0,0.5,0\n0.3,1,2\n-1,2,2\n0.99,0.25,1\n");
	ok(load_csv(&d, "s.csv", NULL) == 0, "stats data");
	ok(task_stats(&d, 4, sum, sumsq, hist, labels) == 4, "stats n");
	ok(fabs(sum[0] - 0.29) < 1e-6 && fabs(sum[1] - 3.75) < 1e-6,
	    "feature sums");
	ok(fabs(sumsq[0] - (0.09 + 1 + 0.9801)) < 1e-6 &&
	    fabs(sumsq[1] - (0.25 + 1 + 4 + 0.0625)) < 1e-6, "sums of squares");
	ok(hist[0] == 2 && hist[1] == 1 && hist[2] == 0 && hist[3] == 1,
	    "feature a: -1 clamps to bin 0, 0.3 in bin 1, 0.99 in bin 3");
	ok(hist[4] == 0 && hist[5] == 1 && hist[6] == 1 && hist[7] == 2,
	    "feature b: 1 and 2 clamp to the last bin");
	ok(labels[0] == 1 && labels[1] == 1 && labels[2] == 2,
	    "label histogram");
	ok(task_stats(&d, 0, sum, sumsq, hist, labels) < 0, "0 bins refused");
	data_free(&d);
}

int
main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	test_idx();
	test_csv();
	test_dir();
	test_rng();
	test_partition();
	test_split();
	test_stats();
	{
		char *cmd = xasprintf("rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
		free(cmd);
	}
	return done_testing();
}
