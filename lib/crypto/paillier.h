/*
 * paillier: the Paillier cryptosystem on GMP, fast enough to encrypt a
 * model update, and its records (keys, ciphertext tensors).
 *
 * Keys. n = p q with p, q random primes of bits/2 bits (top two bits
 * set, p = q = 3 mod 4, p != q), g = n + 1. n of 2048 bits is rated at
 * 112-bit security, 3072 bits at 128 (NIST SP 800-57 part 1, table 2);
 * kappa below is that level. The public key also holds hs = h^n mod n^2
 * for h = -x^2 mod n, x a random unit: the fixed base of encryption.
 *
 * Encryption (the Damgard-Jurik-Nielsen variant):
 *     c = (1 + m n) * hs^r mod n^2,   r uniform in [0, 2^(2 kappa))
 * hs^r is an n-th residue as r^n is in textbook Paillier, so decryption
 * is unchanged; but the exponent is 2 kappa bits (224 or 256) instead of
 * |n|, and the base is fixed, so a table of its powers (built once per
 * key, about 1.2 MB at 2048 bits) turns hs^r into ceil(2 kappa / 6)
 * multiplications mod n^2 with no squaring. Table entries are picked
 * with mpn_sec_tabselect, which reads the whole row, so the cache does
 * not leak r. Security: semantic security rests on the decisional
 * composite residuosity assumption together with the short-exponent
 * assumption that hs^r with r of 2 kappa bits cannot be told from hs^r
 * with r uniform in [0, ord(hs)) (Damgard, Jurik and Nielsen, "A
 * generalization of Paillier's public-key system with applications to
 * electronic voting", 2010; short exponents as in Koshiba and Kurosawa,
 * 2004). The best known attack on a 2 kappa-bit exponent, Pollard's
 * lambda method, takes about 2^kappa group operations.
 *
 * Decryption is by the Chinese remainder theorem: m_p = L_p(c^(p-1) mod
 * p^2) h_p mod p with L_p(x) = (x - 1) / p and h_p = (-q)^-1 mod p, the
 * same mod q, then m = m_q + q ((m_p - m_q) q^-1 mod p). The secret
 * exponents go through mpz_powm_sec. A ciphertext must be in [1, n^2)
 * and prime to n, else it is refused.
 *
 * Secret keys: the struct lives in sodium_malloc memory; its numbers'
 * limbs are GMP's. paillier_secure_memory() makes every GMP block be
 * wiped when GMP frees or moves it, and the secret key file is read and
 * written through sodium_malloc buffers. GMP's temporaries on the stack
 * (inside mpz_powm_sec and the division routines) are not wiped.
 *
 * Homomorphic operations need only the public key: Enc(a) Enc(b) =
 * Enc(a + b), Enc(a)^k = Enc(k a), all mod n.
 *
 * Ciphertext tensors travel in records as
 *   {"dtype":"paillier","kid":K,"shape":[...],"slots":k,"width":w,
 *    "frac_bits":f,"summands":s,"data":"<base64>"}
 * where the values, flattened row-major, are packed k to a plaintext
 * (fixedpoint.h) and the ciphertexts are concatenated, each as exactly
 * ctbytes = 2 bits / 8 bytes, big-endian; dml-records(5) has the rest.
 *
 * Not thread-safe: one thread per key (the table is built lazily).
 * Not for: choosing the fixed-point layout (the job does), signing.
 */
#ifndef DML_PAILLIER_H
#define DML_PAILLIER_H

#include <gmp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fixedpoint.h"
#include "record.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAILLIER_BITS 2048	/* the default modulus size */
#define PAILLIER_KIDLEN 64	/* hex digits of a key id */

/* A source of random bytes. NULL wherever one is taken: libsodium's
 * randombytes_buf. */
typedef struct paillier_rng {
	void (*fill)(void *ctx, unsigned char *buf, size_t n);
	void *ctx;
} paillier_rng;

/* A deterministic generator for tests and seeded demo keys only: the
 * i-th request (i = 0, 1, ...) for len bytes returns libsodium's
 * randombytes_buf_deterministic(len, K_i), K_i = BLAKE2b-256 keyed with
 * the 32-byte seed over i as 8 little-endian bytes. */
typedef struct paillier_drbg {
	unsigned char key[32];
	uint64_t ctr;
	paillier_rng rng;	/* points at this generator */
} paillier_drbg;

void paillier_drbg_init(paillier_drbg *d, const unsigned char seed[32]);

typedef struct paillier_fb paillier_fb;

typedef struct paillier_pk {
	int bits;		/* of n: 2048 or 3072 */
	int kappa;		/* security level, bits: 112 or 128 */
	int rbits;		/* encryption exponent length: 2 kappa */
	size_t ctbytes;		/* a ciphertext on the wire: 2 bits / 8 */
	mpz_t n, n2, hs;
	char kid[PAILLIER_KIDLEN + 1];	/* hex SHA-256 of n in decimal */
	paillier_fb *fb;	/* fixed-base table, built on first use */
} paillier_pk;

typedef struct paillier_sk {
	paillier_pk pk;
	mpz_t p, q, p2, q2, pm1, qm1, hp, hq, qinv;
} paillier_sk;

/* The security level of a modulus size, or -1 if not 2048 or 3072. */
int paillier_kappa(int bits);

/* Install GMP memory functions that wipe every block GMP frees or
 * reallocates. Call before handling secret keys, once, early. */
void paillier_secure_memory(void);

/* ---- keys ------------------------------------------------------------ */

/* A new key pair of `bits` (2048 or 3072). NULL with dml_error. Free with
 * paillier_sk_free. */
paillier_sk *paillier_keygen(int bits, const paillier_rng *rng);
void paillier_sk_free(paillier_sk *sk);
/* The secret key file (dml.paillier.secretkey), created exclusively with
 * mode 0600. */
int paillier_sk_save(const char *path, const paillier_sk *sk);
/* Read and check a secret key file (p, q prime, n = p q, hs an n-th
 * residue, kid). NULL with dml_error "file:1: what". */
paillier_sk *paillier_sk_load(const char *path);

/* Set up a public key from n and hs; -1 with dml_error if they are not a
 * well-formed key. pk is initialised either way (clear it). */
int paillier_pk_init(paillier_pk *pk, const mpz_t n, const mpz_t hs);
void paillier_pk_clear(paillier_pk *pk);
/* Parse {"bits","n","hs","kid"} (a dml.paillier.pubkey record, or the
 * key object inside a job): decimal strings without leading zeros, kid
 * matching n. pk is initialised either way. */
int paillier_pk_from_json(paillier_pk *pk, const rec_in *in, const json_t *o);
/* {"bits","hs","kid","n"} and the dml.paillier.pubkey record. */
json_t *paillier_pk_json(const paillier_pk *pk);
json_t *paillier_pk_record(const paillier_pk *pk, const char *name);
/* A public key from a dml.paillier.pubkey file or a secret key file. */
int paillier_pk_load(paillier_pk *pk, const char *path);

/* ---- the cryptosystem -------------------------------------------------- */

/* c = Enc(m) for 0 <= m < n, with fresh r. */
void paillier_encrypt(const paillier_pk *pk, mpz_t c, const mpz_t m,
    const paillier_rng *rng);
/* c = (1 + m n) hs^r mod n^2 for a given r >= 0 (known-answer tests). */
void paillier_encrypt_r(const paillier_pk *pk, mpz_t c, const mpz_t m,
    const mpz_t r);
/* m = Dec(c). -1 with dml_error if c is not in [1, n^2) or not prime to
 * n. */
int paillier_decrypt(const paillier_sk *sk, mpz_t m, const mpz_t c);
/* Is c a canonical ciphertext: 0 < c < n^2 and gcd(c, n) = 1? */
int paillier_valid(const paillier_pk *pk, const mpz_t c);
/* c = a b mod n^2: Enc(x + y). */
void paillier_add(const paillier_pk *pk, mpz_t c, const mpz_t a,
    const mpz_t b);
/* c = a^k mod n^2: Enc(k x). k may be negative (through the inverse of a,
 * which a valid ciphertext has). */
void paillier_scale(const paillier_pk *pk, mpz_t c, const mpz_t a,
    const mpz_t k);
/* c = c hs^r mod n^2: the same plaintext, fresh randomness. */
void paillier_rerandomize(const paillier_pk *pk, mpz_t c,
    const paillier_rng *rng);
/* Fixed-width big-endian wire form (ctbytes bytes). Import refuses
 * c >= n^2 (returns -1, no dml_error). */
void paillier_ct_export(const paillier_pk *pk, unsigned char *b,
    const mpz_t c);
int paillier_ct_import(const paillier_pk *pk, mpz_t c, const unsigned char *b);

/* ---- ciphertext tensors ------------------------------------------------ */

typedef struct ptensor {
	int ndim;
	int64_t shape[TENSOR_MAXDIM];
	size_t n;		/* values */
	int slots, width, frac;
	long long summands;
	char kid[PAILLIER_KIDLEN + 1];
	size_t nct;		/* ciphertexts: ceil(n / slots) */
	const char *b64;	/* the data, located, not decoded */
	size_t b64len;
} ptensor;

/* Does the tensor object say "dtype":"paillier"? */
int ptensor_is(const json_t *t);
/* Parse and check a ciphertext tensor's header against the key: the kid
 * (a tensor for another key is refused), 1 <= slots, slots * width <=
 * bits - 2, 2 <= width <= 63, 0 <= frac_bits <= 126, summands >= 1 and
 * the data's length. Errors name the field ("file:line: tensor \"x\":
 * what"). */
int ptensor_header(const rec_in *in, const json_t *t, const char *field,
    const paillier_pk *pk, ptensor *h);
/* Decode the data into nct * ctbytes bytes at buf; -1 "bad base64". */
int ptensor_bytes(const ptensor *h, const paillier_pk *pk, unsigned char *buf);
/* A tensor from nct ciphertexts. */
json_t *ptensor_json(const paillier_pk *pk, const ptensor *h, mpz_t *ct);
/* Encrypt n values (the shape's product) in the layout: every value must
 * encode within fxp_max_value(l), else -1 with dml_error naming
 * "element i". slots = l->slots, summands 1. */
json_t *ptensor_encrypt(const paillier_pk *pk, const fxp_layout *l,
    const double *x, int ndim, const int64_t *shape,
    const paillier_rng *rng);
/* Decrypt a checked header into out[h->n] (value = slot / 2^frac). A
 * ciphertext that is not canonical, a plaintext with something above its
 * last slot or in an unused slot, and (bound > 0) a slot whose magnitude
 * exceeds summands * bound are refused: the signs of a wrong key, of an
 * overflow, or of tampering. */
int ptensor_decrypt(const paillier_sk *sk, const rec_in *in,
    const char *field, const ptensor *h, int64_t bound, double *out);

#ifdef __cplusplus
}
#endif

#endif
