/*
 * chain: the DML contracts (contrib/ethereum/contracts: DMLToken and
 * JobEscrow) driven through eth: deploy them, escrow a job's budget,
 * settle it as one Merkle root of its payout list, claim a leaf with its
 * proof, sweep what was not claimed, refund an unsettled job, run the
 * token's growth-pool emissions and bounties, and read balances and a
 * job's state. Every operation writes the records it produces (dml.eth.*,
 * see dml-records(5)) to a caller's rec_out and returns 0, or CHAIN_REJECT
 * (the node or the contract refused, or the input is bad: exit 1) or
 * CHAIN_ESYS (the node cannot be reached, a file cannot be read or
 * written: exit 2) with dml_error saying what.
 *
 * Not for: computing payouts (settle), the embedded ledger (ledger),
 * transactions, ABI and JSON-RPC themselves (eth), the Merkle tree
 * (merkle). Options and messages about them belong to dml-settle.
 */
#ifndef DML_CHAIN_H
#define DML_CHAIN_H

#include <gmp.h>
#include <stdint.h>

#include "cid.h"
#include "eth.h"
#include "market.h"
#include "record.h"
#include "settle.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CHAIN_REJECT = -1, CHAIN_ESYS = -2 };

/* Job states of JobEscrow, as its enum State numbers them. */
enum chain_state { CHAIN_NONE, CHAIN_OPEN, CHAIN_SETTLED, CHAIN_REFUNDED,
	CHAIN_SWEPT, CHAIN_NSTATES };
const char *chain_state_name(int state);

/* A connection and what the operations share. The caller sets key
 * (has_key), escrow (has_escrow), opt and out; chain_close frees rpc and
 * key, not out. */
typedef struct chain {
	eth_rpc *rpc;
	eth_key key;
	int has_key;
	unsigned char escrow[20];
	int has_escrow;
	eth_send_opt opt;
	rec_out *out;
} chain;

/* Zero c, nonce "next". */
void chain_init(chain *c);
/* Open the JSON-RPC connection and register the contracts' errors. */
int chain_connect(chain *c, const char *url);
void chain_close(chain *c);

/* A job's id on chain: keccak256 of its CID string. */
void chain_job_id(const char *cid_s, unsigned char id[32]);

/* The on-chain state of a job: jobs(bytes32). mpz fields initialised by
 * chain_job_get (also on failure); clear them with chain_job_clear. */
typedef struct chain_job {
	unsigned char customer[20], root[32];
	int state;
	uint64_t deadline, claim_until;
	mpz_t amount, unclaimed;
} chain_job;

int chain_job_get(chain *c, const unsigned char id[32], chain_job *j);
void chain_job_clear(chain_job *j);

/* deploy: DMLToken(supply, growth, bounty) then JobEscrow(token, settler,
 * claim_period) from DIR/NAME.bin; a dml.eth.deployment record. settler
 * NULL: the sender. */
int chain_deploy(chain *c, const char *dir, const mpz_t supply,
    const mpz_t growth, const mpz_t bounty, const unsigned char *settler,
    uint64_t claim_period);
/* approve and deposit the job's budget (or amount, if not NULL) against
 * its id until its deadline, naming the job's license: a single-use
 * license already bound to another job on chain is refused before any
 * transaction (and by the contract: LicenseUsed); dml.eth.deposited. */
int chain_deposit(chain *c, const char *jobf, const char *amount);
/* The job (keccak256 of its id; all zero: none) that the single-use
 * license lic_s (its CID) is bound to in the escrow; 0 or CHAIN_*. */
int chain_license_job(chain *c, const char *lic_s, unsigned char job[32]);
/* The job's payouts, computed as on the ledger, committed as one Merkle
 * root; the list (dml.eth.payouts) goes to the IPFS store and out, then
 * dml.eth.settled. A job settled before with the same root sends nothing
 * (dml.eth.settled with "already":true) and `already` receives the job's
 * id; else it is "". */
int chain_settle(chain *c, const char *jobf, const char *storedf,
    const char *contribf, const char *bookf, char already[CID_MAXSTR]);
/* Deposit `amount` against an escrow id that is not a job's (a
 * competition's prize: its CID, until its award_by time); as
 * chain_deposit. */
int chain_deposit_id(chain *c, const char *id_s, const char *amount,
    long long deadline);
/* The prize paid by a leaderboard (signed by the competition's customer):
 * the payouts computed as on the ledger (market_award_list) settled as one
 * Merkle root against the competition's deposit, as chain_settle does
 * for a job; the winners claim with chain_claim. */
int chain_settle_competition(chain *c, const char *compf,
    const char *boardf, const char *bookf, char already[CID_MAXSTR]);
/* The proof of one leaf of a dml.eth.payouts list (index >= 0, or the
 * leaf of address `who` and `role`): dml.eth.proof; then, unless
 * proof_only, the claim (dml.eth.claimed). force skips the local checks
 * (tests of the contract's own). */
int chain_claim(chain *c, const char *payf, long index, const char *who,
    const char *role, int proof_only, int force);
int chain_transfer(chain *c, const unsigned char to[20], const mpz_t amount);
/* Token balances of the addresses (strings): a dml.eth.balance each. */
int chain_balance(chain *c, char **addrs, int n);
int chain_status(chain *c, const char *jobf);
int chain_refund(chain *c, const char *jobf);
/* After the claim period: what a settled job's payees did not claim back
 * to its customer; dml.eth.swept. */
int chain_sweep(chain *c, const char *jobf);

/* The growth pool's emission of `epoch` to the owners of an owners file
 * (hex keys, as dml-ledger emit reads), each mapped to its address by the
 * address book (an owner without one is an error): dml.eth.emitted with
 * the payouts, recomputed from the Emission event's seed and checked
 * against what it says was paid. The sender must be the authority. */
int chain_emit_growth(chain *c, long long epoch, const char *ownersf,
    const char *bookf);
/* A bounty from the bounty pool (authority only); dml.eth.bounty. */
int chain_bounty(chain *c, const unsigned char to[20], const mpz_t amount,
    const char *reason);

/* ---- payments: a license's price paid to its developer ---------------- */

/* The address the address book (signed dml.eth.payee records; NULL: none)
 * gives identity `key` (hex). CHAIN_REJECT with dml_error if it has none. */
int chain_payee(const char *bookf, const char *key, unsigned char addr[20]);
/* Pay `amount` tokens (the escrow's token) from the key's address to `to`:
 * the token balance is checked first (too low: CHAIN_REJECT, nothing
 * sent), the receipt must hold the Transfer event. *payment (new
 * reference): {"chain","token","tx","block","from","to","amount"}. */
int chain_pay(chain *c, const unsigned char to[20], const mpz_t amount,
    json_t **payment);
/* Is `payment` (as chain_pay makes it) a payment of `amount` from `from`
 * to `to` on this node's chain, in the escrow's token: the receipt of its
 * transaction (eth_getTransactionReceipt) succeeded, in its block, and
 * holds the token's Transfer(from, to, amount) log? */
int chain_payment_check(chain *c, const json_t *payment,
    const unsigned char from[20], const unsigned char to[20],
    const mpz_t amount);

/* The marketplace's payments on chain (market.h keeps the rules; these
 * move the tokens and check them). */
/* Pay listing l's price on chain from the key of c (c->key's address must
 * be the licensee's in the address book) to its developer's address (from
 * the address book): *payment as chain_pay gives it. CHAIN_* codes. */
int chain_pay_listing(chain *c, const market_listing *l, const char *licensee,
    const char *bookf, json_t **payment);
/* Is a license's payment on chain a Transfer of its price from the
 * licensee's address to the developer's (both from the address book) in
 * the escrow's token (chain_payment_check)? CHAIN_* codes. */
int chain_license_paid(const market_license *c, chain *ch,
    const char *bookf);

#ifdef __cplusplus
}
#endif

#endif
