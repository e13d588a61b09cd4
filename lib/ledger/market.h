/*
 * market: the marketplace's records and the rules they obey.
 *
 * A developer's signed dml.listing offers an algorithm (its model's CID)
 * under a category, a description, a price and a license kind; a
 * customer's signed dml.license says which listing was bought, for which
 * algorithm, by whom, for how long, and which ledger entry paid for it.
 * Competitions use three more records: a customer's dml.competition (a
 * problem with a hidden test set committed to by CID, a metric, a prize
 * and its split), an entrant's dml.entry (a model CID) and the customer's
 * dml.leaderboard (the entries ranked). Every record's id is the CID of
 * its canonical line, as for jobs (job_id).
 *
 * The local index of listings is an NDJSON file of listings. A writer
 * holds flock(LOCK_EX) on INDEX.lock, reads the index, and replaces it
 * whole (temporary file, fsync, rename); readers take no lock and see the
 * old or the new index, never a torn one. A listing already in it is not
 * added twice.
 *
 * Not for: options and output (cmd/dml-market/), the ledger's rules
 * (ledger), storing bytes (ipfs), scoring models (model).
 */
#ifndef DML_MARKET_H
#define DML_MARKET_H

#include <jansson.h>
#include <stddef.h>

#include "amount.h"
#include "cid.h"
#include "data.h"
#include "job.h"
#include "ledger.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MARKET_ENV_INDEX "DML_MARKET_INDEX"
/* Longest description and category (bytes). */
#define MARKET_MAX_TEXT 4096
#define MARKET_MAX_CATEGORY 64
/* Most winners a competition pays. */
#define MARKET_MAX_SPLIT 100

enum market_kind { LICENSE_SINGLE, LICENSE_SUBSCRIPTION };

typedef struct market_listing {
	json_t *rec;			/* owned */
	char id[CID_MAXSTR];		/* CID of the canonical line */
	const char *algorithm, *category, *description, *price, *developer;
	enum market_kind kind;
	long long period_days;		/* subscription only, else 0 */
	long long created;		/* seconds since the epoch */
} market_listing;

typedef struct market_license {
	json_t *rec;			/* owned */
	char id[CID_MAXSTR];
	const char *listing, *algorithm, *licensee, *developer, *price;
	enum market_kind kind;
	long long valid_from, valid_until;	/* until: -1 for single use */
	long long pay_seq;		/* the ledger entry that paid, or -1 */
	const char *pay_hash;		/* its hash, or NULL */
	const json_t *pay_chain;	/* else: the payment on chain
					 * (borrowed from rec) */
} market_license;

const char *market_kind_name(enum market_kind k);
int market_kind_parse(const char *s, enum market_kind *k);


/* Validate and verify a listing (signed by its developer). Takes the
 * reference to r (freed on error). `in` names the input (may be NULL). */
int market_listing_from_record(const rec_in *in, json_t *r,
    market_listing *l);
void market_listing_free(market_listing *l);
/* Stable order: category, then price (numeric), then listing id. */
int market_listing_cmp(const market_listing *a, const market_listing *b);

/* A search: NULL fields match everything. The keyword matches, ignoring
 * ASCII case, a substring of the description or of the category. */
typedef struct market_query {
	const char *category, *keyword, *max_price;
} market_query;
int market_listing_match(const market_listing *l, const market_query *q);

/* $DML_MARKET_INDEX, else $HOME/.dml/market.ndjson (malloc'd). */
char *market_index_default(void);
/* Every listing of the index, verified, sorted (market_listing_cmp). A
 * missing index is empty; no lock is taken. *v is the caller's (market_listings_free). */
int market_index_load(const char *path, market_listing **v, size_t *n);
void market_listings_free(market_listing *v, size_t n);
/* Add listings (already verified) not yet in the index, replacing it
 * whole under the lock. *added: how many were new. */
int market_index_add(const char *path, market_listing *v, size_t n,
    size_t *added);

/* A license for `l` bought by `licensee` (hex) at time t, paid by
 * `payment` (stolen): a ledger entry {"seq","hash"} (market_ledger_payment)
 * or a payment on chain (chain_pay). Unsigned; the caller signs it with
 * the licensee's key. */
json_t *market_license_new(const market_listing *l, const char *licensee,
    long long t, json_t *payment);
json_t *market_ledger_payment(long long seq, const char *hash);
/* Buy listing l on the embedded ledger: a transfer of its price from k's
 * account to the developer, signed by k at `when` (NULL: now), refused
 * when the balance is short. *payment: the entry, as
 * market_ledger_payment gives it (new reference). 0, LEDGER_REJECT or
 * LEDGER_ESYS. */
int market_pay_ledger(const char *ledger_path, const market_listing *l,
    const dml_key *k, const char *when, json_t **payment);
/* Validate and verify a license (signed by its licensee). Takes r. */
int market_license_from_record(const rec_in *in, json_t *r,
    market_license *c);
/* Read one license record from a file. */
int market_license_load(const char *path, market_license *c);
void market_license_free(market_license *c);
/* May a job by `customer` (hex) for algorithm `model`, created at time
 * `at`, use this license? -1 with dml_error saying why not. */
int market_license_allows(const market_license *c, const char *customer,
    const char *model, long long at);
/* May job j use this license: it names the license, as the kind it is,
 * and the license allows its customer, its algorithm and its "created"
 * time (market_license_allows)? -1 with dml_error saying why not. */
int market_license_for_job(const market_license *c, const dml_job *j);
/* Is the license's payment in the ledger: entry pay_seq with hash
 * pay_hash, a transfer of the price from the licensee to the developer?
 * 0 yes, LEDGER_REJECT no, LEDGER_ESYS the ledger cannot be read. */
int market_license_paid(const market_license *c, const char *ledger_path);

/* A single-use license escrows one job (the ledger refuses a second
 * escrow naming it): 0 if no escrow of the ledger names it or the one
 * that does is job `job`'s (may be NULL); LEDGER_REJECT (used by another
 * job) or LEDGER_ESYS (the ledger cannot be read). Subscriptions: 0. */
int market_license_unused(const market_license *c, const char *ledger_path,
    const char *job);

/* ---- competitions ------------------------------------------------------ */

typedef struct market_comp {
	json_t *rec;			/* owned */
	char id[CID_MAXSTR];
	const char *customer, *images, *labels, *metric, *prize;
	long long deadline, award_by;
	unsigned split[MARKET_MAX_SPLIT];	/* percent per rank */
	size_t nsplit;
} market_comp;

typedef struct market_entry {
	json_t *rec;			/* owned */
	char id[CID_MAXSTR];
	const char *competition, *model, *entrant;
	long long created;
} market_entry;

int market_comp_from_record(const rec_in *in, json_t *r, market_comp *c);
int market_comp_load(const char *path, market_comp *c);
/* Escrow competition c's prize on the embedded ledger under the
 * competition's id until its award_by time (when the customer may take it
 * back), signed by k, its customer, at `when` (NULL: now). 0,
 * LEDGER_REJECT or LEDGER_ESYS. */
int market_comp_escrow(const char *ledger_path, const market_comp *c,
    const dml_key *k, const char *when);
void market_comp_free(market_comp *c);
/* An entry for competition c (checked: right competition, before the
 * deadline). Takes r. */
int market_entry_from_record(const rec_in *in, json_t *r,
    const market_comp *c, market_entry *e);
void market_entry_free(market_entry *e);

/* One scored entry. */
typedef struct market_score {
	const market_entry *e;
	double score;			/* the metric: higher is better */
	double acc, loss;		/* both, as dml-eval gives them */
} market_score;
/* Rank: score descending, then entry time, then entry id. */
void market_rank(market_score *s, size_t n);
/* Entries in order of arrival: created time, then id. */
void market_entries_sort(market_entry *e, size_t n);
/* Score a model (the bytes of a dml.model file) on the test data as
 * dml-eval does (accuracy and loss rounded to 6 decimals); s->score is
 * the competition's metric, higher is better. -1 with dml_error if the
 * model is malformed or does not fit the data. */
int market_model_score(const market_comp *c, const char *p, size_t n,
    const dml_data *d, market_score *s);
/* The prize of rank rank0 + 1: floor(prize * split[rank0] / 100), 0
 * beyond the split. */
void market_prize(const market_comp *c, size_t rank0, mpz_t out);
/* An unsigned dml.leaderboard of the ranked entries (takes the
 * disqualified array). */
json_t *market_leaderboard_new(const market_comp *c,
    const market_score *ranked, size_t n, long long samples,
    json_t *disqualified, long long t);
/* Check a leaderboard (its fields, that it is the competition's, signed by
 * its customer): its id, and its entrants in rank order (*ents: only
 * "entrant" set, borrowed from b; the caller frees the array). */
int market_leaderboard_parse(const rec_in *in, const json_t *b,
    const market_comp *c, char id[CID_MAXSTR], market_entry **ents,
    size_t *n);

/* The prize of each rank: floor(prize * split[i] / 100); the payouts
 * (role "developer", one per entrant, summed) and the refund. `ranked`
 * in rank order. */
int market_prizes(const market_comp *c, const market_score *ranked,
    size_t n, settle_list *out, mpz_t refund);

/* The payouts of competition c's prize by the leaderboard in boardf
 * (market_leaderboard_parse: the competition's, signed by its customer):
 * *bid its id, `pay` (initialised) the list, `refund` what goes back. */
int market_award_list(const market_comp *c, const char *boardf,
    char bid[CID_MAXSTR], settle_list *pay, mpz_t refund);
/* Pay the prize on the embedded ledger: one settle entry of the
 * competition's escrow (the ledger settles an escrow once), signed by k at
 * `when` (NULL: now). *payouts: the dml.payouts record (new reference);
 * *seq and hash: the entry. 0, LEDGER_REJECT or LEDGER_ESYS. */
int market_award_ledger(const char *ledger_path, const market_comp *c,
    const char *boardf, const dml_key *k, const char *when, json_t **payouts,
    long long *seq, char hash[65]);

#ifdef __cplusplus
}
#endif

#endif
