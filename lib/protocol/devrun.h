/*
 * devrun: what a device does with a job (dml-run(1)). It checks that the
 * device consented to the job's data type and meets its criteria, runs
 * the task on the device folder's data (train, predict, stats; or the
 * encrypted scores of a dml.paillier.model) and returns the record the
 * device signs: a dml.result of sums, counts and deltas only, never a row
 * of the data, or a dml.declined saying why it does not take part.
 *
 * For experiments a device folder's profile.json may name a simulated
 * labeller ("label_profile") and attack ("malicious"), and a crowd
 * trainer answers the job's control set: its items are asked adaptively
 * (weight.h), in blocks shuffled among the device's own items, and the
 * answers ride in the result ("control").
 *
 * Not for: the assignment and its sealed algorithm (distribute), signing
 * or encrypting the result (sign, envelope, secagg), or the task's
 * arithmetic itself (task).
 */
#ifndef DML_DEVRUN_H
#define DML_DEVRUN_H

#include <jansson.h>
#include <stdint.h>

#include "job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct devrun_opts {
	const char *device;	/* the device folder */
	const char *model;	/* the model file, NULL for a stats job */
	const char *control;	/* the job's control set folder, or NULL */
	long round;		/* the training round */
	int seeded;		/* seed given: else the run draws one */
	uint64_t seed;		/* mixed with the device key and the round */
	int bins;		/* stats: histogram bins per feature */
} devrun_opts;

/* Run job j on the device whose public key is pk. Returns the unsigned
 * record (new reference): a dml.result, or a dml.declined when the device
 * did not consent to the job's data type or misses a criterion (then
 * *declined is 1). NULL with dml_error (naming the folder or file) when
 * the device, its data, the model or the control set does not fit the
 * job, or cannot be read (a system error). */
json_t *devrun(const dml_job *j, const unsigned char pk[32],
    const devrun_opts *o, int *declined);

/* The seed of a device's training in a round: the given seed, the device
 * key and the round hashed together, so devices given one seed still
 * shuffle differently. */
uint64_t devrun_seed(uint64_t seed, const unsigned char pk[32], long round);

#ifdef __cplusplus
}
#endif

#endif
