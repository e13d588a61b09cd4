/*
 * settle: a job's contract executed on paper. From the job's reward terms,
 * the escrowed amount and the report node's dml.contributions record it
 * computes, exactly and in integer token units, who is paid what: a
 * deterministic payout list sorted by (account, role). The formula and the
 * remainder rule are in dml-settle(1).
 *
 * The same list is what the ledger's settle entry carries and what an
 * Ethereum back end commits to (a Merkle root over it, see chain), so this
 * module knows nothing about where the payouts are recorded; the only I/O
 * it does is reading a settlement's two input records.
 *
 * Not for: ledgers, locking, signatures of entries (see ledger).
 */
#ifndef DML_SETTLE_H
#define DML_SETTLE_H

#include <gmp.h>
#include <jansson.h>
#include <stddef.h>

#include "cid.h"
#include "job.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Node roles in the order their fees are paid (and in the job's
 * reward.node_fees). */
enum settle_node {
	SETTLE_DISTRIBUTING, SETTLE_FEDERATED, SETTLE_REPORT, SETTLE_REFINING,
	SETTLE_NODES
};
const char *settle_node_name(enum settle_node r);

/* Payout roles: "developer", the four node roles, "trainer", "device";
 * emissions of the growth pool use "owner" and "extra". The returned
 * pointer is a static string; NULL if s is not a role. */
const char *settle_role(const char *s);

/* One payout. `role` points at a static string (settle_role). */
typedef struct settle_payout {
	char to[65];			/* account: hex public key */
	const char *role;
	mpz_t amount;			/* > 0 */
} settle_payout;

/* A payout list; owns its payouts. `total` is the sum of the amounts. */
typedef struct settle_list {
	settle_payout *v;
	size_t n, cap;
	mpz_t total;
} settle_list;

void settle_list_init(settle_list *l);
void settle_list_clear(settle_list *l);
/* Append a payout (zero amounts are left out). */
void settle_list_add(settle_list *l, const char *to, const char *role,
    const mpz_t amount);
/* Sort by account, then role (byte order); the canonical order. */
void settle_list_sort(settle_list *l);
/* The list as the JSON array [{"amount","role","to"}...] (new reference). */
json_t *settle_list_json(const settle_list *l);

/* The job's reward terms. */
typedef struct settle_terms {
	mpz_t per_device, developer_fee, node_fee[SETTLE_NODES], trainer_pool;
	long long min_devices;
	char developer[65];		/* the job's algorithm.developer, or "" */
} settle_terms;

void settle_terms_init(settle_terms *t);	/* all zero */
/* Read the terms of a loaded job (reward.*, min_devices,
 * algorithm.developer). */
int settle_terms_from_job(settle_terms *t, const dml_job *j);
void settle_terms_clear(settle_terms *t);

typedef struct settle_trainer {
	char key[65];
	mpq_t weight;			/* exact value of the JSON number, >= 0 */
} settle_trainer;

/* What a dml.contributions record says, validated. Key lists are sorted
 * and free of duplicates; an absent role is an empty list. */
typedef struct settle_contrib {
	char job[CID_MAXSTR];
	char from[65];			/* the signer (the report node) */
	char (*devices)[65];
	size_t ndevices;
	char developer[65];		/* "" when none is named */
	char (*nodes[SETTLE_NODES])[65];
	size_t nnodes[SETTLE_NODES];
	unsigned long long *fed_devices;	/* per federated node, in order */
	settle_trainer *trainers;
	size_t ntrainers;
} settle_contrib;

/* Validate a dml.contributions record and check its signature (and that
 * the signer is the report node when one is named). `in` names the input
 * in messages (may be NULL). Does not take r. On error c is left cleared. */
int settle_contrib_parse(const rec_in *in, const json_t *r, settle_contrib *c);
void settle_contrib_clear(settle_contrib *c);

/* The payout list of a job whose escrow is `escrow` (see dml-settle(1)):
 * the developer is the job's (t->developer) or else the contributions';
 * fees in order developer, distributing, federated, report, refining,
 * trainer pool, each allotted min(fee, what is left); then each device
 * min(per_device, floor(left / devices)). Splits are floor divisions.
 * `out` (initialised by the caller) receives the sorted list and `refund`
 * what goes back to the customer: escrow - out->total. -1 with dml_error
 * when the contributions cannot be paid under these terms (too few
 * devices). */
int settle_compute(const settle_terms *t, const settle_contrib *c,
    const mpz_t escrow, settle_list *out, mpz_t refund);

/* ---- the inputs of a settlement (the only reading this module does) ---- */

enum { SETTLE_REJECT = -1, SETTLE_ESYS = -2 };

/* The report's CID from the one dml.stored record of a file.
 * SETTLE_REJECT (bad record) or SETTLE_ESYS (unreadable file). */
int settle_load_stored(const char *path, char out[CID_MAXSTR]);
/* The one dml.contributions record of a file, verified (as
 * settle_contrib_parse) and for `job`; *id is the CID of its canonical
 * line. */
int settle_load_contrib(const char *path, const char *job, settle_contrib *c,
    char id[CID_MAXSTR]);

/* The dml.payouts record: job, report, customer, escrow, paid, refund,
 * devices, payouts (the list) and totals per role. New reference. */
json_t *settle_record(const char *job, const char *report,
    const char *customer, const mpz_t escrow, const settle_list *l,
    const mpz_t refund, size_t devices);

/* A token amount as a record carries it: a decimal string (new
 * reference). */
json_t *settle_amount_json(const mpz_t x);

#ifdef __cplusplus
}
#endif

#endif
