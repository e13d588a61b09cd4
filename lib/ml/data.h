/*
 * data: labelled datasets in memory, device folders, and the simulated
 * labellers and attackers of experiments.
 *
 * A dataset is n samples of `features` floats (row-major) and an int32
 * label each. Sources: IDX files (the MNIST format, gzipped or not; pixels
 * of type unsigned byte scaled to [0,1] by /255), CSV files (numeric
 * features, an integer label column), and device folders written by
 * dml-split (profile.json says which files and format). Every failure is a
 * dml_error naming the file and the line (CSV, profile) or the sample
 * (IDX); nothing here exits.
 *
 * Partitions and simulations draw from the seeded generator of rng.h.
 *
 * Not for: models (see model), what a device computes (see task), or
 * writing device folders (see split).
 */
#ifndef DML_DATA_H
#define DML_DATA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DATA_MAXDIM 4		/* IDX: dimensions of one sample */
#define DATA_MAXCLASSES 65536	/* labels are 0 .. DATA_MAXCLASSES-1 */

enum data_format { DATA_IDX, DATA_CSV };

typedef struct dml_data {
	size_t n;		/* samples */
	size_t features;	/* floats per sample */
	int classes;		/* 1 + largest label, or the declared count */
	float *x;		/* [n][features], owned */
	int32_t *y;		/* [n], owned */
	enum data_format format;
	char *name;		/* basename of the source, owned */
	/* IDX: the shape of one sample (28 x 28 for MNIST) */
	int ndims;
	uint32_t dims[DATA_MAXDIM];
	/* CSV: the original text, kept so a subset keeps its columns */
	char *text;		/* owned; NULL for IDX */
	const char *header;	/* header line in text, or NULL */
	size_t header_len;
	size_t *row_off, *row_len;	/* line of each sample in text */
	size_t ncols;		/* columns per line */
	size_t label_col;	/* 0-based column of the label */
	char *label_name;	/* header name of the label column, or NULL */
} dml_data;

/* IDX pair: images (magic 0x00000803 or any u8 IDX of >= 1 dimension) and
 * labels (u8, 1 dimension, as many as images). */
int data_load_idx(dml_data *d, const char *images, const char *labels);
/* CSV. The first line is a header when any of its fields is not a
 * number. `label` names the label column by header name or, failing
 * that, by 0-based index written in decimal; NULL means the last column.
 * Fields are split at commas; one pair of double quotes around a field is
 * removed. Labels must be integers in [0, DATA_MAXCLASSES). */
int data_load_csv(dml_data *d, const char *path, const char *label);
/* A device folder written by dml-split: reads DIR/profile.json and the
 * files it lists (relative names, no '/'), and checks n and features. */
int data_load_dir(dml_data *d, const char *dir);
/* A directory is a device folder, a name ending in .csv a CSV file
 * (label: last column); anything else is refused. */
int data_load(dml_data *d, const char *path);
void data_free(dml_data *d);
/* Keep only the first k samples (k <= n). */
void data_truncate(dml_data *d, size_t k);

/* The dml.profile record of a device folder, checked (type, v, id, data
 * object). New reference; NULL with dml_error "DIR/profile.json:1: ...". */
json_t *data_profile_read(const char *dir);
/* Has the device of this profile consented to data type `type`? 1 or 0. */
int data_profile_consents(const json_t *profile, const char *type);

/* Encode the samples idx[0..k) in the dataset's own format, whole files in
 * memory (malloc'd). IDX: uncompressed images and labels files. CSV: the
 * header (if any) and the original lines; *lab is NULL. */
int data_encode_subset(const dml_data *d, const size_t *idx, size_t k,
    unsigned char **img, size_t *imglen, unsigned char **lab,
    size_t *lablen);

/* ---- partitions among devices ------------------------------------------ */

enum data_partition { DATA_PART_IID, DATA_PART_DIRICHLET, DATA_PART_CLASSES };

int data_partition_parse(const char *s, enum data_partition *p);
const char *data_partition_name(enum data_partition p);
/* Assign each sample i < d->n to a device dev[i] in [0, k), or -1 when it
 * is left out (only the classes partition leaves samples out: those of a
 * class no device holds). Deterministic given the seed.
 *   iid:       a seeded permutation cut into k runs of n/k (+1) samples.
 *   dirichlet: for each class c in turn, p ~ Dir(alpha, ..., alpha) over
 *              the k devices (normalised Gamma(alpha) draws); the class's
 *              samples, shuffled, are cut at floor(n_c * (p_1+...+p_j)).
 *   classes:   the classes in a seeded order pi starting at a seeded
 *              offset o; device j holds classes pi[(o + j*cpd + t) mod K]
 *              for t < cpd, and each class's samples, shuffled, are cut
 *              into equal runs among its holders.
 * Then every device left empty (in device order) takes one sample from
 * the device holding the most (the lowest-numbered on ties): the one of
 * highest sample index (or, if no device holds two, the left-out sample
 * of highest index). So each device has at least one sample; k <= n is
 * required. */
int data_partition(const dml_data *d, int k, enum data_partition how,
    double alpha, int cpd, uint64_t seed, int *dev);

/* ---- simulated labellers and attackers ---------------------------------- */

/*
 * The seeded streams of a simulation. Each random stream of dml-split and
 * dml-run is seeded with the run's seed xor a salt of its own, so no two
 * streams of one program draw the same numbers; they are defined here, once,
 * so no program keeps a private copy. The values are part of what a seed
 * means: changing one changes every split or result made with that seed.
 *   DATA_SALT_ATTRS    dml-split: the devices' attributes and consent
 *   DATA_SALT_ROLES    dml-split: which devices get a labelling profile or
 *                      an attack
 *   DATA_SALT_CONTROL  dml-split --control: which samples form the control
 *                      set (and the attributes of its folder's profile)
 *   DATA_SALT_LABEL    dml-run: the labeller's choices, item by item
 *   DATA_SALT_NOISE    dml-run: a noise attacker's update
 *   DATA_SALT_ASK      dml-run --control: where the control items asked
 *                      sit among the device's own items
 */
#define DATA_SALT_ATTRS   0x61747472732d7631ULL	/* "attrs-v1" */
#define DATA_SALT_ROLES   0x726f6c65732d7631ULL	/* "roles-v1" */
#define DATA_SALT_CONTROL 0x636f6e74726f6c31ULL	/* "control1" */
#define DATA_SALT_LABEL   0x6c6162656c6c6572ULL	/* "labeller" */
#define DATA_SALT_NOISE   0x61747461636b6e7aULL	/* "attackn" */
#define DATA_SALT_ASK     0x636f6e74726f6c73ULL	/* "controls" */

/* How a simulated device labels: careful (the true label), noisy (a
 * uniformly chosen other class with probability rate) or adversarial
 * (label flipping: y -> classes - 1 - y). A device folder's profile.json
 * names it in "label_profile" (dml-split --labelling). */
enum data_labeller_kind { LABEL_CAREFUL, LABEL_NOISY, LABEL_ADVERSARIAL };
typedef struct data_labeller {
	enum data_labeller_kind kind;
	double rate;
} data_labeller;

/* "careful", "noisy:P" (0 <= P <= 1), "adversarial". */
int data_labeller_parse(const char *s, data_labeller *l);
/* To and from a profile's {"kind":..., "rate":...} object; NULL reads as
 * careful. */
json_t *data_labeller_json(const data_labeller *l);
int data_labeller_from_json(const json_t *o, data_labeller *l);
/* The label the labeller gives an item of true class y. */
int32_t data_labeller_apply(const data_labeller *l, int32_t y, int classes,
    dml_rng *r);

/* What a malicious simulated device does to its update ("malicious" in
 * profile.json, dml-split --malicious): train on flipped labels, send the
 * negated update, the update times lambda, or Gaussian noise of standard
 * deviation sigma per parameter (of the mean update). */
enum data_attack_kind { ATTACK_NONE, ATTACK_LABELFLIP, ATTACK_SIGNFLIP,
	ATTACK_SCALE, ATTACK_NOISE };
typedef struct data_attack {
	enum data_attack_kind kind;
	double param;		/* lambda or sigma */
} data_attack;

/* "labelflip", "signflip", "scale:LAMBDA", "noise:SIGMA". */
int data_attack_parse(const char *s, data_attack *a);
json_t *data_attack_json(const data_attack *a);
int data_attack_from_json(const json_t *o, data_attack *a);
/* Apply a signflip, scale or noise attack to an update in sum form
 * (delta = n * mean update) of P values. */
void data_attack_update(const data_attack *a, double *delta, size_t P,
    double n, dml_rng *r);

#ifdef __cplusplus
}
#endif

#endif
