/*
 * split: cut a labelled dataset into device folders for experiments that
 * simulate devices (dml-split(1)): DIR/dev-0001 ... each holding its share
 * of the data in the dataset's own format and a dml.profile (seeded
 * attributes, consent, and optionally a labelling profile or an attack),
 * DIR/split.json summing it up, and optionally DIR/control, the crowd
 * control set held out of every device.
 *
 * Everything is deterministic given the seed (each random stream has its
 * own salt, data.h), and the folder appears whole or not at all: it is
 * written beside DIR and renamed.
 *
 * Not for: reading device folders (data_load_dir) or partition rules
 * themselves (data_partition).
 */
#ifndef DML_SPLIT_H
#define DML_SPLIT_H

#include <jansson.h>
#include <stdint.h>

#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct split_opts {
	const char *out;	/* the folder to create (no trailing '/') */
	const char *type;	/* the data type devices consent to */
	enum data_partition how;
	double alpha;		/* Dirichlet concentration */
	long cpd;		/* classes per device (classes partition) */
	double consent;		/* probability a device consents */
	long devices;
	uint64_t seed;		/* below 2^53: it is written as a number */
	long control;		/* samples held out as the control set, or 0 */
	/* set by split_roles, split_partition; released by split_free */
	json_t **extra;		/* per device: label_profile, malicious */
	size_t *held, nheld;	/* the control set's samples, input order */
} split_opts;

/* Defaults: IID, alpha 0.5, 2 classes per device, consent 0.9, seed 0. */
void split_opts_init(split_opts *o);
/* Choose which devices get which labelling profile (spec
 * "PROFILE=FRACTION,...", NULL: none) and which fraction `malicious`
 * of them send attack `atk`: seeded subsets of round(fraction x devices),
 * the labelling profiles disjoint, the malicious independent of them.
 * -1 with dml_error naming --labelling for a bad spec. */
int split_roles(split_opts *o, const char *spec, double malicious,
    const data_attack *atk);
/* The output folder must not exist or be empty: -1 with dml_error
 * otherwise (a system error when it cannot be looked at). */
int split_check_output(const char *dir);
/* dev[i] (d->n of them): the device of sample i, or -1 for a sample left
 * out or held out for the control set (o->control samples, a seeded choice
 * recorded in o->held). -1 with dml_error when the samples do not go
 * round. */
int split_partition(split_opts *o, const dml_data *d, int *dev);
/* Write the folder and return its dml.split summary record (new
 * reference, without per_device: that is in DIR/split.json), or NULL with
 * dml_error and nothing left behind. */
json_t *split_write(const split_opts *o, const dml_data *d, const int *dev);
void split_free(split_opts *o);

#ifdef __cplusplus
}
#endif

#endif
