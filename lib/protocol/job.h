/*
 * job: the customer's signed contract (dml.job) and what other records
 * need of it: its id, its task, the shape of the values devices return,
 * its criteria on device attributes and its reward terms.
 *
 * The job id is the CIDv1 (raw, sha2-256) of the job's line: its canonical
 * bytes followed by "\n", which is what `ipfs add --cid-version=1
 * --raw-leaves` gives for a file holding the job. A job is at most one IPFS
 * chunk (256 KiB), so its id is always a raw-leaf CID.
 *
 * A job is written here too (job_build): the customer's terms in, the
 * unsigned record out; the customer signs it (rec_sign) and its id follows
 * from the signed line (job_id).
 *
 * Not for: reading options (dml-job), the marketplace's license rules
 * (market; the caller checks a license and names it with job_license_set)
 * or running a job (devrun).
 */
#ifndef DML_JOB_H
#define DML_JOB_H

#include <jansson.h>

#include "cid.h"
#include "fixedpoint.h"
#include "paillier.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

enum job_task { TASK_PREDICT, TASK_STATS, TASK_TRAIN };

/* A job's "encryption": results are Paillier ciphertext tensors to the
 * customer's key, in one fixed-point layout (see paillier, fixedpoint).
 * An encrypted model (algorithm.encrypted) is a dml.paillier.model whose
 * device results are encrypted class scores of score_frac fractional
 * bits. */
typedef struct job_enc {
	int on;
	paillier_pk pk;			/* the customer's public key */
	fxp_layout layout;		/* of every result value */
	int model;			/* the algorithm is encrypted */
	int score_frac;			/* fractional bits of its scores */
} job_enc;

/* A job's "privacy" (see dp, dml-privacy(1)): each device's update is
 * clipped to L2 norm `clip` and the released sum carries Gaussian noise of
 * sd noise * clip, added by the node (central) or in shares by the
 * devices (distributed); the accountant stops at `epsilon` for `delta`,
 * devices being sampled at `sample_rate` per round. */
typedef struct job_dp {
	int on;
	int distributed;		/* noise shares on the devices */
	double clip, noise, epsilon, delta, sample_rate;
} job_dp;

typedef struct dml_job {
	json_t *rec;			/* the whole record (owned) */
	char id[CID_MAXSTR];		/* content id */
	enum job_task task;
	const char *data;		/* data type the job needs */
	const char *model;		/* algorithm's model CID */
	long long min_devices, min_samples, rounds;
	long long params;		/* values per train delta */
	long long classes, features;	/* output classes, input features */
	double max_delta;		/* bound on |mean delta| per parameter */
	unsigned char customer[32];
	int has_developer;		/* algorithm.developer given */
	unsigned char developer[32];	/* who is paid developer_fee */
	job_enc enc;			/* Paillier encryption, if on */
	const char *control_set;	/* "control.set": the CID of the control
					   set's items file (dml-split
					   --control), or NULL */
	double min_accuracy;		/* "control.min_accuracy", 0 if absent */
	long long control_block;	/* "control.block": items per block of
					   the adaptive test (10) */
	long long control_max;		/* "control.max": most items asked (50) */
	double control_alpha;		/* "control.alpha": the adaptive test's
					   overall level (0.05) */
	double momentum, weight_decay;	/* "train": local SGD, 0 if absent */
	job_dp dp;			/* "privacy": differential privacy */
} dml_job;

const char *task_name(enum job_task t);
int task_parse(const char *s, enum job_task *t);

/* Read, validate and verify a job file (one dml.job record). */
int job_load(const char *path, dml_job *j);
/* Validate and verify a job record already read (takes a reference). */
int job_from_record(const rec_in *in, json_t *r, dml_job *j);
/* The same without checking the signature, for a caller that then
 * requires an escrow of the job's id made by its customer on the ledger:
 * the id is the hash of the canonical record, and the escrow entry,
 * signed by the customer, names it, so the customer's commitment to these
 * exact bytes is proven there (dml-auction). The caller must refuse the job
 * when no such escrow exists. */
int job_from_escrowed(const rec_in *in, json_t *r, dml_job *j);
void job_free(dml_job *j);
/* The id of a job record (canonical line + newline). */
int job_id(const json_t *r, char out[CID_MAXSTR]);

/* The CID of the license the job names (a listed algorithm), or NULL;
 * *single (may be NULL) says whether it is a single-use license. */
const char *job_license(const dml_job *j, int *single);

/* Does a device with these attributes meet the job's criteria? 1 yes,
 * 0 no (*why says which criterion failed), -1 malformed criteria. */
int job_criteria_match(const dml_job *j, const json_t *attrs,
    const char **why);
/* Validate a criteria array (used by dml-job before signing). */
int job_criteria_check(const json_t *criteria);
/* Parse an "encryption" object into e (used by dml-job before signing). */
int job_enc_parse(const rec_in *in, const json_t *o, job_enc *e);
/* Parse a "privacy" object into d (used by dml-job before signing). */
int job_dp_parse(const rec_in *in, const json_t *o, job_dp *d);

/* ---- writing a job ------------------------------------------------------ */

/* The node roles paid a fee, in the order of job_spec.node_fees. */
extern const char *const job_node_roles[4];

/* A customer's terms: the fields of a dml.job before it is signed. Every
 * pointer is borrowed; job_spec_init sets the defaults named here. */
typedef struct job_spec {
	enum job_task task;
	const char *data;		/* the data type devices consented to */
	const char *model;		/* the algorithm's model file (a dml.model,
					   or a dml.paillier.model encrypted to
					   `paillier`), NULL for stats */
	const unsigned char *developer;	/* 32 bytes, or NULL */
	const json_t *criteria;		/* array of criteria (job_criterion),
					   NULL or empty: none */
	long long min_devices;		/* 10 */
	long long min_samples;		/* 1 */
	long long rounds;		/* 1 */
	long long created;		/* seconds since the epoch */
	long long deadline;		/* 0: created + 7 days */
	const char *nonce;		/* NULL: 16 random bytes in hex */
	long long epochs, batch;	/* train: 1, 32 */
	double lr;			/* train: 0.05 */
	double momentum, weight_decay;	/* train: 0, 0 (written when > 0) */
	long long features, classes;	/* stats: both needed */
	double max_delta;		/* 10 */
	const char *control_set;	/* the control set's CID, or NULL */
	double min_accuracy;		/* < 0: not written */
	long long control_block;	/* 0: not written */
	long long control_max;		/* 0: not written */
	double control_alpha;		/* 0: not written */
	const paillier_pk *paillier;	/* results encrypted to it, or NULL */
	int frac_bits, int_bits;	/* its fixed-point layout: 14, 14 */
	long long max_summands;		/* 256 */
	const job_dp *dp;		/* differential privacy, or NULL */
	const char *budget;		/* token amounts: "0" */
	const char *per_device;		/* "0" */
	const char *developer_fee;	/* "0" */
	const char *node_fees[4];	/* by job_node_roles: "0" */
	const char *trainer_pool;	/* NULL: none */
	unsigned char customer[32];	/* who signs the job */
} job_spec;

void job_spec_init(job_spec *s);
/* A node fee written "ROLE=AMOUNT" (one role) or "AMOUNT" (every role)
 * into s->node_fees (pointing into arg); -1 with dml_error. */
int job_spec_node_fee(job_spec *s, const char *arg);
/* The rules a job's terms must meet before anything is read: a predict or
 * train job has a model (and only a model has a developer), a stats job
 * its shapes; privacy terms go with train jobs and are valid (encrypted
 * jobs take distributed noise only); control test terms need a control
 * set; the budget covers every fee and min_devices devices; the deadline
 * is after the creation; the fixed-point layout fits the Paillier key.
 * -1 with dml_error (messages name dml-job's options). */
int job_spec_check(const job_spec *s);
/* The unsigned dml.job record (new reference), the model file read for
 * its CID and shape; NULL with dml_error (a system error when the model
 * file cannot be read). Call job_spec_check first. */
json_t *job_build(const job_spec *s);
/* A criterion written "ATTR OP VALUE" (OP one of = != < <= > >= in !in,
 * or eq ne lt le gt ge nin; in takes a,b,c) as a criteria entry; NULL
 * with dml_error when it is not one. */
json_t *job_criterion(const char *text);
/* Name the license of a listed algorithm in an unsigned job record
 * (the caller checked it: market_license_allows): "license" {id, kind}
 * and the algorithm's developer, who is paid the developer fee. -1 with
 * dml_error if the record names another developer. */
int job_license_set(json_t *r, const char *id, const char *kind,
    const char *developer);
#ifdef __cplusplus
}
#endif

#endif
