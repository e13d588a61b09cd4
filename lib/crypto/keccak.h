/*
 * keccak: Keccak-256 as Ethereum uses it (the original Keccak padding
 * 0x01, not SHA3-256's 0x06): addresses, function selectors, event
 * topics, transaction hashes and Merkle nodes.
 *
 * Not for: SHA3-256 (a different padding, a different digest).
 */
#ifndef DML_KECCAK_H
#define DML_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An incremental hasher. */
typedef struct keccak_ctx {
	uint64_t s[25];
	size_t pos;		/* bytes absorbed into the current block */
} keccak_ctx;

void keccak_init(keccak_ctx *c);
void keccak_update(keccak_ctx *c, const void *p, size_t n);
void keccak_final(keccak_ctx *c, unsigned char out[32]);

/* out = Keccak-256(p[0..n)). */
void keccak256(unsigned char out[32], const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
