/* split: device folders cut from a labelled dataset (see split.h). */
#include "split.h"
#include "cid.h"
#include "record.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Device attributes: values and their probabilities (dml-split(1)). */
static const char *regions[] = {"eu", "na", "asia", "sa", "africa",
    "oceania"};
static const double region_w[] = {0.25, 0.20, 0.30, 0.10, 0.10, 0.05};
static const char *ages[] = {"18-24", "25-34", "35-44", "45-54", "55-64",
    "65+"};
static const double age_w[] = {0.15, 0.25, 0.22, 0.17, 0.12, 0.09};
static const char *oses[] = {"android", "ios", "linux"};
static const double os_w[] = {0.60, 0.30, 0.10};
static const int rams[] = {2, 4, 6, 8, 12};
static const double ram_w[] = {0.10, 0.25, 0.25, 0.25, 0.15};

void
split_opts_init(split_opts *o)
{
	memset(o, 0, sizeof *o);
	o->how = DATA_PART_IID;
	o->alpha = 0.5;
	o->cpd = 2;
	o->consent = 0.9;
}

int
split_roles(split_opts *o, const char *spec, double mal,
    const data_attack *atk)
{
	size_t n = (size_t)o->devices, *perm = xmalloc(n * sizeof *perm), at = 0;
	char *copy = spec ? xstrdup(spec) : NULL, *tok, *save = NULL;
	dml_rng r;
	int rc = 0;

	o->extra = xcalloc(n, sizeof *o->extra);
	for (size_t i = 0; i < n; i++)
		o->extra[i] = json_object();
	rng_seed(&r, o->seed ^ DATA_SALT_ROLES);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	rng_shuffle(&r, perm, n);
	if (spec) {
		data_labeller careful = {LABEL_CAREFUL, 0};
		for (size_t i = 0; i < n; i++)
			json_object_set_new(o->extra[i], "label_profile",
			    data_labeller_json(&careful));
	}
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		char *eq = strrchr(tok, '=');
		data_labeller l;
		double f;
		size_t k;
		if (!eq) {
			rc = dml_error("--labelling: \"%s\" lacks =FRACTION", tok);
			break;
		}
		*eq = 0;
		if (data_labeller_parse(tok, &l) < 0 ||
		    dml_parse_double(eq + 1, &f) < 0 || !(f >= 0 && f <= 1)) {
			rc = dml_error("--labelling: \"%s=%s\": want PROFILE="
			    "FRACTION in [0, 1]", tok, eq + 1);
			break;
		}
		k = (size_t)llround(f * (double)n);
		if (at + k > n) {
			rc = dml_error("--labelling: the fractions add up to "
			    "more than 1");
			break;
		}
		for (size_t i = at; i < at + k; i++)
			json_object_set_new(o->extra[perm[i]], "label_profile",
			    data_labeller_json(&l));
		at += k;
	}
	if (rc == 0 && mal > 0) {
		size_t k = (size_t)llround(mal * (double)n);
		rng_shuffle(&r, perm, n);
		for (size_t i = 0; i < k; i++)
			json_object_set_new(o->extra[perm[i]], "malicious",
			    data_attack_json(atk));
	}
	free(copy);
	free(perm);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path) < 0 ? -1 : 0;
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
split_check_output(const char *dir)
{
	struct stat st;
	struct dirent *e;
	DIR *dp;
	int empty = 1;

	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : dml_error_sys("%s", dir);
	if (!S_ISDIR(st.st_mode))
		return dml_error("%s: exists and is not a directory", dir);
	if (!(dp = opendir(dir)))
		return dml_error_sys("%s", dir);
	while (empty && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(dp);
	return empty ? 0 : dml_error("%s: exists and is not empty", dir);
}

static json_t *
profile_new(const char *id, const split_opts *o, const dml_data *d,
    size_t n, dml_rng *ar, long j)
{
	json_t *r = rec_new("dml.profile"), *attrs = json_object();
	json_t *data = json_object(), *files = json_array(), *consent;

	json_object_set_new(r, "id", json_string(id));
	json_object_set_new(attrs, "region",
	    json_string(regions[rng_pick(ar, region_w, 6)]));
	json_object_set_new(attrs, "age_band",
	    json_string(ages[rng_pick(ar, age_w, 6)]));
	json_object_set_new(attrs, "os",
	    json_string(oses[rng_pick(ar, os_w, 3)]));
	json_object_set_new(attrs, "ram_gb",
	    json_integer(rams[rng_pick(ar, ram_w, 5)]));
	json_object_set_new(r, "attrs", attrs);
	consent = json_array();
	if (rng_uniform(ar) < o->consent)
		json_array_append_new(consent, json_string(o->type));
	json_object_set_new(r, "consent", consent);
	json_object_set_new(data, "type", json_string(o->type));
	if (d->format == DATA_IDX) {
		json_object_set_new(data, "format", json_string("idx"));
		json_array_append_new(files, json_string("images-idx3-ubyte"));
		json_array_append_new(files, json_string("labels-idx1-ubyte"));
	} else {
		json_object_set_new(data, "format", json_string("csv"));
		json_array_append_new(files, json_string("data.csv"));
		json_object_set_new(data, "label", d->label_name ?
		    json_string(d->label_name) : json_integer(
		    (json_int_t)d->label_col));
	}
	json_object_set_new(data, "files", files);
	json_object_set_new(data, "n", json_integer((json_int_t)n));
	json_object_set_new(data, "features",
	    json_integer((json_int_t)d->features));
	json_object_set_new(data, "classes", json_integer(d->classes));
	json_object_set_new(r, "data", data);
	if (o->extra && j >= 0)
		json_object_update(r, o->extra[j]);
	return r;
}

/* DIR/NAME: the record r, canonical, whole or not at all. */
static int
write_json(const char *dir, const char *name, const json_t *r)
{
	size_t len;
	char *s = canon_dump(r, NULL, NULL, &len), *path;
	int rc;

	path = xasprintf("%s/%s", dir, name);
	if (!s) {
		rc = dml_error("%s: cannot serialise", path);
		free(path);
		return rc;
	}
	s = xrealloc(s, len + 1);
	s[len] = '\n';
	rc = dml_write_file(path, s, len + 1, 0644);
	free(s);
	free(path);
	return rc;
}

/* The data folder TMP/NAME with samples idx[0..n) of d in d's format;
 * set, when given, gets the CID of the samples file. The folder's path
 * (malloc'd), or NULL with dml_error. */
static char *
shard_dir(const char *tmp, const char *name, const dml_data *d,
    const size_t *idx, size_t n, char *set)
{
	unsigned char *img = NULL, *lab = NULL;
	size_t imglen, lablen;
	char *dir = xasprintf("%s/%s", tmp, name), *path;
	int rc = -1;

	if (mkdir(dir, 0777) < 0) {
		dml_error_sys("%s", dir);
		free(dir);
		return NULL;
	}
	if (data_encode_subset(d, idx, n, &img, &imglen, &lab, &lablen) < 0 ||
	    (set && cid_of_bytes(img, imglen, set) < 0))
		goto out;
	path = xasprintf("%s/%s", dir, d->format == DATA_IDX ?
	    "images-idx3-ubyte" : "data.csv");
	rc = dml_write_file(path, img, imglen, 0644);
	free(path);
	if (rc == 0 && lab) {
		path = xasprintf("%s/labels-idx1-ubyte", dir);
		rc = dml_write_file(path, lab, lablen, 0644);
		free(path);
	}
out:
	free(img);
	free(lab);
	if (rc < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Write one device folder; its consent goes to *consents. */
static int
write_device(const char *tmp, const char *id, const split_opts *o,
    const dml_data *d, const size_t *idx, size_t n, dml_rng *ar,
    long *consents, long j)
{
	char *dir = shard_dir(tmp, id, d, idx, n, NULL);
	json_t *prof;
	int rc;

	if (!dir)
		return -1;
	prof = profile_new(id, o, d, n, ar, j);
	*consents += json_array_size(json_object_get(prof, "consent")) > 0;
	rc = write_json(dir, "profile.json", prof);
	json_decref(prof);
	free(dir);
	return rc;
}

/* The control set folder DIR/control: a data folder of the held-out
 * samples, and key.ndjson, its answer key (one dml.control record naming
 * the set's CID). Returns {items, set} for the summary. */
static json_t *
write_control(const char *tmp, const split_opts *o, const dml_data *d)
{
	char *dir, id[32], cs[CID_MAXSTR];
	json_t *prof, *key, *ans;
	dml_rng ar;
	int rc;

	if (!(dir = shard_dir(tmp, "control", d, o->held, o->nheld, cs)))
		return NULL;
	rng_seed(&ar, o->seed ^ DATA_SALT_CONTROL);
	prof = profile_new("control", o, d, o->nheld, &ar, -1);
	rc = write_json(dir, "profile.json", prof);
	json_decref(prof);
	if (rc < 0)
		goto out;
	ans = json_object();
	for (size_t i = 0; i < o->nheld; i++) {
		snprintf(id, sizeof id, "c%06zu", i);
		json_object_set_new(ans, id, json_integer(d->y[o->held[i]]));
	}
	key = rec_new("dml.control");
	json_object_set_new(key, "set", json_string(cs));
	json_object_set_new(key, "answers", ans);
	rc = write_json(dir, "key.ndjson", key);
	json_decref(key);
out:
	free(dir);
	return rc < 0 ? NULL : json_pack("{s:I,s:s}", "items",
	    (json_int_t)o->nheld, "set", cs);
}

/* Hold K samples out (a seeded choice, kept in input order) and
 * partition the rest among the devices: dev[i] is -1 for a held sample. */
static int
partition_held(split_opts *o, const dml_data *d, long k, int *dev)
{
	size_t n = d->n, *perm = xmalloc(n * sizeof *perm), j = 0;
	char *held = xcalloc(n, 1);
	dml_data rest = *d;
	int *rdev;
	dml_rng r;
	int rc;

	if ((size_t)k + (size_t)o->devices > n) {
		free(perm);
		free(held);
		return dml_error("--control %ld: %zu samples leave fewer than "
		    "one per device", k, n);
	}
	rng_seed(&r, o->seed ^ DATA_SALT_CONTROL);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	rng_shuffle(&r, perm, n);
	for (long i = 0; i < k; i++)
		held[perm[i]] = 1;
	o->held = xmalloc((size_t)k * sizeof *o->held);
	rest.y = xmalloc((n - (size_t)k) * sizeof *rest.y);
	for (size_t i = 0; i < n; i++)
		if (held[i])
			o->held[o->nheld++] = i;
		else
			rest.y[j++] = d->y[i];
	rest.n = j;
	rdev = xmalloc((j ? j : 1) * sizeof *rdev);
	rc = data_partition(&rest, (int)o->devices, o->how, o->alpha,
	    (int)o->cpd, o->seed, rdev);
	for (size_t i = 0, q = 0; rc == 0 && i < n; i++)
		dev[i] = held[i] ? -1 : rdev[q++];
	free(rdev);
	free(rest.y);
	free(perm);
	free(held);
	return rc;
}

static json_t *
summary(const split_opts *o, const dml_data *d, size_t used, long consents)
{
	json_t *r = rec_new("dml.split");

	json_object_set_new(r, "data", json_string(o->type));
	json_object_set_new(r, "format", json_string(d->format == DATA_IDX ?
	    "idx" : "csv"));
	json_object_set_new(r, "source", json_string(d->name));
	json_object_set_new(r, "partition",
	    json_string(data_partition_name(o->how)));
	if (o->how == DATA_PART_DIRICHLET)
		json_object_set_new(r, "alpha", json_real(o->alpha));
	if (o->how == DATA_PART_CLASSES)
		json_object_set_new(r, "classes_per_device",
		    json_integer(o->cpd));
	json_object_set_new(r, "seed", json_integer((json_int_t)o->seed));
	json_object_set_new(r, "devices", json_integer(o->devices));
	json_object_set_new(r, "samples", json_integer((json_int_t)used));
	json_object_set_new(r, "features",
	    json_integer((json_int_t)d->features));
	json_object_set_new(r, "classes", json_integer(d->classes));
	json_object_set_new(r, "consent_rate", json_real(o->consent));
	json_object_set_new(r, "consenting", json_integer(consents));
	return r;
}

/* Write every device into a temporary folder beside DIR, then rename it
 * to DIR: the split appears whole or not at all. */
json_t *
split_write(const split_opts *o, const dml_data *d, const int *dev)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", o->out), id[32];
	size_t *idx = xmalloc(d->n * sizeof *idx), used = 0, *start = NULL;
	size_t *fill = NULL;
	json_t *per = json_array(), *sum = NULL;
	long consents = 0;
	int width = 4, rc;
	mode_t um = umask(0);
	dml_rng ar;

	umask(um);
	for (long v = o->devices; v >= 10000; v /= 10)
		width++;
	rng_seed(&ar, o->seed ^ DATA_SALT_ATTRS);
	if (!mkdtemp(tmp)) {
		dml_error_sys("%s", tmp);
		goto fail_nodir;
	}
	/* idx: the samples grouped by device, in input order within each */
	start = xcalloc((size_t)o->devices + 1, sizeof *start);
	for (size_t i = 0; i < d->n; i++)
		if (dev[i] >= 0)
			start[dev[i] + 1]++;
	for (long j = 0; j < o->devices; j++)
		start[j + 1] += start[j];
	fill = xmalloc((size_t)o->devices * sizeof *fill);
	memcpy(fill, start, (size_t)o->devices * sizeof *fill);
	for (size_t i = 0; i < d->n; i++)
		if (dev[i] >= 0)
			idx[fill[dev[i]]++] = i;
	for (long j = 0; j < o->devices; j++) {
		size_t n = start[j + 1] - start[j], *mine = idx + start[j];
		json_t *labs = json_array(), *e;
		double *lc = xcalloc((size_t)d->classes, sizeof *lc);
		for (size_t i = 0; i < n; i++)
			lc[d->y[mine[i]]]++;
		for (int c = 0; c < d->classes; c++)
			json_array_append_new(labs, json_integer((json_int_t)
			    lc[c]));
		free(lc);
		used += n;
		snprintf(id, sizeof id, "dev-%0*ld", width & 15, j + 1);
		e = json_pack("{s:s,s:I,s:o}", "id", id, "n", (json_int_t)n,
		    "labels", labs);
		if (o->extra)
			json_object_update(e, o->extra[j]);
		json_array_append_new(per, e);
		if (write_device(tmp, id, o, d, mine, n, &ar, &consents, j) < 0)
			goto fail;
		dml_progress("devices written", j + 1, o->devices);
	}
	sum = summary(o, d, used, consents);
	if (o->nheld) {
		json_t *cs = write_control(tmp, o, d);
		if (!cs)
			goto fail;
		json_object_set_new(sum, "control", cs);
	}
	json_object_set(sum, "per_device", per);
	rc = write_json(tmp, "split.json", sum);
	json_object_del(sum, "per_device");
	if (rc < 0)
		goto fail;
	if (chmod(tmp, 0777 & ~um) < 0 || rename(tmp, o->out) < 0) {
		dml_error_sys("%s", o->out);
		goto fail;
	}
	free(tmp);
	free(idx);
	free(start);
	free(fill);
	json_decref(per);
	return sum;
fail:
	rm_tree(tmp);
fail_nodir:
	free(tmp);
	free(idx);
	free(start);
	free(fill);
	json_decref(per);
	json_decref(sum);
	return NULL;
}

int
split_partition(split_opts *o, const dml_data *d, int *dev)
{
	if (o->control)
		return partition_held(o, d, o->control, dev);
	return data_partition(d, (int)o->devices, o->how, o->alpha,
	    (int)o->cpd, o->seed, dev);
}

void
split_free(split_opts *o)
{
	for (long j = 0; o->extra && j < o->devices; j++)
		json_decref(o->extra[j]);
	free(o->extra);
	free(o->held);
	o->extra = NULL;
	o->held = NULL;
	o->nheld = 0;
}
