/*
 * merkle: the Merkle tree over a job's payout list that the JobEscrow
 * contract checks claims against (contrib/ethereum/contracts). One root
 * settles a job whatever its number of payees; each payee claims its leaf
 * with a proof of about log2(n) hashes.
 *
 *   leaf i = keccak256(abi.encode(uint256 i, address payee, uint256 amount,
 *                                 bytes32 role))   (128 bytes hashed)
 *   node   = keccak256(min(a, b) || max(a, b))      (64 bytes hashed)
 *
 * Pairs are sorted, so a proof needs no left/right bits; a node without a
 * sibling moves up a level unchanged. Leaves hash 128 bytes and nodes 64,
 * so no node can pass for a leaf. The index in the leaf makes every leaf
 * distinct and lets the contract keep a claimed bitmap.
 *
 * Not for: computing payouts (settle) or sending claims (eth).
 */
#ifndef DML_MERKLE_H
#define DML_MERKLE_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* role as bytes32: its ASCII left-aligned, zero-padded (Solidity's
 * bytes32("device")); -1 if longer than 32 bytes. */
int merkle_role(const char *role, unsigned char out[32]);
void merkle_leaf(uint64_t index, const unsigned char payee[20],
    const mpz_t amount, const unsigned char role[32], unsigned char out[32]);

/* A tree over n leaves (copied); levels kept for proofs. */
typedef struct merkle_tree {
	unsigned char (**lv)[32];
	size_t *len, nlv;
} merkle_tree;

/* n = 0 gives the root 0x00..00 (nothing to claim). */
void merkle_build(merkle_tree *t, const unsigned char (*leaves)[32], size_t n);
void merkle_root(const merkle_tree *t, unsigned char out[32]);
/* The proof of leaf i: *np hashes into proof (room for 64). -1 if i is out
 * of range. */
int merkle_proof(const merkle_tree *t, size_t i, unsigned char (*proof)[32],
    size_t *np);
void merkle_free(merkle_tree *t);
/* Does the proof take leaf to root? */
int merkle_verify(const unsigned char leaf[32],
    const unsigned char (*proof)[32], size_t np, const unsigned char root[32]);

#ifdef __cplusplus
}
#endif

#endif
