/*
 * sign: identities (Ed25519, with the X25519 key for sealed boxes derived
 * from it), record signatures and sealed boxes.
 *
 * A record's signature is Ed25519 over the 13 bytes "dml-record-v1" followed
 * by the 64-byte BLAKE2b-512 digest of the record's canonical form without
 * its "sig" field (see dml-records(5)). Hashing first lets a long record be
 * hashed while it is decoded, in one pass.
 *
 * Secret keys live in sodium_malloc'd memory and are wiped by key_free.
 * Not for: Paillier or secure aggregation keys (their own modules).
 */
#ifndef DML_SIGN_H
#define DML_SIGN_H

#include <jansson.h>
#include <sodium.h>

#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIG_DOMAIN "dml-record-v1"
#define SIG_DIGEST 64

typedef struct dml_key {
	unsigned char pk[32];		/* Ed25519 public key */
	unsigned char *sk;		/* 64 bytes, sodium_malloc, or NULL */
} dml_key;

/* Call once before anything else; -1 if libsodium cannot start. */
int dml_crypto_init(void);

/* New identity: from libsodium's randomness, or from a 32-byte seed. */
int key_generate(dml_key *k, const unsigned char *seed);
/* Secret key file: created exclusively, mode 0600. */
int key_save(const char *path, const dml_key *k);
int key_load(const char *path, dml_key *k);
void key_free(dml_key *k);
/* Public key records and hex forms. */
json_t *key_pubrecord(const unsigned char pk[32], const char *name);
void key_hex(const unsigned char *b, size_t n, char *out);
int key_parse_hex(const char *s, unsigned char pk[32]);
/* A public key from a hex string, a dml.pubkey record file or a secret
 * key file (its public half). */
int pubkey_load(const char *arg, unsigned char pk[32]);

/* Digest of a record's canonical form without "sig". */
int rec_digest(const json_t *r, const rec_in *src, unsigned char d[64]);
/* Set "from" to the key and "sig" to the signature. */
int rec_sign(json_t *r, const dml_key *k);
/* Check "sig" against "from"; 0 good, -1 with dml_error naming the input.
 * pk_out (may be NULL) receives the signer. */
int rec_verify(const json_t *r, const rec_in *src, unsigned char pk_out[32]);
/* Check a signature given the digest (for callers that hash elsewhere). */
int sig_check(const json_t *r, const rec_in *src, const unsigned char d[64],
    unsigned char pk_out[32]);

/* Sealed box to an Ed25519 identity's X25519 key. *ct malloc'd. */
int box_seal(const unsigned char pk[32], const void *m, size_t n,
    unsigned char **ct, size_t *ctlen);
/* Open a sealed box; *m is sodium_malloc'd (free with sodium_free). */
int box_open(const dml_key *k, const unsigned char *ct, size_t n,
    unsigned char **m, size_t *mlen);

#ifdef __cplusplus
}
#endif

#endif
