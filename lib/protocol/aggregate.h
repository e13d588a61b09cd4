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
 * Not for: signing or writing the output (the caller does), the
 * min-devices rule (report).
 */
#ifndef DML_AGGREGATE_H
#define DML_AGGREGATE_H

#include <jansson.h>
#include <stddef.h>

#include "job.h"
#include "keyset.h"
#include "record.h"
#include "robust.h"

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

/* agg_feed's results besides 0. */
enum { AGG_EREJECT = -1, AGG_ESYSTEM = -2 };

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
/* Inputs summed so far (results and aggregates). */
long long agg_accepted(const dml_agg *a);
/* Inputs rejected so far, by reason (input aggregates' counts included
 * once they are summed). */
const long long *agg_rejected(const dml_agg *a);
/* The unsigned dml.aggregate record (new reference); frees the decode
 * buffers first. NULL + dml_error "no results accepted" if none was. */
json_t *agg_record(dml_agg *a);
void agg_free(dml_agg *a);

#ifdef __cplusplus
}
#endif

#endif
