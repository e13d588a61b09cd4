/*
 * envelope: a record sealed to one recipient (dml.sealed).
 *
 * The record's canonical line is sealed with libsodium's sealed box to the
 * recipient's X25519 key (derived from its Ed25519 identity); the envelope
 * carries the job and round in the clear for routing and is signed by the
 * sender. Opening checks that a signed record inside comes from the
 * envelope's signer.
 *
 * The Paillier scheme transforms records instead of wrapping them: a
 * device's dml.result keeps its clear fields (job, round, n, weight, ...)
 * and its values become ciphertext tensors to the job's key, signed again
 * by the device; nodes add them without any secret (see aggregate). A
 * developer's one-layer model becomes a dml.paillier.model, its weights
 * encrypted to the customer's key, and a device evaluates it on its data
 * without seeing the weights: it sums its features, X_j = sum over its
 * samples of x_j, and computes the encrypted per-class score sums
 *     Enc(s_c) = prod over j of Enc(W_cj)^X_j * Enc(b_c)^n
 * (each model ciphertext packs one feature's weights for every class).
 * What that protects: the weights from the devices and the nodes, the
 * devices' data from the developer and the nodes. What it does not: the
 * customer learns the summed linear scores (logits, no softmax: that is
 * not linear), and the developer's record publishes integer bounds on
 * its weights (largest magnitude, largest per-class L1 norm) that devices
 * need to rule out overflow.
 */
#ifndef DML_ENVELOPE_H
#define DML_ENVELOPE_H

#include <jansson.h>

#include "job.h"
#include "model.h"
#include "paillier.h"
#include "record.h"
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* New signed dml.sealed holding r for `to`. */
json_t *envelope_seal(const json_t *r, const rec_in *in,
    const unsigned char to[32], const dml_key *k);
/* Verify (unless verify == 0) and open an envelope addressed to k;
 * *out receives the record inside. */
int envelope_open(const json_t *env, const rec_in *in, const dml_key *k,
    int verify, json_t **out);
/* The recipient's side of one record (dml-encrypt -d): a dml.sealed is
 * opened as envelope_open does; with the customer's Paillier secret key
 * sk and the job j, a Paillier dml.report of the job (sealed or not)
 * becomes the plain report (means, rendered) and a dml.aggregate with
 * ciphertext sums one with f64 sums, each signed with k, while any other
 * record passes unchanged. Without sk every record must be an envelope.
 * A new reference, or NULL with dml_error "file:line: what". */
json_t *envelope_unwrap(json_t *r, const rec_in *in, const dml_key *k,
    int verify, const dml_job *j, const paillier_sk *sk);

/* Paillier: the device's own signed dml.result of the job (signed by k)
 * with every clear value encrypted to the job's key in its layout, signed
 * by k. A value outside the layout's bound is refused, naming it. */
json_t *envelope_paillier(const json_t *r, const rec_in *in,
    const dml_job *j, const dml_key *k, const paillier_rng *rng);

/* An encrypted model (dml.paillier.model, unsigned) of a one-layer model:
 * weights with wfrac fractional bits packed one feature's classes to a
 * ciphertext, in slots of the layout's width; devices scale their
 * feature sums by 2^xfrac, so scores have wfrac + xfrac fractional bits. */
json_t *pmodel_encrypt(const dml_model *m, const paillier_pk *pk,
    const fxp_layout *l, int wfrac, int xfrac, const paillier_rng *rng);

typedef struct pmodel {
	long long features, classes;
	int wfrac, xfrac;
	long long w_l1, w_max, b_max;	/* integer bounds on the weights */
	size_t ctbytes;
	unsigned char *ct;		/* [features + 1] ciphertexts */
} pmodel;

/* Read an encrypted model file and check it against the job (its key,
 * layout and layers). -1 with dml_error "file:1: what". */
int pmodel_load(pmodel *pm, const char *path, const dml_job *j);
void pmodel_free(pmodel *pm);
/* The encrypted class-score sums of n samples x[n][features], as the
 * ciphertext tensor of the job's "score" value. -1 with dml_error when
 * the sums could exceed the job's per-summand bound (then the job needs
 * more int_bits). */
json_t *pmodel_scores(const pmodel *pm, const dml_job *j, const float *x,
    size_t n, const paillier_rng *rng);

/* ---- one record, as dml-encrypt treats it -------------------------- */

enum envelope_mode { ENVELOPE_SEAL, ENVELOPE_PAILLIER, ENVELOPE_OPEN };

/* What to do to each record, and with what (every pointer borrowed). */
typedef struct envelope_op {
	enum envelope_mode mode;
	const dml_key *k;	/* signs (SEAL, PAILLIER) or opens (OPEN) */
	unsigned char to[32];	/* SEAL: the recipient */
	int verify;		/* OPEN: check the signatures */
	const dml_job *job;	/* PAILLIER: the results' job; OPEN: sk's */
	const paillier_sk *sk;	/* OPEN: decrypt Paillier sums, or NULL */
	const paillier_pk *pk;	/* PAILLIER: a model's key, or NULL */
	const fxp_layout *layout;	/* with pk: the model's layout */
	int wfrac, xfrac;	/* with pk: as pmodel_encrypt */
} envelope_op;

/* SEAL: the record, checked, sealed to `to` and signed by k
 * (envelope_seal). PAILLIER: a dml.declined passes unchanged (nothing to
 * encrypt), a dml.result is encrypted to its job's key (envelope_paillier;
 * job required) and a dml.model becomes a dml.paillier.model to pk
 * (pmodel_encrypt; pk required) signed by k; other types are refused.
 * OPEN: envelope_unwrap. A new reference, or NULL with dml_error
 * "file:line: what". */
json_t *envelope_apply(const envelope_op *op, json_t *r, const rec_in *in);

#ifdef __cplusplus
}
#endif

#endif
