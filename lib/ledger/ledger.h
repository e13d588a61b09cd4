/*
 * ledger: the embedded smart contract. An append-only NDJSON file of
 * dml.ledger entries, each hash-chained to the one before (BLAKE2b-256 of
 * the previous line) and signed by its submitter, and the state machine
 * that replays it: balances (GMP integers in a hash map keyed by account),
 * escrows, settled jobs, the growth pool's emissions.
 *
 * Writers hold flock(LOCK_EX) from open to close, readers LOCK_SH. A
 * writer's open discards a torn last line (a crash mid-append) with
 * ftruncate and fsync; an entry is appended with one write() and made
 * durable with fsync before ledger_submit returns. The same rules check an
 * entry when it is submitted and when it is replayed, so a ledger that
 * opens is a ledger whose every entry obeyed them. The entry format, the
 * rules and the emission schedule are in dml-ledger(1).
 *
 * A ledger can also live in memory only (ledger_new), for tests and for
 * computing what an entry would do.
 *
 * A job's whole settlement on the ledger (its inputs read, the payouts
 * computed by settle against the escrow, the entry appended) is one call,
 * ledger_settle_job, and every program that appends prints the same
 * dml.appended record (ledger_appended).
 *
 * Not for: the payout formula (settle), on-chain contracts (chain, eth).
 */
#ifndef DML_LEDGER_H
#define DML_LEDGER_H

#include <gmp.h>
#include <jansson.h>
#include <sys/types.h>

#include "settle.h"
#include "timefmt.h"
#include "sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Return values: 0 done; LEDGER_REJECT the ledger or the operation breaks
 * a rule (the data is refused: exit 1); LEDGER_ESYS a system error (I/O,
 * locking, a missing file: exit 2). dml_error says what. */
enum { LEDGER_REJECT = -1, LEDGER_ESYS = -2 };

/* ledger_open flags */
enum {
	LEDGER_WRITE = 1,	/* exclusive lock; torn tail discarded */
	LEDGER_CREATE = 2,	/* with WRITE: create the file (and its dir) */
	LEDGER_VERIFY = 4	/* also check signatures, canonical form and
				 * that the balances add up to the supply */
};

/* The reserved accounts; escrows are "escrow:<job id>". */
#define LEDGER_GROWTH "pool:growth"
#define LEDGER_BOUNTY "pool:bounty"
#define LEDGER_ESCROW_PREFIX "escrow:"

/* Emission: epoch k pays floor(P0 * 63^k / 64^(k+1)); 90% to the owners
 * in equal floor shares, the rest in LEDGER_DRAWS floor shares drawn from
 * the hash chain (fewer when there are fewer owners). */
#define LEDGER_EMIT_NUM 63
#define LEDGER_EMIT_DEN 64
#define LEDGER_DRAWS 10
#define LEDGER_MAX_EPOCH 1000000000LL

typedef struct ledger ledger;

/* Called for every entry replayed by ledger_open, after it was checked and
 * applied: the entry, its line (without newline) and its hash. A non-zero
 * return stops the replay and is returned by ledger_open. */
typedef int (*ledger_visit_fn)(void *ctx, const json_t *entry,
    const char *line, size_t len, const unsigned char hash[32]);

/* Open, lock and replay a ledger file. *out is set on success. */
int ledger_open(ledger **out, const char *path, int flags,
    ledger_visit_fn visit, void *ctx);
/* An empty ledger in memory (entries are checked and applied, not
 * written). */
ledger *ledger_new(void);
/* Unlock and free. */
void ledger_close(ledger *l);

/* $DML_LEDGER, else $HOME/.dml/ledger.ndjson (malloc'd). */
char *ledger_default_path(void);

/* Submit an operation. `body` holds "op" and the op's fields (borrowed;
 * on return it holds the whole entry). The ledger adds type, v, seq, prev,
 * time (`when` as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ", or NULL for now),
 * signs it with k, checks it against the state, and (file ledgers) appends
 * it durably. On LEDGER_REJECT nothing changed. */
int ledger_submit(ledger *l, json_t *body, const dml_key *k,
    const char *when);
/* Check and apply an entry made elsewhere (already signed; its signature
 * is checked). For tests and for replaying entries from other sources. */
int ledger_apply(ledger *l, const json_t *entry);

/* Bodies of the operations that need more than json_pack. */
json_t *ledger_escrow_body(const dml_job *j);
json_t *ledger_settle_body(const char *job, const char *report,
    const char *contributions, const char *customer, const settle_list *p,
    const mpz_t refund);
/* An emission of `epoch` to the owners (sorted, unique hex keys), with the
 * payouts computed against the ledger's current head. */
int ledger_emit_body(const ledger *l, long long epoch, char (*owners)[65],
    size_t n, json_t **out);

/* The dml.appended record a writer prints after appending an entry: its
 * op, seq and hash (new reference). Every program that appends builds it
 * here, so it reads the same everywhere. */
json_t *ledger_appended_record(const char *op, long long seq,
    const char hash[65]);
/* The same for the last entry appended through l (op as submitted). */
json_t *ledger_appended(const ledger *l, const char *op);

/* A job's settlement (dml-settle(1)), the whole transaction: the job's
 * reward terms (j, loaded and checked by the caller), the report's
 * dml.stored receipt and the report node's dml.contributions read from
 * their files, then, under the ledger's lock, the payouts computed
 * against the job's open escrow in the ledger at `path` and the settle
 * entry signed with k and appended at `when` (NULL: now). With k NULL it
 * is a dry run: the ledger is only read. On success *payouts is the
 * dml.payouts record and *appended (may be NULL for a dry run) the
 * dml.appended one, new references; on failure both are NULL and nothing
 * was appended. LEDGER_REJECT: bad inputs, no open escrow (none, already
 * settled or refunded), contributions the terms cannot pay, an entry the
 * ledger refuses; LEDGER_ESYS: a file that cannot be read or written. */
int ledger_settle_job(const char *path, const dml_job *j, const char *storedf,
    const char *contribf, const dml_key *k, const char *when,
    json_t **payouts, json_t **appended);

/* An owners file: one hex key a line, blank lines and #-comments
 * skipped; *out (caller frees) the keys sorted, *n of them. LEDGER_REJECT
 * for a bad line, no owners or an owner named twice; LEDGER_ESYS when the
 * file cannot be read. */
int ledger_read_owners(const char *path, char (**out)[65], size_t *n);

/* The growth pool's emission of epoch k for a pool of p0 at genesis. */
void ledger_emission(const mpz_t p0, long long epoch, mpz_t out);
/* The payouts of an emission (sorted): `prev` is the entry's prev hash. */
void ledger_emit_payouts(const unsigned char prev[32], long long epoch,
    const mpz_t amount, char (*owners)[65], size_t n, settle_list *out);

/* ---- queries ---------------------------------------------------------- */

enum ledger_escrow_state { ESCROW_OPEN, ESCROW_SETTLED, ESCROW_REFUNDED };

typedef struct ledger_escrow {
	const char *customer;		/* hex key */
	mpz_srcptr amount;		/* escrowed (the job's budget) */
	long long deadline;		/* seconds since the epoch, UTC */
	long long seq;			/* the escrow entry */
	enum ledger_escrow_state state;
} ledger_escrow;

/* 0 and *e filled if the job has an escrow, -1 if not. Borrowed fields
 * live until the next change of the ledger. */
int ledger_escrow_get(const ledger *l, const char *job, ledger_escrow *e);
/* The first job whose escrow named license `license` (a CID): 0 with
 * *job (borrowed, as for ledger_escrow_get) and *seq (may be NULL) the
 * escrow entry, or -1 when no escrow names it. */
int ledger_license_use(const ledger *l, const char *license,
    const char **job, long long *seq);
/* Balance of an account (0 for an account never seen). */
void ledger_balance(const ledger *l, const char *account, mpz_t out);
/* Every account ever credited, sorted (byte order); the array is the
 * caller's to free, the names are borrowed. */
const char **ledger_accounts(const ledger *l, size_t *n);
/* Sum of all balances; must equal ledger_supply. */
void ledger_total(const ledger *l, mpz_t out);
/* The invariants: no balance below zero, the balances add up to the
 * supply. -1 with dml_error if one fails. */
int ledger_check(const ledger *l);
mpz_srcptr ledger_supply(const ledger *l);
/* Number of entries (the next entry's seq). */
long long ledger_entries(const ledger *l);
/* Hash of the last entry (64 zeros for an empty ledger). */
void ledger_head(const ledger *l, char hex[65]);
/* Time of the last entry (seconds; -1 when empty). */
long long ledger_last_time(const ledger *l);
/* The authority's hex key ("" before genesis). */
const char *ledger_authority(const ledger *l);
/* The last epoch emitted, -1 if none. */
long long ledger_last_epoch(const ledger *l);
/* Bytes of a torn last line seen (reader) or discarded (writer). */
off_t ledger_torn(const ledger *l);
/* The line of the last entry submitted through this handle (no newline);
 * valid until the next submit. */
const char *ledger_last_line(const ledger *l, size_t *len);

/* Does the entry move tokens of, or name, this account? */
int ledger_entry_touches(const json_t *entry, const char *account);
/* A valid account name: a hex key or a reserved name. */
int ledger_account_ok(const char *s);


#ifdef __cplusplus
}
#endif

#endif
