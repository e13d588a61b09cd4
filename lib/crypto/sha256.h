/*
 * sha256: SHA-256 of a buffer, fast.
 *
 * On x86 CPUs with the SHA extensions (SHA-NI) the compression runs on
 * them, about four times libsodium's portable code; elsewhere, or when
 * told to, it is libsodium's crypto_hash_sha256. The choice is made at run
 * time, per call, so one binary serves every machine. Thread-safe.
 *
 * Not for: keyed hashing or signatures (see sign); CIDs (see cid, which
 * uses this).
 */
#ifndef DML_SHA256_H
#define DML_SHA256_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out = SHA-256(p[0..n)). */
void sha256(unsigned char out[32], const void *p, size_t n);

/* "sha-ni" or "libsodium": what sha256() uses on this machine now. */
const char *sha256_impl(void);

/* Tests: on = 0 forces libsodium, 1 restores the automatic choice.
 * Returns the previous setting. Not to be called while other threads hash. */
int sha256_allow_ni(int on);

#ifdef __cplusplus
}
#endif

#endif
