/*
 * envelope: a record sealed to one recipient (dml.sealed).
 *
 * The record's canonical line is sealed with libsodium's sealed box to the
 * recipient's X25519 key (derived from its Ed25519 identity); the envelope
 * carries the job and round in the clear for routing and is signed by the
 * sender. Opening checks that a signed record inside comes from the
 * envelope's signer. Homomorphic schemes (paillier, secagg) transform
 * tensors instead and register beside "box".
 */
#ifndef DML_ENVELOPE_H
#define DML_ENVELOPE_H

#include <jansson.h>

#include "record.h"
#include "sign.h"

/* New signed dml.sealed holding r for `to`. */
json_t *envelope_seal(const json_t *r, const rec_in *in,
    const unsigned char to[32], const dml_key *k);
/* Verify (unless verify == 0) and open an envelope addressed to k;
 * *out receives the record inside. */
int envelope_open(const json_t *env, const rec_in *in, const dml_key *k,
    int verify, json_t **out);

#endif
