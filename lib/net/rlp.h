/*
 * rlp: Ethereum's Recursive Length Prefix encoding, the serialisation of
 * signed transactions. Only the encoder: a client builds transactions,
 * it never has to parse one.
 *
 * Not for: ABI encoding of contract calls (see eth).
 */
#ifndef DML_RLP_H
#define DML_RLP_H

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growing output buffer; owns p. */
typedef struct rlp_buf {
	unsigned char *p;
	size_t n, cap;
} rlp_buf;

void rlp_init(rlp_buf *b);
void rlp_free(rlp_buf *b);
/* A byte string item. */
void rlp_bytes(rlp_buf *b, const void *p, size_t n);
/* An unsigned integer: big-endian, no leading zeros (0 is the empty
 * string). */
void rlp_u64(rlp_buf *b, uint64_t v);
void rlp_mpz(rlp_buf *b, const mpz_t v);	/* v >= 0 */
/* A list: note the mark, encode the items, then end it (the header is
 * inserted in front of the items). Lists nest. */
size_t rlp_list_begin(const rlp_buf *b);
void rlp_list_end(rlp_buf *b, size_t mark);
/* Append raw bytes (a prefix such as a transaction type). */
void rlp_raw(rlp_buf *b, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
