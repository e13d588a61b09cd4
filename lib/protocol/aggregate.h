/*
 * aggregate: the federated node's sum of device results (and the report
 * node's sum of aggregates).
 *
 * Records are read as a stream: every signature is checked (its digest is
 * computed on a second thread while the values are decoded, see
 * pipeline), results for another job or round and second results from a
 * device are rejected, the rest is validated against the job and summed
 * in f64 in input order. Memory is one model's worth of numbers (the sums
 * and two decode buffers) and a set of 32-byte device keys, whatever the
 * number of records. An aggregate holds sums, not means, so aggregates
 * of aggregates compose.
 *
 * For a job with Paillier encryption the values are ciphertext tensors and
 * the sums are their products mod n^2; the summands each slot can hold
 * are counted and an input that would exceed them stops the run.
 *
 * A robust rule (median, trimmed mean, Krum, multi-Krum; see robust.h)
 * keeps every input's mean update, sum / weight, in memory: O(inputs x
 * params) doubles. The output stays a sum: weight x the rule's result, so
 * dml-refine and aggregates of aggregates work unchanged. Robust rules
 * apply to plaintext train jobs only.
 *
 * Not for: the min-devices rule (report). The output is signed and
 * written by the caller, or by agg_run_files, a node's whole run.
 */
#ifndef DML_AGGREGATE_H
#define DML_AGGREGATE_H

#include <jansson.h>
#include <stddef.h>

#include "job.h"
#include "keyset.h"
#include "record.h"
#include "robust.h"
#include "sign.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- plaintext scale factors ------------------------------------------ */

/* Positive integer factors by device key: a weighted sum multiplies each
 * listed device's values by its factor (Paillier ciphertexts are raised to
 * it), so weights other than the sample count need no decryption. */
typedef struct agg_scales agg_scales;

/* Read "KEY FACTOR" lines (64 hex digits, an integer in [1, 2^20]) or
 * dml.weight records (dml-weight -w: a kept trainer's "device" and
 * "factor"; excluded trainers are passed over); blank lines and '#'
 * comments skipped. NULL + dml_error "file:line". */
agg_scales *agg_scales_load(const char *path);
void agg_scales_free(agg_scales *s);
/* The factor of a device, 1 when it is not listed. */
long long agg_scale_of(const agg_scales *s, const unsigned char k[32]);

/* ---- aggregation ---------------------------------------------------- */

/* Why an input was not summed: the "rejected" counters, in the order of
 * dml.aggregate's "rejected" object. */
enum agg_reject {
	AGG_DUPLICATE, AGG_FORGED, AGG_INVALID, AGG_MALFORMED, AGG_REPLAY,
	AGG_WRONG_JOB, AGG_NREJECT
};
extern const char *const agg_reject_name[AGG_NREJECT];

/* agg_feed's results besides 0: the library's codes, so dml_exit_of maps
 * them to the exit status. */
enum { AGG_EREJECT = DML_REJECT, AGG_ESYSTEM = DML_ESYS };

typedef struct agg_opts {
	long long round;	/* -1: the round of the first authentic input */
	int keep_going;		/* skip and count bad inputs, do not stop */
	int no_verify;		/* trust signatures without checking them */
	const keyset *devices;	/* results only from these, or NULL */
	const keyset *nodes;	/* aggregates only from these, or NULL */
	const agg_scales *scales;	/* results times a factor, or NULL */
	const robust_rule *rule;	/* NULL or mean: the streaming sum */
} agg_opts;

/* Told of every input that is not summed. `msg` is "file:line: what".
 * For AGG_INVALID `rerun` is the unsigned dml.rerun request for the
 * result's signer (borrowed: sign and write it, do not keep it); other
 * reasons reach the callback only with keep_going (strict mode stops).
 * Return -1 to stop the run (agg_feed then returns AGG_ESYSTEM). */
typedef int (*agg_event_fn)(void *ctx, enum agg_reject why, const char *msg,
    json_t *rerun);

typedef struct dml_agg dml_agg;

/* Whether the job admits the rule: 0, or -1 + dml_error (a robust rule
 * on an encrypted or non-train job). */
int agg_rule_check(const dml_job *job, const robust_rule *rule);

/* The job is borrowed and must outlive the aggregation. */
dml_agg *agg_new(const dml_job *job, const agg_opts *o, agg_event_fn fn,
    void *ctx);
/* Read every record of `in` (dml.rerun records, a node's own output, are
 * passed over, so a node's output can be summed as it is). 0 when the
 * input is consumed; AGG_EREJECT at
 * the first rejected input in strict mode (dml_error "file:line: what");
 * AGG_ESYSTEM on a read error or when the callback stops the run. */
int agg_feed(dml_agg *a, rec_in *in);
/* agg_feed over each file in turn (nfiles 0, or a file "-": standard
 * input). A file that cannot be opened stops the run: AGG_ESYSTEM, with
 * the system error (dml_error_sys). */
int agg_feed_files(dml_agg *a, int nfiles, char *const *files);
/* A node's whole run, as dml-aggregate makes it: agg_feed_files, then to
 * `out` (NULL or "-": standard output; a file is written whole or not at
 * all) a dml.rerun signed with k for each result failing validation and
 * the signed dml.aggregate last. `warn`, if not NULL, is told of every
 * input not summed ("file:line: what"). 0, AGG_EREJECT (an input
 * rejected in strict mode, or none accepted: "no results accepted") or
 * AGG_ESYSTEM, with dml_error; on failure nothing is written. */
int agg_run_files(const dml_job *job, const agg_opts *o, const dml_key *k,
    const char *out, void (*warn)(const char *msg), int nfiles,
    char *const *files);
/* Inputs summed so far (results and aggregates). */
long long agg_accepted(const dml_agg *a);
/* Inputs rejected so far, by reason (input aggregates' counts included
 * once they are summed). */
const long long *agg_rejected(const dml_agg *a);
/* The unsigned dml.aggregate record (new reference); frees the decode
 * buffers first. NULL + dml_error "no results accepted" if none was. */
json_t *agg_record(dml_agg *a);
void agg_free(dml_agg *a);

/* ---- intake alone ------------------------------------------------------ */

/* The checks agg_feed makes of an input before its content, for a program
 * that keeps the results instead of summing them (dml-weight): the same
 * rules, counters and messages, one record at a time, the signature
 * checked on the calling thread. */
typedef struct agg_intake agg_intake;

/* o's round, no_verify and devices apply (the rest is for summing). The
 * job is borrowed and must outlive the intake. */
agg_intake *agg_intake_new(const dml_job *job, const agg_opts *o);
/* Take one dml.result, the current record of `in`: of the job, of the
 * round (o->round, else the first taken result's), signed by its "from"
 * (unless no_verify), from an allowed device (o->devices) and the first
 * from its device, which it then takes (a second result from it is a
 * duplicate). 0 with the device's key in from; -1 with dml_error
 * "file:line: what" and *why the counter it falls under. The values are
 * not looked at: validation is agg_feed's. */
int agg_intake_result(agg_intake *t, const rec_in *in, const json_t *r,
    unsigned char from[32], enum agg_reject *why);
/* The round: o->round, or the first taken result's; -1 before. */
long long agg_intake_round(const agg_intake *t);
void agg_intake_free(agg_intake *t);
#ifdef __cplusplus
}
#endif

#endif
