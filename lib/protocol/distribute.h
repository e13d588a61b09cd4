/*
 * distribute: the distributing node. Devices describe themselves in signed
 * dml.device records (consent, attributes, capacity, region); the node
 * admits them into a registry snapshot it signs as a whole (dml.registry:
 * a count and a BLAKE2b hash of the device lines), so that selecting the
 * devices for a job is one streaming pass that checks a hash instead of a
 * million signatures. The devices selected for a job (consent to its data
 * type, its criteria met) are spread over the federated nodes and each
 * gets a signed dml.assignment carrying the algorithm's content key
 * sealed to that device; the algorithm itself is encrypted once.
 *
 * Memory: admitting holds the whole registry (it rewrites it); selecting
 * holds only the selected devices.
 * Not for: running the job on the device (dml-run) or summing results
 * (aggregate, which takes the assigned keys from assign_keys_load).
 */
#ifndef DML_DISTRIBUTE_H
#define DML_DISTRIBUTE_H

#include <jansson.h>
#include <stdint.h>

#include "aggregate.h"
#include "job.h"
#include "record.h"
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The encrypted algorithm file begins with these 8 bytes. */
#define DIST_ALG_MAGIC "DMLALG1\n"

/* ---- dml.device ------------------------------------------------------ */

typedef struct dev_info {
	unsigned char pk[32];		/* the device ("from") */
	const json_t *consent;		/* array of data types (borrowed) */
	const json_t *attrs;		/* object (borrowed) */
	const char *region;		/* or NULL (borrowed) */
	const char *created;		/* "YYYY-MM-DDTHH:MM:SSZ" (borrowed) */
	long long capacity;
} dev_info;

/* A signed dml.device from a device folder's profile.json: consent and
 * attrs from the profile less the data types in `revoke` (NULL-ended, may
 * be NULL); region: `region`, else attrs.region, else none. */
json_t *dev_record(const dml_key *k, const json_t *profile,
    const char *region, long long capacity, const char *created,
    char *const *revoke);
/* Check a dml.device's fields (not its signature); d borrows from r. */
int dev_parse(const rec_in *in, const json_t *r, dev_info *d);
int dev_consents(const dev_info *d, const char *type);

/* ---- the registry ---------------------------------------------------- */

typedef struct reg_in reg_in;

/* Open a registry snapshot and check its dml.registry header (first line)
 * is signed by `registrar`. */
reg_in *reg_open(const char *path, const unsigned char registrar[32]);
/* Next device record (1, *r borrowed until the next call; d filled), 0 at
 * the end once the count and hash match the header, -1 dml_error
 * "file:line: what". */
int reg_next(reg_in *g, json_t **r, dev_info *d);
rec_in *reg_rec(reg_in *g);
/* Parse only the device lines whose text holds the string s in its JSON
 * form (e.g. a data type, as in a consent list): the others are hashed
 * and counted, not parsed (admit has checked every line, and the hash
 * proves the lines are the admitted ones). */
void reg_only(reg_in *g, const char *s);
/* Device lines read so far, parsed or not. */
long long reg_lines(const reg_in *g);
void reg_close(reg_in *g);

/* Admit device records: the registry `old` (NULL: none) and the records
 * of files[0..n), each verified; the newest record per device wins (an
 * older or conflicting one is refused). Writes the new snapshot, signed
 * by k and dated `created`, to `out` (NULL or "-": stdout) whole or not
 * at all. *added receives how many records changed the registry. */
int reg_admit(const char *old, const unsigned char registrar[32],
    char *const *files, int n, const dml_key *k, const char *created,
    const char *out, long *added);

/* ---- selecting and assigning ----------------------------------------- */

typedef struct dist_node {
	unsigned char pk[32];
	const char *name;		/* for -o DIR: DIR/name.ndjson */
	const char *region;		/* or NULL */
} dist_node;

typedef struct dist_opts {
	const dml_job *job;
	const dml_key *key;		/* the distributing node */
	const unsigned char *registrar;	/* who signed the snapshot */
	const dist_node *nodes;
	size_t nnodes;
	const char *model;		/* the job's model file, or NULL */
	long long max;			/* at most this many devices, 0: all */
	int seeded;			/* seed given: reproducible output */
	uint64_t seed;
} dist_opts;

typedef struct dist_out {
	json_t **assign;		/* signed dml.assignment records */
	size_t *node;			/* the node index of each */
	size_t n;
	long long read, eligible;	/* registry lines, eligible devices */
	unsigned char *alg;		/* the encrypted algorithm, or NULL */
	size_t alglen;
} dist_out;

/* Select, spread and seal. -1 dml_error "file:line: what" on bad input,
 * and when fewer devices are selected than the job's min_devices (the
 * job could not be reported). */
int dist_run(const dist_opts *o, const char *registry, dist_out *out);
void dist_out_free(dist_out *out);

/* A federated node given as "FILE" or "FILE=REGION" (a file whose name
 * holds '=' and exists is taken whole): its public key read from FILE,
 * its name the file's base name less ".pub". n->name and n->region are
 * malloc'd: free them with dist_node_free. -1 with dml_error "ARG: what". */
int dist_node_parse(dist_node *n, const char *arg);
void dist_node_free(dist_node *n);

/* Write d, every file whole or not at all. With dir (made if missing):
 * one file of assignments per node, DIR/NAME.ndjson (a file for every
 * node, empty when it got no device), and the encrypted algorithm to alg,
 * default DIR/algorithm.sealed; without, every assignment to stdout in
 * registry order and the algorithm to alg (required then if d has one).
 * -1 with dml_error (a system error) when a file cannot be written. */
int dist_write(const dist_out *d, const dist_node *nodes, size_t nnodes,
    const char *dir, const char *alg);

/* ---- the device's and the nodes' side ---------------------------------- */

/* Read one dml.assignment from `path`, verify it, and check it is for
 * this job and this device (k). `alg` (may be NULL) is a file: if it
 * starts with DIST_ALG_MAGIC it is decrypted with the sealed content key
 * and *model receives the plain model bytes (sodium_malloc'd, free with
 * sodium_free), else *model is NULL (a plain model, checked by the
 * caller). */
int assign_open(const char *path, const dml_job *j, const dml_key *k,
    const char *alg, unsigned char **model, size_t *mlen);
/* Add to s the devices of the verified dml.assignment records of `path`
 * for job j (signed by `distributor` unless it is NULL). -1 with
 * dml_error "file:line: what" on a record that is not one. */
int assign_keys_load(keyset *s, const char *path, const dml_job *j,
    const unsigned char *distributor);

#ifdef __cplusplus
}
#endif

#endif
