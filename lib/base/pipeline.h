/*
 * pipeline: record digests computed on a second thread.
 *
 * Checking a record's signature costs one BLAKE2b pass over its canonical
 * form, the slowest step of reading a long record. pipeline_submit copies
 * the canonical form (without "sig") into one of PIPELINE_SLOTS slots and a
 * worker thread hashes it while the caller decodes the record and reads
 * the next one: the copy is what frees the reader's line buffer for the
 * next line before the hash is done. Digests are those of rec_digest.
 *
 * One caller thread. Memory: one copy of the canonical form per slot.
 * If no thread can be started the digest is computed in pipeline_submit.
 * Not for: checking the signature itself (sign's sig_check does that).
 */
#ifndef DML_PIPELINE_H
#define DML_PIPELINE_H

#include <jansson.h>

#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PIPELINE_SLOTS 2

typedef struct pipeline pipeline;

/* NULL never: allocation failure exits like every x-allocator. */
pipeline *pipeline_new(void);
/* Start hashing r (its canonical form without "sig"; src resolves the
 * zero-copy strings) in `slot`. A previous digest left in the slot is
 * discarded. -1 with dml_error if r cannot be put in canonical form. */
int pipeline_submit(pipeline *p, int slot, const json_t *r,
    const rec_in *src);
/* Wait for the digest of the slot's record; the slot is free again after.
 * -1 if nothing was submitted there. */
int pipeline_digest(pipeline *p, int slot, unsigned char d[64]);
/* Stops the worker; waits for a hash in progress. */
void pipeline_free(pipeline *p);

#ifdef __cplusplus
}
#endif

#endif
