/*
 * eth: an Ethereum client small enough to read: secp256k1 keys and their
 * addresses (EIP-55), EIP-1559 transactions signed locally (RLP,
 * Keccak-256, libsecp256k1, EIP-155 chain ids), the contract ABI for
 * static words, strings and bytes32 arrays, and JSON-RPC over libcurl with
 * the send-and-wait loop a settlement needs: nonce, fees and gas from the
 * node, a clear error on revert, on an unreachable node, on insufficient
 * funds and on a nonce gap.
 *
 * Not for: what the DML contracts mean (see dml-settle), keeping keys on
 * the node (real nodes do not hold them), legacy or EIP-2930 transactions.
 */
#ifndef DML_ETH_H
#define DML_ETH_H

#include <gmp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rlp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hex and addresses ------------------------------------------------ */

/* Decode hex (with or without 0x) into exactly n bytes. */
int eth_unhex(const char *s, unsigned char *out, size_t n);
/* "0x" + lower-case hex of p[0..n); caller frees. */
char *eth_hex(const unsigned char *p, size_t n);
/* EIP-55 mixed-case checksummed "0x..." (out: 43 bytes). */
void eth_address_str(const unsigned char a[20], char out[43]);
/* Parse "0x" + 40 hex digits; a mixed-case address must carry a valid
 * EIP-55 checksum. */
int eth_address_parse(const char *s, unsigned char a[20]);

/* ---- keys --------------------------------------------------------------- */

/* A secp256k1 key; sk lives in sodium_malloc memory, wiped on free. */
typedef struct eth_key {
	unsigned char *sk;	/* 32 bytes */
	unsigned char addr[20];
} eth_key;

/* From a 32-byte secret (a valid scalar); seed NULL: a random key. */
int eth_key_new(eth_key *k, const unsigned char *secret);
/* Key file: one line {"address","secret","type":"dml.eth.secretkey","v":1},
 * created 0600 with O_EXCL; never overwritten. */
int eth_key_save(const char *path, const eth_key *k);
int eth_key_load(const char *path, eth_key *k);
void eth_key_free(eth_key *k);

/* ---- transactions ----------------------------------------------------- */

/* An EIP-1559 (type 2) transaction. mpz fields are owned. */
typedef struct eth_tx {
	uint64_t chain_id, nonce, gas;
	mpz_t tip, max_fee, value;
	int create;			/* no destination: deploy data */
	unsigned char to[20];
	const unsigned char *data;	/* borrowed */
	size_t ndata;
} eth_tx;

void eth_tx_init(eth_tx *t);
void eth_tx_clear(eth_tx *t);
/* The hash a type-2 transaction's signature signs:
 * keccak256(0x02 || rlp(the nine unsigned fields)). */
void eth_tx_sighash(const eth_tx *t, unsigned char h[32]);
/* raw (initialised by the caller) receives 0x02 || rlp(signed fields);
 * hash the transaction hash. */
int eth_tx_sign(const eth_tx *t, const eth_key *k, rlp_buf *raw,
    unsigned char hash[32]);
/* The sender of a signed type-2 transaction given its signing hash and
 * (y, r, s): for tests. */
int eth_recover(const unsigned char h[32], int y, const unsigned char r[32],
    const unsigned char s[32], unsigned char addr[20]);

/* ---- ABI ---------------------------------------------------------------- */

/* Call data: a selector, then `nargs` head words, then the tail of the
 * dynamic arguments. Add the arguments in order. */
typedef struct eth_abi {
	unsigned char *p;
	size_t n, cap, nargs, arg;
	size_t head;		/* offset of the first head word */
	rlp_buf tail;
} eth_abi;

/* sig: "settle(bytes32,bytes32,uint256,string)", or NULL for constructor
 * arguments (no selector). */
void eth_abi_init(eth_abi *a, const char *sig, size_t nargs);
void eth_abi_word(eth_abi *a, const unsigned char w[32]);
void eth_abi_mpz(eth_abi *a, const mpz_t v);
void eth_abi_u64(eth_abi *a, uint64_t v);
void eth_abi_address(eth_abi *a, const unsigned char addr[20]);
void eth_abi_string(eth_abi *a, const char *s);
void eth_abi_words(eth_abi *a, const unsigned char (*w)[32], size_t n);
/* Finish: a->p[0..a->n) is the call data. */
void eth_abi_end(eth_abi *a);
void eth_abi_free(eth_abi *a);
/* The 4-byte selector of a signature. */
void eth_selector(const char *sig, unsigned char out[4]);
/* Word i of returned data as an integer / address. */
int eth_ret_mpz(const unsigned char *p, size_t n, size_t i, mpz_t out);
int eth_ret_address(const unsigned char *p, size_t n, size_t i,
    unsigned char addr[20]);

/* ---- JSON-RPC ----------------------------------------------------------- */

typedef struct eth_rpc eth_rpc;

eth_rpc *eth_rpc_open(const char *url);
void eth_rpc_close(eth_rpc *r);
/* Call `method` with `params` (stolen; NULL: []). The result (new
 * reference), or NULL with dml_error: "URL: cannot reach the node: ...",
 * or the node's error message (and revert data, when there is some, in
 * *errdata if not NULL: new reference). */
json_t *eth_rpc_call(eth_rpc *r, const char *method, json_t *params,
    json_t **errdata);
/* A quantity ("0x..") as an integer. */
int eth_quantity(const json_t *j, mpz_t out);
int eth_quantity_u64(const json_t *j, uint64_t *out);
uint64_t eth_chain_id(eth_rpc *r);	/* 0 with dml_error on failure */

/* Names of a contract's custom errors, for messages: "Name(type,...)"
 * strings, NULL-terminated; the table must outlive the rpc. */
void eth_rpc_errors(eth_rpc *r, const char *const *sigs);

/* eth_call: *out (caller frees) the returned bytes. */
int eth_call(eth_rpc *r, const unsigned char to[20], const unsigned char *data,
    size_t n, unsigned char **out, size_t *nout);

/* Options of a send. nonce < 0: the account's next ("pending") nonce. */
typedef struct eth_send_opt {
	uint64_t chain_id;	/* signs with it; 0: the node's */
	long long nonce;
	double timeout;		/* seconds to wait for the receipt (0: 60) */
} eth_send_opt;

/* Sign and send a transaction from k to `to` (NULL: contract creation)
 * with call data, wait for its receipt and return it (new reference).
 * Gas comes from eth_estimateGas (+25%), fees from the latest block's base
 * fee (2x) plus eth_maxPriorityFeePerGas. A revert (at estimation or
 * mined), a nonce gap, insufficient funds, a wrong chain id or a
 * timeout: NULL with dml_error saying which. */
json_t *eth_send(eth_rpc *r, const eth_key *k, const unsigned char *to,
    const unsigned char *data, size_t n, const eth_send_opt *o);

/* Logs of a receipt whose topic 0 is keccak256(event signature), in
 * order (borrowed from the receipt, in a new array). */
json_t *eth_receipt_logs(const json_t *receipt, const char *event);

#ifdef __cplusplus
}
#endif

#endif
